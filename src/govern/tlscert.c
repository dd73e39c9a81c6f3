/* Self-signed certificates with OpenSSL's EVP and X509v3 APIs; see tlscert.h. The
 * certificate is its own CA (basicConstraints CA:TRUE, keyCertSign) because clients
 * trust it by listing it as their root: psql's sslrootcert, AWS_CA_BUNDLE, boto3 verify. */
#include "govern/tlscert.h"
#include "util/buf.h"
#include "util/fs.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A name fit for a DNS SAN and for the extension's text form: letters, digits, '-' and
 * '.', no leading or trailing dot. Anything else (an empty name, a comma) is left out. */
static bool dns_name_ok(const char *h)
{
    size_t n = h ? strlen(h) : 0;
    if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-' || h[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.'))
            return false;
    }
    return true;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* PEM text of what write() puts in a memory BIO, appended to out. */
static int pem_of(buf_t *out, BIO *bio)
{
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    return n > 0 && !buf_append(out, p, (size_t)n) ? 0 : -1;
}

int tlscert_create_self_signed(const char *cert_path, const char *key_path, const char *hostname,
                               int days, tarn_err_t *err)
{
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    BIGNUM *serial = NULL;
    BIO *kbio = NULL, *cbio = NULL;
    buf_t kpem = BUF_INIT, cpem = BUF_INIT;
    const char *failed = NULL;
    int rc = 0;
    if (days < 1 || days > 3650)
        return TARN_ERR(err, TARN_EINVAL, "a certificate is valid for 1 to 3650 days (got %d)",
                        days);
    if (hostname && *hostname && !dns_name_ok(hostname))
        return TARN_ERR(err, TARN_EINVAL, "'%s' is not a DNS name", hostname);
    bool extra = hostname && *hostname && strcmp(hostname, "localhost");
    char san[512];
    snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1%s%s", extra ? ",DNS:" : "",
             extra ? hostname : "");
    const char *cn = extra ? hostname : "localhost";

    if (!(pkey = EVP_EC_gen("P-256"))) {
        failed = "generate an EC P-256 key";
        goto done;
    }
    if (!(x = X509_new()) || !(serial = BN_new())) {
        failed = "allocate a certificate";
        goto done;
    }
    /* A random 127-bit serial: positive, and never the same for two certificates that
     * a client may have seen from this host. */
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_set_version(x, 2) || !BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        /* Five minutes back, for clients whose clocks run a little behind. */
        !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) ||
        !X509_set_pubkey(x, pkey) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"tarn", -1,
                                    -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_issuer_name(x, name)) {
        failed = "fill in the certificate";
        goto done;
    }
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    /* The subject key id goes first: the authority key id is computed from it. */
    if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
        add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
        add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") ||
        add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
        add_ext(x, &ctx, NID_subject_alt_name, san)) {
        failed = "add the certificate's extensions";
        goto done;
    }
    if (!X509_sign(x, pkey, EVP_sha256())) {
        failed = "sign the certificate";
        goto done;
    }
    if (!(kbio = BIO_new(BIO_s_secmem())) || !(cbio = BIO_new(BIO_s_mem())) ||
        !PEM_write_bio_PrivateKey(kbio, pkey, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cbio, x) || pem_of(&kpem, kbio) || pem_of(&cpem, cbio)) {
        failed = "write the key and certificate as PEM";
        goto done;
    }
    /* The key first: a certificate on disk always has its key beside it. */
    if ((rc = fs_write_atomic(key_path, kpem.data, kpem.len, 0600, err)) ||
        (rc = fs_write_atomic(cert_path, cpem.data, cpem.len, 0644, err)))
        goto done;
done:
    if (failed) {
        char detail[256];
        ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
        rc = TARN_ERR(err, TARN_EIO, "cannot %s: %s", failed, detail);
    }
    if (kpem.data)
        OPENSSL_cleanse(kpem.data, kpem.len);
    buf_free(&kpem);
    buf_free(&cpem);
    BIO_free(kbio);
    BIO_free(cbio);
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}
