/*
 * Confinement (docs/design.md, Decision 2): after the privileged side has
 * been forked, the engine drops to its user with CAP_NET_ADMIN alone and
 * no_new_privs; once its sockets are open it installs a seccomp
 * allow-list of the system calls its steady state makes (reloads
 * included). The privileged side and the spawner keep only what running
 * hooks needs.
 */
#ifndef NFQT_SANDBOX_H
#define NFQT_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Become uid/gid (no supplementary groups; uid 0 stays root) with
 * CAP_NET_ADMIN as the only capability, permitted and effective, and an
 * empty bounding set besides; then no_new_privs. 0, or -1 with why.
 */
int sandbox_drop(uid_t uid, gid_t gid, char *why, size_t whylen);

/*
 * For the privileged side and its spawner, which stay uid 0: keep only
 * the capabilities in keep (1 << CAP_X) that this process holds, permitted
 * and effective, and drop the rest from the bounding set, so that nothing
 * forked or executed later can get them back. 0, or -1 with why.
 */
int sandbox_keep_caps(uint64_t keep, char *why, size_t whylen);

/*
 * Install the system-call allow-list. A call outside it kills the engine
 * (SIGSYS); NFQT_SECCOMP=log in the environment only logs it instead
 * (the kernel's audit log names the call), to find what is missing.
 * 0, or -1 with why.
 */
int sandbox_seccomp(char *why, size_t whylen);

#endif
