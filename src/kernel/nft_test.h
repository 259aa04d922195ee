/*
 * What the tests (tests/tools/nft_ctl.c) may do to an nft handle and the
 * engine never does. Not included by production code.
 */
#ifndef NFQT_NFT_TEST_H
#define NFQT_NFT_TEST_H

#include <stdbool.h>

struct nft;

/* Take the other code path than the probes chose. */
void nft_features_force(struct nft *n, bool native_queue, bool elem_refresh);

#endif
