/* Unit tests for the engine's confinement and limits: statements read and write only in
 * the folders named at open, even after trying to widen them; engine_exec binds params
 * and counts what a COPY wrote; the memory limit set at open holds, and running out of it
 * is an error of its own kind, not a syntax or type error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "util/fs.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char root[64];
    char read_dir[128], write_dir[128], spill_dir[128], outside[128];
    engine_t *e;
    engine_conn_t *c;
} fixture_t;

/* An engine confined to root/in and root/out, spilling to root/spill, with at most
 * memory_limit bytes. */
static int open_engine(void **state, uint64_t memory_limit)
{
    fixture_t *f = calloc(1, sizeof *f);
    tarn_err_t err = {0};
    if (!f)
        return -1;
    snprintf(f->root, sizeof f->root, "/tmp/tarn-engine-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->read_dir, sizeof f->read_dir, "%s/in", f->root);
    snprintf(f->write_dir, sizeof f->write_dir, "%s/out", f->root);
    snprintf(f->spill_dir, sizeof f->spill_dir, "%s/spill", f->root);
    snprintf(f->outside, sizeof f->outside, "%s/outside", f->root);
    const char *dirs[] = {f->read_dir, f->write_dir, NULL};
    engine_opts_t o = {.dirs = dirs, .threads = 2, .memory_limit = memory_limit,
                       .spill_dir = f->spill_dir};
    if (fs_mkdir_p(f->read_dir, 0700, &err) || fs_mkdir_p(f->write_dir, 0700, &err) ||
        fs_mkdir_p(f->outside, 0700, &err) || engine_open(&f->e, &o, &err) ||
        engine_connect(f->e, &f->c, &err)) {
        fprintf(stderr, "engine: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return open_engine(state, 0);
}

static int setup_small(void **state)
{
    return open_engine(state, 64u << 20);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    engine_disconnect(f->c);
    engine_close(f->e);
    fs_remove_tree(f->root);
    free(f);
    return 0;
}

static void test_writes_only_in_its_folders(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    int64_t n = -1;
    char sql[512], path[256];
    json_t *params = json_pack("[i]", 90);
    snprintf(path, sizeof path, "%s/a.parquet", f->write_dir);
    snprintf(sql, sizeof sql,
             "COPY (SELECT range AS x FROM range(100) WHERE range >= $1) TO '%s' "
             "(FORMAT parquet, COMPRESSION zstd)",
             path);
    assert_int_equal(engine_exec(f->c, sql, params, &n, &err), 0);
    assert_int_equal(n, 10);
    assert_true(fs_exists(path));
    /* Read back through the same engine: the types survive. */
    arena_t *a = arena_create();
    engine_rows_t r;
    snprintf(sql, sizeof sql, "SELECT typeof(x), min(x) FROM read_parquet('%s') GROUP BY 1",
             path);
    assert_int_equal(engine_query(f->c, sql, 10, &r, a, &err), 0);
    assert_string_equal(r.cells[0], "BIGINT");
    assert_string_equal(r.cells[1], "90");
    /* A folder it was not given is refused, for writing and reading alike. */
    snprintf(sql, sizeof sql, "COPY (SELECT 1) TO '%s/b.parquet' (FORMAT parquet)", f->outside);
    assert_int_equal(engine_exec(f->c, sql, NULL, &n, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "Permission"));
    snprintf(sql, sizeof sql, "COPY (SELECT 1) TO '%s-x/b.parquet' (FORMAT parquet)",
             f->write_dir);
    assert_int_equal(engine_exec(f->c, sql, NULL, &n, &err), TARN_EINVAL);
    /* Nor can a statement widen what it was given. */
    assert_int_equal(engine_exec(f->c, "SET allowed_directories = ['/']", NULL, &n, &err),
                     TARN_EINVAL);
    assert_int_equal(engine_exec(f->c, "SET enable_external_access = true", NULL, &n, &err),
                     TARN_EINVAL);
    /* Params must match the statement's. */
    assert_int_equal(engine_exec(f->c, "SELECT $1", NULL, &n, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "1 parameter"));
    arena_free(a);
    json_decref(params);
}

static void test_memory_limit_and_out_of_memory(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    int64_t n = 0;
    uint64_t limit = engine_memory_limit(f->e);
    /* 64 MiB, as DuckDB spells it back. */
    assert_true(limit == 64u << 20);
    assert_int_equal(engine_exec(f->c, "SELECT count(*) FROM range(1000)", NULL, &n, &err), 0);
    assert_int_equal(n, 1000);
    /* One list of 50 million numbers cannot spill: it needs far more than the limit. */
    memset(&err, 0, sizeof err);
    assert_int_equal(engine_exec(f->c,
                                 "SELECT max(len(l)) FROM (SELECT list(range) AS l "
                                 "FROM range(50000000))",
                                 NULL, &n, &err),
                     TARN_ENOMEM);
    assert_string_equal(tarn_reason_name(err.reason), "QueryOutOfMemory");
    assert_non_null(strstr(err.msg, "Out of Memory"));
}

static void test_default_memory_limit(void **state)
{
    fixture_t *f = *state;
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    uint64_t ram = (uint64_t)pages * (uint64_t)size, limit = engine_memory_limit(f->e);
    /* DuckDB's default: 80% of the RAM (less inside a smaller cgroup). */
    assert_true(limit > 0 && limit <= ram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writes_only_in_its_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit_and_out_of_memory, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_default_memory_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
