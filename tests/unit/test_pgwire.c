/* Unit tests for the PostgreSQL edge's pure parts: message framing and field reading
 * (bad lengths, partial messages, reads past the end), statement splitting and session
 * command parsing, and the type mapping with its text <-> binary conversions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "consume/pgwire/pgsetting.h"
#include "consume/pgwire/pgtype.h"
#include "consume/pgwire/pgmsg.h"
#include "consume/pgwire/pgsql.h"

#include <stdlib.h>
#include <string.h>

static void test_framing(void **state)
{
    (void)state;
    pgmsg_t m;
    tarn_err_t err = {0};
    /* Query "SELECT 1" framed, and every prefix of it incomplete. */
    const char q[] = "Q\0\0\0\x0dSELECT 1";
    size_t n = sizeof q; /* includes the final NUL */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pgmsg_frame(q, i, false, &m, &err), 0);
    assert_int_equal(pgmsg_frame(q, n, false, &m, &err), (ssize_t)n);
    assert_int_equal(m.type, 'Q');
    assert_int_equal(m.len, 9);
    assert_string_equal(m.body, "SELECT 1");
    /* A length below 4, or beyond the bound, is refused before any body is awaited. */
    const char bad[] = "Q\0\0\0\x03";
    assert_int_equal(pgmsg_frame(bad, 5, false, &m, &err), TARN_EINVAL);
    assert_string_equal(tarn_reason_name(err.reason), "ProtocolViolation");
    const char huge[] = "Q\x7f\xff\xff\xff";
    assert_int_equal(pgmsg_frame(huge, 5, false, &m, &err), TARN_EINVAL);
    /* Startup packets: untyped, at least 8 bytes, at most 10,000. */
    const char ssl[] = "\0\0\0\x08\x04\xd2\x16\x2f";
    assert_int_equal(pgmsg_frame(ssl, 8, true, &m, &err), 8);
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, &m);
    assert_int_equal(pgmsg_get_i32(&r), PGMSG_SSL_REQUEST);
    assert_true(pgmsg_reader_done(&r));
    const char tiny[] = "\0\0\0\x04";
    assert_int_equal(pgmsg_frame(tiny, 4, true, &m, &err), TARN_EINVAL);
    const char big[] = "\0\x01\0\0";
    assert_int_equal(pgmsg_frame(big, 4, true, &m, &err), TARN_EINVAL);
}

static void test_reader_bounds(void **state)
{
    (void)state;
    pgmsg_t m = {'P', "name\0SELECT\0\0\x01", 14};
    pgmsg_reader_t r;
    pgmsg_reader_init(&r, &m);
    assert_string_equal(pgmsg_get_str(&r), "name");
    assert_string_equal(pgmsg_get_str(&r), "SELECT");
    assert_int_equal(pgmsg_get_i16(&r), 1);
    assert_true(pgmsg_reader_done(&r));
    assert_int_equal(pgmsg_get_i32(&r), 0); /* past the end */
    assert_true(r.bad);
    pgmsg_t noterm = {'Q', "abc", 3};
    pgmsg_reader_init(&r, &noterm);
    assert_string_equal(pgmsg_get_str(&r), "");
    assert_true(r.bad);
    assert_null(pgmsg_get_bytes(&r, 1));
}

static void test_writers(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    pgmsg_put_command_complete(&b, "SELECT 1");
    assert_int_equal(b.len, 1 + 4 + 9);
    assert_memory_equal(b.data, "C\0\0\0\x0dSELECT 1", 14);
    buf_reset(&b);
    pgmsg_put_ready(&b, 'I');
    assert_memory_equal(b.data, "Z\0\0\0\x05I", 6);
    buf_free(&b);
}

static void test_split(void **state)
{
    (void)state;
    const char *sql = "SELECT ';' AS a; -- c;\nSELECT $x$;$x$ /* ; /* ; */ */; SELECT \"a;b\";;  ";
    pgsql_stmt_t *stmts;
    size_t count;
    tarn_err_t err = {0};
    assert_int_equal(pgsql_split(sql, &stmts, &count, &err), 0);
    const char *want[] = {"SELECT ';' AS a", " -- c;\nSELECT $x$;$x$ /* ; /* ; */ */",
                          " SELECT \"a;b\"", "", "  "};
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const char *s = stmts[i].sql;
        size_t len = stmts[i].len;
        assert_true(n < 5);
        assert_int_equal(len, strlen(want[n]));
        assert_memory_equal(s, want[n], len);
        n++;
    }
    assert_int_equal(n, 5);
    free(stmts);
    assert_int_equal(pgsql_classify("  ", 2), PGSQL_EMPTY);
    assert_int_equal(pgsql_classify("-- x\n", 5), PGSQL_EMPTY);
    const struct {
        const char *sql;
        pgsql_kind_t kind;
    } cases[] = {
        {"select 1", PGSQL_QUERY},
        {"BEGIN", PGSQL_BEGIN},
        {"start transaction", PGSQL_BEGIN},
        {"COMMIT", PGSQL_COMMIT},
        {"rollback", PGSQL_ROLLBACK},
        {"SET x = 1", PGSQL_SET},
        {"show tables", PGSQL_QUERY},
        {"SHOW ALL TABLES", PGSQL_QUERY},
        {"show DateStyle", PGSQL_SHOW},
        {"copy (select 1) to stdout", PGSQL_COPY},
        {"/* c */ discard all", PGSQL_DISCARD},
        {"insert into t values (1)", PGSQL_QUERY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_int_equal(pgsql_classify(cases[i].sql, strlen(cases[i].sql)), cases[i].kind);
    assert_int_equal(pgsql_count_params("select $1, '$2', $12 -- $99", 27), 12);
}

static void test_set_show(void **state)
{
    (void)state;
    arena_t *a = arena_create();
    tarn_err_t err = {0};
    const char *name, *value;
    const struct {
        const char *sql, *name, *value;
    } cases[] = {
        {"SET DateStyle TO 'ISO, MDY'", "datestyle", "ISO, MDY"},
        {"set extra_float_digits = 3", "extra_float_digits", "3"},
        {"SET SESSION application_name = \"psql\"", "application_name", "psql"},
        {"SET search_path TO \"$user\", public", "search_path", "\"$user\", public"},
        {"SET TIME ZONE 'UTC'", "timezone", "UTC"},
        {"SET statement_timeout TO DEFAULT", "statement_timeout", "DEFAULT"},
        {"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "transaction",
         "AS TRANSACTION READ ONLY"},
        {"SET my.custom = 'x'", "my.custom", "x"},
        {"SET x = E'a\\'b'", "x", "a'b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(
            pgsql_parse_set(cases[i].sql, strlen(cases[i].sql), &name, &value, a, &err), 0);
        assert_string_equal(name, cases[i].name);
        assert_string_equal(value, cases[i].value);
    }
    assert_int_equal(pgsql_parse_set("RESET ALL", 9, &name, &value, a, &err), 0);
    assert_string_equal(name, "all");
    assert_null(value);
    assert_int_equal(pgsql_parse_set("SET x", 5, &name, &value, a, &err), TARN_EINVAL);
    assert_int_equal(pgsql_parse_set("SET = 1", 7, &name, &value, a, &err), TARN_EINVAL);
    assert_int_equal(pgsql_parse_show("SHOW TRANSACTION ISOLATION LEVEL", 32, &name, a, &err), 0);
    assert_string_equal(name, "transaction_isolation");
    assert_int_equal(pgsql_parse_show("show Server_Version", 19, &name, a, &err), 0);
    assert_string_equal(name, "server_version");
    arena_free(a);
}

static void test_copy(void **state)
{
    (void)state;
    arena_t *a = arena_create();
    tarn_err_t err = {0};
    pgsql_copy_t c;
    const char *q = "COPY (SELECT a, ')' FROM t WHERE (b > 1)) TO STDOUT WITH (FORMAT csv, HEADER)";
    assert_int_equal(pgsql_parse_copy(q, strlen(q), &c, a, &err), 0);
    assert_string_equal(c.query, "SELECT a, ')' FROM t WHERE (b > 1)");
    assert_true(c.csv && c.header);
    assert_int_equal(c.delimiter, ',');
    q = "copy sales.orders (id, amount) to stdout";
    assert_int_equal(pgsql_parse_copy(q, strlen(q), &c, a, &err), 0);
    assert_string_equal(c.query, "SELECT id, amount FROM sales.orders");
    assert_false(c.csv);
    assert_int_equal(c.delimiter, '\t');
    assert_string_equal(c.null, "\\N");
    q = "COPY (SELECT 1) TO STDOUT CSV HEADER DELIMITER AS ';' NULL 'nil'";
    assert_int_equal(pgsql_parse_copy(q, strlen(q), &c, a, &err), 0);
    assert_true(c.csv && c.header);
    assert_int_equal(c.delimiter, ';');
    assert_string_equal(c.null, "nil");
    const struct {
        const char *sql, *reason;
    } bad[] = {
        {"COPY t FROM STDIN", "NotReadOnly"},
        {"COPY (SELECT 1) TO '/tmp/x'", "InsufficientPrivilege"},
        {"COPY (SELECT 1) TO PROGRAM 'sh'", "InsufficientPrivilege"},
        {"COPY (SELECT 1) TO STDOUT (FORMAT binary)", "FeatureNotSupported"},
        {"COPY (SELECT 1 TO STDOUT", "SyntaxError"},
        {"COPY (SELECT 1) TO STDOUT (FREEZE true)", "FeatureNotSupported"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(pgsql_parse_copy(bad[i].sql, strlen(bad[i].sql), &c, a, &err),
                         TARN_EINVAL);
        assert_string_equal(tarn_reason_name(err.reason), bad[i].reason);
    }
    arena_free(a);
}

static void test_type_oids(void **state)
{
    (void)state;
    const struct {
        const char *duck;
        uint32_t oid;
        int16_t len;
        int32_t typmod;
    } cases[] = {
        {"BOOLEAN", 16, 1, -1},
        {"SMALLINT", 21, 2, -1},
        {"TINYINT", 21, 2, -1},
        {"INTEGER", 23, 4, -1},
        {"BIGINT", 20, 8, -1},
        {"HUGEINT", 1700, -1, -1},
        {"FLOAT", 700, 4, -1},
        {"DOUBLE", 701, 8, -1},
        {"DECIMAL(10,2)", 1700, -1, (10 << 16 | 2) + 4},
        {"VARCHAR", 25, -1, -1},
        {"BLOB", 17, -1, -1},
        {"DATE", 1082, 4, -1},
        {"TIME", 1083, 8, -1},
        {"TIMESTAMP", 1114, 8, -1},
        {"TIMESTAMP_MS", 1114, 8, -1},
        {"TIMESTAMP WITH TIME ZONE", 1184, 8, -1},
        {"INTERVAL", 1186, 16, -1},
        {"UUID", 2950, 16, -1},
        {"JSON", 114, -1, -1},
        {"INTEGER[]", 25, -1, -1},
        {"STRUCT(\"a\" INTEGER)", 25, -1, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pgtype_t t = pgtype_of(cases[i].duck);
        assert_int_equal(t.oid, cases[i].oid);
        assert_int_equal(t.len, cases[i].len);
        assert_int_equal(t.typmod, cases[i].typmod);
    }
    assert_string_equal(pgtype_by_oid(1184)->name, "timestamptz");
    assert_null(pgtype_by_oid(99999));
}

static void check_binary(uint32_t oid, const char *text, const char *want, size_t wantlen)
{
    buf_t b = BUF_INIT;
    tarn_err_t err = {0};
    assert_int_equal(pgtype_text_to_binary(oid, text, strlen(text), &b, &err), 0);
    assert_int_equal(b.len, wantlen);
    assert_memory_equal(b.data, want, wantlen);
    buf_free(&b);
}

static void test_text_to_binary(void **state)
{
    (void)state;
    check_binary(PGTYPE_INT4, "-2", "\xff\xff\xff\xfe", 4);
    check_binary(PGTYPE_INT8, "258", "\0\0\0\0\0\0\x01\x02", 8);
    check_binary(PGTYPE_BOOL, "t", "\x01", 1);
    check_binary(PGTYPE_FLOAT8, "1", "\x3f\xf0\0\0\0\0\0\0", 8);
    check_binary(PGTYPE_FLOAT8, "Infinity", "\x7f\xf0\0\0\0\0\0\0", 8);
    check_binary(PGTYPE_DATE, "2000-01-02", "\0\0\0\x01", 4);
    check_binary(PGTYPE_DATE, "1999-12-31", "\xff\xff\xff\xff", 4);
    /* 2000-01-01 00:00:01.5 is 1,500,000 microseconds. */
    check_binary(PGTYPE_TIMESTAMP, "2000-01-01 00:00:01.5", "\0\0\0\0\0\x16\xe3\x60", 8);
    check_binary(PGTYPE_TIMESTAMPTZ, "2000-01-01 01:00:01.5+01", "\0\0\0\0\0\x16\xe3\x60", 8);
    check_binary(PGTYPE_BYTEA, "\\x00ff", "\0\xff", 2);
    check_binary(PGTYPE_UUID, "00112233-4455-6677-8899-aabbccddeeff",
                 "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16);
    /* numeric 12345.678: digits 1, 2345, 6780; weight 1; dscale 3. */
    check_binary(PGTYPE_NUMERIC, "12345.678", "\0\x03\0\x01\0\0\0\x03\0\x01\x09\x29\x1a\x7c", 14);
    check_binary(PGTYPE_NUMERIC, "-0.5", "\0\x01\xff\xff\x40\0\0\x01\x13\x88", 10);
    check_binary(PGTYPE_NUMERIC, "0", "\0\0\0\0\0\0\0\0", 8);
    /* interval 1 year 2 months 3 days 04:05:06 */
    check_binary(PGTYPE_INTERVAL, "1 year 2 months 3 days 04:05:06",
                 "\0\0\0\x03\x6c\x8b\xc0\x80\0\0\0\x03\0\0\0\x0e", 16);
    buf_t b = BUF_INIT;
    tarn_err_t err = {0};
    assert_int_equal(pgtype_text_to_binary(PGTYPE_INT4, "x", 1, &b, &err), TARN_EINVAL);
    assert_string_equal(tarn_reason_name(err.reason), "InvalidTextRepresentation");
    assert_int_equal(pgtype_text_to_binary(PGTYPE_DATE, "2024-13-01", 10, &b, &err), TARN_EINVAL);
    /* Values past what the binary forms hold are refused, not wrapped (the fuzzer found
     * signed overflows here). */
    static const struct {
        uint32_t oid;
        const char *text;
    } too_big[] = {
        {PGTYPE_DATE, "9999999999999-01-01"},
        {PGTYPE_TIMESTAMP, "5000000-01-01 00:00:00"},
        {PGTYPE_TIMESTAMP, "2024-01-01 4000000000:00:00"},
        {PGTYPE_INTERVAL, "9223372036854775807 years"},
        {PGTYPE_INTERVAL, "3000000000 days"},
        {PGTYPE_INTERVAL, "2000000000:00:00 2000000000:00:00"},
    };
    for (size_t i = 0; i < sizeof too_big / sizeof *too_big; i++)
        assert_int_equal(pgtype_text_to_binary(too_big[i].oid, too_big[i].text,
                                               strlen(too_big[i].text), &b, &err),
                         TARN_EINVAL);
    buf_free(&b);
}

static void test_text_len(void **state)
{
    (void)state;
    assert_int_equal(pgtype_text_len(PGTYPE_FLOAT8, "20.0", 4), 2);
    assert_int_equal(pgtype_text_len(PGTYPE_FLOAT4, "2.5", 3), 3);
    assert_int_equal(pgtype_text_len(PGTYPE_FLOAT8, "1e+20", 5), 5);
    assert_int_equal(pgtype_text_len(PGTYPE_NUMERIC, "20.0", 4), 4);
    assert_int_equal(pgtype_text_len(PGTYPE_TEXT, "a.0", 3), 3);
}

static void test_params(void **state)
{
    (void)state;
    json_t *v;
    tarn_err_t err = {0};
    assert_int_equal(pgtype_param_to_json(PGTYPE_INT4, 0, "42", 2, &v, &err), 0);
    assert_int_equal(json_integer_value(v), 42);
    json_decref(v);
    assert_int_equal(pgtype_param_to_json(PGTYPE_INT8, 1, "\0\0\0\0\0\0\0\x07", 8, &v, &err), 0);
    assert_int_equal(json_integer_value(v), 7);
    json_decref(v);
    assert_int_equal(pgtype_param_to_json(0, 0, "hello", 5, &v, &err), 0);
    assert_string_equal(json_string_value(v), "hello");
    json_decref(v);
    assert_int_equal(pgtype_param_to_json(PGTYPE_BOOL, 0, "on", 2, &v, &err), 0);
    assert_true(json_is_true(v));
    json_decref(v);
    assert_int_equal(pgtype_param_to_json(PGTYPE_DATE, 1, "\0\0\0\x01", 4, &v, &err), 0);
    assert_string_equal(json_string_value(v), "2000-01-02");
    json_decref(v);
    assert_int_equal(pgtype_param_to_json(PGTYPE_NUMERIC, 1,
                                          "\0\x03\0\x01\0\0\0\x03\0\x01\x09\x29\x1a\x7c", 14, &v,
                                          &err),
                     0);
    assert_string_equal(json_string_value(v), "12345.678");
    json_decref(v);
    assert_int_equal(pgtype_param_to_json(PGTYPE_INT4, 0, "4x", 2, &v, &err), TARN_EINVAL);
    assert_string_equal(tarn_reason_name(err.reason), "InvalidTextRepresentation");
    assert_int_equal(pgtype_param_to_json(PGTYPE_INT4, 1, "\0\0", 2, &v, &err), TARN_EINVAL);
    assert_string_equal(tarn_reason_name(err.reason), "InvalidBinaryRepresentation");
    assert_int_equal(pgtype_param_to_json(99999, 1, "ab", 2, &v, &err), TARN_EINVAL);
    assert_string_equal(tarn_reason_name(err.reason), "FeatureNotSupported");
    /* bytea, binary and text (hex and escape), as the engine's blob text */
    assert_int_equal(pgtype_param_to_json(PGTYPE_BYTEA, 1, "a\\\x01", 3, &v, &err), 0);
    assert_string_equal(json_string_value(v), "a\\x5C\\x01");
    json_decref(v);
    assert_int_equal(pgtype_param_to_json(PGTYPE_BYTEA, 0, "\\x61ff", 6, &v, &err), 0);
    assert_string_equal(json_string_value(v), "a\\xFF");
    json_decref(v);
    assert_int_equal(pgtype_param_to_json(PGTYPE_BYTEA, 0, "a\\001\\\\", 7, &v, &err), 0);
    assert_string_equal(json_string_value(v), "a\\x01\\x5C");
    json_decref(v);
    /* The largest binary date a client can send: its days are not multiplied out. */
    assert_int_equal(pgtype_param_to_json(PGTYPE_DATE, 1, "\x25\x05\x5e\x82", 4, &v, &err), 0);
    assert_non_null(json_string_value(v));
    json_decref(v);
}

static json_t *array_of(uint32_t oid, int format, const char *d, size_t len, tarn_err_t *err)
{
    json_t *v = NULL;
    return pgtype_param_to_json(oid, format, d, len, &v, err) ? NULL : v;
}

static void test_arrays(void **state)
{
    (void)state;
    tarn_err_t err = {0};
    static const struct {
        const char *text, *json;
    } ok[] = {
        {"{1,2,3}", "[1, 2, 3]"},
        {" { 1 , NULL ,null } ", "[1, null, null]"},
        {"{}", "[]"},
        {"{{1,2},{3,4}}", "[[1, 2], [3, 4]]"},
        {"[0:1]={5,6}", "[5, 6]"},
        {"[1:2][1:1]={{5},{6}}", "[[5], [6]]"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        json_t *v = array_of(1007, 0, ok[i].text, strlen(ok[i].text), &err);
        assert_non_null(v);
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        assert_string_equal(s, ok[i].json);
        free(s);
        json_decref(v);
    }
    const char *t = "{\"a b\",\"c\\\"d\",e\\,f, g h ,\"NULL\",\"\"}";
    json_t *v = array_of(1009, 0, t, strlen(t), &err);
    assert_non_null(v);
    char *s = json_dumps(v, JSON_ENCODE_ANY);
    assert_string_equal(s, "[\"a b\", \"c\\\"d\", \"e,f\", \"g h\", \"NULL\", \"\"]");
    free(s);
    json_decref(v);
    static const char *const bad[] = {"{1,2",    "{1,,2}",    "{{1,2},{3}}", "{1,{2}}",
                                      "{{1},2}", "{1,2}x",    "1,2",         "{\"a}",
                                      "{1,abc}", "[1:3]={1}", "{{}}",        "{1\"2\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_null(array_of(1007, 0, bad[i], strlen(bad[i]), &err));
        assert_string_equal(tarn_reason_name(err.reason), "InvalidTextRepresentation");
    }
    /* binary: 2 x 1 int4, one NULL */
    const char bin[] = "\0\0\0\x02\0\0\0\x01\0\0\0\x17"
                       "\0\0\0\x02\0\0\0\x01\0\0\0\x01\0\0\0\x01"
                       "\0\0\0\x04\0\0\0\x09\xff\xff\xff\xff";
    v = array_of(1007, 1, bin, sizeof bin - 1, &err);
    assert_non_null(v);
    s = json_dumps(v, JSON_ENCODE_ANY);
    assert_string_equal(s, "[[9], [null]]");
    free(s);
    json_decref(v);
    assert_null(array_of(1016, 1, bin, sizeof bin - 1, &err)); /* int4 elements, not int8 */
    assert_string_equal(tarn_reason_name(err.reason), "DatatypeMismatch");
    assert_null(array_of(1007, 1, bin, sizeof bin - 2, &err));
    assert_string_equal(tarn_reason_name(err.reason), "ProtocolViolation");
    const char huge[] = "\0\0\0\x01\0\0\0\0\0\0\0\x17\x7f\xff\xff\xff\0\0\0\x01";
    assert_null(array_of(1007, 1, huge, sizeof huge - 1, &err));
}

static void test_settings(void **state)
{
    (void)state;
    tarn_err_t err = {0};
    char out[64];
    static const char *const utf8[] = {"'utf-8'", "UTF8", "unicode", "Utf_8", "'UNICODE'"};
    for (size_t i = 0; i < sizeof utf8 / sizeof *utf8; i++) {
        assert_int_equal(pgsetting_normalize("client_encoding", utf8[i], "UTF8", out, sizeof out,
                                             &err),
                         0);
        assert_string_equal(out, "UTF8");
    }
    assert_string_equal(pgsetting_encoding("ISO-8859-1"), "LATIN1");
    assert_null(pgsetting_encoding("klingon"));
    assert_int_equal(pgsetting_normalize("client_encoding", "klingon", "UTF8", out, sizeof out,
                                         &err),
                     TARN_EINVAL);
    assert_string_equal(err.msg, "invalid value for parameter \"client_encoding\": \"klingon\"");
    assert_int_equal(pgsetting_normalize("datestyle", "iso,dmy", "ISO, MDY", out, sizeof out, &err),
                     0);
    assert_string_equal(out, "ISO, DMY");
    assert_int_equal(pgsetting_normalize("datestyle", "ymd", "ISO, MDY", out, sizeof out, &err), 0);
    assert_string_equal(out, "ISO, YMD");
    assert_int_equal(pgsetting_normalize("datestyle", "iso, sql", "ISO, MDY", out, sizeof out,
                                         &err),
                     TARN_EINVAL);
    assert_int_equal(pgsetting_normalize("standard_conforming_strings", "TRUE", "on", out,
                                         sizeof out, &err),
                     0);
    assert_string_equal(out, "on");
    assert_int_equal(pgsetting_normalize("intervalstyle", "ISO_8601", NULL, out, sizeof out, &err),
                     0);
    assert_string_equal(out, "iso_8601");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing),   cmocka_unit_test(test_reader_bounds),
        cmocka_unit_test(test_writers),   cmocka_unit_test(test_split),
        cmocka_unit_test(test_set_show),  cmocka_unit_test(test_copy),
        cmocka_unit_test(test_type_oids), cmocka_unit_test(test_text_to_binary),
        cmocka_unit_test(test_params),         cmocka_unit_test(test_text_len),
        cmocka_unit_test(test_arrays),         cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
