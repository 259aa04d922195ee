/*
 * Test-only API of the hook client (tests/unit): driving it without an
 * event loop (hook_open() with a NULL loop), looking at its queue, and the
 * placeholder expansion on its own. The engine uses none of it.
 */
#ifndef NFQT_HOOK_TEST_H
#define NFQT_HOOK_TEST_H

#include <sys/types.h>

#include <stddef.h>

#include "engine/hook.h"

/* The descriptor to watch for replies; -1 once the spawner has gone. */
int hook_fd(const struct hooks *h);

/* Read the spawner's replies and call back finished hooks (loop_fd_fn). */
void hook_readable(void *h);

/*
 * The owner is going away: its queued hooks are dropped, its running one
 * finishes without a callback. Call before freeing the owner.
 */
void hook_cancel_owner(struct hooks *h, const void *owner);

/* Hooks queued or running, all owners. */
int hook_pending(const struct hooks *h);

/*
 * Substitute placeholders of one word into out: %IP% %NAME% %EVENT%
 * %PROTO% %PORT% %FAMILY% and %% for %; anything else, a lone % or an
 * unknown %FOO%, stays as written. A value that req does not have is
 * empty. Returns the length, or -1 with errno E2BIG when out is too small.
 */
ssize_t hook_expand_word(const char *word, const struct hook_request *req, char *out,
    size_t outlen);

#endif
