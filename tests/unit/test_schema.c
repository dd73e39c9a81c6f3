/* Unit tests of catalog schemas: type widening and fitting, merging, diffing, parsing declared
 * schemas, checking a file against a table, and the JSON round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "catalog/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Builds a schema from "name:TYPE" pairs (a trailing '!' on the type means NOT NULL). */
static void build(schema_t *s, size_t n, const char *const *defs)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", defs[i]);
        char *colon = strchr(buf, ':');
        assert_non_null(colon);
        *colon = '\0';
        char *type = colon + 1;
        size_t tl = strlen(type);
        bool nullable = true;
        if (tl && type[tl - 1] == '!') {
            type[tl - 1] = '\0';
            nullable = false;
        }
        assert_int_equal(schema_add(s, buf, type, nullable, 0), 0);
    }
}
#define BUILD(s, ...)                                                                      \
    do {                                                                                   \
        static const char *const defs_[] = {__VA_ARGS__};                                  \
        build((s), sizeof defs_ / sizeof *defs_, defs_);                                   \
    } while (0)

/* ---- widening ---- */

static void widen_both_ways(const char *a, const char *b, const char *want)
{
    assert_string_equal(schema_widen_type(a, b), want);
    assert_string_equal(schema_widen_type(b, a), want);
}

static void test_widen_integers(void **state)
{
    (void)state;
    widen_both_ways("INTEGER", "BIGINT", "BIGINT");
    widen_both_ways("TINYINT", "SMALLINT", "SMALLINT");
    widen_both_ways("SMALLINT", "INTEGER", "INTEGER");
    widen_both_ways("UINTEGER", "INTEGER", "BIGINT");
    widen_both_ways("UTINYINT", "TINYINT", "SMALLINT");
    widen_both_ways("USMALLINT", "SMALLINT", "INTEGER");
    widen_both_ways("UBIGINT", "BIGINT", "HUGEINT");
    widen_both_ways("BIGINT", "HUGEINT", "HUGEINT");
    assert_string_equal(schema_widen_type("BIGINT", "BIGINT"), "BIGINT");
    assert_string_equal(schema_widen_type("UINTEGER", "UINTEGER"), "UINTEGER");
}

static void test_widen_numbers_and_text(void **state)
{
    (void)state;
    widen_both_ways("INTEGER", "DOUBLE", "DOUBLE");
    widen_both_ways("BIGINT", "FLOAT", "DOUBLE");
    widen_both_ways("FLOAT", "DOUBLE", "DOUBLE");
    widen_both_ways("DECIMAL(10,2)", "INTEGER", "DOUBLE");
    widen_both_ways("DECIMAL(10,2)", "DOUBLE", "DOUBLE");
    widen_both_ways("BIGINT", "VARCHAR", "VARCHAR");
    widen_both_ways("DOUBLE", "VARCHAR", "VARCHAR");
    widen_both_ways("BOOLEAN", "BIGINT", "VARCHAR");
    widen_both_ways("DATE", "BIGINT", "VARCHAR");
    widen_both_ways("BLOB", "VARCHAR", "VARCHAR");
}

static void test_widen_times_and_null(void **state)
{
    (void)state;
    widen_both_ways("DATE", "TIMESTAMP", "TIMESTAMP");
    widen_both_ways("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH TIME ZONE");
    widen_both_ways("DATE", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH TIME ZONE");
    widen_both_ways("NULL", "BIGINT", "BIGINT");
    widen_both_ways("NULL", "VARCHAR", "VARCHAR");
    widen_both_ways("NULL", "DECIMAL(10,2)", "DECIMAL(10,2)");
    assert_string_equal(schema_widen_type("NULL", "NULL"), "NULL");
    /* The result is a static string or one of the arguments. */
    const char *a = "DATE";
    assert_ptr_equal(schema_widen_type(a, "NULL"), a);
}

static void test_type_fits(void **state)
{
    (void)state;
    assert_true(schema_type_fits("INTEGER", "BIGINT"));
    assert_true(schema_type_fits("TINYINT", "INTEGER"));
    assert_true(schema_type_fits("BIGINT", "BIGINT"));
    assert_true(schema_type_fits("INTEGER", "DOUBLE"));
    assert_true(schema_type_fits("DATE", "TIMESTAMP"));
    assert_true(schema_type_fits("NULL", "INTEGER"));
    assert_true(schema_type_fits("BIGINT", "VARCHAR"));
    assert_true(schema_type_fits("BOOLEAN", "VARCHAR"));
    assert_true(schema_type_fits("UINTEGER", "HUGEINT"));
    assert_true(schema_type_fits("DECIMAL(10,2)", "DECIMAL(10,2)"));
    assert_true(schema_type_fits("DECIMAL(10,2)", "DOUBLE"));

    assert_false(schema_type_fits("BIGINT", "INTEGER"));
    assert_false(schema_type_fits("DOUBLE", "BIGINT"));
    assert_false(schema_type_fits("VARCHAR", "BIGINT"));
    assert_false(schema_type_fits("TIMESTAMP", "DATE"));
    assert_false(schema_type_fits("BOOLEAN", "BIGINT"));
    assert_false(schema_type_fits("INTEGER", "NULL"));
    assert_false(schema_type_fits("UINTEGER", "INTEGER"));
    /* An unsigned type widens to the signed type that holds it. */
    assert_true(schema_type_fits("UINTEGER", "BIGINT"));
    assert_string_equal(schema_widen_type("UINTEGER", "BIGINT"), "BIGINT");
    assert_string_equal(schema_widen_type("UTINYINT", "SMALLINT"), "SMALLINT");
    assert_string_equal(schema_widen_type("USMALLINT", "INTEGER"), "INTEGER");
}

/* ---- merge ---- */

static void test_merge(void **state)
{
    (void)state;
    schema_t s, add;
    BUILD(&s, "id:INTEGER!", "name:VARCHAR");
    BUILD(&add, "ID:BIGINT", "amount:DOUBLE", "Name:VARCHAR", "dt:DATE");
    assert_int_equal(schema_merge(&s, &add), 1);
    assert_int_equal(s.n, 4);
    /* Shared columns keep their place, spelling and nullability; types widen. */
    assert_string_equal(s.cols[0].name, "id");
    assert_string_equal(s.cols[0].type, "BIGINT");
    assert_false(s.cols[0].nullable);
    assert_string_equal(s.cols[1].name, "name");
    assert_string_equal(s.cols[1].type, "VARCHAR");
    /* New columns are appended in the order they appear in add, nullable. */
    assert_string_equal(s.cols[2].name, "amount");
    assert_string_equal(s.cols[2].type, "DOUBLE");
    assert_true(s.cols[2].nullable);
    assert_string_equal(s.cols[3].name, "dt");
    assert_string_equal(s.cols[3].type, "DATE");
    assert_int_equal(schema_find(&s, "AMOUNT"), 2);
    assert_int_equal(schema_find(&s, "nope"), -1);

    /* Merging again (or anything narrower) changes nothing. */
    assert_int_equal(schema_merge(&s, &add), 0);
    schema_t narrow;
    BUILD(&narrow, "id:TINYINT", "amount:INTEGER", "dt:NULL");
    assert_int_equal(schema_merge(&s, &narrow), 0);
    assert_string_equal(s.cols[0].type, "BIGINT");
    assert_string_equal(s.cols[2].type, "DOUBLE");
    assert_string_equal(s.cols[3].type, "DATE");
    assert_int_equal(s.n, 4);

    /* A widening-only change reports 1. */
    schema_t wide;
    BUILD(&wide, "DT:TIMESTAMP");
    assert_int_equal(schema_merge(&s, &wide), 1);
    assert_string_equal(s.cols[3].type, "TIMESTAMP");
    assert_string_equal(s.cols[3].name, "dt");

    /* Merging into an empty schema copies. */
    schema_t empty = {0};
    assert_int_equal(schema_merge(&empty, &add), 1);
    assert_int_equal(empty.n, 4);
    assert_string_equal(empty.cols[0].name, "ID");
    /* An empty add changes nothing. */
    schema_t none = {0};
    assert_int_equal(schema_merge(&s, &none), 0);

    schema_free(&s);
    schema_free(&add);
    schema_free(&narrow);
    schema_free(&wide);
    schema_free(&empty);
    assert_null(s.cols);
    assert_int_equal(s.n, 0);
}

static void test_copy(void **state)
{
    (void)state;
    schema_t s, c;
    BUILD(&s, "a:BIGINT!", "b:VARCHAR");
    s.cols[1].id = 7;
    assert_int_equal(schema_copy(&c, &s), 0);
    assert_int_equal(c.n, 2);
    assert_ptr_not_equal(c.cols[0].name, s.cols[0].name);
    assert_string_equal(c.cols[0].name, "a");
    assert_false(c.cols[0].nullable);
    assert_int_equal(c.cols[1].id, 7);
    schema_free(&s);
    schema_free(&c);
}

/* ---- diff ---- */

static void test_diff(void **state)
{
    (void)state;
    schema_t old, new_;
    BUILD(&old, "id:INTEGER", "name:VARCHAR", "gone:DATE", "price:DECIMAL(10,2)");
    BUILD(&new_, "ID:BIGINT", "name:VARCHAR", "price:DOUBLE", "added1:BOOLEAN", "added2:DATE");
    json_t *d = schema_diff(&old, &new_);
    assert_non_null(d);
    assert_true(json_is_object(d));

    json_t *added = json_object_get(d, "added");
    assert_int_equal(json_array_size(added), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(added, 0), "name")),
                        "added1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(added, 0), "type")),
                        "BOOLEAN");
    assert_string_equal(json_string_value(json_object_get(json_array_get(added, 1), "name")),
                        "added2");

    json_t *removed = json_object_get(d, "removed");
    assert_int_equal(json_array_size(removed), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(removed, 0), "name")),
                        "gone");
    assert_string_equal(json_string_value(json_object_get(json_array_get(removed, 0), "type")),
                        "DATE");

    json_t *changed = json_object_get(d, "changed");
    assert_int_equal(json_array_size(changed), 2);
    json_t *c0 = json_array_get(changed, 0), *c1 = json_array_get(changed, 1);
    assert_string_equal(json_string_value(json_object_get(c0, "name")), "ID");
    assert_string_equal(json_string_value(json_object_get(c0, "old_type")), "INTEGER");
    assert_string_equal(json_string_value(json_object_get(c0, "new_type")), "BIGINT");
    assert_string_equal(json_string_value(json_object_get(c1, "name")), "price");
    assert_string_equal(json_string_value(json_object_get(c1, "old_type")), "DECIMAL(10,2)");
    assert_string_equal(json_string_value(json_object_get(c1, "new_type")), "DOUBLE");
    json_decref(d);

    /* Only the non-empty arrays are present. */
    schema_t more;
    BUILD(&more, "id:INTEGER", "name:VARCHAR", "gone:DATE", "price:DECIMAL(10,2)", "x:BIGINT");
    d = schema_diff(&old, &more);
    assert_non_null(d);
    assert_int_equal(json_object_size(d), 1);
    assert_int_equal(json_array_size(json_object_get(d, "added")), 1);
    assert_null(json_object_get(d, "removed"));
    assert_null(json_object_get(d, "changed"));
    json_decref(d);
    d = schema_diff(&more, &old);
    assert_int_equal(json_object_size(d), 1);
    assert_int_equal(json_array_size(json_object_get(d, "removed")), 1);
    json_decref(d);

    /* Same columns and types: NULL, whatever the name case, order or nullability. */
    assert_null(schema_diff(&old, &old));
    schema_t same;
    BUILD(&same, "PRICE:DECIMAL(10,2)", "Gone:DATE!", "NAME:VARCHAR", "id:INTEGER");
    assert_null(schema_diff(&old, &same));
    schema_t e1 = {0}, e2 = {0};
    assert_null(schema_diff(&e1, &e2));

    schema_free(&old);
    schema_free(&new_);
    schema_free(&more);
    schema_free(&same);
}

/* ---- parse ---- */

static void test_parse_valid(void **state)
{
    (void)state;
    schema_t s;
    tarn_err_t err = {0};
    assert_int_equal(
        schema_parse(&s, "id BIGINT NOT NULL, name text, amount DECIMAL(10,2), tags VARCHAR[]",
                     &err),
        0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.cols[0].name, "id");
    assert_string_equal(s.cols[0].type, "BIGINT");
    assert_false(s.cols[0].nullable);
    assert_string_equal(s.cols[1].name, "name");
    assert_string_equal(s.cols[1].type, "VARCHAR");
    assert_true(s.cols[1].nullable);
    assert_string_equal(s.cols[2].name, "amount");
    assert_string_equal(s.cols[2].type, "DECIMAL(10,2)");
    assert_true(s.cols[2].nullable);
    assert_string_equal(s.cols[3].name, "tags");
    assert_string_equal(s.cols[3].type, "VARCHAR[]");
    assert_true(s.cols[3].nullable);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(s.cols[i].id, 0);
    schema_free(&s);
}

static void test_parse_aliases_and_spacing(void **state)
{
    (void)state;
    schema_t s;
    tarn_err_t err = {0};
    assert_int_equal(schema_parse(&s,
                                  "\n  a int ,b Int8 not null,c real, d numeric(12), e DECIMAL,"
                                  " f timestamptz, g datetime, h bool, i DECIMAL(10, 2),"
                                  " j timestamp   with time zone, k int[]\n",
                                  &err),
                     0);
    assert_int_equal(s.n, 11);
    static const char *const want[] = {
        "INTEGER",   "BIGINT",  "FLOAT",   "DECIMAL(12,0)",
        "DECIMAL(18,3)", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "BOOLEAN",
        "DECIMAL(10,2)", "TIMESTAMP WITH TIME ZONE", "INTEGER[]"};
    for (size_t i = 0; i < s.n; i++)
        assert_string_equal(s.cols[i].type, want[i]);
    assert_string_equal(s.cols[0].name, "a");
    assert_false(s.cols[1].nullable);
    assert_true(s.cols[2].nullable);
    schema_free(&s);

    /* A space before the parenthesis is fine, as in SQL. */
    assert_int_equal(schema_parse(&s, "a DECIMAL (10,2)", &err), 0);
    assert_string_equal(s.cols[0].type, "DECIMAL(10,2)");
    schema_free(&s);
    /* A trailing comma is tolerated. */
    assert_int_equal(schema_parse(&s, "a INT,", &err), 0);
    assert_int_equal(s.n, 1);
    schema_free(&s);
}

static void test_parse_quoted_names(void **state)
{
    (void)state;
    schema_t s;
    tarn_err_t err = {0};
    assert_int_equal(schema_parse(&s, "\"my col\" INT, \"Weird-Name.x\" varchar NOT NULL", &err),
                     0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.cols[0].name, "my col");
    assert_string_equal(s.cols[0].type, "INTEGER");
    assert_string_equal(s.cols[1].name, "Weird-Name.x");
    assert_string_equal(s.cols[1].type, "VARCHAR");
    assert_false(s.cols[1].nullable);
    schema_free(&s);
    /* Quoted names may hold commas and parentheses. */
    assert_int_equal(schema_parse(&s, "\"a,b\" INT, \"f(x)\" INT, c INT", &err), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.cols[0].name, "a,b");
    assert_string_equal(s.cols[1].name, "f(x)");
    schema_free(&s);
}

/* Types the engine gives are kept as written, nested ones too; names as for declared
 * schemas, "" standing for a quote inside a quoted name. */
static void test_parse_engine_types(void **state)
{
    (void)state;
    schema_t s;
    tarn_err_t err = {0};
    assert_int_equal(schema_parse_engine(&s,
                                         "id BIGINT, s STRUCT(a INTEGER, \"b c\" VARCHAR[]),"
                                         " m MAP(VARCHAR, DOUBLE), ts TIMESTAMP_NS,"
                                         " \"say \"\"hi\"\"\" ENUM('x', 'y') NOT NULL",
                                         &err),
                     0);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.cols[1].name, "s");
    assert_string_equal(s.cols[1].type, "STRUCT(a INTEGER, \"b c\" VARCHAR[])");
    assert_string_equal(s.cols[2].type, "MAP(VARCHAR, DOUBLE)");
    assert_string_equal(s.cols[3].type, "TIMESTAMP_NS");
    assert_string_equal(s.cols[4].name, "say \"hi\"");
    assert_string_equal(s.cols[4].type, "ENUM('x', 'y')");
    assert_false(s.cols[4].nullable);
    schema_free(&s);
    /* A type must stand alone: views cast to it. */
    assert_int_equal(schema_parse_engine(&s, "a INTEGER), b (INTEGER", &err), TARN_EINVAL);
    assert_int_equal(schema_parse_engine(&s, "a INTEGER; DROP", &err), TARN_EINVAL);
    assert_int_equal(schema_parse_engine(&s, "a ENUM('x)", &err), TARN_EINVAL);
    assert_int_equal(schema_parse_engine(&s, "a", &err), TARN_EINVAL);
    /* Declared schemas still take only the types tarn knows. */
    assert_int_equal(schema_parse(&s, "ts TIMESTAMP_NS", &err), TARN_EINVAL);
}

static void expect_parse_error(const char *text, const char *needle)
{
    schema_t s;
    tarn_err_t err = {0};
    assert_int_equal(schema_parse(&s, text, &err), TARN_EINVAL);
    assert_int_equal(err.code, TARN_EINVAL);
    assert_true(err.msg[0] != '\0');
    if (needle && !strstr(err.msg, needle))
        fail_msg("schema_parse(\"%s\"): message '%s' lacks '%s'", text, err.msg, needle);
    /* A failed parse leaves an empty schema. */
    assert_int_equal(s.n, 0);
    assert_null(s.cols);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("id BIGINT, x FOO", "unknown type 'FOO'");
    expect_parse_error("id BIGINT, ID INT", "declared twice");
    expect_parse_error("", "empty column definition");
    expect_parse_error("   ", "empty column definition");
    expect_parse_error(NULL, NULL);
    expect_parse_error("a INT,, b INT", "empty column definition after 1 column");
    expect_parse_error("a DECIMAL(40,2)", "precision 1-38");
    expect_parse_error("a DECIMAL(0)", "precision 1-38");
    expect_parse_error("a DECIMAL(5,6)", "precision 1-38");
    expect_parse_error("a DECIMAL(x)", "precision 1-38");
    expect_parse_error("a DECIMAL(10,2", "unbalanced parentheses");
    expect_parse_error("a DECIMAL(10,2))", NULL);
    expect_parse_error("a INT), b INT", NULL);
    expect_parse_error("a INT, b DECIMAL(", "unbalanced parentheses");
    expect_parse_error("a", "wants NAME TYPE");
    expect_parse_error("a NOT NULL", "wants NAME TYPE");
    expect_parse_error("my-col INT", "double quotes");
    expect_parse_error("\"open INT", "unterminated");
    /* A type longer than any real one (found by fuzzing: it overran a buffer). */
    char longtype[400];
    memset(longtype, 'X', sizeof longtype - 1);
    longtype[sizeof longtype - 1] = '\0';
    memcpy(longtype, "a ", 2);
    expect_parse_error(longtype, "too long");
}

static void test_parse_max_columns(void **state)
{
    (void)state;
    size_t cap = (SCHEMA_MAX_COLUMNS + 1) * 16;
    char *text = malloc(cap), *p = text;
    assert_non_null(text);
    for (int i = 0; i < SCHEMA_MAX_COLUMNS; i++)
        p += snprintf(p, cap - (size_t)(p - text), "%sc%d INT", i ? "," : "", i);
    schema_t s;
    tarn_err_t err = {0};
    assert_int_equal(schema_parse(&s, text, &err), 0);
    assert_int_equal(s.n, SCHEMA_MAX_COLUMNS);
    schema_free(&s);
    snprintf(p, cap - (size_t)(p - text), ",one_more INT");
    assert_int_equal(schema_parse(&s, text, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "1600"));
    free(text);
}

/* ---- check_file ---- */

static void test_check_file(void **state)
{
    (void)state;
    schema_t table, file;
    tarn_err_t err = {0};
    assert_int_equal(
        schema_parse(&table, "id BIGINT NOT NULL, name VARCHAR, amount DOUBLE, dt TIMESTAMP",
                     &err),
        0);

    /* Narrower types fit, names compare case-insensitively, nullable columns may be absent. */
    BUILD(&file, "ID:INTEGER", "amount:DECIMAL(10,2)", "dt:DATE", "NAME:BIGINT");
    assert_int_equal(schema_check_file(&table, &file, &err), 0);
    schema_free(&file);
    BUILD(&file, "id:BIGINT");
    assert_int_equal(schema_check_file(&table, &file, &err), 0);
    schema_free(&file);
    BUILD(&file, "id:NULL", "amount:FLOAT");
    assert_int_equal(schema_check_file(&table, &file, &err), 0);
    schema_free(&file);

    /* A column the table does not have. */
    memset(&err, 0, sizeof err);
    BUILD(&file, "id:BIGINT", "extra:VARCHAR");
    assert_int_equal(schema_check_file(&table, &file, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "extra"));
    assert_non_null(strstr(err.msg, "not in the table"));
    schema_free(&file);

    /* A type that does not fit. */
    memset(&err, 0, sizeof err);
    BUILD(&file, "id:VARCHAR");
    assert_int_equal(schema_check_file(&table, &file, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "column id is VARCHAR in the file, BIGINT in the table"));
    schema_free(&file);
    memset(&err, 0, sizeof err);
    BUILD(&file, "id:BIGINT", "amount:VARCHAR");
    assert_int_equal(schema_check_file(&table, &file, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "amount"));
    schema_free(&file);

    /* A NOT NULL column missing from the file. */
    memset(&err, 0, sizeof err);
    BUILD(&file, "name:VARCHAR");
    assert_int_equal(schema_check_file(&table, &file, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "id (NOT NULL) is missing"));
    schema_free(&file);

    schema_free(&table);
}

/* ---- JSON ---- */

static void test_json_round_trip(void **state)
{
    (void)state;
    schema_t s, back;
    tarn_err_t err = {0};
    BUILD(&s, "id:BIGINT!", "name:VARCHAR", "amount:DECIMAL(10,2)");
    s.cols[0].id = 1;
    s.cols[1].id = 2;
    s.cols[2].id = 42;
    json_t *j = schema_to_json(&s);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 3);
    json_t *c0 = json_array_get(j, 0);
    assert_int_equal(json_integer_value(json_object_get(c0, "id")), 1);
    assert_string_equal(json_string_value(json_object_get(c0, "name")), "id");
    assert_string_equal(json_string_value(json_object_get(c0, "type")), "BIGINT");
    assert_true(json_is_false(json_object_get(c0, "nullable")));

    /* Through text and back. */
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    json_decref(j);
    json_error_t je;
    j = json_loads(text, 0, &je);
    free(text);
    assert_non_null(j);
    assert_int_equal(schema_from_json(&back, j, &err), 0);
    json_decref(j);
    assert_int_equal(back.n, s.n);
    for (size_t i = 0; i < s.n; i++) {
        assert_string_equal(back.cols[i].name, s.cols[i].name);
        assert_string_equal(back.cols[i].type, s.cols[i].type);
        assert_int_equal(back.cols[i].nullable, s.cols[i].nullable);
        assert_int_equal(back.cols[i].id, s.cols[i].id);
    }
    assert_null(schema_diff(&s, &back));
    schema_free(&back);

    /* An empty schema is an empty array, and back. */
    schema_t e = {0};
    j = schema_to_json(&e);
    assert_int_equal(json_array_size(j), 0);
    assert_int_equal(schema_from_json(&back, j, &err), 0);
    assert_int_equal(back.n, 0);
    json_decref(j);
    schema_free(&back);
    schema_free(&s);
}

static void test_from_json_lenient_and_errors(void **state)
{
    (void)state;
    schema_t s;
    tarn_err_t err = {0};
    json_error_t je;
    /* nullable defaults to true and id to 0. */
    json_t *j = json_loads("[{\"name\":\"a\",\"type\":\"INTEGER\"}]", 0, &je);
    assert_int_equal(schema_from_json(&s, j, &err), 0);
    assert_int_equal(s.n, 1);
    assert_true(s.cols[0].nullable);
    assert_int_equal(s.cols[0].id, 0);
    json_decref(j);
    schema_free(&s);

    j = json_loads("{\"name\":\"a\"}", 0, &je);
    assert_int_equal(schema_from_json(&s, j, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "not a JSON array"));
    json_decref(j);

    j = json_loads("[{\"name\":\"a\",\"type\":\"INTEGER\"},{\"name\":\"b\"}]", 0, &je);
    assert_int_equal(schema_from_json(&s, j, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "column 1"));
    assert_int_equal(s.n, 0);
    json_decref(j);

    assert_int_equal(schema_from_json(&s, NULL, &err), TARN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widen_integers),
        cmocka_unit_test(test_widen_numbers_and_text),
        cmocka_unit_test(test_widen_times_and_null),
        cmocka_unit_test(test_type_fits),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_aliases_and_spacing),
        cmocka_unit_test(test_parse_quoted_names),
        cmocka_unit_test(test_parse_engine_types),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_max_columns),
        cmocka_unit_test(test_check_file),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_from_json_lenient_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
