/*
 * nftables through libnftnl over one libmnl socket (docs/nftables.md, and
 * docs/design.md, decisions 1, 3). Everything the engine changes goes out
 * as a batch; every message asks for an ack; a refused message is
 * mapped back to what it was by its sequence number, logged, and the batch
 * is sent again without it.
 *
 * One file per concern, sharing nft_priv.h: nft_batch.c (transport, acks,
 * dumps), nft_elem.c (element queue and flush), nft_sync.c and
 * nft_sync_ops.c (table reconciliation and delete), nft_sampling.c (activity switches),
 * nft_probe.c (feature probes), nft_monitor.c (events); this file opens,
 * closes and answers what the handle holds.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnftnl/batch.h>

#include "util/log.h"
#include "kernel/nft_priv.h"
#include "kernel/nft_test.h"

struct nft *
nft_open(void)
{
	char probe[32];
	struct nft *n;
	int on = 1;

	if ((n = calloc(1, sizeof(*n))) == NULL || (n->rx = malloc(NFT_RX_BYTES)) == NULL) {
		log_warnx("nft: out of memory");
		free(n);
		return NULL;
	}
	if ((n->nl = nl_open_netfilter(NFT_RX_BYTES)) == NULL) {
		log_warn("nft: netlink socket");
		nft_close(n);
		return NULL;
	}
	/* Refusals carry the kernel's words but not a copy of our message. */
	mnl_socket_setsockopt(n->nl, NETLINK_CAP_ACK, &on, sizeof(on));
	/*
	 * Sized now for a full element batch, so that the event loop never
	 * needs setsockopt (only a larger reconciliation batch grows them).
	 */
	n->rcvbuf = NFT_RX_BYTES;
	nft_sock_grow(mnl_socket_get_fd(n->nl), SO_SNDBUFFORCE, SO_SNDBUF, &n->sndbuf,
	    (size_t)NFT_SEND_MSGS * 256);
	nft_sock_grow(mnl_socket_get_fd(n->nl), SO_RCVBUFFORCE, SO_RCVBUF, &n->rcvbuf,
	    (size_t)NFT_SEND_MSGS * NFT_ACK_TRUESIZE + NFT_RX_BYTES);
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t)time(NULL);
	snprintf(probe, sizeof(probe), "nfqt_probe_%ld", (long)getpid());
	if (nft_probe_native_queue(n, probe) < 0) {
		log_warnx("nft: the kernel refused a probe batch in table "
		    "inet %s", probe);
		nft_close(n);
		return NULL;
	}
	n->elem_refresh = nft_probe_elem_refresh(n, probe);
	if ((n->mon = nft_monitor_open()) == NULL)
		log_warn("nft: monitor socket: a deleted table is rebuilt only "
		    "on the next element batch");
	log_info("nft: divert with %s; element timeouts refreshed by %s",
	    n->native_queue ? "the nft queue expression" :
	    "the xtables NFQUEUE target (no nft queue expression in this kernel)",
	    n->elem_refresh ? "re-adding" : "delete and add (kernel before 6.12)");
	return n;
}

void
nft_close(struct nft *n)
{
	if (n == NULL)
		return;
	if (n->nl != NULL && n->npending > 0)
		nft_batch_flush(n);
	nft_esets_free(n);
	if (n->mon != NULL)
		mnl_socket_close(n->mon);
	if (n->nl != NULL)
		mnl_socket_close(n->nl);
	if (n->batch != NULL)
		nftnl_batch_free(n->batch);
	free(n->iov);
	free(n->msgs);
	free(n->rx);
	free(n);
}

bool
nft_native_queue(const struct nft *n)
{
	return n->native_queue;
}

bool
nft_elem_refresh(const struct nft *n)
{
	return n->elem_refresh;
}

void
nft_features_force(struct nft *n, bool native_queue, bool elem_refresh)
{
	n->native_queue = native_queue;
	n->elem_refresh = elem_refresh;
}

const struct nft_counters *
nft_counters(const struct nft *n)
{
	return &n->c;
}

struct nft *
nft_detached(const char *table, bool manage_rules)
{
	struct nft *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	snprintf(n->plan.table, sizeof(n->plan.table), "%s", table);
	n->plan.manage_rules = manage_rules;
	n->have_plan = true;
	n->portid = 4242;		/* events of "our" socket carry it */
	return n;
}

struct monitor_feed {
	struct nft *n;
	bool rebuild;
};

static int
nft_monitor_datagram_msg(const struct nlmsghdr *nlh, void *arg)
{
	struct monitor_feed *m = arg;

	m->rebuild |= nft_monitor_event(m->n, nlh);
	return NL_CB_OK;
}

bool
nft_monitor_datagram(struct nft *n, const void *buf, size_t len,
    uint32_t sender)
{
	struct monitor_feed m = { .n = n };
	struct nl_rx rx = { .what = "nftables monitor", .fn = nft_monitor_datagram_msg,
	    .arg = &m, .c = &n->c.nl };

	nl_datagram_run(buf, len, sender, false, &rx);
	return m.rebuild;
}
