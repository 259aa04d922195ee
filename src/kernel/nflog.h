/*
 * NFLOG source: one log group read through libmnl, attributes of
 * nfnetlink_log messages parsed into a packet view. Passive: no verdicts.
 */
#ifndef NFQT_NFLOG_H
#define NFQT_NFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/netlink.h"

struct nflog_source;

struct nflog_packet {
	uint16_t hw_protocol;		/* host order */
	uint8_t hook;
	const uint8_t *payload;		/* network header onwards */
	size_t payload_len;
	const char *prefix;		/* the rule's log prefix, "" when none */
	uint32_t indev, outdev;
	uint32_t mark;
};

typedef void (*nflog_packet_fn)(void *arg, uint16_t group, const struct nflog_packet *p);

struct nflog_counters {
	uint64_t packets;
	uint64_t bad_messages;		/* no header or no payload */
	uint64_t enobufs;		/* socket overruns: messages lost */
	struct nl_rx_counters nl;	/* forged or malformed datagrams */
};

/* Bind the group (start-up: logs and returns NULL on failure). */
struct nflog_source *nflog_source_open(uint16_t group, uint32_t copy_range,
    nflog_packet_fn fn, void *arg);
void nflog_source_close(struct nflog_source *s);
int nflog_source_fd(const struct nflog_source *s);
uint16_t nflog_source_group(const struct nflog_source *s);

/* Read what is pending (bounded per call). Returns messages handled or -1. */
int nflog_source_receive(struct nflog_source *s);

/* As nfq_source_set_backlog(): full(arg) ends a read between datagrams. */
void nflog_source_set_backlog(struct nflog_source *s, bool (*full)(void *),
    void *arg);

const struct nflog_counters *nflog_source_counters(const struct nflog_source *s);

#endif
