/*
 * Activity sampling switches (kernel, one small batch each).
 */
#include <errno.h>
#include <string.h>

#include <linux/netfilter/nf_tables.h>

#include <libnftnl/set.h>

#include "util/log.h"
#include "kernel/nft_priv.h"

/*
 * Sampling switches of activity triggers: the one element of
 * <trigger>_active. One message per batch, since a batch is all or nothing
 * and switching off an element that is not there is refused (ENOENT), which
 * is fine.
 */
static void
sampling_ack(struct nft *n, const struct nft_msg *m, const char *why, void *arg)
{
	const struct plan_activity *a = &n->plan.activities[m->ref];

	(void)arg;
	if (!n->sampling[m->ref] && m->err == ENOENT)
		return;
	log_warnx("nft: sampling %s for activity %s (set inet %s %s): %s%s%s",
	    n->sampling[m->ref] ? "on" : "off", a->name, n->plan.table, a->active,
	    strerror(m->err), *why ? ": " : "", why);
}

/* 0, or the errno of the refusal (ENOENT off is 0), or -1: socket. */
static int
sampling_send(struct nft *n, int i)
{
	const struct plan_activity *a = &n->plan.activities[i];
	uint32_t key = NFT_ACTIVE_KEY;
	bool on = n->sampling[i];
	struct nftnl_set_elem *e;
	struct nftnl_set *set;
	struct nlmsghdr *nlh;
	int rc;

	if ((set = nftnl_set_alloc()) == NULL || (e = nftnl_set_elem_alloc()) == NULL) {
		if (set != NULL)
			nftnl_set_free(set);
		return -1;
	}
	nftnl_set_set_str(set, NFTNL_SET_TABLE, n->plan.table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, a->active);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &key, sizeof(key));
	nftnl_set_elem_add(set, e);
	rc = nft_tx_begin(n);
	nlh = rc < 0 ? NULL : nft_tx_msg(n, on ? NFT_MSG_NEWSETELEM :
	    NFT_MSG_DELSETELEM, on ? NLM_F_CREATE : 0, OP_SAMPLING, i);
	if (nlh != NULL) {
		nftnl_set_elems_nlmsg_build_payload(nlh, set);
		nft_tx_put(n, nlh);
	}
	nftnl_set_free(set);
	if (nlh == NULL || (rc = nft_tx_send(n, sampling_ack, NULL)) < 0)
		return -1;
	if (rc == 0 || (!on && n->msgs[0].err == ENOENT))
		return 0;
	return n->msgs[0].err;
}

/* Put every queue-mode trigger's switch where the engine wants it. */
void
nft_sampling_apply(struct nft *n)
{
	int i;

	for (i = 0; i < n->plan.nactivities; i++)
		if (!n->plan.activities[i].nflog)
			sampling_send(n, i);
}

int
nft_activity_sampling(struct nft *n, const char *trigger, bool on)
{
	const struct plan_activity *a;
	int i, rc;

	if (!n->have_plan || (a = plan_activity_find(&n->plan, trigger)) == NULL ||
	    a->nflog) {
		errno = ENOENT;
		return -1;
	}
	i = (int)(a - n->plan.activities);
	n->sampling[i] = on;
	if ((rc = sampling_send(n, i)) == ENOENT) {
		/* The set is gone: rebuild the table, which puts switches back. */
		log_warnx("nft: set %s missing: rebuilding table inet %s",
		    a->active, n->plan.table);
		n->c.resyncs++;
		return nft_sync_plan(n);
	}
	return rc == 0 ? 0 : -1;
}
