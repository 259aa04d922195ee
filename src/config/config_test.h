/*
 * Test-only entries into the config layer (tests/unit, fuzz): a config
 * from a string instead of a file, and the port parser on its own.
 */
#ifndef NFQT_CONFIG_TEST_H
#define NFQT_CONFIG_TEST_H

#include <stdio.h>

#include "config/config.h"

/*
 * config_load() from a string; name is used in messages. Key
 * files are read without the ownership checks.
 */
struct config *config_load_string(const char *name, const char *text, FILE *errs, int *nerrors);

/* "tcp:22" / "udp:7000". */
int config_parse_port(const char *text, struct config_port *out);

#endif
