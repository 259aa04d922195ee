/*
 * What the tests (tests/tools/nft_ctl.c) may do to an nft handle and the
 * engine never does. Not included by production code.
 */
#ifndef NFQT_NFT_TEST_H
#define NFQT_NFT_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nft;

/* Take the other code path than the probes chose. */
void nft_features_force(struct nft *n, bool native_queue, bool elem_refresh);

/*
 * A handle without sockets whose plan names table (fuzz/fuzz_nft_monitor.c):
 * nft_close() frees it.
 */
struct nft *nft_detached(const char *table, bool manage_rules);

/*
 * One datagram that sender sent on the monitor socket, through
 * nl_datagram_run() and the event parsing: whether it asks for a rebuild.
 */
bool nft_monitor_datagram(struct nft *n, const void *buf, size_t len,
    uint32_t sender);

#endif
