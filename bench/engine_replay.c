/*
 * The pure engine's cost per packet: synthetic IPv4 packets replayed
 * through the core (parse, knock, activity, count, as the engine's queue
 * callback hands them on) under the realistic config of bench/queue, with
 * 100k sources already tracked by each knock trigger and by the count
 * trigger. No socket, no kernel: what is left is the engine's own work.
 *
 *   engine_replay [-n PACKETS] [-s SOURCES] [-m]
 *
 * Under callgrind, bench/engine-cost counts the instructions of
 * replay_run() alone (--toggle-collect), so the pre-fill is not in the
 * figure. Prints packets, wall-clock ns per packet and the verdict mix;
 * with -m also VmRSS before and after tracking SOURCES sources (memory
 * of the core's trackers, set by -s).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_test.h"
#include "core/match.h"
#include "core/packet.h"
#include "core/trigger_activity.h"
#include "core/trigger_count.h"
#include "core/trigger_knock.h"
#include "util/log.h"

#define RING		(1U << 17)	/* distinct packets, replayed in turn */
#define PKT_LEN		64
#define PORT		9000		/* the counted traffic */
#define ACT_PORT	9100
#define EVERY_PORT	9200
#define KNOCKS		8

struct replay {
	struct config *cfg;
	struct knock_set *knocks;
	struct count_set *counts;
	struct activity acts[CONFIG_TRIGGERS_MAX];
	int nacts;
	struct match_index *act_index;	/* as the engine dispatches them */
	uint64_t now_ms;
	uint64_t drops, accepts, held;
};

static uint8_t ring[RING][PKT_LEN];

static char *
config_text(uint32_t max_sources)
{
	static char buf[4096];
	size_t n;
	int i, b;

	n = (size_t)snprintf(buf, sizeof(buf), "[engine]\nqueue = 0\n"
	    "max_sources = %u\n", max_sources);
	for (i = 0; i < KNOCKS; i++) {
		b = 7000 + i * 10;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "[knock k%d]\n"
		    "sequence = udp:%d tcp:%d:s udp:%d tcp:%d:s\nwindow = 10m\n"
		    "open = tcp:%d\n", i, b, b + 1, b + 2, b + 3, 2200 + i);
	}
	snprintf(buf + n, sizeof(buf) - n,
	    "[activity path]\nmatch = udp dport %d\nttl = 10m\nstart = /bin/true\n"
	    "[count flood]\nmatch = udp dport %d\nthreshold = 1000000/60s\n"
	    "block_timeout = 1m\npath = engine\n"
	    "[count every]\nmatch = udp dport %d\nevery = 1000\npath = engine\n"
	    "exec = /bin/true\n",
	    ACT_PORT, PORT, EVERY_PORT);
	return buf;
}

static void
pkt_build(uint8_t *buf, uint32_t src, uint8_t proto, uint16_t dport,
    uint8_t tcp_flags)
{
	struct iphdr *ip = (struct iphdr *)buf;
	struct udphdr *uh = (struct udphdr *)(buf + sizeof(*ip));
	struct tcphdr *th = (struct tcphdr *)(buf + sizeof(*ip));

	memset(buf, 0, PKT_LEN);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = proto;
	ip->tot_len = htons(PKT_LEN);
	ip->saddr = htonl(src);
	ip->daddr = htonl(INADDR_LOOPBACK);
	if (proto == IPPROTO_UDP) {
		uh->source = htons(40000);
		uh->dest = htons(dport);
		uh->len = htons(PKT_LEN - sizeof(*ip));
	} else {
		th->source = htons(40000);
		th->dest = htons(dport);
		th->doff = 5;
		((uint8_t *)th)[13] = tcp_flags;
	}
}

/*
 * The mix: 90% counted UDP from the tracked sources, 4% knock frames (a
 * second frame from a tracked source, or a first one from a new source),
 * 3% TCP to a port no trigger has, 2% the activity's port, 1% every = N.
 */
static void
ring_fill(uint32_t sources)
{
	uint32_t i, r, src;
	int k;

	srandom(1);
	for (i = 0; i < RING; i++) {
		r = (uint32_t)random() % 100;
		src = 0x7f010000 + i % sources;
		k = (int)(random() % KNOCKS);
		if (r < 90)
			pkt_build(ring[i], src, IPPROTO_UDP, PORT, 0);
		else if (r < 92)
			pkt_build(ring[i], src, IPPROTO_TCP, (uint16_t)(7001 + k * 10), 0x02);
		else if (r < 94)
			pkt_build(ring[i], 0x7f800000 + i, IPPROTO_UDP,
			    (uint16_t)(7000 + k * 10), 0);
		else if (r < 97)
			pkt_build(ring[i], src, IPPROTO_TCP, 443, 0x10);
		else if (r < 99)
			pkt_build(ring[i], src, IPPROTO_UDP, ACT_PORT, 0);
		else
			pkt_build(ring[i], src, IPPROTO_UDP, EVERY_PORT, 0);
	}
}

/* What the engine's queue callback does with one packet (src/engine/engine.c). */
static void
replay_packet(struct replay *rp, const uint8_t *buf, size_t len, uint32_t id)
{
	struct knock_result kr;
	struct count_result cr;
	struct act_actions out;
	struct act_held held = { .id = id, .len = (uint32_t)len };
	struct pkt p;
	bool judged = false;
	uint64_t bits;
	int i, verdict = 0;

	if (pkt_parse(buf, len, &p) != PKT_OK) {
		rp->accepts++;
		return;
	}
	knock_set_packet_at(rp->knocks, &p, rp->now_ms, 1800000000, &kr);
	if (kr.verdict == KNOCK_DROP) {
		rp->drops++;
		return;
	}
	for (bits = match_index_candidates(rp->act_index, &p); bits != 0;
	    bits &= bits - 1) {
		i = __builtin_ctzll(bits);
		if (!match_packet(&rp->acts[i].cfg->match, &p, NULL, NULL))
			continue;
		if (act_packet(&rp->acts[i], judged ? NULL : &held, rp->now_ms,
		    &out) == ACT_HOLD)
			verdict = 2;
		judged = true;
	}
	count_set_packet(rp->counts, &p, NULL, NULL, rp->now_ms, &cr);
	if (cr.verdict == COUNT_DROP)
		verdict = 1;
	if (verdict == 1)
		rp->drops++;
	else if (verdict == 2)
		rp->held++;
	else
		rp->accepts++;
}

/* The measured part: n packets from the ring, a millisecond per 256. */
void replay_run(struct replay *, uint64_t) __attribute__((noinline));
void
replay_run(struct replay *rp, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		if ((i & 255) == 0)
			rp->now_ms++;
		replay_packet(rp, ring[i % RING], PKT_LEN, (uint32_t)i);
	}
}

/* Every source a first knock frame of every trigger, and a counted packet. */
static void
replay_prefill(struct replay *rp, uint32_t sources)
{
	uint8_t buf[PKT_LEN];
	uint32_t s;
	int k;

	for (k = 0; k < KNOCKS; k++)
		for (s = 0; s < sources; s++) {
			pkt_build(buf, 0x7f010000 + s, IPPROTO_UDP,
			    (uint16_t)(7000 + k * 10), 0);
			replay_packet(rp, buf, PKT_LEN, s);
		}
	for (s = 0; s < sources; s++) {
		pkt_build(buf, 0x7f010000 + s, IPPROTO_UDP, PORT, 0);
		replay_packet(rp, buf, PKT_LEN, s);
	}
}

static long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static const uint8_t key[TRACKER_HASH_KEY_LEN] = { 1, 2, 3 };
	struct replay rp = { .now_ms = 1000 };
	struct act_actions out;
	uint64_t n = 1000000;
	uint32_t sources = 100000, max_sources = 262144;
	char why[256];
	long rss0, rss1;
	double t0, t1;
	int c, i, nerr = 0, memory = 0;

	while ((c = getopt(argc, argv, "n:s:m")) != -1) {
		switch (c) {
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 's': sources = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'm': memory = 1; break;
		default:
			fprintf(stderr, "usage: engine_replay [-n PACKETS] [-s SOURCES] [-m]\n");
			return 2;
		}
	}
	/* The fresh tier (3/4 of a tracker) must hold every pre-filled source. */
	if (sources / 3 * 4 + 4 > max_sources)
		max_sources = sources / 3 * 4 + 4;
	log_init(0, 0);
	rss0 = rss_kb();
	rp.cfg = config_load_string("replay", config_text(max_sources), stderr, &nerr);
	if (rp.cfg == NULL)
		return 1;
	if ((rp.knocks = knock_set_new_at(rp.cfg, key, 1800000000, why,
	    sizeof(why))) == NULL || (rp.counts = count_set_new(rp.cfg, key, why,
	    sizeof(why))) == NULL) {
		fprintf(stderr, "engine_replay: %s\n", why);
		return 1;
	}
	if ((rp.act_index = match_index_new()) == NULL)
		return 1;
	for (i = 0; i < rp.cfg->nactivities; i++) {
		if (act_init(&rp.acts[rp.nacts++], &rp.cfg->activities[i]) < 0)
			return 1;
		match_index_add(rp.act_index, &rp.cfg->activities[i].match, i);
	}
	ring_fill(sources);
	replay_prefill(&rp, sources);
	/* The activity trigger has started: its path is up. */
	for (i = 0; i < rp.nacts; i++) {
		pkt_build(ring[0], 0x7f010000, IPPROTO_UDP, ACT_PORT, 0);
		replay_packet(&rp, ring[0], PKT_LEN, 0);
		act_start_done(&rp.acts[i], rp.acts[i].epoch, true, rp.now_ms, &out);
	}
	ring_fill(sources);
	rss1 = rss_kb();
	rp.accepts = rp.drops = rp.held = 0;
	t0 = now_s();
	replay_run(&rp, n);
	t1 = now_s();
	printf("packets %" PRIu64 " ns/packet %.0f accepted %" PRIu64 " dropped %"
	    PRIu64 " held %" PRIu64 "\n", n, n ? (t1 - t0) * 1e9 / (double)n : 0,
	    rp.accepts, rp.drops, rp.held);
	if (memory)
		printf("rss_kb before %ld tracking %u sources x %d trackers %ld\n",
		    rss0, sources, KNOCKS + 1, rss1);
	for (i = 0; i < rp.nacts; i++)
		act_free(&rp.acts[i]);
	match_index_free(rp.act_index);
	knock_set_free(rp.knocks);
	count_set_free(rp.counts);
	config_free(rp.cfg);
	return 0;
}
