/* The keyring in <data>/keys/: a 256-bit master key that seals secrets kept in the catalog
 * (AES-256-GCM, bound to a context string) and an Ed25519 key that signs audit digests.
 * Key material never leaves this module except as sealed text or signatures. */
#ifndef TARN_GOVERN_KEYRING_H
#define TARN_GOVERN_KEYRING_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct keyring keyring_t;

/* Creates keys_dir (0700) and writes master.key (64 hex digits + '\n'), audit.key (Ed25519
 * private key, PEM PKCS#8) and audit.pub (PEM SubjectPublicKeyInfo), each atomically with
 * mode 0600. master.key is written last, so its presence means the keyring is complete.
 * TARN_EEXISTS if master.key already exists (keys are never silently replaced). */
int keyring_create(const char *keys_dir, tarn_err_t *err);

/* Loads the keyring. TARN_ENOTFOUND if a key file is missing; TARN_EDENIED if master.key
 * or audit.key grants any permission to group or others; TARN_EINVAL if a file is
 * malformed. *out is owned by the caller (keyring_free). */
int keyring_open(keyring_t **out, const char *keys_dir, tarn_err_t *err);

/* Wipes the key material and frees. NULL is fine. */
void keyring_free(keyring_t *kr);

/* Seals n bytes: AES-256-GCM under the master key, fresh random 12-byte nonce, AAD = aad
 * (NULL means ""), so a sealed value only opens in the same context (e.g. the access key
 * id of its row). Appends printable text "v1:<b64 nonce>:<b64 ciphertext||tag>" to out. */
int keyring_seal(const keyring_t *kr, const char *aad, const void *plain, size_t n, buf_t *out,
                 tarn_err_t *err);

/* Opens a value made by keyring_seal with the same aad; appends the plaintext to out (out
 * then holds a secret: the caller wipes it with OPENSSL_cleanse before buf_free).
 * TARN_EINVAL if the text is malformed, tampered with, sealed under another key or aad. */
int keyring_unseal(const keyring_t *kr, const char *aad, const char *sealed, buf_t *out,
                   tarn_err_t *err);

/* Ed25519 signature of msg with the audit key. */
int keyring_sign(const keyring_t *kr, const void *msg, size_t n, uint8_t sig[64], tarn_err_t *err);

/* 0 if sig is a valid audit-key signature of msg, TARN_EINVAL otherwise. */
int keyring_verify(const keyring_t *kr, const void *msg, size_t n, const uint8_t sig[64]);

#endif
