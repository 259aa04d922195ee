/*
 * The textbook NFQUEUE consumer that bench/queue measures nfq-trigger
 * against: libnetfilter_queue's handle API as its documentation and
 * nfqnl_test.c teach it (nfq_open, nfq_create_queue, nfq_set_mode,
 * recv() into a 4 KiB buffer, nfq_handle_packet, one nfq_set_verdict per
 * packet), default socket buffers, every packet accepted.
 *
 *   nfq_textbook QUEUE
 *
 * Runs until SIGTERM or SIGINT; prints how many packets it verdicted.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

static volatile sig_atomic_t stopping;
static uint64_t verdicted;

static void
on_signal(int signo)
{
	(void)signo;
	stopping = 1;
}

static int
on_packet(struct nfq_q_handle *qh, struct nfgenmsg *nfmsg,
    struct nfq_data *nfa, void *data)
{
	struct nfqnl_msg_packet_hdr *ph;
	unsigned char *payload;
	uint32_t id = 0;

	(void)nfmsg;
	(void)data;
	if ((ph = nfq_get_msg_packet_hdr(nfa)) != NULL)
		id = ntohl(ph->packet_id);
	(void)nfq_get_payload(nfa, &payload);
	verdicted++;
	return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	char buf[4096] __attribute__((aligned));
	ssize_t rv;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: nfq_textbook QUEUE\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((h = nfq_open()) == NULL) {
		perror("nfq_textbook: nfq_open");
		return 1;
	}
	nfq_unbind_pf(h, AF_INET);
	if (nfq_bind_pf(h, AF_INET) < 0) {
		perror("nfq_textbook: nfq_bind_pf");
		return 1;
	}
	if ((qh = nfq_create_queue(h, (uint16_t)atoi(argv[1]), on_packet, NULL)) == NULL) {
		perror("nfq_textbook: nfq_create_queue");
		return 1;
	}
	if (nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff) < 0) {
		perror("nfq_textbook: nfq_set_mode");
		return 1;
	}
	fd = nfq_fd(h);
	printf("bound\n");
	fflush(stdout);
	while (!stopping) {
		rv = recv(fd, buf, sizeof(buf), 0);
		if (rv >= 0) {
			nfq_handle_packet(h, buf, (int)rv);
			continue;
		}
		/* ENOBUFS: the kernel dropped messages; the textbook goes on. */
		if (errno != ENOBUFS && errno != EINTR) {
			perror("nfq_textbook: recv");
			break;
		}
	}
	nfq_destroy_queue(qh);
	nfq_close(h);
	printf("verdicted %" PRIu64 "\n", verdicted);
	return 0;
}
