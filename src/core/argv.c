/*
 * Hook lines into argv words: quoting rules in argv.h. Pure, no I/O.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/argv.h"

struct words {
	char **v;
	int n;
	int cap;
};

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

/* Copies the inside of "..." (s is past the opening quote); NULL if unclosed. */
static const char *
scan_double(const char *s, char **op)
{
	char *o = *op;

	while (*s != '"') {
		if (*s == '\0')
			return NULL;
		if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
			s++;
		*o++ = *s++;
	}
	*op = o;
	return s + 1;
}

/* Copies the inside of '...' (s is past the opening quote); NULL if unclosed. */
static const char *
scan_single(const char *s, char **op)
{
	char *o = *op;

	while (*s != '\'') {
		if (*s == '\0')
			return NULL;
		*o++ = *s++;
	}
	*op = o;
	return s + 1;
}

/*
 * One word starting at *sp into out (big enough for the rest of the line):
 * returns NULL and advances *sp, or the reason the line is malformed.
 */
static const char *
scan_word(const char **sp, char *out)
{
	const char *s = *sp;
	char *o = out;

	while (*s != '\0' && !is_blank(*s)) {
		if (*s == '\'') {
			if ((s = scan_single(s + 1, &o)) == NULL)
				return "unterminated single quote";
		} else if (*s == '"') {
			if ((s = scan_double(s + 1, &o)) == NULL)
				return "unterminated double quote";
		} else if (*s == '\\') {
			if (s[1] == '\0')
				return "backslash at the end of the line";
			*o++ = s[1];
			s += 2;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	*sp = s;
	return NULL;
}

/* Appends a copy of word, keeping room for the terminating NULL. */
static int
words_push(struct words *w, const char *word)
{
	char **nv;
	int ncap;

	if (w->n + 1 >= w->cap) {
		if (w->cap > INT_MAX / 2 - 1)
			return -1;
		ncap = w->cap ? w->cap * 2 : 8;
		if ((nv = realloc(w->v, (size_t)ncap * sizeof(*nv))) == NULL)
			return -1;
		w->v = nv;
		w->cap = ncap;
	}
	if ((w->v[w->n] = strdup(word)) == NULL)
		return -1;
	w->n++;
	w->v[w->n] = NULL;
	return 0;
}

static int
split_fail(struct words *w, const char *why, int err, char ***argvp,
    int *argcp, const char **errp)
{
	if (w->v != NULL)
		w->v[w->n] = NULL;
	argv_free(w->v);
	*argvp = NULL;
	*argcp = 0;
	if (errp != NULL)
		*errp = why;
	errno = err;
	return -1;
}

int
argv_split(const char *line, char ***argvp, int *argcp, const char **errp)
{
	struct words w = { NULL, 0, 0 };
	const char *s = line, *why;
	char *word;

	/* A word is never longer than the line it came from. */
	if ((word = malloc(strlen(line) + 1)) == NULL)
		return split_fail(&w, "out of memory", ENOMEM, argvp, argcp, errp);
	for (;;) {
		while (is_blank(*s))
			s++;
		if (*s == '\0')
			break;
		if ((why = scan_word(&s, word)) != NULL) {
			free(word);
			return split_fail(&w, why, EINVAL, argvp, argcp, errp);
		}
		if (words_push(&w, word) == -1) {
			free(word);
			return split_fail(&w, "out of memory", ENOMEM, argvp,
			    argcp, errp);
		}
	}
	free(word);
	/* A blank line still gets an array: { NULL }. */
	if (w.v == NULL && (w.v = calloc(1, sizeof(*w.v))) == NULL)
		return split_fail(&w, "out of memory", ENOMEM, argvp, argcp, errp);
	*argvp = w.v;
	*argcp = w.n;
	return 0;
}

void
argv_free(char **argv)
{
	char **p;

	if (argv == NULL)
		return;
	for (p = argv; *p != NULL; p++)
		free(*p);
	free(argv);
}

/* The value of %key%, or NULL when key is not a placeholder. */
static const char *
argv_var(const struct argv_vars *v, const char *key, size_t keylen)
{
	const char *val;

#define ARGV_KEY(s)	(keylen == sizeof(s) - 1 && memcmp(key, s, keylen) == 0)
	if (ARGV_KEY("IP"))
		val = v->ip;
	else if (ARGV_KEY("NAME"))
		val = v->name;
	else if (ARGV_KEY("EVENT"))
		val = v->event;
	else if (ARGV_KEY("PROTO"))
		val = v->proto;
	else if (ARGV_KEY("PORT"))
		val = v->port;
	else if (ARGV_KEY("FAMILY"))
		val = v->family;
	else
		return NULL;
#undef ARGV_KEY
	return val != NULL ? val : "";
}

long
argv_expand_word(const char *word, const struct argv_vars *v, char *out, size_t outlen)
{
	const char *p = word, *end, *val;
	size_t n = 0, vlen, used;

	while (*p != '\0') {
		val = NULL;
		if (p[0] == '%' && p[1] == '%') {
			val = "%";
			used = 2;
		} else if (p[0] == '%' && (end = strchr(p + 1, '%')) != NULL &&
		    (val = argv_var(v, p + 1, (size_t)(end - p - 1))) != NULL) {
			used = (size_t)(end - p) + 1;
		}
		if (val == NULL) {
			val = p;
			vlen = used = 1;
		} else
			vlen = strlen(val);
		if (vlen >= outlen - n) {
			errno = E2BIG;
			return -1;
		}
		memcpy(out + n, val, vlen);
		n += vlen;
		p += used;
	}
	if (n >= outlen) {
		errno = E2BIG;
		return -1;
	}
	out[n] = '\0';
	return (long)n;
}
