/* Password hashing and checking, SCRAM-SHA-256 verifiers (RFC 5802 / RFC 7677, in the text
 * format PostgreSQL stores in pg_authid) and random credential generation; see password.h.
 * Intermediate key material is wiped before return; nothing here logs. */
#include "govern/password.h"
#include "util/hash.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PW_SALT_LEN = 16, PW_HASH_LEN = 32, PW_MAX_ITER = 10000000 };

#define PW_SCHEME "pbkdf2-sha256"

static int pw_pbkdf2(uint8_t *out, size_t outlen, const char *password, const uint8_t *salt,
                     size_t saltlen, unsigned iter)
{
    size_t plen = strlen(password);
    if (plen > INT_MAX || saltlen > INT_MAX || outlen > INT_MAX || iter == 0 || iter > INT_MAX)
        return TARN_EINVAL;
    if (PKCS5_PBKDF2_HMAC(password, (int)plen, salt, (int)saltlen, (int)iter, EVP_sha256(),
                          (int)outlen, out) != 1)
        return TARN_EIO;
    return 0;
}

int password_hash_iter(buf_t *out, const char *password, unsigned iter, tarn_err_t *err)
{
    uint8_t salt[PW_SALT_LEN], hash[PW_HASH_LEN];
    char salt64[32], hash64[48];
    int rc = 0;
    if (iter == 0 || iter > PW_MAX_ITER) {
        rc = TARN_ERR(err, TARN_EINVAL, "PBKDF2 iteration count %u out of range", iter);
        goto done;
    }
    if (hash_random(salt, sizeof salt)) {
        rc = TARN_ERR(err, TARN_EIO, "no randomness available for a salt");
        goto done;
    }
    if ((rc = pw_pbkdf2(hash, sizeof hash, password, salt, sizeof salt, iter))) {
        rc = TARN_ERR(err, rc, "PBKDF2 failed");
        goto done;
    }
    hash_b64(salt64, salt, sizeof salt);
    hash_b64(hash64, hash, sizeof hash);
    if (buf_printf(out, PW_SCHEME "$%u$%s$%s", iter, salt64, hash64))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
done:
    OPENSSL_cleanse(hash, sizeof hash);
    return rc;
}

int password_hash(buf_t *out, const char *password, tarn_err_t *err)
{
    return password_hash_iter(out, password, PASSWORD_PBKDF2_ITER, err);
}

int password_check(const char *stored, const char *password)
{
    uint8_t salt[64], want[64], got[64];
    char field[128];
    int rc = TARN_EDENIED;
    const char *p = stored, *dollar;
    unsigned long iter;
    long saltlen, wantlen;
    char *end;
    if (strncmp(p, PW_SCHEME "$", sizeof PW_SCHEME) != 0)
        goto done;
    p += sizeof PW_SCHEME;
    iter = strtoul(p, &end, 10);
    if (end == p || *end != '$' || iter == 0 || iter > PW_MAX_ITER)
        goto done;
    p = end + 1;
    dollar = strchr(p, '$');
    if (!dollar || (size_t)(dollar - p) >= sizeof field)
        goto done;
    memcpy(field, p, (size_t)(dollar - p));
    field[dollar - p] = '\0';
    saltlen = hash_unb64(salt, sizeof salt, field);
    wantlen = hash_unb64(want, sizeof want, dollar + 1);
    if (saltlen < 8 || wantlen < 16)
        goto done;
    if (pw_pbkdf2(got, (size_t)wantlen, password, salt, (size_t)saltlen, (unsigned)iter))
        goto done;
    if (hash_equal(got, (size_t)wantlen, want, (size_t)wantlen))
        rc = 0;
done:
    OPENSSL_cleanse(got, sizeof got);
    return rc;
}

int password_scram_verifier_salt(buf_t *out, const char *password, const uint8_t *salt,
                                 size_t saltlen, unsigned iter, tarn_err_t *err)
{
    /* RFC 5802: SaltedPassword = Hi(password, salt, i) = PBKDF2-HMAC-SHA256 with dkLen 32;
     * ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
     * ServerKey = HMAC(SaltedPassword, "Server Key"). The password should be SASLprep'd;
     * like many clients we use the raw bytes, which is the same thing for ASCII. */
    uint8_t salted[32], client_key[32], stored_key[32], server_key[32];
    char *salt64 = NULL;
    char stored64[48], server64[48];
    int rc = 0;
    if (saltlen == 0 || saltlen > 1024 || iter == 0 || iter > PW_MAX_ITER) {
        rc = TARN_ERR(err, TARN_EINVAL, "bad SCRAM salt length or iteration count");
        goto done;
    }
    if (!(salt64 = malloc(4 * ((saltlen + 2) / 3) + 1))) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = pw_pbkdf2(salted, sizeof salted, password, salt, saltlen, iter))) {
        rc = TARN_ERR(err, rc, "PBKDF2 failed");
        goto done;
    }
    hash_hmac_sha256(client_key, salted, sizeof salted, "Client Key", 10);
    hash_sha256(stored_key, client_key, sizeof client_key);
    hash_hmac_sha256(server_key, salted, sizeof salted, "Server Key", 10);
    hash_b64(salt64, salt, saltlen);
    hash_b64(stored64, stored_key, sizeof stored_key);
    hash_b64(server64, server_key, sizeof server_key);
    if (buf_printf(out, "SCRAM-SHA-256$%u:%s$%s:%s", iter, salt64, stored64, server64))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
done:
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(client_key, sizeof client_key);
    free(salt64);
    return rc;
}

int password_scram_verifier(buf_t *out, const char *password, tarn_err_t *err)
{
    uint8_t salt[PW_SALT_LEN];
    if (hash_random(salt, sizeof salt))
        return TARN_ERR(err, TARN_EIO, "no randomness available for a salt");
    return password_scram_verifier_salt(out, password, salt, sizeof salt, PASSWORD_SCRAM_ITER,
                                        err);
}

/* Fills out[0..n) with uniform picks from alphabet (rejection sampling avoids modulo bias). */
static int pw_random_chars(char *out, size_t n, const char *alphabet)
{
    size_t k = strlen(alphabet);
    unsigned limit = 256 - 256 % (unsigned)k;
    uint8_t pool[64];
    size_t have = 0, used = 0;
    for (size_t i = 0; i < n;) {
        if (used == have) {
            if (hash_random(pool, sizeof pool)) {
                OPENSSL_cleanse(pool, sizeof pool);
                return TARN_EIO;
            }
            have = sizeof pool;
            used = 0;
        }
        unsigned b = pool[used++];
        if (b < limit)
            out[i++] = alphabet[b % k];
    }
    out[n] = '\0';
    OPENSSL_cleanse(pool, sizeof pool);
    return 0;
}

int password_generate(char *out, size_t cap)
{
    if (cap <= PASSWORD_GEN_LEN)
        return TARN_EINVAL;
    return pw_random_chars(out, PASSWORD_GEN_LEN,
                           "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789");
}

int key_generate_access_key(char out[21])
{
    out[0] = 'T';
    out[1] = 'K';
    return pw_random_chars(out + 2, KEY_ACCESS_KEY_LEN - 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
}

int key_generate_secret(char out[41])
{
    return pw_random_chars(out, KEY_SECRET_LEN,
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}
