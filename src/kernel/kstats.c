#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernel/kstats.h"

#define NFQ_PROC	"/proc/net/netfilter/nfnetlink_queue"
#define NETLINK_PROC	"/proc/net/netlink"

/*
 * /proc/net/netfilter/nfnetlink_queue is root's alone (0440): the engine
 * opens it once, before it drops its privileges (kstats_open()), and reads
 * it again from offset 0 each time (a seq_file regenerates its text then).
 */
static int nfq_proc = -1;

void
kstats_open(void)
{
	if (nfq_proc < 0)
		nfq_proc = open(NFQ_PROC, O_RDONLY | O_CLOEXEC);
}

/* The whole file into buf, NUL-terminated; false when it cannot be read. */
static bool
kstats_nfq_read(char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	if (nfq_proc < 0)
		kstats_open();
	if (nfq_proc < 0 || lseek(nfq_proc, 0, SEEK_SET) < 0)
		return false;
	while (len < size - 1 && (n = read(nfq_proc, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return len > 0;
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
	static char text[16384];	/* one line per bound queue */
	char *line, *save = NULL;

	if (!kstats_nfq_read(text, sizeof(text)))
		return false;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%u %u %u %u %u %llu %llu %llu", &num, &portid,
		    &total, &mode, &range, &qd, &ud, &seq) != 8 || num != queue)
			continue;
		out->portid = portid;
		out->waiting = total;
		out->queue_dropped = qd;
		out->user_dropped = ud;
		out->id_sequence = seq;
		return true;
	}
	return false;
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
