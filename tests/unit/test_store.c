/* Unit tests of the object store: key and bucket-name validation, atomic writes, reads,
 * overwrites, deletes, listing with delimiters, multipart stitching, and recovery of a
 * commit interrupted between its intent row and the index row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "storage/keys.h"
#include "storage/multipart.h"
#include "storage/store.h"
#include "storage/store_internal.h"
#include "util/fs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    db_t *db;
    store_t *s;
    arena_t *a;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/tarn-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    tarn_err_t err = {0};
    char path[128];
    snprintf(path, sizeof path, "%s/tarn.db", f->dir);
    assert_int_equal(db_open(&f->db, path, &err), 0);
    assert_int_equal(store_open(&f->s, f->dir, f->db, &err), 0);
    f->a = arena_create();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    store_close(f->s);
    db_close(f->db);
    arena_free(f->a);
    fs_remove_tree(f->dir);
    free(f);
    return 0;
}

static int put(fixture_t *f, const char *bucket, const char *key, const char *data,
               store_object_t *out, tarn_err_t *err)
{
    store_writer_t *w;
    int rc = store_writer_begin(&w, f->s, HASH_MD5, err);
    if (rc)
        return rc;
    if ((rc = store_writer_write(w, data, strlen(data), err))) {
        store_writer_abort(w);
        return rc;
    }
    return store_writer_commit(w, bucket, key, NULL, out, f->a, err);
}

static char *read_object(fixture_t *f, const char *bucket, const char *key)
{
    store_object_t o;
    int fd;
    tarn_err_t err = {0};
    if (store_object_open(f->s, bucket, key, &o, &fd, f->a, &err))
        return NULL;
    char *buf = arena_alloc(f->a, o.size + 1);
    if (fd >= 0) {
        assert_int_equal(read(fd, buf, o.size), (ssize_t)o.size);
        close(fd);
    }
    return buf;
}

/* A second name for an object's bytes (promotion) and a staged file adopted as an object
 * (pipeline outputs): neither copies, both keep the digests, and the source is untouched
 * by a later overwrite or removal. */
static void test_link_and_adopt(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    store_object_t o, l;
    assert_int_equal(put(f, "raw", "db/t/a.csv", "hello", &o, &err), 0);
    int fd;
    assert_int_equal(store_object_open(f->s, "raw", "db/t/a.csv", &o, &fd, f->a, &err), 0);
    store_writer_t *w;
    assert_int_equal(store_writer_link(&w, f->s, fd, &o, &err), 0);
    close(fd);
    assert_int_equal(store_writer_commit(w, "cleaned", "db/t/a.csv", NULL, &l, f->a, &err), 0);
    assert_string_equal(l.etag, "5d41402abc4b2a76b9719d911017c592");
    assert_memory_equal(l.sha256, o.sha256, 32);
    /* Overwriting or removing the source leaves the second name's bytes alone. */
    assert_int_equal(put(f, "raw", "db/t/a.csv", "later", NULL, &err), 0);
    assert_string_equal(read_object(f, "cleaned", "db/t/a.csv"), "hello");
    assert_int_equal(store_object_delete(f->s, "raw", "db/t/a.csv", NULL, &err), 0);
    assert_string_equal(read_object(f, "cleaned", "db/t/a.csv"), "hello");
    /* Bytes that lost every name since they were opened cannot get one back. */
    assert_int_equal(put(f, "raw", "db/t/b.csv", "gone", &o, &err), 0);
    assert_int_equal(store_object_open(f->s, "raw", "db/t/b.csv", &o, &fd, f->a, &err), 0);
    assert_int_equal(store_object_delete(f->s, "raw", "db/t/b.csv", NULL, &err), 0);
    assert_int_equal(store_writer_link(&w, f->s, fd, &o, &err), 0);
    close(fd);
    assert_int_equal(store_writer_commit(w, "cleaned", "db/t/b.csv", NULL, &l, f->a, &err), TARN_EIO);
    assert_int_equal(store_writer_link(&w, f->s, -1, &o, &err), TARN_EIO);

    char staged[128];
    snprintf(staged, sizeof staged, "%s/tmp/staged.bin", f->dir);
    assert_int_equal(fs_write_atomic(staged, "world!", 6, 0600, &err), 0);
    assert_int_equal(store_writer_adopt(&w, f->s, staged, &err), 0);
    assert_int_equal(store_writer_commit(w, "curated", "db/t/p.parquet", NULL, &l, f->a, &err), 0);
    assert_int_equal(l.size, 6);
    uint8_t want[32];
    hash_sha256(want, "world!", 6);
    assert_memory_equal(l.sha256, want, 32);
    assert_false(fs_exists(staged)); /* renamed into place */
    assert_string_equal(read_object(f, "curated", "db/t/p.parquet"), "world!");
    assert_int_equal(store_writer_adopt(&w, f->s, staged, &err), TARN_EIO);
}

static void test_key_validation(void **state)
{
    (void)state;
    tarn_err_t err = {0};
    assert_int_equal(store_check_key("sales/orders/dt=2026-11-25/a.csv", &err), 0);
    assert_int_equal(store_check_key("folder/", &err), 0);
    assert_int_equal(store_check_key("ünïcode/ключ.csv", &err), 0);
    const char *bad[] = {"", "../x", "a/../../b", "a//b", "./a", "a/./b", "/abs", "a/..",
                         "nul\x01", "bad\xff.utf8"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(store_check_key(bad[i], &err), TARN_EINVAL);
        assert_int_not_equal(err.reason, TARN_R_NONE);
    }
    char longkey[1100];
    memset(longkey, 'a', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    for (size_t i = 100; i < sizeof longkey - 1; i += 100)
        longkey[i] = '/';
    assert_int_equal(store_check_key(longkey, &err), TARN_EINVAL);
    assert_string_equal(tarn_reason_name(err.reason), "KeyTooLongError");
    char seg[300];
    memset(seg, 'b', sizeof seg - 1);
    seg[sizeof seg - 1] = '\0';
    assert_int_equal(store_check_key(seg, &err), TARN_EINVAL);
}

static void test_bucket_names(void **state)
{
    (void)state;
    tarn_err_t err = {0};
    assert_int_equal(store_check_bucket_name("my-bucket.1", &err), 0);
    const char *bad[] = {"ab", "UPPER", "-start", "end-", "a..b", "192.168.1.1", "xn--abc",
                         "under_score"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(store_check_bucket_name(bad[i], &err), TARN_EINVAL);
    assert_true(store_is_zone("raw") && store_is_zone("quarantine") && !store_is_zone("scratch"));
}

static void test_put_get_overwrite_delete(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    store_object_t o;
    assert_int_equal(put(f, "raw", "db/t/a.csv", "hello", &o, &err), 0);
    assert_string_equal(o.etag, "5d41402abc4b2a76b9719d911017c592"); /* md5("hello") */
    assert_int_equal(o.size, 5);
    assert_string_equal(read_object(f, "raw", "db/t/a.csv"), "hello");
    store_object_t h;
    assert_int_equal(store_object_head(f->s, "raw", "db/t/a.csv", &h, f->a, &err), 0);
    uint8_t want[32];
    hash_md5(want, "hello", 5);
    assert_memory_equal(h.md5, want, 16);
    hash_sha256(want, "hello", 5);
    assert_memory_equal(h.sha256, want, 32);
    assert_int_equal(put(f, "raw", "db/t/a.csv", "world!", &o, &err), 0);
    assert_string_equal(read_object(f, "raw", "db/t/a.csv"), "world!");
    /* The bytes sit at the documented path, and no temporary name is left beside them. */
    char p[256];
    snprintf(p, sizeof p, "%s/objects/raw/db/t/a.csv", f->dir);
    assert_true(fs_exists(p));
    assert_int_equal(store_object_delete(f->s, "raw", "db/t/a.csv", NULL, &err), 0);
    assert_false(fs_exists(p));
    assert_int_equal(store_object_head(f->s, "raw", "db/t/a.csv", &o, f->a, &err), TARN_ENOTFOUND);
    assert_string_equal(tarn_reason_name(err.reason), "NoSuchKey");
    /* Deleting what is not there is fine, as in S3. */
    assert_int_equal(store_object_delete(f->s, "raw", "db/t/a.csv", NULL, &err), 0);
}

static void test_aborted_write_leaves_nothing(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    store_writer_t *w;
    assert_int_equal(store_writer_begin(&w, f->s, HASH_MD5, &err), 0);
    assert_int_equal(store_writer_write(w, "partial", 7, &err), 0);
    store_writer_abort(w);
    store_object_t o;
    assert_int_equal(store_object_head(f->s, "raw", "x", &o, f->a, &err), TARN_ENOTFOUND);
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/tmp", f->dir);
    int n = 0;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "find %s -type f | wc -l", tmp);
    FILE *pf = popen(cmd, "r");
    assert_int_equal(fscanf(pf, "%d", &n), 1);
    pclose(pf);
    assert_int_equal(n, 0);
}

static void test_key_folder_conflict(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    assert_int_equal(put(f, "raw", "k", "file", NULL, &err), 0);
    assert_int_equal(put(f, "raw", "k/child", "x", NULL, &err), TARN_ECONFLICT);
    assert_int_equal(put(f, "raw", "d/child", "x", NULL, &err), 0);
    assert_int_equal(put(f, "raw", "d", "x", NULL, &err), TARN_ECONFLICT);
    assert_string_equal(read_object(f, "raw", "k"), "file");
}

typedef struct {
    char out[2048];
} listing_t;

static int collect(void *ctx, const store_entry_t *e)
{
    listing_t *l = ctx;
    strcat(l->out, e->is_prefix ? "P:" : "K:");
    strcat(l->out, e->key);
    strcat(l->out, " ");
    return 0;
}

static void test_list_delimiter_and_pages(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    const char *keys[] = {"a/1", "a/2", "b/x/1", "b/y", "c", "c-d", "c.e"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_int_equal(put(f, "raw", keys[i], "v", NULL, &err), 0);
    listing_t l = {""};
    bool trunc;
    const char *last;
    store_list_opts_t o = {NULL, "/", NULL, 1000};
    assert_int_equal(store_list(f->s, "raw", &o, collect, &l, &trunc, &last, f->a, &err), 0);
    assert_string_equal(l.out, "P:a/ P:b/ K:c K:c-d K:c.e ");
    assert_false(trunc);
    /* Pages of 2 continue after a common prefix without repeating it. */
    o = (store_list_opts_t){NULL, "/", NULL, 2};
    memset(&l, 0, sizeof l);
    assert_int_equal(store_list(f->s, "raw", &o, collect, &l, &trunc, &last, f->a, &err), 0);
    assert_string_equal(l.out, "P:a/ P:b/ ");
    assert_true(trunc);
    o.start_after = last;
    memset(&l, 0, sizeof l);
    assert_int_equal(store_list(f->s, "raw", &o, collect, &l, &trunc, &last, f->a, &err), 0);
    assert_string_equal(l.out, "K:c K:c-d ");
    o = (store_list_opts_t){"b/", "/", NULL, 10};
    memset(&l, 0, sizeof l);
    assert_int_equal(store_list(f->s, "raw", &o, collect, &l, &trunc, &last, f->a, &err), 0);
    assert_string_equal(l.out, "P:b/x/ K:b/y ");
}

static void test_multipart(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    const char *id;
    assert_int_equal(store_mpu_create(f->s, "raw", "big.bin", NULL, &id, f->a, &err), 0);
    size_t n1 = STORE_PART_MIN;
    char *p1 = malloc(n1);
    memset(p1, 'a', n1);
    store_part_t parts[2];
    for (int i = 0; i < 2; i++) {
        store_writer_t *w;
        assert_int_equal(store_writer_begin(&w, f->s, HASH_MD5, &err), 0);
        assert_int_equal(store_writer_write(w, i ? "tail" : p1, i ? 4 : n1, &err), 0);
        assert_int_equal(store_mpu_put_part(f->s, id, i + 1, w, &parts[i], &err), 0);
    }
    store_part_ref_t wrong[2] = {{2, parts[1].etag}, {1, parts[0].etag}};
    store_object_t o;
    assert_int_equal(store_mpu_complete(f->s, "raw", "big.bin", id, wrong, 2, NULL, &o, NULL,
                                        NULL, f->a, &err),
                     TARN_EINVAL);
    assert_string_equal(tarn_reason_name(err.reason), "InvalidPartOrder");
    store_part_ref_t refs[2] = {{1, parts[0].etag}, {2, parts[1].etag}};
    assert_int_equal(store_mpu_complete(f->s, "raw", "big.bin", id, refs, 2, NULL, &o, NULL,
                                        NULL, f->a, &err),
                     0);
    assert_int_equal(o.size, n1 + 4);
    assert_non_null(strstr(o.etag, "-2"));
    /* The whole object's MD5 is kept too, though the ETag is not one. */
    char *all = malloc(n1 + 4);
    memcpy(all, p1, n1);
    memcpy(all + n1, "tail", 4);
    uint8_t md5[16];
    hash_md5(md5, all, n1 + 4);
    free(all);
    store_object_t h;
    assert_int_equal(store_object_head(f->s, "raw", "big.bin", &h, f->a, &err), 0);
    assert_memory_equal(h.md5, md5, 16);
    uint64_t off, len;
    assert_int_equal(store_object_part_range(&o, 2, &off, &len, &err), 0);
    assert_int_equal(off, n1);
    assert_int_equal(len, 4);
    store_upload_t u;
    assert_int_equal(store_mpu_get(f->s, "raw", "big.bin", id, &u, f->a, &err), TARN_ENOTFOUND);
    free(p1);
}

/* A crash after the rename but before the index row: reopening finishes the commit. A
 * crash before the rename: reopening forgets it and removes the staged bytes. A power
 * failure that lost the rename and the hidden name: the bytes at the key are not the
 * intent's, so it is forgotten and the old object stays as indexed. */
static void test_recovery_of_intents(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    char path[256], staged[256];
    snprintf(path, sizeof path, "%s/objects/raw/rec/done.csv", f->dir);
    snprintf(staged, sizeof staged, "%s/objects/raw/rec/.tarn-1-1.tmp", f->dir);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/objects/raw/rec", f->dir);
    assert_int_equal(fs_mkdir_p(dir, 0750, &err), 0);
    assert_int_equal(fs_write_atomic(path, "renamed", 7, 0640, &err), 0);
    assert_int_equal(fs_write_atomic(staged, "staged", 6, 0640, &err), 0);
    char lost[256];
    snprintf(lost, sizeof lost, "%s/objects/raw/rec/old.csv", f->dir);
    assert_int_equal(fs_write_atomic(lost, "old bytes", 9, 0640, &err), 0);
    uint8_t sha[32];
    char renamed_sha[65], new_sha[65];
    hash_sha256(sha, "renamed", 7);
    hash_hex(renamed_sha, sha, 32);
    hash_sha256(sha, "new bytes", 9);
    hash_hex(new_sha, sha, 32);
    char sql[2048];
    snprintf(sql, sizeof sql,
             "INSERT INTO objects(bucket, key, size, etag, sha256, mtime_ms) VALUES"
             "('raw', 'rec/old.csv', 9, 'old', '00', 1);"
             "INSERT INTO object_intents(tmp, bucket, key, size, etag, sha256, mtime_ms) VALUES"
             "('%s/objects/raw/rec/.gone', 'raw', 'rec/done.csv', 7, 'e1', '%s', 1),"
             "('%s', 'raw', 'rec/never.csv', 6, 'e2', '00', 1),"
             "('%s/objects/raw/rec/.lost', 'raw', 'rec/old.csv', 9, 'e3', '%s', 1)",
             f->dir, renamed_sha, staged, f->dir, new_sha);
    assert_int_equal(db_exec(f->s->db, sql, &err), 0);
    store_close(f->s);
    assert_int_equal(store_open(&f->s, f->dir, f->db, &err), 0);
    store_object_t o;
    assert_int_equal(store_object_head(f->s, "raw", "rec/done.csv", &o, f->a, &err), 0);
    assert_string_equal(o.etag, "e1");
    assert_int_equal(store_object_head(f->s, "raw", "rec/never.csv", &o, f->a, &err),
                     TARN_ENOTFOUND);
    assert_false(fs_exists(staged));
    assert_int_equal(store_object_head(f->s, "raw", "rec/old.csv", &o, f->a, &err), 0);
    assert_string_equal(o.etag, "old");
    sqlite3_stmt *st;
    assert_int_equal(db_prepare(f->s->db, &st, "SELECT count(*) FROM object_intents", &err), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    db_done(f->s->db, st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_validation),
        cmocka_unit_test(test_bucket_names),
        cmocka_unit_test_setup_teardown(test_put_get_overwrite_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aborted_write_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_folder_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_delimiter_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_of_intents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_and_adopt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
