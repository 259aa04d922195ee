/*
 * Set updates: libnftnl batches through src/kernel/nft.c against `nft add element`
 * run once per element, measured in the same run. Run it in a throwaway
 * network namespace (bench/set-update does): it creates table inet
 * nfqt_bench there.
 *
 *   set_update [-n ELEMENTS] [-b BATCH] [-s SINGLES] [-r NFT_RUNS]
 *
 * Prints elements per second and per-element latency for each way, and
 * the throughput ratio; exits 1 when batches are not at least 100 times
 * faster (the requirement) or an element went missing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_test.h"
#include "util/log.h"
#include "kernel/nft.h"

#define RATIO_REQUIRED	100.0

extern char **environ;

static const char config_text[] =
    "[engine]\n"
    "table = nfqt_bench\n"
    "max_sources = 1048576\n"
    "[knock bench]\n"
    "sequence = udp:7000\n"
    "open = tcp:22\n";

struct timing {
	double total_s;		/* wall time for all elements */
	double lat_mean_ms;	/* per element: submission to commit */
	double lat_max_ms;
	long elements;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
addr_nth(uint8_t a[4], uint8_t first, long i)
{
	uint32_t v = htonl(((uint32_t)first << 24) + (uint32_t)i + 1);

	memcpy(a, &v, 4);
}

/*
 * n elements appended and flushed every batch elements: one flush per
 * event-loop pass. An element's latency is its batch's flush time plus
 * the appends before it.
 */
static int
bench_batches(struct nft *n, long count, long batch, uint8_t first,
    struct timing *t)
{
	double start = now_s(), pass, lat;
	uint8_t a[4];
	long i, j;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < count; i += batch) {
		pass = now_s();
		for (j = i; j < count && j < i + batch; j++) {
			addr_nth(a, first, j);
			if (nft_allow_add(n, "bench", AF_INET, a, 600000) < 0)
				return -1;
		}
		if (nft_batch_flush(n) != 0)
			return -1;
		lat = (now_s() - pass) * 1000;
		t->lat_mean_ms += lat * (double)(j - i);
		if (lat > t->lat_max_ms)
			t->lat_max_ms = lat;
	}
	t->total_s = now_s() - start;
	t->elements = count;
	t->lat_mean_ms /= (double)count;
	return 0;
}

/* One `nft add element` process per element, as a shell script would. */
static int
bench_nft_runs(long runs, struct timing *t)
{
	char elem[96], ip[INET_ADDRSTRLEN];
	char *argv[] = { "nft", "add", "element", "inet", "nfqt_bench",
	    "bench_allow4", elem, NULL };
	double start = now_s(), one, lat;
	uint8_t a[4];
	pid_t pid;
	int status;
	long i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < runs; i++) {
		addr_nth(a, 10 + 200, i);
		inet_ntop(AF_INET, a, ip, sizeof(ip));
		snprintf(elem, sizeof(elem), "{ %s timeout 10m }", ip);
		one = now_s();
		if ((errno = posix_spawnp(&pid, "nft", NULL, NULL, argv, environ)) != 0) {
			perror("set_update: nft");
			return -1;
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "set_update: nft add element failed\n");
			return -1;
		}
		lat = (now_s() - one) * 1000;
		t->lat_mean_ms += lat;
		if (lat > t->lat_max_ms)
			t->lat_max_ms = lat;
	}
	t->total_s = now_s() - start;
	t->elements = runs;
	t->lat_mean_ms /= (double)runs;
	return 0;
}

static double
rate(const struct timing *t)
{
	return (double)t->elements / t->total_s;
}

static void
report(const char *what, const struct timing *t)
{
	printf("%-44s %8ld elements %9.3f s %11.0f elements/s  "
	    "latency mean %8.3f ms max %8.3f ms\n", what, t->elements,
	    t->total_s, rate(t), t->lat_mean_ms, t->lat_max_ms);
}

static long
arg_long(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end != '\0' || v <= 0) {
		fprintf(stderr, "set_update: '%s' is not a positive number\n", s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	long count = 10000, batch = 1000, singles = 1000, runs = 300;
	struct timing big, one, spawned;
	struct config *cfg;
	struct nft *n;
	char what[64];
	uint64_t added;
	double ratio;
	int c, nerr = 0;

	while ((c = getopt(argc, argv, "n:b:s:r:")) != -1) {
		switch (c) {
		case 'n': count = arg_long(optarg); break;
		case 'b': batch = arg_long(optarg); break;
		case 's': singles = arg_long(optarg); break;
		case 'r': runs = arg_long(optarg); break;
		default:
			fprintf(stderr, "usage: set_update [-n ELEMENTS] [-b BATCH] "
			    "[-s SINGLES] [-r NFT_RUNS]\n");
			return 2;
		}
	}
	log_init(0, 0);
	cfg = config_load_string("bench", config_text, stderr, &nerr);
	if (cfg == NULL || (n = nft_open()) == NULL || nft_table_sync(n, cfg) < 0)
		return 1;
	snprintf(what, sizeof(what), "libnftnl, batches of %ld", batch);
	if (bench_batches(n, count, batch, 10, &big) < 0 ||
	    bench_batches(n, singles, 1, 10 + 100, &one) < 0 ||
	    bench_nft_runs(runs, &spawned) < 0) {
		fprintf(stderr, "set_update: an element was refused\n");
		return 1;
	}
	report(what, &big);
	report("libnftnl, one element per batch", &one);
	report("nft add element, one process per element", &spawned);
	ratio = rate(&big) / rate(&spawned);
	printf("throughput ratio (batches / nft runs): %.0fx (required %.0fx)\n",
	    ratio, RATIO_REQUIRED);
	added = nft_counters(n)->elems_added;
	printf("elements committed through libnftnl: %" PRIu64 " of %ld\n",
	    added, count + singles);
	nft_table_delete(n, "nfqt_bench");
	nft_close(n);
	config_free(cfg);
	return ratio >= RATIO_REQUIRED && added == (uint64_t)(count + singles) ? 0 : 1;
}
