/*
 * What a reload must not lose when the table's sets are made anew (a new
 * table name, a new max_sources): the addresses in the allow and block
 * sets of the triggers that stay, read before the sync and put back after
 * it with the time they had left. Read from the kernel, so it runs in the
 * loop pass like every reload.
 */
#include <sys/socket.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builders/plan.h"
#include "config/config.h"
#include "engine/engine_priv.h"
#include "kernel/nft.h"
#include "kernel/nft_list.h"
#include "util/log.h"

struct carry_elem {
	char trigger[CONFIG_NAME_MAX + 1];
	bool block;
	int family;
	uint8_t addr[16];
	uint64_t left_ms;	/* 0: no timeout */
};

struct engine_carry {
	struct carry_elem *v;
	size_t n, cap;
	size_t max;		/* bound: every set of the old config full */
	const char *trigger;	/* of the set being read */
	bool block;
};

static void
carry_elem(void *arg, const struct nft_list_elem *el)
{
	struct engine_carry *c = arg;
	struct carry_elem *v;
	size_t cap;

	if (c->n == c->max)
		return;
	if (c->n == c->cap) {
		cap = c->cap == 0 ? 64 : c->cap * 2;
		if ((v = reallocarray(c->v, cap, sizeof(*v))) == NULL)
			return;
		c->v = v;
		c->cap = cap;
	}
	v = &c->v[c->n++];
	snprintf(v->trigger, sizeof(v->trigger), "%s", c->trigger);
	v->block = c->block;
	v->family = el->family;
	memcpy(v->addr, el->addr, sizeof(v->addr));
	/* An element with a timeout must not become one without. */
	v->left_ms = el->timeout_ms == 0 ? 0 : el->expires_ms > 0 ? el->expires_ms : 1;
}

static void
carry_sets(struct engine_carry *c, const char *table, const char *name,
    bool block)
{
	char set[NFT_SET_NAME_MAX + 1];

	c->trigger = name;
	c->block = block;
	snprintf(set, sizeof(set), "%s%s", name, block ? NFT_SET_BLOCK4 : NFT_SET_ALLOW4);
	if (nft_list_set(table, set, AF_INET, carry_elem, c) < 0)
		log_warn("reload: reading set %s of table inet %s", set, table);
	snprintf(set, sizeof(set), "%s%s", name, block ? NFT_SET_BLOCK6 : NFT_SET_ALLOW6);
	if (nft_list_set(table, set, AF_INET6, carry_elem, c) < 0)
		log_warn("reload: reading set %s of table inet %s", set, table);
}

static bool
carry_has_knock(const struct config *cfg, const char *name)
{
	int i;

	for (i = 0; i < cfg->nknocks; i++)
		if (strcmp(cfg->knocks[i].name, name) == 0)
			return true;
	return false;
}

static bool
carry_has_block(const struct config *cfg, const char *name)
{
	int i;

	for (i = 0; i < cfg->ncounts; i++)
		if (strcmp(cfg->counts[i].name, name) == 0)
			return cfg->counts[i].kind == CONFIG_COUNT_THRESHOLD;
	return false;
}

struct engine_carry *
engine_carry_read(const struct engine *e, const struct config *next)
{
	const struct config *cur = e->cfg;
	struct engine_carry *c;
	int i;

	if (strcmp(cur->engine.table, next->engine.table) == 0 &&
	    cur->engine.max_sources == next->engine.max_sources)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->max = (size_t)cur->engine.max_sources * 2 *
	    (size_t)(cur->nknocks + cur->ncounts);
	for (i = 0; i < cur->nknocks; i++)
		if (carry_has_knock(next, cur->knocks[i].name))
			carry_sets(c, cur->engine.table, cur->knocks[i].name, false);
	for (i = 0; i < cur->ncounts; i++)
		if (carry_has_block(cur, cur->counts[i].name) &&
		    carry_has_block(next, cur->counts[i].name))
			carry_sets(c, cur->engine.table, cur->counts[i].name, true);
	return c;
}

void
engine_carry_write(struct engine *e, struct engine_carry *c)
{
	struct carry_elem *v;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		v = &c->v[i];
		if (v->block)
			nft_block_add(e->nft, v->trigger, v->family, v->addr, v->left_ms);
		else
			nft_allow_add(e->nft, v->trigger, v->family, v->addr, v->left_ms);
	}
	if (c->n > 0) {
		if (nft_batch_flush(e->nft) != 0)
			log_warnx("reload: not every address could be carried over");
		log_info("reload: %zu allowed or blocked address%s carried over",
		    c->n, c->n == 1 ? "" : "es");
	}
	engine_carry_free(c);
}

void
engine_carry_free(struct engine_carry *c)
{
	if (c == NULL)
		return;
	free(c->v);
	free(c);
}
