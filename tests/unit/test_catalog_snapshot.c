/* Unit tests of managed tables' snapshots: a commit creates the table with its partitions,
 * appends and overwrites make new snapshots whose earlier file lists stay readable,
 * conflicts and crawled tables are refused, a rollback restores files, totals and schema,
 * the schema evolves across commits, the crawler leaves managed tables alone, and a query
 * session reads a managed table through its view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "catalog/catalog.h"
#include "consume/session.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char dir[64];
    db_t *db;
    catalog_t *cat;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tarn_err_t err = {0};
    char path[128];
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/tarn-catsnap-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(path, sizeof path, "%s/tarn.db", f->dir);
    if (db_open(&f->db, path, &err) || catalog_open(&f->cat, f->db, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    catalog_close(f->cat);
    db_close(f->db);
    fs_remove_tree(f->dir);
    free(f);
    return 0;
}

/* A commit of curated.sales.daily in its own transaction, as a pipeline makes it. */
typedef struct {
    const char *columns, *partition_keys, *operation;
    int64_t base;
    const catalog_snap_file_t *adds;
    size_t nadds;
    const char *const *removes;
    size_t nremoves;
} change_t;

static int commit(fixture_t *f, const change_t *ch, int64_t *snap, tarn_err_t *err)
{
    json_t *summary = json_pack("{s:s, s:i}", "pipeline", "daily", "run", 7);
    catalog_commit_t cm = {
        .zone = "curated",
        .db = "sales",
        .name = "daily",
        .columns = ch->columns ? ch->columns : "id BIGINT, amount DOUBLE",
        .partition_keys = ch->partition_keys ? ch->partition_keys : "dt DATE",
        .base_snapshot = ch->base,
        .adds = ch->adds,
        .nadds = ch->nadds,
        .removes = ch->removes,
        .nremoves = ch->nremoves,
        .operation = ch->operation ? ch->operation : "append",
        .summary = summary,
        .managed_by = "pipeline:daily",
        .owner = "alice",
    };
    memset(err, 0, sizeof *err);
    int rc = db_exec(catalog_db(f->cat), "BEGIN IMMEDIATE", err);
    if (!rc)
        rc = catalog_snapshot_commit(f->cat, &cm, snap, err);
    if (rc)
        db_exec(catalog_db(f->cat), "ROLLBACK", NULL);
    else
        rc = db_exec(catalog_db(f->cat), "COMMIT", err);
    json_decref(summary);
    return rc;
}

static int64_t commit_ok(fixture_t *f, const change_t *ch)
{
    tarn_err_t err;
    int64_t snap = -1;
    if (commit(f, ch, &snap, &err))
        fail_msg("commit failed: %s", err.msg);
    return snap;
}

static json_t *table(fixture_t *f)
{
    tarn_err_t err = {0};
    json_t *t = NULL;
    if (catalog_table_get(f->cat, "curated", "sales", "daily", &t, &err))
        fail_msg("table: %s", err.msg);
    return t;
}

static int64_t table_int(fixture_t *f, const char *field)
{
    json_t *t = table(f);
    int64_t v = json_integer_value(json_object_get(t, field));
    json_decref(t);
    return v;
}

/* The keys of snapshot n (0: the current one), joined by spaces. */
static char *snapshot_keys(fixture_t *f, int64_t n)
{
    tarn_err_t err = {0};
    json_t *o = NULL, *file;
    size_t i;
    if (catalog_snapshot_files(f->cat, "curated", "sales", "daily", n, &o, &err))
        fail_msg("snapshot files: %s", err.msg);
    char *s = calloc(1, 4096);
    assert_non_null(s);
    json_array_foreach(json_object_get(o, "files"), i, file)
    {
        snprintf(s + strlen(s), 4096 - strlen(s), "%s%s", i ? " " : "",
                 json_string_value(json_object_get(file, "key")));
        /* Every file carries what a view needs: its options and column names. */
        assert_true(json_is_object(json_object_get(file, "options")));
        assert_true(json_array_size(json_object_get(file, "columns")) > 0);
    }
    json_decref(o);
    return s;
}

static void expect_keys(fixture_t *f, int64_t n, const char *want)
{
    char *got = snapshot_keys(f, n);
    if (strcmp(got, want))
        fail_msg("snapshot %lld has [%s], wanted [%s]", (long long)n, got, want);
    free(got);
}

/* The partitions as "spec:files" joined by spaces. */
static char *partitions(fixture_t *f)
{
    tarn_err_t err = {0};
    json_t *o = NULL, *p;
    size_t i;
    if (catalog_table_partitions(f->cat, "curated", "sales", "daily", &o, &err))
        fail_msg("partitions: %s", err.msg);
    char *s = calloc(1, 1024);
    assert_non_null(s);
    json_array_foreach(json_object_get(o, "partitions"), i, p)
        snprintf(s + strlen(s), 1024 - strlen(s), "%s%s:%lld", i ? " " : "",
                 json_string_value(json_object_get(p, "spec")),
                 (long long)json_integer_value(json_object_get(p, "files")));
    json_decref(o);
    return s;
}

static void expect_partitions(fixture_t *f, const char *want)
{
    char *got = partitions(f);
    if (strcmp(got, want))
        fail_msg("partitions [%s], wanted [%s]", got, want);
    free(got);
}

#define K1 "sales/daily/dt=2024-01-01/part-1.parquet"
#define K2 "sales/daily/dt=2024-01-02/part-2.parquet"
#define K3 "sales/daily/dt=2024-01-02/part-3.parquet"
#define K4 "sales/daily/dt=2024-01-03/part-4.parquet"

static const catalog_snap_file_t first[] = {{K1, 100, 10}, {K2, 200, 20}};

static void test_commit_creates_managed_table(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    assert_int_equal(commit_ok(f, &(change_t){.base = 0, .adds = first, .nadds = 2}), 1);
    json_t *t = table(f);
    assert_string_equal(json_string_value(json_object_get(t, "managed_by")), "pipeline:daily");
    assert_string_equal(json_string_value(json_object_get(t, "format")), "parquet");
    assert_string_equal(json_string_value(json_object_get(t, "owner")), "alice");
    assert_string_equal(json_string_value(json_object_get(t, "schema_source")), "declared");
    assert_int_equal(json_integer_value(json_object_get(t, "files")), 2);
    assert_int_equal(json_integer_value(json_object_get(t, "bytes")), 300);
    assert_int_equal(json_integer_value(json_object_get(t, "rows")), 30);
    assert_int_equal(json_integer_value(json_object_get(t, "snapshot")), 1);
    assert_int_equal(json_integer_value(json_object_get(t, "schema_version")), 1);
    assert_int_equal(json_array_size(json_object_get(t, "columns")), 2);
    json_t *pk = json_array_get(json_object_get(t, "partition_keys"), 0);
    assert_string_equal(json_string_value(json_object_get(pk, "name")), "dt");
    assert_string_equal(json_string_value(json_object_get(pk, "type")), "DATE");
    json_decref(t);
    expect_partitions(f, "dt=2024-01-01:1 dt=2024-01-02:1");
    expect_keys(f, 1, K1 " " K2);

    json_t *snaps = NULL;
    assert_int_equal(catalog_table_snapshots(f->cat, "curated", "sales", "daily", &snaps, &err), 0);
    json_t *s1 = json_array_get(json_object_get(snaps, "snapshots"), 0);
    assert_string_equal(json_string_value(json_object_get(s1, "operation")), "append");
    assert_int_equal(json_integer_value(json_object_get(s1, "added_files")), 2);
    assert_int_equal(json_integer_value(json_object_get(s1, "schema_version")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(s1, "summary"), "pipeline")), "daily");
    json_decref(snaps);

    int64_t snap = -1;
    char by[64];
    assert_int_equal(
        catalog_table_state(f->cat, "curated", "sales", "daily", &snap, by, sizeof by, &err), 0);
    assert_int_equal(snap, 1);
    assert_string_equal(by, "pipeline:daily");
    assert_int_equal(
        catalog_table_state(f->cat, "curated", "sales", "nope", &snap, by, sizeof by, &err),
        TARN_ENOTFOUND);

    /* Nothing to add or remove: no new snapshot. */
    assert_int_equal(commit_ok(f, &(change_t){.base = 1}), 1);
    assert_int_equal(table_int(f, "snapshot"), 1);
}

static void test_append_overwrite_and_rollback(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    assert_int_equal(commit_ok(f, &(change_t){.base = 0, .adds = first, .nadds = 2}), 1);
    static const catalog_snap_file_t more[] = {{K3, 300, 30}};
    assert_int_equal(commit_ok(f, &(change_t){.base = 1, .adds = more, .nadds = 1}), 2);
    assert_int_equal(table_int(f, "files"), 3);
    assert_int_equal(table_int(f, "rows"), 60);
    expect_partitions(f, "dt=2024-01-01:1 dt=2024-01-02:2");

    /* An overwrite: every file out, one new one in. */
    static const char *const all[] = {K1, K2, K3};
    static const catalog_snap_file_t fresh[] = {{K4, 50, -1}};
    assert_int_equal(commit_ok(f, &(change_t){.base = 2,
                                              .operation = "overwrite",
                                              .adds = fresh,
                                              .nadds = 1,
                                              .removes = all,
                                              .nremoves = 3}),
                     3);
    json_t *t = table(f);
    assert_int_equal(json_integer_value(json_object_get(t, "files")), 1);
    assert_int_equal(json_integer_value(json_object_get(t, "bytes")), 50);
    assert_true(json_is_null(json_object_get(t, "rows"))); /* unknown for K4 */
    json_decref(t);
    expect_partitions(f, "dt=2024-01-03:1");
    expect_keys(f, 0, K4);
    /* Earlier snapshots still list (and can be read from) their files. */
    expect_keys(f, 1, K1 " " K2);
    expect_keys(f, 2, K1 " " K2 " " K3);
    /* The table's file listing shows what is live. */
    json_t *files = NULL;
    assert_int_equal(
        catalog_table_files(f->cat, "curated", "sales", "daily", NULL, 100, &files, &err), 0);
    assert_int_equal(json_array_size(json_object_get(files, "files")), 1);
    json_decref(files);

    /* Back to snapshot 2, as a new snapshot. */
    int64_t snap = -1;
    assert_int_equal(catalog_table_rollback(f->cat, "curated", "sales", "daily", 2, &snap, &err),
                     0);
    assert_int_equal(snap, 4);
    expect_keys(f, 0, K1 " " K2 " " K3);
    expect_keys(f, 3, K4);
    t = table(f);
    assert_int_equal(json_integer_value(json_object_get(t, "files")), 3);
    assert_int_equal(json_integer_value(json_object_get(t, "bytes")), 600);
    assert_int_equal(json_integer_value(json_object_get(t, "rows")), 60);
    assert_int_equal(json_integer_value(json_object_get(t, "snapshot")), 4);
    json_decref(t);
    expect_partitions(f, "dt=2024-01-01:1 dt=2024-01-02:2");
    json_t *snaps = NULL;
    assert_int_equal(catalog_table_snapshots(f->cat, "curated", "sales", "daily", &snaps, &err), 0);
    json_t *s4 = json_array_get(json_object_get(snaps, "snapshots"), 3);
    assert_string_equal(json_string_value(json_object_get(s4, "operation")), "rollback");
    assert_int_equal(json_integer_value(json_object_get(s4, "added_files")), 3);
    assert_int_equal(json_integer_value(json_object_get(s4, "removed_files")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(s4, "summary"), "rollback_to")), 2);
    assert_true(json_is_true(json_object_get(s4, "current")));
    json_decref(snaps);

    /* Forward again, to the overwrite's files. */
    assert_int_equal(catalog_table_rollback(f->cat, "curated", "sales", "daily", 3, &snap, &err),
                     0);
    assert_int_equal(snap, 5);
    expect_keys(f, 0, K4);
    expect_partitions(f, "dt=2024-01-03:1");
    assert_int_equal(catalog_table_rollback(f->cat, "curated", "sales", "daily", 0, &snap, &err),
                     TARN_ENOTFOUND);
    assert_string_equal(tarn_reason_name(err.reason), "NoSuchSnapshot");
    assert_int_equal(catalog_table_rollback(f->cat, "curated", "sales", "daily", 6, &snap, &err),
                     TARN_ENOTFOUND);
    assert_string_equal(tarn_reason_name(err.reason), "NoSuchSnapshot");
}

static void test_conflicts(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err;
    int64_t snap;
    assert_int_equal(commit_ok(f, &(change_t){.base = 0, .adds = first, .nadds = 2}), 1);
    static const catalog_snap_file_t more[] = {{K3, 300, 30}};
    /* Computed from snapshot 0, but the table moved on. */
    assert_int_equal(commit(f, &(change_t){.base = 0, .adds = more, .nadds = 1}, &snap, &err),
                     TARN_ECONFLICT);
    assert_string_equal(tarn_reason_name(err.reason), "SnapshotConflict");
    /* A removal of a file no longer live. */
    static const char *const gone[] = {K3};
    assert_int_equal(
        commit(f, &(change_t){.base = -1, .removes = gone, .nremoves = 1}, &snap, &err),
        TARN_ECONFLICT);
    assert_string_equal(tarn_reason_name(err.reason), "SnapshotConflict");
    /* A file already live, not replaced. */
    assert_int_equal(commit(f, &(change_t){.base = -1, .adds = first, .nadds = 1}, &snap, &err),
                     TARN_EINVAL);
    /* But replaced in place it is fine. */
    static const char *const k1[] = {K1};
    static const catalog_snap_file_t k1new[] = {{K1, 111, 11}};
    assert_int_equal(
        commit_ok(f,
                  &(change_t){.base = 1, .adds = k1new, .nadds = 1, .removes = k1, .nremoves = 1}),
        2);
    assert_int_equal(table_int(f, "bytes"), 311);
    expect_keys(f, 1, K1 " " K2);
    expect_keys(f, 2, K1 " " K2);
    /* A key outside the table, and one whose folders miss the partition key. */
    static const catalog_snap_file_t outside[] = {{"sales/other/dt=2024-01-01/x.parquet", 1, 1}};
    assert_int_equal(commit(f, &(change_t){.base = -1, .adds = outside, .nadds = 1}, &snap, &err),
                     TARN_EINVAL);
    static const catalog_snap_file_t flat[] = {{"sales/daily/x.parquet", 1, 1}};
    assert_int_equal(commit(f, &(change_t){.base = -1, .adds = flat, .nadds = 1}, &snap, &err),
                     TARN_EINVAL);
    /* Other partition keys while older files stay. */
    static const catalog_snap_file_t byregion[] = {{"sales/daily/region=eu/x.parquet", 1, 1}};
    assert_int_equal(
        commit(f,
               &(change_t){
                   .base = -1, .partition_keys = "region VARCHAR", .adds = byregion, .nadds = 1},
               &snap, &err),
        TARN_EINVAL);
    assert_int_equal(table_int(f, "snapshot"), 2);

    /* Outside a transaction a commit would half-happen: refused. */
    catalog_commit_t cm = {.zone = "curated",
                           .db = "sales",
                           .name = "daily",
                           .columns = "id BIGINT",
                           .base_snapshot = -1,
                           .adds = more,
                           .nadds = 1,
                           .operation = "append",
                           .managed_by = "pipeline:x"};
    assert_int_equal(catalog_snapshot_commit(f->cat, &cm, &snap, &err), TARN_EINVAL);

    /* A table the crawler owns. */
    json_t *spec = json_pack("{s:s, s:s}", "format", "parquet", "schema", "id BIGINT"), *out;
    assert_int_equal(
        catalog_table_create(f->cat, "curated", "sales", "crawled", spec, "admin", &out, &err), 0);
    assert_true(json_is_null(json_object_get(out, "managed_by")));
    json_decref(out);
    json_decref(spec);
    static const catalog_snap_file_t c1[] = {{"sales/crawled/a.parquet", 1, 1}};
    cm = (catalog_commit_t){.zone = "curated",
                            .db = "sales",
                            .name = "crawled",
                            .columns = "id BIGINT",
                            .base_snapshot = -1,
                            .adds = c1,
                            .nadds = 1,
                            .operation = "append",
                            .managed_by = "pipeline:x"};
    assert_int_equal(db_exec(catalog_db(f->cat), "BEGIN IMMEDIATE", &err), 0);
    assert_int_equal(catalog_snapshot_commit(f->cat, &cm, &snap, &err), TARN_ECONFLICT);
    assert_string_equal(tarn_reason_name(err.reason), "NotManaged");
    assert_int_equal(db_exec(catalog_db(f->cat), "ROLLBACK", &err), 0);
    assert_int_equal(catalog_table_rollback(f->cat, "curated", "sales", "crawled", 1, &snap, &err),
                     TARN_ECONFLICT);
    assert_string_equal(tarn_reason_name(err.reason), "NotManaged");
    char by[8] = "x";
    assert_int_equal(
        catalog_table_state(f->cat, "curated", "sales", "crawled", &snap, by, sizeof by, &err), 0);
    assert_string_equal(by, "");
}

/* "name:id:type" of each column of the current schema, joined by spaces. */
static void expect_columns(fixture_t *f, const char *want)
{
    json_t *t = table(f), *c;
    size_t i;
    char got[512] = "";
    json_array_foreach(json_object_get(t, "columns"), i, c)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s:%lld:%s", i ? " " : "",
                 json_string_value(json_object_get(c, "name")),
                 (long long)json_integer_value(json_object_get(c, "id")),
                 json_string_value(json_object_get(c, "type")));
    json_decref(t);
    if (strcmp(got, want))
        fail_msg("columns [%s], wanted [%s]", got, want);
}

static void test_schema_evolution(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    assert_int_equal(commit_ok(f, &(change_t){.base = 0, .adds = first, .nadds = 2}), 1);
    expect_columns(f, "id:1:BIGINT amount:2:DOUBLE");
    static const catalog_snap_file_t more[] = {{K3, 300, 30}};
    assert_int_equal(
        commit_ok(
            f,
            &(change_t){.base = 1, .columns = "id BIGINT, note VARCHAR", .adds = more, .nadds = 1}),
        2);
    assert_int_equal(table_int(f, "schema_version"), 2);
    expect_columns(f, "id:1:BIGINT note:3:VARCHAR");
    json_t *v = NULL;
    assert_int_equal(catalog_table_versions(f->cat, "curated", "sales", "daily", &v, &err), 0);
    json_t *ch = json_object_get(json_array_get(json_object_get(v, "versions"), 1), "changes");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(ch, "added"), 0), "name")),
        "note");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(ch, "removed"), 0), "name")),
                        "amount");
    json_decref(v);
    /* The same columns again: no new version. */
    static const catalog_snap_file_t again[] = {{K4, 10, 1}};
    assert_int_equal(commit_ok(f, &(change_t){.base = 2,
                                              .columns = "id BIGINT, note VARCHAR",
                                              .adds = again,
                                              .nadds = 1}),
                     3);
    assert_int_equal(table_int(f, "schema_version"), 2);

    /* A rollback to snapshot 1 brings its schema back, with its column ids. */
    int64_t snap;
    assert_int_equal(catalog_table_rollback(f->cat, "curated", "sales", "daily", 1, &snap, &err),
                     0);
    assert_int_equal(table_int(f, "schema_version"), 3);
    expect_columns(f, "id:1:BIGINT amount:2:DOUBLE");
    /* Then a new column after all that gets a fresh id. */
    static const catalog_snap_file_t later[] = {{"sales/daily/dt=2024-01-04/p.parquet", 5, 1}};
    static const char *const old[] = {K1, K2};
    assert_int_equal(commit_ok(f, &(change_t){.base = 4,
                                              .operation = "overwrite",
                                              .columns = "id BIGINT, amount DOUBLE, qty INTEGER",
                                              .adds = later,
                                              .nadds = 1,
                                              .removes = old,
                                              .nremoves = 2}),
                     5);
    expect_columns(f, "id:1:BIGINT amount:2:DOUBLE qty:4:INTEGER");
}

/* A crawler's registration of key in zone curated as a Parquet file of one column. */
static void crawl(fixture_t *f, const char *key, uint64_t size, catalog_apply_stats_t *st,
                  bool remove)
{
    tarn_err_t err = {0};
    arena_t *a = arena_create();
    hive_key_t hk;
    assert_int_equal(hive_parse_key(&hk, key, a, &err), 0);
    classify_result_t cls = {.format = "parquet", .options = json_object(), .rows = 5};
    assert_int_equal(schema_add(&cls.schema, "id", "BIGINT", true, 0), 0);
    catalog_file_in_t in = {.zone = "curated",
                            .key = key,
                            .size = size,
                            .etag = "e1",
                            .sha256 = "00",
                            .status = CATALOG_FILE_OK,
                            .hk = &hk,
                            .cls = &cls};
    catalog_file_ref_t ref = {"curated", key};
    if (catalog_files_apply(f->cat, remove ? NULL : &in, remove ? 0 : 1, remove ? &ref : NULL,
                            remove ? 1 : 0, NULL, 0, st, &err))
        fail_msg("apply: %s", err.msg);
    classify_result_free(&cls);
    arena_free(a);
}

static void test_crawler_leaves_managed_tables_alone(void **state)
{
    fixture_t *f = *state;
    catalog_apply_stats_t st;
    assert_int_equal(commit_ok(f, &(change_t){.base = 0, .adds = first, .nadds = 2}), 1);
    /* A file the pipeline wrote but has not committed, and one it did commit. */
    crawl(f, "sales/daily/dt=2024-01-05/uncommitted.parquet", 9, &st, false);
    assert_int_equal(st.registered + st.failed + st.removed + st.tables_changed, 0);
    crawl(f, K1, 999, &st, false);
    assert_int_equal(st.registered + st.failed + st.removed + st.tables_changed, 0);
    crawl(f, K2, 0, &st, true);
    assert_int_equal(st.registered + st.failed + st.removed + st.tables_changed, 0);
    assert_int_equal(table_int(f, "files"), 2);
    assert_int_equal(table_int(f, "bytes"), 300);
    assert_int_equal(table_int(f, "snapshot"), 1);
    expect_keys(f, 0, K1 " " K2);
    /* A crawl need not even read them. */
    assert_true(catalog_file_unchanged(f->cat, "curated", K1, 12345, "other"));
    assert_true(catalog_file_unchanged(f->cat, "curated",
                                       "sales/daily/dt=2024-01-05/uncommitted.parquet", 9, "e"));
    /* Other tables are crawled as ever. */
    assert_false(catalog_file_unchanged(f->cat, "curated", "sales/other/a.parquet", 9, "e1"));
    crawl(f, "sales/other/a.parquet", 9, &st, false);
    assert_int_equal(st.registered, 1);
    assert_true(catalog_file_unchanged(f->cat, "curated", "sales/other/a.parquet", 9, "e1"));
}

static void expect_cell(const engine_cell_t *c, const char *want)
{
    if (!c->data || c->len != strlen(want) || memcmp(c->data, want, c->len))
        fail_msg("cell [%.*s], wanted [%s]", c->data ? (int)c->len : 4, c->data ? c->data : "NULL",
                 want);
}

/* A managed table reads through a query session's view: its live files with their
 * partition column, cast to the table's schema. */
static void test_session_reads_managed_table(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    char objects[128], sql[512];
    snprintf(objects, sizeof objects, "%s/objects", f->dir);
    const char *dirs[] = {objects, NULL};
    engine_t *e = NULL;
    engine_conn_t *ec = NULL;
    assert_int_equal(fs_mkdir_p(objects, 0700, &err), 0);
    assert_int_equal(engine_open(&e, &(engine_opts_t){.dirs = dirs, .threads = 1}, &err), 0);
    assert_int_equal(engine_connect(e, &ec, &err), 0);
    const char *keys[] = {K1, K2, K4};
    catalog_snap_file_t files[3];
    for (int i = 0; i < 3; i++) {
        char path[256], dir[256];
        snprintf(path, sizeof path, "%s/curated/%s", objects, keys[i]);
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = '\0';
        assert_int_equal(fs_mkdir_p(dir, 0700, &err), 0);
        snprintf(sql, sizeof sql,
                 "COPY (SELECT range + %d AS id, 1.5 AS amount, {'a': range} AS s FROM range(%d))"
                 " TO '%s'"
                 " (FORMAT parquet)",
                 10 * i, i + 1, path);
        int64_t n = 0;
        if (engine_exec(ec, sql, NULL, &n, &err))
            fail_msg("%s: %s", sql, err.msg);
        files[i] = (catalog_snap_file_t){keys[i], 100, n};
    }
    engine_disconnect(ec);
    assert_int_equal(
        commit_ok(f, &(change_t){.base = 0,
                                 .columns = "id BIGINT, amount DOUBLE, s STRUCT(a BIGINT)",
                                 .adds = files,
                                 .nadds = 2}),
        1);
    static const char *const both[] = {K1, K2};
    assert_int_equal(
        commit_ok(f, &(change_t){.base = 1,
                                 .operation = "overwrite",
                                 .columns = "id BIGINT, amount DOUBLE, s STRUCT(a BIGINT)",
                                 .adds = files + 2,
                                 .nadds = 1,
                                 .removes = both,
                                 .nremoves = 2}),
        2);
    static const authz_principal_t admin = {.name = "admin", .admin = true};
    session_t *s = NULL;
    assert_int_equal(session_open(&s, e, f->cat, objects, &admin, &err), 0);
    json_t *cols = NULL;
    rowenc_t *st = NULL;
    if (session_query(
            s, "SELECT count(*), sum(amount), min(dt)::VARCHAR, sum(s['a']) FROM sales.daily", NULL,
            ROWENC_JSON, &cols, &st, &err))
        fail_msg("query: %s", err.msg);
    const engine_cell_t *cells;
    size_t n = 0;
    assert_int_equal(rowenc_next(st, &cells, &n, &err), 0);
    assert_int_equal(n, 1);
    expect_cell(&cells[0], "[3,4.5,\"2024-01-03\",3]");
    rowenc_close(st);
    json_decref(cols);
    /* After a rollback the view reads snapshot 1's files again. */
    int64_t snap;
    assert_int_equal(catalog_table_rollback(f->cat, "curated", "sales", "daily", 1, &snap, &err),
                     0);
    if (session_query(s, "SELECT count(*), min(dt)::VARCHAR FROM sales.daily", NULL,
                      ROWENC_JSON, &cols, &st, &err))
        fail_msg("query: %s", err.msg);
    assert_int_equal(rowenc_next(st, &cells, &n, &err), 0);
    assert_int_equal(n, 1);
    expect_cell(&cells[0], "[3,\"2024-01-01\"]");
    rowenc_close(st);
    json_decref(cols);
    session_close(s);
    engine_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_creates_managed_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_overwrite_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_evolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crawler_leaves_managed_tables_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_reads_managed_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
