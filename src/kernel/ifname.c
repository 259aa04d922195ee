#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/ifname.h"

const char *
ifname_get(struct ifname_cache *c, uint32_t index, uint64_t now_ms)
{
	__typeof__(c->slot[0]) *s = &c->slot[index % IFNAME_CACHE];

	if (index == 0)
		return NULL;
	if (s->index == index && now_ms - s->at_ms < IFNAME_CACHE_MS)
		return s->name;
	if (if_indextoname(index, s->name) == NULL) {
		s->index = 0;
		return NULL;
	}
	s->index = index;
	s->at_ms = now_ms;
	return s->name;
}
