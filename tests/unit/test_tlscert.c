/* Unit tests for self-signed certificates: the files parse with OpenSSL, the certificate
 * names localhost, 127.0.0.1 and the host, verifies as its own root for those names, its
 * key matches, the key file is owner-only, and bad input is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "govern/tlscert.h"
#include "util/fs.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char root[64];
    char cert[128];
    char key[128];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    strcpy(f->root, "/tmp/tarn-test-tlscert-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->cert, sizeof f->cert, "%s/cert.pem", f->root);
    snprintf(f->key, sizeof f->key, "%s/key.pem", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    fs_remove_tree(f->root);
    free(f);
    return 0;
}

static X509 *read_cert(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(x);
    return x;
}

static EVP_PKEY *read_key(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    EVP_PKEY *k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(k);
    return k;
}

/* Verifies x with itself as the only trusted root, for a host name or an IP address. */
static int verify_for(X509 *x, const char *host, const char *ip)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, x);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, x, NULL);
    X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER);
    if (host)
        X509_VERIFY_PARAM_set1_host(p, host, 0);
    if (ip)
        X509_VERIFY_PARAM_set1_ip_asc(p, ip);
    int ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

static void test_names_key_and_verification(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    assert_int_equal(tlscert_create_self_signed(f->cert, f->key, "lake-01.example", 365, &err), 0);
    X509 *x = read_cert(f->cert);
    EVP_PKEY *k = read_key(f->key);
    assert_int_equal(X509_check_private_key(x, k), 1);
    assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
    assert_int_equal(X509_get_version(x), 2);
    /* Signed by its own key, with every name a client may dial. */
    assert_int_equal(X509_verify(x, k), 1);
    assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "lake-01.example", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(x, "other.example", 0, 0, NULL), 0);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "10.0.0.1", 0), 0);
    assert_int_equal(verify_for(x, "localhost", NULL), 1);
    assert_int_equal(verify_for(x, NULL, "127.0.0.1"), 1);
    assert_int_equal(verify_for(x, "other.example", NULL), 0);
    /* Valid now and for about a year. */
    int pday = 0, psec = 0;
    assert_int_equal(X509_cmp_current_time(X509_get0_notBefore(x)), -1);
    assert_int_equal(ASN1_TIME_diff(&pday, &psec, NULL, X509_get0_notAfter(x)), 1);
    assert_true(pday >= 364 && pday <= 365);
    struct stat st;
    assert_int_equal(stat(f->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    EVP_PKEY_free(k);
    X509_free(x);
}

static void test_serials_differ(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    char cert2[160], key2[160];
    snprintf(cert2, sizeof cert2, "%s/c2.pem", f->root);
    snprintf(key2, sizeof key2, "%s/k2.pem", f->root);
    assert_int_equal(tlscert_create_self_signed(f->cert, f->key, NULL, 1, &err), 0);
    assert_int_equal(tlscert_create_self_signed(cert2, key2, "localhost", 1, &err), 0);
    X509 *a = read_cert(f->cert), *b = read_cert(cert2);
    EVP_PKEY *kb = read_key(key2);
    assert_int_not_equal(
        ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
    assert_int_equal(X509_check_private_key(a, kb), 0); /* a fresh key each time */
    assert_int_equal(X509_check_host(a, "localhost", 0, 0, NULL), 1);
    EVP_PKEY_free(kb);
    X509_free(a);
    X509_free(b);
}

static void test_bad_input(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    assert_int_equal(tlscert_create_self_signed(f->cert, f->key, "a,DNS:evil", 365, &err),
                     TARN_EINVAL);
    assert_int_equal(tlscert_create_self_signed(f->cert, f->key, "ok", 0, &err), TARN_EINVAL);
    assert_false(fs_exists(f->cert));
    char nodir[200];
    snprintf(nodir, sizeof nodir, "%s/missing/cert.pem", f->root);
    assert_int_equal(tlscert_create_self_signed(nodir, nodir, NULL, 30, &err), TARN_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_names_key_and_verification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serials_differ, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
