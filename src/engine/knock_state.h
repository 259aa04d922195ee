/*
 * The files behind derived knocks (derive = counter): the core decides, the
 * engine reads and writes each trigger's state file. A counter is on disk
 * before its knock opens anything, so a restart never makes it valid again.
 */
#ifndef NFQT_KNOCK_STATE_H
#define NFQT_KNOCK_STATE_H

struct knock_result;
struct knock_set;

/*
 * Read every counter trigger's state file into ks (start-up and reload; a
 * missing file starts at counter 0, logged). -1, logged, when one cannot be
 * read: the set must not be used.
 */
int knock_state_load(struct knock_set *ks);

/*
 * Record the counters r's openings asked for (knock_result.commit), one
 * state file write each, and take out of r what could not be recorded
 * (logged) or was used meanwhile. Writes files: the engine calls it from
 * the loop pass, never from a packet callback.
 */
void knock_state_commit(struct knock_set *ks, struct knock_result *r);

#endif
