/* Self-signed TLS certificates for trying HTTPS and PostgreSQL TLS without a CA: an EC
 * P-256 key and an X509v3 certificate naming localhost, 127.0.0.1, ::1 and the host, so
 * clients can verify it by using the certificate itself as their CA bundle. */
#ifndef TARN_GOVERN_TLSCERT_H
#define TARN_GOVERN_TLSCERT_H

#include "util/err.h"

/* Writes a new key to key_path (PEM PKCS#8, mode 0600) and a certificate valid for days
 * to cert_path (PEM, mode 0644), each atomically. hostname (NULL or "" for none) is added
 * as a DNS name when it is a plain DNS name; it is also the subject's common name.
 * TARN_EINVAL for a bad hostname or days, TARN_EIO when OpenSSL or the disk fails. */
int tlscert_create_self_signed(const char *cert_path, const char *key_path, const char *hostname,
                               int days, tarn_err_t *err);

#endif
