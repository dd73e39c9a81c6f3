/* Digests, HMAC, encodings and constant-time comparison over OpenSSL (and zlib for CRC32).
 * Incremental digest state lives in hash_multi_t so an upload computes every checksum S3
 * clients may ask for in one pass over the bytes. */
#ifndef TARN_UTIL_HASH_H
#define TARN_UTIL_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void hash_sha256(uint8_t out[32], const void *p, size_t n);
void hash_md5(uint8_t out[16], const void *p, size_t n);
void hash_hmac_sha256(uint8_t out[32], const void *key, size_t keylen, const void *p, size_t n);

/* Value of one hex digit (either case), or -1. */
int hash_hexval(char c);
/* Lowercase hex; out must hold 2*n+1 bytes. */
void hash_hex(char *out, const uint8_t *p, size_t n);
/* Parses exactly 2*n hex digits; 0 or TARN_EINVAL. */
int hash_unhex(uint8_t *out, size_t n, const char *hex);
/* Standard base64 with padding; out must hold 4*((n+2)/3)+1 bytes. Returns length. */
size_t hash_b64(char *out, const uint8_t *p, size_t n);
/* Decodes standard base64 into out (cap bytes); returns decoded length or -1. */
long hash_unb64(uint8_t *out, size_t cap, const char *s);
/* The same for the n bytes at s (no NUL needed). */
long hash_unb64n(uint8_t *out, size_t cap, const char *s, size_t n);

/* Constant-time equality of two byte strings (length leaks, content does not). */
bool hash_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Cryptographically random bytes; 0 or TARN_EIO. */
int hash_random(uint8_t *out, size_t n);

uint32_t hash_crc32c_update(uint32_t crc, const void *p, size_t n);

typedef struct hash_multi hash_multi_t;
typedef struct {
    uint8_t sha256[32];
    uint8_t md5[16];
    uint32_t crc32;
    uint32_t crc32c;
    uint64_t size;
} hash_digests_t;

enum { HASH_SHA256 = 1, HASH_MD5 = 2, HASH_CRC32 = 4, HASH_CRC32C = 8 };
/* Computes only the digests named in flags (the others stay zero). NULL on out of memory. */
hash_multi_t *hash_multi_create(unsigned flags);
void hash_multi_update(hash_multi_t *h, const void *p, size_t n);
void hash_multi_final(hash_multi_t *h, hash_digests_t *out);
void hash_multi_free(hash_multi_t *h);

#endif
