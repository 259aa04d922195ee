/*
 * Interface names looked up for `iif`/`oif` matches, each trusted for
 * ENGINE_IFCACHE_MS.
 */
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine_priv.h"

const char *
engine_ifname(struct engine *e, uint32_t index, uint64_t now)
{
	struct engine_ifname *c = &e->ifcache[index % ENGINE_IFCACHE];

	if (index == 0)
		return NULL;
	if (c->index == index && now - c->at_ms < ENGINE_IFCACHE_MS)
		return c->name;
	if (if_indextoname(index, c->name) == NULL) {
		c->index = 0;
		return NULL;
	}
	c->index = index;
	c->at_ms = now;
	return c->name;
}
