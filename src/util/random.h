/*
 * Secrets from the kernel's random pool (getrandom), for the hash keys of
 * the engine's tables: libsodium then starts only for a config that uses
 * its cryptography (derived knocks, SPA), and its start-up is most of what
 * it would cost an idle engine in memory.
 */
#ifndef NFQT_RANDOM_H
#define NFQT_RANDOM_H

#include <stddef.h>

/* Fill buf with len random bytes: 0, or -1 with errno set. */
int random_bytes(void *buf, size_t len);

#endif
