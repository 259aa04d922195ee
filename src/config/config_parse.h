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

#include "config/config.h"

#define SHOW_MAX		40		/* bytes of the user's text quoted back */
#define SHOW_BUF		(SHOW_MAX * 4 + 8)
#define WHY_MAX			128
#define KEYS_MAX		24

enum section {
	SECTION_NONE, SECTION_ENGINE, SECTION_KNOCK, SECTION_ACTIVITY,
	SECTION_COUNT, SECTION_ROTATE, SECTION_SKIP
};

struct cfg_error;
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
	struct config_knock *knock;
	struct config_engine scratch_engine; /* sections that are errors */
	struct config_knock scratch_knock;  /* still get their keys checked */
	struct config_activity *activity;
	struct config_activity scratch_activity;
	struct config_count *count;
	struct config_count scratch_count;
	struct config_rotate *rotate;
	struct config_rotate scratch_rotate;
};

/* Messages: recorded with their line, printed sorted at the end. */
void cfg_perr(struct parse *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void cfg_verr(struct parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
const char *cfg_show(const char *in, char *buf, size_t len);

/* Values: false, or the reason in why (WHY_MAX bytes), when not one. */
int cfg_is_blank(char c);
bool cfg_u64_parse(const char *s, size_t n, uint64_t *out);
bool cfg_u16_parse(const char *s, size_t n, uint16_t *out);
const char *cfg_duration_parse(const char *text, uint64_t *ms);
bool cfg_port_parse(const char *s, size_t n, struct config_port *out, char *why);
int cfg_words_each(struct parse *p, const char *v,
    void (*fn)(struct parse *, const char *, int));

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

/* A trigger section's start, shared by every kind: see config.c. */
bool cfg_trigger_begin(struct parse *p, enum section section,
    const struct key *keys, const char *kind, const char *name);
void *cfg_trigger_room(struct parse *p, void *triggers, int n, size_t size);

/* Each kind of trigger section, in config_<kind>.c. */
void cfg_knock_begin(struct parse *p, const char *name);
bool cfg_knock_derived_needs_no(const struct parse *p, int key);
void cfg_knock_check(struct parse *p);
void cfg_knock_print(const struct config_knock *k, FILE *out);

void cfg_activity_begin(struct parse *p, const char *name);
void cfg_activity_check(struct parse *p);
void cfg_activities_check_engine(struct parse *p);
void cfg_activity_print(const struct config_activity *a, FILE *out);

void cfg_count_begin(struct parse *p, const char *name);
void cfg_count_check(struct parse *p);
void cfg_counts_check_engine(struct parse *p);
void cfg_count_print(const struct config_count *c, FILE *out);

void cfg_rotate_begin(struct parse *p, const char *name);
void cfg_rotate_check(struct parse *p);
void cfg_rotate_print(const struct config_rotate *r, FILE *out);

#endif
