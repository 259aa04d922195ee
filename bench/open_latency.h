/*
 * What the open-latency clients share (knock_latency.c, spa_latency.c):
 * for each repetition a fresh source address sends what opens the port,
 * then tries TCP connects to it until one is established; the time from the
 * last packet sent to that connection is one sample. Header-only: each
 * benchmark is one program.
 */
#ifndef NFQT_BENCH_OPEN_LATENCY_H
#define NFQT_BENCH_OPEN_LATENCY_H

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A connect that has no answer after this long was dropped by the guard. */
#define ATTEMPT_NS	50000L
/* Give up on a repetition after this long (a lost packet). */
#define GIVE_UP_NS	3000000000L

/* Send, from src, what opens the port for repetition rep. */
typedef void open_send_fn(struct in_addr src, struct in_addr dst, int rep, void *arg);

static long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* One connect attempt: 1 when established within ATTEMPT_NS. */
static int
try_connect(struct in_addr src, struct in_addr dst, uint16_t port)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr = src };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst, .sin_port = htons(port) };
	struct timespec wait = { 0, ATTEMPT_NS };
	struct pollfd pfd;
	int fd, err = 1, ok = 0;
	socklen_t len = sizeof(err);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
		perror("tcp socket");
		exit(1);
	}
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0) {
		ok = 1;
	} else if (errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (ppoll(&pfd, 1, &wait, NULL) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			ok = 1;
	}
	close(fd);
	return ok;
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/*
 * reps repetitions from src, src + 1, ...: prints "p50_us p99_us max_us
 * mean_us failures"; returns the exit status (0: nothing lost).
 */
static int
open_latency_run(struct in_addr src, struct in_addr dst, uint16_t port, int reps,
    open_send_fn *send, void *arg)
{
	long *samples, t0, sum = 0;
	int i, n = 0, failures = 0;

	if (reps < 1 || (samples = calloc((size_t)reps, sizeof(*samples))) == NULL)
		return 2;
	/*
	 * The default timer slack (50 us) would stretch each wait of a
	 * dropped connect by as much, and be measured as the latency.
	 */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	for (i = 0; i < reps; i++) {
		send(src, dst, i, arg);
		t0 = now_ns();
		while (!try_connect(src, dst, port) && now_ns() - t0 < GIVE_UP_NS)
			;
		if (now_ns() - t0 >= GIVE_UP_NS) {
			failures++;
		} else {
			samples[n] = now_ns() - t0;
			sum += samples[n++];
		}
		src.s_addr = htonl(ntohl(src.s_addr) + 1);
	}
	if (n == 0) {
		printf("0 0 0 0 %d\n", failures);
		free(samples);
		return 1;
	}
	qsort(samples, (size_t)n, sizeof(*samples), cmp_long);
	printf("%ld %ld %ld %ld %d\n", samples[n / 2] / 1000,
	    samples[(n * 99 + 99) / 100 - 1] / 1000, samples[n - 1] / 1000,
	    sum / n / 1000, failures);
	free(samples);
	return failures == 0 ? 0 : 1;
}

#endif
