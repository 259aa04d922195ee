/*
 * The engine <-> spawner protocol (docs/design.md, Decision 2): a fixed set of
 * messages over a SOCK_SEQPACKET socketpair, one message per packet, in the
 * style of OpenBSD's imsg. Every message starts with spawn_msg_hdr; its
 * size is checked against its type on receipt and a message that does not
 * fit is logged and dropped. Both ends are the same binary on one host, so
 * fields are in host byte order.
 *
 * SPAWN_MSG_RUN, engine to spawner:
 *	spawn_msg_hdr, spawn_msg_run, then 1 + argc + envc strings: the name
 *	hook output is logged under, the argv words, the "NFQT_X=value"
 *	environment words. Each string is a uint16_t length and that many
 *	bytes, no NUL. Nothing may follow the last string.
 * SPAWN_MSG_LOG, engine to spawner: spawn_msg_log.
 * SPAWN_MSG_STARTED/EXITED/KILLED/FAILED, spawner to engine: spawn_msg_reply
 *	with the request's id: a pid, a wait status, a wait status, an errno.
 *	A request gets STARTED and then EXITED or KILLED, or only FAILED.
 * SPAWN_MSG_LOST, privileged side to engine: the spawner died with the
 *	request; whether the hook ran is not known.
 *
 * The engine talks to the privileged side (priv.c), which checks each RUN
 * against its own config, sets the credentials (SPAWN_RUN_CREDS: uid, gid,
 * capabilities) and relays it to its spawner; replies come back the same
 * way. Credentials from the engine are never used.
 */
#ifndef NFQT_SPAWN_PROTO_H
#define NFQT_SPAWN_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPAWN_ARGV_MAX		64	/* words of one hook's argv */
#define SPAWN_ARGV_BYTES	4096	/* their total size, each word's NUL counted */
#define SPAWN_ENV_MAX		16	/* NFQT_* variables of one request */
#define SPAWN_ENV_BYTES		1024	/* their total size, NULs counted */
#define SPAWN_NAME_MAX		64	/* the name a hook's output is logged under */
#define SPAWN_RUNNING_MAX	32	/* hooks running at once; more are refused */
#define SPAWN_KILL_GRACE_MS	1000	/* from SIGTERM to SIGKILL after a timeout */
#define SPAWN_LINE_MAX		400	/* longer output lines are logged in pieces */
#define SPAWN_LINES_MAX		100	/* output lines logged per hook run */
/* The only variable a hook gets besides the request's NFQT_* ones. */
#define SPAWN_PATH		"/usr/sbin:/usr/bin:/sbin:/bin"

enum spawn_msg_type {
	SPAWN_MSG_RUN = 1,
	SPAWN_MSG_LOG,
	SPAWN_MSG_STARTED,
	SPAWN_MSG_EXITED,
	SPAWN_MSG_KILLED,
	SPAWN_MSG_FAILED,
	SPAWN_MSG_LOST,
};

struct spawn_msg_hdr {
	uint32_t type;		/* enum spawn_msg_type */
	uint32_t len;		/* of the whole message, header included */
	uint32_t id;		/* chosen by the engine, echoed in replies */
};

#define SPAWN_RUN_CREDS	0x1	/* run as uid/gid with caps, not as the spawner */

struct spawn_msg_run {
	uint32_t timeout_ms;	/* at least 1 */
	uint16_t argc;		/* at least 1 */
	uint16_t envc;
	uint32_t flags;		/* SPAWN_RUN_* */
	uint32_t uid;
	uint32_t gid;
	/* 1 << CAP_X: the hook's only capabilities, low and high 32 bits (the
	   struct stays 4-byte aligned like the header it follows) */
	uint32_t caps_lo;
	uint32_t caps_hi;
};

struct spawn_msg_log {
	struct spawn_msg_hdr hdr;
	int32_t to_syslog;
	int32_t verbosity;
};

struct spawn_msg_reply {
	struct spawn_msg_hdr hdr;
	int32_t value;
};

/* The largest message: a RUN request with every limit reached. */
#define SPAWN_MSG_MAX	(sizeof(struct spawn_msg_hdr) + sizeof(struct spawn_msg_run) + \
	    2 * (1 + SPAWN_ARGV_MAX + SPAWN_ENV_MAX) + SPAWN_NAME_MAX + \
	    SPAWN_ARGV_BYTES + SPAWN_ENV_BYTES)

/* A RUN request as both ends see it. */
struct spawn_run {
	uint32_t id;
	uint32_t timeout_ms;
	uint32_t flags;		/* SPAWN_RUN_CREDS: the three below apply */
	uint32_t uid;
	uint32_t gid;
	uint64_t caps;
	const char *name;
	int argc;
	char *const *argv;	/* argc words, NULL-terminated */
	int envc;
	char *const *env;	/* envc "NFQT_X=value" words, NULL-terminated */
};

/* Storage for a decoded request: run points into the other fields. */
struct spawn_run_buf {
	struct spawn_run run;
	char name[SPAWN_NAME_MAX + 1];
	char *argv[SPAWN_ARGV_MAX + 1];
	char *env[SPAWN_ENV_MAX + 1];
	char strings[SPAWN_ARGV_BYTES + SPAWN_ENV_BYTES];
};

/*
 * Whether a request stays within the limits above and names only NFQT_*
 * variables. Returns 0, or -1 with errno E2BIG (over a limit) or EINVAL
 * and *errp (may be NULL) pointing at a static message.
 */
int spawn_run_check(const struct spawn_run *run, const char **errp);

/* Build a RUN message in buf; returns its length, or -1 as spawn_run_check(). */
ssize_t spawn_run_encode(const struct spawn_run *run, void *buf, size_t buflen,
    const char **errp);

/*
 * Parse a received RUN message of len bytes into out. Returns 0, or -1
 * with errno EBADMSG (framing), E2BIG or EINVAL and *errp set.
 */
int spawn_run_decode(const void *msg, size_t len, struct spawn_run_buf *out,
    const char **errp);

/*
 * After a read of 0 bytes from a SOCK_SEQPACKET socket: whether the peer
 * closed it (an empty message reads as 0 bytes too).
 */
bool spawn_peer_closed(int fd);

#endif
