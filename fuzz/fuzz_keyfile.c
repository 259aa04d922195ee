/*
 * libFuzzer: any bytes as a key file, read through keyfile_read() from a
 * real file (owner root, mode 0600, so that the content is what is
 * judged). A key is accepted only for exactly 64 hexadecimal digits and an
 * optional newline, and is then those digits' bytes; a refusal leaves the
 * key zeroed and says why.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* The same judgement, written plainly. */
static bool
want_key(const uint8_t *d, size_t n, uint8_t key[KEYFILE_KEY_LEN])
{
	size_t i;

	if (n > 0 && d[n - 1] == '\n')
		n--;
	if (n != 2 * KEYFILE_KEY_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!isxdigit(d[i]))
			return false;
	for (i = 0; i < KEYFILE_KEY_LEN; i++)
		key[i] = (uint8_t)(hexval(d[2 * i]) << 4 | hexval(d[2 * i + 1]));
	return true;
}

/* In a directory of its own: key files in a world-writable one are refused. */
static char dir[] = "/tmp/fuzz_keyfile.XXXXXX";
static char path[sizeof(dir) + 8];

static void
path_remove(void)
{
	unlink(path);
	rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static const uint8_t zero[KEYFILE_KEY_LEN];
	uint8_t key[KEYFILE_KEY_LEN], want[KEYFILE_KEY_LEN];
	char why[KEYFILE_WHY_MAX];
	bool ok;
	int rc;

	if (fd == -1) {
		/* One file for every input, unlinked when the run ends. */
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof(path), "%s/key", dir);
		if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1 ||
		    atexit(path_remove) != 0)
			abort();
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	why[0] = '\0';
	rc = keyfile_read(path, geteuid() == 0, KEYFILE_ROOT_ONLY, key, why,
	    sizeof(why));
	ok = want_key(data, size, want);
	if (rc == 0 && (!ok || memcmp(key, want, sizeof(key)) != 0))
		abort();
	if (rc != 0 && (ok || memcmp(key, zero, sizeof(key)) != 0 || why[0] == '\0'))
		abort();
	return 0;
}
