/*
 * The spawner protocol's codec (spawn_proto.h): requests and replies built
 * and checked against their sizes and limits, in the style of OpenBSD's
 * imsg. No process logic: the spawner (spawner.c), the privileged parent
 * (priv.c) and the engine's client (spawn_client.c) share it.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "privsep/spawn_proto.h"

#define STR2(x)	#x
#define STR(x)	STR2(x)

static int
spawn_fail(int err, const char *msg, const char **errp)
{
	if (errp != NULL)
		*errp = msg;
	errno = err;
	return -1;
}

/* "NFQT_" [A-Z0-9_]+ "=" anything */
static bool
spawn_env_word_ok(const char *w)
{
	const char *p;

	if (strncmp(w, "NFQT_", 5) != 0)
		return false;
	for (p = w + 5; *p != '='; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	}
	return p > w + 5;
}

static bool
spawn_name_ok(const char *name)
{
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
	}
	return true;
}

static int
spawn_words_size(char *const *words, int n, size_t *total)
{
	int i;

	*total = 0;
	for (i = 0; i < n; i++) {
		if (words[i] == NULL)
			return -1;
		*total += strlen(words[i]) + 1;
	}
	return 0;
}

int
spawn_run_check(const struct spawn_run *run, const char **errp)
{
	size_t total;
	int i;

	if (run->argc < 1 || run->argv == NULL || run->argv[0] == NULL ||
	    run->argv[0][0] == '\0')
		return spawn_fail(EINVAL, "no command", errp);
	/* No PATH search, as the config file promises: what runs is what it names. */
	if (run->argv[0][0] != '/')
		return spawn_fail(EINVAL, "command is not an absolute path", errp);
	if (run->argc > SPAWN_ARGV_MAX)
		return spawn_fail(E2BIG, "more than " STR(SPAWN_ARGV_MAX) " argv words", errp);
	if (spawn_words_size(run->argv, run->argc, &total) < 0)
		return spawn_fail(EINVAL, "argv has fewer words than argc", errp);
	if (total > SPAWN_ARGV_BYTES)
		return spawn_fail(E2BIG, "argv longer than " STR(SPAWN_ARGV_BYTES) " bytes", errp);
	if (run->envc < 0 || (run->envc > 0 && run->env == NULL))
		return spawn_fail(EINVAL, "bad environment count", errp);
	if (run->envc > SPAWN_ENV_MAX)
		return spawn_fail(E2BIG, "more than " STR(SPAWN_ENV_MAX) " variables", errp);
	if (spawn_words_size(run->env, run->envc, &total) < 0)
		return spawn_fail(EINVAL, "environment has fewer words than envc", errp);
	if (total > SPAWN_ENV_BYTES)
		return spawn_fail(E2BIG, "environment longer than " STR(SPAWN_ENV_BYTES) " bytes", errp);
	for (i = 0; i < run->envc; i++) {
		if (!spawn_env_word_ok(run->env[i]))
			return spawn_fail(EINVAL, "a variable that is not NFQT_*=value", errp);
	}
	if (run->name == NULL || !spawn_name_ok(run->name))
		return spawn_fail(EINVAL, "missing name or control characters in it", errp);
	if (strlen(run->name) > SPAWN_NAME_MAX)
		return spawn_fail(E2BIG, "name longer than " STR(SPAWN_NAME_MAX) " bytes", errp);
	if (run->timeout_ms == 0)
		return spawn_fail(EINVAL, "timeout of 0 ms", errp);
	if (run->flags & ~(uint32_t)SPAWN_RUN_CREDS)
		return spawn_fail(EINVAL, "unknown flags", errp);
	return 0;
}

static bool
spawn_put(uint8_t *buf, size_t buflen, size_t *off, const void *p, size_t n)
{
	if (n > buflen - *off)
		return false;
	memcpy(buf + *off, p, n);
	*off += n;
	return true;
}

static bool
spawn_put_string(uint8_t *buf, size_t buflen, size_t *off, const char *s)
{
	size_t n = strlen(s);
	uint16_t len16;

	if (n > UINT16_MAX)
		return false;
	len16 = (uint16_t)n;
	return spawn_put(buf, buflen, off, &len16, sizeof(len16)) &&
	    spawn_put(buf, buflen, off, s, n);
}

ssize_t
spawn_run_encode(const struct spawn_run *run, void *buf, size_t buflen, const char **errp)
{
	struct spawn_msg_hdr hdr = { .type = SPAWN_MSG_RUN, .id = run->id };
	struct spawn_msg_run body;
	size_t off = sizeof(hdr);
	bool ok;
	int i;

	if (spawn_run_check(run, errp) < 0)
		return -1;
	if (buflen < sizeof(hdr))
		return spawn_fail(E2BIG, "request larger than the buffer", errp);
	memset(&body, 0, sizeof(body));
	body.timeout_ms = run->timeout_ms;
	body.argc = (uint16_t)run->argc;
	body.envc = (uint16_t)run->envc;
	body.flags = run->flags;
	body.uid = run->uid;
	body.gid = run->gid;
	body.caps_lo = (uint32_t)run->caps;
	body.caps_hi = (uint32_t)(run->caps >> 32);
	ok = spawn_put(buf, buflen, &off, &body, sizeof(body)) &&
	    spawn_put_string(buf, buflen, &off, run->name);
	for (i = 0; ok && i < run->argc; i++)
		ok = spawn_put_string(buf, buflen, &off, run->argv[i]);
	for (i = 0; ok && i < run->envc; i++)
		ok = spawn_put_string(buf, buflen, &off, run->env[i]);
	if (!ok)
		return spawn_fail(E2BIG, "request larger than the buffer", errp);
	hdr.len = (uint32_t)off;
	memcpy(buf, &hdr, sizeof(hdr));
	return (ssize_t)off;
}

struct spawn_reader {
	const uint8_t *p;
	size_t left;
};

/* One length-prefixed string into dst[0..dstlen), NUL-terminated. */
static int
spawn_get_string(struct spawn_reader *rd, char *dst, size_t dstlen, const char **errp)
{
	uint16_t len;

	if (rd->left < sizeof(len))
		return spawn_fail(EBADMSG, "message ends inside a string length", errp);
	memcpy(&len, rd->p, sizeof(len));
	rd->p += sizeof(len);
	rd->left -= sizeof(len);
	if (len > rd->left)
		return spawn_fail(EBADMSG, "string runs past the end of the message", errp);
	if (memchr(rd->p, '\0', len) != NULL)
		return spawn_fail(EINVAL, "NUL byte inside a string", errp);
	if ((size_t)len + 1 > dstlen)
		return spawn_fail(E2BIG, "strings over the request limits", errp);
	memcpy(dst, rd->p, len);
	dst[len] = '\0';
	rd->p += len;
	rd->left -= len;
	return 0;
}

/* n strings into the pool of out, their pointers into words[]. */
static int
spawn_get_words(struct spawn_reader *rd, struct spawn_run_buf *out, size_t *pool,
    char **words, int n, const char **errp)
{
	int i;

	for (i = 0; i < n; i++) {
		words[i] = out->strings + *pool;
		if (spawn_get_string(rd, words[i], sizeof(out->strings) - *pool, errp) < 0)
			return -1;
		*pool += strlen(words[i]) + 1;
	}
	words[n] = NULL;
	return 0;
}

int
spawn_run_decode(const void *msg, size_t len, struct spawn_run_buf *out, const char **errp)
{
	struct spawn_reader rd = { .p = msg, .left = len };
	struct spawn_msg_hdr hdr;
	struct spawn_msg_run body;
	size_t pool = 0;

	if (len < sizeof(hdr) + sizeof(body))
		return spawn_fail(EBADMSG, "request shorter than its fixed part", errp);
	memcpy(&hdr, rd.p, sizeof(hdr));
	memcpy(&body, rd.p + sizeof(hdr), sizeof(body));
	rd.p += sizeof(hdr) + sizeof(body);
	rd.left -= sizeof(hdr) + sizeof(body);
	if (hdr.type != SPAWN_MSG_RUN || hdr.len != len)
		return spawn_fail(EBADMSG, "header does not match the message", errp);
	if (body.argc > SPAWN_ARGV_MAX)
		return spawn_fail(E2BIG, "more than " STR(SPAWN_ARGV_MAX) " argv words", errp);
	if (body.envc > SPAWN_ENV_MAX)
		return spawn_fail(E2BIG, "more than " STR(SPAWN_ENV_MAX) " variables", errp);
	if (spawn_get_string(&rd, out->name, sizeof(out->name), errp) < 0)
		return -1;
	if (spawn_get_words(&rd, out, &pool, out->argv, body.argc, errp) < 0 ||
	    spawn_get_words(&rd, out, &pool, out->env, body.envc, errp) < 0)
		return -1;
	if (rd.left != 0)
		return spawn_fail(EBADMSG, "bytes after the last string", errp);
	out->run.id = hdr.id;
	out->run.timeout_ms = body.timeout_ms;
	out->run.flags = body.flags;
	out->run.uid = body.uid;
	out->run.gid = body.gid;
	out->run.caps = (uint64_t)body.caps_hi << 32 | body.caps_lo;
	out->run.name = out->name;
	out->run.argc = body.argc;
	out->run.argv = out->argv;
	out->run.envc = body.envc;
	out->run.env = out->env;
	return spawn_run_check(&out->run, errp);
}

/*
 * A SOCK_SEQPACKET read of 0 bytes is either an empty message or the end:
 * only a closed peer also shows POLLHUP/POLLRDHUP.
 */
bool
spawn_peer_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };

	if (poll(&pfd, 1, 0) < 0)
		return true;
	return (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}
