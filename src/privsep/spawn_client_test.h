/*
 * Test-only view of the spawner (tests/unit): its process id, to check
 * that it goes away.
 */
#ifndef NFQT_SPAWN_CLIENT_TEST_H
#define NFQT_SPAWN_CLIENT_TEST_H

#include <sys/types.h>

#include "privsep/spawn_client.h"

/* The spawner's process id. */
pid_t spawn_pid(const struct spawn *sp);

#endif
