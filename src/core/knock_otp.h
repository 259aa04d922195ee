/*
 * Derived knock sequences (derive = time | counter): the frames of sequence
 * n, where n is a time step or a counter, computed from the trigger's key.
 * The engine and nfq-knock share this code, so they agree by construction.
 *
 * Sequence n of a trigger is
 *
 *   block_j = HMAC-SHA256(key, "nfq-trigger knock v1" 0x00 MODE NAME 0x00
 *                             n_be64 j)      j = 0, 1 (a byte)
 *   v_i     = bytes 4i..4i+3 of block_0 || block_1, big-endian
 *   port_i  = lo + v_i mod (hi - lo + 1)      i = 0 .. frames-1
 *
 * MODE is the byte 't' (time) or 'c' (counter), NAME the trigger's name,
 * n_be64 n as 8 bytes big-endian. 32-bit values keep the modulo's bias
 * below 2^-16. tcp frames are exactly SYN; udp frames carry any payload.
 * Two frames may share a port. A time step is floor(time(2) / step).
 * See docs/knock.md.
 *
 * Pure: no I/O, no clock. libsodium must be initialised (sodium_init()).
 */
#ifndef NFQT_KNOCK_OTP_H
#define NFQT_KNOCK_OTP_H

#include <stdint.h>

#include "config/config.h"

#define KNOCK_OTP_LABEL		"nfq-trigger knock v1"

/*
 * The nframes ports (nframes <= CONFIG_KNOCK_FRAMES_MAX, lo <= hi) of
 * sequence n for the trigger called name, in mode CONFIG_DERIVE_TIME or
 * CONFIG_DERIVE_COUNTER.
 */
void knock_otp_ports(const uint8_t key[CONFIG_KEY_LEN], enum config_derive mode,
    const char *name, uint64_t n, uint16_t lo, uint16_t hi, int nframes,
    uint16_t *ports);

/* Sequence n of the derived trigger k: k->nframes frames into out. */
void knock_otp_frames(const struct config_knock *k, uint64_t n,
    struct config_knock_frame *out);

/* The time step that wall-clock second wall_s (time(2)) falls in, for k. */
uint64_t knock_otp_step(const struct config_knock *k, int64_t wall_s);

#endif
