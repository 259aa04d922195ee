/*
 * Key files: see keyfile.h for the format. The checks mirror what the
 * config file gets (config.c), one step stricter: a key must not even be
 * readable by anyone but its owner.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "config/config_files.h"
#include "config/keyfile.h"

#define HEX_LEN		(KEYFILE_KEY_LEN * 2)
/* A key line, its newline, and one byte more to notice anything after it. */
#define READ_MAX	(HEX_LEN + 2)

static int
owner_ok(const char *path, const struct stat *st, uid_t also_uid, char *why,
    size_t whylen)
{
	if (st->st_uid != 0 && (also_uid == KEYFILE_ROOT_ONLY ||
	    st->st_uid != also_uid)) {
		if (also_uid == KEYFILE_ROOT_ONLY || also_uid == 0)
			snprintf(why, whylen, "%s is owned by uid %u, not root",
			    path, (unsigned)st->st_uid);
		else
			snprintf(why, whylen, "%s is owned by uid %u, neither "
			    "root nor you (uid %u)", path, (unsigned)st->st_uid,
			    (unsigned)also_uid);
		return -1;
	}
	if (st->st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(why, whylen, "%s is open to %s (mode %04o): a key must "
		    "be for its owner only: chmod 600 %s", path,
		    (st->st_mode & S_IRWXG) && (st->st_mode & S_IRWXO) ?
		    "group and others" : st->st_mode & S_IRWXG ? "its group" :
		    "others", (unsigned)(st->st_mode & 07777), path);
		return -1;
	}
	return 0;
}

static ssize_t
read_all(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t r;

	while (len < size) {
		r = read(fd, buf + len, size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	return (ssize_t)len;
}

/* buf[0..len) is exactly 64 hex digits and an optional newline. */
static int
key_parse(const char *path, const char *buf, size_t len, uint8_t *key,
    char *why, size_t whylen)
{
	size_t binlen = 0, i;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	for (i = 0; i < len && ((buf[i] >= '0' && buf[i] <= '9') ||
	    (buf[i] >= 'a' && buf[i] <= 'f') || (buf[i] >= 'A' && buf[i] <= 'F'));
	    i++)
		;
	if (i == len && len > 0 && len < HEX_LEN) {
		snprintf(why, whylen, "%s is too short: %zu hexadecimal digits, "
		    "a key has %d (%d bytes)", path, len, HEX_LEN,
		    KEYFILE_KEY_LEN);
		return -1;
	}
	if (len != HEX_LEN || sodium_hex2bin(key, KEYFILE_KEY_LEN, buf, len,
	    NULL, &binlen, NULL) != 0 || binlen != KEYFILE_KEY_LEN) {
		snprintf(why, whylen, "%s is not a key: want one line of %d "
		    "hexadecimal digits (%d bytes)", path, HEX_LEN,
		    KEYFILE_KEY_LEN);
		return -1;
	}
	return 0;
}

/* Open, check and read path into buf (at most size bytes); its length or -1. */
static ssize_t
file_take(const char *path, bool check, uid_t also_uid, char *buf, size_t size,
    char *why, size_t whylen)
{
	struct stat st;
	ssize_t len = -1;
	int fd;

	/*
	 * Root's keys (the engine's) get the whole path checked, or come
	 * through the privileged side; a user's own key (nfq-knock) only its
	 * owner and mode below. O_NONBLOCK: a FIFO in the key's place must
	 * not hang us.
	 */
	if (config_files_get() != NULL || (check && also_uid == KEYFILE_ROOT_ONLY))
		fd = config_file_open(CONFIG_FILE_KEY, path, check, why, whylen);
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1)
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		snprintf(why, whylen, "%s: fstat: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(why, whylen, "%s is not a regular file", path);
	else if (!check || owner_ok(path, &st, also_uid, why, whylen) == 0) {
		if ((len = read_all(fd, buf, size)) == -1)
			snprintf(why, whylen, "%s: read: %s", path,
			    strerror(errno));
	}
	close(fd);
	return len;
}

/* A key file is the first of libsodium a keyed config uses: started here. */
static int
sodium_ready(const char *path, char *why, size_t whylen)
{
	if (sodium_init() < 0) {
		snprintf(why, whylen, "%s: libsodium does not initialise", path);
		return -1;
	}
	return 0;
}

int
keyfile_read(const char *path, bool check, uid_t also_uid,
    uint8_t key[KEYFILE_KEY_LEN], char *why, size_t whylen)
{
	char buf[READ_MAX];
	ssize_t len;
	int rc = -1;

	if (sodium_ready(path, why, whylen) < 0)
		return -1;
	sodium_memzero(key, KEYFILE_KEY_LEN);
	if ((len = file_take(path, check, also_uid, buf, sizeof(buf), why,
	    whylen)) >= 0)
		rc = key_parse(path, buf, (size_t)len, key, why, whylen);
	sodium_memzero(buf, sizeof(buf));
	if (rc == -1)
		sodium_memzero(key, KEYFILE_KEY_LEN);
	return rc;
}

/* --- fwknop's keys ------------------------------------------------------ */

/* "NAME: base64" or "NAME base64" on line (len bytes): decoded into out. */
static int
fko_line(const char *path, int lineno, const char *line, size_t len,
    uint8_t *out, size_t outmax, size_t minlen, int *outlen, char *why,
    size_t whylen)
{
	size_t binlen = 0, i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == ':'))
		i++;
	while (len > i && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
	    line[len - 1] == '\r'))
		len--;
	if (sodium_base642bin(out, outmax, line + i, len - i, NULL, &binlen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		snprintf(why, whylen, "%s:%d: not base64, or longer than %zu "
		    "bytes", path, lineno, outmax);
		return -1;
	}
	if (binlen < minlen) {
		snprintf(why, whylen, "%s:%d: too short: %zu bytes, at least %zu "
		    "(make one with fwknop --key-gen)", path, lineno, binlen,
		    minlen);
		return -1;
	}
	*outlen = (int)binlen;
	return 0;
}

static int
fko_parse(const char *path, char *buf, size_t len, struct keyfile_fko *k,
    char *why, size_t whylen)
{
	static const char kname[] = "KEY_BASE64", hname[] = "HMAC_KEY_BASE64";
	size_t pos = 0, n, end;
	int lineno = 0;
	char *nl;

	while (pos < len) {
		lineno++;
		nl = memchr(buf + pos, '\n', len - pos);
		end = nl != NULL ? (size_t)(nl - buf) : len;
		n = end - pos;
		if (n == 0 || buf[pos] == '#') {
			/* Blank lines and comments, as fwknop's rc files have. */
		} else if (n > sizeof(hname) - 1 && memcmp(buf + pos, hname,
		    sizeof(hname) - 1) == 0) {
			if (fko_line(path, lineno, buf + pos + sizeof(hname) - 1,
			    n - (sizeof(hname) - 1), k->hmac, sizeof(k->hmac),
			    KEYFILE_FKO_HMAC_MIN, &k->hmac_len, why, whylen) == -1)
				return -1;
		} else if (n > sizeof(kname) - 1 && memcmp(buf + pos, kname,
		    sizeof(kname) - 1) == 0) {
			if (fko_line(path, lineno, buf + pos + sizeof(kname) - 1,
			    n - (sizeof(kname) - 1), k->key, sizeof(k->key),
			    KEYFILE_FKO_KEY_MIN, &k->key_len, why, whylen) == -1)
				return -1;
		} else {
			snprintf(why, whylen, "%s:%d: want KEY_BASE64 and "
			    "HMAC_KEY_BASE64 lines (what fwknop --key-gen prints)",
			    path, lineno);
			return -1;
		}
		pos = end + 1;
	}
	if (k->key_len == 0 || k->hmac_len == 0) {
		snprintf(why, whylen, "%s has no %s line (what fwknop --key-gen "
		    "prints)", path, k->key_len == 0 ? kname : hname);
		return -1;
	}
	return 0;
}

int
keyfile_read_fwknop(const char *path, bool check, uid_t also_uid,
    struct keyfile_fko *k, char *why, size_t whylen)
{
	char buf[KEYFILE_FKO_READ_MAX];
	ssize_t len;
	int rc = -1;

	if (sodium_ready(path, why, whylen) < 0)
		return -1;
	sodium_memzero(k, sizeof(*k));
	if ((len = file_take(path, check, also_uid, buf, sizeof(buf), why,
	    whylen)) >= 0) {
		if ((size_t)len == sizeof(buf))
			snprintf(why, whylen, "%s is longer than %d bytes: not a "
			    "key file", path, KEYFILE_FKO_READ_MAX - 1);
		else
			rc = fko_parse(path, buf, (size_t)len, k, why, whylen);
	}
	sodium_memzero(buf, sizeof(buf));
	if (rc == -1)
		sodium_memzero(k, sizeof(*k));
	return rc;
}
