/* SCRAM-SHA-256 server exchange; see scram.h. Key material is wiped when the exchange
 * ends and nothing here logs. */
#include "govern/scram.h"
#include "util/hash.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NONCE_BYTES = 18 };

/* The value of attribute `name` ("r", "n", ...) in a comma-separated SCRAM message, as a
 * malloc'd string, or NULL. */
static char *attr(const char *msg, size_t len, char name)
{
    const char *p = msg, *end = msg + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (stop - p >= 2 && p[0] == name && p[1] == '=') {
            char *v = malloc((size_t)(stop - p - 1));
            if (v) {
                memcpy(v, p + 2, (size_t)(stop - p - 2));
                v[stop - p - 2] = '\0';
            }
            return v;
        }
        p = stop + 1;
    }
    return NULL;
}

/* Parses "SCRAM-SHA-256$<iter>:<salt64>$<stored64>:<server64>". */
static int parse_verifier(const char *v, unsigned *iter, char *salt64, size_t salt_cap,
                          uint8_t stored[32], uint8_t server[32])
{
    char stored64[64], server64[64];
    if (!v ||
        sscanf(v, "SCRAM-SHA-256$%u:%127[^$]$%63[^:]:%63s", iter, salt64, stored64, server64) !=
            4 ||
        strlen(salt64) >= salt_cap)
        return -1;
    if (hash_unb64(stored, 32, stored64) != 32 || hash_unb64(server, 32, server64) != 32)
        return -1;
    return 0;
}

int scram_start(scram_t *s, const char *verifier, const char *cf, size_t len,
                const char *server_nonce, buf_t *out, tarn_err_t *err)
{
    memset(s, 0, sizeof *s);
    char salt64[128];
    unsigned iter = 0;
    char *cnonce = NULL;
    int rc = 0;
    /* gs2-header: "n,," (no channel binding) or "y,," (client could, server does not
     * offer); "p=" would ask for binding the server never advertised. */
    if (len < 3 || (cf[0] != 'n' && cf[0] != 'y') || cf[1] != ',') {
        rc = TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation,
                        "SCRAM: channel binding is not supported; use SCRAM-SHA-256");
        goto done;
    }
    const char *bare = memchr(cf + 2, ',', len - 2);
    if (!bare || !(cnonce = attr(bare + 1, len - (size_t)(bare + 1 - cf), 'r')) || !*cnonce ||
        strchr(cnonce, ',')) {
        rc = TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation,
                        "SCRAM: malformed client-first-message");
        goto done;
    }
    bare++;
    s->known =
        parse_verifier(verifier, &iter, salt64, sizeof salt64, s->stored_key, s->server_key) == 0;
    if (!s->known) {
        /* A stand-in: random keys and salt, PostgreSQL's iteration count. */
        uint8_t salt[16];
        if (hash_random(salt, sizeof salt) || hash_random(s->stored_key, 32) ||
            hash_random(s->server_key, 32)) {
            rc = TARN_ERR(err, TARN_EIO, "no randomness available");
            goto done;
        }
        hash_b64(salt64, salt, sizeof salt);
        iter = 4096;
    }
    char snonce[64];
    if (server_nonce) {
        snprintf(snonce, sizeof snonce, "%s", server_nonce);
    } else {
        uint8_t raw[NONCE_BYTES];
        if (hash_random(raw, sizeof raw)) {
            rc = TARN_ERR(err, TARN_EIO, "no randomness available");
            goto done;
        }
        hash_b64(snonce, raw, sizeof raw); /* 24 characters, no ',' */
    }
    buf_t first = BUF_INIT, prefix = BUF_INIT;
    buf_printf(&first, "r=%s%s,s=%s,i=%u", cnonce, snonce, salt64, iter);
    buf_append(&prefix, bare, len - (size_t)(bare - cf));
    buf_putc(&prefix, ',');
    buf_append(&prefix, first.data ? first.data : "", first.len);
    buf_t nonce = BUF_INIT;
    buf_printf(&nonce, "%s%s", cnonce, snonce);
    if (!first.data || !prefix.data || !nonce.data || buf_append(out, first.data, first.len)) {
        buf_free(&first);
        buf_free(&prefix);
        buf_free(&nonce);
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    buf_free(&first);
    s->auth_prefix = buf_steal(&prefix);
    s->nonce = buf_steal(&nonce);
done:
    free(cnonce);
    if (rc)
        scram_done(s);
    return rc;
}

int scram_finish(scram_t *s, const char *cf, size_t len, buf_t *out, tarn_err_t *err)
{
    int rc = 0;
    char *nonce = attr(cf, len, 'r'), *proof64 = attr(cf, len, 'p'), *cb = attr(cf, len, 'c');
    const char *p = NULL;
    /* The proof is the last attribute; the AuthMessage ends with everything before it. */
    for (size_t i = len; i >= 3; i--)
        if (!memcmp(cf + i - 3, ",p=", 3)) {
            p = cf + i - 3;
            break;
        }
    uint8_t proof[64], sig[32], client_key[32], stored[32];
    long plen = proof64 ? hash_unb64(proof, sizeof proof, proof64) : -1;
    if (!s->auth_prefix || !nonce || !cb || !p || plen != 32 ||
        (strcmp(cb, "biws") && strcmp(cb, "eSws"))) {
        rc = TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation,
                        "SCRAM: malformed client-final-message");
        goto done;
    }
    if (strcmp(nonce, s->nonce)) {
        rc = TARN_ERR_R(err, TARN_EINVAL, ProtocolViolation, "SCRAM: nonce does not match");
        goto done;
    }
    buf_t am = BUF_INIT;
    buf_printf(&am, "%s,", s->auth_prefix);
    buf_append(&am, cf, (size_t)(p - cf));
    if (!am.data) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    hash_hmac_sha256(sig, s->stored_key, 32, am.data, am.len);
    for (int i = 0; i < 32; i++)
        client_key[i] = proof[i] ^ sig[i];
    hash_sha256(stored, client_key, 32);
    if (!hash_equal(stored, 32, s->stored_key, 32) || !s->known) {
        buf_free(&am);
        rc = TARN_ERR_R(err, TARN_EDENIED, InvalidPassword, "password authentication failed");
        goto done;
    }
    uint8_t server_sig[32];
    char sig64[48];
    hash_hmac_sha256(server_sig, s->server_key, 32, am.data, am.len);
    hash_b64(sig64, server_sig, 32);
    buf_free(&am);
    if (buf_printf(out, "v=%s", sig64))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
done:
    OPENSSL_cleanse(client_key, sizeof client_key);
    free(nonce);
    free(proof64);
    free(cb);
    return rc;
}

void scram_done(scram_t *s)
{
    free(s->auth_prefix);
    free(s->nonce);
    OPENSSL_cleanse(s, sizeof *s);
}
