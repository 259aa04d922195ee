/*
 * Zeroed memory straight from the kernel, for tables sized to a fixed
 * capacity (trackers, dispatch indexes, the engine's own): a page costs
 * memory only once it is written, so the capacity bounds what may be used
 * without all of it being paid for at start-up. calloc clears, and so
 * touches, every page of a block it carves from the heap, and puts its
 * header on the first page of a block it maps.
 */
#ifndef NFQT_PAGES_H
#define NFQT_PAGES_H

#include <stddef.h>

/* size bytes of zeros, or NULL with errno set. */
void *pages_alloc(size_t size);
/* Give back what pages_alloc(size) returned; NULL is ignored. */
void pages_free(void *p, size_t size);

#endif
