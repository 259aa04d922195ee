/*
 * What every netlink socket of the engine shares: a non-blocking netfilter
 * netlink socket, and the one receive path (docs/design.md, decision 16:
 * only the kernel speaks on netlink). Queue and log datagrams, nf_tables acks, dumps and
 * events are all read by nl_receive(): a datagram that does not come from
 * the kernel, or whose lengths do not fit, is counted and dropped before a
 * single attribute of it is read.
 */
#ifndef NFQT_NETLINK_H
#define NFQT_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Room for one configuration request and its ack. MNL_SOCKET_BUFFER_SIZE
 * would do but depends on the page size at run time (a VLA on the stack).
 */
#define NL_REQUEST_BUFSIZE	8192

struct mnl_socket;
struct nlmsghdr;

/* What a message callback returns (the values of libmnl's MNL_CB_*). */
#define NL_CB_ERROR	(-1)	/* stop reading; errno says why */
#define NL_CB_STOP	0	/* the awaited answer is complete */
#define NL_CB_OK	1

/* Handles one message; its nlmsg_len is within the datagram. */
typedef int (*nl_msg_fn)(const struct nlmsghdr *nlh, void *arg);

/* Datagrams refused by the receive path, per socket. */
struct nl_rx_counters {
	uint64_t forged;		/* sender not the kernel: dropped whole */
	uint64_t malformed;		/* a length out of bounds: the rest dropped */
	uint64_t unexpected;		/* a reply to another port or sequence: skipped */
	struct timespec logged;		/* last refusal logged (rate limit) */
	uint64_t unlogged;		/* refusals since, not logged */
};

/*
 * One receive: where to dispatch, and what a reply must carry. portid 0
 * takes every message (queue and log datagrams, events); otherwise each
 * message must be addressed to portid with a sequence number in
 * [seq_first, seq_last], or it is skipped (a stale ack of an earlier batch).
 */
struct nl_rx {
	const char *what;		/* for the log: "queue 0", "nft" */
	uint32_t portid;
	uint32_t seq_first, seq_last;
	nl_msg_fn fn;
	void *arg;
	struct nl_rx_counters *c;
	bool stopped;			/* out: fn returned NL_CB_STOP */
	bool failed;			/* out: fn returned NL_CB_ERROR */
};

/*
 * Open and bind a NETLINK_NETFILTER socket, non-blocking, with a receive
 * buffer of rcvbuf bytes (forced past rmem_max when we may). NULL on error.
 */
struct mnl_socket *nl_open_netfilter(size_t rcvbuf);

/*
 * Read one datagram from fd without blocking and run it (nl_datagram_run()).
 * Returns the number of messages handed to rx->fn, 0 for a refused
 * datagram, or -1 with errno: EAGAIN when nothing was there, ENOBUFS after
 * an overrun, or what the callback set with NL_CB_ERROR.
 */
int nl_receive(int fd, void *buf, size_t len, struct nl_rx *rx);

/*
 * Check one datagram that sender (the port id of its source address) sent
 * and hand each message to rx->fn until it stops. truncated: the datagram
 * was longer than len. Every nlmsg_len is bounded by what is left of the
 * datagram before the message is used. The NLMSG_ALIGNTO bytes after the
 * datagram must be readable and zero (libmnl parses an unpadded last
 * message up to its aligned end; nl_receive() keeps that room). Returns as
 * nl_receive() does.
 */
int nl_datagram_run(const void *buf, size_t len, uint32_t sender,
    bool truncated, struct nl_rx *rx);

/*
 * Send nlh with NLM_F_ACK and a fresh sequence number, then read until its
 * ack arrives (1 s at most). Other messages read meanwhile go to dispatch
 * (queued packets: never lost). Returns 0, or -1 with errno set to the
 * kernel's error.
 */
int nl_request(struct mnl_socket *nl, struct nlmsghdr *nlh, void *buf,
    size_t buflen, nl_msg_fn dispatch, void *arg, struct nl_rx_counters *c);

/*
 * The errno an NLMSG_ERROR carries (its error field, negated). A value
 * that is no errno (positive, or INT_MIN, whose negation overflows) is
 * EPROTO.
 */
int nl_errno(int error);

/* Wait up to ms for fd to be readable: 1, 0 on timeout, -1 on error. */
int nl_wait(int fd, int ms);

#endif
