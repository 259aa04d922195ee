/*
 * spa_packet: write one SPA datagram of our format (core/spa.h) to stdout,
 * for the integration tests; the bits they need to spoil are options.
 *
 *   spa_packet KEYFILE NAME [-o AGE_MS] [-a ADDR] [-f BYTE] [-t LEN]
 *
 * -o makes the packet AGE_MS old (negative: from the future), -a names an
 * address to open, -f flips the low bit of byte BYTE, -t truncates the
 * datagram to LEN bytes. The key file is read without ownership checks.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "config/keyfile.h"
#include "core/spa.h"

int
main(int argc, char **argv)
{
	uint8_t key[KEYFILE_KEY_LEN], pkt[SPA_LEN_MAX];
	char why[KEYFILE_WHY_MAX];
	struct spa_msg m;
	struct timespec ts;
	long long age = 0;
	long flip = -1, cut = -1;
	size_t len;
	int c;

	memset(&m, 0, sizeof(m));
	while ((c = getopt(argc, argv, "o:a:f:t:")) != -1) {
		switch (c) {
		case 'o':
			age = atoll(optarg);
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, m.addr) == 1)
				m.family = AF_INET;
			else if (inet_pton(AF_INET6, optarg, m.addr) == 1)
				m.family = AF_INET6;
			else
				return 2;
			break;
		case 'f':
			flip = atol(optarg);
			break;
		case 't':
			cut = atol(optarg);
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: spa_packet KEYFILE NAME [-o AGE_MS] "
		    "[-a ADDR] [-f BYTE] [-t LEN]\n");
		return 2;
	}
	if (keyfile_read(argv[optind], false, KEYFILE_ROOT_ONLY, key, why,
	    sizeof(why)) == -1) {
		fprintf(stderr, "spa_packet: %s\n", why);
		return 2;
	}
	snprintf(m.name, sizeof(m.name), "%s", argv[optind + 1]);
	clock_gettime(CLOCK_REALTIME, &ts);
	m.ts_ms = (uint64_t)((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 -
	    age);
	randombytes_buf(m.nonce, sizeof(m.nonce));
	if ((len = spa_encode(key, &m, pkt)) == 0)
		return 2;
	if (flip >= 0 && (size_t)flip < len)
		pkt[flip] ^= 1;
	if (cut >= 0 && (size_t)cut < len)
		len = (size_t)cut;
	return fwrite(pkt, 1, len, stdout) == len ? 0 : 1;
}
