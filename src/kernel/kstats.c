#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kernel/kstats.h"

#define NFQ_PROC	"/proc/net/netfilter/nfnetlink_queue"
#define NETLINK_PROC	"/proc/net/netlink"

/*
 * queue_number peer_portid queue_total copy_mode copy_range queue_dropped
 * queue_user_dropped id_sequence 1
 */
bool
kstats_queue(uint16_t queue, struct kstats_queue *out)
{
	unsigned int num, portid, total, mode, range;
	unsigned long long qd, ud, seq;
	char line[256];
	bool found = false;
	FILE *f;

	if ((f = fopen(NFQ_PROC, "re")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%u %u %u %u %u %llu %llu %llu", &num, &portid,
		    &total, &mode, &range, &qd, &ud, &seq) != 8 || num != queue)
			continue;
		out->portid = portid;
		out->waiting = total;
		out->queue_dropped = qd;
		out->user_dropped = ud;
		out->id_sequence = seq;
		found = true;
	}
	fclose(f);
	return found;
}

/* sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode */
bool
kstats_netlink_drops(uint32_t portid, uint64_t *drops)
{
	char line[256], sk[32];
	unsigned int eth, pid, locks;
	unsigned long groups, rmem, wmem, dump;
	unsigned long long d;
	bool found = false;
	FILE *f;

	if ((f = fopen(NETLINK_PROC, "re")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%31s %u %u %lx %lu %lu %lu %u %llu", sk, &eth,
		    &pid, &groups, &rmem, &wmem, &dump, &locks, &d) != 9 ||
		    eth != 12 /* NETLINK_NETFILTER */ || pid != portid)
			continue;
		*drops = d;
		found = true;
	}
	fclose(f);
	return found;
}
