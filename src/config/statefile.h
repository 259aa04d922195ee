/*
 * State files: one unsigned decimal number and a newline, replaced
 * atomically (a temporary file in the same directory, fsync, rename, fsync
 * of the directory), so that a crash leaves the old number or the new one,
 * never a mix. Used for the knock's counters: the engine's next expected
 * counter and nfq-knock's next counter to send.
 */
#ifndef NFQT_STATEFILE_H
#define NFQT_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

#define STATEFILE_WHY_MAX	256

/*
 * The number in path into *value. 0; 1 when the file does not exist
 * (*value untouched); -1 with the reason in why.
 */
int statefile_load(const char *path, uint64_t *value, char *why, size_t whylen);

/*
 * Replace path with value, mode 0600. 0, or -1 with the reason in why
 * (path then still holds its old number, if it had one).
 */
int statefile_save(const char *path, uint64_t value, char *why, size_t whylen);

#endif
