/*
 * Test-only view of the deferred queue (tests/unit).
 */
#ifndef NFQT_DEFERRED_TEST_H
#define NFQT_DEFERRED_TEST_H

#include <stddef.h>

#include "core/deferred.h"

/* Nothing test-only left: deferred_count() is in deferred.h. */

#endif
