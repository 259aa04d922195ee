/* Knock frames as data (src/core/knock_frame.c). */
#ifndef NFQT_KNOCK_FRAME_H
#define NFQT_KNOCK_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define KNOCK_TCP_FLAGS_SIX	0x3f		/* FIN SYN RST PSH ACK URG */
#define KNOCK_TCP_FLAG_LETTERS	"fsrpau"	/* bit i is letter i */

/*
 * The ports that carry k's frames, for the rules that divert them: a listed
 * sequence gives each distinct proto:port once (lo == hi), in order of first
 * use; a derived one its range; then the close sequence's ports. Returns
 * how many were stored (at most CONFIG_KNOCK_PORTS_MAX, and at most max).
 */
int knock_divert_ports(const struct config_knock *k,
    struct config_port_range *out, int max);

/* Whether proto:port carries one of frames[0..nframes). */
bool knock_frames_have_port(const struct config_knock_frame *frames,
    int nframes, uint8_t proto, uint16_t port);

/*
 * Whether a packet to proto:port is one of k's knock frames (or may be),
 * of its sequence or of its close sequence.
 */
bool knock_has_port(const struct config_knock *k, uint8_t proto,
    uint16_t port);

/* A frame in canonical form, "tcp:9000:fa" / "udp:7000", for messages and -C. */
const char *knock_frame_str(const struct config_knock_frame *f, char *buf,
    size_t buflen);

#endif
