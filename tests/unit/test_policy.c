/* Unit tests of promotion policy decisions: schema modes (additive, strict, any), required
 * columns, the line and record numbers read from reader errors, and reason documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "process/policy.h"

#include <stdio.h>
#include <string.h>

/* A schema from "name:TYPE" pairs. */
static void build(schema_t *s, size_t n, const char *const *defs)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", defs[i]);
        char *colon = strchr(buf, ':');
        assert_non_null(colon);
        *colon = '\0';
        assert_int_equal(schema_add(s, buf, colon + 1, true, 0), 0);
    }
}
#define BUILD(s, ...)                                                                      \
    do {                                                                                   \
        static const char *const defs_[] = {__VA_ARGS__};                                  \
        build((s), sizeof defs_ / sizeof *defs_, defs_);                                   \
    } while (0)

static int check(policy_mode_t mode, const schema_t *t, const schema_t *f, tarn_err_t *e)
{
    memset(e, 0, sizeof *e);
    return policy_check_schema(mode, t, f, e);
}

static void test_mode_parse(void **state)
{
    (void)state;
    policy_mode_t m = POLICY_ANY;
    assert_int_equal(policy_mode_parse(&m, "additive"), 0);
    assert_int_equal(m, POLICY_ADDITIVE);
    assert_int_equal(policy_mode_parse(&m, "strict"), 0);
    assert_int_equal(m, POLICY_STRICT);
    assert_int_equal(policy_mode_parse(&m, "any"), 0);
    assert_int_equal(m, POLICY_ANY);
    assert_int_equal(policy_mode_parse(&m, "Additive"), TARN_EINVAL);
    assert_int_equal(policy_mode_parse(&m, NULL), TARN_EINVAL);
}

static void test_additive(void **state)
{
    (void)state;
    schema_t t, same, added, changed, removed, narrower, upper;
    tarn_err_t e;
    BUILD(&t, "id:BIGINT", "amount:DOUBLE");
    BUILD(&same, "id:BIGINT", "amount:DOUBLE");
    BUILD(&added, "id:BIGINT", "amount:DOUBLE", "note:VARCHAR");
    BUILD(&changed, "id:BIGINT", "amount:VARCHAR");
    BUILD(&removed, "id:BIGINT");
    BUILD(&narrower, "id:INTEGER", "amount:DOUBLE");
    BUILD(&upper, "ID:BIGINT", "Amount:DOUBLE");
    assert_int_equal(check(POLICY_ADDITIVE, &t, &same, &e), 0);
    assert_int_equal(check(POLICY_ADDITIVE, &t, &added, &e), 0);
    assert_int_equal(check(POLICY_ADDITIVE, &t, &narrower, &e), 0);
    assert_int_equal(check(POLICY_ADDITIVE, &t, &upper, &e), 0); /* names compare as SQL does */
    assert_int_equal(check(POLICY_ADDITIVE, &t, &changed, &e), TARN_EINVAL);
    assert_non_null(strstr(e.msg, "amount changed type from DOUBLE to VARCHAR"));
    /* A nullable column missing from a file reads as NULL; a NOT NULL one is refused. */
    assert_int_equal(check(POLICY_ADDITIVE, &t, &removed, &e), 0);
    t.cols[1].nullable = false;
    assert_int_equal(check(POLICY_ADDITIVE, &t, &removed, &e), TARN_EINVAL);
    assert_non_null(strstr(e.msg, "column amount (DOUBLE NOT NULL) of the table is missing"));
    t.cols[1].nullable = true;
    /* A file with none of the table's columns is another shape, not an omission. */
    schema_t other;
    BUILD(&other, "column0:BIGINT", "column1:VARCHAR");
    assert_int_equal(check(POLICY_ADDITIVE, &t, &other, &e), TARN_EINVAL);
    assert_non_null(strstr(e.msg, "none of the table's columns (id BIGINT, ...) is in the file"));
    schema_free(&other);
    /* A widening evolves the table; turning a number into text does not. */
    schema_t wider;
    BUILD(&wider, "id:HUGEINT", "amount:DOUBLE");
    assert_int_equal(check(POLICY_ADDITIVE, &narrower, &wider, &e), 0);
    schema_t dated, stamped;
    BUILD(&dated, "id:BIGINT", "d:DATE");
    BUILD(&stamped, "id:BIGINT", "d:TIMESTAMP");
    assert_int_equal(check(POLICY_ADDITIVE, &dated, &stamped, &e), 0);
    assert_int_equal(check(POLICY_ADDITIVE, &stamped, &dated, &e), 0);
    assert_int_equal(check(POLICY_STRICT, &dated, &stamped, &e), TARN_EINVAL);
    schema_free(&wider);
    schema_free(&dated);
    schema_free(&stamped);
    /* A table without columns yet takes its first file. */
    schema_t empty = {0};
    assert_int_equal(check(POLICY_ADDITIVE, &empty, &changed, &e), 0);
    schema_t *all[] = {&t, &same, &added, &changed, &removed, &narrower, &upper};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        schema_free(all[i]);
}

static void test_strict_and_any(void **state)
{
    (void)state;
    schema_t t, same, added, narrower, changed;
    tarn_err_t e;
    BUILD(&t, "id:BIGINT", "name:VARCHAR");
    BUILD(&same, "name:VARCHAR", "id:BIGINT"); /* order does not matter */
    BUILD(&added, "id:BIGINT", "name:VARCHAR", "x:DATE");
    BUILD(&narrower, "id:INTEGER", "name:VARCHAR");
    BUILD(&changed, "id:VARCHAR");
    assert_int_equal(check(POLICY_STRICT, &t, &same, &e), 0);
    assert_int_equal(check(POLICY_STRICT, &t, &added, &e), TARN_EINVAL);
    assert_non_null(strstr(e.msg, "column x (DATE) is not in the table"));
    assert_int_equal(check(POLICY_STRICT, &t, &narrower, &e), TARN_EINVAL);
    assert_non_null(strstr(e.msg, "strict mode refuses type changes"));
    assert_int_equal(check(POLICY_ANY, &t, &changed, &e), 0);
    assert_int_equal(check(POLICY_ANY, &t, &added, &e), 0);
    schema_t *all[] = {&t, &same, &added, &narrower, &changed};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        schema_free(all[i]);
}

static void test_required(void **state)
{
    (void)state;
    schema_t f;
    tarn_err_t e = {0};
    BUILD(&f, "id:BIGINT", "Email:VARCHAR");
    json_t *ok = json_pack("[s, s]", "id", "email");
    json_t *missing = json_pack("[s, s, s]", "id", "phone", "zip");
    json_t *none = json_array();
    assert_int_equal(policy_check_required(ok, &f, &e), 0);
    assert_int_equal(policy_check_required(none, &f, &e), 0);
    assert_int_equal(policy_check_required(missing, &f, &e), TARN_EINVAL);
    assert_string_equal(e.msg, "required columns missing: phone, zip");
    json_decref(ok);
    json_decref(missing);
    json_decref(none);
    schema_free(&f);
}

static void test_error_lines(void **state)
{
    (void)state;
    assert_int_equal(policy_error_line("Invalid Input Error: CSV Error on Line: 4"), 4);
    assert_int_equal(policy_error_line("does not read as csv: Invalid Input Error: CSV Error "
                                       "on Line: 20481"),
                     20481);
    /* The JSON reader names the line after the broken one. */
    assert_int_equal(policy_error_line("Invalid Input Error: Malformed JSON in file \"x\", at "
                                       "byte 10 in line 4: unexpected character."),
                     3);
    assert_int_equal(policy_error_line("Conversion Error: could not convert"), 0);
    assert_int_equal(policy_error_line(NULL), 0);
    assert_int_equal(policy_error_record("Malformed JSON in file \"x\", at byte 3 in "
                                         "record/value 7: unexpected end of data."),
                     7);
    assert_int_equal(policy_error_record("CSV Error on Line: 3"), 0);
}

static void test_reason_document(void **state)
{
    (void)state;
    json_t *policy = json_pack("{s:s, s:[], s:[s]}", "mode", "additive", "required_columns",
                               "not_null_keys", "id");
    json_t *r = policy_reason("parse", "CSV Error on Line: 4", 4, 0, "cleaned.db.t", policy,
                              1700000000123);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "check")), "parse");
    assert_string_equal(json_string_value(json_object_get(r, "detail")), "CSV Error on Line: 4");
    assert_int_equal(json_integer_value(json_object_get(r, "line")), 4);
    assert_null(json_object_get(r, "row")); /* unknown: left out */
    assert_string_equal(json_string_value(json_object_get(r, "table")), "cleaned.db.t");
    assert_true(json_equal(json_object_get(r, "policy"), policy));
    assert_string_equal(json_string_value(json_object_get(r, "time")),
                        "2023-11-14T22:13:20.123Z");
    json_decref(r);
    /* A key that names no table: no table, a row number, no line. */
    r = policy_reason("table", "too few segments", 0, 9, NULL, NULL, 0);
    assert_true(json_is_null(json_object_get(r, "table")));
    assert_null(json_object_get(r, "line"));
    assert_int_equal(json_integer_value(json_object_get(r, "row")), 9);
    json_decref(r);
    json_decref(policy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_parse),   cmocka_unit_test(test_additive),
        cmocka_unit_test(test_strict_and_any), cmocka_unit_test(test_required),
        cmocka_unit_test(test_error_lines),  cmocka_unit_test(test_reason_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
