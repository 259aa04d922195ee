/*
 * Private to src/config*.c, not installed: the state of one parse of
 * nfq-trigger.ini and the value parsers that the trigger sections
 * (config_knock.c, config_activity.c, config_count.c, config_rotate.c)
 * share with the core (config.c). config.h is the public contract.
 */
#ifndef NFQT_CONFIG_PARSE_H
#define NFQT_CONFIG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"

#define SHOW_MAX		40		/* bytes of the user's text quoted back */
#define SHOW_BUF		(SHOW_MAX * 4 + 8)
#define WHY_MAX			128
#define KEYS_MAX		24

enum section {
	SECTION_NONE, SECTION_ENGINE, SECTION_TRIGGER, SECTION_SKIP
};

struct cfg_error;
struct cfg_kind;
struct parse;

/* A key of a section; its index is its slot in seen_line[]. */
struct key {
	const char *name;
	void (*set)(struct parse *, const char *);
	bool required;
};

struct parse {
	const char *name;		/* file name in messages */
	const char *text;		/* what the reader hands to inih */
	bool check_owner;		/* of key files too */
	size_t len;
	size_t pos;
	int lineno;
	char raw[CONFIG_LINE_MAX + 1];	/* current line, trimmed */
	bool keyline;			/* raw went to inih as "key = value" */
	bool handled;			/* and inih called the handler for it */

	struct cfg_error *errs;
	int nerrs;			/* stored */
	int errcap;
	int nerrors;			/* found */
	bool oom;

	struct config *cfg;
	enum section section;
	int section_line;
	char ctx[CONFIG_NAME_MAX * 4 + 16]; /* "knock ssh": message prefix */
	const struct key *keys;
	const char *key;		/* being set, for messages */
	int seen_line[KEYS_MAX];	/* 0: not set in this section */
	int engine_line;		/* first [engine], 0: none yet */
	struct config_engine *engine;
	struct config_engine scratch_engine; /* a duplicate [engine] */
	const struct cfg_kind *kind;	/* of the trigger section being read */
	void *trigger;			/* its trigger, in cfg or scratch */
	bool scratch;			/* an error: its keys are still checked */
};

/*
 * A kind of trigger section, [section NAME]: one record in config_kinds.c,
 * the code in config_<kind>.c. Its triggers are an array in struct config;
 * each begins with name[] and line (offsets below). The hub (config.c)
 * knows kinds only through these records.
 */
struct cfg_kind {
	const char *section;		/* "knock": [knock NAME] */
	const struct key *keys;		/* NULL-terminated */
	size_t size;			/* of one trigger */
	size_t name_off;		/* of its char name[CONFIG_NAME_MAX + 1] */
	size_t line_off;		/* of its int line: the header's */
	void (*defaults)(void *t);	/* every byte of t */
	/* Whether a required key may be left out, given the section's others. */
	bool (*key_waived)(const struct parse *p, int key);
	void (*check)(struct parse *p);	/* the section's keys together */
	void (*check_engine)(struct parse *p); /* after the file: needs of [engine] */
	void (*print)(const void *t, FILE *out); /* what -C shows */
	void (*clear)(void *t);		/* frees what t holds, wipes its secrets */
	int (*count)(const struct config *cfg);
	void *(*at)(const struct config *cfg, int i);
	void *(*append)(struct config *cfg); /* room for one; NULL: no memory */
	void (*release)(struct config *cfg); /* the array itself */
};

/*
 * The array accessors of a kind whose triggers are cfg->ARRAY[0..cfg->N),
 * as static functions PREFIX_count, _at, _append, _release; and the
 * record's fields for TYPE's size and offsets.
 */
#define CFG_KIND_ARRAY(prefix, type, array, n)				\
static int								\
prefix##_count(const struct config *cfg)				\
{									\
	return cfg->n;							\
}									\
static void *								\
prefix##_at(const struct config *cfg, int i)				\
{									\
	return &cfg->array[i];						\
}									\
static void *								\
prefix##_append(struct config *cfg)					\
{									\
	type *more;							\
									\
	more = reallocarray(cfg->array, (size_t)cfg->n + 1, sizeof(*more)); \
	if (more == NULL)						\
		return NULL;						\
	cfg->array = more;						\
	return &more[cfg->n++];						\
}									\
static void								\
prefix##_release(struct config *cfg)					\
{									\
	free(cfg->array);						\
	cfg->array = NULL;						\
	cfg->n = 0;							\
}
#define CFG_KIND_FIELDS(prefix, type)					\
	.size = sizeof(type), .name_off = offsetof(type, name),		\
	.line_off = offsetof(type, line), .count = prefix##_count,	\
	.at = prefix##_at, .append = prefix##_append,			\
	.release = prefix##_release

/* config_kinds.c: every kind, in the order -C prints them. */
extern const struct cfg_kind *const cfg_kinds[];
extern const int cfg_nkinds;

/* Messages: recorded with their line, printed sorted at the end. */
void cfg_perr(struct parse *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void cfg_verr(struct parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
const char *cfg_show(const char *in, char *buf, size_t len);

/* hook_user / [engine] user, hook_caps, and their -C lines. */
void cfg_set_user(struct parse *p, const char *v, char *out, int *line);
void cfg_set_caps(struct parse *p, const char *v, struct config_run_as *ra);
void cfg_run_as_print(const struct config_run_as *ra, FILE *out);

/* Values: false, or the reason in why (WHY_MAX bytes), when not one. */
int cfg_is_blank(char c);
bool cfg_u64_parse(const char *s, size_t n, uint64_t *out);
bool cfg_u16_parse(const char *s, size_t n, uint16_t *out);
const char *cfg_duration_parse(const char *text, uint64_t *ms);
bool cfg_port_parse(const char *s, size_t n, struct config_port *out, char *why);
/* fn(p, word, index, arg) for every blank-separated word of v; returns how many. */
typedef void cfg_word_fn(struct parse *p, const char *word, int i, void *arg);
int cfg_words_each(struct parse *p, const char *v, cfg_word_fn *fn, void *arg);
/*
 * A list of 1 to max words, each given to fn: their number into *n, or the
 * error "no WHAT" / "N WHAT, at most MAX" (*n unchanged).
 */
void cfg_words_list(struct parse *p, const char *v, cfg_word_fn *fn, void *arg,
    int max, const char *what, int *n);

/* Setters: each checks the value of p->key and reports its own error. */
bool cfg_set_uint(struct parse *p, const char *v, uint64_t min, uint64_t max,
    uint64_t *out);
void cfg_set_bool(struct parse *p, const char *v, bool *out);
void cfg_set_duration(struct parse *p, const char *v, uint64_t min, uint64_t max,
    uint64_t *out);
void cfg_set_hook(struct parse *p, const char *v, struct config_hook *h);
bool cfg_set_path(struct parse *p, const char *v, char *out);
void cfg_set_match(struct parse *p, const char *v, struct match *out);
void cfg_set_source(struct parse *p, const char *v, enum config_source *out);
void cfg_hook_clear(struct config_hook *h);
void cfg_hook_print(const char *key, const struct config_hook *h, FILE *out);

#endif
