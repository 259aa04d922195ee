/*
 * What the files of the nftables layer share (src/kernel/nft*.c): the
 * handle, the batch being built, and the calls between the concerns. Not
 * for use outside src/kernel.
 */
#ifndef NFQT_NFT_PRIV_H
#define NFQT_NFT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

#include "builders/plan.h"
#include "kernel/netlink.h"
#include "kernel/nft.h"

struct iovec;
struct nftnl_batch;
struct nftnl_set;
struct nftnl_set_elem;

/*
 * The largest nf_tables message the kernel sends is a set element dump: its
 * element list is one attribute with a 16-bit length, so a bit over 64 KiB;
 * a page more covers the headers. One receive buffer of that size reads any
 * datagram on either socket.
 */
#define NFT_RX_BYTES		(65536 + 4096)
/*
 * Room guaranteed before building one message: libnftnl writes without a
 * bound. Our largest, a guard rule (13 expressions, a comment, names of at
 * most 256 bytes from a dump) stays under 2 KiB. It is the overrun room of
 * each batch page: a message that ends past the page moves to a new one.
 */
#define NFT_MSG_ROOM		8192
/* A page of a batch (libnftnl's nftnl_batch); the batch is one datagram. */
#define NFT_BATCH_PAGE		(64 * 1024)
/*
 * The kernel runs a batch in our sendmsg and queues one ack per message
 * before it returns. An ack is a small skb whose truesize stays under 1 KiB,
 * so the receive buffer is raised to messages * 1 KiB before a send (as nft
 * does), and element batches are cut at 1024 messages (1 MiB).
 */
#define NFT_ACK_TRUESIZE	1024
#define NFT_SEND_MSGS		1024
/*
 * Adds to one set go this many to a message (a v6 element takes 44 bytes:
 * well inside NFT_MSG_ROOM): the kernel parses a message and queues an
 * ack per 128 elements, not per element. A refused message is sent again
 * an element to a message, so the one at fault is known (decision 3).
 */
#define NFT_ELEMS_PER_MSG	128
/* Events of a 10000-element burst of ours still fit (they are skipped). */
#define NFT_MONITOR_RCVBUF	(4 * 1024 * 1024)
/* Datagrams read per readable monitor socket; the loop comes back for more. */
#define NFT_MONITOR_BUDGET	1024
/*
 * A flush that fails on the socket keeps its elements and tries again
 * after a back-off that doubles from NFT_RETRY_FIRST_MS; after
 * NFT_RETRIES_MAX failures in a row (about 6 s) they are counted lost.
 */
#define NFT_RETRY_FIRST_MS	100
#define NFT_RETRIES_MAX		6
/* A batch is sent at most this often: each resend drops what was refused. */
#define NFT_ROUNDS		4
/* Acks are queued before sendmsg returns: this only guards against a bug. */
#define NFT_ACK_WAIT_MS		2000

enum msg_op {
	OP_ELEM_ADD,
	OP_ELEM_ADD_MANY,	/* adds of pending[ref, ref + nref) to one set */
	OP_ELEM_DEL,
	OP_ELEM_REFRESH_DEL,	/* delete before re-add: kernels before 6.12 */
	OP_SYNC,
	OP_PROBE,
	OP_SAMPLING,
};

/* One message of the batch being sent. */
struct nft_msg {
	uint32_t seq;
	int ref;		/* pending element or sync step it was built from */
	int err;		/* errno from its ack, 0, or -1 while unacked */
	int nref;		/* OP_ELEM_ADD_MANY: pending elements from ref on */
	uint8_t op;		/* enum msg_op */
};

/* Called for each refused message, with the kernel's text when it gave one. */
typedef void (*ack_fn)(struct nft *n, const struct nft_msg *m, const char *why,
    void *arg);

enum elem_state { ELEM_PENDING, ELEM_DONE, ELEM_FAILED };

struct nft_elem {
	uint64_t timeout_ms;
	uint8_t addr[16];
	uint8_t family;		/* AF_INET, AF_INET6 */
	uint8_t del;
	uint8_t state;		/* enum elem_state */
	uint8_t refresh_del;	/* send a delete first; cleared on ENOENT */
	uint8_t alone;		/* in a refused message of many: one of its own */
	int16_t trigger;	/* element target: esets_name() */
};

struct nft {
	struct mnl_socket *nl;
	struct mnl_socket *mon;
	uint32_t portid;
	uint32_t seq;
	uint32_t seq_begin;
	struct nftnl_batch *batch;	/* the batch being built (libnftnl pages) */
	size_t txlen;			/* its bytes so far */
	bool tx_nomem;			/* a page could not be added: do not send */
	struct iovec *iov;		/* one per page, for the sendmsg */
	int iovcap;
	struct nft_msg *msgs;
	int nmsgs, msgcap;
	char *rx;			/* NFT_RX_BYTES */
	int sndbuf, rcvbuf;		/* what we last set */
	bool native_queue;
	bool elem_refresh;
	bool have_plan;
	bool synced;			/* the table was built once */
	struct plan plan;
	/*
	 * One libnftnl set per set the engine adds to, with one element reused
	 * per message: knock allow sets first, then count block sets.
	 */
	struct nftnl_set *esets[CONFIG_TRIGGERS_MAX][2];
	struct nftnl_set_elem *eelems[CONFIG_TRIGGERS_MAX][2];
	/*
	 * Element changes waiting for a flush. NFT_PENDING_MAX of them make
	 * the batch full (sources stop reading until it is sent); the slack
	 * takes the rest of the datagram being read when it filled.
	 */
	struct nft_elem pending[NFT_PENDING_MAX + NFT_PENDING_SLACK];
	int npending;
	/* Flushes that failed on the socket in a row, and when to try again. */
	int retries;
	uint64_t retry_at_ms;
	/* Activity triggers of the plan whose sampling is on (put back after a rebuild). */
	bool sampling[CONFIG_TRIGGERS_MAX];
	struct nft_counters c;
};

/*
 * Transport (nft_batch.c). A batch: nft_tx_begin(), per message
 * nft_tx_msg() then its payload and nft_tx_put(), then nft_tx_send(), which
 * returns 0 when the kernel committed it, 1 when it refused some message
 * (then it committed nothing: fn was called for each refused one), -1 when
 * the socket failed.
 */
void nft_sock_grow(int fd, int opt_force, int opt, int *cur, size_t want);
int nft_tx_begin(struct nft *n);
struct nlmsghdr *nft_tx_msg(struct nft *n, uint16_t type, uint16_t flags,
    uint8_t op, int ref);
void nft_tx_put(struct nft *n, struct nlmsghdr *nlh);
int nft_tx_send(struct nft *n, ack_fn fn, void *arg);
/* Send a dump request and feed every answer to cb until NLMSG_DONE. */
int nft_dump(struct nft *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

/* The libnftnl sets elements are added to (nft_elem.c). */
int nft_esets_build(struct nft *n);
void nft_esets_free(struct nft *n);

/* Rebuild the table to the synced plan (nft_sync.c). */
int nft_sync_plan(struct nft *n);

/* Put every queue-mode trigger's switch where the engine wants it (nft_sampling.c). */
void nft_sampling_apply(struct nft *n);

/* Start-up probes (nft_probe.c); the table name is a throwaway one. */
int nft_probe_native_queue(struct nft *n, const char *table);
bool nft_probe_elem_refresh(struct nft *n, const char *table);

/* Whether one event takes something of the synced table away (nft_monitor.c). */
bool nft_monitor_event(const struct nft *n, const struct nlmsghdr *nlh);
/* A socket subscribed to nftables events, or NULL (nft_monitor.c). */
struct mnl_socket *nft_monitor_open(void);

#endif
