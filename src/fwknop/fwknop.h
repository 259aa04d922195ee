/*
 * The fwknop format of [spa] (format = fwknop): one datagram of the stock
 * fwknop client, verified and decoded by libfko, fwknop's own library.
 *
 * A folder of its own, not src/core: the core links libsodium alone
 * (tools/check-core), and libfko allocates, and on a GnuPG message would
 * even run gpg. Nothing here does I/O of its own; the engine calls it from
 * the packet callback and hands the result to the core (spa_set_admit),
 * which runs the checks both formats share: age, address, replay.
 */
#ifndef NFQT_FWKNOP_H
#define NFQT_FWKNOP_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/spa.h"

/* fwknopd's limits on the datagram (MIN_SPA_DATA_SIZE, MAX_SPA_PACKET_LEN). */
#define FWKNOP_DATA_MIN		140
#define FWKNOP_DATA_MAX		1500

/*
 * Load libfko, once: the engine pays for it (and for gpgme, which it
 * pulls in) only when a trigger has format = fwknop. 0, or -1 with why.
 */
int fwknop_load(char *why, size_t whylen);

/*
 * Check buf[0..len) for trigger t (after fwknop_load()), in this order: size and characters;
 * HMAC under t's HMAC key (before any decryption); Rijndael decryption and
 * decoding; message type (an access request: a command, -C, or a NAT
 * request, -N, is refused); the request "ADDR,proto/port[,proto/port]"
 * against t's open (any other port refused); ADDR 0.0.0.0 (the client's
 * -s) becomes "the packet's source". SPA_OK with rq filled (timestamp,
 * the SPA digest for the replay cache, the address), or the reason; detail
 * (at least 128 bytes) says more for the debug log.
 */
enum spa_reason fwknop_decode(const struct config_spa *t, const uint8_t *buf,
    size_t len, struct spa_request *rq, char *detail, size_t detail_len);

#endif
