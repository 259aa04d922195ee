/*
 * Test-only view of the deferred queue (tests/unit).
 */
#ifndef NFQT_DEFERRED_TEST_H
#define NFQT_DEFERRED_TEST_H

#include <stddef.h>

#include "core/deferred.h"

/* Items waiting. */
size_t deferred_count(const struct deferred *d);

#endif
