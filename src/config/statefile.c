/*
 * State files: see statefile.h. A number that went backwards would let a
 * used knock sequence open again, hence the care to replace it whole.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_files.h"
#include "config/statefile.h"

#define STATE_READ_MAX	32	/* 20 digits, a newline, room to see more */

static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
statefile_load(const char *path, uint64_t *value, char *why, size_t whylen)
{
	char buf[STATE_READ_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	if (config_files_get() != NULL)
		return config_files_get()->state_load(config_files_get()->arg, path,
		    value, why, whylen);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 1;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whylen, "%s: fstat: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	do
		n = read(fd, buf, sizeof(buf));
	while (n == -1 && errno == EINTR);
	close(fd);
	if (n == -1) {
		snprintf(why, whylen, "%s: read: %s", path, strerror(errno));
		return -1;
	}
	if (parse_u64(buf, (size_t)n, value) == -1) {
		snprintf(why, whylen, "%s: not a counter: want one decimal "
		    "number and a newline", path);
		return -1;
	}
	return 0;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The rename is only durable once the directory holding it is synced. */
static int
dir_sync(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc;

	snprintf(copy, sizeof(copy), "%s", path);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
statefile_save(const char *path, uint64_t value, char *why, size_t whylen)
{
	char tmp[PATH_MAX], buf[STATE_READ_MAX];
	const char *step = "create";
	int fd, len, saved;

	if (config_files_get() != NULL)
		return config_files_get()->state_save(config_files_get()->arg, path,
		    value, why, whylen);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
		snprintf(why, whylen, "%s: path too long", path);
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", value);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		goto fail;
	step = "write";
	if (write_all(fd, buf, (size_t)len) == -1)
		goto fail_unlink;
	step = "fsync";
	if (fsync(fd) == -1)
		goto fail_unlink;
	step = "close";
	if (close(fd) == -1) {
		fd = -1;
		goto fail_unlink;
	}
	fd = -1;
	step = "rename";
	if (rename(tmp, path) == -1)
		goto fail_unlink;
	step = "fsync of its directory";
	if (dir_sync(path) == -1)
		goto fail;
	return 0;

fail_unlink:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
fail:
	snprintf(why, whylen, "%s: %s: %s", path, step, strerror(errno));
	return -1;
}
