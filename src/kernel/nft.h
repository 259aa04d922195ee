/*
 * nftables through libnftnl over one libmnl socket: the engine-owned table
 * (sets with timeouts, divert and guard chains generated from the config),
 * and batched element updates. Never runs the nft binary.
 *
 * Layer naming: nft_* calls that touch the kernel say so in their comment;
 * element calls only append to the pending batch until nft_batch_flush().
 *
 * The table's shape is a plan (src/builders/plan.h, docs/nftables.md).
 */
#ifndef NFQT_NFT_H
#define NFQT_NFT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "kernel/netlink.h"

struct nft;

struct nft_counters {
	uint64_t batches_sent;		/* element batches sent (a resend counts again) */
	uint64_t batches_aborted;	/* the kernel refused a message: resent without it */
	uint64_t elems_added;		/* committed adds (a refresh counts too) */
	uint64_t elems_deleted;		/* committed deletes, ENOENT included */
	uint64_t elems_failed;		/* rejected by the kernel, logged with reason */
	uint64_t elems_lost;		/* not sent after every retry: logged */
	uint64_t flush_retries;		/* flushes tried again after a socket failure */
	uint64_t set_full;		/* ENFILE / ENOSPC / E2BIG on add (also in elems_failed) */
	uint64_t table_recreated;	/* the table vanished under us and was rebuilt */
	uint64_t resyncs;		/* run-time reconciliations (ENOENT, monitor) */
	uint64_t monitor_overruns;	/* ENOBUFS on the monitor socket */
	struct nl_rx_counters nl;	/* forged or malformed datagrams, both sockets */
};

/*
 * Open the socket and probe the kernel (kernel): whether it has the native
 * queue expression, and whether re-adding an element refreshes its timeout
 * (Linux 6.12+; older kernels get a delete + add). Logs and returns NULL on
 * failure (start-up).
 */
struct nft *nft_open(void);
/* Flushes what is pending (kernel); the table stays (docs/design.md,
 * decision 1). */
void nft_close(struct nft *n);
bool nft_native_queue(const struct nft *n);
bool nft_elem_refresh(const struct nft *n);

/*
 * Append "add addr to count trigger's block set with a timeout" to the
 * pending batch, as nft_allow_add() does for a knock's allow set.
 */
int nft_block_add(struct nft *n, const char *trigger, int family,
    const uint8_t *addr, uint64_t timeout_ms);

/* Unban: the same for a delete from the block set (absent: done). */
int nft_block_del(struct nft *n, const char *trigger, int family,
    const uint8_t *addr);

/*
 * Create or reconcile the engine's table to the config's shape in one batch
 * (kernel): sets that still exist keep their elements; with manage_rules =
 * no only sets are created. Pending elements are flushed first. The shape
 * is copied: cfg need not outlive the call. A table of another name synced
 * before is left as it is (the caller removes it). Returns 0 or -1 with the
 * reason logged (parts that the kernel accepted are in place).
 */
int nft_table_sync(struct nft *n, const struct config *cfg);

/*
 * Delete a table (kernel); an absent table is not an error. Deleting the
 * synced table also forgets its shape, so nothing recreates it.
 */
int nft_table_delete(struct nft *n, const char *table);

/*
 * Append "add addr to trigger's allow set with a timeout" to the pending
 * batch (memory only: it never waits on the kernel, docs/design.md decision
 * 15, unless the slack past NFT_PENDING_MAX is full too, which a caller
 * that stops reading at nft_batch_full() never reaches).
 * family is AF_INET or AF_INET6, addr in network order. Adding an element
 * that is in the set already refreshes its timeout. timeout_ms 0: none.
 */
int nft_allow_add(struct nft *n, const char *trigger, int family,
    const uint8_t *addr, uint64_t timeout_ms);

/* The same for a delete; an element that is not there counts as deleted. */
int nft_allow_del(struct nft *n, const char *trigger, int family,
    const uint8_t *addr);

/*
 * Switch an activity trigger's sampling (kernel, at once: one small batch).
 * On while the trigger is active: a source/destination pair then reaches
 * the queue once a second at most. Off: every matching packet does, so
 * none gets past while start runs. The state is kept and put back after
 * the table is rebuilt; nft_table_sync() turns every trigger off. Returns
 * 0, or -1: ENOENT, no such queue-mode activity trigger (not logged), or
 * the kernel refused (logged).
 */
int nft_activity_sampling(struct nft *n, const char *trigger, bool on);

int nft_batch_pending(const struct nft *n);

/*
 * NFT_PENDING_MAX changes wait: stop taking packets that may add more
 * until the batch is flushed (the kernel queues them meanwhile).
 */
bool nft_batch_full(const struct nft *n);

/*
 * When the pending batch is due (monotonic ms, as loop_now_ms()): 0 when
 * it may go now, or the end of the back-off after a failed flush.
 */
uint64_t nft_batch_due_ms(const struct nft *n);

/*
 * Send the pending batch, read every ack, log each refused element with the
 * kernel's reason and resend the rest (kernel). A missing table or set is
 * recreated from the synced shape and the batch resent. When the socket
 * fails, the elements not committed stay pending for a retry after a
 * back-off (nft_batch_due_ms()); after NFT_RETRIES_MAX they are counted and
 * logged as lost. Returns the number of elements refused, or -1 when the
 * socket failed (then some are pending still, or lost).
 */
int nft_batch_flush(struct nft *n);

/*
 * A socket subscribed to nftables events: poll it for reading and call
 * nft_monitor_handle(), which rebuilds the table (kernel) when another
 * process deleted it, or one of its sets, chains or rules. Returns 0, or -1
 * when a needed rebuild failed (logged).
 */
int nft_monitor_fd(const struct nft *n);
int nft_monitor_handle(struct nft *n);

const struct nft_counters *nft_counters(const struct nft *n);

#define NFT_PENDING_MAX		4096	/* elements waiting for a flush */
/* Room past it for the rest of one datagram (an NFLOG batch of 64 KiB). */
#define NFT_PENDING_SLACK	1024

#endif
