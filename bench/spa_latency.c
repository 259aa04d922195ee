/*
 * SPA-to-open latency: for each repetition, a fresh source address sends
 * one SPA datagram, then tries TCP connects to the guarded port until one
 * succeeds. The time from the datagram sent to the first established
 * connection is one sample. Every packet is made before the clock starts:
 * our format with the core's own encoder (core/spa.h), fwknop's with libfko
 * (what the stock client sends with -s -A tcp/2223), so neither the
 * client's start-up nor its crypto is timed, only the engine's path.
 *
 *   spa_latency native KEYFILE NAME DST SPA_PORT CONNECT_PORT FIRST_SRC REPS
 *   spa_latency fwknop KEYFILE -    DST SPA_PORT CONNECT_PORT FIRST_SRC REPS
 *
 * FIRST_SRC is IPv4; repetition i sends from FIRST_SRC + i. Prints
 * "p50_us p99_us max_us mean_us failures".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fko.h>
#include <sodium.h>

#include "config/keyfile.h"
#include "core/spa.h"

#define ATTEMPT_NS	50000L		/* an unanswered connect was dropped */
#define GIVE_UP_NS	3000000000L	/* a lost packet */
#define PKT_MAX		1500

struct packet {
	uint8_t data[PKT_MAX];
	size_t len;
};

static long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
make_native(const char *keyfile, const char *name, struct packet *p, int n)
{
	uint8_t key[KEYFILE_KEY_LEN];
	char why[KEYFILE_WHY_MAX];
	struct spa_msg m;
	int i;

	if (keyfile_read(keyfile, false, KEYFILE_ROOT_ONLY, key, why,
	    sizeof(why)) == -1) {
		fprintf(stderr, "spa_latency: %s\n", why);
		exit(2);
	}
	for (i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		snprintf(m.name, sizeof(m.name), "%s", name);
		m.ts_ms = wall_ms();
		randombytes_buf(m.nonce, sizeof(m.nonce));
		if ((p[i].len = spa_encode(key, &m, p[i].data)) == 0)
			exit(2);
	}
}

static void
make_fwknop(const char *keyfile, struct packet *p, int n)
{
	struct keyfile_fko k;
	char why[KEYFILE_WHY_MAX], *out;
	fko_ctx_t ctx;
	int i;

	if (keyfile_read_fwknop(keyfile, false, KEYFILE_ROOT_ONLY, &k, why,
	    sizeof(why)) == -1) {
		fprintf(stderr, "spa_latency: %s\n", why);
		exit(2);
	}
	for (i = 0; i < n; i++) {
		out = NULL;
		if (fko_new(&ctx) != FKO_SUCCESS ||
		    fko_set_spa_message(ctx, "0.0.0.0,tcp/2223") != FKO_SUCCESS ||
		    fko_set_spa_hmac_type(ctx, FKO_HMAC_SHA256) != FKO_SUCCESS ||
		    fko_spa_data_final(ctx, (const char *)k.key, k.key_len,
		    (const char *)k.hmac, k.hmac_len) != FKO_SUCCESS ||
		    fko_get_spa_data(ctx, &out) != FKO_SUCCESS || out == NULL ||
		    strlen(out) > PKT_MAX) {
			fprintf(stderr, "spa_latency: libfko could not make a packet\n");
			exit(2);
		}
		p[i].len = strlen(out);
		memcpy(p[i].data, out, p[i].len);
		fko_destroy(ctx);
	}
}

static void
send_packet(struct in_addr src, struct in_addr dst, uint16_t port,
    const struct packet *p)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr = src };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst,
	    .sin_port = htons(port) };
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0 ||
	    sendto(fd, p->data, p->len, 0, (struct sockaddr *)&to,
	    sizeof(to)) < 0) {
		perror("spa_latency: udp");
		exit(1);
	}
	close(fd);
}

static int
try_connect(struct in_addr src, struct in_addr dst, uint16_t port)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr = src };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst,
	    .sin_port = htons(port) };
	struct timespec wait = { 0, ATTEMPT_NS };
	struct pollfd pfd;
	int fd, err = 1, ok = 0;
	socklen_t len = sizeof(err);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
		perror("spa_latency: tcp socket");
		exit(1);
	}
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0) {
		ok = 1;
	} else if (errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (ppoll(&pfd, 1, &wait, NULL) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
		    err == 0)
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
	struct packet *pkts;
	long *samples, t0, sum = 0;
	int reps, i, n = 0, failures = 0;
	uint16_t spa_port, port;

	if (argc != 9 || inet_pton(AF_INET, argv[4], &dst) != 1 ||
	    inet_pton(AF_INET, argv[7], &src) != 1 || sodium_init() < 0) {
		fprintf(stderr, "usage: spa_latency native|fwknop KEYFILE NAME DST "
		    "SPA_PORT CONNECT_PORT FIRST_SRC REPS\n");
		return 2;
	}
	spa_port = (uint16_t)atoi(argv[5]);
	port = (uint16_t)atoi(argv[6]);
	reps = atoi(argv[8]);
	samples = calloc((size_t)reps, sizeof(*samples));
	pkts = calloc((size_t)reps, sizeof(*pkts));
	if (reps < 1 || samples == NULL || pkts == NULL)
		return 2;
	if (strcmp(argv[1], "fwknop") == 0)
		make_fwknop(argv[2], pkts, reps);
	else
		make_native(argv[2], argv[3], pkts, reps);
	for (i = 0; i < reps; i++) {
		send_packet(src, dst, spa_port, &pkts[i]);
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
	free(pkts);
	return failures == 0 ? 0 : 1;
}
