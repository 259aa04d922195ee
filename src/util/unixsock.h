/*
 * The control socket's listening end (a unix stream socket, owner-only):
 * made by the engine at start-up, and by the privileged side when a reload
 * moves it somewhere only root may write.
 */
#ifndef NFQT_UNIXSOCK_H
#define NFQT_UNIXSOCK_H

#include <stdbool.h>
#include <sys/un.h>

void unixsock_addr(struct sockaddr_un *sun, const char *path);

/* Whether something accepts connections on path. */
bool unixsock_answers(const char *path);
/* Whether a socket file at path is left with nobody listening (refused). */
bool unixsock_dead(const char *path);

/*
 * Listen on path, mode 0600 from the start; its directory is made 0700 when
 * missing. A socket file nobody answers on is replaced; one that answers
 * belongs to another engine and is left alone. The descriptor
 * (non-blocking, close-on-exec), or -1, logged.
 */
int unixsock_listen(const char *path, int backlog);

#endif
