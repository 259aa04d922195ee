/*
 * libFuzzer: any bytes as a datagram on a queue socket, through the one
 * receive path (nl_datagram_run: sender and length checks) and the
 * queue's attribute parsing, as the kernel or a forger would send it. The
 * first input byte picks the sender: 0 the kernel, else a forger. Every
 * packet the callback sees must lie inside the datagram.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

#include "kernel/nfq.h"
#include "kernel/nfq_test.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *dg_start, *dg_end;

static int
fuzz_packet(void *arg, uint16_t queue, const struct nfq_packet *p)
{
	volatile uint8_t sum = 0;
	size_t i;

	(void)arg;
	(void)queue;
	if (p->payload_len > 0 && (p->payload < dg_start ||
	    p->payload + p->payload_len > dg_end))
		abort();
	for (i = 0; i < p->payload_len; i++)
		sum ^= p->payload[i];
	(void)sum;
	/* Exercise every verdict path, holds included. */
	switch (p->id % 3) {
	case 0:
		return NF_ACCEPT;
	case 1:
		return NF_DROP;
	default:
		return NFQ_HOLD;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nfq_source *s;
	struct nfq_options opt = { .queue = 0, .maxlen = 64, .copy_range = 256 };
	uint8_t *buf;

	if (s == NULL) {
		/*
		 * The engine's log goes to stdio's stderr: quiet it, so a
		 * refusal per input does not fill the disk. libFuzzer and
		 * the sanitizers keep the real one.
		 */
		if ((stderr = fopen("/dev/null", "w")) == NULL)
			abort();
		if ((s = nfq_source_detached(&opt, fuzz_packet, NULL)) == NULL)
			abort();
	}
	if (size < 1)
		return 0;
	/*
	 * A copy of the datagram's size and the zeroed padding that
	 * nl_datagram_run() may read (nl_receive() keeps it), so ASan sees
	 * any overrun past that.
	 */
	if ((buf = calloc(1, size + 3)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	dg_start = buf;
	/* An unpadded last message may reach into the padding, no further. */
	dg_end = buf + ((size - 1 + 3) & ~(size_t)3);
	nfq_source_datagram(s, buf, size - 1, data[0] == 0 ? 0 : data[0]);
	nfq_source_verdict(s, 1, NF_ACCEPT);
	nfq_source_flush(s);
	free(buf);
	return 0;
}
