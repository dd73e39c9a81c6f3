/* Unit tests of catalog watches (db_watch): a commit that changed a watched table calls
 * its watch once, after the commit; rollbacks, empty transactions and other tables do
 * not; a watch of every commit; the shared writer connection; removing a watch; WITHOUT
 * ROWID tables refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/db.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    int calls;
    db_t *db;
    int rows_seen; /* rows of t visible from another connection when called */
} seen_t;

static void count(void *ctx)
{
    ((seen_t *)ctx)->calls++;
}

typedef struct {
    char dir[32];
    db_t *db;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/tarn-db-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[64];
    snprintf(path, sizeof path, "%s/tarn.db", f->dir);
    tarn_err_t err = {0};
    assert_int_equal(db_open(&f->db, path, &err), 0);
    assert_int_equal(db_exec(f->db, "CREATE TABLE t(x); CREATE TABLE u(x)", &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    db_close(f->db);
    fs_remove_tree(f->dir);
    free(f);
    return 0;
}

static void test_watch_table(void **state)
{
    fixture_t *f = *state;
    seen_t t = {0}, any = {0};
    int ht = db_watch(f->db, "t", count, &t);
    int ha = db_watch(f->db, NULL, count, &any);
    assert_true(ht >= 0 && ha >= 0 && ht != ha);
    assert_int_equal(db_exec(f->db, "INSERT INTO t VALUES(1)", NULL), 0);
    assert_int_equal(t.calls, 1);
    assert_int_equal(any.calls, 1);
    /* Several rows in one transaction: one call. */
    assert_int_equal(db_exec(f->db, "BEGIN; INSERT INTO t VALUES(2); UPDATE t SET x = x + 1;"
                                    " DELETE FROM t WHERE x = 2; COMMIT",
                             NULL),
                     0);
    assert_int_equal(t.calls, 2);
    /* Another table: only the watch of every commit. */
    assert_int_equal(db_exec(f->db, "INSERT INTO u VALUES(1)", NULL), 0);
    assert_int_equal(t.calls, 2);
    assert_int_equal(any.calls, 3);
    /* A rollback, and a transaction that changes nothing: no call. */
    assert_int_equal(db_exec(f->db, "BEGIN; INSERT INTO t VALUES(9); ROLLBACK", NULL), 0);
    assert_int_equal(db_exec(f->db, "BEGIN IMMEDIATE; SELECT * FROM t; COMMIT", NULL), 0);
    assert_int_equal(db_exec(f->db, "UPDATE t SET x = 0 WHERE x = 12345", NULL), 0);
    assert_int_equal(t.calls, 2);
    assert_int_equal(any.calls, 3);
    /* The shared writer connection is watched too. */
    assert_int_equal(db_write_begin(f->db), 0);
    assert_int_equal(db_exec(f->db, "INSERT INTO t VALUES(3)", NULL), 0);
    db_write_end(f->db);
    assert_int_equal(t.calls, 3);
    /* Removed: never called again; its slot serves the next watch. */
    db_unwatch(f->db, ht);
    db_unwatch(f->db, -1);
    assert_int_equal(db_exec(f->db, "INSERT INTO t VALUES(4)", NULL), 0);
    assert_int_equal(t.calls, 3);
    assert_int_equal(any.calls, 5);
    seen_t u = {0};
    assert_int_equal(db_watch(f->db, "u", count, &u), ht);
    assert_int_equal(db_exec(f->db, "INSERT INTO t VALUES(5)", NULL), 0);
    assert_int_equal(u.calls, 0);
    assert_int_equal(db_exec(f->db, "INSERT INTO u VALUES(5)", NULL), 0);
    assert_int_equal(u.calls, 1);
    db_unwatch(f->db, ha);
}

/* The watch runs once the commit is visible to other connections. */
static void *count_rows(void *p)
{
    seen_t *s = p;
    sqlite3_stmt *st;
    if (!db_prepare(s->db, &st, "SELECT count(*) FROM t", NULL)) {
        if (sqlite3_step(st) == SQLITE_ROW)
            s->rows_seen = sqlite3_column_int(st, 0);
        db_done(s->db, st);
    }
    return NULL;
}

static void look_from_another_thread(void *ctx)
{
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, count_rows, ctx), 0);
    pthread_join(th, NULL);
}

static void test_watch_after_commit(void **state)
{
    fixture_t *f = *state;
    seen_t s = {.db = f->db};
    int h = db_watch(f->db, "t", look_from_another_thread, &s);
    assert_int_equal(db_exec(f->db, "BEGIN; INSERT INTO t VALUES(1); INSERT INTO t VALUES(2);"
                                    " COMMIT",
                             NULL),
                     0);
    assert_int_equal(s.rows_seen, 2);
    db_unwatch(f->db, h);
}

/* The update hook never reports WITHOUT ROWID tables: watching one is refused. */
static void test_without_rowid_refused(void **state)
{
    fixture_t *f = *state;
    seen_t s = {0};
    assert_int_equal(db_exec(f->db, "CREATE TABLE w(k TEXT PRIMARY KEY) WITHOUT ROWID", NULL), 0);
    assert_int_equal(db_watch(f->db, "w", count, &s), TARN_EINVAL);
    int h = db_watch(f->db, "not_yet_created", count, &s);
    assert_true(h >= 0);
    db_unwatch(f->db, h);
}

static void test_watch_slots_run_out(void **state)
{
    fixture_t *f = *state;
    seen_t s = {0};
    int h[DB_WATCH_MAX];
    for (int i = 0; i < DB_WATCH_MAX; i++)
        assert_true((h[i] = db_watch(f->db, "t", count, &s)) >= 0);
    assert_int_equal(db_watch(f->db, "t", count, &s), TARN_ENOMEM);
    assert_int_equal(db_exec(f->db, "INSERT INTO t VALUES(1)", NULL), 0);
    assert_int_equal(s.calls, DB_WATCH_MAX);
    for (int i = 0; i < DB_WATCH_MAX; i++)
        db_unwatch(f->db, h[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watch_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_after_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_rowid_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_slots_run_out, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
