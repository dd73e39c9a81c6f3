/* Unit tests for the SCRAM-SHA-256 server exchange: RFC 7677's test vector end to end, a
 * wrong password, a replayed or altered nonce, malformed messages, channel-binding
 * requests, and the stand-in exchange for unknown users. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "govern/password.h"
#include "govern/scram.h"
#include "util/hash.h"

#include <stdlib.h>
#include <string.h>

#define CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define SERVER_FIRST                                                                               \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define CLIENT_FINAL                                                                               \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"               \
    "Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static char *verifier(const char *password)
{
    uint8_t salt[16];
    tarn_err_t err = {0};
    buf_t v = BUF_INIT;
    assert_int_equal(hash_unb64(salt, sizeof salt, "W22ZaJ0SNY7soEsUEjb6gQ=="), 16);
    assert_int_equal(password_scram_verifier_salt(&v, password, salt, sizeof salt, 4096, &err), 0);
    return buf_steal(&v);
}

static void test_rfc7677_vector(void **state)
{
    (void)state;
    char *v = verifier("pencil");
    scram_t s;
    buf_t out = BUF_INIT;
    tarn_err_t err = {0};
    assert_int_equal(
        scram_start(&s, v, CLIENT_FIRST, strlen(CLIENT_FIRST), SERVER_NONCE, &out, &err), 0);
    assert_string_equal(out.data, SERVER_FIRST);
    buf_reset(&out);
    assert_int_equal(scram_finish(&s, CLIENT_FINAL, strlen(CLIENT_FINAL), &out, &err), 0);
    assert_string_equal(out.data, SERVER_FINAL);
    scram_done(&s);
    buf_free(&out);
    free(v);
}

static void test_wrong_password(void **state)
{
    (void)state;
    char *v = verifier("not pencil");
    scram_t s;
    buf_t out = BUF_INIT;
    tarn_err_t err = {0};
    assert_int_equal(
        scram_start(&s, v, CLIENT_FIRST, strlen(CLIENT_FIRST), SERVER_NONCE, &out, &err), 0);
    buf_reset(&out);
    assert_int_equal(scram_finish(&s, CLIENT_FINAL, strlen(CLIENT_FINAL), &out, &err),
                     TARN_EDENIED);
    assert_string_equal(tarn_reason_name(err.reason), "InvalidPassword");
    assert_int_equal(out.len, 0);
    scram_done(&s);
    buf_free(&out);
    free(v);
}

static void test_unknown_user_looks_the_same(void **state)
{
    (void)state;
    scram_t s;
    buf_t out = BUF_INIT;
    tarn_err_t err = {0};
    assert_int_equal(
        scram_start(&s, NULL, CLIENT_FIRST, strlen(CLIENT_FIRST), SERVER_NONCE, &out, &err), 0);
    /* Same shape as a real server-first-message: nonce, a 16-byte salt, 4096 rounds. */
    assert_non_null(strstr(out.data, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s="));
    assert_non_null(strstr(out.data, ",i=4096"));
    buf_reset(&out);
    assert_int_equal(scram_finish(&s, CLIENT_FINAL, strlen(CLIENT_FINAL), &out, &err),
                     TARN_EDENIED);
    scram_done(&s);
    buf_free(&out);
}

static void test_bad_messages(void **state)
{
    (void)state;
    char *v = verifier("pencil");
    const char *bad_first[] = {
        "", "x", "p=tls-server-end-point,,n=user,r=abc", "n,,n=user", "n,,n=user,r=", "n", "n,"};
    for (size_t i = 0; i < sizeof bad_first / sizeof *bad_first; i++) {
        scram_t s;
        buf_t out = BUF_INIT;
        tarn_err_t err = {0};
        assert_int_equal(scram_start(&s, v, bad_first[i], strlen(bad_first[i]), NULL, &out, &err),
                         TARN_EINVAL);
        assert_string_equal(tarn_reason_name(err.reason), "ProtocolViolation");
        buf_free(&out);
    }
    const char *bad_final[] = {
        "",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "c=biws,r=other,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        /* channel binding data where none was agreed */
        ("c=cD10bHM=,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"
         "Ute9ytag9zjfMHgsqmmiz7AndVQ="),
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=short",
    };
    for (size_t i = 0; i < sizeof bad_final / sizeof *bad_final; i++) {
        scram_t s;
        buf_t out = BUF_INIT;
        tarn_err_t err = {0};
        assert_int_equal(
            scram_start(&s, v, CLIENT_FIRST, strlen(CLIENT_FIRST), SERVER_NONCE, &out, &err), 0);
        buf_reset(&out);
        assert_int_equal(scram_finish(&s, bad_final[i], strlen(bad_final[i]), &out, &err),
                         TARN_EINVAL);
        scram_done(&s);
        buf_free(&out);
    }
    free(v);
}

static void test_random_nonce(void **state)
{
    (void)state;
    char *v = verifier("pencil");
    scram_t a, b;
    buf_t oa = BUF_INIT, ob = BUF_INIT;
    tarn_err_t err = {0};
    assert_int_equal(scram_start(&a, v, CLIENT_FIRST, strlen(CLIENT_FIRST), NULL, &oa, &err), 0);
    assert_int_equal(scram_start(&b, v, CLIENT_FIRST, strlen(CLIENT_FIRST), NULL, &ob, &err), 0);
    assert_string_not_equal(oa.data, ob.data);
    /* The vector's proof was made for another server nonce. */
    buf_reset(&oa);
    assert_int_equal(scram_finish(&a, CLIENT_FINAL, strlen(CLIENT_FINAL), &oa, &err), TARN_EINVAL);
    scram_done(&a);
    scram_done(&b);
    buf_free(&oa);
    buf_free(&ob);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7677_vector),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_unknown_user_looks_the_same),
        cmocka_unit_test(test_bad_messages),
        cmocka_unit_test(test_random_nonce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
