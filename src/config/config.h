/*
 * Configuration: nfq-trigger.ini parsed with inih into one immutable struct,
 * validated as a whole. Every error is reported as "file:line: message" and
 * all of them are reported, not just the first.
 */
#ifndef NFQT_CONFIG_H
#define NFQT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/match.h"

#define CONFIG_NAME_MAX		32	/* trigger names: [A-Za-z0-9_-], fits nft set names */
#define CONFIG_TABLE_MAX	32
#define CONFIG_KNOCK_FRAMES_MAX	16
/* Distinct ports of a knock: its sequence's and its close sequence's. */
#define CONFIG_KNOCK_PORTS_MAX	(2 * CONFIG_KNOCK_FRAMES_MAX)
#define CONFIG_OPEN_MAX		8
#define CONFIG_GUARD_TRIGGERS_MAX 32	/* triggers that open one service */
#define CONFIG_TRIGGERS_MAX	64
/*
 * Longest line, in bytes without its line end: what Debian's libinih can take
 * in its 200-byte buffer with "\r\n\0". Longer lines are an error, never split.
 */
#define CONFIG_LINE_MAX		197
/* Longest duration (3650d): keeps "now + duration" arithmetic far from overflow. */
#define CONFIG_DURATION_MAX_MS	(3650ULL * 24 * 3600 * 1000)
/* hook_timeout: a day is plenty, and it fits the hook layer's 32-bit ms. */
#define CONFIG_HOOK_TIMEOUT_MAX_MS (24ULL * 3600 * 1000)
/* Bounds of [engine] numbers. */
#define CONFIG_QUEUES_MAX	64	/* queues the engine binds, one socket each */
#define CONFIG_COPY_RANGE_MIN	64
#define CONFIG_COPY_RANGE_MAX	65535
#define CONFIG_MAX_SOURCES_MIN	4	/* both tracker tiers need room */
#define CONFIG_MAX_SOURCES_MAX	(1U << 24)
/* Derived knocks (derive = time | counter): see docs/knock.md. */
#define CONFIG_KEY_LEN		32	/* KEYFILE_KEY_LEN */
#define CONFIG_PATH_MAX		(CONFIG_LINE_MAX + 1)
/* A control socket's path must fit sun_path with its terminating NUL. */
#define CONFIG_SOCKET_PATH_MAX	107
#define CONFIG_PIDFILE_DEFAULT	"/run/nfq-trigger.pid"
#define CONFIG_CONTROL_DEFAULT	"/run/nfq-trigger/control.sock"
#define CONFIG_LOOKAHEAD_MAX	32	/* counters in play: one bit each */
#define CONFIG_STEP_MAX_MS	(24ULL * 3600 * 1000)
/* Fewest different sequences (range size ^ frames) a derived knock may have. */
#define CONFIG_DERIVED_MIN_SEQUENCES 1000000000ULL

/* A transport port on a protocol: "tcp:22". */
struct config_port {
	uint8_t proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
};

/* Destination ports lo..hi (lo <= hi) on one protocol. */
struct config_port_range {
	uint8_t proto;			/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t lo;
	uint16_t hi;
};

/*
 * One frame of a knock sequence, "proto:port[:flags]". A TCP packet matches
 * when (tcp_flags & flags_mask) == flags_value; masks cover the six classic
 * flags f s r p a u only (ECN bits are ignored). UDP frames have mask 0.
 */
struct config_knock_frame {
	struct config_port port;
	uint8_t flags_mask;
	uint8_t flags_value;
	char text[24];			/* as written in the file, for messages */
};

/* An exec hook: argv split from the config line (no shell ever). */
struct config_hook {
	char **argv;			/* NULL-terminated; NULL when not configured */
	int argc;
	char *line;			/* as written, for messages */
	int lineno;			/* where it was written */
};

/*
 * Whom a trigger's hooks run as (docs/hooks.md): hook_user (empty: root)
 * with only the capabilities in hook_caps, a mask of 1 << CAP_X.
 */
#define CONFIG_USER_MAX		32
struct config_run_as {
	char user[CONFIG_USER_MAX + 1];	/* empty: root */
	int user_line;			/* 0: not set */
	uint64_t caps;
	int caps_line;
};

/*
 * Where a guarded service is (docs/knock.md): this host's own (family 0,
 * guarded at the input hook), or a destination behind this gateway
 * (guarded at the forward hook, matched on the destination).
 */
struct config_dest {
	uint8_t family;			/* 0: this host; AF_INET, AF_INET6 */
	struct match_prefix p;		/* the address or prefix */
};

enum config_derive {
	CONFIG_DERIVE_NONE = 0,		/* the sequence is listed in the file */
	CONFIG_DERIVE_TIME,		/* from the key and the current time step */
	CONFIG_DERIVE_COUNTER,		/* from the key and a counter: each once */
};

struct config_knock {
	char name[CONFIG_NAME_MAX + 1];
	int line;			/* line of the [knock NAME] header */
	struct config_knock_frame frames[CONFIG_KNOCK_FRAMES_MAX]; /* listed only */
	int nframes;			/* listed, or derived per sequence */
	enum config_derive derive;
	/* Derived sequences only (derive != CONFIG_DERIVE_NONE): */
	uint8_t key[CONFIG_KEY_LEN];	/* the secret, read from key_path */
	char key_path[CONFIG_PATH_MAX];
	struct config_port_range ports;	/* where the derived frames fall */
	uint64_t step_ms;		/* time: step length, whole seconds */
	uint32_t lookahead;		/* counter: counters accepted from the next */
	char state_path[CONFIG_PATH_MAX]; /* counter: the engine's next counter */
	uint64_t window_ms;		/* runs from the first frame */
	struct config_port open[CONFIG_OPEN_MAX];
	struct config_dest open_dst[CONFIG_OPEN_MAX]; /* where open[i] is */
	int nopen;
	/* knockd's options: frames count only when sent to target, on interface. */
	struct config_dest target;	/* family 0: any address of this host */
	char interface[MATCH_IFNAME_MAX]; /* "": any interface */
	uint64_t allow_timeout_ms;	/* lifetime of an allow-set element */
	/* close_sequence: the source that sends it loses its access. */
	struct config_knock_frame close_frames[CONFIG_KNOCK_FRAMES_MAX];
	int nclose;			/* 0: none */
	/* open_prefix: open the source's /N (0: the address alone). */
	uint8_t open_prefix4;
	uint8_t open_prefix6;
	bool reset_on_wrong;		/* a wrong frame on a knock port resets progress */
	struct config_hook exec;	/* run on success */
	struct config_hook exec_stop;	/* run exec_stop_delay after exec */
	uint64_t exec_stop_delay_ms;
	struct config_run_as run_as;
};

struct config_engine {
	uint16_t queue_first;		/* NFQUEUE numbers queue_first..queue_last */
	uint16_t queue_last;
	int nflog_group;		/* -1: none */
	bool fail_open;			/* NFQA_CFG_F_FAIL_OPEN: accept when the queue is full */
	bool queue_bypass;		/* rule flag: accept when no engine listens */
	uint32_t queue_maxlen;		/* kernel queue length */
	uint32_t copy_range;		/* bytes of each packet copied to us: headers only */
	char table[CONFIG_TABLE_MAX + 1]; /* inet table the engine owns */
	bool manage_rules;		/* no: only create and fill sets, leave chains alone */
	uint32_t max_sources;		/* memory bound for tracked sources */
	uint64_t hook_timeout_ms;	/* a hook still running after this is killed */
	char pidfile[CONFIG_PATH_MAX];	/* daemon mode; "" with pidfile = none */
	char control[CONFIG_SOCKET_PATH_MAX + 1]; /* control socket; "": none */
	/* metrics over HTTP: metrics_family 0 when not configured */
	uint8_t metrics_family;		/* AF_INET or AF_INET6 */
	uint8_t metrics_addr[16];	/* network order */
	uint16_t metrics_port;
	char user[CONFIG_USER_MAX + 1];	/* the engine's; empty: CONFIG_ENGINE_USER */
	int user_line;
};

#define CONFIG_ENGINE_USER	"nfq-trigger"

/* [activity NAME]: hooks on traffic appearing and going idle (docs/activity.md). */
#define CONFIG_HOLD_PACKETS_MAX	4096
#define CONFIG_HOLD_BYTES_MAX	(64U * 1024 * 1024)
#define CONFIG_TTL_MIN_MS	2000	/* flows are sampled once a second */

enum config_source {
	CONFIG_SOURCE_QUEUE = 0,	/* NFQUEUE: inline, packets held while start runs */
	CONFIG_SOURCE_NFLOG,		/* NFLOG: passive, nothing held */
};

struct config_activity {
	char name[CONFIG_NAME_MAX + 1];
	int line;			/* line of the [activity NAME] header */
	struct match match;
	enum config_source source;
	uint64_t ttl_ms;		/* idle this long: stop */
	struct config_hook start;
	struct config_hook stop;	/* argv NULL: none */
	uint32_t hold_packets;		/* held at most while start runs (queue) */
	uint32_t hold_bytes;
	bool start_failure_accept;	/* verdict of held packets when start fails */
	uint64_t retry_after_ms;	/* after a failed start, no new one before this */
	struct config_run_as run_as;
};

/*
 * [count NAME] (docs/count.md): every `every` matching packets run exec
 * (the kernel counts and lets the Nth through, or the engine with path =
 * engine), or a source over `threshold` packets per `period`
 * goes into the trigger's block set for block_timeout (the kernel counts,
 * or the engine with path = engine).
 */
#define CONFIG_ALLOW_MAX	16	/* prefixes never blocked, per trigger */
#define CONFIG_EVERY_MAX	1000000000U
#define CONFIG_THRESHOLD_MAX	1000000U

enum config_count_kind {
	CONFIG_COUNT_EVERY = 0,		/* a hook every N matching packets */
	CONFIG_COUNT_THRESHOLD,		/* a source over N per T is blocked */
};

enum config_count_path {
	CONFIG_PATH_KERNEL = 0,		/* nft meter and block set: no packet reaches us */
	CONFIG_PATH_ENGINE,		/* queued; counted per source in a tracker */
};

/* An address prefix of either family. */
struct config_prefix {
	uint8_t family;			/* AF_INET, AF_INET6 */
	struct match_prefix p;
};

struct config_count {
	char name[CONFIG_NAME_MAX + 1];
	int line;			/* line of the [count NAME] header */
	struct match match;
	enum config_count_kind kind;
	enum config_source source;	/* every: how packets reach the engine */
	uint32_t every;
	uint32_t threshold;		/* more than this many packets ... */
	uint64_t period_ms;		/* ... per this long (whole seconds) */
	uint64_t block_timeout_ms;
	enum config_count_path path;
	struct config_prefix allow[CONFIG_ALLOW_MAX];
	int nallow;
	struct config_hook exec;	/* every: each Nth packet; threshold: each block */
	struct config_run_as run_as;
};

/*
 * [rotate NAME] (docs/rotate.md): new connections that match get a source
 * address from the pool (SNAT in the kernel, each connection keeps its
 * own), or, with mode = passthrough, keep theirs and skip later rotate
 * sections. A pool is listed (at most CONFIG_POOL_MAX addresses per family,
 * small prefixes spelled out) or, per family, one larger prefix from which
 * the kernel picks a random address per connection.
 */
#define CONFIG_POOL_MAX		64
#define CONFIG_POOL_HOST_BITS	6	/* a prefix with more host bits stays a prefix */

enum config_rotate_mode { CONFIG_ROTATE = 0, CONFIG_PASSTHROUGH };
enum config_rotate_policy { CONFIG_ROUND_ROBIN = 0, CONFIG_RANDOM };

struct config_pool {
	uint8_t addr[CONFIG_POOL_MAX][16]; /* network order; IPv4 in the first 4 bytes */
	int n;				/* addresses listed; 0: none of this family */
	bool prefix;			/* addr[0]/prefix_len: a random address in it */
	uint8_t prefix_len;
};

struct config_rotate {
	char name[CONFIG_NAME_MAX + 1];
	int line;
	struct match match;
	enum config_rotate_mode mode;
	enum config_rotate_policy policy;
	struct config_pool pool[2];	/* [0] IPv4, [1] IPv6 */
};

/*
 * [spa NAME] (docs/spa.md): one UDP datagram, authenticated with the
 * trigger's key, opens `open` to its source for allow_timeout. format =
 * nfq-trigger is ours (core/spa.h); format = fwknop is the stock fwknop
 * client's (libfko, src/fwknop/).
 */
#define CONFIG_SPA_CACHE_MIN	16
#define CONFIG_SPA_CACHE_MAX	(1U << 20)
#define CONFIG_SPA_AGE_MAX_MS	(24ULL * 3600 * 1000)
#define CONFIG_FKO_KEY_MAX	64	/* decoded bytes of a fwknop key */
#define CONFIG_FKO_KEY_MIN	16	/* KEY_BASE64: Rijndael */
#define CONFIG_FKO_HMAC_MIN	32	/* HMAC_KEY_BASE64: HMAC-SHA256 */

enum config_spa_format {
	CONFIG_SPA_NATIVE = 0,		/* ours: docs/spa.md */
	CONFIG_SPA_FWKNOP,		/* fwknop's, through libfko */
};

struct config_spa {
	char name[CONFIG_NAME_MAX + 1];
	int line;			/* line of the [spa NAME] header */
	enum config_spa_format format;
	struct config_port port;	/* where the packets come: udp only */
	char key_path[CONFIG_PATH_MAX];
	uint8_t key[CONFIG_KEY_LEN];	/* native: the MAC key */
	uint8_t fko_key[CONFIG_FKO_KEY_MAX];	/* fwknop: KEY_BASE64 */
	int fko_key_len;
	uint8_t fko_hmac[CONFIG_FKO_KEY_MAX];	/* fwknop: HMAC_KEY_BASE64 */
	int fko_hmac_len;
	struct config_port open[CONFIG_OPEN_MAX];
	int nopen;
	uint64_t allow_timeout_ms;
	uint64_t max_age_ms;		/* a packet older than this opens nothing */
	bool allow_address;		/* the packet may name another address */
	uint32_t replay_cache;		/* packets remembered while they are fresh */
};

struct config {
	char *path;
	struct config_engine engine;
	struct config_knock *knocks;
	int nknocks;
	struct config_activity *activities;
	int nactivities;
	struct config_count *counts;
	int ncounts;
	struct config_rotate *rotates;
	int nrotates;
	struct config_spa *spas;
	int nspas;
};

/*
 * Load and validate a file. On any error, prints every one of them to errs
 * (NULL: discard) as "path:line: message", stores their count in *nerrors
 * and returns NULL. Checks that the file is not writable by anyone but its
 * root owner (it names commands that run as root) unless check_owner is false.
 * Key files named by `key` are read here too; with check_owner they must
 * belong to root and grant nothing to group and others.
 */
struct config *config_load(const char *path, bool check_owner, FILE *errs, int *nerrors);

/* Frees cfg and wipes the keys it holds. */
void config_free(struct config *cfg);

/* What -C prints: the engine settings and every trigger as understood. */
void config_print(const struct config *cfg, FILE *out);

/* "10s", "5m", "1h", "250ms", "2d" into milliseconds; a bare number is an error. */
int config_parse_duration(const char *text, uint64_t *ms);

/*
 * A knock frame as a sequence lists it, "udp:7000" / "tcp:9000:fa" (a tcp
 * frame without flags is exactly SYN). 0, or -1 with the reason in why
 * (at least 128 bytes).
 */
int config_parse_frame(const char *text, struct config_knock_frame *out,
    char *why, size_t whylen);

/* The engine's user name, and a trigger's hook user name (never empty). */
const char *config_engine_user(const struct config_engine *e);
const char *config_run_as_user(const struct config_run_as *ra);

/*
 * The hook and the run_as of trigger NAME for a hook event name ("open",
 * "close": knock; "start", "stop": activity; "count": count); NULL when
 * there is no such trigger or it has no such hook.
 */
const struct config_hook *config_find_hook(const struct config *cfg,
    const char *trigger, const char *event, const struct config_run_as **ra);

/* Every capability some trigger's hooks run with (hook_caps), 1 << CAP_X. */
uint64_t config_hook_caps(const struct config *cfg);

/* "1500ms" style for printing durations back. */
const char *config_duration_str(uint64_t ms, char *buf, size_t buflen);



#endif
