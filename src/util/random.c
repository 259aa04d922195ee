#include <errno.h>
#include <sys/random.h>
#include <sys/types.h>

#include "util/random.h"

int
random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		/* Blocks only until the pool is first seeded, early at boot. */
		if ((n = getrandom(p, len, 0)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
