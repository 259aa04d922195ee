/*
 * Derived knock sequences: see knock_otp.h for the construction, which is
 * also documented for other clients in docs/knock.md.
 */
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "config/config.h"
#include "core/knock_frame.h"
#include "core/knock_otp.h"

#define BLOCKS	2	/* of HMAC-SHA256: 4 bytes for each of up to 16 frames */
#define MSG_MAX	(sizeof(KNOCK_OTP_LABEL) + 1 + CONFIG_NAME_MAX + 1 + 8 + 1)

_Static_assert(BLOCKS * crypto_auth_hmacsha256_BYTES >=
    4 * CONFIG_KNOCK_FRAMES_MAX, "two blocks cover every frame");
_Static_assert(CONFIG_KEY_LEN == crypto_auth_hmacsha256_KEYBYTES,
    "a key file's key is an HMAC-SHA256 key");

/* The message without its block byte; returns its length. */
static size_t
otp_message(uint8_t *msg, enum config_derive mode, const char *name,
    uint64_t n)
{
	size_t len = 0, namelen = strnlen(name, CONFIG_NAME_MAX);
	int i;

	memcpy(msg, KNOCK_OTP_LABEL, sizeof(KNOCK_OTP_LABEL));	/* with its NUL */
	len += sizeof(KNOCK_OTP_LABEL);
	msg[len++] = mode == CONFIG_DERIVE_TIME ? 't' : 'c';
	memcpy(msg + len, name, namelen);
	len += namelen;
	msg[len++] = 0;
	for (i = 7; i >= 0; i--)
		msg[len++] = (uint8_t)(n >> (8 * i));
	return len;
}

void
knock_otp_ports(const uint8_t key[CONFIG_KEY_LEN], enum config_derive mode,
    const char *name, uint64_t n, uint16_t lo, uint16_t hi, int nframes,
    uint16_t *ports)
{
	uint8_t msg[MSG_MAX];
	uint8_t out[BLOCKS * crypto_auth_hmacsha256_BYTES];
	uint32_t span = (uint32_t)hi - lo + 1, v;
	size_t len;
	int i;

	len = otp_message(msg, mode, name, n);
	for (i = 0; i < BLOCKS; i++) {
		msg[len] = (uint8_t)i;
		crypto_auth_hmacsha256(out + i * crypto_auth_hmacsha256_BYTES,
		    msg, len + 1, key);
	}
	for (i = 0; i < nframes && i < CONFIG_KNOCK_FRAMES_MAX; i++) {
		v = (uint32_t)out[4 * i] << 24 | (uint32_t)out[4 * i + 1] << 16 |
		    (uint32_t)out[4 * i + 2] << 8 | out[4 * i + 3];
		ports[i] = (uint16_t)(lo + v % span);
	}
	sodium_memzero(out, sizeof(out));
}

void
knock_otp_frames(const struct config_knock *k, uint64_t n,
    struct config_knock_frame *out)
{
	uint16_t ports[CONFIG_KNOCK_FRAMES_MAX];
	int i;

	knock_otp_ports(k->key, k->derive, k->name, n, k->ports.lo, k->ports.hi,
	    k->nframes, ports);
	for (i = 0; i < k->nframes && i < CONFIG_KNOCK_FRAMES_MAX; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].port.proto = k->ports.proto;
		out[i].port.port = ports[i];
		if (k->ports.proto == IPPROTO_TCP) {
			out[i].flags_mask = 0x3f;	/* the six classic flags */
			out[i].flags_value = 0x02;	/* exactly SYN */
		}
		knock_frame_str(&out[i], out[i].text, sizeof(out[i].text));
	}
}

uint64_t
knock_otp_step(const struct config_knock *k, int64_t wall_s)
{
	uint64_t step_s = k->step_ms / 1000;

	if (wall_s < 0 || step_s == 0)
		return 0;
	return (uint64_t)wall_s / step_s;
}
