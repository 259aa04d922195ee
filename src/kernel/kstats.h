/*
 * The kernel's own counters for our queues (docs/design.md, Decision 6):
 * with fail_open a full queue or socket accepts a packet that the engine
 * never sees, so only these show it.
 */
#ifndef NFQT_KSTATS_H
#define NFQT_KSTATS_H

#include <stdbool.h>
#include <stdint.h>

/* A line of /proc/net/netfilter/nfnetlink_queue. */
struct kstats_queue {
	uint32_t portid;	/* the socket bound to it */
	uint32_t waiting;	/* packets queued now, without a verdict */
	uint64_t queue_dropped;	/* queue full, fail_open off: dropped */
	uint64_t user_dropped;	/* socket full, fail_open off: dropped */
	uint64_t id_sequence;	/* ids handed out: packets that got as far as the socket */
};

/* Counters of queue; false when the kernel does not list it. */
/* Open the queue counters while still root (they are root's alone). */
void kstats_open(void);

bool kstats_queue(uint16_t queue, struct kstats_queue *out);

/* Drops of the netlink socket with this port id (/proc/net/netlink); false if absent. */
bool kstats_netlink_drops(uint32_t portid, uint64_t *drops);

#endif
