/*
 * Knock-to-open latency: for each repetition, a fresh source address sends
 * a knock sequence of UDP frames, then tries TCP connects to the guarded
 * port until one succeeds. The time from the last frame sent to the first
 * established connection is one sample. bench/knock-latency runs it against
 * an engine that opens through the allow set and against one whose trigger
 * shells out to `nft add element` from its exec hook, in the same run.
 *
 *   knock_latency DST CONNECT_PORT FIRST_SRC REPS FRAME_PORT...
 *
 * FIRST_SRC is an IPv4 address; repetition i uses FIRST_SRC + i, so every
 * sample starts from a source the allow set has never seen. Prints
 * "p50_us p99_us max_us mean_us failures".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "open_latency.h"

static void
send_frames(struct in_addr src, struct in_addr dst, char **ports, int nports)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr = src };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst };
	int fd, i;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
		perror("knock_latency: udp socket");
		exit(1);
	}
	for (i = 0; i < nports; i++) {
		to.sin_port = htons((uint16_t)atoi(ports[i]));
		if (sendto(fd, "k", 1, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			perror("knock_latency: sendto");
	}
	close(fd);
}

struct frames {
	char **ports;
	int nports;
};

static void
send_knock(struct in_addr src, struct in_addr dst, int rep, void *arg)
{
	const struct frames *f = arg;

	(void)rep;
	send_frames(src, dst, f->ports, f->nports);
}

int
main(int argc, char **argv)
{
	struct in_addr dst, src;
	struct frames f;

	if (argc < 6 || inet_pton(AF_INET, argv[1], &dst) != 1 ||
	    inet_pton(AF_INET, argv[3], &src) != 1) {
		fprintf(stderr, "usage: knock_latency DST CONNECT_PORT FIRST_SRC REPS FRAME_PORT...\n");
		return 2;
	}
	f.ports = argv + 5;
	f.nports = argc - 5;
	return open_latency_run(src, dst, (uint16_t)atoi(argv[2]), atoi(argv[4]),
	    send_knock, &f);
}
