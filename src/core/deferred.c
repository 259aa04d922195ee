#include <stdlib.h>

#include "core/deferred.h"
#include "core/deferred_test.h"

struct deferred {
	size_t count;
	size_t capacity;
	struct deferred_item items[];	/* heap order: items[0] is the earliest */
};

struct deferred *
deferred_new(size_t capacity)
{
	struct deferred *d;

	d = calloc(1, sizeof(*d) + capacity * sizeof(d->items[0]));
	if (d != NULL)
		d->capacity = capacity;
	return d;
}

void
deferred_free(struct deferred *d)
{
	free(d);
}

static void
deferred_swap(struct deferred *d, size_t a, size_t b)
{
	struct deferred_item tmp = d->items[a];

	d->items[a] = d->items[b];
	d->items[b] = tmp;
}

int
deferred_push(struct deferred *d, const struct deferred_item *item)
{
	size_t i, parent;

	if (d->count == d->capacity)
		return -1;
	i = d->count++;
	d->items[i] = *item;
	while (i > 0) {
		parent = (i - 1) / 2;
		if (d->items[parent].when_ms <= d->items[i].when_ms)
			break;
		deferred_swap(d, i, parent);
		i = parent;
	}
	return 0;
}

uint64_t
deferred_next(const struct deferred *d)
{
	return d->count == 0 ? 0 : d->items[0].when_ms;
}

static void
deferred_sift_down(struct deferred *d)
{
	size_t i = 0, child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= d->count)
			break;
		if (child + 1 < d->count && d->items[child + 1].when_ms < d->items[child].when_ms)
			child++;
		if (d->items[i].when_ms <= d->items[child].when_ms)
			break;
		deferred_swap(d, i, child);
		i = child;
	}
}

bool
deferred_pop_due(struct deferred *d, uint64_t now_ms, struct deferred_item *out)
{
	if (d->count == 0 || d->items[0].when_ms > now_ms)
		return false;
	*out = d->items[0];
	d->items[0] = d->items[--d->count];
	deferred_sift_down(d);
	return true;
}

size_t
deferred_count(const struct deferred *d)
{
	return d->count;
}
