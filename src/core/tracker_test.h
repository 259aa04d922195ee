/*
 * Test-only view of a tracker (tests/unit): not for production code,
 * which never needs to know an entry's tier.
 */
#ifndef NFQT_TRACKER_TEST_H
#define NFQT_TRACKER_TEST_H

#include "core/tracker.h"

/* 1 if the entry is in the progress tier, else 0. */
int tracker_is_promoted(const struct tracker *t, const void *value);

#endif
