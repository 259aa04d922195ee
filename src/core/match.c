/*
 * `match` text to struct match and back, and packets against it (match.h).
 * The grammar is nft's, cut down to what triggers need: every word the
 * parser does not know is an error naming that word, never ignored.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/pages.h"
#include "core/match.h"
#include "core/packet.h"

#define TOKENS_MAX	96
#define TOKEN_LEN	64	/* an IPv6 prefix is at most 43 bytes */

/* Port clauses: tcp/udp name their protocol, th takes it from meta l4proto. */
enum port_proto { PP_NONE, PP_TCP, PP_UDP, PP_TH };

struct parser {
	char tok[TOKENS_MAX][TOKEN_LEN];
	int ntok;
	int pos;
	struct match *m;
	char *why;
	size_t whylen;
	const char *family_word;	/* "ip", "ip6", "meta nfproto": first to set it */
	enum port_proto pp[2];
	bool seen_l4proto;
	bool seen_nfproto;
	bool seen_if[2];
	bool seen_flags;
};

static int
fail(struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->why, ps->whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* --- words ------------------------------------------------------------- */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_punct(char c)
{
	return c == '{' || c == '}' || c == ',';
}

/* Blanks separate words; { } , are words of their own wherever they are. */
static int
tokenize(struct parser *ps, const char *s)
{
	size_t n;

	while (*s != '\0') {
		if (is_blank(*s)) {
			s++;
			continue;
		}
		if (ps->ntok == TOKENS_MAX)
			return fail(ps, "more than %d words", TOKENS_MAX);
		if (is_punct(*s))
			n = 1;
		else
			for (n = 0; s[n] != '\0' && !is_blank(s[n]) &&
			    !is_punct(s[n]); n++)
				;
		if (n >= TOKEN_LEN)
			return fail(ps, "word '%.20s...' is too long", s);
		memcpy(ps->tok[ps->ntok], s, n);
		ps->tok[ps->ntok][n] = '\0';
		ps->ntok++;
		s += n;
	}
	return 0;
}

static const char *
peek(const struct parser *ps)
{
	return ps->pos < ps->ntok ? ps->tok[ps->pos] : NULL;
}

static const char *
next(struct parser *ps)
{
	return ps->pos < ps->ntok ? ps->tok[ps->pos++] : NULL;
}

/* --- values ------------------------------------------------------------ */

static bool
digits(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static bool
prefix_host_bits(const uint8_t *addr, int alen, int len)
{
	int i;

	for (i = 0; i < alen; i++) {
		int keep = len - i * 8;
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 :
		    (uint8_t)(0xff << (8 - keep));

		if (addr[i] & (uint8_t)~mask)
			return true;
	}
	return false;
}

static int
value_prefix(struct parser *ps, const char *w, int family,
    struct match_prefix *out)
{
	const char *slash = strchr(w, '/');
	int alen = family == AF_INET ? 4 : 16;
	char addr[TOKEN_LEN];
	unsigned long len = (unsigned long)alen * 8;

	snprintf(addr, sizeof(addr), "%.*s", slash != NULL ? (int)(slash - w) :
	    (int)strlen(w), w);
	if (inet_pton(family, addr, out->addr) != 1)
		return fail(ps, "'%s' is not an %s address", w,
		    family == AF_INET ? "IPv4" : "IPv6");
	if (slash != NULL && !digits(slash + 1, strlen(slash + 1),
	    (unsigned long)alen * 8, &len))
		return fail(ps, "'%s': prefix length is not 0-%d", w, alen * 8);
	out->len = (uint8_t)len;
	if (prefix_host_bits(out->addr, alen, out->len))
		return fail(ps, "'%s' has bits set after the prefix length", w);
	return 0;
}

int
match_prefix_parse(const char *text, int *family, struct match_prefix *out,
    char *why, size_t whylen)
{
	struct parser ps = { .why = why, .whylen = whylen };

	if (*family == 0)
		*family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
	if (strlen(text) >= TOKEN_LEN)
		return fail(&ps, "'%.20s...' is too long for an address", text);
	return value_prefix(&ps, text, *family, out);
}

static int
value_range(struct parser *ps, const char *w, struct match_range *out)
{
	const char *dash = strchr(w, '-');
	unsigned long lo, hi;

	if (dash == NULL && digits(w, strlen(w), 65535, &lo))
		hi = lo;
	else if (dash == NULL || !digits(w, (size_t)(dash - w), 65535, &lo) ||
	    !digits(dash + 1, strlen(dash + 1), 65535, &hi))
		return fail(ps, "'%s' is not a port 0-65535 or a range such as "
		    "8000-8999", w);
	if (lo > hi)
		return fail(ps, "port range '%s' goes backwards", w);
	out->lo = (uint16_t)lo;
	out->hi = (uint16_t)hi;
	return 0;
}

static const struct {
	const char *name;
	uint8_t proto;
} proto_names[] = {
	{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP },
	{ "icmpv6", IPPROTO_ICMPV6 }, { "ipv6-icmp", IPPROTO_ICMPV6 },
	{ NULL, 0 }
};

static int
value_proto(struct parser *ps, const char *w, uint8_t *out)
{
	unsigned long n;
	int i;

	for (i = 0; proto_names[i].name != NULL; i++)
		if (strcmp(w, proto_names[i].name) == 0) {
			*out = proto_names[i].proto;
			return 0;
		}
	if (!digits(w, strlen(w), 255, &n))
		return fail(ps, "'%s' is not a protocol (tcp, udp, icmp, icmpv6 "
		    "or a number 0-255)", w);
	*out = (uint8_t)n;
	return 0;
}

/* Linux refuses '/', ':' and blanks in names; nft quotes them "eth0". */
static int
value_ifname(struct parser *ps, const char *w, struct match_ifname *out)
{
	size_t n = strlen(w), i;

	if (n >= 2 && w[0] == '"' && w[n - 1] == '"') {
		w++;
		n -= 2;
	}
	memset(out, 0, sizeof(*out));
	if (n > 0 && w[n - 1] == '*') {
		out->wildcard = true;
		n--;
	}
	if (n == 0 && !out->wildcard)
		return fail(ps, "empty interface name");
	if (n >= MATCH_IFNAME_MAX)
		return fail(ps, "interface name '%s' is longer than %d bytes", w,
		    MATCH_IFNAME_MAX - 1);
	for (i = 0; i < n; i++)
		if (w[i] == '/' || w[i] == ':' || w[i] == '"' || w[i] == '*' ||
		    w[i] == '!' || w[i] == '=')
			return fail(ps, "'%s' is not an interface name", w);
	memcpy(out->name, w, n);
	return 0;
}

/*
 * One value or a { } set of them; each goes through fn into slot i of an
 * array of MATCH_SET_MAX. Returns the count, or -1.
 */
typedef int (*value_fn)(struct parser *, const char *, void *, int);

static int
values(struct parser *ps, const char *what, value_fn fn, void *arg)
{
	const char *w = next(ps);
	int n = 0;

	if (w == NULL)
		return fail(ps, "%s: a value is missing at the end", what);
	if (strcmp(w, "{") != 0) {
		if (strcmp(w, "}") == 0 || strcmp(w, ",") == 0)
			return fail(ps, "%s: '%s' where a value belongs", what, w);
		return fn(ps, w, arg, 0) < 0 ? -1 : 1;
	}
	for (;;) {
		if ((w = next(ps)) == NULL)
			return fail(ps, "%s: set without '}'", what);
		if (strcmp(w, "{") == 0 || strcmp(w, "}") == 0 ||
		    strcmp(w, ",") == 0)
			return fail(ps, "%s: '%s' where a value belongs", what, w);
		if (n == MATCH_SET_MAX)
			return fail(ps, "%s: more than %d values in a set", what,
			    MATCH_SET_MAX);
		if (fn(ps, w, arg, n++) < 0)
			return -1;
		if ((w = next(ps)) == NULL)
			return fail(ps, "%s: set without '}'", what);
		if (strcmp(w, "}") == 0)
			return n;
		if (strcmp(w, ",") != 0)
			return fail(ps, "%s: expected ',' or '}', got '%s'", what, w);
	}
}

struct prefix_arg {
	int family;
	struct match_prefix *v;
};

static int
one_prefix(struct parser *ps, const char *w, void *arg, int i)
{
	struct prefix_arg *pa = arg;

	return value_prefix(ps, w, pa->family, &pa->v[i]);
}

static int
one_range(struct parser *ps, const char *w, void *arg, int i)
{
	return value_range(ps, w, &((struct match_range *)arg)[i]);
}

static int
one_proto(struct parser *ps, const char *w, void *arg, int i)
{
	uint8_t *protos = arg;
	int j;

	if (value_proto(ps, w, &protos[i]) < 0)
		return -1;
	for (j = 0; j < i; j++)
		if (protos[j] == protos[i])
			return fail(ps, "meta l4proto: '%s' is listed twice", w);
	return 0;
}

static int
one_ifname(struct parser *ps, const char *w, void *arg, int i)
{
	return value_ifname(ps, w, &((struct match_ifname *)arg)[i]);
}

/* --- clauses ----------------------------------------------------------- */

static bool
negation(struct parser *ps)
{
	const char *w = peek(ps);

	if (w != NULL && strcmp(w, "!=") == 0) {
		ps->pos++;
		return true;
	}
	if (w != NULL && strcmp(w, "==") == 0)
		ps->pos++;
	return false;
}

static int
dir_word(struct parser *ps, const char *clause, const char *a, const char *b)
{
	const char *w = next(ps);

	if (w != NULL && strcmp(w, a) == 0)
		return MATCH_SRC;
	if (w != NULL && strcmp(w, b) == 0)
		return MATCH_DST;
	return fail(ps, "'%s' is followed by %s or %s, not '%s'", clause, a, b,
	    w != NULL ? w : "nothing");
}

static int
set_family(struct parser *ps, int family, const char *word)
{
	if (ps->m->family != 0 && ps->m->family != family)
		return fail(ps, "'%s' and '%s' together match nothing (a packet "
		    "is IPv4 or IPv6)", ps->family_word, word);
	ps->m->family = (uint8_t)family;
	if (ps->family_word == NULL)
		ps->family_word = word;
	return 0;
}

static int
clause_addr(struct parser *ps, const char *word, int family)
{
	struct prefix_arg pa = { .family = family };
	struct match_addrs *a;
	char what[32];
	int dir, n;

	if ((dir = dir_word(ps, word, "saddr", "daddr")) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s %s", word, dir ? "daddr" : "saddr");
	if (set_family(ps, family, word) < 0)
		return -1;
	a = &ps->m->addr[dir];
	if (a->n > 0)
		return fail(ps, "%s is given twice", what);
	a->neg = negation(ps);
	pa.v = a->v;
	if ((n = values(ps, what, one_prefix, &pa)) < 0)
		return -1;
	a->n = (uint8_t)n;
	return 0;
}

static int
clause_port(struct parser *ps, const char *word, enum port_proto pp)
{
	struct match_ports *pt;
	char what[32];
	int dir, n;

	if ((dir = dir_word(ps, word, "sport", "dport")) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s %s", word, dir ? "dport" : "sport");
	pt = &ps->m->port[dir];
	if (pt->n > 0)
		return fail(ps, "%s: ports of this direction are given twice", what);
	ps->pp[dir] = pp;
	pt->neg = negation(ps);
	if ((n = values(ps, what, one_range, pt->v)) < 0)
		return -1;
	pt->n = (uint8_t)n;
	return 0;
}

/* nft's names; name i is bit i of the flags byte (packet.h PKT_TCP_*). */
static const char *const tcp_flag_names[8] = {
	"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"
};

/* "syn,ack" or "syn|ack" (n bytes of s) into bits. */
static int
flag_list(struct parser *ps, const char *s, size_t n, uint8_t *bits)
{
	size_t i, len;
	int f;

	*bits = 0;
	if (n == 0)
		return fail(ps, "tcp flags: a flag is missing before or after '/'");
	while (n > 0) {
		for (len = 0; len < n && s[len] != ',' && s[len] != '|'; len++)
			;
		for (f = 0; f < 8; f++)
			if (len == strlen(tcp_flag_names[f]) &&
			    strncmp(s, tcp_flag_names[f], len) == 0)
				break;
		if (f == 8)
			return fail(ps, "tcp flags: '%.*s' is not a flag (fin, syn, "
			    "rst, psh, ack, urg, ecn, cwr)", (int)len, s);
		*bits |= (uint8_t)(1u << f);
		i = len < n ? len + 1 : len;
		s += i;
		n -= i;
	}
	return 0;
}

/*
 * The words of a flags value, "syn", "syn , ack", "syn / syn,ack", glued
 * into one string: a word after a complete flag list belongs to it only if
 * it is a separator (',', '|', '/') or starts with one.
 */
static int
flag_words(struct parser *ps, char *text, size_t len)
{
	const char *w;
	size_t used = 0, n;
	bool more = true;

	while ((w = peek(ps)) != NULL) {
		n = strlen(w);
		if (!more && w[0] != ',' && w[0] != '|' && w[0] != '/')
			break;
		if (used + n >= len)
			return fail(ps, "tcp flags: too many words");
		memcpy(text + used, w, n + 1);
		used += n;
		ps->pos++;
		more = w[n - 1] == ',' || w[n - 1] == '|' || w[n - 1] == '/';
	}
	if (used == 0)
		return fail(ps, "tcp flags: a flag is missing at the end");
	if (more)
		return fail(ps, "tcp flags: '%s' ends without a flag", text);
	return 0;
}

static int
clause_tcp_flags(struct parser *ps)
{
	struct match_tcp_flags *f = &ps->m->tcp_flags;
	char text[TOKEN_LEN * 4];
	const char *w = peek(ps), *slash;
	bool eq = w != NULL && strcmp(w, "==") == 0, neg;
	uint8_t value, mask;

	if (ps->seen_flags)
		return fail(ps, "tcp flags is given twice");
	ps->seen_flags = true;
	neg = negation(ps);
	if ((w = peek(ps)) != NULL && w[0] == '!')
		return fail(ps, "tcp flags: '!' is not supported (say tcp flags "
		    "!= FLAGS / MASK)");
	if (flag_words(ps, text, sizeof(text)) < 0)
		return -1;
	if ((slash = strchr(text, '/')) != NULL && strchr(slash + 1, '/') != NULL)
		return fail(ps, "tcp flags: '%s' has more than one '/'", text);
	if (flag_list(ps, text, slash != NULL ? (size_t)(slash - text) :
	    strlen(text), &value) < 0)
		return -1;
	if (slash == NULL) {
		/* Like nft: a bare list is "any of these", == and != the exact byte. */
		f->op = eq ? MATCH_FLAGS_EQ : neg ? MATCH_FLAGS_NE : MATCH_FLAGS_ANY;
		f->mask = eq || neg ? 0xff : value;
		f->value = eq || neg ? value : 0;
		return 0;
	}
	if (eq)
		return fail(ps, "tcp flags: '==' with a mask: say tcp flags %s",
		    text);
	if (flag_list(ps, slash + 1, strlen(slash + 1), &mask) < 0)
		return -1;
	if ((value & mask) != value)
		return fail(ps, "tcp flags %s: flags outside the mask match "
		    "nothing", text);
	f->op = neg ? MATCH_FLAGS_NE : MATCH_FLAGS_EQ;
	f->mask = mask;
	f->value = value;
	return 0;
}

static int
clause_ifs(struct parser *ps, const char *word, enum match_if which)
{
	struct match_ifs *f = &ps->m->ifs[which];
	int n;

	if (ps->seen_if[which])
		return fail(ps, "%s is given twice", which ? "oif" : "iif");
	ps->seen_if[which] = true;
	if (negation(ps))
		return fail(ps, "%s: '!=' is not supported for interfaces", word);
	if ((n = values(ps, word, one_ifname, f->v)) < 0)
		return -1;
	f->n = (uint8_t)n;
	return 0;
}

static int
clause_meta(struct parser *ps)
{
	const char *w = next(ps);
	int n;

	if (w == NULL)
		return fail(ps, "'meta' is followed by nothing");
	if (strcmp(w, "iifname") == 0 || strcmp(w, "iif") == 0)
		return clause_ifs(ps, w, MATCH_IIF);
	if (strcmp(w, "oifname") == 0 || strcmp(w, "oif") == 0)
		return clause_ifs(ps, w, MATCH_OIF);
	if (strcmp(w, "nfproto") == 0) {
		if (ps->seen_nfproto)
			return fail(ps, "meta nfproto is given twice");
		ps->seen_nfproto = true;
		w = next(ps);
		if (w != NULL && strcmp(w, "ipv4") == 0)
			return set_family(ps, AF_INET, "meta nfproto ipv4");
		if (w != NULL && strcmp(w, "ipv6") == 0)
			return set_family(ps, AF_INET6, "meta nfproto ipv6");
		return fail(ps, "meta nfproto: '%s' is not ipv4 or ipv6",
		    w != NULL ? w : "");
	}
	if (strcmp(w, "l4proto") != 0)
		return fail(ps, "'meta %s' is not supported (l4proto, nfproto, "
		    "iifname, oifname)", w);
	if (ps->seen_l4proto)
		return fail(ps, "meta l4proto is given twice");
	ps->seen_l4proto = true;
	if (negation(ps))
		return fail(ps, "meta l4proto: '!=' is not supported");
	if ((n = values(ps, "meta l4proto", one_proto, ps->m->protos)) < 0)
		return -1;
	ps->m->nprotos = (uint8_t)n;
	return 0;
}

static int
clause(struct parser *ps)
{
	const char *w = next(ps);

	if (strcmp(w, "ip") == 0)
		return clause_addr(ps, w, AF_INET);
	if (strcmp(w, "ip6") == 0)
		return clause_addr(ps, w, AF_INET6);
	if (strcmp(w, "tcp") == 0 && peek(ps) != NULL &&
	    strcmp(peek(ps), "flags") == 0) {
		ps->pos++;
		return clause_tcp_flags(ps);
	}
	if (strcmp(w, "tcp") == 0)
		return clause_port(ps, w, PP_TCP);
	if (strcmp(w, "udp") == 0)
		return clause_port(ps, w, PP_UDP);
	if (strcmp(w, "th") == 0)
		return clause_port(ps, w, PP_TH);
	if (strcmp(w, "meta") == 0)
		return clause_meta(ps);
	if (strcmp(w, "iif") == 0 || strcmp(w, "iifname") == 0)
		return clause_ifs(ps, w, MATCH_IIF);
	if (strcmp(w, "oif") == 0 || strcmp(w, "oifname") == 0)
		return clause_ifs(ps, w, MATCH_OIF);
	return fail(ps, "unknown word '%s' (expected ip, ip6, tcp, udp, th, "
	    "meta, iif or oif)", w);
}

/*
 * The protocol the port clauses imply, checked against meta l4proto:
 * `tcp dport` alone means TCP; `th dport` takes tcp, udp or both from
 * meta l4proto; anything that can match no packet is an error.
 */
static int
protos_settle(struct parser *ps)
{
	struct match *m = ps->m;
	enum port_proto pp = ps->pp[0] != PP_NONE ? ps->pp[0] : ps->pp[1];
	uint8_t want;
	int i;

	if (ps->pp[0] != PP_NONE && ps->pp[1] != PP_NONE && ps->pp[0] != ps->pp[1])
		return fail(ps, "sport and dport of different protocols match "
		    "nothing");
	if (ps->seen_flags && pp != PP_NONE && pp != PP_TCP)
		return fail(ps, "tcp flags and %s ports match nothing",
		    pp == PP_UDP ? "udp" : "th");
	if (ps->seen_flags)
		pp = PP_TCP;
	if (pp == PP_NONE)
		return 0;
	if (pp == PP_TH) {
		if (m->nprotos == 0)
			return fail(ps, "th ports need meta l4proto tcp, udp or "
			    "{ tcp, udp }");
		for (i = 0; i < m->nprotos; i++)
			if (m->protos[i] != IPPROTO_TCP && m->protos[i] != IPPROTO_UDP)
				return fail(ps, "th ports apply to tcp and udp only, "
				    "not to meta l4proto %u", m->protos[i]);
		return 0;
	}
	want = pp == PP_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	for (i = 0; i < m->nprotos && m->protos[i] != want; i++)
		;
	if (m->nprotos > 0 && i == m->nprotos)
		return fail(ps, "%s %s and meta l4proto without %s match "
		    "nothing", pp == PP_TCP ? "tcp" : "udp",
		    ps->pp[0] == PP_NONE && ps->pp[1] == PP_NONE ? "flags" :
		    "ports", pp == PP_TCP ? "tcp" : "udp");
	if (ps->seen_flags && m->nprotos > 1)
		return fail(ps, "tcp flags apply to tcp only: drop the other "
		    "protocols from meta l4proto");
	m->protos[0] = want;
	m->nprotos = 1;
	return 0;
}

int
match_parse(const char *text, struct match *m, char *why, size_t whylen)
{
	struct parser ps;

	memset(&ps, 0, sizeof(ps));
	memset(m, 0, sizeof(*m));
	ps.m = m;
	ps.why = why;
	ps.whylen = whylen;
	if (tokenize(&ps, text) < 0)
		return -1;
	if (ps.ntok == 0)
		return fail(&ps, "empty: say what to match, as in ip daddr "
		    "10.8.0.0/16");
	while (peek(&ps) != NULL)
		if (clause(&ps) < 0)
			return -1;
	if (protos_settle(&ps) < 0)
		return -1;
	if (match_combos(m) > MATCH_COMBOS_MAX)
		return fail(&ps, "its sets give %d combinations, at most %d (each "
		    "one is a rule)", match_combos(m), MATCH_COMBOS_MAX);
	return 0;
}

/* --- packets ----------------------------------------------------------- */

bool
match_prefix_has(const struct match_prefix *px, const uint8_t *addr)
{
	int full = px->len / 8, rest = px->len % 8;
	uint8_t mask;

	if (memcmp(px->addr, addr, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (addr[full] & mask) == px->addr[full];
}

static bool
addrs_match(const struct match_addrs *a, const uint8_t *addr)
{
	int i;

	for (i = 0; i < a->n; i++)
		if (match_prefix_has(&a->v[i], addr))
			return !a->neg;
	return a->neg;
}

static bool
ports_match(const struct match_ports *pt, uint16_t port)
{
	int i;

	for (i = 0; i < pt->n; i++)
		if (port >= pt->v[i].lo && port <= pt->v[i].hi)
			return !pt->neg;
	return pt->neg;
}

static bool
ifname_has(const struct match_ifname *f, const char *name)
{
	size_t n = strlen(f->name);

	if (f->wildcard)
		return strncmp(name, f->name, n) == 0;
	return strcmp(name, f->name) == 0;
}

static bool
ifs_match(const struct match_ifs *f, const char *name)
{
	int i;

	if (name == NULL)
		return false;
	for (i = 0; i < f->n; i++)
		if (ifname_has(&f->v[i], name))
			return true;
	return false;
}

static bool
flags_match(const struct match_tcp_flags *f, uint8_t flags)
{
	switch (f->op) {
	case MATCH_FLAGS_ANY:
		return (flags & f->mask) != 0;
	case MATCH_FLAGS_EQ:
		return (flags & f->mask) == f->value;
	case MATCH_FLAGS_NE:
		return (flags & f->mask) != f->value;
	default:
		return true;
	}
}

bool
match_packet(const struct match *m, const struct pkt *p, const char *iif,
    const char *oif)
{
	int i, d;

	if (m->family != 0 && p->family != m->family)
		return false;
	for (i = 0; i < m->nprotos && m->protos[i] != p->proto; i++)
		;
	if (m->nprotos > 0 && i == m->nprotos)
		return false;
	for (d = 0; d < 2; d++) {
		if (m->addr[d].n > 0 && !addrs_match(&m->addr[d],
		    d == MATCH_SRC ? p->src : p->dst))
			return false;
		/* Like nft: a packet without ports (a later fragment) has none to match. */
		if (m->port[d].n > 0 && (!(p->flags & PKT_F_PORTS) ||
		    !ports_match(&m->port[d], d == MATCH_SRC ? p->sport : p->dport)))
			return false;
	}
	if (m->tcp_flags.op != MATCH_FLAGS_NONE && !flags_match(&m->tcp_flags,
	    p->tcp_flags))
		return false;
	if (m->ifs[MATCH_IIF].n > 0 && !ifs_match(&m->ifs[MATCH_IIF], iif))
		return false;
	if (m->ifs[MATCH_OIF].n > 0 && !ifs_match(&m->ifs[MATCH_OIF], oif))
		return false;
	return true;
}

/* --- dispatch index ----------------------------------------------------- */

struct match_index_range {
	uint8_t proto;
	uint16_t lo, hi;
	uint64_t bits;
};

struct match_index {
	uint64_t always;		/* matches the index cannot rule out */
	int nranges;
	struct match_index_range ranges[MATCH_INDEX_RANGES];
	/* Ports some indexed match has, tcp [0] and udp [1]: most packets stop here. */
	uint8_t ports[2][65536 / 8];
};

struct match_index *
match_index_new(void)
{
	/* Mostly zeros read per packet: only the pages written cost memory. */
	return pages_alloc(sizeof(struct match_index));
}

void
match_index_free(struct match_index *ix)
{
	pages_free(ix, sizeof(*ix));
}

static bool
match_indexable(const struct match *m)
{
	const struct match_ports *dp = &m->port[MATCH_DST];
	int i;

	if (dp->n == 0 || dp->neg || m->nprotos == 0)
		return false;
	for (i = 0; i < m->nprotos; i++)
		if (m->protos[i] != IPPROTO_TCP && m->protos[i] != IPPROTO_UDP)
			return false;
	return true;
}

void
match_index_add(struct match_index *ix, const struct match *m, int bit)
{
	const struct match_ports *dp = &m->port[MATCH_DST];
	struct match_index_range *r;
	uint8_t *bm;
	uint32_t port;
	int i, j;

	if (!match_indexable(m)) {
		ix->always |= 1ULL << bit;
		return;
	}
	for (i = 0; i < m->nprotos; i++) {
		bm = ix->ports[m->protos[i] == IPPROTO_UDP];
		for (j = 0; j < dp->n; j++) {
			/* Room for every range of MATCH_INDEX_BITS full matches. */
			r = &ix->ranges[ix->nranges++];
			r->proto = m->protos[i];
			r->lo = dp->v[j].lo;
			r->hi = dp->v[j].hi;
			r->bits = 1ULL << bit;
			for (port = r->lo; port <= r->hi; port++)
				bm[port / 8] |= (uint8_t)(1U << (port % 8));
		}
	}
}

uint64_t
match_index_candidates(const struct match_index *ix, const struct pkt *p)
{
	const struct match_index_range *r;
	uint64_t bits = ix->always;
	int i;

	if (!(p->flags & PKT_F_PORTS) ||
	    (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP))
		return bits;
	if (!(ix->ports[p->proto == IPPROTO_UDP][p->dport / 8] &
	    (1U << (p->dport % 8))))
		return bits;
	for (i = 0; i < ix->nranges; i++) {
		r = &ix->ranges[i];
		if (r->proto == p->proto && p->dport >= r->lo && p->dport <= r->hi)
			bits |= r->bits;
	}
	return bits;
}

bool
match_packet_header(const struct match *m, const struct pkt *p,
    const char *iif, const char *oif)
{
	int i, d;

	if (p->family == 0 || (m->family != 0 && p->family != m->family))
		return false;
	for (i = 0; p->proto != 0 && i < m->nprotos && m->protos[i] != p->proto; i++)
		;
	if (p->proto != 0 && m->nprotos > 0 && i == m->nprotos)
		return false;
	for (d = 0; d < 2; d++)
		if (m->addr[d].n > 0 && !addrs_match(&m->addr[d],
		    d == MATCH_SRC ? p->src : p->dst))
			return false;
	if (m->ifs[MATCH_IIF].n > 0 && !ifs_match(&m->ifs[MATCH_IIF], iif))
		return false;
	if (m->ifs[MATCH_OIF].n > 0 && !ifs_match(&m->ifs[MATCH_OIF], oif))
		return false;
	return true;
}

bool
match_uses_ifs(const struct match *m, enum match_if which)
{
	return m->ifs[which].n > 0;
}

bool
match_has_family(const struct match *m, int family)
{
	return m->family == 0 || m->family == family;
}

/* --- expansion into rules ---------------------------------------------- */

/* Sizes of the sets a rule picks one value from, in a fixed order. */
static int
combo_dims(const struct match *m, int dims[7])
{
	dims[0] = m->addr[0].neg || m->addr[0].n == 0 ? 1 : m->addr[0].n;
	dims[1] = m->addr[1].neg || m->addr[1].n == 0 ? 1 : m->addr[1].n;
	dims[2] = m->nprotos == 0 ? 1 : m->nprotos;
	dims[3] = m->port[0].neg || m->port[0].n == 0 ? 1 : m->port[0].n;
	dims[4] = m->port[1].neg || m->port[1].n == 0 ? 1 : m->port[1].n;
	dims[5] = m->ifs[0].n == 0 ? 1 : m->ifs[0].n;
	dims[6] = m->ifs[1].n == 0 ? 1 : m->ifs[1].n;
	return 7;
}

int
match_combos(const struct match *m)
{
	int dims[7], d, n = 1;

	combo_dims(m, dims);
	for (d = 0; d < 7; d++)
		n *= dims[d];
	return n;
}

void
match_combo(const struct match *m, int i, struct match_combo *c)
{
	int dims[7], pick[7], d;

	combo_dims(m, dims);
	for (d = 0; d < 7; d++) {
		pick[d] = i % dims[d];
		i /= dims[d];
	}
	memset(c, 0, sizeof(*c));
	for (d = 0; d < 2; d++) {
		if (m->addr[d].n > 0 && !m->addr[d].neg)
			c->addr[d] = &m->addr[d].v[pick[d]];
		if (m->port[d].n > 0 && !m->port[d].neg)
			c->port[d] = &m->port[d].v[pick[3 + d]];
		if (m->ifs[d].n > 0)
			c->ifs[d] = &m->ifs[d].v[pick[5 + d]];
	}
	if (m->nprotos > 0)
		c->proto = m->protos[pick[2]];
}

/* --- text -------------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, used;
};

static void
put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->used >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used += (size_t)n;
}

static void
put_open(struct out *o, int n, int i)
{
	if (n > 1)
		put(o, i == 0 ? "{ " : ", ");
}

static void
put_close(struct out *o, int n)
{
	put(o, n > 1 ? " }" : "");
}

static void
put_addrs(struct out *o, const struct match *m, int d)
{
	const struct match_addrs *a = &m->addr[d];
	char s[INET6_ADDRSTRLEN];
	int i, alen = m->family == AF_INET ? 32 : 128;

	put(o, "%s%s %s %s", o->used ? " " : "", m->family == AF_INET ? "ip" :
	    "ip6", d ? "daddr" : "saddr", a->neg ? "!= " : "");
	for (i = 0; i < a->n; i++) {
		put_open(o, a->n, i);
		inet_ntop(m->family, a->v[i].addr, s, sizeof(s));
		if (a->v[i].len == alen)
			put(o, "%s", s);
		else
			put(o, "%s/%u", s, a->v[i].len);
	}
	put_close(o, a->n);
}

static const char *
proto_word(uint8_t proto, char *buf, size_t len)
{
	int i;

	for (i = 0; proto_names[i].name != NULL; i++)
		if (proto_names[i].proto == proto)
			return proto_names[i].name;
	snprintf(buf, len, "%u", proto);
	return buf;
}

static void
put_ports(struct out *o, const struct match *m, int d)
{
	const struct match_ports *pt = &m->port[d];
	const char *word = m->nprotos != 1 ? "th" :
	    m->protos[0] == IPPROTO_TCP ? "tcp" : "udp";
	int i;

	put(o, "%s%s %s %s", o->used ? " " : "", word, d ? "dport" : "sport",
	    pt->neg ? "!= " : "");
	for (i = 0; i < pt->n; i++) {
		put_open(o, pt->n, i);
		if (pt->v[i].lo == pt->v[i].hi)
			put(o, "%u", pt->v[i].lo);
		else
			put(o, "%u-%u", pt->v[i].lo, pt->v[i].hi);
	}
	put_close(o, pt->n);
}

static void
put_flag_list(struct out *o, uint8_t bits)
{
	int f, n = 0;

	for (f = 0; f < 8; f++)
		if (bits & (1u << f))
			put(o, "%s%s", n++ ? "," : "", tcp_flag_names[f]);
}

static void
put_flags(struct out *o, const struct match_tcp_flags *f)
{
	if (f->op == MATCH_FLAGS_NONE)
		return;
	put(o, "%stcp flags ", o->used ? " " : "");
	if (f->op == MATCH_FLAGS_ANY) {
		put_flag_list(o, f->mask);
		return;
	}
	put(o, f->op == MATCH_FLAGS_NE ? "!= " : f->mask == 0xff ? "== " : "");
	put_flag_list(o, f->value);
	if (f->mask != 0xff) {
		put(o, " / ");
		put_flag_list(o, f->mask);
	}
}

const char *
match_str(const struct match *m, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	char num[8];
	int d, i;
	bool ports = m->port[0].n > 0 || m->port[1].n > 0;

	if (len > 0)
		buf[0] = '\0';
	if (m->family != 0 && m->addr[0].n == 0 && m->addr[1].n == 0)
		put(&o, "meta nfproto %s", m->family == AF_INET ? "ipv4" : "ipv6");
	for (d = 0; d < 2; d++)
		if (m->addr[d].n > 0)
			put_addrs(&o, m, d);
	/* A single tcp or udp is said by the port or flags clause itself. */
	if (m->nprotos > 1 || (m->nprotos == 1 && !ports &&
	    m->tcp_flags.op == MATCH_FLAGS_NONE)) {
		put(&o, "%smeta l4proto ", o.used ? " " : "");
		for (i = 0; i < m->nprotos; i++) {
			put_open(&o, m->nprotos, i);
			put(&o, "%s", proto_word(m->protos[i], num, sizeof(num)));
		}
		put_close(&o, m->nprotos);
	}
	for (d = 0; d < 2; d++)
		if (m->port[d].n > 0)
			put_ports(&o, m, d);
	put_flags(&o, &m->tcp_flags);
	for (d = 0; d < 2; d++) {
		if (m->ifs[d].n == 0)
			continue;
		put(&o, "%s%s ", o.used ? " " : "", d ? "oifname" : "iifname");
		for (i = 0; i < m->ifs[d].n; i++) {
			put_open(&o, m->ifs[d].n, i);
			put(&o, "%s%s", m->ifs[d].v[i].name,
			    m->ifs[d].v[i].wildcard ? "*" : "");
		}
		put_close(&o, m->ifs[d].n);
	}
	return buf;
}
