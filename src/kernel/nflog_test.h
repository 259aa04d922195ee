/*
 * What the fuzzers (fuzz/fuzz_nflog.c) may do to a log source and the
 * engine never does: a source without a socket, fed datagrams by hand
 * through the one receive path. Not included by production code.
 */
#ifndef NFQT_NFLOG_TEST_H
#define NFQT_NFLOG_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/nflog.h"

struct nflog_source *nflog_source_detached(uint16_t group, nflog_packet_fn fn,
    void *arg);

/* One datagram through nl_datagram_run() and the log's attribute parsing. */
int nflog_source_datagram(struct nflog_source *s, const void *buf, size_t len,
    uint32_t sender);

#endif
