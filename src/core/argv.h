/*
 * Split an exec hook line into words, the way the config file writes them.
 * There is never a shell: these rules are the whole grammar.
 *
 *  - Unquoted blanks (space, tab) separate words; a run of them is one break.
 *  - 'single quotes' keep everything up to the next ' as it is.
 *  - "double quotes" keep everything as it is, except that \" stands for "
 *    and \\ for \; any other backslash is kept.
 *  - Outside quotes a backslash makes the next character plain: \  \' \" \\.
 *  - Quoted and unquoted parts that touch form one word: a'b c'd is "ab cd";
 *    '' and "" on their own are an empty word.
 *  - Nothing else is special: no globbing, no $variables, no ~, no ; | & or
 *    redirections, no comments. Placeholders such as %IP% stay as they are;
 *    the hook module substitutes them later, inside a single word.
 *
 * Errors: an unterminated quote, a backslash at the very end of the line.
 */
#ifndef NFQT_ARGV_H
#define NFQT_ARGV_H

#include <stddef.h>

/*
 * On success returns 0, *argvp is a NULL-terminated array of *argcp words
 * (argc is 0 for a blank line) to be released with argv_free(). On error
 * returns -1, sets *argvp to NULL and *argcp to 0, and points *errp (may be
 * NULL) at a static message; errno is ENOMEM when memory ran out, else EINVAL.
 */
int argv_split(const char *line, char ***argvp, int *argcp, const char **errp);

/* Releases what argv_split() returned; NULL is fine. */
void argv_free(char **argv);

/* Placeholder values for argv_expand_word(); NULL reads as empty. */
struct argv_vars {
	const char *ip;		/* %IP% */
	const char *name;	/* %NAME% */
	const char *event;	/* %EVENT% */
	const char *proto;	/* %PROTO% */
	const char *port;	/* %PORT% */
	const char *family;	/* %FAMILY% */
};

/*
 * Substitute placeholders of one word into out: %IP% %NAME% %EVENT%
 * %PROTO% %PORT% %FAMILY% and %% for %; anything else, a lone % or an
 * unknown %FOO%, stays as written. A value only ever becomes bytes of the
 * same word: argv has no syntax left for it to break out of. Both the
 * engine (which sends a hook) and the privileged side (which checks that
 * it is the configured one) expand with this. Returns the length, or -1
 * with errno E2BIG when out is too small.
 */
long argv_expand_word(const char *word, const struct argv_vars *v, char *out,
    size_t outlen);

#endif
