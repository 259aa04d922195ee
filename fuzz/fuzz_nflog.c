/*
 * libFuzzer: any bytes as a datagram on a log group's socket, through the
 * one receive path (nl_datagram_run) and the log's attribute parsing. The
 * first input byte picks the sender: 0 the kernel, else a forger. What
 * the callback is handed must lie inside the datagram (and its padding),
 * and the prefix be a terminated string there.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/nflog.h"
#include "kernel/nflog_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *dg_start, *dg_end;

static bool
inside(const void *p, size_t len)
{
	const uint8_t *b = p;

	return b >= dg_start && b + len <= dg_end;
}

static void
fuzz_logged(void *arg, uint16_t group, const struct nflog_packet *p)
{
	volatile uint8_t sum = 0;
	size_t i;

	(void)arg;
	(void)group;
	if (p->payload_len > 0 && !inside(p->payload, p->payload_len))
		abort();
	for (i = 0; i < p->payload_len; i++)
		sum ^= p->payload[i];
	(void)sum;
	if (p->prefix[0] != '\0' && !inside(p->prefix, strlen(p->prefix) + 1))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nflog_source *s;
	uint8_t *buf;

	if (s == NULL) {
		/* The engine's log is stdio's stderr: quiet (see fuzz_nfq.c). */
		if ((stderr = fopen("/dev/null", "w")) == NULL ||
		    (s = nflog_source_detached(0, fuzz_logged, NULL)) == NULL)
			abort();
	}
	if (size < 1)
		return 0;
	if ((buf = calloc(1, size + 3)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	dg_start = buf;
	/* An unpadded last message may reach into the padding, no further. */
	dg_end = buf + ((size - 1 + 3) & ~(size_t)3);
	nflog_source_datagram(s, buf, size - 1, data[0]);
	free(buf);
	return 0;
}
