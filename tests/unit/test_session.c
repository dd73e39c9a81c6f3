/* Unit tests of query sessions under a read scope (a pipeline step's view of the lake),
 * against a real lake: Parquet files written by the engine into the objects folder and
 * registered as the crawler registers them. Bare names read staged Parquet files, the
 * include filter narrows a table's files (down to none, keeping the columns), on_read
 * hears what was read, a new scope takes effect on the next query, and grants still
 * decide columns and rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "consume/session.h"
#include "session_rows.h"
#include "govern/grants.h"
#include "govern/iam.h"
#include "util/buf.h"
#include "util/db.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char dir[64], objects[96], staging[96];
    db_t *db;
    catalog_t *cat;
    engine_t *e;
    engine_conn_t *c; /* writes the fixtures' files */
    arena_t *a;
    iam_t *iam;
    grants_t *grants;
    session_t *admin, *user;
} fixture_t;

static const authz_principal_t admin = {.name = "admin", .admin = true};
/* alice may read the eu rows of curated.sales.orders, and not its amounts; not
 * curated.hr.salaries. */
static authz_principal_t alice = {.name = "alice"};

static const char *const order_keys[] = {"sales/orders/region=eu/part-1.parquet",
                                         "sales/orders/region=us/part-2.parquet"};

/* Writes the rows of query to path as Parquet. */
static void write_parquet(fixture_t *f, const char *query, const char *path)
{
    tarn_err_t err = {0};
    int64_t n;
    char *sql =
        arena_sprintf(f->a, "COPY (%s) TO %s (FORMAT parquet)", query, engine_quote(f->a, path));
    if (engine_exec(f->c, sql, NULL, &n, &err))
        fail_msg("%s: %s", sql, err.msg);
}

/* Writes an object of the curated zone and registers it as the crawler would. */
static void put_object(fixture_t *f, const char *key, const char *query)
{
    tarn_err_t err = {0};
    char *path = arena_sprintf(f->a, "%s/curated/%s", f->objects, key);
    char *folder = arena_strndup(f->a, path, (size_t)(strrchr(path, '/') - path));
    if (fs_mkdir_p(folder, 0700, &err))
        fail_msg("%s: %s", folder, err.msg);
    write_parquet(f, query, path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    hive_key_t hk;
    classify_result_t cls = {0};
    catalog_apply_stats_t stats;
    if (hive_parse_key(&hk, key, f->a, &err) || classify_file(&cls, f->c, path, f->a, &err))
        fail_msg("%s: %s", key, err.msg);
    catalog_file_in_t in = {.zone = "curated",
                            .key = key,
                            .size = (uint64_t)st.st_size,
                            .etag = "etag",
                            .status = CATALOG_FILE_OK,
                            .hk = &hk,
                            .cls = &cls};
    if (catalog_files_apply(f->cat, &in, 1, NULL, 0, NULL, 0, &stats, &err))
        fail_msg("register %s: %s", key, err.msg);
    classify_result_free(&cls);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tarn_err_t err = {0};
    char path[128];
    if (!f || !(f->a = arena_create()))
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/tarn-session-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    /* As the server's query engine: it reads the objects folder and its own staging
     * folder under tmp, nothing else. */
    snprintf(f->objects, sizeof f->objects, "%s/objects", f->dir);
    snprintf(f->staging, sizeof f->staging, "%s/tmp/sql", f->dir);
    snprintf(path, sizeof path, "%s/tarn.db", f->dir);
    const char *dirs[] = {f->objects, f->staging, NULL};
    if (fs_mkdir_p(f->objects, 0700, &err) || fs_mkdir_p(f->staging, 0700, &err) ||
        db_open(&f->db, path, &err) || catalog_open(&f->cat, f->db, &err) ||
        engine_open(&f->e, &(engine_opts_t){.dirs = dirs, .threads = 1}, &err) ||
        engine_connect(f->e, &f->c, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    put_object(f, order_keys[0],
               "SELECT * FROM (VALUES (1, 10.5::DECIMAL(10,2)), (2, 20.0)) t(id, amount)");
    put_object(f, order_keys[1],
               "SELECT * FROM (VALUES (3, 30.0::DECIMAL(10,2)), (4, 40.0)) t(id, amount)");
    put_object(f, "hr/salaries/part-1.parquet", "SELECT 'bob' AS name, 100 AS salary");
    json_t *cols = json_pack("[s, s]", "id", "region");
    if (iam_open(&f->iam, f->db, NULL, &err) || grants_open(&f->grants, f->db, &err) ||
        iam_user_create(f->iam, "alice", false, NULL, &err) ||
        grants_filter_create(f->grants, "curated.sales.orders", "eu", "region = 'eu'", cols, NULL,
                             &err) ||
        grants_grant(f->grants,
                     &(grant_spec_t){.principal = "user:alice",
                                     .permission = "SELECT",
                                     .resource = "filter:curated.sales.orders.eu"},
                     "admin", NULL, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    json_decref(cols);
    alice.grants = f->grants;
    if (!(alice.id = session_user_id(f->iam, "alice")))
        return -1;
    if (session_open(&f->admin, f->e, f->cat, f->objects, &admin, &err) ||
        session_open(&f->user, f->e, f->cat, f->objects, &alice, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    session_close(f->admin);
    session_close(f->user);
    engine_disconnect(f->c);
    engine_close(f->e);
    grants_close(f->grants);
    iam_close(f->iam);
    catalog_close(f->cat);
    db_close(f->db);
    fs_remove_tree(f->dir);
    arena_free(f->a);
    free(f);
    return 0;
}

static char *query(session_t *s, const char *sql, tarn_err_t *err)
{
    return session_rows_text(s, sql, ROWENC_TEXT, err);
}

static void expect_rows(session_t *s, const char *sql, const char *want)
{
    tarn_err_t err;
    char *got = query(s, sql, &err);
    if (!got)
        fail_msg("%s\nfailed: %s", sql, err.msg);
    if (strcmp(got, want))
        fail_msg("%s\ngave:\n%s\nwanted:\n%s", sql, got, want);
    free(got);
}

static void expect_error(session_t *s, const char *sql, int code, const char *needle)
{
    tarn_err_t err;
    char *out = query(s, sql, &err);
    if (out)
        fail_msg("%s\nran, giving:\n%s", sql, out);
    if ((code && err.code != code) || !strstr(err.msg, needle))
        fail_msg("%s\nfailed with %d '%s', wanted %d '%s'", sql, err.code, err.msg, code, needle);
}

/* The columns of sql as "name TYPE, ..." (the query runs for no rows). Caller frees. */
static char *columns(session_t *s, const char *sql)
{
    tarn_err_t err = {0};
    json_t *cols = NULL;
    if (session_query(s, sql, NULL, ROWENC_TEXT, &cols, NULL, &err))
        fail_msg("%s\nfailed: %s", sql, err.msg);
    buf_t b = BUF_INIT;
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
        buf_printf(&b, "%s%s %s", i ? ", " : "", json_string_value(json_object_get(c, "name")),
                   json_string_value(json_object_get(c, "type")));
    json_decref(cols);
    return b.data;
}

/* ---- a scope for the tests: which keys to read, and what on_read heard ---- */

typedef struct {
    const char *only; /* keys containing this are read; NULL: none is */
    json_t *heard;    /* [{"table", "snapshot", "files"}] */
} probe_t;

static bool include_only(void *ctx, const char *table, const char *key)
{
    const probe_t *p = ctx;
    assert_string_equal(table, "curated.sales.orders");
    return p->only && strstr(key, p->only);
}

static void on_read(void *ctx, const char *table, int64_t snapshot, const json_t *files)
{
    probe_t *p = ctx;
    json_array_append_new(p->heard, json_pack("{s:s, s:I, s:O}", "table", table, "snapshot",
                                              (json_int_t)snapshot, "files", files));
}

/* ---- bare names ---- */

static void test_rel_reads_its_parquet_file(void **state)
{
    fixture_t *f = *state;
    /* A folder named k=v on the staging path is not a column of the file. */
    char *folder = arena_sprintf(f->a, "%s/run=7", f->staging);
    char *path = arena_sprintf(f->a, "%s/step1.parquet", folder);
    char *denied = arena_sprintf(f->a, "%s/tarn.db", f->dir);
    tarn_err_t err = {0};
    assert_int_equal(fs_mkdir_p(folder, 0700, &err), 0);
    write_parquet(f, "SELECT * FROM (VALUES (1, 'a'), (3, 'c')) t(id, label)", path);
    const char *names[] = {"step1", "outside"};
    const char *paths[] = {path, denied};
    catalog_scope_t scope = {.rel_names = names, .rel_paths = paths, .nrels = 2};

    expect_error(f->admin, "SELECT * FROM step1", TARN_EDENIED, "no table step1");
    session_set_scope(f->admin, &scope);
    expect_rows(f->admin, "SELECT id, label FROM step1 ORDER BY id", "1|a\n3|c\n");
    char *cols = columns(f->admin, "SELECT * FROM step1");
    assert_string_equal(cols, "id INTEGER, label VARCHAR");
    free(cols);
    /* Beside the lake's tables, any case, and twice in one query. */
    expect_rows(f->admin,
                "SELECT o.id, o.region, s.label FROM sales.orders o JOIN STEP1 s USING (id) "
                "JOIN step1 t USING (id) ORDER BY 1",
                "1|eu|a\n3|us|c\n");
    /* Still only one statement over the session's names, and a CTE hides the rel. */
    expect_rows(f->admin, "WITH step1 AS (SELECT 42 AS x) SELECT * FROM step1", "42\n");
    expect_error(f->admin, "SELECT * FROM main.step1", TARN_EDENIED, "no table main.step1");
    /* The engine still reads only its folders, whatever the scope names. */
    expect_error(f->admin, "SELECT * FROM outside", TARN_EINVAL, "Permission Error");
    expect_rows(f->admin, "SELECT count(*) FROM step1", "2\n");
    /* A user's session gets the same relation: it is the reader's own data. */
    session_set_scope(f->user, &scope);
    expect_rows(f->user, "SELECT label FROM step1 ORDER BY 1", "a\nc\n");
    session_set_scope(f->user, NULL);

    session_set_scope(f->admin, NULL);
    expect_error(f->admin, "SELECT * FROM step1", TARN_EDENIED, "no table step1");
}

/* ---- narrowing a table's files ---- */

static void test_include_reads_only_accepted_files(void **state)
{
    fixture_t *f = *state;
    probe_t p = {.only = "region=eu"};
    catalog_scope_t scope = {.include = include_only, .ctx = &p};
    expect_rows(f->admin, "SELECT count(*) FROM sales.orders", "4\n");
    session_set_scope(f->admin, &scope);
    expect_rows(f->admin, "SELECT id, amount, region FROM sales.orders ORDER BY id",
                "1|10.50|eu\n2|20.00|eu\n");
    expect_rows(f->admin, "SELECT count(*) FROM curated.sales.orders", "2\n");
    /* A change of scope shows in the next query. */
    p.only = "region=us";
    expect_rows(f->admin, "SELECT count(*), min(id) FROM sales.orders", "2|3\n");
    session_set_scope(f->admin, NULL);
    expect_rows(f->admin, "SELECT count(*) FROM sales.orders", "4\n");
}

static void test_include_of_no_file_keeps_the_columns(void **state)
{
    fixture_t *f = *state;
    probe_t p = {.only = NULL};
    catalog_scope_t scope = {.include = include_only, .ctx = &p};
    char *all = columns(f->admin, "SELECT * FROM sales.orders");
    assert_string_equal(all, "id INTEGER, amount DECIMAL(10,2), region VARCHAR");
    session_set_scope(f->admin, &scope);
    expect_rows(f->admin, "SELECT count(*) FROM sales.orders", "0\n");
    expect_rows(f->admin, "SELECT * FROM sales.orders", "");
    char *none = columns(f->admin, "SELECT * FROM sales.orders");
    assert_string_equal(none, all);
    free(all);
    free(none);
    session_set_scope(f->admin, NULL);
}

/* ---- what was read ---- */

static void test_on_read_reports_table_snapshot_and_files(void **state)
{
    fixture_t *f = *state;
    probe_t p = {.only = "region=eu", .heard = json_array()};
    catalog_scope_t scope = {.include = include_only, .on_read = on_read, .ctx = &p};
    tarn_err_t err = {0};
    json_t *snap = NULL;
    assert_int_equal(catalog_snapshot_files(f->cat, "curated", "sales", "orders", 0, &snap, &err),
                     0);
    json_int_t current = json_integer_value(json_object_get(snap, "snapshot"));
    json_t *eu = json_array_get(json_object_get(snap, "files"), 0);
    assert_string_equal(json_string_value(json_object_get(eu, "key")), order_keys[0]);

    session_set_scope(f->admin, &scope);
    /* One report for a table named twice, none for a query that reads no table. */
    expect_rows(f->admin,
                "SELECT count(*) FROM sales.orders a JOIN curated.sales.orders b USING (id)",
                "2\n");
    expect_rows(f->admin, "SELECT 1", "1\n");
    assert_int_equal(json_array_size(p.heard), 1);
    json_t *want =
        json_pack("{s:s, s:I, s:{s:[{s:O, s:O, s:i}]}}", "table", "curated.sales.orders",
                  "snapshot", current, "files", "files", "key", json_object_get(eu, "key"), "size",
                  json_object_get(eu, "size"), "rows", 2);
    json_t *got = json_array_get(p.heard, 0);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
        fail_msg("on_read heard %s, wanted %s", g, w);
    }
    /* Each query reports again, with the files it reads then. */
    p.only = NULL;
    expect_rows(f->admin, "SELECT count(*) FROM sales.orders", "0\n");
    assert_int_equal(json_array_size(p.heard), 2);
    got = json_array_get(p.heard, 1);
    assert_int_equal(json_integer_value(json_object_get(got, "snapshot")), current);
    assert_int_equal(json_array_size(json_object_get(json_object_get(got, "files"), "files")), 0);
    /* A table the principal may not read is not read, so not reported. */
    session_set_scope(f->user, &scope);
    expect_error(f->user, "SELECT * FROM hr.salaries", TARN_EDENIED, "no table hr.salaries");
    assert_string_equal(session_decisions(f->user), "curated.hr.salaries=no-select-grant");
    assert_int_equal(json_array_size(p.heard), 2);
    session_set_scope(f->user, NULL);
    session_set_scope(f->admin, NULL);
    expect_rows(f->admin, "SELECT count(*) FROM sales.orders", "4\n");
    assert_int_equal(json_array_size(p.heard), 2);
    json_decref(want);
    json_decref(snap);
    json_decref(p.heard);
}

/* ---- grants ---- */

static void test_scope_never_widens_grants(void **state)
{
    fixture_t *f = *state;
    probe_t p = {.only = "part-", .heard = json_array()};
    catalog_scope_t scope = {.include = include_only, .on_read = on_read, .ctx = &p};
    expect_rows(f->user, "SELECT * FROM sales.orders ORDER BY id", "1|eu\n2|eu\n");
    session_set_scope(f->user, &scope);
    /* Every file read, and still only the filter's rows and columns. */
    expect_rows(f->user, "SELECT * FROM sales.orders ORDER BY id", "1|eu\n2|eu\n");
    expect_error(f->user, "SELECT amount FROM sales.orders", TARN_EDENIED,
                 "may not read the column amount");
    assert_string_equal(session_decisions(f->user), "curated.sales.orders=grant:1");
    /* Only the us file: the filter leaves nothing of it. */
    p.only = "region=us";
    expect_rows(f->user, "SELECT count(*) FROM sales.orders", "0\n");
    p.only = NULL;
    char *cols = columns(f->user, "SELECT * FROM sales.orders");
    assert_string_equal(cols, "id INTEGER, region VARCHAR");
    free(cols);
    session_set_scope(f->user, NULL);
    json_decref(p.heard);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rel_reads_its_parquet_file),
        cmocka_unit_test(test_include_reads_only_accepted_files),
        cmocka_unit_test(test_include_of_no_file_keeps_the_columns),
        cmocka_unit_test(test_on_read_reports_table_snapshot_and_files),
        cmocka_unit_test(test_scope_never_widens_grants),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
