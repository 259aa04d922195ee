/*
 * libFuzzer: any bytes as a state file, read through statefile_load()
 * from a real file. A counter is accepted only for one decimal number
 * that fits 64 bits and an optional newline; what is accepted saves and
 * loads back to the same number.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/statefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz_statefile.XXXXXX";
static char path[sizeof(dir) + 8], again[sizeof(dir) + 8];

static void
dir_remove(void)
{
	unlink(path);
	unlink(again);
	rmdir(dir);
}

/* The same judgement, written plainly: 1..20 digits, no overflow. */
static bool
want_counter(const uint8_t *d, size_t n, uint64_t *v)
{
	unsigned __int128 x = 0;
	size_t i;

	if (n > 0 && d[n - 1] == '\n')
		n--;
	if (n == 0 || n > 20)
		return false;
	for (i = 0; i < n; i++) {
		if (d[i] < '0' || d[i] > '9')
			return false;
		x = x * 10 + (unsigned)(d[i] - '0');
	}
	if (x > UINT64_MAX)
		return false;
	*v = (uint64_t)x;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	FILE *f;
	char why[STATEFILE_WHY_MAX];
	uint64_t v = 0, want = 0, back = 0;
	bool ok;
	int rc;

	if (!ready) {
		if (mkdtemp(dir) == NULL || atexit(dir_remove) != 0)
			abort();
		ready = true;
		snprintf(path, sizeof(path), "%s/state", dir);
		snprintf(again, sizeof(again), "%s/again", dir);
	}
	if ((f = fopen(path, "w")) == NULL || fwrite(data, 1, size, f) != size ||
	    fclose(f) != 0)
		abort();
	why[0] = '\0';
	rc = statefile_load(path, &v, why, sizeof(why));
	/* Only the first 32 bytes are read: longer input is refused anyway. */
	ok = want_counter(data, size, &want);
	if (rc == 1 || (rc == 0) != ok || (rc == 0 && v != want) ||
	    (rc == -1 && why[0] == '\0'))
		abort();
	if (rc == 0 && (statefile_save(again, v, why, sizeof(why)) != 0 ||
	    statefile_load(again, &back, why, sizeof(why)) != 0 || back != v))
		abort();
	return 0;
}
