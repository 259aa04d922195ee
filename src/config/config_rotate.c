/*
 * [rotate NAME] sections (docs/rotate.md): source addresses from a pool
 * for new connections.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/config_parse.h"

/* The trigger whose section is being read: in p->cfg or scratch. */
static struct config_rotate *
rotate_of(const struct parse *p)
{
	return p->trigger;
}

enum rotate_key { R_MATCH, R_MODE, R_POOL, R_POLICY };

static void
rotate_defaults(void *t)
{
	struct config_rotate *r = t;

	memset(r, 0, sizeof(*r));
	r->mode = CONFIG_ROTATE;
	r->policy = CONFIG_ROUND_ROBIN;
}

static void
rotate_match(struct parse *p, const char *v)
{
	cfg_set_match(p, v, &rotate_of(p)->match);
}

static void
rotate_mode(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "rotate") == 0)
		rotate_of(p)->mode = CONFIG_ROTATE;
	else if (strcmp(v, "passthrough") == 0)
		rotate_of(p)->mode = CONFIG_PASSTHROUGH;
	else
		cfg_verr(p, "'%s' is not rotate or passthrough", cfg_show(v, sb, sizeof(sb)));
}

static void
rotate_policy(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "round-robin") == 0)
		rotate_of(p)->policy = CONFIG_ROUND_ROBIN;
	else if (strcmp(v, "random") == 0)
		rotate_of(p)->policy = CONFIG_RANDOM;
	else
		cfg_verr(p, "'%s' is not round-robin or random", cfg_show(v, sb, sizeof(sb)));
}

/* Adds addr to the pool; false (reported) when it is there or no room. */
static bool
pool_add(struct parse *p, struct config_pool *pool, const uint8_t *addr,
    int alen, const char *tok)
{
	int i;

	for (i = 0; i < pool->n; i++)
		if (memcmp(pool->addr[i], addr, (size_t)alen) == 0) {
			cfg_verr(p, "'%s': an address of it is listed twice", tok);
			return false;
		}
	if (pool->n == CONFIG_POOL_MAX) {
		cfg_verr(p, "more than %d addresses of one family (a larger pool "
		    "is one prefix)", CONFIG_POOL_MAX);
		return false;
	}
	memcpy(pool->addr[pool->n++], addr, (size_t)alen);
	return true;
}

/*
 * One word of the pool: an address, or a prefix that is spelled out when
 * it holds at most CONFIG_POOL_MAX addresses, else kept as a prefix that
 * must stand alone in its family.
 */
static void
rotate_pool_one(struct parse *p, const char *tok, int i, void *arg)
{
	struct match_prefix px;
	struct config_pool *pool;
	char why[MATCH_WHY_MAX];
	uint8_t addr[16];
	int family = 0, alen, host, k, b;

	(void)i;
	(void)arg;
	if (match_prefix_parse(tok, &family, &px, why, sizeof(why)) == -1) {
		cfg_verr(p, "%s", why);
		return;
	}
	pool = &rotate_of(p)->pool[family == AF_INET6];
	alen = family == AF_INET ? 4 : 16;
	host = alen * 8 - px.len;
	if (pool->prefix) {
		cfg_verr(p, "'%s': the pool's prefix of more than %d addresses "
		    "stands alone in its family", tok, CONFIG_POOL_MAX);
		return;
	}
	if (host > CONFIG_POOL_HOST_BITS && pool->n > 0) {
		cfg_verr(p, "'%s' holds more than %d addresses: such a prefix "
		    "stands alone in its family's pool", tok, CONFIG_POOL_MAX);
		return;
	}
	if (host > CONFIG_POOL_HOST_BITS) {
		pool->prefix = true;
		pool->prefix_len = px.len;
		memcpy(pool->addr[0], px.addr, 16);
		pool->n = 1;
		return;
	}
	for (k = 0; k < (1 << host); k++) {
		memcpy(addr, px.addr, 16);
		for (b = 0; b < host; b++)
			if (k & (1 << b))
				addr[alen - 1 - b / 8] |= (uint8_t)(1u << (b % 8));
		if (!pool_add(p, pool, addr, alen, tok))
			return;
	}
}

static void
rotate_pool(struct parse *p, const char *v)
{
	cfg_words_each(p, v, rotate_pool_one, NULL);
}

static const struct key rotate_keys[] = {
	[R_MATCH] = { "match", rotate_match, true },
	[R_MODE] = { "mode", rotate_mode, false },
	[R_POOL] = { "pool", rotate_pool, false },
	[R_POLICY] = { "policy", rotate_policy, false },
	{ NULL, NULL, false }
};
_Static_assert(sizeof(rotate_keys) / sizeof(rotate_keys[0]) <= KEYS_MAX,
    "seen_line[] too small for [rotate]");
_Static_assert(1 << CONFIG_POOL_HOST_BITS == CONFIG_POOL_MAX,
    "a prefix that is spelled out fills the pool at most");

/* A non-negated prefix that holds an address of 127.0.0.0/8 or ::1. */
static bool
prefix_has_loopback(int family, const struct match_prefix *px)
{
	static const uint8_t one6[16] = { [15] = 1 };
	int i, bits;
	uint8_t m;

	if (family == AF_INET)
		return px->len == 0 || (px->len <= 8 ?
		    (px->addr[0] ^ 127) >> (8 - px->len) == 0 : px->addr[0] == 127);
	for (i = 0; i < 16; i++) {
		bits = px->len - i * 8;
		if (bits <= 0)
			break;
		m = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		if ((px->addr[i] & m) != (one6[i] & m))
			return false;
	}
	return true;
}

/* An interface clause that lets "lo" in: "lo", or a wildcard "l*", "*". */
static bool
ifs_have_loopback(const struct match_ifs *ifs)
{
	int i;

	for (i = 0; i < ifs->n; i++)
		if (ifs->v[i].wildcard ? strncmp("lo", ifs->v[i].name,
		    strlen(ifs->v[i].name)) == 0 : strcmp(ifs->v[i].name, "lo") == 0)
			return true;
	return false;
}

/*
 * A rotate trigger's rules outlive the engine (docs/design.md, decision 1): without an
 * interface or address in its match they would translate every new
 * connection of the host, loopback included; and loopback traffic never
 * leaves the host, so rotating it only breaks local services.
 */
static void
rotate_check_scope(struct parse *p)
{
	const struct match *m = &rotate_of(p)->match;
	int line = p->seen_line[R_MATCH];
	int d, i, family;

	if (line == 0)
		return;		/* a required key: its own error */
	if (m->ifs[MATCH_OIF].n == 0 && m->ifs[MATCH_IIF].n == 0 &&
	    (m->addr[MATCH_SRC].n == 0 || m->addr[MATCH_SRC].neg) &&
	    (m->addr[MATCH_DST].n == 0 || m->addr[MATCH_DST].neg)) {
		cfg_perr(p, line, "%s: match: needs an interface (oif eth0) or an "
		    "address (ip saddr 10.0.0.0/8, ip daddr ...): the rules stay "
		    "after the engine exits and would rotate every connection, "
		    "loopback included", p->ctx);
		return;
	}
	if (ifs_have_loopback(&m->ifs[MATCH_OIF]) ||
	    ifs_have_loopback(&m->ifs[MATCH_IIF]))
		cfg_perr(p, line, "%s: match: the loopback interface is not a path "
		    "to rotate (its traffic never leaves this host)", p->ctx);
	family = m->family;
	for (d = 0; d < 2; d++)
		for (i = 0; !m->addr[d].neg && i < m->addr[d].n; i++)
			if (family != 0 && prefix_has_loopback(family, &m->addr[d].v[i])) {
				cfg_perr(p, line, "%s: match: %s takes in loopback "
				    "addresses, which are not a path to rotate",
				    p->ctx, d == MATCH_SRC ? "saddr" : "daddr");
				return;
			}
}

static void
rotate_check(struct parse *p)
{
	const struct config_rotate *r = rotate_of(p);
	const int *seen = p->seen_line;
	int f, useful = 0;

	rotate_check_scope(p);
	if (r->mode == CONFIG_PASSTHROUGH) {
		if (seen[R_POOL])
			cfg_perr(p, seen[R_POOL], "%s: pool: not with mode = "
			    "passthrough (connections keep their address)", p->ctx);
		if (seen[R_POLICY])
			cfg_perr(p, seen[R_POLICY], "%s: policy: not with mode = "
			    "passthrough", p->ctx);
		return;
	}
	if (!seen[R_POOL]) {
		cfg_perr(p, p->section_line, "%s: needs pool (the source addresses "
		    "to spread connections over) or mode = passthrough", p->ctx);
		return;
	}
	for (f = 0; f < 2; f++) {
		if (r->pool[f].prefix && r->policy == CONFIG_ROUND_ROBIN)
			cfg_perr(p, seen[R_POLICY] ? seen[R_POLICY] : seen[R_POOL],
			    "%s: a pool prefix of more than %d addresses takes "
			    "policy = random (round-robin needs a list)", p->ctx,
			    CONFIG_POOL_MAX);
		if (r->pool[f].n > 0 && match_has_family(&r->match,
		    f ? AF_INET6 : AF_INET))
			useful++;
	}
	if (seen[R_MATCH] && useful == 0 && (r->pool[0].n > 0 || r->pool[1].n > 0))
		cfg_perr(p, seen[R_POOL], "%s: pool: no address of the family the "
		    "match is for", p->ctx);
}


static void
rotate_print(const void *t, FILE *out)
{
	const struct config_rotate *r = t;
	char m[512], a[INET6_ADDRSTRLEN];
	const struct config_pool *pool;
	int f, i;

	fprintf(out, "rotate %s: %s: %s\n", r->name,
	    match_str(&r->match, m, sizeof(m)), r->mode == CONFIG_PASSTHROUGH ?
	    "passthrough" : r->policy == CONFIG_RANDOM ? "random" : "round-robin");
	for (f = 0; f < 2; f++) {
		pool = &r->pool[f];
		if (pool->n == 0)
			continue;
		fprintf(out, "  %-15s", f ? "pool (IPv6)" : "pool (IPv4)");
		for (i = 0; i < pool->n; i++)
			fprintf(out, " %s", inet_ntop(f ? AF_INET6 : AF_INET,
			    pool->addr[i], a, sizeof(a)));
		if (pool->prefix)
			fprintf(out, "/%u", pool->prefix_len);
		fputc('\n', out);
	}
}

/* A rotate trigger holds nothing outside itself. */
static void
rotate_clear(void *t)
{
	(void)t;
}

CFG_KIND_ARRAY(rotate, struct config_rotate, rotates, nrotates)

const struct cfg_kind cfg_kind_rotate = {
	.section = "rotate",
	.keys = rotate_keys,
	.defaults = rotate_defaults,
	.check = rotate_check,
	.print = rotate_print,
	.clear = rotate_clear,
	CFG_KIND_FIELDS(rotate, struct config_rotate),
};
