/*
 * Load for bench/queue: 64-byte UDP datagrams (IPv4 header included) from
 * many spoofed sources on loopback, at a given rate or as fast as one
 * thread can send, and a receiver that counts what reached the port.
 * Run it only in a throwaway network namespace (bench/queue does).
 *
 *   queue_load RATE SECONDS PORT NSOURCES [FIRST_SOURCE [COUNT]]
 *
 * RATE 0 sends as fast as possible. Sources cycle through NSOURCES
 * addresses from FIRST_SOURCE (default 127.1.0.0), so a tracker keyed by
 * source sees them all. With COUNT it stops after COUNT datagrams, or
 * after SECONDS, whichever comes first. Prints one line:
 *
 *   sent N delivered M rcvbuf_drops D seconds S
 *
 * delivered counts datagrams read by the receiver; rcvbuf_drops is what
 * its socket dropped itself (SO_MEMINFO), so that the receiver's own
 * overflow is never taken for loss in the path under test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PKT_LEN		64	/* IPv4 header, UDP header, 36 bytes */
#define BATCH		32	/* datagrams per sendmmsg() */
#define DRAIN_MS	300	/* the receiver waits this long after the sender */

struct load {
	double rate;
	double seconds;
	uint16_t port;
	uint32_t nsources;
	uint32_t first;		/* host order */
	uint64_t count;		/* stop after this many; 0: no limit */
	atomic_bool sending;
	uint64_t delivered;
	uint32_t rcv_drops;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
pkt_build(uint8_t *buf, uint32_t src, uint16_t port)
{
	struct iphdr *ip = (struct iphdr *)buf;
	struct udphdr *uh = (struct udphdr *)(buf + sizeof(*ip));

	memset(buf, 0, PKT_LEN);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons(PKT_LEN);
	ip->saddr = htonl(src);
	ip->daddr = htonl(INADDR_LOOPBACK);
	/* The kernel fills the IP checksum; UDP over IPv4 may go without one. */
	uh->source = htons(40000);
	uh->dest = htons(port);
	uh->len = htons(PKT_LEN - sizeof(*ip));
}

static void *
load_receive(void *arg)
{
	struct load *l = arg;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { .tv_usec = 50000 };
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	static uint8_t bufs[BATCH][128];
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t mlen = sizeof(mem);
	double quiet_since = 0;
	int s, n, i, size = 8 << 20;

	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) < 0) {
		perror("queue_load: socket");
		exit(1);
	}
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sin.sin_port = htons(l->port);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("queue_load: bind");
		exit(1);
	}
	for (i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i],
		    .msg_iovlen = 1 } };
	}
	for (;;) {
		n = recvmmsg(s, msgs, BATCH, 0, NULL);
		if (n > 0) {
			l->delivered += (uint64_t)n;
			continue;
		}
		if (atomic_load(&l->sending))
			continue;
		if (quiet_since == 0)
			quiet_since = now_s();
		else if (now_s() - quiet_since > DRAIN_MS / 1000.0)
			break;
	}
	if (getsockopt(s, SOL_SOCKET, SO_MEMINFO, mem, &mlen) == 0)
		l->rcv_drops = mem[SK_MEMINFO_DROPS];
	close(s);
	return NULL;
}

/* Sends in batches; a paced run sleeps until the batch is due. */
static uint64_t
load_send(struct load *l)
{
	struct sockaddr_in dst = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	static uint8_t bufs[BATCH][PKT_LEN];
	struct timespec ts;
	uint64_t sent = 0;
	uint32_t next = 0;
	double start, due, end, t;
	int s, on = 1, n, i;

	if ((s = socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) < 0 ||
	    setsockopt(s, IPPROTO_IP, IP_HDRINCL, &on, sizeof(on)) < 0) {
		perror("queue_load: raw socket");
		exit(1);
	}
	for (i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], PKT_LEN };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &dst,
		    .msg_namelen = sizeof(dst), .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	start = now_s();
	end = start + l->seconds;
	while ((t = now_s()) < end && (l->count == 0 || sent < l->count)) {
		if (l->rate > 0) {
			due = start + (double)sent / l->rate;
			if (due > t) {
				ts.tv_sec = (time_t)due;
				ts.tv_nsec = (long)((due - (double)ts.tv_sec) * 1e9);
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
		}
		for (i = 0; i < BATCH; i++) {
			pkt_build(bufs[i], l->first + next, l->port);
			next = next + 1 == l->nsources ? 0 : next + 1;
		}
		n = BATCH;
		if (l->count > 0 && l->count - sent < BATCH)
			n = (int)(l->count - sent);
		n = sendmmsg(s, msgs, (unsigned)n, 0);
		if (n < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EPERM)
				continue;	/* counted as not sent */
			perror("queue_load: sendmmsg");
			exit(1);
		}
		sent += (uint64_t)n;
	}
	close(s);
	return sent;
}

static double
arg_num(const char *s, double min)
{
	char *end;
	double v = strtod(s, &end);

	if (*end != '\0' || v < min) {
		fprintf(stderr, "queue_load: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct load l = { 0 };
	struct in_addr first;
	pthread_t rx;
	uint64_t sent;
	double t0, t1;

	if (argc < 5 || argc > 7) {
		fprintf(stderr, "usage: queue_load RATE SECONDS PORT NSOURCES "
		    "[FIRST_SOURCE [COUNT]]\n");
		return 2;
	}
	l.rate = arg_num(argv[1], 0);
	l.seconds = arg_num(argv[2], 0.01);
	l.port = (uint16_t)arg_num(argv[3], 1);
	l.nsources = (uint32_t)arg_num(argv[4], 1);
	if (argc == 7)
		l.count = (uint64_t)arg_num(argv[6], 1);
	if (inet_pton(AF_INET, argc >= 6 ? argv[5] : "127.1.0.0", &first) != 1) {
		fprintf(stderr, "queue_load: bad address\n");
		return 2;
	}
	l.first = ntohl(first.s_addr);
	atomic_store(&l.sending, true);
	if (pthread_create(&rx, NULL, load_receive, &l) != 0) {
		perror("queue_load: thread");
		return 1;
	}
	usleep(20000);		/* the receiver is bound before the first datagram */
	t0 = now_s();
	sent = load_send(&l);
	t1 = now_s();
	atomic_store(&l.sending, false);
	pthread_join(rx, NULL);
	printf("sent %" PRIu64 " delivered %" PRIu64 " rcvbuf_drops %u seconds %.3f\n",
	    sent, l.delivered, l.rcv_drops, t1 - t0);
	return 0;
}
