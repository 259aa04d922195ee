/*
 * Feature probes at start-up, in a throwaway table of our own: the native
 * queue expression, and whether re-adding an element refreshes its timeout.
 */
#include <errno.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "util/log.h"
#include "builders/build.h"
#include "kernel/nft_priv.h"

/*
 * Probes, in a throwaway table of our own.
 */
static int
probe_put_table(struct nft *n, const char *table, uint16_t type)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;

	if ((t = build_table(table)) == NULL)
		return -1;
	nlh = nft_tx_msg(n, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
	    OP_PROBE, 0);
	if (nlh != NULL) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		nft_tx_put(n, nlh);
	}
	nftnl_table_free(t);
	return nlh == NULL ? -1 : 0;
}

/* add element inet TABLE SET { 127.0.0.1 timeout T } */
static int
probe_put_elem(struct nft *n, const char *table, const char *set,
    uint64_t timeout_ms)
{
	uint8_t key[4] = { 127, 0, 0, 1 };
	struct nftnl_set_elem *e;
	struct nlmsghdr *nlh;
	struct nftnl_set *s;

	if ((s = nftnl_set_alloc()) == NULL)
		return -1;
	if ((e = nftnl_set_elem_alloc()) == NULL) {
		nftnl_set_free(s);
		return -1;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof(key));
	nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	nftnl_set_elem_add(s, e);
	if ((nlh = nft_tx_msg(n, NFT_MSG_NEWSETELEM, NLM_F_CREATE, OP_PROBE, 0)) != NULL) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nft_tx_put(n, nlh);
	}
	nftnl_set_free(s);
	return nlh == NULL ? -1 : 0;
}

static int
probe_put_queue_rule(struct nft *n, const char *table)
{
	struct nftnl_chain *c;
	struct nftnl_rule *r;
	struct nftnl_expr *e;
	struct nlmsghdr *nlh;
	int rc = -1;

	c = nftnl_chain_alloc();
	r = nftnl_rule_alloc();
	e = build_expr_queue(0, 0, true, true);
	if (c == NULL || r == NULL || e == NULL)
		goto out;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "probe");
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "probe");
	nftnl_rule_add_expr(r, e);
	e = NULL;
	if ((nlh = nft_tx_msg(n, NFT_MSG_NEWCHAIN, NLM_F_CREATE, OP_PROBE, 0)) == NULL)
		goto out;
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nft_tx_put(n, nlh);
	if ((nlh = nft_tx_msg(n, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
	    OP_PROBE, 0)) == NULL)
		goto out;
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nft_tx_put(n, nlh);
	rc = 0;
out:
	if (c != NULL)
		nftnl_chain_free(c);
	if (r != NULL)
		nftnl_rule_free(r);
	if (e != NULL)
		nftnl_expr_free(e);
	return rc;
}

/*
 * Does the kernel know the queue expression? Offer a rule with one in a
 * batch that ends with a message that must fail (an element for a set that
 * does not exist), so that the kernel aborts it and nothing is created;
 * the rule's own ack says whether the expression exists (ENOENT: no).
 */
int
nft_probe_native_queue(struct nft *n, const char *table)
{
	int rule;

	if (nft_tx_begin(n) < 0 || probe_put_table(n, table, NFT_MSG_NEWTABLE) < 0 ||
	    probe_put_queue_rule(n, table) < 0)
		return -1;
	rule = n->nmsgs - 1;
	if (probe_put_elem(n, table, "absent", 1000) < 0 ||
	    nft_tx_send(n, NULL, NULL) < 0)
		return -1;
	if (n->msgs[n->nmsgs - 1].err == 0) {
		/* Cannot happen; if it did, the table exists now: remove it. */
		if (nft_tx_begin(n) == 0 && probe_put_table(n, table, NFT_MSG_DELTABLE) == 0)
			nft_tx_send(n, NULL, NULL);
	}
	if (n->msgs[rule].err != 0 && n->msgs[rule].err != ENOENT)
		log_warnx("nft: probing the queue expression: %s",
		    strerror(n->msgs[rule].err));
	n->native_queue = n->msgs[rule].err == 0;
	return 0;
}

static int
probe_elem_cb(struct nftnl_set_elem *e, void *data)
{
	uint64_t *timeout = data;

	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT))
		*timeout = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
	return 0;
}

static int
probe_elems_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_set *s = data;

	nftnl_set_elems_nlmsg_parse(nlh, s);
	return MNL_CB_OK;
}

static uint64_t
probe_elem_timeout(struct nft *n, const char *table)
{
	uint32_t req[NFT_MSG_ROOM / 4];
	struct nlmsghdr *nlh;
	struct nftnl_set *s;
	uint64_t timeout = 0;

	if ((s = nftnl_set_alloc()) == NULL)
		return 0;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, "s");
	nlh = nftnl_nlmsg_build_hdr((char *)req, NFT_MSG_GETSETELEM, NFPROTO_INET,
	    NLM_F_DUMP, n->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	if (nft_dump(n, nlh, probe_elems_dump_cb, s) == 0)
		nftnl_set_elem_foreach(s, probe_elem_cb, &timeout);
	nftnl_set_free(s);
	return timeout;
}

/*
 * Does re-adding an element refresh its timeout (Linux 6.12, "set element
 * timeout update")? Older kernels accept the add and change nothing. Add
 * with 1h, re-add with 2h, read it back.
 */
bool
nft_probe_elem_refresh(struct nft *n, const char *table)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	uint64_t timeout = 0;
	bool ok;

	if (nft_tx_begin(n) < 0 || probe_put_table(n, table, NFT_MSG_NEWTABLE) < 0 ||
	    (s = build_set(table, "s", AF_INET, 0, 1)) == NULL)
		return false;
	if ((nlh = nft_tx_msg(n, NFT_MSG_NEWSET, NLM_F_CREATE, OP_PROBE, 0)) != NULL) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		nft_tx_put(n, nlh);
	}
	nftnl_set_free(s);
	ok = nlh != NULL && probe_put_elem(n, table, "s", 3600000) == 0 &&
	    nft_tx_send(n, NULL, NULL) == 0;
	if (ok && nft_tx_begin(n) == 0 && probe_put_elem(n, table, "s", 7200000) == 0 &&
	    nft_tx_send(n, NULL, NULL) == 0)
		timeout = probe_elem_timeout(n, table);
	if (ok && nft_tx_begin(n) == 0 && probe_put_table(n, table, NFT_MSG_DELTABLE) == 0)
		nft_tx_send(n, NULL, NULL);
	return timeout == 7200000;
}
