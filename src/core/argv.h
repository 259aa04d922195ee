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

/*
 * On success returns 0, *argvp is a NULL-terminated array of *argcp words
 * (argc is 0 for a blank line) to be released with argv_free(). On error
 * returns -1, sets *argvp to NULL and *argcp to 0, and points *errp (may be
 * NULL) at a static message; errno is ENOMEM when memory ran out, else EINVAL.
 */
int argv_split(const char *line, char ***argvp, int *argcp, const char **errp);

/* Releases what argv_split() returned; NULL is fine. */
void argv_free(char **argv);

#endif
