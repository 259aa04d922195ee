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
	size_t binlen = 0;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len != HEX_LEN || sodium_hex2bin(key, KEYFILE_KEY_LEN, buf, len,
	    NULL, &binlen, NULL) != 0 || binlen != KEYFILE_KEY_LEN) {
		snprintf(why, whylen, "%s is not a key: want one line of %d "
		    "hexadecimal digits (%d bytes)", path, HEX_LEN,
		    KEYFILE_KEY_LEN);
		return -1;
	}
	return 0;
}

int
keyfile_read(const char *path, bool check, uid_t also_uid,
    uint8_t key[KEYFILE_KEY_LEN], char *why, size_t whylen)
{
	struct stat st;
	char buf[READ_MAX];
	ssize_t len = -1;
	int fd, rc = -1;

	sodium_memzero(key, KEYFILE_KEY_LEN);
	/* O_NONBLOCK: a FIFO in the key's place must not hang us. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		snprintf(why, whylen, "%s: fstat: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(why, whylen, "%s is not a regular file", path);
	else if (!check || owner_ok(path, &st, also_uid, why, whylen) == 0) {
		if ((len = read_all(fd, buf, sizeof(buf))) == -1)
			snprintf(why, whylen, "%s: read: %s", path,
			    strerror(errno));
		else
			rc = key_parse(path, buf, (size_t)len, key, why, whylen);
	}
	close(fd);
	sodium_memzero(buf, sizeof(buf));
	if (rc == -1)
		sodium_memzero(key, KEYFILE_KEY_LEN);
	return rc;
}
