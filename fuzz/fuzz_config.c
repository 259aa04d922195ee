/*
 * libFuzzer: any bytes as a config file, and as a hook line. Nothing may
 * crash or leak; the results must keep the parser's own promises.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/argv.h"
#include "config/config.h"
#include "config/config_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What config_load_string() promises about a config it returns. */
static void
config_invariants(const struct config *cfg)
{
	const struct config_knock *k;
	int i;

	if (cfg->engine.queue_first > cfg->engine.queue_last ||
	    cfg->nknocks > CONFIG_TRIGGERS_MAX)
		abort();
	for (i = 0; i < cfg->nknocks; i++) {
		k = &cfg->knocks[i];
		if (k->nframes < 1 || k->nframes > CONFIG_KNOCK_FRAMES_MAX ||
		    k->nopen < 1 || k->nopen > CONFIG_OPEN_MAX ||
		    k->window_ms == 0 || k->allow_timeout_ms == 0 ||
		    k->name[0] == '\0')
			abort();
		if (k->exec.argv != NULL && k->exec.argv[0][0] != '/')
			abort();
		if (k->exec_stop.argv != NULL && k->exec.argv == NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct config *cfg;
	char *text, **argv;
	int n = -1, argc;

	if (null == NULL && (null = fopen("/dev/null", "w")) == NULL)
		abort();
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	cfg = config_load_string("fuzz.ini", text, null, &n);
	if (cfg != NULL) {
		if (n != 0)
			abort();
		config_invariants(cfg);
		config_print(cfg, null);
		config_free(cfg);
	} else if (n < 1)
		abort();
	if (argv_split(text, &argv, &argc, NULL) == 0) {
		if (argv[argc] != NULL)
			abort();
		argv_free(argv);
	}
	free(text);
	return 0;
}
