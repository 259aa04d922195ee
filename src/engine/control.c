/*
 * The control socket and its client (control.h). A connection goes
 * through READING (until its request line, or HTTP head, is complete),
 * READY (the loop pass answers it), WRITING (until the reply is out), and
 * is closed; a client that is too slow at either end is timed out.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "engine/control.h"
#include "engine/loop.h"
#include "util/log.h"
#include "util/unixsock.h"

enum client_state { CLIENT_READING, CLIENT_READY, CLIENT_WRITING };

struct control_reply {
	char *body;
	size_t len, cap;
	bool truncated;
	bool failed;
	bool http;
	int http_status;	/* 200, 404, 405 */
	char error[256];
};

struct control_client {
	struct control *c;
	int fd;
	bool http;
	enum client_state state;
	uint64_t deadline;
	char in[CONTROL_HTTP_MAX + 1];
	size_t inlen;
	char head[512];		/* "ok\n", or the HTTP status line and headers */
	size_t headlen;
	size_t sent;		/* of head, then body */
	struct control_reply reply;
};

struct control {
	struct loop *loop;
	control_fn fn;
	void *arg;
	int unix_fd;
	int http_fd;
	char path[CONFIG_SOCKET_PATH_MAX + 1];
	uint8_t http_family;
	uint8_t http_addr[16];
	uint16_t http_port;
	struct control_client *clients[CONTROL_CLIENTS_MAX];
	uint64_t served;
	uint64_t refused;
};

/* --- replies ----------------------------------------------------------- */

static void __attribute__((format(printf, 2, 0)))
reply_vprintf(struct control_reply *r, const char *fmt, va_list ap)
{
	va_list copy;
	size_t want;
	char *p;
	int n;

	if (r->truncated)
		return;
	va_copy(copy, ap);
	n = vsnprintf(r->body == NULL ? NULL : r->body + r->len,
	    r->body == NULL ? 0 : r->cap - r->len, fmt, copy);
	va_end(copy);
	if (n < 0)
		return;
	if (r->body != NULL && (size_t)n < r->cap - r->len) {
		r->len += (size_t)n;
		return;
	}
	want = r->len + (size_t)n + 1;
	if (want > CONTROL_REPLY_MAX) {
		r->truncated = true;
		return;
	}
	if (want < r->cap * 2)
		want = r->cap * 2;
	if (want < 4096)
		want = 4096;
	if (want > CONTROL_REPLY_MAX)
		want = CONTROL_REPLY_MAX;
	if ((p = realloc(r->body, want)) == NULL) {
		r->truncated = true;
		return;
	}
	r->body = p;
	r->cap = want;
	vsnprintf(r->body + r->len, r->cap - r->len, fmt, ap);
	r->len += (size_t)n;
}

void
control_printf(struct control_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_vprintf(r, fmt, ap);
	va_end(ap);
}

void
control_fail(struct control_reply *r, const char *fmt, ...)
{
	va_list ap;
	char *nl;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	/* One line: the client reads the error from the first. */
	while ((nl = strchr(r->error, '\n')) != NULL)
		*nl = ' ';
	r->failed = true;
}

bool
control_reply_http(const struct control_reply *r)
{
	return r->http;
}

/* --- clients ------------------------------------------------------------ */

static void
client_close(struct control_client *cl)
{
	struct control *c = cl->c;
	int i;

	loop_del_fd(c->loop, cl->fd);
	close(cl->fd);
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i] == cl)
			c->clients[i] = NULL;
	free(cl->reply.body);
	free(cl);
}

/* Write what the socket takes; 1 when all is out, 0 when more is due, -1 on error. */
static int
client_write(struct control_client *cl)
{
	const char *p;
	size_t total = cl->headlen + cl->reply.len, off, left;
	ssize_t n;

	while (cl->sent < total) {
		if (cl->sent < cl->headlen) {
			p = cl->head + cl->sent;
			left = cl->headlen - cl->sent;
		} else {
			off = cl->sent - cl->headlen;
			p = cl->reply.body + off;
			left = cl->reply.len - off;
		}
		n = send(cl->fd, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		cl->sent += (size_t)n;
	}
	return 1;
}

static void
client_send(struct control_client *cl)
{
	int rc = client_write(cl);

	if (rc != 0) {
		client_close(cl);
		return;
	}
	if (cl->state != CLIENT_WRITING) {
		cl->state = CLIENT_WRITING;
		cl->deadline = loop_now_ms() + CONTROL_REPLY_MS;
		if (loop_fd_events(cl->c->loop, cl->fd, false, true) < 0) {
			log_warn("control: client");
			client_close(cl);
		}
	}
}

/* A request the engine never sees: too long, badly formed. */
static void
client_refuse(struct control_client *cl, const char *why)
{
	cl->c->refused++;
	cl->reply.http = cl->http;
	cl->reply.http_status = 400;
	control_fail(&cl->reply, "%s", why);
	cl->state = CLIENT_READY;
}

/* Whether the request is complete; HTTP: the head ends with an empty line. */
static bool
client_complete(struct control_client *cl)
{
	cl->in[cl->inlen] = '\0';
	if (cl->http)
		return strstr(cl->in, "\r\n\r\n") != NULL || strstr(cl->in, "\n\n") != NULL;
	return memchr(cl->in, '\n', cl->inlen) != NULL;
}

static void
client_read(struct control_client *cl)
{
	size_t max = cl->http ? CONTROL_HTTP_MAX : CONTROL_REQUEST_MAX;
	ssize_t n;

	/* The request is in; the pass answers it, and reading is over. */
	if (cl->state != CLIENT_READING)
		return;
	n = recv(cl->fd, cl->in + cl->inlen, max - cl->inlen, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(cl);
		return;
	}
	cl->inlen += (size_t)n;
	if (client_complete(cl))
		cl->state = CLIENT_READY;
	else if (cl->inlen >= max)
		client_refuse(cl, "request too long");
}

static void
client_io(void *arg)
{
	struct control_client *cl = arg;

	if (cl->state == CLIENT_WRITING) {
		client_send(cl);
		return;
	}
	client_read(cl);
}

static void
control_accept(struct control *c, int lfd, bool http)
{
	struct control_client *cl;
	int fd, i;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < CONTROL_CLIENTS_MAX && c->clients[i] != NULL; i++)
			;
		if (i == CONTROL_CLIENTS_MAX || (cl = calloc(1, sizeof(*cl))) == NULL) {
			/* Over the limit: closed at once, so nobody waits in the backlog. */
			c->refused++;
			close(fd);
			continue;
		}
		cl->c = c;
		cl->fd = fd;
		cl->http = http;
		cl->deadline = loop_now_ms() + CONTROL_REQUEST_MS;
		if (loop_add_fd(c->loop, fd, client_io, cl) < 0) {
			close(fd);
			free(cl);
			continue;
		}
		c->clients[i] = cl;
	}
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		log_warn("control: accept");
}

static void
control_unix_readable(void *arg)
{
	struct control *c = arg;

	control_accept(c, c->unix_fd, false);
}

static void
control_http_readable(void *arg)
{
	struct control *c = arg;

	control_accept(c, c->http_fd, true);
}

/* --- requests ------------------------------------------------------------ */

/* Split the request line into words; -1 when it is not printable text. */
static int
request_words(char *line, char **argv)
{
	char *p, *save = NULL;
	int argc = 0;

	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return -1;
		else if ((unsigned char)*p >= 0x7f)
			return -1;
	for (p = strtok_r(line, " \t", &save); p != NULL; p = strtok_r(NULL, " \t", &save)) {
		if (argc == CONTROL_ARGS_MAX)
			return -1;
		argv[argc++] = p;
	}
	return argc;
}

static void
request_unix(struct control *c, struct control_client *cl)
{
	char *argv[CONTROL_ARGS_MAX + 1] = { NULL }, *nl;
	int argc;

	/* client_complete() saw the newline; a NUL before it is not text. */
	nl = memchr(cl->in, '\n', cl->inlen);
	if (memchr(cl->in, '\0', (size_t)(nl - cl->in)) != NULL) {
		control_fail(&cl->reply, "the request is not one line of words");
		return;
	}
	*nl = '\0';
	if (nl > cl->in && nl[-1] == '\r')
		nl[-1] = '\0';
	argc = request_words(cl->in, argv);
	if (argc < 0)
		control_fail(&cl->reply, "the request is not one line of words");
	else if (argc == 0)
		control_fail(&cl->reply, "empty request");
	else
		c->fn(c->arg, argc, argv, &cl->reply);
}

/* GET /metrics (or /): the metrics; anything else is refused. */
static void
request_http(struct control *c, struct control_client *cl)
{
	char *argv[2] = { (char *)(uintptr_t)"metrics", NULL };
	char *sp1, *sp2;

	cl->reply.http = true;
	cl->reply.http_status = 200;
	sp1 = strchr(cl->in, ' ');
	sp2 = sp1 == NULL ? NULL : strchr(sp1 + 1, ' ');
	if (sp1 == NULL || sp2 == NULL) {
		cl->reply.http_status = 400;
		control_fail(&cl->reply, "bad request");
		return;
	}
	*sp1 = *sp2 = '\0';
	if (strcmp(cl->in, "GET") != 0) {
		cl->reply.http_status = 405;
		control_fail(&cl->reply, "only GET");
		return;
	}
	if (strcmp(sp1 + 1, "/metrics") != 0 && strcmp(sp1 + 1, "/") != 0) {
		cl->reply.http_status = 404;
		control_fail(&cl->reply, "try /metrics");
		return;
	}
	c->fn(c->arg, 1, argv, &cl->reply);
}

static void
reply_head(struct control_client *cl)
{
	struct control_reply *r = &cl->reply;
	const char *reason;
	int n;

	if (r->failed) {
		free(r->body);
		r->body = NULL;
		r->len = r->cap = 0;
	}
	if (!r->http) {
		n = r->failed ? snprintf(cl->head, sizeof(cl->head), "error %s\n", r->error) :
		    snprintf(cl->head, sizeof(cl->head), "ok%s\n", r->truncated ?
		    " (truncated)" : "");
		cl->headlen = n < 0 ? 0 : (size_t)n >= sizeof(cl->head) ?
		    sizeof(cl->head) - 1 : (size_t)n;
		return;
	}
	if (r->failed && r->http_status == 200)
		r->http_status = 500;
	reason = r->http_status == 200 ? "OK" : r->http_status == 404 ? "Not Found" :
	    r->http_status == 405 ? "Method Not Allowed" : r->http_status == 400 ?
	    "Bad Request" : "Internal Server Error";
	if (r->failed)
		control_printf(r, "%s\n", r->error);
	n = snprintf(cl->head, sizeof(cl->head), "HTTP/1.0 %d %s\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", r->http_status,
	    reason, r->len);
	cl->headlen = n < 0 ? 0 : (size_t)n;
}

void
control_run(struct control *c)
{
	struct control_client *cl;
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		if ((cl = c->clients[i]) == NULL || cl->state != CLIENT_READY)
			continue;
		if (!cl->reply.failed) {
			if (cl->http)
				request_http(c, cl);
			else
				request_unix(c, cl);
			c->served++;
		}
		reply_head(cl);
		client_send(cl);
	}
}

uint64_t
control_next_deadline(const struct control *c)
{
	uint64_t next = UINT64_MAX;
	int i;

	if (c == NULL)
		return next;
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i] != NULL && c->clients[i]->deadline < next)
			next = c->clients[i]->deadline;
	return next;
}

void
control_expire(struct control *c, uint64_t now)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i] != NULL && c->clients[i]->deadline <= now) {
			c->refused++;
			client_close(c->clients[i]);
		}
}

void
control_counters(const struct control *c, uint64_t *served, uint64_t *refused)
{
	*served = c == NULL ? 0 : c->served;
	*refused = c == NULL ? 0 : c->refused;
}

/* --- listening ------------------------------------------------------------ */

static int
http_listen(const struct config_engine *ce)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr *sa;
	socklen_t salen;
	char addr[INET6_ADDRSTRLEN];
	int fd, on = 1;

	if (ce->metrics_family == AF_INET6) {
		memcpy(&sin6.sin6_addr, ce->metrics_addr, 16);
		sin6.sin6_port = htons(ce->metrics_port);
		sa = (struct sockaddr *)&sin6;
		salen = sizeof(sin6);
	} else {
		memcpy(&sin.sin_addr, ce->metrics_addr, 4);
		sin.sin_port = htons(ce->metrics_port);
		sa = (struct sockaddr *)&sin;
		salen = sizeof(sin);
	}
	inet_ntop(ce->metrics_family, ce->metrics_addr, addr, sizeof(addr));
	fd = socket(ce->metrics_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("metrics_listen: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, sa, salen) < 0 || listen(fd, CONTROL_CLIENTS_MAX) < 0) {
		log_warn("metrics_listen %s port %u", addr, ce->metrics_port);
		close(fd);
		return -1;
	}
	log_info("metrics: http://%s%s%s:%u/metrics", ce->metrics_family == AF_INET6 ?
	    "[" : "", addr, ce->metrics_family == AF_INET6 ? "]" : "", ce->metrics_port);
	return fd;
}

static void
unix_close(struct control *c)
{
	if (c->unix_fd < 0)
		return;
	loop_del_fd(c->loop, c->unix_fd);
	close(c->unix_fd);
	c->unix_fd = -1;
	if (c->path[0] != '\0' && unlink(c->path) < 0 && errno != ENOENT)
		log_warn("control: %s", c->path);
	c->path[0] = '\0';
}

/*
 * The control socket to path ("": none): fd already listening there, or
 * -1 to make it here. The old one goes only once the new one listens.
 */
static bool
unix_move(struct control *c, const char *path, int fd)
{
	if (path[0] == '\0') {
		if (fd >= 0)
			close(fd);
		unix_close(c);
		return true;
	}
	if (fd < 0 && (fd = unixsock_listen(path, CONTROL_CLIENTS_MAX)) < 0)
		return false;
	if (loop_add_fd(c->loop, fd, control_unix_readable, c) < 0) {
		log_warn("control: %s: not watched", path);
		close(fd);
		unlink(path);
		return false;
	}
	unix_close(c);
	c->unix_fd = fd;
	snprintf(c->path, sizeof(c->path), "%s", path);
	log_info("control: %s", path);
	return true;
}

/*
 * metrics_listen to what ce says; the old one goes once the new one
 * listens. c keeps saying where it listens, so that a move that failed is
 * tried again at the next reload.
 */
static bool
http_move(struct control *c, const struct config_engine *ce)
{
	int fd = -1;

	if (ce->metrics_family != 0) {
		if ((fd = http_listen(ce)) < 0)
			return false;
		if (loop_add_fd(c->loop, fd, control_http_readable, c) < 0) {
			log_warn("metrics: not watched");
			close(fd);
			return false;
		}
	}
	if (c->http_fd >= 0) {
		loop_del_fd(c->loop, c->http_fd);
		close(c->http_fd);
	}
	c->http_fd = fd;
	c->http_family = ce->metrics_family;
	memcpy(c->http_addr, ce->metrics_addr, sizeof(c->http_addr));
	c->http_port = ce->metrics_port;
	return true;
}

static bool
http_differs(const struct control *c, const struct config_engine *ce)
{
	return c->http_family != ce->metrics_family || c->http_port != ce->metrics_port ||
	    memcmp(c->http_addr, ce->metrics_addr, sizeof(c->http_addr)) != 0;
}

struct control *
control_open(struct loop *l, const struct config_engine *ce, control_fn fn, void *arg)
{
	struct control *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->loop = l;
	c->fn = fn;
	c->arg = arg;
	c->unix_fd = c->http_fd = -1;
	/* A failure is logged, never fatal: the engine runs without them. */
	unix_move(c, ce->control, -1);
	http_move(c, ce);
	return c;
}

bool
control_move(struct control *c, const struct config_engine *ce, int unix_fd)
{
	bool ok = true;

	if (control_path_differs(c, ce))
		ok = unix_move(c, ce->control, unix_fd);
	else if (unix_fd >= 0)
		close(unix_fd);
	if (http_differs(c, ce))
		ok = http_move(c, ce) && ok;
	return ok;
}

bool
control_path_differs(const struct control *c, const struct config_engine *ce)
{
	return strcmp(c->path, ce->control) != 0;
}

bool
control_differs(const struct control *c, const struct config_engine *ce)
{
	return c == NULL || control_path_differs(c, ce) || http_differs(c, ce);
}

void
control_close(struct control *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i] != NULL)
			client_close(c->clients[i]);
	unix_close(c);
	if (c->http_fd >= 0) {
		loop_del_fd(c->loop, c->http_fd);
		close(c->http_fd);
	}
	free(c);
}

/* --- the client ------------------------------------------------------------ */

/* The request line, "command arg...\n"; -1 when it cannot be one. */
static int
client_line(char *out, size_t len, const char *command, int argc, char **argv)
{
	size_t used;
	int i, n;

	n = snprintf(out, len, "%s", command);
	if (n < 0 || (size_t)n >= len)
		return -1;
	used = (size_t)n;
	for (i = 0; i < argc; i++) {
		if (strpbrk(argv[i], " \t\r\n") != NULL || argv[i][0] == '\0') {
			fprintf(stderr, "nfq-trigger: '%s': an argument is one word\n", argv[i]);
			return -1;
		}
		n = snprintf(out + used, len - used, " %s", argv[i]);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	if (used + 2 > len || argc + 1 > CONTROL_ARGS_MAX)
		return -1;
	out[used++] = '\n';
	out[used] = '\0';
	return (int)used;
}

static int
client_connect(const char *path)
{
	struct sockaddr_un sun;
	struct timeval tv = { .tv_sec = CONTROL_REPLY_MS / 1000 };
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	unixsock_addr(&sun, path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Print the body; the first line says ok or why not. */
static int
client_reply(int fd)
{
	char buf[8192], first[512];
	size_t flen = 0;
	bool head = true, failed = false;
	ssize_t n, i;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		i = 0;
		while (head && i < n) {
			if (buf[i] == '\n') {
				first[flen] = '\0';
				head = false;
				failed = strncmp(first, "ok", 2) != 0;
				if (failed)
					fprintf(stderr, "nfq-trigger: %s\n",
					    strncmp(first, "error ", 6) == 0 ? first + 6 : first);
				else if (strstr(first, "(truncated)") != NULL)
					fprintf(stderr, "nfq-trigger: reply truncated at %u "
					    "bytes\n", CONTROL_REPLY_MAX);
			} else if (flen < sizeof(first) - 1)
				first[flen++] = buf[i];
			i++;
		}
		if (!head && i < n)
			fwrite(buf + i, 1, (size_t)(n - i), stdout);
	}
	if (n < 0) {
		fprintf(stderr, "nfq-trigger: reading the reply: %s\n", strerror(errno));
		return 1;
	}
	if (head) {
		fprintf(stderr, "nfq-trigger: the engine closed without a reply\n");
		return 1;
	}
	return failed ? 1 : 0;
}

/* A line without its comment (" ;" or " #" onwards) and outer blanks. */
static char *
client_trim(char *s)
{
	char *p, *end;

	for (p = s; *p != '\0'; p++)
		if ((*p == ';' || *p == '#') && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
	    end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/*
 * The socket's path: [engine] control in the file, else the default. Only
 * that key is read, so a file the engine would refuse (being edited, or
 * with keys of root's) still leads to the engine, which then says what is
 * wrong with it. 0, or -1 (told on stderr).
 */
static int
client_socket_path(const char *config_path, char *out, size_t len)
{
	char line[CONFIG_LINE_MAX + 4], *s, *eq;
	bool engine = false;
	FILE *f;

	snprintf(out, len, "%s", CONFIG_CONTROL_DEFAULT);
	if ((f = fopen(config_path, "re")) == NULL) {
		fprintf(stderr, "nfq-trigger: %s: %s\n", config_path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		s = client_trim(line);
		if (*s == '[') {
			engine = strncmp(s, "[engine]", 8) == 0;
			continue;
		}
		if (!engine || (eq = strchr(s, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcmp(client_trim(s), "control") == 0)
			snprintf(out, len, "%s", client_trim(eq + 1));
	}
	fclose(f);
	if (strcmp(out, "none") == 0) {
		fprintf(stderr, "nfq-trigger: %s: control = none: no control socket\n",
		    config_path);
		return -1;
	}
	if (strlen(out) > CONFIG_SOCKET_PATH_MAX) {
		fprintf(stderr, "nfq-trigger: %s: control: longer than a socket path "
		    "can be\n", config_path);
		return -1;
	}
	return 0;
}

int
control_command(const char *config_path, const char *command, int argc, char **argv)
{
	char line[CONTROL_REQUEST_MAX + 1], path[CONFIG_LINE_MAX + 1];
	int fd, len, rc;
	ssize_t n;

	if ((len = client_line(line, sizeof(line), command, argc, argv)) < 0) {
		fprintf(stderr, "nfq-trigger: %s: request too long (%d bytes, %d "
		    "words at most)\n", command, CONTROL_REQUEST_MAX, CONTROL_ARGS_MAX);
		return 2;
	}
	if (client_socket_path(config_path, path, sizeof(path)) < 0)
		return 1;
	if ((fd = client_connect(path)) < 0) {
		fprintf(stderr, "nfq-trigger: cannot reach the engine at %s: %s\n",
		    path, strerror(errno));
		return 1;
	}
	n = write(fd, line, (size_t)len);
	if (n != len) {
		fprintf(stderr, "nfq-trigger: sending the request: %s\n",
		    n < 0 ? strerror(errno) : "short write");
		close(fd);
		return 1;
	}
	shutdown(fd, SHUT_WR);
	rc = client_reply(fd);
	close(fd);
	return rc;
}
