/* Digest and encoding helpers; see hash.h. */
#include "util/hash.h"
#include "util/err.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void hash_sha256(uint8_t out[32], const void *p, size_t n)
{
    unsigned len = 32;
    EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void hash_md5(uint8_t out[16], const void *p, size_t n)
{
    unsigned len = 16;
    EVP_Digest(p, n, out, &len, EVP_md5(), NULL);
}

void hash_hmac_sha256(uint8_t out[32], const void *key, size_t keylen, const void *p, size_t n)
{
    unsigned len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, p, n, out, &len);
}

void hash_hex(char *out, const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int hash_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hash_unhex(uint8_t *out, size_t n, const char *hex)
{
    if (strlen(hex) != 2 * n)
        return TARN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hash_hexval(hex[2 * i]), lo = hash_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return TARN_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

size_t hash_b64(char *out, const uint8_t *p, size_t n)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

long hash_unb64(uint8_t *out, size_t cap, const char *s)
{
    return hash_unb64n(out, cap, s, strlen(s));
}

long hash_unb64n(uint8_t *out, size_t cap, const char *s, size_t n)
{
    if (n % 4 || n / 4 * 3 > cap + 2 || n > INT_MAX)
        return -1;
    /* EVP_DecodeBlock writes whole groups of three, padding included: straight into out
     * when it has room for them (the common case: callers size out from the text), so
     * streams of records are not copied once more. */
    unsigned char *tmp = n / 4 * 3 <= cap ? out : malloc(n / 4 * 3 + 1);
    if (!tmp)
        return -1;
    int len = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
    /* EVP_DecodeBlock counts padding bytes as output; take them back off. */
    if (len >= 0 && n >= 1 && s[n - 1] == '=')
        len--;
    if (len >= 0 && n >= 2 && s[n - 2] == '=')
        len--;
    if (len < 0 || (size_t)len > cap)
        len = -1;
    else if (tmp != out)
        memcpy(out, tmp, (size_t)len);
    if (tmp != out)
        free(tmp);
    return len;
}

bool hash_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

int hash_random(uint8_t *out, size_t n)
{
    return RAND_bytes(out, (int)n) == 1 ? 0 : TARN_EIO;
}

/* CRC-32C (Castagnoli), reflected polynomial 0x82F63B78; zlib only offers CRC-32. */
static uint32_t crc32c_table[8][256];
static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc32c_table[t][i] =
                (crc32c_table[t - 1][i] >> 8) ^ crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
}

#include <pthread.h>
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

uint32_t hash_crc32c_update(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc32c_once, crc32c_init);
    const uint8_t *b = p;
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                             (uint32_t)b[3] << 24);
        crc = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
              crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
              crc32c_table[3][b[4]] ^ crc32c_table[2][b[5]] ^ crc32c_table[1][b[6]] ^
              crc32c_table[0][b[7]];
        b += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *b++) & 0xff];
    return ~crc;
}

struct hash_multi {
    EVP_MD_CTX *sha;
    EVP_MD_CTX *md5;
    uLong crc32;
    uint32_t crc32c;
    uint64_t size;
    unsigned flags;
};

hash_multi_t *hash_multi_create(unsigned flags)
{
    hash_multi_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->flags = flags;
    h->sha = EVP_MD_CTX_new();
    h->md5 = EVP_MD_CTX_new();
    if (!h->sha || !h->md5 || !EVP_DigestInit_ex(h->sha, EVP_sha256(), NULL) ||
        !EVP_DigestInit_ex(h->md5, EVP_md5(), NULL)) {
        hash_multi_free(h);
        return NULL;
    }
    h->crc32 = crc32(0L, Z_NULL, 0);
    return h;
}

void hash_multi_update(hash_multi_t *h, const void *p, size_t n)
{
    if (h->flags & HASH_SHA256)
        EVP_DigestUpdate(h->sha, p, n);
    if (h->flags & HASH_MD5)
        EVP_DigestUpdate(h->md5, p, n);
    const Bytef *b = p;
    size_t left = (h->flags & HASH_CRC32) ? n : 0;
    while (left) { /* zlib takes uInt lengths */
        uInt chunk = left > 1u << 30 ? 1u << 30 : (uInt)left;
        h->crc32 = crc32(h->crc32, b, chunk);
        b += chunk;
        left -= chunk;
    }
    if (h->flags & HASH_CRC32C)
        h->crc32c = hash_crc32c_update(h->crc32c, p, n);
    h->size += n;
}

void hash_multi_final(hash_multi_t *h, hash_digests_t *out)
{
    unsigned len;
    memset(out, 0, sizeof *out);
    if (h->flags & HASH_SHA256)
        EVP_DigestFinal_ex(h->sha, out->sha256, &len);
    if (h->flags & HASH_MD5)
        EVP_DigestFinal_ex(h->md5, out->md5, &len);
    out->crc32 = (uint32_t)h->crc32;
    out->crc32c = h->crc32c;
    out->size = h->size;
}

void hash_multi_free(hash_multi_t *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->sha);
    EVP_MD_CTX_free(h->md5);
    free(h);
}
