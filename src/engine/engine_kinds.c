/*
 * The kinds of trigger the engine runs, one row each; the glue of a kind
 * is in engine_<kind>.c. A new kind is a new file and a row here. The
 * order is the order a queued packet meets them: a knock frame is dropped
 * before the others see it, an SPA datagram too; a packet that a count chain queued still
 * counts as activity traffic, and the count's verdict is the one that stands.
 */
#include "engine/engine_priv.h"

extern const struct engine_kind engine_kind_knock;
extern const struct engine_kind engine_kind_spa;
extern const struct engine_kind engine_kind_activity;
extern const struct engine_kind engine_kind_count;

const struct engine_kind *const engine_kinds[] = {
	&engine_kind_knock,
	&engine_kind_spa,
	&engine_kind_activity,
	&engine_kind_count,
};
const int engine_nkinds = sizeof(engine_kinds) / sizeof(engine_kinds[0]);
_Static_assert(sizeof(engine_kinds) / sizeof(engine_kinds[0]) <=
    ENGINE_KINDS_MAX, "ENGINE_KINDS_MAX too small for engine_kinds[]");
