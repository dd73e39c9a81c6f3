/* Unit tests for the SQL sandbox's statement check: one SELECT over the session's names,
 * CTE names only where their WITH clause reaches, no file-reading table functions, no
 * string literals or paths as tables, no other statement kinds; and the mapping of table
 * names to the session's TEMP views, run against real views. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "consume/sandbox.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct {
    engine_t *e;
    engine_conn_t *c;
    arena_t *a;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tarn_err_t err = {0};
    char dir[] = "/tmp/tarn-sandbox-XXXXXX";
    const char *dirs[] = {dir, NULL};
    if (!f || !mkdtemp(dir) || engine_open(&f->e, &(engine_opts_t){.dirs = dirs, .threads = 1}, &err) ||
        engine_connect(f->e, &f->c, &err) || !(f->a = arena_create()))
        return -1;
    rmdir(dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    engine_disconnect(f->c);
    engine_close(f->e);
    arena_free(f->a);
    free(f);
    return 0;
}

static const char *map(void *ctx, const char *catalog, const char *schema, const char *table);

static int check(fixture_t *f, const char *sql, tarn_err_t *err)
{
    const char *mapped;
    memset(err, 0, sizeof *err);
    return sandbox_map_select(f->c, sql, map, NULL, &mapped, f->a, err);
}

static void test_allowed_queries(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err;
    const char *ok[] = {
        "SELECT * FROM sales.orders",
        "SELECT count(*) FROM raw.sales.orders o JOIN curated.sales.orders c USING (id)",
        "SELECT 1",
        "WITH x AS (SELECT * FROM sales.orders) SELECT * FROM x",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        "SELECT * FROM sales.orders WHERE id IN (SELECT id FROM raw.sales.orders)",
        "SELECT v FROM unnest([1, 2, 3]) t(v)",
        "SELECT * FROM range(10)",
        "SELECT a FROM (VALUES (1), (2)) v(a) UNION ALL SELECT 3",
        "SELECT * FROM sales.orders WHERE note = '/etc/passwd'",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (check(f, ok[i], &err))
            fail_msg("refused %s: %s", ok[i], err.msg);
}

static void expect(fixture_t *f, const char *sql, int code, const char *reason, const char *needle)
{
    tarn_err_t err;
    int rc = check(f, sql, &err);
    const char *got = tarn_reason_name(err.reason);
    if (rc != code || !got || strcmp(got, reason) || !strstr(err.msg, needle))
        fail_msg("%s: got %d %s '%s', wanted %d %s '%s'", sql, rc, got ? got : "-", err.msg, code,
                 reason, needle);
}

static void test_refused_queries(void **state)
{
    fixture_t *f = *state;
    expect(f, "SELECT * FROM read_csv('/etc/passwd')", TARN_EDENIED, "AccessDenied", "read_csv");
    expect(f, "SELECT * FROM '/etc/passwd'", TARN_EDENIED, "AccessDenied", "/etc/passwd");
    expect(f, "SELECT * FROM 'data/objects/raw/hr/salaries/a.csv'", TARN_EDENIED, "AccessDenied",
           "salaries");
    expect(f, "SELECT * FROM sales.customers", TARN_EDENIED, "AccessDenied", "sales.customers");
    expect(f, "SELECT * FROM sales.orders WHERE id IN (SELECT id FROM read_parquet('x'))",
           TARN_EDENIED, "AccessDenied", "read_parquet");
    expect(f, "SELECT * FROM duckdb_settings()", TARN_EDENIED, "AccessDenied", "duckdb_settings");
    expect(f, "SELECT * FROM glob('/*')", TARN_EDENIED, "AccessDenied", "glob");
    expect(f, "SHOW ALL TABLES", TARN_EDENIED, "AccessDenied", "only SHOW TABLES");
    expect(f, "SELECT * FROM (SHOW TABLES FROM main)", TARN_EDENIED, "AccessDenied",
           "only SHOW TABLES");
    expect(f, "SELECT * FROM (SUMMARIZE '/etc/passwd')", TARN_EDENIED, "AccessDenied",
           "/etc/passwd");
    /* A CTE name counts only inside the query that defines it. */
    expect(f,
           "SELECT * FROM (WITH \"/tmp/x.csv\" AS (SELECT 1) SELECT 1) s, '/tmp/x.csv'",
           TARN_EDENIED, "AccessDenied", "/tmp/x.csv");
    expect(f, "WITH o AS (SELECT 1) SELECT * FROM raw.o", TARN_EDENIED, "AccessDenied", "raw.o");
    /* Not one SELECT. */
    expect(f, "SELECT 1; SELECT 2", TARN_EINVAL, "NotReadOnly", "exactly one statement");
    expect(f, "COPY (SELECT 1) TO '/tmp/out.csv'", TARN_EINVAL, "NotReadOnly", "only a SELECT");
    expect(f, "ATTACH '/tmp/x.db'", TARN_EINVAL, "NotReadOnly", "only a SELECT");
    expect(f, "SET threads = 1", TARN_EINVAL, "NotReadOnly", "only a SELECT");
    expect(f, "INSTALL httpfs", TARN_EINVAL, "NotReadOnly", "only a SELECT");
    expect(f, "DELETE FROM sales.orders", TARN_EINVAL, "NotReadOnly", "only a SELECT");
    expect(f, "SELEC 1", TARN_EINVAL, "SyntaxError", "syntax error");
    expect(f, "", TARN_EINVAL, "NotReadOnly", "exactly one statement");
}

/* The session's views: raw.sales.orders, and curated.sales.orders (also as sales.orders). */
static const char *map(void *ctx, const char *catalog, const char *schema, const char *table)
{
    (void)ctx;
    if (strcasecmp(schema, "sales") || strcasecmp(table, "orders"))
        return NULL;
    if (!strcasecmp(catalog, "raw"))
        return "raw.sales.orders";
    if (!*catalog || !strcasecmp(catalog, "curated"))
        return "curated.sales.orders";
    return NULL;
}

/* Maps sql, runs the result, and gives the first cell of its first row. */
static const char *run_mapped(fixture_t *f, const char *sql)
{
    tarn_err_t err = {0};
    const char *mapped;
    if (sandbox_map_select(f->c, sql, map, NULL, &mapped, f->a, &err))
        fail_msg("refused %s: %s", sql, err.msg);
    engine_rows_t r;
    if (engine_query(f->c, mapped, 10, &r, f->a, &err))
        fail_msg("%s mapped to %s, which fails: %s", sql, mapped, err.msg);
    return r.nrows ? r.cells[0] : NULL;
}

static void test_map_to_session_views(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    engine_rows_t r;
    assert_int_equal(engine_query(f->c,
                                  "CREATE TEMP VIEW \"raw.sales.orders\" AS SELECT * FROM"
                                  " (VALUES (1, 10.5), (2, 20.0)) t(id, amount)",
                                  1, &r, f->a, &err), 0);
    assert_int_equal(engine_query(f->c,
                                  "CREATE TEMP VIEW \"curated.sales.orders\" AS SELECT * FROM"
                                  " (VALUES (7, 1.0)) t(id, amount)",
                                  1, &r, f->a, &err), 0);
    assert_string_equal(run_mapped(f, "SELECT sum(amount) FROM raw.sales.orders"), "30.5");
    assert_string_equal(run_mapped(f, "SELECT o.id FROM sales.orders o"), "7");
    assert_string_equal(run_mapped(f, "SELECT orders.id FROM curated.sales.orders"), "7");
    assert_string_equal(run_mapped(f, "WITH x AS (SELECT * FROM raw.sales.orders) "
                                      "SELECT count(*) FROM x"),
                        "2");
    assert_string_equal(run_mapped(f, "SELECT count(*) FROM raw.sales.orders r JOIN "
                                      "sales.orders c ON r.id < c.id"),
                        "2");
    /* Integers beyond 64 bits and digits inside strings survive the round trip. */
    assert_string_equal(run_mapped(f, "SELECT 18446744073709551615 FROM sales.orders"),
                        "18446744073709551615");
    assert_string_equal(run_mapped(f, "SELECT 170141183460469231731687303715884105727"),
                        "170141183460469231731687303715884105727");
    assert_string_equal(run_mapped(f, "SELECT -9223372036854775808"), "-9223372036854775808");
    assert_string_equal(run_mapped(f, "SELECT '12345678901234567890123'"),
                        "12345678901234567890123");
    assert_string_equal(run_mapped(f, "SELECT 'tarn-int-0000000000000000:5'"),
                        "tarn-int-0000000000000000:5");
    assert_string_equal(run_mapped(f, "SELECT 1.5e300 > 1"), "true");
    /* DESCRIBE and SUMMARIZE: of a table name or of a query, mapped like a SELECT. */
    const char *out;
    assert_int_equal(sandbox_map_statement(f->c, " describe raw.sales.orders", map, NULL, &out,
                                           f->a, &err),
                     0);
    assert_non_null(strstr(out, "DESCRIBE SELECT"));
    assert_non_null(strstr(out, "\"raw.sales.orders\""));
    assert_int_equal(engine_query(f->c, out, 10, &r, f->a, &err), 0);
    assert_int_equal(r.nrows, 2);
    assert_int_equal(sandbox_map_statement(f->c, "/* c */ SUMMARIZE SELECT id FROM sales.orders",
                                           map, NULL, &out, f->a, &err),
                     0);
    assert_int_equal(sandbox_map_statement(f->c, "DESCRIBE read_csv('/etc/passwd')", map, NULL,
                                           &out, f->a, &err),
                     TARN_EDENIED);
    assert_int_equal(sandbox_map_statement(f->c, "DESC '/etc/passwd'", map, NULL, &out, f->a,
                                           &err),
                     TARN_EDENIED);
    assert_int_equal(sandbox_map_statement(f->c, "DESCRIBE", map, NULL, &out, f->a, &err),
                     TARN_EINVAL);
    assert_int_equal(sandbox_map_statement(f->c, "SELECT 7", map, NULL, &out, f->a, &err), 0);
    /* What the session lacks is refused, as by the check. */
    assert_int_equal(sandbox_map_select(f->c, "SELECT * FROM raw.hr.salaries", map, NULL, &out,
                                        f->a, &err),
                     TARN_EDENIED);
    assert_non_null(strstr(err.msg, "raw.hr.salaries"));
    assert_int_equal(sandbox_map_select(f->c, "SELECT * FROM '/etc/passwd'", map, NULL, &out,
                                        f->a, &err),
                     TARN_EDENIED);
    assert_int_equal(sandbox_map_select(f->c, "SELECT * FROM read_csv('x')", map, NULL, &out,
                                        f->a, &err),
                     TARN_EDENIED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_allowed_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_to_session_views, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
