/*
 * What the fuzzers (fuzz/fuzz_nfq.c) may do to a queue source and the
 * engine never does: a source without a socket, fed datagrams by hand
 * through the one receive path. Not included by production code.
 */
#ifndef NFQT_NFQ_TEST_H
#define NFQT_NFQ_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/nfq.h"

/* A source bound to nothing: its verdicts are counted, never sent. */
struct nfq_source *nfq_source_detached(const struct nfq_options *opt,
    nfq_packet_fn fn, void *arg);

/*
 * Run one datagram that sender sent through nl_datagram_run() and the
 * queue's message parsing, as nfq_source_receive() does after recvmsg.
 */
int nfq_source_datagram(struct nfq_source *s, const void *buf, size_t len,
    uint32_t sender);

#endif
