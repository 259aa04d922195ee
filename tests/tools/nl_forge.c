/*
 * Forges netlink datagrams to another process's NETLINK_NETFILTER socket,
 * as a local process with CAP_NET_ADMIN can (tests/integration/
 * forged_netlink.sh). The engine must drop every one of them unread.
 *
 *   nl_forge packet PORTID QUEUE ID SRC DST PORT
 *       an NFQNL_MSG_PACKET "queued" UDP packet SRC -> DST:PORT (IPv4),
 *       packet id ID, as the kernel would send it, but from our port id
 *   nl_forge badlen PORTID huge|zero|short|over|trailing
 *       one datagram whose nlmsg_len is over INT_MAX, 0, less than a
 *       header, longer than the datagram, or followed by a partial header
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>

static int
usage(void)
{
	fprintf(stderr, "usage: nl_forge packet PORTID QUEUE ID SRC DST PORT\n"
	    "       nl_forge badlen PORTID huge|zero|short|over|trailing\n");
	return 2;
}

static int
send_to(uint32_t portid, const void *buf, size_t len)
{
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = portid };
	struct sockaddr_nl me = { .nl_family = AF_NETLINK };
	int fd;

	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_NETFILTER)) < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("nl_forge: netlink socket");
		return 1;
	}
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		perror("nl_forge: sendto");
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
}

/* IPv4 + UDP, 8 bytes of payload; checksums as a sender would set them. */
static size_t
udp_frame(uint8_t *p, const char *src, const char *dst, uint16_t port)
{
	uint32_t sum = 0;
	int i;

	memset(p, 0, 36);
	p[0] = 0x45;
	p[3] = 36;
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	if (inet_pton(AF_INET, src, p + 12) != 1 ||
	    inet_pton(AF_INET, dst, p + 16) != 1)
		return 0;
	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~(sum + (sum >> 16)) & 0xffff;
	p[10] = (uint8_t)(sum >> 8);
	p[11] = (uint8_t)sum;
	p[20] = 0xc3;			/* source port 50000 */
	p[21] = 0x50;
	p[22] = (uint8_t)(port >> 8);
	p[23] = (uint8_t)port;
	p[25] = 16;			/* UDP length; checksum 0: none */
	memcpy(p + 28, "knockknk", 8);
	return 36;
}

static int
forge_packet(char **argv)
{
	char buf[512] __attribute__((aligned(4)));
	struct nfqnl_msg_packet_hdr ph = { 0 };
	uint8_t frame[64];
	struct nlmsghdr *nlh;
	struct nfgenmsg *g;
	size_t flen;

	if ((flen = udp_frame(frame, argv[4], argv[5],
	    (uint16_t)atoi(argv[6]))) == 0)
		return usage();
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_INET;
	g->version = NFNETLINK_V0;
	g->res_id = htons((uint16_t)atoi(argv[2]));
	ph.packet_id = htonl((uint32_t)strtoul(argv[3], NULL, 10));
	ph.hw_protocol = htons(0x0800);
	ph.hook = NF_INET_LOCAL_IN;
	mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
	mnl_attr_put_u32(nlh, NFQA_IFINDEX_INDEV, htonl(1));
	mnl_attr_put(nlh, NFQA_PAYLOAD, flen, frame);
	return send_to((uint32_t)strtoul(argv[1], NULL, 10), buf, nlh->nlmsg_len);
}

static int
forge_badlen(char **argv)
{
	uint32_t buf[16] = { 0 };
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	size_t len = 32;

	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
	if (strcmp(argv[2], "huge") == 0)
		nlh->nlmsg_len = 0x80000010u;	/* negative as an int */
	else if (strcmp(argv[2], "zero") == 0)
		nlh->nlmsg_len = 0;
	else if (strcmp(argv[2], "short") == 0)
		nlh->nlmsg_len = 8;
	else if (strcmp(argv[2], "over") == 0)
		nlh->nlmsg_len = 4096;
	else if (strcmp(argv[2], "trailing") == 0) {
		nlh->nlmsg_len = 20;		/* a message, then 8 bytes of a header */
		len = 28;
	} else
		return usage();
	return send_to((uint32_t)strtoul(argv[1], NULL, 10), buf, len);
}

int
main(int argc, char **argv)
{
	if (argc == 8 && strcmp(argv[1], "packet") == 0)
		return forge_packet(argv + 1);
	if (argc == 4 && strcmp(argv[1], "badlen") == 0)
		return forge_badlen(argv + 1);
	return usage();
}
