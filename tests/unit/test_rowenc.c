/* Row encoders against the engine's own text: every value the encoders write must read
 * exactly as the engine's cast to VARCHAR (CSV text), with PostgreSQL's spellings where
 * they differ, and as the engine's to_json in JSON (compared as JSON values). Values
 * cover each type's edges and, for doubles, thousands of magnitudes and digit counts. */
#include "consume/rowenc.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static engine_t *eng;
static engine_conn_t *conn;

static int setup(void **state)
{
    (void)state;
    tarn_err_t err = {0};
    static const char *const dirs[] = {"/nonexistent-tarn-test", NULL};
    if (engine_open(&eng, &(engine_opts_t){.dirs = dirs, .threads = 1}, &err) ||
        engine_connect(eng, &conn, &err))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    engine_disconnect(conn);
    engine_close(eng);
    return 0;
}

/* Runs `SELECT v, ref FROM (values) t(v)` and checks that the encoder's text of v in
 * style equals ref (ref computed by the engine); json: compare as JSON values. Returns
 * the rows checked. */
static size_t check(const char *values, const char *ref, rowenc_style_t style, bool json)
{
    char sql[8192];
    snprintf(sql, sizeof sql, "SELECT v, %s AS ref FROM (%s) AS t(v)", ref, values);
    engine_stream_t *st = NULL;
    tarn_err_t err = {0};
    const json_t *cols;
    const engine_kind_t *kinds;
    if (engine_stream_open(conn, sql, NULL, &st, &err) ||
        engine_stream_columns(st, &cols, &kinds, &err))
        fail_msg("%s: %s", sql, err.msg);
    const engine_vec_t *vecs;
    size_t n, rows = 0;
    buf_t b = BUF_INIT;
    while (!engine_stream_next(st, &vecs, &n, &err) && n) {
        for (size_t i = 0; i < n; i++, rows++) {
            if (engine_vec_null(&vecs[0], i))
                continue;
            size_t len;
            const char *want = engine_vec_text(&vecs[1], i, &len);
            buf_reset(&b);
            assert_int_equal(rowenc_put_value(&b, &vecs[0], i, style), 0);
            char w[512];
            snprintf(w, sizeof w, "%.*s", (int)len, want);
            if (json) {
                json_t *a = json_loads(b.data, JSON_DECODE_ANY, NULL),
                       *c = json_loads(w, JSON_DECODE_ANY, NULL);
                /* Integers past 64 bits are no JSON value here: compared as text. */
                if (a && c ? !json_equal(a, c) : strcmp(b.data, w))
                    fail_msg("%s row %zu: wrote %s, the engine %s", values, rows, b.data, w);
                json_decref(a);
                json_decref(c);
            } else if (strcmp(b.data, w)) {
                fail_msg("%s row %zu: wrote %s, the engine %s", values, rows, b.data, w);
            }
        }
    }
    assert_int_equal(err.code, 0);
    buf_free(&b);
    engine_stream_close(st);
    return rows;
}

static const char *const scalars[] = {
    "VALUES (true), (false), (NULL::BOOLEAN)",
    "VALUES ((-128)::TINYINT), (0::TINYINT), (127::TINYINT)",
    "VALUES ((-32768)::SMALLINT), (7::SMALLINT), (32767::SMALLINT)",
    "VALUES ((-2147483648)::INTEGER), (42), (2147483647)",
    "VALUES ((-9223372036854775808)::BIGINT), (0::BIGINT), (9223372036854775807::BIGINT)",
    "VALUES (255::UTINYINT), (0::UTINYINT), (NULL::UTINYINT)",
    "VALUES (65535::USMALLINT), (1::USMALLINT)",
    "VALUES (0::UINTEGER), (4294967295::UINTEGER)",
    "VALUES (0::UBIGINT), (18446744073709551615::UBIGINT)",
    "VALUES ((-170141183460469231731687303715884105728)::HUGEINT), (0::HUGEINT), "
    "(170141183460469231731687303715884105727::HUGEINT)",
    "VALUES (340282366920938463463374607431768211455::UHUGEINT), (1::UHUGEINT)",
    "VALUES (1.50::DECIMAL(4,2)), ((-0.05)::DECIMAL(4,2)), (0::DECIMAL(4,2)), (99.99::DECIMAL(4,2))",
    "VALUES (12345.678::DECIMAL(9,3)), ((-0.001)::DECIMAL(9,3))",
    "VALUES (123456789012.345678::DECIMAL(18,6)), ((-1)::DECIMAL(18,6)), (5::DECIMAL(18,0))",
    "VALUES (12345678901234567890.12::DECIMAL(38,2)), "
    "((-99999999999999999999999999999999999.999)::DECIMAL(38,3)), (0.1::DECIMAL(38,37))",
    "VALUES (DATE '2024-01-02'), (DATE '1970-01-01'), (DATE '0001-01-01'), (DATE '-0044-03-15'),"
    " (DATE '9999-12-31'), (DATE '1969-12-31'), ('infinity'::DATE), ('-infinity'::DATE), "
    "(DATE '12345-06-07'), (DATE '-12345-06-07'), "
    "(DATE '2000-02-29')",
    "VALUES (TIME '00:00:00'), (TIME '01:02:03.25'), (TIME '23:59:59.999999'), "
    "(TIME '12:00:00.000001'), (TIME '24:00:00')",
    "VALUES (TIMESTAMP '2024-01-02 03:04:05.5'), (TIMESTAMP '1969-12-31 23:59:59.999999'), "
    "(TIMESTAMP '-0044-03-15 01:00:00'), ('infinity'::TIMESTAMP), ('-infinity'::TIMESTAMP), "
    "(TIMESTAMP '1970-01-01'), (TIMESTAMP '0001-01-01 00:00:00.123')",
    "VALUES (uuid '11111111-2222-3333-4444-555555555555'), "
    "(uuid '00000000-0000-0000-0000-000000000000'), (uuid 'ffffffff-ffff-ffff-ffff-ffffffffffff'),"
    " (uuid '80000000-0000-0000-0000-000000000001')",
    "VALUES ('plain'), (''), ('with \"quotes\" and \\ backslash'), ('tab\tnew\nline'), "
    "(chr(1) || chr(31)), ('é ü 中文 😀')",
};

/* Doubles of every magnitude and digit count: hash-derived mantissas times 10^-30..10^30,
 * values near the notation switches, and round numbers. */
static const char *const doubles =
    "SELECT (hash(i) % 100000000000000000)::DOUBLE / 1e17 * pow(10, (i % 61) - 30) FROM "
    "range(3000) r(i) UNION ALL SELECT x FROM (VALUES (0.0::DOUBLE), (1.0), (100.0), (1e15), "
    "(1e16), (9999999999999998.0), (1e-4), (1e-5), (0.1), (0.3), (1.0/3), (2.0/3), (-1.5), "
    "(1.7976931348623157e308), (2.2250738585072014e-308), (123456789012345678.0), (5e-324), "
    "('inf'::DOUBLE), ('-inf'::DOUBLE), ('nan'::DOUBLE)) v(x)";

static void test_text_equals_the_engines(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++)
        assert_true(check(scalars[i], "v::VARCHAR", ROWENC_TEXT, false) > 0);
    assert_true(check(doubles, "v::VARCHAR", ROWENC_TEXT, false) >= 3000);
}

static void test_pg_text_spells_as_postgresql(void **state)
{
    (void)state;
    /* PostgreSQL's spellings, else the engine's text. */
    const char *pg_ref =
        "CASE WHEN typeof(v) = 'BOOLEAN' THEN (CASE WHEN v::VARCHAR = 'true' THEN 't' ELSE "
        "'f' END) ELSE v::VARCHAR END";
    assert_true(check(scalars[0], pg_ref, ROWENC_PG, false) > 0);
    for (size_t i = 1; i < sizeof scalars / sizeof *scalars; i++)
        assert_true(check(scalars[i], "v::VARCHAR", ROWENC_PG, false) > 0);
    const char *float_ref = "CASE WHEN isnan(v) THEN 'NaN' WHEN isinf(v) THEN CASE WHEN v > 0 "
                            "THEN 'Infinity' ELSE '-Infinity' END ELSE v::VARCHAR END";
    assert_true(check(doubles, float_ref, ROWENC_PG, false) >= 3000);
    assert_true(check("VALUES ('\\x00ab'::BLOB), (''::BLOB), ('\\xFF\\x10'::BLOB)",
                      "'\\x' || lower(hex(v))", ROWENC_PG, false) == 3);
}

static void test_json_equals_the_engines(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++)
        assert_true(check(scalars[i], "to_json(v)::VARCHAR", ROWENC_JSON, true) > 0);
    /* Finite doubles (JSON has no spelling for the others). */
    assert_true(check("SELECT * FROM (" /* doubles */
                      "SELECT (hash(i) % 100000000000000000)::DOUBLE / 1e17 * pow(10, (i % 61) - "
                      "30) FROM range(3000) r(i))",
                      "to_json(v)::VARCHAR", ROWENC_JSON, true) == 3000);
}

static void test_nested_types_are_converted_by_the_query(void **state)
{
    (void)state;
    assert_false(rowenc_native(ENGINE_KIND_OTHER, ROWENC_PG));
    assert_false(rowenc_native(ENGINE_KIND_BLOB, ROWENC_JSON));
    assert_true(rowenc_native(ENGINE_KIND_BLOB, ROWENC_PG));
    buf_t b = BUF_INIT;
    rowenc_put_convert(&b, "INTEGER[]", "\"c0\"", ROWENC_TEXT);
    assert_string_equal(b.data, "to_json(\"c0\")::VARCHAR");
    buf_reset(&b);
    rowenc_put_convert(&b, "INTERVAL", "\"c0\"", ROWENC_TEXT);
    assert_string_equal(b.data, "\"c0\"::VARCHAR");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_equals_the_engines),
        cmocka_unit_test(test_pg_text_spells_as_postgresql),
        cmocka_unit_test(test_json_equals_the_engines),
        cmocka_unit_test(test_nested_types_are_converted_by_the_query),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
