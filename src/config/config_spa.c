/*
 * [spa NAME] sections (docs/spa.md): single-packet authorization, in our
 * format or fwknop's, on one UDP port, opening the ports of `open`.
 */
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "config/config.h"
#include "config/config_parse.h"
#include "config/keyfile.h"
#include "core/knock_frame.h"
#include "core/spa.h"

_Static_assert(CONFIG_FKO_KEY_MAX == KEYFILE_FKO_MAX, "a fwknop key fits");

/* Bytes of IP and UDP header before an SPA payload, at most (IPv6). */
#define SPA_HEADERS		48
/* fwknopd's own limit on an SPA packet (MAX_SPA_PACKET_LEN). */
#define FWKNOP_PACKET_MAX	1500

/* The trigger whose section is being read: in p->cfg or scratch. */
static struct config_spa *
spa_of(const struct parse *p)
{
	return p->trigger;
}

enum spa_key {
	S_PORT, S_KEY, S_OPEN, S_ALLOW_TIMEOUT, S_MAX_AGE, S_FORMAT,
	S_ALLOW_ADDRESS, S_REPLAY_CACHE
};

static void
spa_defaults(void *t)
{
	struct config_spa *s = t;

	memset(s, 0, sizeof(*s));
	s->allow_timeout_ms = 30 * 1000;
	s->max_age_ms = 30 * 1000;
	s->replay_cache = 4096;
}

static void
spa_port(struct parse *p, const char *v)
{
	char why[WHY_MAX], sb[SHOW_BUF];

	if (!cfg_port_parse(v, strlen(v), &spa_of(p)->port, why))
		cfg_verr(p, "'%s': %s", cfg_show(v, sb, sizeof(sb)), why);
	else if (spa_of(p)->port.proto != IPPROTO_UDP)
		cfg_verr(p, "'%s': SPA packets are UDP datagrams (udp:62201)",
		    cfg_show(v, sb, sizeof(sb)));
}

/* The key is read once the format is known: see spa_check. */
static void
spa_key(struct parse *p, const char *v)
{
	cfg_set_path(p, v, spa_of(p)->key_path);
}

static void
spa_open_port(struct parse *p, const char *tok, int i, void *arg)
{
	struct config_spa *s = arg;
	struct config_port port;
	char why[WHY_MAX], sb[SHOW_BUF];
	int j;

	if (!cfg_port_parse(tok, strlen(tok), &port, why)) {
		cfg_verr(p, "'%s': %s", cfg_show(tok, sb, sizeof(sb)), why);
		return;
	}
	for (j = 0; j < i && j < CONFIG_OPEN_MAX; j++)
		if (s->open[j].proto == port.proto && s->open[j].port == port.port) {
			cfg_verr(p, "'%s' is listed twice", cfg_show(tok, sb,
			    sizeof(sb)));
			break;
		}
	if (i < CONFIG_OPEN_MAX)
		s->open[i] = port;
}

static void
spa_open(struct parse *p, const char *v)
{
	struct config_spa *s = spa_of(p);

	cfg_words_list(p, v, spa_open_port, s, CONFIG_OPEN_MAX, "ports", &s->nopen);
}

static void
spa_allow_timeout(struct parse *p, const char *v)
{
	cfg_set_duration(p, v, 1, CONFIG_DURATION_MAX_MS,
	    &spa_of(p)->allow_timeout_ms);
}

static void
spa_max_age(struct parse *p, const char *v)
{
	uint64_t ms = 0;

	cfg_set_duration(p, v, 1, CONFIG_SPA_AGE_MAX_MS, &ms);
	if (ms == 0)
		return;
	if (ms < 1000)
		cfg_verr(p, "at least 1s (a client's clock and the network "
		    "need that much)");
	else
		spa_of(p)->max_age_ms = ms;
}

static void
spa_format(struct parse *p, const char *v)
{
	char sb[SHOW_BUF];

	if (strcmp(v, "nfq-trigger") == 0)
		spa_of(p)->format = CONFIG_SPA_NATIVE;
	else if (strcmp(v, "fwknop") == 0)
		spa_of(p)->format = CONFIG_SPA_FWKNOP;
	else
		cfg_verr(p, "'%s' is not nfq-trigger or fwknop",
		    cfg_show(v, sb, sizeof(sb)));
}

static void
spa_allow_address(struct parse *p, const char *v)
{
	cfg_set_bool(p, v, &spa_of(p)->allow_address);
}

static void
spa_replay_cache(struct parse *p, const char *v)
{
	uint64_t n;

	if (cfg_set_uint(p, v, CONFIG_SPA_CACHE_MIN, CONFIG_SPA_CACHE_MAX, &n))
		spa_of(p)->replay_cache = (uint32_t)n;
}

static const struct key spa_keys[] = {
	[S_PORT] = { "port", spa_port, true },
	[S_KEY] = { "key", spa_key, true },
	[S_OPEN] = { "open", spa_open, true },
	[S_ALLOW_TIMEOUT] = { "allow_timeout", spa_allow_timeout, false },
	[S_MAX_AGE] = { "max_age", spa_max_age, false },
	[S_FORMAT] = { "format", spa_format, false },
	[S_ALLOW_ADDRESS] = { "allow_address", spa_allow_address, false },
	[S_REPLAY_CACHE] = { "replay_cache", spa_replay_cache, false },
	{ NULL, NULL, false }
};
_Static_assert(sizeof(spa_keys) / sizeof(spa_keys[0]) <= KEYS_MAX,
    "seen_line[] too small for [spa]");

/* The key file, in the format's form, reported at the key's line. */
static void
spa_check_key(struct parse *p)
{
	struct config_spa *s = spa_of(p);
	struct keyfile_fko fko;
	char why[KEYFILE_WHY_MAX];
	int line = p->seen_line[S_KEY];

	if (line == 0 || s->key_path[0] == '\0')
		return;
	if (s->format == CONFIG_SPA_NATIVE) {
		if (keyfile_read(s->key_path, p->check_owner, KEYFILE_ROOT_ONLY,
		    s->key, why, sizeof(why)) == -1)
			cfg_perr(p, line, "%s: key: %s", p->ctx, why);
		return;
	}
	if (keyfile_read_fwknop(s->key_path, p->check_owner, KEYFILE_ROOT_ONLY,
	    &fko, why, sizeof(why)) == -1) {
		cfg_perr(p, line, "%s: key: %s", p->ctx, why);
		return;
	}
	memcpy(s->fko_key, fko.key, sizeof(s->fko_key));
	s->fko_key_len = fko.key_len;
	memcpy(s->fko_hmac, fko.hmac, sizeof(s->fko_hmac));
	s->fko_hmac_len = fko.hmac_len;
	sodium_memzero(&fko, sizeof(fko));
}

/* Ports shared with knock triggers or other SPA triggers: one owner each. */
static void
spa_check_ports(struct parse *p)
{
	const struct config_spa *s = spa_of(p), *o;
	const struct config_knock *k;
	int i, j, line = p->seen_line[S_PORT];

	if (s->port.port == 0)
		return;
	for (i = 0; i < p->cfg->nspas && &p->cfg->spas[i] != s; i++) {
		o = &p->cfg->spas[i];
		if (o->port.port == s->port.port)
			cfg_perr(p, line, "%s: port udp:%u is already [spa %s]'s "
			    "(line %d)", p->ctx, s->port.port, o->name, o->line);
		for (j = 0; j < o->nopen; j++)
			if (o->open[j].proto == IPPROTO_UDP &&
			    o->open[j].port == s->port.port)
				cfg_perr(p, line, "%s: port udp:%u is opened by "
				    "[spa %s] (line %d)", p->ctx, s->port.port,
				    o->name, o->line);
	}
	for (i = 0; i < p->cfg->nknocks; i++) {
		k = &p->cfg->knocks[i];
		if (knock_has_port(k, IPPROTO_UDP, s->port.port))
			cfg_perr(p, line, "%s: port udp:%u is a knock port of "
			    "[knock %s] (line %d)", p->ctx, s->port.port,
			    k->name, k->line);
	}
	for (i = 0; i < s->nopen; i++)
		if (s->open[i].proto == IPPROTO_UDP &&
		    s->open[i].port == s->port.port)
			cfg_perr(p, p->seen_line[S_OPEN], "%s: open: udp:%u is "
			    "the SPA port itself", p->ctx, s->port.port);
}

static void
spa_check(struct parse *p)
{
	spa_check_key(p);
	if (p->scratch)
		return;
	spa_check_ports(p);
}

/*
 * The queue must copy a whole SPA datagram: ours is short, fwknop's may
 * reach fwknopd's 1500-byte limit.
 */
static void
spa_check_engine(struct parse *p)
{
	const struct config_spa *s;
	uint32_t need;
	int i;

	for (i = 0; i < p->cfg->nspas; i++) {
		s = &p->cfg->spas[i];
		need = s->format == CONFIG_SPA_FWKNOP ? FWKNOP_PACKET_MAX :
		    SPA_HEADERS + SPA_LEN_MAX;
		if (p->cfg->engine.copy_range < need)
			cfg_perr(p, p->engine_line ? p->engine_line : s->line,
			    "spa %s: needs [engine] copy_range = %u at least "
			    "(now %u): the queue must copy the whole datagram",
			    s->name, need, p->cfg->engine.copy_range);
	}
}

/* A trigger's keys never outlive it. */
static void
spa_clear(void *t)
{
	struct config_spa *s = t;

	sodium_memzero(s->key, sizeof(s->key));
	sodium_memzero(s->fko_key, sizeof(s->fko_key));
	sodium_memzero(s->fko_hmac, sizeof(s->fko_hmac));
}

static void
spa_print(const void *t, FILE *out)
{
	const struct config_spa *s = t;
	char buf[32];
	int i;

	fprintf(out, "spa %s: %s packets on udp:%u open", s->name,
	    s->format == CONFIG_SPA_FWKNOP ? "fwknop" : "nfq-trigger",
	    s->port.port);
	for (i = 0; i < s->nopen; i++)
		fprintf(out, " %s:%u", s->open[i].proto == IPPROTO_TCP ?
		    "tcp" : "udp", s->open[i].port);
	fprintf(out, " for %s\n",
	    config_duration_str(s->allow_timeout_ms, buf, sizeof(buf)));
	fprintf(out, "  %-15s %s\n", "key", s->key_path);
	fprintf(out, "  %-15s %s\n", "max_age",
	    config_duration_str(s->max_age_ms, buf, sizeof(buf)));
	fprintf(out, "  %-15s %s\n", "allow_address",
	    s->allow_address ? "yes" : "no");
	fprintf(out, "  %-15s %u\n", "replay_cache", s->replay_cache);
}

CFG_KIND_ARRAY(spa, struct config_spa, spas, nspas)

const struct cfg_kind cfg_kind_spa = {
	.section = "spa",
	.keys = spa_keys,
	.defaults = spa_defaults,
	.check = spa_check,
	.check_engine = spa_check_engine,
	.print = spa_print,
	.clear = spa_clear,
	CFG_KIND_FIELDS(spa, struct config_spa),
};
