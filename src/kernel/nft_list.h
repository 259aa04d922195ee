/*
 * The engine's table as the kernel has it now (kernel, waits for the
 * answer: call from the loop pass, never from a packet callback).
 */
#ifndef NFQT_NFT_LIST_H
#define NFQT_NFT_LIST_H

#include <stdint.h>

struct nft_list_elem {
	int family;		/* AF_INET, AF_INET6 */
	uint8_t addr[16];	/* network order */
	uint64_t timeout_ms;	/* 0: none */
	uint64_t expires_ms;	/* time left; 0 with no timeout */
};

typedef void (*nft_list_fn)(void *arg, const struct nft_list_elem *el);

/*
 * Every element of set (addresses of family) in the inet table: fn for each
 * (fn may be NULL to count). Returns how many, or -1 with errno (ENOENT:
 * no such set or table).
 */
int nft_list_set(const char *table, const char *set, int family, nft_list_fn fn,
    void *arg);

/*
 * The packets that the table's queue rules sent to NFQUEUE, from the
 * counter each of them has before its queue statement. 0, or -1 with errno.
 */
int nft_list_queue_packets(const char *table, uint64_t *packets);

#endif
