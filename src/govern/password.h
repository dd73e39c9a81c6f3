/* Password storage (PBKDF2-SHA256), PostgreSQL-compatible SCRAM-SHA-256 verifiers, and
 * generation of passwords and S3-style access key pairs. Passwords are taken as bytes:
 * no SASLprep normalisation, so non-ASCII passwords must be sent byte-identical. */
#ifndef TARN_GOVERN_PASSWORD_H
#define TARN_GOVERN_PASSWORD_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

enum {
    PASSWORD_PBKDF2_ITER = 210000, /* OWASP 2023 figure for PBKDF2-HMAC-SHA256 */
    PASSWORD_SCRAM_ITER = 4096,    /* PostgreSQL's default scram_iterations */
    PASSWORD_GEN_LEN = 24,         /* password_generate writes this many characters */
    KEY_ACCESS_KEY_LEN = 20,       /* "TK" + 18 characters */
    KEY_SECRET_LEN = 40,
};

/* Appends "pbkdf2-sha256$<iter>$<b64 salt>$<b64 hash>" (16-byte random salt, 32-byte hash). */
int password_hash(buf_t *out, const char *password, tarn_err_t *err);
/* Same with a chosen iteration count (tests use a small one). */
int password_hash_iter(buf_t *out, const char *password, unsigned iter, tarn_err_t *err);
/* 0 if password matches the stored hash (constant-time compare); TARN_EDENIED otherwise,
 * including when stored is malformed. */
int password_check(const char *stored, const char *password);

/* Appends a PostgreSQL SCRAM-SHA-256 verifier for password:
 * "SCRAM-SHA-256$4096:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>" with a random 16-byte salt. */
int password_scram_verifier(buf_t *out, const char *password, tarn_err_t *err);
/* Same with a given salt and iteration count (for tests and known-answer vectors). */
int password_scram_verifier_salt(buf_t *out, const char *password, const uint8_t *salt,
                                 size_t saltlen, unsigned iter, tarn_err_t *err);

/* Writes PASSWORD_GEN_LEN random characters from an alphabet without look-alikes
 * (no 0/O, 1/l/I) and a NUL. cap must be > PASSWORD_GEN_LEN; 0, TARN_EINVAL or TARN_EIO. */
int password_generate(char *out, size_t cap);
/* "TK" + 18 random characters of A-Z2-7 and a NUL, like AWS's "AKIA..." ids; 0 or TARN_EIO. */
int key_generate_access_key(char out[21]);
/* 40 random characters of A-Za-z0-9-_ (240 bits) and a NUL; 0 or TARN_EIO. */
int key_generate_secret(char out[41]);

#endif
