/*
 * Knock-to-open latency: for each repetition, a fresh source address sends
 * a knock sequence of UDP frames, then tries TCP connects to the guarded
 * port until one succeeds. The time from the last frame sent to the first
 * established connection is one sample. bench/knock-latency runs it against
 * an engine that opens through the allow set and against one whose trigger
 * shells out to `nft add element` from its exec hook, in the same run.
 *
 *   knock_latency DST CONNECT_PORT FIRST_SRC REPS FRAME_PORT...
 *
 * FIRST_SRC is an IPv4 address; repetition i uses FIRST_SRC + i, so every
 * sample starts from a source the allow set has never seen. Prints
 * "p50_us p99_us max_us mean_us failures".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A connect that has no answer after this long was dropped by the guard. */
#define ATTEMPT_NS	50000L
/* Give up on a repetition after this long (a lost knock). */
#define GIVE_UP_NS	3000000000L

static long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void
send_frames(struct in_addr src, struct in_addr dst, char **ports, int nports)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr = src };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst };
	int fd, i;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
		perror("knock_latency: udp socket");
		exit(1);
	}
	for (i = 0; i < nports; i++) {
		to.sin_port = htons((uint16_t)atoi(ports[i]));
		if (sendto(fd, "k", 1, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			perror("knock_latency: sendto");
	}
	close(fd);
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
		perror("knock_latency: tcp socket");
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

int
main(int argc, char **argv)
{
	struct in_addr dst, src;
	long *samples, t0, sum = 0;
	int reps, i, n = 0, failures = 0;
	uint16_t port;

	if (argc < 6 || inet_pton(AF_INET, argv[1], &dst) != 1 ||
	    inet_pton(AF_INET, argv[3], &src) != 1) {
		fprintf(stderr, "usage: knock_latency DST CONNECT_PORT FIRST_SRC REPS FRAME_PORT...\n");
		return 2;
	}
	/*
	 * The default timer slack (50 us) would stretch each wait of a
	 * dropped connect by as much, and be measured as knock latency.
	 */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	port = (uint16_t)atoi(argv[2]);
	reps = atoi(argv[4]);
	samples = calloc((size_t)reps, sizeof(*samples));
	if (reps < 1 || samples == NULL)
		return 2;
	for (i = 0; i < reps; i++) {
		send_frames(src, dst, argv + 5, argc - 5);
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
		return 1;
	}
	qsort(samples, (size_t)n, sizeof(*samples), cmp_long);
	printf("%ld %ld %ld %ld %d\n", samples[n / 2] / 1000,
	    samples[(n * 99 + 99) / 100 - 1] / 1000, samples[n - 1] / 1000,
	    sum / n / 1000, failures);
	free(samples);
	return failures == 0 ? 0 : 1;
}
