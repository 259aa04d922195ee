#include <inttypes.h>
#include <stdint.h>

#include "config/config.h"
#include "config/statefile.h"
#include "core/trigger_knock.h"
#include "engine/knock_state.h"
#include "util/log.h"

int
knock_state_load(struct knock_set *ks)
{
	const struct config_knock *k;
	char why[STATEFILE_WHY_MAX];
	uint64_t next;
	int i, rc;

	for (i = 0; i < knock_set_count(ks); i++) {
		k = knock_set_trigger(ks, i);
		if (k->derive != CONFIG_DERIVE_COUNTER)
			continue;
		next = 0;
		if ((rc = statefile_load(k->state_path, &next, why,
		    sizeof(why))) == -1) {
			log_warnx("knock %s: state: %s", k->name, why);
			return -1;
		}
		if (rc == 1)
			log_info("knock %s: no state file %s yet: counters start "
			    "at 0", k->name, k->state_path);
		knock_set_restore_counter(ks, i, next);
	}
	return 0;
}

static void
knock_result_fail(struct knock_result *r, const struct config_knock *k,
    const char *reason)
{
	if (r->nfailed >= KNOCK_MACHINES_MAX)
		return;
	r->failed[r->nfailed].trigger = k;
	r->failed[r->nfailed++].reason = reason;
}

void
knock_state_commit(struct knock_set *ks, struct knock_result *r)
{
	const struct config_knock *k;
	char why[STATEFILE_WHY_MAX];
	int i, kept = 0;

	for (i = 0; i < r->nopened; i++) {
		k = r->opened[i];
		if (r->commit[i] != 0) {
			/* Used meanwhile: never write a lower counter back. */
			if (r->commit[i] <= knock_set_next_counter(ks, k)) {
				knock_set_commit(ks, k, r->commit[i]);
				knock_result_fail(r, k, "counter-used");
				continue;
			}
			if (statefile_save(k->state_path, r->commit[i], why,
			    sizeof(why)) == -1) {
				log_warnx("knock %s: counter %" PRIu64 " not "
				    "recorded, knock refused: %s", k->name,
				    r->commit[i] - 1, why);
				knock_set_commit_failed(ks, k);
				knock_result_fail(r, k, "state-error");
				continue;
			}
			if (knock_set_commit(ks, k, r->commit[i]) < 0) {
				knock_result_fail(r, k, "counter-used");
				continue;
			}
		}
		r->opened[kept] = k;
		r->commit[kept++] = 0;
	}
	r->nopened = kept;
}
