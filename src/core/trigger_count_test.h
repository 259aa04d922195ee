/*
 * Test-only entry into the count triggers (tests/unit): the allow-list
 * check on its own, which count_set_packet() applies.
 */
#ifndef NFQT_TRIGGER_COUNT_TEST_H
#define NFQT_TRIGGER_COUNT_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

/* Whether the source is in one of c's allow prefixes. */
bool count_allowed(const struct config_count *c, int family, const uint8_t *addr);

#endif
