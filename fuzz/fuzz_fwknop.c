/*
 * libFuzzer target for the fwknop format (src/fwknop): any bytes must go
 * through fwknop_decode without a memory error, and without opening: only
 * a packet made with the trigger's keys can pass the HMAC. So that the
 * checks after decryption are reached too, the bytes also choose a message
 * type and an access string that libfko encrypts and signs with the
 * trigger's keys; the decoder's answer must agree with them.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fko.h>

#include "config/config.h"
#include "core/spa.h"
#include "fwknop/fwknop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_fwknop: invariant broken: %s\n", #cond); \
		abort();						\
	}								\
} while (0)

static struct config_spa spa;

static void
setup(void)
{
	char why[256];
	int i;

	if (fwknop_load(why, sizeof(why)) < 0) {
		fprintf(stderr, "fuzz_fwknop: %s\n", why);
		abort();
	}
	snprintf(spa.name, sizeof(spa.name), "fw");
	/* The corpus's keys: 32 bytes 0x41.., 64 bytes 0x61... */
	for (i = 0; i < 32; i++)
		spa.fko_key[i] = (uint8_t)(0x41 + i % 26);
	spa.fko_key_len = 32;
	for (i = 0; i < 64; i++)
		spa.fko_hmac[i] = (uint8_t)(0x61 + i % 26);
	spa.fko_hmac_len = 64;
	spa.open[0].proto = IPPROTO_TCP;
	spa.open[0].port = 22;
	spa.open[1].proto = IPPROTO_UDP;
	spa.open[1].port = 53;
	spa.nopen = 2;
}

static void
raw(const uint8_t *data, size_t size)
{
	struct spa_request rq;
	char detail[160];

	(void)fwknop_decode(&spa, data, size, &rq, detail, sizeof(detail));
}

/* A message libfko builds from the bytes, with the trigger's keys. */
static void
made(const uint8_t *data, size_t size)
{
	static const short types[] = { FKO_ACCESS_MSG, FKO_COMMAND_MSG,
	    FKO_NAT_ACCESS_MSG, FKO_CLIENT_TIMEOUT_ACCESS_MSG };
	struct spa_request rq;
	char msg[128], detail[160], *out = NULL;
	enum spa_reason r;
	fko_ctx_t ctx = NULL;
	short type;
	size_t n;

	if (size < 2)
		return;
	type = types[data[0] % 4];
	n = size - 1 < sizeof(msg) - 1 ? size - 1 : sizeof(msg) - 1;
	memcpy(msg, data + 1, n);
	msg[n] = '\0';
	if (fko_new(&ctx) != FKO_SUCCESS)
		return;
	if (fko_set_spa_message_type(ctx, type) != FKO_SUCCESS ||
	    fko_set_spa_message(ctx, msg) != FKO_SUCCESS ||
	    (type == FKO_NAT_ACCESS_MSG &&
	    fko_set_spa_nat_access(ctx, "10.0.0.1,22") != FKO_SUCCESS) ||
	    (type == FKO_CLIENT_TIMEOUT_ACCESS_MSG &&
	    fko_set_spa_client_timeout(ctx, 30) != FKO_SUCCESS) ||
	    fko_set_spa_hmac_type(ctx, FKO_HMAC_SHA256) != FKO_SUCCESS ||
	    fko_spa_data_final(ctx, (const char *)spa.fko_key, spa.fko_key_len,
	    (const char *)spa.fko_hmac, spa.fko_hmac_len) != FKO_SUCCESS ||
	    fko_get_spa_data(ctx, &out) != FKO_SUCCESS || out == NULL) {
		fko_destroy(ctx);
		return;
	}
	r = fwknop_decode(&spa, (const uint8_t *)out, strlen(out), &rq, detail,
	    sizeof(detail));
	/* Signed with the right keys: the HMAC and decryption never fail. */
	CHECK(r != SPA_BAD_MAC && r != SPA_BAD_DECRYPT);
	if (type == FKO_COMMAND_MSG)
		CHECK(r == SPA_COMMAND_REFUSED);
	if (type == FKO_NAT_ACCESS_MSG)
		CHECK(r == SPA_NAT_REFUSED);
	if (r == SPA_OK) {
		CHECK(type == FKO_ACCESS_MSG || type == FKO_CLIENT_TIMEOUT_ACCESS_MSG);
		CHECK(strstr(msg, "tcp/22") != NULL || strstr(msg, "udp/53") != NULL);
		CHECK(rq.digest_len > 0);
	}
	fko_destroy(ctx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (spa.nopen == 0)
		setup();
	raw(data, size);
	made(data, size);
	return 0;
}
