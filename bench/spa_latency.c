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

#include "open_latency.h"

#define PKT_MAX		1500

struct packet {
	uint8_t data[PKT_MAX];
	size_t len;
};

/* The packets to send, one a repetition, and where. */
struct spa_run {
	struct packet *pkts;
	uint16_t port;
};

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

static void
send_spa(struct in_addr src, struct in_addr dst, int rep, void *arg)
{
	const struct spa_run *r = arg;

	send_packet(src, dst, r->port, &r->pkts[rep]);
}

int
main(int argc, char **argv)
{
	struct in_addr dst, src;
	struct spa_run r;
	int reps, rc;

	if (argc != 9 || inet_pton(AF_INET, argv[4], &dst) != 1 ||
	    inet_pton(AF_INET, argv[7], &src) != 1 || sodium_init() < 0) {
		fprintf(stderr, "usage: spa_latency native|fwknop KEYFILE NAME DST "
		    "SPA_PORT CONNECT_PORT FIRST_SRC REPS\n");
		return 2;
	}
	r.port = (uint16_t)atoi(argv[5]);
	reps = atoi(argv[8]);
	if (reps < 1 || (r.pkts = calloc((size_t)reps, sizeof(*r.pkts))) == NULL)
		return 2;
	if (strcmp(argv[1], "fwknop") == 0)
		make_fwknop(argv[2], r.pkts, reps);
	else
		make_native(argv[2], argv[3], r.pkts, reps);
	rc = open_latency_run(src, dst, (uint16_t)atoi(argv[6]), reps, send_spa, &r);
	free(r.pkts);
	return rc;
}
