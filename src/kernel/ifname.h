/*
 * Interface names for `iif`/`oif` matches, from the kernel (if_indextoname:
 * an ioctl), each trusted for IFNAME_CACHE_MS so that a busy path asks at
 * most once a second per interface.
 */
#ifndef NFQT_IFNAME_H
#define NFQT_IFNAME_H

#include <net/if.h>
#include <stdint.h>

#define IFNAME_CACHE		16
#define IFNAME_CACHE_MS		1000

struct ifname_cache {
	struct {
		uint32_t index;
		uint64_t at_ms;
		char name[IF_NAMESIZE];
	} slot[IFNAME_CACHE];
};

/* The name of interface index at now_ms (kernel when not cached); NULL if none. */
const char *ifname_get(struct ifname_cache *c, uint32_t index, uint64_t now_ms);

#endif
