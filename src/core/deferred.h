/*
 * Deferred actions: a bounded, time-ordered queue (binary min-heap) of
 * things the engine must do later, such as a knock's exec_stop hook
 * exec_stop_delay after its exec. An item names its trigger rather than
 * pointing into a config, so a reload in between is harmless.
 * Pure: no I/O, time is an argument.
 */
#ifndef NFQT_DEFERRED_H
#define NFQT_DEFERRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct deferred_item {
	uint64_t when_ms;
	char trigger[CONFIG_NAME_MAX + 1];
	uint8_t family;			/* of addr; 0: none */
	uint8_t addr[16];
};

struct deferred;

struct deferred *deferred_new(size_t capacity);
void deferred_free(struct deferred *d);

/* Items queued: a caller may check for room before it commits to one. */
size_t deferred_count(const struct deferred *d);

/* Queue an item; -1 when the queue is full (the caller logs and counts). */
int deferred_push(struct deferred *d, const struct deferred_item *item);

/* When the earliest item is due; 0 when the queue is empty. */
uint64_t deferred_next(const struct deferred *d);

/* Take the earliest item if it is due at now_ms. */
bool deferred_pop_due(struct deferred *d, uint64_t now_ms, struct deferred_item *out);

#endif
