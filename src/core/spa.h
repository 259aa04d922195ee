/*
 * Single-packet authorization (docs/spa.md): one UDP datagram that proves
 * its sender holds a trigger's key opens the trigger's service to it.
 *
 * Our format ("format = nfq-trigger"), all integers big-endian:
 *
 *   off  len  field
 *   0    1    version: 1
 *   1    1    address to open: 0 none (the packet's source), 4 IPv4, 6 IPv6
 *   2    1    N, length of the trigger name: 1..32
 *   3    1    reserved: 0
 *   4    8    time the client made the packet: ms since the Unix epoch
 *   12   16   nonce: random bytes
 *   28   N    trigger name ([A-Za-z0-9_-], no NUL)
 *   28+N A    address to open, network order (A = 0, 4 or 16)
 *   .    32   MAC = HMAC-SHA-512-256(key, "nfq-trigger spa v1" 0x00 ||
 *                   every byte before the MAC)
 *
 * key is the trigger's 32-byte key file (config/keyfile.h). The label keeps
 * a key that also derives knock sequences (knock_otp.h) from ever giving
 * the same MAC to two uses.
 *
 * Checks, cheapest first (spa_set_packet): UDP payload whole in the capture
 * and not a fragment; size and version; layout; trigger name; MAC (constant
 * time); age (no older than max_age, no more than SPA_SKEW_MS ahead of the
 * engine's clock, never before the engine started: Decision 9); the address
 * to open (another address than the source only where the trigger allows
 * it); last the replay cache. Whatever the outcome the caller drops the
 * datagram. The fwknop format is verified outside the core (libfko) and
 * joins at spa_set_admit(): age, address, replay.
 *
 * Pure: no I/O, no clock; times are arguments (wall clock, ms since the
 * epoch). libsodium must be initialised.
 */
#ifndef NFQT_SPA_H
#define NFQT_SPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define SPA_VERSION		1
#define SPA_HEAD_LEN		28
#define SPA_NONCE_LEN		16
#define SPA_MAC_LEN		32	/* crypto_auth_hmacsha512256_BYTES */
#define SPA_LEN_MIN		(SPA_HEAD_LEN + 1 + SPA_MAC_LEN)
#define SPA_LEN_MAX		(SPA_HEAD_LEN + CONFIG_NAME_MAX + 16 + SPA_MAC_LEN)
#define SPA_LABEL		"nfq-trigger spa v1"
/* How far ahead of the engine's clock a client's clock may be. */
#define SPA_SKEW_MS		5000
#define SPA_DIGEST_MAX		64	/* bytes of a packet's digest for the cache */

enum spa_reason {
	SPA_OK = 0,
	SPA_FRAGMENT,		/* a fragment: the datagram is not whole */
	SPA_CAPTURE_SHORT,	/* the queue copied less than the datagram */
	SPA_BAD_SIZE,		/* longer than the header says, or tiny */
	SPA_BAD_VERSION,
	SPA_MALFORMED,		/* header fields out of range */
	SPA_TRUNCATED,		/* shorter than the header says */
	SPA_WRONG_TRIGGER,	/* names another trigger */
	SPA_BAD_MAC,
	SPA_TOO_OLD,		/* older than max_age */
	SPA_FROM_FUTURE,	/* more than SPA_SKEW_MS ahead */
	SPA_BEFORE_START,	/* made before the engine started (Decision 9) */
	SPA_ADDRESS_REFUSED,	/* names an address the trigger does not allow */
	SPA_REPLAY,		/* seen already */
	SPA_CACHE_FULL,		/* the replay cache is full of fresh packets */
	/* fwknop (src/fwknop): */
	SPA_BAD_DECRYPT,	/* HMAC good, decryption or decoding failed */
	SPA_COMMAND_REFUSED,	/* a command message (-C) */
	SPA_NAT_REFUSED,	/* a NAT access request (-N) */
	SPA_PORT_NOT_OPEN,	/* asks for a port the trigger does not open */
	SPA_REASON_MAX
};

/* One word, lower case, dash-separated: the event log's reason. */
const char *spa_reason_name(enum spa_reason r);

/* A packet of our format, as spa_parse() reads it. */
struct spa_msg {
	uint64_t ts_ms;
	uint8_t nonce[SPA_NONCE_LEN];
	char name[CONFIG_NAME_MAX + 1];
	uint8_t family;			/* 0: none, AF_INET, AF_INET6 */
	uint8_t addr[16];
	uint8_t mac[SPA_MAC_LEN];
};

/* The layout alone, no key: SPA_OK or why not. */
enum spa_reason spa_parse(const uint8_t *buf, size_t len, struct spa_msg *out);

/* spa_parse(), then name and MAC under key (constant-time compare). */
enum spa_reason spa_verify(const uint8_t key[CONFIG_KEY_LEN], const char *name,
    const uint8_t *buf, size_t len, struct spa_msg *out);

/*
 * m (name, ts_ms, nonce, family and addr; mac is ignored) as a packet
 * under key into out; returns its length, 0 when m does not fit.
 */
size_t spa_encode(const uint8_t key[CONFIG_KEY_LEN], const struct spa_msg *m,
    uint8_t out[SPA_LEN_MAX]);

/*
 * Replay cache: digests of accepted packets, each kept until its packet
 * would be refused as too old anyway. At most max of them; slots are found
 * by a keyed hash (hash_key: 16 bytes, NULL for a random key). When all max
 * are still fresh, a new packet is refused (SPA_CACHE_FULL): forgetting one
 * would let it be replayed.
 */
struct spa_replay;

struct spa_replay *spa_replay_new(uint32_t max, const uint8_t *hash_key);
void spa_replay_free(struct spa_replay *rc);
/* SPA_OK (remembered until expires_ms), SPA_REPLAY or SPA_CACHE_FULL. */
enum spa_reason spa_replay_add(struct spa_replay *rc, const uint8_t *digest,
    size_t len, uint64_t expires_ms, uint64_t now_ms);
uint32_t spa_replay_count(const struct spa_replay *rc);

/* What a verified packet of either format asks for. */
struct spa_request {
	uint64_t ts_ms;
	uint8_t digest[SPA_DIGEST_MAX];	/* for the replay cache */
	size_t digest_len;
	uint8_t family;			/* address to open; 0: the source */
	uint8_t addr[16];
};

struct spa_result {
	bool mine;			/* on an SPA port: the caller drops it */
	enum spa_reason reason;		/* SPA_OK: open */
	const struct config_spa *trigger;
	int family;			/* the packet's source */
	uint8_t addr[16];
	int open_family;		/* SPA_OK: the address to open */
	uint8_t open_addr[16];
};

struct spa_counters {
	uint64_t packets;
	uint64_t opened;
	uint64_t failed;		/* bad in any way before the cache */
	uint64_t replays;
	uint64_t cache_full;
	uint32_t cached;
};

struct pkt;
struct spa_set;

/*
 * Every [spa] trigger of cfg, each with a replay cache of its replay_cache
 * entries; start_ms is when the engine started (wall clock): no packet made
 * before it opens. hash_key as spa_replay_new(). NULL on failure (ENOMEM).
 * The set keeps pointers into cfg.
 */
struct spa_set *spa_set_new(const struct config *cfg, uint64_t start_ms,
    const uint8_t *hash_key);
void spa_set_free(struct spa_set *s);

/* The trigger whose port p is addressed to, or NULL (not an SPA packet). */
const struct config_spa *spa_set_find(const struct spa_set *s,
    const struct pkt *p);

/*
 * Check the UDP datagram p (its payload in buf[p->payload_offset...]) at
 * wall-clock now_ms. A trigger of our format runs every check here; one of
 * format fwknop stops after the capture checks with reason SPA_OK and
 * out->mine, open_family 0: the caller decodes it and calls spa_set_admit
 * or spa_set_refuse.
 */
void spa_set_packet(struct spa_set *s, const struct pkt *p, const uint8_t *buf,
    uint64_t now_ms, struct spa_result *out);

/* A packet the format adapter verified: age, address, replay. */
void spa_set_admit(struct spa_set *s, const struct config_spa *t,
    const struct pkt *p, const struct spa_request *rq, uint64_t now_ms,
    struct spa_result *out);

/* A packet the format adapter refused for reason r: counted, into out. */
void spa_set_refuse(struct spa_set *s, const struct config_spa *t,
    const struct pkt *p, enum spa_reason r, struct spa_result *out);

int spa_set_count(const struct spa_set *s);
const struct config_spa *spa_set_trigger(const struct spa_set *s, int i);
void spa_set_counters(const struct spa_set *s, int i, struct spa_counters *out);

#endif
