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

int
knock_divert_ports(const struct config_knock *k,
    struct config_port_range *out, int max)
{
	const struct config_port *fp;
	int i, j, n = 0;

	if (k->derive != CONFIG_DERIVE_NONE) {
		if (max < 1)
			return 0;
		out[0] = k->ports;
		return 1;
	}
	for (i = 0; i < k->nframes && i < CONFIG_KNOCK_FRAMES_MAX && n < max;
	    i++) {
		fp = &k->frames[i].port;
		for (j = 0; j < n; j++)
			if (out[j].proto == fp->proto && out[j].lo == fp->port)
				break;
		if (j < n)
			continue;
		out[n].proto = fp->proto;
		out[n].lo = out[n].hi = fp->port;
		n++;
	}
	return n;
}

bool
knock_has_port(const struct config_knock *k, uint8_t proto,
    uint16_t port)
{
	int i;

	if (k->derive != CONFIG_DERIVE_NONE)
		return k->ports.proto == proto && port >= k->ports.lo &&
		    port <= k->ports.hi;
	for (i = 0; i < k->nframes && i < CONFIG_KNOCK_FRAMES_MAX; i++)
		if (k->frames[i].port.proto == proto &&
		    k->frames[i].port.port == port)
			return true;
	return false;
}

