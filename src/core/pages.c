/*
 * Anonymous memory only: the core's one use of mmap, which is memory, not
 * I/O (tools/check-core allows it for this file's sake).
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "core/pages.h"

/* AddressSanitizer checks the bounds of what malloc gave, not of a mapping. */
#if defined(__SANITIZE_ADDRESS__)
#define PAGES_FROM_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PAGES_FROM_MALLOC 1
#endif
#endif

void *
pages_alloc(size_t size)
{
#ifdef PAGES_FROM_MALLOC
	return calloc(1, size);
#else
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
#endif
}

void
pages_free(void *p, size_t size)
{
	if (p == NULL)
		return;
#ifdef PAGES_FROM_MALLOC
	(void)size;
	free(p);
#else
	munmap(p, size);
#endif
}
