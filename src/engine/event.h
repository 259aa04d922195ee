/*
 * The event log: one line per decision a trigger takes about a source
 * (opened, failed and why, blocked, a hook ran, failed or was refused), in
 * one fixed format that fail2ban and scripts read (docs/events.md):
 *
 *   event=failed kind=knock trigger=ssh src=192.0.2.7 reason=wrong-order
 *
 * Lines are rate-limited per source and in all, so a flood cannot fill the
 * log; what was held back is counted and reported. The last EVENT_RECENT
 * events are kept for status.
 */
#ifndef NFQT_EVENT_H
#define NFQT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define EVENT_RECENT		32	/* kept for status */
#define EVENT_SOURCES		1024	/* per-source rate slots (a hash table) */
#define EVENT_PER_SOURCE	10	/* lines per source per EVENT_WINDOW_MS */
#define EVENT_PER_WINDOW	200	/* lines in all per EVENT_WINDOW_MS */
#define EVENT_WINDOW_MS		60000
#define EVENT_WORD_MAX		40	/* kind, trigger, reason: one word each */

enum event_what {
	EVENT_OPENED,		/* a source was let in (allow set) */
	EVENT_FAILED,		/* a sequence or packet did not open: reason */
	EVENT_REFUSED,		/* valid, but refused: replay, full cache, ... */
	EVENT_BLOCKED,		/* a source went into a block set */
	EVENT_CLOSED,		/* a close sequence or revoke took access away */
	EVENT_HOOK_RAN,
	EVENT_HOOK_FAILED,
	EVENT_HOOK_REFUSED,
	EVENT_STARTED,		/* activity: start ran */
	EVENT_STOPPED,		/* activity: stop ran */
};

struct event {
	uint64_t at_ms;
	enum event_what what;
	uint8_t family;		/* AF_INET, AF_INET6, 0: no source */
	uint8_t addr[16];
	char kind[EVENT_WORD_MAX];
	char trigger[EVENT_WORD_MAX];
	char reason[EVENT_WORD_MAX];
};

struct event_counters {
	uint64_t logged;
	uint64_t suppressed;	/* held back by the rate limits */
};

struct events;

struct events *events_new(void);
void events_free(struct events *ev);

/*
 * Log one event (reason may be NULL) unless the source or the log as a whole
 * is over its rate; either way it is kept in the recent ring and counted.
 * Words are sanitised: anything but [A-Za-z0-9._:-] becomes '_'.
 */
void event_log(struct events *ev, uint64_t now_ms, enum event_what what,
    const char *kind, const char *trigger, int family, const uint8_t *addr,
    const char *reason);

const char *event_what_name(enum event_what what);

/* The i-th most recent event (0: newest); NULL past the end. */
const struct event *events_recent(const struct events *ev, int i);
const struct event_counters *events_counters(const struct events *ev);

/* Format an event as its log line (without a trailing newline). */
int event_format(const struct event *e, char *buf, size_t len);

#endif
