/*
 * The engine <-> privileged side control protocol (docs/design.md,
 * Decision 2): what the unprivileged engine cannot do itself, asked for
 * one request at a time over a SOCK_SEQPACKET socketpair, each answered
 * by PRIV_MSG_OK or PRIV_MSG_ERR. Every message is one struct priv_msg of
 * exactly its size, checked on receipt (OpenBSD imsg style); text is
 * NUL-terminated inside the message. Hooks travel on a socketpair of
 * their own (spawn_proto.h).
 *
 * CONFIG	(re)load the config; arg 1: a reload, which takes effect in
 *		the privileged side at COMMIT (ABORT drops it). OK: uid, gid
 *		and text the [engine] user; ERR: arg the number of errors.
 * OPEN		open text (a path) as config_file_kind arg. OK carries the
 *		descriptor (SCM_RIGHTS).
 * STATE_LOAD	the counter in the state file text. OK: value; arg 1 when
 *		the file does not exist yet.
 * STATE_SAVE	value into the state file text.
 * LISTEN	a control socket listening at text, made as root (a reload
 *		moved it where the engine's user may not write). OK carries
 *		the descriptor.
 * Only the config file, key files, state files and control socket that
 * the loaded (or pending) config names are opened, read, written or made;
 * anything else is ERR.
 */
#ifndef NFQT_PRIV_PROTO_H
#define NFQT_PRIV_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PRIV_TEXT_MAX	512		/* paths and reasons, NUL included */
#define PRIV_TIMEOUT_MS	30000		/* the engine's wait for an answer */

enum priv_msg_type {
	PRIV_MSG_CONFIG = 1,
	PRIV_MSG_COMMIT,
	PRIV_MSG_ABORT,
	PRIV_MSG_OPEN,
	PRIV_MSG_STATE_LOAD,
	PRIV_MSG_STATE_SAVE,
	PRIV_MSG_LISTEN,
	PRIV_MSG_OK,
	PRIV_MSG_ERR,
};

struct priv_msg {
	uint32_t type;			/* enum priv_msg_type */
	uint32_t len;			/* sizeof(struct priv_msg) */
	uint32_t arg;
	uint32_t uid;
	uint32_t gid;
	uint32_t pad;
	uint64_t value;
	char text[PRIV_TEXT_MAX];
};

/* A message of type with text (may be NULL), ready to send. */
void priv_msg_init(struct priv_msg *m, enum priv_msg_type type, const char *text);

/*
 * Send m, with fd (-1: none) as SCM_RIGHTS. Returns 0, or -1 with errno.
 */
int priv_msg_send(int sock, const struct priv_msg *m, int fd);

/*
 * Receive one message into m, and a passed descriptor into *fdp (-1 when
 * none; NULL: any is closed). Returns 1, 0 when the peer has closed, -1
 * with errno (EAGAIN on a non-blocking socket, EBADMSG when the message
 * is not exactly a struct priv_msg of a known type with its text
 * terminated: it is dropped, descriptors closed).
 */
int priv_msg_recv(int sock, struct priv_msg *m, int *fdp);

#endif
