/*
 * What the NFQUEUE and NFLOG sources share: a non-blocking netfilter netlink
 * socket and a request that waits for its ack while the socket may already
 * carry packets (they are handed to the caller's dispatcher, never lost).
 */
#ifndef NFQT_NETLINK_H
#define NFQT_NETLINK_H

#include <stddef.h>
#include <stdint.h>

/*
 * Room for one configuration request and its ack. MNL_SOCKET_BUFFER_SIZE
 * would do but depends on the page size at run time (a VLA on the stack).
 */
#define NL_REQUEST_BUFSIZE	8192

struct mnl_socket;
struct nlmsghdr;

/* Handles one message that is not the awaited ack (a queued packet). */
typedef int (*nl_dispatch_fn)(const struct nlmsghdr *nlh, void *arg);

/*
 * Open and bind a NETLINK_NETFILTER socket, non-blocking, with a receive
 * buffer of rcvbuf bytes (forced past rmem_max when we may). NULL on error.
 */
struct mnl_socket *nl_open_netfilter(size_t rcvbuf);

/*
 * Send nlh with NLM_F_ACK and a fresh sequence number, then read until its
 * ack arrives (1 s at most). Other messages read meanwhile go to dispatch.
 * Returns 0, or -1 with errno set to the kernel's error.
 */
int nl_request(struct mnl_socket *nl, struct nlmsghdr *nlh, void *buf,
    size_t buflen, nl_dispatch_fn dispatch, void *arg);

#endif
