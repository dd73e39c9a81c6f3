/* Unit tests for the keyring (sealing, signing, key file permissions) and for passwords
 * (PBKDF2 storage, SCRAM-SHA-256 verifiers against Python hashlib vectors, generators). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "govern/keyring.h"
#include "govern/password.h"
#include "util/fs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char root[64];
    char keys[128];
    keyring_t *kr;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tarn_err_t err = {0};
    strcpy(f->root, "/tmp/tarn-test-keyring-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->keys, sizeof f->keys, "%s/keys", f->root);
    assert_int_equal(keyring_create(f->keys, &err), 0);
    assert_int_equal(keyring_open(&f->kr, f->keys, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    keyring_free(f->kr);
    fs_remove_tree(f->root);
    free(f);
    return 0;
}

static mode_t file_mode(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_create_layout(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    assert_int_equal(file_mode(f->root, "keys"), 0700);
    assert_int_equal(file_mode(f->keys, "master.key"), 0600);
    assert_int_equal(file_mode(f->keys, "audit.key"), 0600);
    assert_int_equal(file_mode(f->keys, "audit.pub"), 0600);
    assert_int_equal(keyring_create(f->keys, &err), TARN_EEXISTS);

    char path[PATH_MAX];
    buf_t b = BUF_INIT;
    snprintf(path, sizeof path, "%s/audit.key", f->keys);
    assert_int_equal(fs_read_all(path, &b, &err), 0);
    assert_non_null(strstr(b.data, "-----BEGIN PRIVATE KEY-----"));
    buf_reset(&b);
    snprintf(path, sizeof path, "%s/audit.pub", f->keys);
    assert_int_equal(fs_read_all(path, &b, &err), 0);
    assert_non_null(strstr(b.data, "-----BEGIN PUBLIC KEY-----"));
    buf_reset(&b);
    snprintf(path, sizeof path, "%s/master.key", f->keys);
    assert_int_equal(fs_read_all(path, &b, &err), 0);
    assert_int_equal(b.len, 65);
    buf_free(&b);
}

static void test_seal_roundtrip(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    buf_t s1 = BUF_INIT, s2 = BUF_INIT, p = BUF_INIT;
    const char secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    assert_int_equal(keyring_seal(f->kr, "TKAAAA", secret, strlen(secret), &s1, &err), 0);
    assert_int_equal(keyring_seal(f->kr, "TKAAAA", secret, strlen(secret), &s2, &err), 0);
    assert_true(strncmp(s1.data, "v1:", 3) == 0);
    assert_null(strstr(s1.data, "EXAMPLEKEY"));
    assert_string_not_equal(s1.data, s2.data); /* fresh nonce each time */
    assert_int_equal(keyring_unseal(f->kr, "TKAAAA", s1.data, &p, &err), 0);
    assert_int_equal(p.len, strlen(secret));
    assert_memory_equal(p.data, secret, p.len);

    /* Binary with NULs, and the empty value; NULL aad is "". */
    const uint8_t bin[5] = {0, 1, 0, 255, 0};
    buf_reset(&s1);
    buf_reset(&p);
    assert_int_equal(keyring_seal(f->kr, NULL, bin, sizeof bin, &s1, &err), 0);
    assert_int_equal(keyring_unseal(f->kr, "", s1.data, &p, &err), 0);
    assert_int_equal(p.len, sizeof bin);
    assert_memory_equal(p.data, bin, sizeof bin);
    buf_reset(&s1);
    buf_reset(&p);
    assert_int_equal(keyring_seal(f->kr, "x", "", 0, &s1, &err), 0);
    assert_int_equal(keyring_unseal(f->kr, "x", s1.data, &p, &err), 0);
    assert_int_equal(p.len, 0);
    buf_free(&s1);
    buf_free(&s2);
    buf_free(&p);
}

static void test_seal_tamper(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    buf_t s = BUF_INIT, p = BUF_INIT;
    assert_int_equal(keyring_seal(f->kr, "TKAAAA", "top secret value", 16, &s, &err), 0);

    assert_int_equal(keyring_unseal(f->kr, "TKAAAB", s.data, &p, &err), TARN_EINVAL);
    assert_int_equal(p.len, 0);
    assert_int_equal(keyring_unseal(f->kr, NULL, s.data, &p, &err), TARN_EINVAL);

    char *t = strdup(s.data);
    char *colon = strchr(t + 3, ':');
    size_t positions[] = {4, (size_t)(colon - t) + 2, strlen(t) / 2 + 3, strlen(t) - 4};
    for (size_t i = 0; i < sizeof positions / sizeof *positions; i++) {
        strcpy(t, s.data);
        t[positions[i]] = t[positions[i]] == 'A' ? 'B' : 'A';
        buf_reset(&p);
        assert_int_equal(keyring_unseal(f->kr, "TKAAAA", t, &p, &err), TARN_EINVAL);
        assert_int_equal(p.len, 0);
    }
    strcpy(t, s.data);
    t[strlen(t) - 8] = '\0';
    assert_int_equal(keyring_unseal(f->kr, "TKAAAA", t, &p, &err), TARN_EINVAL);
    strcpy(t, s.data);
    t[1] = '2';
    assert_int_equal(keyring_unseal(f->kr, "TKAAAA", t, &p, &err), TARN_EINVAL);
    assert_int_equal(keyring_unseal(f->kr, "TKAAAA", "v1:", &p, &err), TARN_EINVAL);
    assert_int_equal(keyring_unseal(f->kr, "TKAAAA", "v1:AAAA:BBBB", &p, &err), TARN_EINVAL);
    assert_int_equal(keyring_unseal(f->kr, "TKAAAA", "", &p, &err), TARN_EINVAL);

    /* Another keyring cannot open it. */
    char other[PATH_MAX];
    keyring_t *kr2 = NULL;
    snprintf(other, sizeof other, "%s/keys2", f->root);
    assert_int_equal(keyring_create(other, &err), 0);
    assert_int_equal(keyring_open(&kr2, other, &err), 0);
    assert_int_equal(keyring_unseal(kr2, "TKAAAA", s.data, &p, &err), TARN_EINVAL);
    keyring_free(kr2);
    free(t);
    buf_free(&s);
    buf_free(&p);
}

static void test_permissions(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    keyring_t *kr = NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/master.key", f->keys);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(keyring_open(&kr, f->keys, &err), TARN_EDENIED);
    assert_null(kr);
    assert_non_null(strstr(err.msg, "master.key"));
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);

    snprintf(path, sizeof path, "%s/audit.key", f->keys);
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(keyring_open(&kr, f->keys, &err), TARN_EDENIED);
    assert_non_null(strstr(err.msg, "audit.key"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(keyring_open(&kr, f->keys, &err), 0);
    keyring_free(kr);

    snprintf(path, sizeof path, "%s/nokeys", f->root);
    assert_int_equal(keyring_open(&kr, path, &err), TARN_ENOTFOUND);

    /* A malformed master key is refused. */
    snprintf(path, sizeof path, "%s/badkeys", f->root);
    assert_int_equal(keyring_create(path, &err), 0);
    char mk[PATH_MAX + 16];
    snprintf(mk, sizeof mk, "%s/master.key", path);
    assert_int_equal(fs_write_atomic(mk, "zz\n", 3, 0600, &err), 0);
    assert_int_equal(keyring_open(&kr, path, &err), TARN_EINVAL);
}

static void test_sign_verify(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    uint8_t sig[64];
    const char msg[] = "tarn-audit-digest-v1\nsegment=1\n";
    assert_int_equal(keyring_sign(f->kr, msg, strlen(msg), sig, &err), 0);
    assert_int_equal(keyring_verify(f->kr, msg, strlen(msg), sig), 0);
    assert_int_not_equal(keyring_verify(f->kr, msg, strlen(msg) - 1, sig), 0);
    sig[10] ^= 1;
    assert_int_not_equal(keyring_verify(f->kr, msg, strlen(msg), sig), 0);
    sig[10] ^= 1;

    /* Reopening loads the same signing key. */
    keyring_t *kr = NULL;
    assert_int_equal(keyring_open(&kr, f->keys, &err), 0);
    assert_int_equal(keyring_verify(kr, msg, strlen(msg), sig), 0);
    keyring_free(kr);
}

static void test_password_hash(void **state)
{
    (void)state;
    tarn_err_t err = {0};
    buf_t h = BUF_INIT, h2 = BUF_INIT;
    assert_int_equal(password_hash_iter(&h, "correct horse", 1000, &err), 0);
    assert_true(strncmp(h.data, "pbkdf2-sha256$1000$", 19) == 0);
    assert_int_equal(password_check(h.data, "correct horse"), 0);
    assert_int_equal(password_check(h.data, "correct horsE"), TARN_EDENIED);
    assert_int_equal(password_check(h.data, ""), TARN_EDENIED);
    assert_int_equal(password_hash_iter(&h2, "correct horse", 1000, &err), 0);
    assert_string_not_equal(h.data, h2.data); /* salted */
    assert_int_equal(password_hash_iter(&h2, "x", 0, &err), TARN_EINVAL);

    /* Known vector from Python: hashlib.pbkdf2_hmac('sha256', b'hunter2', bytes(range(16)), 1000) */
    const char *known = "pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$"
                        "9VUOiRGfWTzTZixtfaW9P3qQ4lzS3CIfWKYWbHcnU9M=";
    assert_int_equal(password_check(known, "hunter2"), 0);
    assert_int_equal(password_check(known, "hunter3"), TARN_EDENIED);
    assert_int_equal(password_check("pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw==$", "hunter2"),
                     TARN_EDENIED);
    assert_int_equal(password_check("pbkdf2-sha256$0$AAECAwQFBgcICQoLDA0ODw==$"
                                    "9VUOiRGfWTzTZixtfaW9P3qQ4lzS3CIfWKYWbHcnU9M=",
                                    "hunter2"),
                     TARN_EDENIED);
    assert_int_equal(password_check("md5$abc", "hunter2"), TARN_EDENIED);
    assert_int_equal(password_check("", "hunter2"), TARN_EDENIED);

    buf_reset(&h);
    assert_int_equal(password_hash(&h, "default-cost", &err), 0);
    assert_true(strncmp(h.data, "pbkdf2-sha256$210000$", 21) == 0);
    assert_int_equal(password_check(h.data, "default-cost"), 0);
    buf_free(&h);
    buf_free(&h2);
}

static void test_scram_verifier(void **state)
{
    (void)state;
    tarn_err_t err = {0};
    buf_t v = BUF_INIT;
    /* RFC 7677's salt; expected value computed with Python hashlib/hmac (RFC 5802 steps). */
    const uint8_t salt[16] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
                              0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
    assert_int_equal(password_scram_verifier_salt(&v, "pencil", salt, sizeof salt, 4096, &err),
                     0);
    assert_string_equal(v.data, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
                                "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                                "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
    buf_reset(&v);
    assert_int_equal(password_scram_verifier(&v, "pencil", &err), 0);
    assert_true(strncmp(v.data, "SCRAM-SHA-256$4096:", 19) == 0);
    /* 16-byte salt -> 24 base64 chars; two 32-byte keys -> 44 chars each. */
    assert_int_equal(v.len, strlen("SCRAM-SHA-256$4096:") + 24 + 1 + 44 + 1 + 44);
    assert_int_equal(password_scram_verifier_salt(&v, "p", salt, 0, 4096, &err), TARN_EINVAL);
    buf_free(&v);
}

static void test_generators(void **state)
{
    (void)state;
    char pw[PASSWORD_GEN_LEN + 1], pw2[PASSWORD_GEN_LEN + 1], small[8];
    char ak[21], ak2[21], sk[41];
    assert_int_equal(password_generate(pw, sizeof pw), 0);
    assert_int_equal(password_generate(pw2, sizeof pw2), 0);
    assert_int_equal(strlen(pw), PASSWORD_GEN_LEN);
    assert_string_not_equal(pw, pw2);
    assert_null(strpbrk(pw, "0O1lI"));
    assert_int_equal(password_generate(small, sizeof small), TARN_EINVAL);

    assert_int_equal(key_generate_access_key(ak), 0);
    assert_int_equal(key_generate_access_key(ak2), 0);
    assert_int_equal(strlen(ak), 20);
    assert_true(strncmp(ak, "TK", 2) == 0);
    assert_int_equal(strspn(ak, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 20);
    assert_string_not_equal(ak, ak2);

    assert_int_equal(key_generate_secret(sk), 0);
    assert_int_equal(strlen(sk), 40);
    assert_int_equal(
        strspn(sk, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
        cmocka_unit_test(test_password_hash),
        cmocka_unit_test(test_scram_verifier),
        cmocka_unit_test(test_generators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
