/* Unit tests of the error reasons (util/err_reasons.h) and the edge that maps them
 * (server/errors.c): every reason has a unique name and well-formed mappings, every reason
 * with every code gives each protocol a well-formed answer, and known mappings hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/errors.h"
#include "util/err.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

static const int codes[] = {TARN_OK,     TARN_ENOTFOUND, TARN_EEXISTS, TARN_EDENIED,
                            TARN_EINVAL, TARN_ECONFLICT, TARN_EIO,     TARN_ENOMEM,
                            TARN_EBUSY,  TARN_EUPSTREAM};

static bool sqlstate_ok(const char *s)
{
    if (!s || strlen(s) != 5)
        return false;
    for (int i = 0; i < 5; i++)
        if (!isdigit((unsigned char)s[i]) && !isupper((unsigned char)s[i]))
            return false;
    return true;
}

static bool status_ok(int status)
{
    return status >= 100 && status <= 599;
}

/* Each column holds a well-formed value, or nothing where the edge answers by the code. */
static void test_table_well_formed(void **state)
{
    (void)state;
    assert_null(tarn_reason_name(TARN_R_NONE));
    assert_null(tarn_reason_name(TARN_R_COUNT));
    assert_true(TARN_R_COUNT > 1);
    for (int r = TARN_R_NONE + 1; r < TARN_R_COUNT; r++) {
        const char *name = tarn_reason_name(r);
        assert_non_null(name);
        assert_true(isupper((unsigned char)name[0]));
        for (int o = r + 1; o < TARN_R_COUNT; o++)
            if (!strcmp(name, tarn_reason_name(o)))
                fail_msg("reason %s appears twice", name);
        int status = tarn_reason_http_status(r);
        if (status && !status_ok(status))
            fail_msg("%s: HTTP status %d", name, status);
        const char *state = tarn_reason_sqlstate(r);
        if (state && !sqlstate_ok(state))
            fail_msg("%s: SQLSTATE %s", name, state);
        int fh_status;
        const char *type = tarn_reason_firehose(r, &fh_status);
        if (type ? !*type || (fh_status != 400 && fh_status != 500) : fh_status != 0)
            fail_msg("%s: Firehose %s %d", name, type ? type : "(by code)", fh_status);
    }
}

/* Whatever the code, every reason (and none) gives every protocol a complete answer. */
static void test_every_reason_maps(void **state)
{
    (void)state;
    for (int r = TARN_R_NONE; r < TARN_R_COUNT; r++)
        for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
            err_map_t m = errors_map(codes[i], r);
            if (!m.code || !*m.code || !status_ok(m.status))
                fail_msg("reason %d code %d: S3 %s %d", r, codes[i], m.code, m.status);
            if (!sqlstate_ok(errors_sqlstate(codes[i], r)))
                fail_msg("reason %d code %d: SQLSTATE %s", r, codes[i],
                         errors_sqlstate(codes[i], r));
            m = errors_firehose(codes[i], r);
            if (!m.code || !*m.code || !status_ok(m.status))
                fail_msg("reason %d code %d: Firehose %s %d", r, codes[i], m.code, m.status);
        }
}

static void expect_map(int code, tarn_reason_t r, const char *s3, int status, const char *state)
{
    err_map_t m = errors_map(code, r);
    assert_string_equal(m.code, s3);
    assert_int_equal(m.status, status);
    assert_string_equal(errors_sqlstate(code, r), state);
}

static void expect_firehose(int code, tarn_reason_t r, const char *type, int status)
{
    err_map_t m = errors_firehose(code, r);
    assert_string_equal(m.code, type);
    assert_int_equal(m.status, status);
}

static void test_known_mappings(void **state)
{
    (void)state;
    assert_string_equal(tarn_reason_name(TARN_R_NoSuchKey), "NoSuchKey");
    /* A reason's own mappings, whatever the code... */
    expect_map(TARN_ENOTFOUND, TARN_R_NoSuchKey, "NoSuchKey", 404, "42704");
    expect_map(TARN_ENOTFOUND, TARN_R_NoSuchTable, "NoSuchTable", 404, "42P01");
    expect_map(TARN_EINVAL, TARN_R_QueryTimeout, "QueryTimeout", 408, "57014");
    expect_map(TARN_EINVAL, TARN_R_QueryCancelled, "QueryCancelled", 409, "57014");
    expect_map(TARN_EBUSY, TARN_R_SlowDown, "SlowDown", 503, "53000");
    expect_map(TARN_EDENIED, TARN_R_AccessDenied, "AccessDenied", 403, "42501");
    expect_map(TARN_EINVAL, TARN_R_InvalidPartNumber, "InvalidPartNumber", 416, "42000");
    expect_map(TARN_ENOTFOUND, TARN_R_NotModified, "NotModified", 304, "42704");
    expect_firehose(TARN_EBUSY, TARN_R_SlowDown, "ServiceUnavailableException", 500);
    expect_firehose(TARN_ENOTFOUND, TARN_R_NoSuchStream, "ResourceNotFoundException", 400);
    expect_firehose(TARN_EDENIED, TARN_R_SignatureDoesNotMatch, "InvalidSignatureException", 400);
    expect_firehose(TARN_ENOTFOUND, TARN_R_NoSuchBucket, "InvalidArgumentException", 400);
    expect_map(TARN_ECONFLICT, TARN_R_PromotionOff, "PromotionOff", 409, "40001");
    /* ...and the code's defaults in a column the reason leaves to it. */
    expect_map(TARN_EINVAL, TARN_R_UndefinedTable, "InvalidArgument", 400, "42P01");
    expect_map(TARN_EINVAL, TARN_R_CantChangeRuntimeParam, "InvalidArgument", 400, "55P02");
    expect_map(TARN_ENOTFOUND, TARN_R_NoSuchSource, "NotFound", 404, "42704");
    expect_map(TARN_EIO, TARN_R_NONE, "InternalError", 500, "58030");
    expect_firehose(TARN_EINVAL, TARN_R_NoSuchKey, "InvalidArgumentException", 400);
    expect_firehose(TARN_EIO, TARN_R_NONE, "InternalFailure", 500);
}

/* TARN_ERR_R names the reason bare; TARN_ERR_RV takes a value chosen at run time. */
static void test_err_records_reasons(void **state)
{
    (void)state;
    tarn_err_t e = {0};
    assert_int_equal(e.reason, TARN_R_NONE);
    assert_int_equal(TARN_ERR_R(&e, TARN_ENOTFOUND, NoSuchTable, "no table %s", "t"),
                     TARN_ENOTFOUND);
    assert_int_equal(e.reason, TARN_R_NoSuchTable);
    assert_string_equal(e.msg, "no table t");
    tarn_reason_t r = TARN_R_SyntaxError;
    assert_int_equal(TARN_ERR_RV(&e, TARN_EINVAL, r, "bad"), TARN_EINVAL);
    assert_int_equal(e.reason, TARN_R_SyntaxError);
    assert_int_equal(TARN_ERR(&e, TARN_EIO, "plain"), TARN_EIO);
    assert_int_equal(e.reason, TARN_R_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_well_formed),
        cmocka_unit_test(test_every_reason_maps),
        cmocka_unit_test(test_known_mappings),
        cmocka_unit_test(test_err_records_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
