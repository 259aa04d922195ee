/*
 * libFuzzer: any bytes as a config file on disk, read by config_load():
 * the file reader, the NUL check and the line-counting reader that feeds
 * inih (docs/design.md, decision 5). A file without a NUL byte must be
 * judged as the same text given as a string (fuzz_config.c's path); one
 * with a NUL byte is refused. Every error is printed as "file:line: ...".
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz_config_file.XXXXXX";
static char path[sizeof(dir) + 16];

static void
dir_remove(void)
{
	unlink(path);
	rmdir(dir);
}

/* Each error line starts with the file's name and a line number. */
static void
errors_check(const char *text, size_t len)
{
	const char *line, *end = text + len, *nl;
	size_t plen = strlen(path);

	for (line = text; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		if ((size_t)(nl - line) < plen + 2 || memcmp(line, path, plen) != 0 ||
		    line[plen] != ':')
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static FILE *null;
	struct config *cfg, *cfg2;
	char *text, *errs = NULL;
	size_t errlen = 0;
	FILE *f, *ef;
	int n = -1, n2 = -1;

	if (!ready) {
		if (mkdtemp(dir) == NULL || atexit(dir_remove) != 0 ||
		    (null = fopen("/dev/null", "w")) == NULL)
			abort();
		snprintf(path, sizeof(path), "%s/nfq.ini", dir);
		ready = true;
	}
	if ((f = fopen(path, "w")) == NULL || fwrite(data, 1, size, f) != size ||
	    fclose(f) != 0)
		abort();
	if ((ef = open_memstream(&errs, &errlen)) == NULL)
		abort();
	cfg = config_load(path, false, ef, &n);
	fclose(ef);
	if ((cfg == NULL) != (n > 0))
		abort();
	errors_check(errs, errlen);
	free(errs);
	if (memchr(data, '\0', size) != NULL) {
		if (cfg != NULL)
			abort();
	} else {
		if ((text = malloc(size + 1)) == NULL)
			abort();
		memcpy(text, data, size);
		text[size] = '\0';
		cfg2 = config_load_string(path, text, null, &n2);
		if ((cfg2 == NULL) != (cfg == NULL) || n2 != n)
			abort();
		config_free(cfg2);
		free(text);
	}
	config_free(cfg);
	return 0;
}
