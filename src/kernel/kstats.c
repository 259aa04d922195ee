#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kernel/kstats.h"

#define NFQ_PROC	"/proc/net/netfilter/nfnetlink_queue"
#define NETLINK_PROC	"/proc/net/netlink"

/*
 * /proc/net/netfilter/nfnetlink_queue is root's alone (0440): the engine
 * opens it once, before it drops its privileges (kstats_open()), and reads
 * it again from the start each time (a seq_file regenerates on rewind).
 */
static FILE *nfq_proc;

void
kstats_open(void)
{
	if (nfq_proc == NULL)
		nfq_proc = fopen(NFQ_PROC, "re");
}

static FILE *
kstats_nfq(void)
{
	if (nfq_proc == NULL)
		kstats_open();
	if (nfq_proc != NULL) {
		rewind(nfq_proc);
		clearerr(nfq_proc);
	}
	return nfq_proc;
}

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

	if ((f = kstats_nfq()) == NULL)
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
