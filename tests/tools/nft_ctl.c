/*
 * nft_ctl: drives src/kernel/nft.c without the engine, for the integration tests.
 * Runs a script given as arguments against one struct nft, in order:
 *
 *   nft_ctl [-v] CONFIG COMMAND...
 *     sync                     nft_table_sync() with CONFIG
 *     config FILE              switch to another config (next sync uses it)
 *     add TRIGGER ADDR MS      nft_allow_add() (MS 0: no timeout)
 *     del TRIGGER ADDR         nft_allow_del()
 *     bulk TRIGGER A.B.C.D N MS  add N consecutive IPv4 addresses
 *     flush                    nft_batch_flush(): prints "flush refused N"
 *     monitor MS               wait MS for monitor events and handle them
 *     run SHELL-COMMAND        system(), e.g. "nft delete table inet t"
 *     sleep MS
 *     delete TABLE             nft_table_delete()
 *     force native|compat refresh|deladd   nft_features_force()
 *     listen QUEUE MS          count packets on an NFQUEUE (accepted),
 *                              prints "listen packets N" and "port P" lines
 *     counters                 prints "counter NAME VALUE" lines
 *     probes                   prints "probe native_queue 0|1", "probe refresh 0|1"
 *
 * Exits 1 at the first command that fails (after printing why).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/netfilter.h>

#include "config/config.h"
#include "util/log.h"
#include "kernel/nfq.h"
#include "kernel/nft.h"
#include "kernel/nft_test.h"

struct ctl {
	struct nft *n;
	struct config *cfg;
	int listened;
};

static struct config *
ctl_config(const char *path)
{
	struct config *cfg;
	int nerr = 0;

	if ((cfg = config_load(path, false, stderr, &nerr)) == NULL)
		fprintf(stderr, "nft_ctl: %s: %d errors\n", path, nerr);
	return cfg;
}

static int
ctl_addr(const char *text, int *family, uint8_t addr[16])
{
	*family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(*family, text, addr) != 1) {
		fprintf(stderr, "nft_ctl: bad address %s\n", text);
		return -1;
	}
	return 0;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
ctl_monitor(struct ctl *c, long ms)
{
	struct pollfd pfd = { .fd = nft_monitor_fd(c->n), .events = POLLIN };
	uint64_t end = now_ms() + (uint64_t)ms;
	int rc = 0;

	if (pfd.fd < 0) {
		fprintf(stderr, "nft_ctl: no monitor socket\n");
		return -1;
	}
	while (now_ms() < end) {
		if (poll(&pfd, 1, (int)(end - now_ms())) > 0 &&
		    nft_monitor_handle(c->n) < 0)
			rc = -1;
	}
	return rc;
}

static int
ctl_bulk(struct ctl *c, const char *trigger, const char *first, long count,
    uint64_t ms)
{
	struct in_addr a;
	uint32_t base;
	long i;

	if (inet_pton(AF_INET, first, &a) != 1) {
		fprintf(stderr, "nft_ctl: bad address %s\n", first);
		return -1;
	}
	base = ntohl(a.s_addr);
	for (i = 0; i < count; i++) {
		a.s_addr = htonl(base + (uint32_t)i);
		if (nft_allow_add(c->n, trigger, AF_INET, (uint8_t *)&a, ms) < 0)
			return -1;
	}
	return 0;
}

static int
on_packet(void *arg, uint16_t queue, const struct nfq_packet *p)
{
	struct ctl *c = arg;
	size_t hl;

	(void)queue;
	c->listened++;
	/* Print the destination port: enough to tell which rule queued it. */
	if (p->payload_len >= 20 && (p->payload[0] >> 4) == 4) {
		hl = (size_t)(p->payload[0] & 0x0f) * 4;
		if (p->payload_len >= hl + 4)
			printf("port ipv4 %u\n", p->payload[hl + 2] << 8 | p->payload[hl + 3]);
	} else if (p->payload_len >= 44 && (p->payload[0] >> 4) == 6) {
		printf("port ipv6 %u\n", p->payload[42] << 8 | p->payload[43]);
	}
	fflush(stdout);
	return NF_ACCEPT;
}

static int
ctl_listen(struct ctl *c, long queue, long ms)
{
	struct nfq_options opt = { .queue = (uint16_t)queue, .maxlen = 1024,
	    .copy_range = 128, .fail_open = false };
	struct nfq_source *s;
	struct pollfd pfd;
	uint64_t end = now_ms() + (uint64_t)ms;

	if ((s = nfq_source_open(&opt, on_packet, c)) == NULL)
		return -1;
	printf("listening %ld\n", queue);
	fflush(stdout);
	pfd.fd = nfq_source_fd(s);
	pfd.events = POLLIN;
	c->listened = 0;
	while (now_ms() < end)
		if (poll(&pfd, 1, (int)(end - now_ms())) > 0)
			nfq_source_receive(s);
	nfq_source_close(s);
	printf("listen packets %d\n", c->listened);
	return 0;
}

static void
ctl_counters(const struct nft *n)
{
	const struct nft_counters *k = nft_counters(n);

	printf("counter batches_sent %" PRIu64 "\n", k->batches_sent);
	printf("counter batches_aborted %" PRIu64 "\n", k->batches_aborted);
	printf("counter elems_added %" PRIu64 "\n", k->elems_added);
	printf("counter elems_deleted %" PRIu64 "\n", k->elems_deleted);
	printf("counter elems_failed %" PRIu64 "\n", k->elems_failed);
	printf("counter set_full %" PRIu64 "\n", k->set_full);
	printf("counter table_recreated %" PRIu64 "\n", k->table_recreated);
	printf("counter resyncs %" PRIu64 "\n", k->resyncs);
	printf("counter monitor_overruns %" PRIu64 "\n", k->monitor_overruns);
}

/* Runs the command at argv[0]; returns the words it used, or -1. */
static int
ctl_command(struct ctl *c, int argc, char **argv)
{
	uint8_t addr[16];
	int family, r;

#define NEED(k)	do { if (argc < (k) + 1) goto usage; } while (0)
	if (strcmp(argv[0], "sync") == 0) {
		return nft_table_sync(c->n, c->cfg) < 0 ? -1 : 1;
	} else if (strcmp(argv[0], "config") == 0) {
		NEED(1);
		config_free(c->cfg);
		return (c->cfg = ctl_config(argv[1])) == NULL ? -1 : 2;
	} else if (strcmp(argv[0], "add") == 0) {
		NEED(3);
		if (ctl_addr(argv[2], &family, addr) < 0 ||
		    nft_allow_add(c->n, argv[1], family, addr,
		    strtoull(argv[3], NULL, 10)) < 0)
			return -1;
		return 4;
	} else if (strcmp(argv[0], "del") == 0) {
		NEED(2);
		if (ctl_addr(argv[2], &family, addr) < 0 ||
		    nft_allow_del(c->n, argv[1], family, addr) < 0)
			return -1;
		return 3;
	} else if (strcmp(argv[0], "bulk") == 0) {
		NEED(4);
		return ctl_bulk(c, argv[1], argv[2], strtol(argv[3], NULL, 10),
		    strtoull(argv[4], NULL, 10)) < 0 ? -1 : 5;
	} else if (strcmp(argv[0], "flush") == 0) {
		r = nft_batch_flush(c->n);
		printf("flush refused %d\n", r);
		return r < 0 ? -1 : 1;
	} else if (strcmp(argv[0], "monitor") == 0) {
		NEED(1);
		return ctl_monitor(c, strtol(argv[1], NULL, 10)) < 0 ? -1 : 2;
	} else if (strcmp(argv[0], "run") == 0) {
		NEED(1);
		fflush(stdout);
		return system(argv[1]) == 0 ? 2 : -1;
	} else if (strcmp(argv[0], "sleep") == 0) {
		NEED(1);
		poll(NULL, 0, (int)strtol(argv[1], NULL, 10));
		return 2;
	} else if (strcmp(argv[0], "delete") == 0) {
		NEED(1);
		return nft_table_delete(c->n, argv[1]) < 0 ? -1 : 2;
	} else if (strcmp(argv[0], "force") == 0) {
		NEED(2);
		nft_features_force(c->n, strcmp(argv[1], "native") == 0,
		    strcmp(argv[2], "refresh") == 0);
		return 3;
	} else if (strcmp(argv[0], "listen") == 0) {
		NEED(2);
		return ctl_listen(c, strtol(argv[1], NULL, 10),
		    strtol(argv[2], NULL, 10)) < 0 ? -1 : 3;
	} else if (strcmp(argv[0], "counters") == 0) {
		ctl_counters(c->n);
		return 1;
	} else if (strcmp(argv[0], "probes") == 0) {
		printf("probe native_queue %d\n", nft_native_queue(c->n));
		printf("probe refresh %d\n", nft_elem_refresh(c->n));
		return 1;
	}
#undef NEED
usage:
	fprintf(stderr, "nft_ctl: bad command or missing arguments: %s\n", argv[0]);
	return -1;
}

int
main(int argc, char **argv)
{
	struct ctl c = { 0 };
	int verbose = 0, i, used, rc = 0;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		argc--;
		argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: nft_ctl [-v] CONFIG COMMAND...\n");
		return 2;
	}
	log_init(0, verbose);
	if ((c.cfg = ctl_config(argv[1])) == NULL || (c.n = nft_open()) == NULL)
		return 1;
	for (i = 2; i < argc; i += used) {
		if ((used = ctl_command(&c, argc - i, argv + i)) < 0) {
			printf("failed %s\n", argv[i]);
			rc = 1;
			break;
		}
		printf("done %s\n", argv[i]);
		fflush(stdout);
	}
	nft_close(c.n);
	config_free(c.cfg);
	return rc;
}
