/*
 * libFuzzer: any bytes as a datagram on the nftables monitor socket,
 * through the one receive path and the event parsing that decides whether
 * the table must be rebuilt. The first byte picks the sender (0: the
 * kernel) and whether the engine manages rules; a rebuild may only be
 * asked for by the kernel.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/nft.h"
#include "kernel/nft_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nft *n[2];
	uint8_t *buf;
	bool rebuild;

	if (n[0] == NULL) {
		/* The engine's log is stdio's stderr: quiet (see fuzz_nfq.c). */
		if ((stderr = fopen("/dev/null", "w")) == NULL ||
		    (n[0] = nft_detached("nfq_trigger", false)) == NULL ||
		    (n[1] = nft_detached("nfq_trigger", true)) == NULL)
			abort();
	}
	if (size < 1)
		return 0;
	if ((buf = calloc(1, size + 3)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	rebuild = nft_monitor_datagram(n[data[0] & 1], buf, size - 1,
	    data[0] >> 1);
	if (rebuild && (data[0] >> 1) != 0)
		abort();
	free(buf);
	return 0;
}
