/*
 * The monitor socket: nftables events that take the engine's table, sets,
 * chains or rules away trigger a rebuild.
 */
#include <errno.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "util/log.h"
#include "kernel/nft_priv.h"

/*
 * Monitor: another process deleting our table or a set of it, or changing
 * its chains and rules, may take guards away; rebuild at once. Events
 * caused by our own socket carry its port id and are skipped.
 */
_Static_assert(NFTA_TABLE_NAME == 1 && NFTA_CHAIN_TABLE == 1 &&
    NFTA_SET_TABLE == 1 && NFTA_RULE_TABLE == 1,
    "the table name is attribute 1 of every event we watch");

static int
event_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **table = data;

	if (mnl_attr_get_type(attr) == 1 &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*table = attr;
	return MNL_CB_OK;
}

bool
nft_monitor_event(const struct nft *n, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *table = NULL;
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    nlh->nlmsg_pid == n->portid ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)) ||
	    g->nfgen_family != NFPROTO_INET)
		return false;
	/*
	 * Sets are ours in any case; chains and rules only when we manage
	 * them (then the table is the engine's: changes are undone).
	 */
	switch (type) {
	case NFT_MSG_DELTABLE:
	case NFT_MSG_DELSET:
		break;
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
		if (!n->plan.manage_rules)
			return false;
		break;
	default:
		return false;
	}
	mnl_attr_parse(nlh, sizeof(*g), event_attr_cb, &table);
	return table != NULL && strcmp(mnl_attr_get_str(table), n->plan.table) == 0;
}

int
nft_monitor_fd(const struct nft *n)
{
	return n->mon != NULL ? mnl_socket_get_fd(n->mon) : -1;
}

struct monitor_pass {
	struct nft *n;
	bool rebuild;
};

static int
monitor_msg(const struct nlmsghdr *nlh, void *arg)
{
	struct monitor_pass *m = arg;

	m->rebuild |= m->n->have_plan && nft_monitor_event(m->n, nlh);
	return NL_CB_OK;
}

int
nft_monitor_handle(struct nft *n)
{
	struct monitor_pass m = { .n = n };
	struct nl_rx rx = { .what = "nftables monitor", .fn = monitor_msg, .arg = &m,
	    .c = &n->c.nl };
	int i;

	if (n->mon == NULL)
		return 0;
	/* Bounded, so a flood of datagrams cannot hold the loop here. */
	for (i = 0; i < NFT_MONITOR_BUDGET; i++) {
		if (nl_receive(mnl_socket_get_fd(n->mon), n->rx, NFT_RX_BYTES,
		    &rx) >= 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != ENOBUFS)
			break;
		/* Events were lost: one of them may have been a delete. */
		n->c.monitor_overruns++;
		m.rebuild = true;
	}
	if (!m.rebuild || !n->have_plan || !n->synced)
		return 0;
	log_warnx("nft: table inet %s changed by another process: rebuilding",
	    n->plan.table);
	n->c.resyncs++;
	return nft_sync_plan(n);
}

struct mnl_socket *
nft_monitor_open(void)
{
	struct mnl_socket *mon;
	int group = NFNLGRP_NFTABLES;

	if ((mon = nl_open_netfilter(NFT_MONITOR_RCVBUF)) == NULL)
		return NULL;
	if (mnl_socket_setsockopt(mon, NETLINK_ADD_MEMBERSHIP, &group,
	    sizeof(group)) < 0) {
		mnl_socket_close(mon);
		return NULL;
	}
	return mon;
}
