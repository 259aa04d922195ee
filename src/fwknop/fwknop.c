/*
 * fwknop's SPA datagrams through libfko: see fwknop.h for the order of the
 * checks. libfko is GPL-2.0-or-later, as we are.
 */
#include <dlfcn.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fko.h>
#include <sodium.h>

#include "config/config.h"
#include "core/spa.h"
#include "fwknop/fwknop.h"

#define FWKNOP_TIME_MAX	253402300799LL	/* 9999-12-31 23:59:59 UTC */
#define FWKNOP_LIB	"libfko.so.3"

/* libfko's calls we make, found by fwknop_load(). */
static struct {
	void *handle;
	__typeof__(fko_new_with_data) *new_with_data;
	__typeof__(fko_set_spa_hmac_type) *set_spa_hmac_type;
	__typeof__(fko_verify_hmac) *verify_hmac;
	__typeof__(fko_decrypt_spa_data) *decrypt_spa_data;
	__typeof__(fko_get_spa_message_type) *get_spa_message_type;
	__typeof__(fko_get_timestamp) *get_timestamp;
	__typeof__(fko_get_spa_message) *get_spa_message;
	__typeof__(fko_get_spa_digest) *get_spa_digest;
	__typeof__(fko_errstr) *errstr;
	__typeof__(fko_destroy) *destroy;
} fko;

int
fwknop_load(char *why, size_t whylen)
{
	void *h;
	bool ok;

	if (fko.handle != NULL)
		return 0;
	if ((h = dlopen(FWKNOP_LIB, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(why, whylen, "%s (apt install libfko3)", dlerror());
		return -1;
	}
	/* POSIX's way to a function pointer from dlsym(). */
#define FKO_SYM(field) (*(void **)&fko.field = dlsym(h, "fko_" #field)) != NULL
	ok = FKO_SYM(new_with_data) && FKO_SYM(set_spa_hmac_type) &&
	    FKO_SYM(verify_hmac) && FKO_SYM(decrypt_spa_data) &&
	    FKO_SYM(get_spa_message_type) && FKO_SYM(get_timestamp) &&
	    FKO_SYM(get_spa_message) && FKO_SYM(get_spa_digest) && FKO_SYM(errstr) &&
	    FKO_SYM(destroy);
#undef FKO_SYM
	if (!ok) {
		const char *err = dlerror();

		snprintf(why, whylen, "%s: %s", FWKNOP_LIB, err != NULL ? err :
		    "a call is missing");
		dlclose(h);
		memset(&fko, 0, sizeof(fko));
		return -1;
	}
	fko.handle = h;
	return 0;
}

/* fwknopd takes base64 characters only, and so do we. */
static bool
data_ok(const uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((buf[i] >= 'A' && buf[i] <= 'Z') || (buf[i] >= 'a' &&
		    buf[i] <= 'z') || (buf[i] >= '0' && buf[i] <= '9') ||
		    buf[i] == '+' || buf[i] == '/' || buf[i] == '='))
			return false;
	return true;
}

/* "tcp/22" in s[0..n): one of t's open ports. */
static bool
port_open(const struct config_spa *t, const char *s, size_t n)
{
	char buf[16], *end;
	unsigned long port;
	uint8_t proto;
	int i;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strncmp(buf, "tcp/", 4) == 0)
		proto = IPPROTO_TCP;
	else if (strncmp(buf, "udp/", 4) == 0)
		proto = IPPROTO_UDP;
	else
		return false;
	/* Canonical numbers only: what fwknop sends, nothing to reinterpret. */
	if (buf[4] < '1' || buf[4] > '9')
		return false;
	port = strtoul(buf + 4, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return false;
	for (i = 0; i < t->nopen; i++)
		if (t->open[i].proto == proto && t->open[i].port == port)
			return true;
	return false;
}

/* "ADDR,proto/port[,proto/port...]" into rq's address; every port open. */
static enum spa_reason
access_parse(const struct config_spa *t, const char *msg,
    struct spa_request *rq, char *detail, size_t dlen)
{
	const char *comma = strchr(msg, ','), *p, *next;
	char addr[INET6_ADDRSTRLEN];
	size_t n;

	if (comma == NULL || (size_t)(comma - msg) >= sizeof(addr)) {
		snprintf(detail, dlen, "access request without ADDR,proto/port");
		return SPA_MALFORMED;
	}
	memcpy(addr, msg, (size_t)(comma - msg));
	addr[comma - msg] = '\0';
	if (strcmp(addr, "0.0.0.0") == 0)
		rq->family = 0;		/* the client's -s: the packet's source */
	else if (inet_pton(AF_INET, addr, rq->addr) == 1)
		rq->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, rq->addr) == 1)
		rq->family = AF_INET6;
	else {
		snprintf(detail, dlen, "access request for '%.*s', not an "
		    "address", 40, addr);
		return SPA_MALFORMED;
	}
	for (p = comma + 1; ; p = next + 1) {
		next = strchr(p, ',');
		n = next != NULL ? (size_t)(next - p) : strlen(p);
		if (!port_open(t, p, n)) {
			snprintf(detail, dlen, "asks for '%.*s'", (int)(n > 20 ?
			    20 : n), p);
			return SPA_PORT_NOT_OPEN;
		}
		if (next == NULL)
			break;
	}
	return SPA_OK;
}

/* What the decrypted message asks for: an access request, nothing else. */
static enum spa_reason
message_check(const struct config_spa *t, fko_ctx_t ctx,
    struct spa_request *rq, char *detail, size_t dlen)
{
	char *msg = NULL, *digest = NULL;
	short type = -1;
	time_t ts = 0;
	size_t n;

	/* A time past year 9999 is no clock's: keeps ts * 1000 far from overflow. */
	if (fko.get_spa_message_type(ctx, &type) != FKO_SUCCESS ||
	    fko.get_timestamp(ctx, &ts) != FKO_SUCCESS || ts < 0 ||
	    ts > FWKNOP_TIME_MAX ||
	    fko.get_spa_message(ctx, &msg) != FKO_SUCCESS || msg == NULL ||
	    fko.get_spa_digest(ctx, &digest) != FKO_SUCCESS || digest == NULL) {
		snprintf(detail, dlen, "message fields missing");
		return SPA_MALFORMED;
	}
	if (type == FKO_COMMAND_MSG) {
		snprintf(detail, dlen, "a command message (fwknop -C)");
		return SPA_COMMAND_REFUSED;
	}
	if (type != FKO_ACCESS_MSG && type != FKO_CLIENT_TIMEOUT_ACCESS_MSG) {
		snprintf(detail, dlen, "a NAT request (fwknop -N), type %d", type);
		return SPA_NAT_REFUSED;
	}
	/*
	 * fwknop's timestamp has seconds: take the last millisecond of its
	 * second, so a packet made in the second the engine started in is
	 * not refused as made before it.
	 */
	rq->ts_ms = (uint64_t)ts * 1000 + 999;
	n = strlen(digest);
	if (n > sizeof(rq->digest))
		n = sizeof(rq->digest);
	memcpy(rq->digest, digest, n);
	rq->digest_len = n;
	return access_parse(t, msg, rq, detail, dlen);
}

enum spa_reason
fwknop_decode(const struct config_spa *t, const uint8_t *buf, size_t len,
    struct spa_request *rq, char *detail, size_t dlen)
{
	char data[FWKNOP_DATA_MAX + 1];
	fko_ctx_t ctx = NULL;
	enum spa_reason r;
	int res;

	memset(rq, 0, sizeof(*rq));
	detail[0] = '\0';
	if (fko.handle == NULL) {
		snprintf(detail, dlen, "%s is not loaded", FWKNOP_LIB);
		return SPA_MALFORMED;
	}
	if (len < FWKNOP_DATA_MIN || len > FWKNOP_DATA_MAX) {
		snprintf(detail, dlen, "%zu bytes, fwknop's are %d to %d", len,
		    FWKNOP_DATA_MIN, FWKNOP_DATA_MAX);
		return SPA_BAD_SIZE;
	}
	if (!data_ok(buf, len)) {
		snprintf(detail, dlen, "not base64 text");
		return SPA_MALFORMED;
	}
	memcpy(data, buf, len);
	data[len] = '\0';
	/* Stored only: no key yet, so nothing is decrypted. */
	res = fko.new_with_data(&ctx, data, NULL, 0, FKO_ENC_MODE_CBC, NULL, 0,
	    FKO_HMAC_SHA256);
	if (res != FKO_SUCCESS) {
		snprintf(detail, dlen, "libfko: %s", fko.errstr(res));
		return SPA_MALFORMED;
	}
	/* The HMAC first: nothing unauthenticated reaches the decryption. */
	if ((res = fko.set_spa_hmac_type(ctx, FKO_HMAC_SHA256)) != FKO_SUCCESS ||
	    (res = fko.verify_hmac(ctx, (const char *)t->fko_hmac,
	    t->fko_hmac_len)) != FKO_SUCCESS) {
		snprintf(detail, dlen, "libfko: %s", fko.errstr(res));
		fko.destroy(ctx);
		/* Any failure here, a mismatch or a mangled tag, is a bad MAC. */
		return SPA_BAD_MAC;
	}
	res = fko.decrypt_spa_data(ctx, (const char *)t->fko_key, t->fko_key_len);
	if (res != FKO_SUCCESS) {
		snprintf(detail, dlen, "libfko: %s", fko.errstr(res));
		fko.destroy(ctx);
		return SPA_BAD_DECRYPT;
	}
	r = message_check(t, ctx, rq, detail, dlen);
	fko.destroy(ctx);
	sodium_memzero(data, sizeof(data));
	return r;
}
