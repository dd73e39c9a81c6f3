/* Keyring: creation and loading of <data>/keys/, sealing secrets with AES-256-GCM and
 * signing audit digests with Ed25519; see keyring.h. Every buffer that held key material
 * or plaintext is wiped with OPENSSL_cleanse before it is released. */
#include "govern/keyring.h"
#include "util/fs.h"
#include "util/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { KR_KEY_LEN = 32, KR_NONCE_LEN = 12, KR_TAG_LEN = 16, KR_FILE_MAX = 16384 };

#define KR_SEAL_PREFIX "v1:"

struct keyring {
    uint8_t master[KR_KEY_LEN];
    EVP_PKEY *audit; /* Ed25519 private key; its public half verifies */
};

static int kr_path(char *out, size_t cap, const char *dir, const char *name, tarn_err_t *err)
{
    if (snprintf(out, cap, "%s/%s", dir, name) >= (int)cap)
        return TARN_ERR(err, TARN_EINVAL, "keys path too long: %s", dir);
    return 0;
}

/* Never prompt on a terminal for a passphrase: tarn's keys are not encrypted. */
static int kr_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* Writes the PEM text a BIO holds to path; the BIO is a secure-memory one for private keys. */
static int kr_write_bio(const char *path, BIO *bio, tarn_err_t *err)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || !data)
        return TARN_ERR(err, TARN_EIO, "cannot encode key for %s", path);
    return fs_write_atomic(path, data, (size_t)n, 0600, err);
}

int keyring_create(const char *keys_dir, tarn_err_t *err)
{
    char path[PATH_MAX];
    uint8_t master[KR_KEY_LEN];
    char hex[2 * KR_KEY_LEN + 2];
    EVP_PKEY *pkey = NULL;
    BIO *priv = NULL, *pub = NULL;
    int rc = fs_mkdir_p(keys_dir, 0700, err);
    if (rc)
        goto done;
    /* An existing directory may have been created with the umask's mode. */
    if (chmod(keys_dir, 0700)) {
        rc = TARN_ERR(err, TARN_EIO, "chmod %s: %s", keys_dir, strerror(errno));
        goto done;
    }
    if ((rc = kr_path(path, sizeof path, keys_dir, "master.key", err)))
        goto done;
    if (fs_exists(path)) {
        rc = TARN_ERR(err, TARN_EEXISTS, "%s already exists; refusing to replace keys", path);
        goto done;
    }
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    priv = BIO_new(BIO_s_secmem());
    pub = BIO_new(BIO_s_mem());
    if (!pkey || !priv || !pub) {
        rc = TARN_ERR(err, TARN_ENOMEM, "cannot generate the audit signing key");
        goto done;
    }
    if (!PEM_write_bio_PrivateKey(priv, pkey, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_PUBKEY(pub, pkey)) {
        rc = TARN_ERR(err, TARN_EIO, "cannot encode the audit signing key");
        goto done;
    }
    if ((rc = kr_path(path, sizeof path, keys_dir, "audit.key", err)) ||
        (rc = kr_write_bio(path, priv, err)))
        goto done;
    if ((rc = kr_path(path, sizeof path, keys_dir, "audit.pub", err)) ||
        (rc = kr_write_bio(path, pub, err)))
        goto done;
    if (hash_random(master, sizeof master)) {
        rc = TARN_ERR(err, TARN_EIO, "no randomness available for the master key");
        goto done;
    }
    hash_hex(hex, master, sizeof master);
    hex[2 * KR_KEY_LEN] = '\n';
    hex[2 * KR_KEY_LEN + 1] = '\0';
    if ((rc = kr_path(path, sizeof path, keys_dir, "master.key", err)))
        goto done;
    rc = fs_write_atomic(path, hex, 2 * KR_KEY_LEN + 1, 0600, err);
done:
    OPENSSL_cleanse(master, sizeof master);
    OPENSSL_cleanse(hex, sizeof hex);
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(pkey);
    return rc;
}

/* Reads a key file into data (NUL-terminated, cap bytes), refusing group/world access.
 * The descriptor is checked, not the path, so the file read is the file checked. */
static int kr_read_key_file(const char *dir, const char *name, char *data, size_t cap,
                            size_t *len, tarn_err_t *err)
{
    char path[PATH_MAX];
    int rc = kr_path(path, sizeof path, dir, name, err);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return TARN_ERR(err, TARN_ENOTFOUND, "%s is missing (run `tarn init` first)", path);
        return TARN_ERR(err, TARN_EIO, "open %s: %s", path, strerror(errno));
    }
    struct stat st;
    size_t n = 0;
    if (fstat(fd, &st)) {
        rc = TARN_ERR(err, TARN_EIO, "stat %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = TARN_ERR(err, TARN_EINVAL, "%s is not a regular file", path);
        goto done;
    }
    if (st.st_mode & 077) {
        rc = TARN_ERR_R(err, TARN_EDENIED, KeyFilePermissions,
                        "%s has mode %04o: key files must not be accessible by group or "
                        "others; run `chmod 600 %s`",
                        path, (unsigned)(st.st_mode & 07777), path);
        goto done;
    }
    for (;;) {
        ssize_t r = read(fd, data + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = TARN_ERR(err, TARN_EIO, "read %s: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap - 1) {
            rc = TARN_ERR(err, TARN_EINVAL, "%s is too large to be a key file", path);
            goto done;
        }
    }
    data[n] = '\0';
    *len = n;
done:
    close(fd);
    return rc;
}

int keyring_open(keyring_t **out, const char *keys_dir, tarn_err_t *err)
{
    *out = NULL;
    char *data = OPENSSL_malloc(KR_FILE_MAX);
    keyring_t *kr = OPENSSL_zalloc(sizeof *kr);
    BIO *bio = NULL;
    size_t n = 0;
    int rc = 0;
    if (!data || !kr) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = kr_read_key_file(keys_dir, "master.key", data, KR_FILE_MAX, &n, err)))
        goto done;
    while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        data[--n] = '\0';
    if (hash_unhex(kr->master, sizeof kr->master, data)) {
        rc = TARN_ERR(err, TARN_EINVAL, "%s/master.key is not 64 hex digits", keys_dir);
        goto done;
    }
    OPENSSL_cleanse(data, KR_FILE_MAX);
    if ((rc = kr_read_key_file(keys_dir, "audit.key", data, KR_FILE_MAX, &n, err)))
        goto done;
    bio = BIO_new_mem_buf(data, (int)n);
    if (!bio) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    kr->audit = PEM_read_bio_PrivateKey(bio, NULL, kr_no_passphrase, NULL);
    if (!kr->audit || EVP_PKEY_get_id(kr->audit) != EVP_PKEY_ED25519) {
        ERR_clear_error();
        rc = TARN_ERR(err, TARN_EINVAL, "%s/audit.key is not an Ed25519 private key (PEM)",
                      keys_dir);
        goto done;
    }
    *out = kr;
    kr = NULL;
done:
    BIO_free(bio);
    if (data)
        OPENSSL_clear_free(data, KR_FILE_MAX);
    keyring_free(kr);
    return rc;
}

void keyring_free(keyring_t *kr)
{
    if (!kr)
        return;
    EVP_PKEY_free(kr->audit);
    OPENSSL_clear_free(kr, sizeof *kr);
}

int keyring_seal(const keyring_t *kr, const char *aad, const void *plain, size_t n, buf_t *out,
                 tarn_err_t *err)
{
    uint8_t nonce[KR_NONCE_LEN];
    uint8_t *ct = NULL;
    char *b64 = NULL;
    char nonce_b64[4 * ((KR_NONCE_LEN + 2) / 3) + 1];
    EVP_CIPHER_CTX *ctx = NULL;
    int len = 0, rc = 0;
    if (!aad)
        aad = "";
    if (n > INT_MAX / 2 || strlen(aad) > INT_MAX) {
        rc = TARN_ERR(err, TARN_EINVAL, "value too large to seal");
        goto done;
    }
    if (hash_random(nonce, sizeof nonce)) {
        rc = TARN_ERR(err, TARN_EIO, "no randomness available for a nonce");
        goto done;
    }
    ct = malloc(n + KR_TAG_LEN);
    b64 = malloc(4 * ((n + KR_TAG_LEN + 2) / 3) + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (!ct || !b64 || !ctx) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if (!EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, KR_NONCE_LEN, NULL) ||
        !EVP_EncryptInit_ex(ctx, NULL, NULL, kr->master, nonce) ||
        !EVP_EncryptUpdate(ctx, NULL, &len, (const uint8_t *)aad, (int)strlen(aad)) ||
        !EVP_EncryptUpdate(ctx, ct, &len, plain, (int)n) ||
        !EVP_EncryptFinal_ex(ctx, ct + len, &len) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KR_TAG_LEN, ct + n)) {
        rc = TARN_ERR(err, TARN_EIO, "AES-256-GCM encryption failed");
        goto done;
    }
    hash_b64(nonce_b64, nonce, sizeof nonce);
    hash_b64(b64, ct, n + KR_TAG_LEN);
    if (buf_printf(out, KR_SEAL_PREFIX "%s:%s", nonce_b64, b64))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
done:
    EVP_CIPHER_CTX_free(ctx);
    free(ct);
    free(b64);
    return rc;
}

int keyring_unseal(const keyring_t *kr, const char *aad, const char *sealed, buf_t *out,
                   tarn_err_t *err)
{
    uint8_t nonce[KR_NONCE_LEN + 3];
    uint8_t *ct = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    const char *colon;
    char nonce_b64[32];
    int len = 0, rc = 0;
    long ctlen;
    if (!aad)
        aad = "";
    if (strncmp(sealed, KR_SEAL_PREFIX, strlen(KR_SEAL_PREFIX)) != 0) {
        rc = TARN_ERR(err, TARN_EINVAL, "sealed value has an unknown format version");
        goto done;
    }
    sealed += strlen(KR_SEAL_PREFIX);
    colon = strchr(sealed, ':');
    if (!colon || (size_t)(colon - sealed) >= sizeof nonce_b64) {
        rc = TARN_ERR(err, TARN_EINVAL, "sealed value is malformed");
        goto done;
    }
    memcpy(nonce_b64, sealed, (size_t)(colon - sealed));
    nonce_b64[colon - sealed] = '\0';
    if (hash_unb64(nonce, sizeof nonce, nonce_b64) != KR_NONCE_LEN) {
        rc = TARN_ERR(err, TARN_EINVAL, "sealed value has a malformed nonce");
        goto done;
    }
    size_t b64len = strlen(colon + 1);
    if (b64len > (size_t)INT_MAX || !(ct = malloc(b64len / 4 * 3 + 1))) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    ctlen = hash_unb64(ct, b64len / 4 * 3 + 1, colon + 1);
    if (ctlen < KR_TAG_LEN) {
        rc = TARN_ERR(err, TARN_EINVAL, "sealed value has a malformed ciphertext");
        goto done;
    }
    size_t ptlen = (size_t)ctlen - KR_TAG_LEN;
    /* Reserve first, so the plaintext is never copied by a realloc and left behind. */
    if (buf_reserve(out, ptlen) || !(ctx = EVP_CIPHER_CTX_new())) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    uint8_t *pt = (uint8_t *)out->data + out->len;
    if (!EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, KR_NONCE_LEN, NULL) ||
        !EVP_DecryptInit_ex(ctx, NULL, NULL, kr->master, nonce) ||
        !EVP_DecryptUpdate(ctx, NULL, &len, (const uint8_t *)aad, (int)strlen(aad)) ||
        !EVP_DecryptUpdate(ctx, pt, &len, ct, (int)ptlen) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KR_TAG_LEN, ct + ptlen) ||
        EVP_DecryptFinal_ex(ctx, pt + len, &len) <= 0) {
        OPENSSL_cleanse(pt, ptlen);
        out->data[out->len] = '\0';
        ERR_clear_error();
        rc = TARN_ERR_R(err, TARN_EINVAL, SealedValueInvalid,
                        "sealed value failed authentication (tampered, or sealed under "
                        "another key or context)");
        goto done;
    }
    out->len += ptlen;
    out->data[out->len] = '\0';
done:
    EVP_CIPHER_CTX_free(ctx);
    free(ct);
    return rc;
}

int keyring_sign(const keyring_t *kr, const void *msg, size_t n, uint8_t sig[64], tarn_err_t *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t siglen = 64;
    int rc = 0;
    if (!md) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if (EVP_DigestSignInit(md, NULL, NULL, NULL, kr->audit) != 1 ||
        EVP_DigestSign(md, sig, &siglen, msg, n) != 1 || siglen != 64)
        rc = TARN_ERR(err, TARN_EIO, "Ed25519 signing failed");
done:
    EVP_MD_CTX_free(md);
    return rc;
}

int keyring_verify(const keyring_t *kr, const void *msg, size_t n, const uint8_t sig[64])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = TARN_EINVAL;
    if (!md)
        return TARN_ENOMEM;
    if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, kr->audit) == 1 &&
        EVP_DigestVerify(md, sig, 64, msg, n) == 1)
        rc = 0;
    else
        ERR_clear_error();
    EVP_MD_CTX_free(md);
    return rc;
}
