/*
 * Key files (docs/design.md, decision 11: one format for every secret read,
 * the knock's time/counter key and SPA's key alike): one line of 64
 * hexadecimal digits, 32 bytes, optionally ended by a newline. Nothing else
 * in the file: no comment, no blank line, so that a truncated or mangled
 * key is an error, never a shorter key.
 *
 * Make one with (the umask must hold when FILE is created):
 *   (umask 077; { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n';
 *   echo; } > FILE)
 * See docs/knock.md.
 */
#ifndef NFQT_KEYFILE_H
#define NFQT_KEYFILE_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYFILE_KEY_LEN		32
#define KEYFILE_WHY_MAX		256
/* Any uid: what keyfile_read's also_uid takes when only root may own keys. */
#define KEYFILE_ROOT_ONLY	((uid_t)-1)

/*
 * Read the key in path into key. With check, the file must be a regular
 * file owned by root (or by also_uid, unless KEYFILE_ROOT_ONLY) and grant
 * nothing to group and others. 0, or -1 with the reason in why (at least
 * KEYFILE_WHY_MAX bytes) and key zeroed.
 */
int keyfile_read(const char *path, bool check, uid_t also_uid,
    uint8_t key[KEYFILE_KEY_LEN], char *why, size_t whylen);

/*
 * fwknop's keys (format = fwknop of [spa]): the two lines `fwknop
 * --key-gen` prints,
 *   KEY_BASE64: <base64 of the Rijndael key>
 *   HMAC_KEY_BASE64: <base64 of the HMAC-SHA256 key>
 * (a blank between name and value works too, as in fwknopd's access.conf;
 * blank lines and # comments are skipped). Same ownership checks as
 * keyfile_read().
 */
#define KEYFILE_FKO_MAX		64	/* decoded bytes */
#define KEYFILE_FKO_KEY_MIN	16
#define KEYFILE_FKO_HMAC_MIN	32
#define KEYFILE_FKO_READ_MAX	1024

struct keyfile_fko {
	uint8_t key[KEYFILE_FKO_MAX];
	int key_len;
	uint8_t hmac[KEYFILE_FKO_MAX];
	int hmac_len;
};

int keyfile_read_fwknop(const char *path, bool check, uid_t also_uid,
    struct keyfile_fko *k, char *why, size_t whylen);

#endif
