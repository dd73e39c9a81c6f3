/* The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as the PostgreSQL protocol uses
 * it: the client proves it knows the password against the stored verifier only, and the
 * server proves it holds the verifier. No channel binding (the server never offers
 * SCRAM-SHA-256-PLUS). */
#ifndef TARN_GOVERN_SCRAM_H
#define TARN_GOVERN_SCRAM_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t stored_key[32], server_key[32];
    char *auth_prefix; /* client-first-bare "," server-first (caller frees via scram_done) */
    char *nonce;       /* client nonce + server nonce */
    int known;         /* 0 when the verifier was a stand-in: the proof can never match */
} scram_t;

/* Starts an exchange: verifier is the user's stored "SCRAM-SHA-256$i:salt$stored:server",
 * or NULL for an unknown user or one without a password (the exchange then runs on a
 * stand-in verifier so that it looks the same and fails at the proof). server_nonce: NULL
 * for a random one (tests pass RFC 7677's). Appends server-first-message to out.
 * TARN_EINVAL (reason "ProtocolViolation") for a malformed client-first-message or one
 * asking for channel binding. */
int scram_start(scram_t *s, const char *verifier, const char *client_first, size_t len,
                const char *server_nonce, buf_t *out, tarn_err_t *err);
/* Checks client-final-message; on a valid proof appends server-final-message to out and
 * returns 0. TARN_EDENIED (reason "InvalidPassword") for a wrong proof, TARN_EINVAL
 * ("ProtocolViolation") for a malformed message. The proof is compared in constant time. */
int scram_finish(scram_t *s, const char *client_final, size_t len, buf_t *out, tarn_err_t *err);
/* Wipes and frees the exchange's state. */
void scram_done(scram_t *s);

#endif
