/*
 * The kinds of trigger section, one row each; the code of a kind is in
 * config_<kind>.c. A new kind is a new file and a row here. The order is
 * the order of -C's output and of the checks against [engine].
 */
#include "config/config.h"
#include "config/config_parse.h"

extern const struct cfg_kind cfg_kind_knock;
extern const struct cfg_kind cfg_kind_activity;
extern const struct cfg_kind cfg_kind_count;
extern const struct cfg_kind cfg_kind_rotate;
extern const struct cfg_kind cfg_kind_spa;

const struct cfg_kind *const cfg_kinds[] = {
	&cfg_kind_knock,
	&cfg_kind_activity,
	&cfg_kind_count,
	&cfg_kind_rotate,
	&cfg_kind_spa,
};
const int cfg_nkinds = sizeof(cfg_kinds) / sizeof(cfg_kinds[0]);
