/*
 * Knock frames as data: the canonical text of a frame, and which ports a
 * trigger's frames use. Pure; shared by the config checks, the rule
 * builders, the state machine and the client.
 */
#include <netinet/in.h>
#include <stdio.h>

#include "config/config.h"
#include "core/knock_frame.h"

const char *
knock_frame_str(const struct config_knock_frame *f, char *buf, size_t buflen)
{
	char flags[8];
	size_t i, n = 0;

	if (f->port.proto != IPPROTO_TCP) {
		snprintf(buf, buflen, "udp:%u", f->port.port);
		return buf;
	}
	if (f->flags_mask == 0)
		flags[n++] = 'i';
	else if (f->flags_value == 0)
		flags[n++] = 'n';
	else if ((f->flags_value & KNOCK_TCP_FLAGS_SIX) == KNOCK_TCP_FLAGS_SIX)
		flags[n++] = 'x';
	else
		for (i = 0; i < 6; i++)
			if (f->flags_value & (1U << i))
				flags[n++] = KNOCK_TCP_FLAG_LETTERS[i];
	flags[n] = '\0';
	snprintf(buf, buflen, "tcp:%u:%s", f->port.port, flags);
	return buf;
}

/* Each distinct proto:port of frames[0..n) not in out[0..*np) yet. */
static void
divert_add_frames(const struct config_knock_frame *frames, int nframes,
    struct config_port_range *out, int *np, int max)
{
	const struct config_port *fp;
	int i, j;

	for (i = 0; i < nframes && i < CONFIG_KNOCK_FRAMES_MAX && *np < max;
	    i++) {
		fp = &frames[i].port;
		for (j = 0; j < *np; j++)
			if (out[j].proto == fp->proto && out[j].lo == fp->port &&
			    out[j].hi == fp->port)
				break;
		if (j < *np)
			continue;
		out[*np].proto = fp->proto;
		out[*np].lo = out[*np].hi = fp->port;
		(*np)++;
	}
}

int
knock_divert_ports(const struct config_knock *k,
    struct config_port_range *out, int max)
{
	int n = 0;

	if (k->derive != CONFIG_DERIVE_NONE) {
		if (max < 1)
			return 0;
		out[n++] = k->ports;
	} else
		divert_add_frames(k->frames, k->nframes, out, &n, max);
	divert_add_frames(k->close_frames, k->nclose, out, &n, max);
	return n;
}

bool
knock_frames_have_port(const struct config_knock_frame *frames, int nframes,
    uint8_t proto, uint16_t port)
{
	int i;

	for (i = 0; i < nframes && i < CONFIG_KNOCK_FRAMES_MAX; i++)
		if (frames[i].port.proto == proto && frames[i].port.port == port)
			return true;
	return false;
}

bool
knock_has_port(const struct config_knock *k, uint8_t proto,
    uint16_t port)
{
	if (knock_frames_have_port(k->close_frames, k->nclose, proto, port))
		return true;
	if (k->derive != CONFIG_DERIVE_NONE)
		return k->ports.proto == proto && port >= k->ports.lo &&
		    port <= k->ports.hi;
	return knock_frames_have_port(k->frames, k->nframes, proto, port);
}
