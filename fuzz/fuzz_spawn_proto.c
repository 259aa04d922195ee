/*
 * libFuzzer: any bytes as a message between the three processes. The
 * first byte picks the channel:
 *	0: a hook request (SPAWN_MSG_RUN) as the privileged side and the
 *	   spawner decode it; one that decodes passes spawn_run_check() and
 *	   encodes back to exactly the bytes received.
 *	1: a control request (struct priv_msg) sent on a real SOCK_SEQPACKET
 *	   pair and read by priv_msg_recv(); one that is accepted is exactly
 *	   the message's size, of a known type, with its text terminated.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "privsep/priv_proto.h"
#include "privsep/spawn_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_run(const uint8_t *data, size_t size)
{
	static struct spawn_run_buf rb;
	static uint8_t again[SPAWN_MSG_MAX];
	const char *why = NULL;
	ssize_t n;

	if (spawn_run_decode(data, size, &rb, &why) < 0) {
		/* Every refusal says why, with one of the documented errnos. */
		if (why == NULL || (errno != EBADMSG && errno != E2BIG && errno != EINVAL))
			abort();
		return;
	}
	if (spawn_run_check(&rb.run, &why) < 0 || rb.run.argv[0][0] != '/')
		abort();
	n = spawn_run_encode(&rb.run, again, sizeof(again), &why);
	if (n != (ssize_t)size || memcmp(again, data, size) != 0)
		abort();
}

static void
fuzz_ctl(const uint8_t *data, size_t size)
{
	static int sv[2] = { -1, -1 };
	struct priv_msg m;
	int fd, rc;

	if (sv[0] < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	if (size > sizeof(m) + 64)
		size = sizeof(m) + 64;
	if (send(sv[1], data, size, 0) != (ssize_t)size)
		abort();
	rc = priv_msg_recv(sv[0], &m, &fd);
	if (rc < 0) {
		if (errno != EBADMSG || fd != -1)
			abort();
		return;
	}
	/* An empty datagram is not the end of the peer. */
	if (rc == 0 || size != sizeof(m) || memcmp(&m, data, size) != 0 ||
	    m.type < PRIV_MSG_CONFIG || m.type > PRIV_MSG_ERR ||
	    memchr(m.text, '\0', sizeof(m.text)) == NULL || fd != -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_ctl(data + 1, size - 1);
	else
		fuzz_run(data + 1, size - 1);
	return 0;
}
