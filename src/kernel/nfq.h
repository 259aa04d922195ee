/*
 * NFQUEUE source: one bound queue read through libmnl and libnetfilter_queue's
 * nlmsg API. Every packet read gets exactly one verdict; verdicts produced in
 * one read pass go back to the kernel in one send. A packet the callback
 * holds (NFQ_HOLD) gets its verdict later through nfq_source_verdict(); the
 * kernel keeps it until then. Verdicts are always single NFQNL_MSG_VERDICT
 * messages, never a batch verdict: a batch covers every id up to its own,
 * held ones included (docs/design.md, decision 4).
 */
#ifndef NFQT_NFQ_H
#define NFQT_NFQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/netlink.h"

struct nfq_source;

/* A queued packet as the kernel described it. */
struct nfq_packet {
	uint32_t id;
	uint16_t hw_protocol;		/* ETH_P_IP / ETH_P_IPV6, host order */
	uint8_t hook;			/* NF_INET_* hook it was queued from */
	const uint8_t *payload;		/* network header onwards, copy range bytes at most */
	size_t payload_len;
	uint32_t orig_len;		/* packet length before the copy range cut it */
	uint32_t indev, outdev;		/* ifindex, 0 when absent */
	uint32_t mark;
};

/* Returned by the callback: no verdict now; nfq_source_verdict() gives it later. */
#define NFQ_HOLD	(-1)

/* Returns the verdict (NF_ACCEPT, NF_DROP) for one packet, or NFQ_HOLD. */
typedef int (*nfq_packet_fn)(void *arg, uint16_t queue, const struct nfq_packet *p);

struct nfq_options {
	uint16_t queue;
	uint32_t maxlen;		/* kernel queue length */
	uint32_t copy_range;		/* bytes copied per packet: headers only */
	bool fail_open;			/* NFQA_CFG_F_FAIL_OPEN */
};

struct nfq_counters {
	uint64_t packets;		/* packet messages read */
	uint64_t accepted;		/* verdicts given, held packets included */
	uint64_t dropped;
	uint64_t held;			/* packets the callback held */
	uint64_t held_verdicts;		/* verdicts given later for held packets */
	uint64_t bad_messages;		/* packet messages without id or payload */
	uint64_t enobufs;		/* socket overruns: the kernel lost messages to us */
	uint64_t verdict_errors;	/* the kernel refused a verdict */
	uint64_t verdict_send_failures;	/* sends that failed: their verdicts kept */
	uint64_t verdicts_lost;		/* no room for a verdict (never expected) */
	struct nl_rx_counters nl;	/* forged or malformed datagrams */
};

/* Bind the queue (start-up: logs and returns NULL on failure). */
struct nfq_source *nfq_source_open(const struct nfq_options *opt, nfq_packet_fn fn, void *arg);
void nfq_source_close(struct nfq_source *s);
int nfq_source_fd(const struct nfq_source *s);
uint16_t nfq_source_queue(const struct nfq_source *s);
/* The socket's netlink port id: its line in /proc/net/netlink. */
uint32_t nfq_source_portid(const struct nfq_source *s);

/*
 * Read what is pending (up to a budget, so one busy queue cannot starve the
 * loop), verdict every packet, send the verdicts. Returns packets handled,
 * or -1 on a socket error other than an overrun.
 */
int nfq_source_receive(struct nfq_source *s);

/*
 * Before each datagram, receive asks full(arg): true ends the read there,
 * the kernel keeps the rest queued (what packets produce waits to be sent).
 */
void nfq_source_set_backlog(struct nfq_source *s, bool (*full)(void *),
    void *arg);

/*
 * The verdict for a packet the callback held: appended to the verdicts of
 * the pass, sent by the next nfq_source_flush() or nfq_source_receive().
 * Every held packet must get one, before nfq_source_close() too: the kernel
 * drops what is still queued when the socket goes.
 */
void nfq_source_verdict(struct nfq_source *s, uint32_t id, int verdict);

/*
 * Send the verdicts appended so far. 0, or -1 when a send failed (counted,
 * logged once per outage): what was not sent is kept, and sent by the
 * next flush or receive.
 */
int nfq_source_flush(struct nfq_source *s);

/* Verdicts wait for a send that failed: call nfq_source_flush() again soon. */
bool nfq_source_unsent(const struct nfq_source *s);

const struct nfq_counters *nfq_source_counters(const struct nfq_source *s);

#endif
