#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tracker.h"
#include "engine/event.h"
#include "util/log.h"
#include "core/pages.h"
#include "util/random.h"

struct event_slot {
	uint8_t family;
	uint8_t addr[16];
	uint64_t window_ms;	/* start of this source's window */
	uint32_t lines;
};

struct events {
	struct event recent[EVENT_RECENT];
	int next;		/* where the next event goes in recent */
	int nrecent;
	struct event_slot slots[EVENT_SOURCES];
	uint8_t key[TRACKER_HASH_KEY_LEN];
	uint64_t window_ms;	/* the log-wide window */
	uint32_t lines;
	uint64_t suppressed_reported;
	struct event_counters counters;
};

static const char *const what_names[] = {
	[EVENT_OPENED] = "opened",
	[EVENT_FAILED] = "failed",
	[EVENT_REFUSED] = "refused",
	[EVENT_BLOCKED] = "blocked",
	[EVENT_CLOSED] = "closed",
	[EVENT_HOOK_RAN] = "hook-ran",
	[EVENT_HOOK_FAILED] = "hook-failed",
	[EVENT_HOOK_REFUSED] = "hook-refused",
	[EVENT_STARTED] = "started",
	[EVENT_STOPPED] = "stopped",
};

struct events *
events_new(void)
{
	struct events *ev;

	/* A source's rate slot is a page of memory only once one is used. */
	if ((ev = pages_alloc(sizeof(*ev))) == NULL)
		return NULL;
	if (random_bytes(ev->key, sizeof(ev->key)) < 0) {
		events_free(ev);
		return NULL;
	}
	return ev;
}

void
events_free(struct events *ev)
{
	pages_free(ev, sizeof(*ev));
}

const char *
event_what_name(enum event_what what)
{
	if ((unsigned)what >= sizeof(what_names) / sizeof(what_names[0]) ||
	    what_names[what] == NULL)
		return "unknown";
	return what_names[what];
}

/* One word of the line: what a packet or a config name put there cannot
 * forge another field or line. */
static void
word_copy(char *out, const char *in)
{
	size_t i;

	if (in == NULL || *in == '\0')
		in = "-";
	for (i = 0; in[i] != '\0' && i < EVENT_WORD_MAX - 1; i++) {
		char c = in[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
		    c == '-';
		out[i] = ok ? c : '_';
	}
	out[i] = '\0';
}

static size_t
addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* Within the rates? Each source has its own window; the log has one. */
static bool
event_admit(struct events *ev, uint64_t now_ms, int family, const uint8_t *addr)
{
	struct event_slot *s;
	uint64_t h;
	size_t alen = addr_len(family);

	if (now_ms - ev->window_ms >= EVENT_WINDOW_MS) {
		ev->window_ms = now_ms;
		ev->lines = 0;
	}
	if (ev->lines >= EVENT_PER_WINDOW)
		return false;
	if (alen > 0) {
		h = tracker_shorthash(ev->key, addr, alen);
		s = &ev->slots[h % EVENT_SOURCES];
		if (s->family != family || memcmp(s->addr, addr, alen) != 0 ||
		    now_ms - s->window_ms >= EVENT_WINDOW_MS) {
			/* A new source (or one that took over the slot). */
			s->family = (uint8_t)family;
			memcpy(s->addr, addr, alen);
			s->window_ms = now_ms;
			s->lines = 0;
		}
		if (s->lines >= EVENT_PER_SOURCE)
			return false;
		s->lines++;
	}
	ev->lines++;
	return true;
}

int
event_format(const struct event *e, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "-";

	if (addr_len(e->family) > 0)
		inet_ntop(e->family, e->addr, ip, sizeof(ip));
	return snprintf(buf, len, "event=%s kind=%s trigger=%s src=%s reason=%s",
	    event_what_name(e->what), e->kind, e->trigger, ip, e->reason);
}

void
event_log(struct events *ev, uint64_t now_ms, enum event_what what,
    const char *kind, const char *trigger, int family, const uint8_t *addr,
    const char *reason)
{
	struct event *e = &ev->recent[ev->next];
	char line[256];

	memset(e, 0, sizeof(*e));
	e->at_ms = now_ms;
	e->what = what;
	if (addr != NULL && addr_len(family) > 0) {
		e->family = (uint8_t)family;
		memcpy(e->addr, addr, addr_len(family));
	}
	word_copy(e->kind, kind);
	word_copy(e->trigger, trigger);
	word_copy(e->reason, reason);
	ev->next = (ev->next + 1) % EVENT_RECENT;
	if (ev->nrecent < EVENT_RECENT)
		ev->nrecent++;
	if (!event_admit(ev, now_ms, e->family, e->addr)) {
		ev->counters.suppressed++;
		return;
	}
	if (ev->counters.suppressed > ev->suppressed_reported) {
		log_info("event=suppressed kind=- trigger=- src=- reason=%llu-lines-over-rate",
		    (unsigned long long)(ev->counters.suppressed - ev->suppressed_reported));
		ev->suppressed_reported = ev->counters.suppressed;
	}
	event_format(e, line, sizeof(line));
	log_info("%s", line);
	ev->counters.logged++;
}

const struct event *
events_recent(const struct events *ev, int i)
{
	if (i < 0 || i >= ev->nrecent)
		return NULL;
	return &ev->recent[(ev->next - 1 - i + EVENT_RECENT) % EVENT_RECENT];
}

const struct event_counters *
events_counters(const struct events *ev)
{
	return &ev->counters;
}
