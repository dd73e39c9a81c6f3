/* Unit tests for the hash-chained audit log: appends across segments, crash recovery,
 * torn lines, recovery of crash damage (zeroed ranges) and the gaps verify reports,
 * tamper detection (every single-byte flip, deleted lines and segments), concurrent
 * appenders, tail, and field escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "govern/audit.h"
#include "govern/keyring.h"
#include "util/fs.h"

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char root[64];
    char keys[128];
    char dir[128];
    keyring_t *kr;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tarn_err_t err = {0};
    strcpy(f->root, "/tmp/tarn-test-audit-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->keys, sizeof f->keys, "%s/keys", f->root);
    snprintf(f->dir, sizeof f->dir, "%s/audit", f->root);
    assert_int_equal(keyring_create(f->keys, &err), 0);
    assert_int_equal(keyring_open(&f->kr, f->keys, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    keyring_free(f->kr);
    fs_remove_tree(f->root);
    free(f);
    return 0;
}

static void append_n(audit_t *a, int from, int n)
{
    tarn_err_t err = {0};
    char rid[32], res[64];
    for (int i = from; i < from + n; i++) {
        snprintf(rid, sizeof rid, "req-%d", i);
        snprintf(res, sizeof res, "raw/sales/orders-%d.csv", i);
        audit_record_t r = {.time_ms = 1795632990123 + i, .request_id = rid,
                            .principal = i % 3 ? "alice" : NULL, .source = "127.0.0.1:5000",
                            .action = "s3:PutObject", .resource = res,
                            .outcome = i % 5 ? "allow" : "deny",
                            .reason = i % 5 ? NULL : "no grant", .status = i % 5 ? 200 : 403,
                            .bytes_in = (uint64_t)i * 10, .bytes_out = 0};
        assert_int_equal(audit_append(a, &r, &err), 0);
    }
}

/* Writes `count` records with the given segment limit and closes (all sealed). */
static void make_log(fixture_t *f, int count, uint64_t limit)
{
    audit_t *a = NULL;
    tarn_err_t err = {0};
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    audit_set_segment_limit(a, limit);
    append_n(a, 1, count);
    audit_close(a);
}

static void seg_path(char *out, size_t cap, const fixture_t *f, int seg)
{
    snprintf(out, cap, "%s/seg-%06d.jsonl", f->dir, seg);
}

static void read_seg(const fixture_t *f, int seg, buf_t *b)
{
    char path[PATH_MAX];
    tarn_err_t err = {0};
    seg_path(path, sizeof path, f, seg);
    buf_reset(b);
    assert_int_equal(fs_read_all(path, b, &err), 0);
}

static void write_seg(const fixture_t *f, int seg, const void *p, size_t n)
{
    char path[PATH_MAX];
    seg_path(path, sizeof path, f, seg);
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(fs_write_full(fd, p, n), 0);
    close(fd);
}

/* Offset of the start of 1-based line `line` in b. */
static size_t line_off(const buf_t *b, int line)
{
    size_t off = 0;
    for (int i = 1; i < line; i++) {
        const char *nl = memchr(b->data + off, '\n', b->len - off);
        assert_non_null(nl);
        off = (size_t)(nl - b->data) + 1;
    }
    return off;
}

static int count_lines(const buf_t *b)
{
    int n = 0;
    for (size_t i = 0; i < b->len; i++)
        n += b->data[i] == '\n';
    return n;
}

static int verify(fixture_t *f, audit_verify_report_t *rep, tarn_err_t *err)
{
    memset(err, 0, sizeof *err);
    return audit_verify(f->dir, f->kr, rep, err);
}

/* Flips one byte at off of segment seg; verification must fail with msg containing want. */
static void expect_flip(fixture_t *f, int seg, size_t off, const char *want)
{
    buf_t b = BUF_INIT;
    audit_verify_report_t rep;
    tarn_err_t err;
    read_seg(f, seg, &b);
    assert_true(off < b.len);
    b.data[off] ^= 0x01;
    write_seg(f, seg, b.data, b.len);
    assert_int_equal(verify(f, &rep, &err), TARN_ECONFLICT);
    if (want && !strstr(rep.first_bad, want))
        fail_msg("flip at %zu: got \"%s\", want \"%s\"", off, rep.first_bad, want);
    assert_string_equal(rep.first_bad, err.msg);
    b.data[off] ^= 0x01;
    write_seg(f, seg, b.data, b.len);
    buf_free(&b);
}

typedef struct {
    int n;
    int64_t seqs[4096];
    char last[16384];
} tail_ctx_t;

static int tail_cb(void *ctx, const char *line)
{
    tail_ctx_t *t = ctx;
    json_error_t jerr;
    json_t *o = json_loads(line, 0, &jerr);
    assert_non_null(o);
    assert_true(t->n < 4096);
    t->seqs[t->n++] = json_integer_value(json_object_get(o, "seq"));
    snprintf(t->last, sizeof t->last, "%s", line);
    json_decref(o);
    return 0;
}

static void test_basic(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err;
    buf_t b = BUF_INIT;
    make_log(f, 10, 0);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 10);
    assert_int_equal(rep.segments, 1);
    assert_string_equal(rep.first_bad, "");

    read_seg(f, 1, &b);
    assert_int_equal(count_lines(&b), 11);
    const char *first = "{\"seq\":1,\"time\":\"2026-11-25T18:56:30.124Z\",\"request_id\":"
                        "\"req-1\",\"principal\":\"alice\",\"source\":\"127.0.0.1:5000\","
                        "\"action\":\"s3:PutObject\",\"resource\":\"raw/sales/orders-1.csv\","
                        "\"outcome\":\"allow\",\"reason\":null,\"status\":200,\"bytes_in\":10,"
                        "\"bytes_out\":0,\"prev\":\"00000000000000000000000000000000000000000000"
                        "00000000000000000000\",\"hash\":\"";
    assert_true(strncmp(b.data, first, strlen(first)) == 0);
    assert_non_null(strstr(b.data, "\"principal\":\"anonymous\""));
    assert_non_null(strstr(b.data, "\"reason\":\"no grant\""));
    size_t last = line_off(&b, 11);
    assert_true(strncmp(b.data + last, "{\"type\":\"digest\",\"segment\":1,\"first_seq\":1,"
                                       "\"last_seq\":10,\"count\":10,\"last_hash\":\"", 79) == 0);

    /* The file mode is private. */
    struct stat st;
    char path[PATH_MAX];
    seg_path(path, sizeof path, f, 1);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    tail_ctx_t *t = calloc(1, sizeof *t);
    assert_int_equal(audit_tail(f->dir, 3, tail_cb, t, &err), 0);
    assert_int_equal(t->n, 3);
    assert_int_equal(t->seqs[0], 8);
    assert_int_equal(t->seqs[2], 10);
    t->n = 0;
    assert_int_equal(audit_tail(f->dir, 100, tail_cb, t, &err), 0);
    assert_int_equal(t->n, 10);
    assert_int_equal(t->seqs[0], 1);
    free(t);
    buf_free(&b);
}

static void test_hash_definition(void **state)
{
    /* Recompute the first record's hash the way an external verifier would. */
    fixture_t *f = *state;
    buf_t b = BUF_INIT;
    make_log(f, 2, 0);
    read_seg(f, 1, &b);
    char *nl = memchr(b.data, '\n', b.len);
    size_t n = (size_t)(nl - b.data);
    char head[2048], h[65];
    memcpy(head, b.data, n - 75);
    head[n - 75] = '\0';
    audit_line_hash(h, "0000000000000000000000000000000000000000000000000000000000000000",
                    head, n - 75);
    assert_memory_equal(h, b.data + n - 66, 64);
    assert_true(strncmp(b.data + n - 75, ",\"hash\":\"", 9) == 0);
    buf_free(&b);
}

static void test_rotation_and_reopen(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err;
    audit_t *a = NULL;
    buf_t b = BUF_INIT;
    make_log(f, 50, 2000);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 50);
    assert_true(rep.segments >= 5);
    uint64_t segs = rep.segments;
    for (int s = 1; s <= (int)segs; s++) {
        read_seg(f, s, &b);
        assert_non_null(strstr(b.data + line_off(&b, count_lines(&b)), "{\"type\":\"digest\""));
    }
    /* Reopen continues the chain in a new segment. */
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    append_n(a, 51, 5);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 55);
    assert_int_equal(rep.segments, segs + 1);
    read_seg(f, (int)segs + 1, &b);
    assert_true(strncmp(b.data, "{\"seq\":51,", 10) == 0);

    /* Open and close without appends creates no empty segment. */
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.segments, segs + 1);

    tail_ctx_t *t = calloc(1, sizeof *t);
    assert_int_equal(audit_tail(f->dir, 1000, tail_cb, t, &err), 0);
    assert_int_equal(t->n, 55);
    for (int i = 0; i < 55; i++)
        assert_int_equal(t->seqs[i], i + 1);
    free(t);
    buf_free(&b);
}

/* A child appends and dies without audit_close, like kill -9. */
static void crash_after(fixture_t *f, int from, int n, uint64_t limit)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        audit_t *a = NULL;
        tarn_err_t err = {0};
        if (audit_open(&a, f->dir, f->kr, &err))
            _exit(2);
        audit_set_segment_limit(a, limit);
        for (int i = from; i < from + n; i++) {
            audit_record_t r = {.action = "s3:GetObject", .outcome = "allow", .status = 200};
            if (audit_append(a, &r, &err))
                _exit(3);
        }
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_crash_recovery(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err;
    audit_t *a = NULL;
    buf_t b = BUF_INIT;
    crash_after(f, 1, 23, 1500);
    /* An unsealed last segment verifies (it is the one being written). */
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 23);
    uint64_t segs = rep.segments;
    read_seg(f, (int)segs, &b);
    assert_null(strstr(b.data, "\"type\":\"digest\""));

    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    read_seg(f, (int)segs, &b);
    assert_non_null(strstr(b.data, "\"type\":\"digest\"")); /* sealed at open */
    append_n(a, 24, 3);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 26);
    assert_int_equal(rep.segments, segs + 1);
    buf_free(&b);
}

static void test_torn_line(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err;
    audit_t *a = NULL;
    buf_t b = BUF_INIT;
    crash_after(f, 1, 6, 0);
    read_seg(f, 1, &b);
    size_t good = b.len;
    const char torn[] = "{\"seq\":7,\"time\":\"2026-11-";
    assert_int_equal(buf_append(&b, torn, strlen(torn)), 0);
    write_seg(f, 1, b.data, b.len);
    assert_int_equal(verify(f, &rep, &err), TARN_ECONFLICT);
    assert_non_null(strstr(rep.first_bad, "seg-000001.jsonl line 7: incomplete final line"));

    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    read_seg(f, 1, &b);
    assert_true(b.len > good);
    assert_true(strncmp(b.data + good, "{\"type\":\"digest\"", 16) == 0);
    append_n(a, 7, 2);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 8);

    /* A new segment holding only a torn line is removed and its number reused. */
    char path[PATH_MAX];
    seg_path(path, sizeof path, f, 3);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fs_write_full(fd, "{\"seq\":9", 8), 0);
    close(fd);
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    assert_false(fs_exists(path));
    append_n(a, 9, 1);
    audit_close(a);
    assert_true(fs_exists(path));
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 9);
    assert_int_equal(rep.segments, 3);
    buf_free(&b);
}

static void test_tamper_targeted(void **state)
{
    fixture_t *f = *state;
    buf_t b = BUF_INIT;
    make_log(f, 12, 2500);
    read_seg(f, 1, &b);
    int lines = count_lines(&b);
    assert_true(lines >= 4);
    char *l3 = b.data + line_off(&b, 3), *l2 = b.data + line_off(&b, 2);
    char *l4 = b.data + line_off(&b, 4), *dg = b.data + line_off(&b, lines);
    size_t in_value = (size_t)(strstr(l3, "orders-3") - b.data) + 2;
    size_t in_syntax = (size_t)(strstr(l2, "\"source\":") - b.data) + 8; /* the ':' */
    size_t in_prev = (size_t)(strstr(l4, "\"prev\":\"") - b.data) + 20;
    size_t in_hash = (size_t)(strstr(l4, "\"hash\":\"") - b.data) + 30;
    size_t in_sig = (size_t)(strstr(dg, "\"sig\":\"") - b.data) + 20;
    size_t in_count = (size_t)(strstr(dg, "\"count\":") - b.data) + 8;
    size_t newline = (size_t)(strchr(l2, '\n') - b.data);
    expect_flip(f, 1, in_value, "seg-000001.jsonl line 3 (seq 3): hash mismatch");
    expect_flip(f, 1, in_syntax, "seg-000001.jsonl line 2 (seq 2): not valid JSON");
    expect_flip(f, 1, in_prev, "seg-000001.jsonl line 4 (seq 4): prev does not match");
    expect_flip(f, 1, in_hash, "seg-000001.jsonl line 4 (seq 4): hash mismatch");
    expect_flip(f, 1, in_sig, "seg-000001.jsonl digest: signature invalid");
    expect_flip(f, 1, in_count, "seg-000001.jsonl digest:");
    expect_flip(f, 1, newline, "seg-000001.jsonl line 2 (seq 2): not valid JSON");
    expect_flip(f, 1, 7, "seg-000001.jsonl line 1 (seq 1): seq gap");
    expect_flip(f, 1, b.len - 1, "seg-000001.jsonl line");

    /* A different signing key does not accept the digests. */
    char other[PATH_MAX];
    keyring_t *kr2 = NULL;
    audit_verify_report_t rep;
    tarn_err_t err = {0};
    snprintf(other, sizeof other, "%s/keys2", f->root);
    assert_int_equal(keyring_create(other, &err), 0);
    assert_int_equal(keyring_open(&kr2, other, &err), 0);
    assert_int_equal(audit_verify(f->dir, kr2, &rep, &err), TARN_ECONFLICT);
    assert_string_equal(rep.first_bad, "seg-000001.jsonl digest: signature invalid");
    keyring_free(kr2);
    buf_free(&b);
}

static void flip_every_byte(fixture_t *f, int seg)
{
    buf_t b = BUF_INIT;
    read_seg(f, seg, &b);
    for (size_t off = 0; off < b.len; off++)
        expect_flip(f, seg, off, NULL);
    buf_free(&b);
}

static void test_tamper_every_byte(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err;
    make_log(f, 9, 1200);
    crash_after(f, 10, 3, 0); /* the last segment stays unsealed */
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_true(rep.segments >= 3);
    flip_every_byte(f, 1);                 /* sealed */
    flip_every_byte(f, 2);                 /* sealed, chained from 1 */
    flip_every_byte(f, (int)rep.segments); /* unsealed */
    assert_int_equal(verify(f, &rep, &err), 0);
}

static void test_deletions(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err;
    buf_t b = BUF_INIT, orig = BUF_INIT;
    char path[PATH_MAX], moved[PATH_MAX + 8];
    make_log(f, 12, 1500);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_true(rep.segments >= 3);
    read_seg(f, 1, &orig);

    /* A record line. */
    size_t s = line_off(&orig, 3), e = line_off(&orig, 4);
    buf_reset(&b);
    buf_append(&b, orig.data, s);
    buf_append(&b, orig.data + e, orig.len - e);
    write_seg(f, 1, b.data, b.len);
    assert_int_equal(verify(f, &rep, &err), TARN_ECONFLICT);
    assert_non_null(strstr(rep.first_bad, "seg-000001.jsonl line 3 (seq 3): seq gap"));

    /* The digest of a sealed segment that is not the last. */
    size_t d = line_off(&orig, count_lines(&orig));
    write_seg(f, 1, orig.data, d);
    assert_int_equal(verify(f, &rep, &err), TARN_ECONFLICT);
    assert_string_equal(rep.first_bad,
                        "seg-000001.jsonl: no digest (only the last segment may be unsealed)");
    /* audit_open reads only the last segment and the digest before it, so it still works. */
    audit_t *a = NULL;
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    audit_close(a);
    write_seg(f, 1, orig.data, orig.len);
    assert_int_equal(verify(f, &rep, &err), 0);

    /* A whole middle segment. */
    seg_path(path, sizeof path, f, 2);
    snprintf(moved, sizeof moved, "%s.away", path);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(verify(f, &rep, &err), TARN_ECONFLICT);
    assert_string_equal(rep.first_bad,
                        "seg-000002.jsonl: missing (segments must run from 1 without gaps)");
    assert_int_equal(rename(moved, path), 0);
    assert_int_equal(verify(f, &rep, &err), 0);
    buf_free(&b);
    buf_free(&orig);
}

static void test_open_damaged(void **state)
{
    fixture_t *f = *state;
    audit_t *a = NULL;
    tarn_err_t err = {0};
    buf_t b = BUF_INIT;
    crash_after(f, 1, 5, 0);
    read_seg(f, 1, &b);
    b.data[line_off(&b, 3) + 40] ^= 0x01;
    write_seg(f, 1, b.data, b.len);
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), TARN_ECONFLICT);
    assert_null(a);
    assert_non_null(strstr(err.msg, "seg-000001.jsonl line 3 (seq 3)"));
    assert_non_null(strstr(err.msg, "audit log damaged"));
    buf_free(&b);
}

static void test_busy_and_missing(void **state)
{
    fixture_t *f = *state;
    audit_t *a = NULL, *b = NULL;
    tarn_err_t err = {0};
    audit_verify_report_t rep;
    assert_int_equal(verify(f, &rep, &err), TARN_ENOTFOUND);
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    /* flock is per open file description, so a second open in-process also conflicts. */
    assert_int_equal(audit_open(&b, f->dir, f->kr, &err), TARN_EBUSY);
    assert_null(b);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 0);
}

static void test_escaping(void **state)
{
    fixture_t *f = *state;
    audit_t *a = NULL;
    tarn_err_t err = {0};
    audit_verify_report_t rep;
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    char *big = malloc(10000);
    memset(big, 'k', 9999);
    big[9999] = '\0';
    audit_record_t r = {.request_id = "r\"1\\", .principal = NULL, .source = "[::1]:1",
                        .action = "s3:PutObject", .resource = "a\nb\x01\xff\xc3 \xc3\xa9/\xe2\x82",
                        .outcome = "error", .reason = "line1\nline2", .status = 500,
                        .bytes_in = UINT64_MAX};
    assert_int_equal(audit_append(a, &r, &err), 0);
    r.resource = big;
    assert_int_equal(audit_append(a, &r, &err), 0);
    audit_close(a);
    free(big);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 2);

    tail_ctx_t *t = calloc(1, sizeof *t);
    assert_int_equal(audit_tail(f->dir, 2, tail_cb, t, &err), 0);
    assert_int_equal(t->n, 2);
    assert_non_null(strstr(t->last, "\"principal\":\"anonymous\""));
    t->n = 0;
    assert_int_equal(audit_tail(f->dir, 1, tail_cb, t, &err) , 0);
    json_error_t jerr;
    json_t *o = json_loads(t->last, 0, &jerr);
    assert_int_equal(strlen(json_string_value(json_object_get(o, "resource"))), 4096);
    json_decref(o);
    /* First record: re-read it and check the sanitised resource. */
    buf_t b = BUF_INIT;
    read_seg(f, 1, &b);
    *strchr(b.data, '\n') = '\0';
    o = json_loads(b.data, 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "resource")),
                        "a\nb\x01\xef\xbf\xbd\xef\xbf\xbd \xc3\xa9/\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(o, "request_id")), "r\"1\\");
    assert_int_equal(json_integer_value(json_object_get(o, "bytes_in")), INT64_MAX);
    json_decref(o);
    buf_free(&b);
    free(t);
}

typedef struct {
    audit_t *a;
    int n;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    tarn_err_t err = {0};
    for (int i = 0; i < w->n; i++) {
        audit_record_t r = {.principal = "bob", .action = "s3:GetObject",
                            .resource = "curated/x/part-0.parquet", .outcome = "allow",
                            .status = 200, .bytes_out = (uint64_t)i};
        if (audit_append(w->a, &r, &err))
            return (void *)1;
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    fixture_t *f = *state;
    audit_t *a = NULL;
    tarn_err_t err = {0};
    audit_verify_report_t rep;
    pthread_t th[4];
    worker_t w = {NULL, 300};
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    audit_set_segment_limit(a, 8192);
    w.a = a;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, &w), 0);
    for (int i = 0; i < 4; i++) {
        void *res = NULL;
        pthread_join(th[i], &res);
        assert_null(res);
    }
    assert_int_equal(audit_sync(a, &err), 0);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 1200);
    assert_true(rep.segments > 10);
    tail_ctx_t *t = calloc(1, sizeof *t);
    assert_int_equal(audit_tail(f->dir, 5000, tail_cb, t, &err), 0);
    assert_int_equal(t->n, 1200);
    for (int i = 0; i < 1200; i++)
        assert_int_equal(t->seqs[i], i + 1);
    free(t);
}

/* Zeros bytes [from, to) of segment seg, as a power failure leaves unsynced pages. */
static void zero_range(const fixture_t *f, int seg, size_t from, size_t to)
{
    buf_t b = BUF_INIT;
    read_seg(f, seg, &b);
    assert_true(from < to && to <= b.len);
    memset(b.data + from, 0, to - from);
    write_seg(f, seg, b.data, b.len);
    buf_free(&b);
}

/* The recovery line starting segment seg, parsed. */
static json_t *recovery_line(const fixture_t *f, int seg)
{
    buf_t b = BUF_INIT;
    json_error_t jerr;
    read_seg(f, seg, &b);
    char *nl = memchr(b.data, '\n', b.len);
    assert_non_null(nl);
    json_t *o = json_loadb(b.data, (size_t)(nl - b.data), 0, &jerr);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "recovery");
    buf_free(&b);
    return o;
}

static int64_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* 10 records in an unsealed segment 1; bytes from the middle of line 3 to the middle of
 * line 5 zeroed. Returns the byte offsets of lines 3 and 6 in *start and *end. */
static void make_zeroed(fixture_t *f, size_t *start, size_t *end)
{
    buf_t b = BUF_INIT;
    crash_after(f, 1, 10, 0);
    read_seg(f, 1, &b);
    *start = line_off(&b, 3);
    *end = line_off(&b, 6);
    zero_range(f, 1, *start + 30, line_off(&b, 5) + 40);
    buf_free(&b);
}

static void test_recover_zeroed_range(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err = {0};
    audit_t *a = NULL;
    size_t start, end;
    make_zeroed(f, &start, &end);
    /* Unrecovered damage fails verify. */
    assert_int_equal(verify(f, &rep, &err), TARN_ECONFLICT);
    assert_non_null(strstr(rep.first_bad, "seg-000001.jsonl line 3"));

    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    json_t *r = recovery_line(f, 2);
    assert_int_equal(jint(r, "segment"), 1);
    assert_int_equal(jint(r, "first_seq"), 1);
    assert_int_equal(jint(r, "kept_before"), 2);
    assert_int_equal(jint(r, "byte_start"), (int64_t)start);
    assert_int_equal(jint(r, "byte_end"), (int64_t)end);
    assert_int_equal(jint(r, "records_lost"), 3);
    assert_int_equal(jint(r, "kept_after"), 5);
    assert_int_equal(jint(r, "resume_seq"), 11);
    json_decref(r);
    append_n(a, 11, 2);
    audit_close(a);

    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 9);
    assert_int_equal(rep.segments, 2);
    assert_int_equal(rep.ngaps, 1);
    assert_int_equal(rep.gaps[0].segment, 1);
    assert_int_equal(rep.gaps[0].byte_start, start);
    assert_int_equal(rep.gaps[0].byte_end, end);
    assert_int_equal(rep.gaps[0].records_lost, 3);
    assert_int_equal(rep.gaps[0].lost_from, 3);
    char line[320];
    audit_gap_describe(line, sizeof line, &rep.gaps[0]);
    assert_non_null(strstr(line, "seg-000001.jsonl bytes "));
    assert_non_null(strstr(line, "3 records lost (seq 3-5)"));
    assert_non_null(strstr(line, "recovered in seg-000002.jsonl"));

    memset(&err, 0, sizeof err);
    assert_int_equal(audit_verify_flags(f->dir, f->kr, AUDIT_VERIFY_STRICT, &rep, &err),
                     TARN_ECONFLICT);
    assert_int_equal(rep.ngaps, 1);
    assert_non_null(strstr(rep.first_bad, "1 gap (strict): seg-000001.jsonl bytes"));

    /* The chain goes on across restarts after the recovery segment. */
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    append_n(a, 13, 3);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 12);
    assert_int_equal(rep.segments, 3);
    assert_int_equal(rep.ngaps, 1);
    tail_ctx_t *t = calloc(1, sizeof *t);
    assert_int_equal(audit_tail(f->dir, 100, tail_cb, t, &err), 0);
    assert_int_equal(t->n, 12);
    assert_int_equal(t->seqs[0], 1);
    assert_int_equal(t->seqs[2], 6);
    assert_int_equal(t->seqs[11], 15);
    free(t);
}

static void test_recover_rewrite_detected(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err = {0};
    audit_t *a = NULL;
    buf_t b = BUF_INIT;
    size_t start, end;
    make_zeroed(f, &start, &end);
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    append_n(a, 11, 2);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);

    read_seg(f, 1, &b);
    size_t in_prefix = (size_t)(strstr(b.data + line_off(&b, 2), "\"outcome\":\"") - b.data) + 12;
    size_t in_tail = (size_t)(strstr(b.data + end, "\"outcome\":\"") - b.data) + 12;
    expect_flip(f, 1, in_prefix, "seg-000001.jsonl line 2 (seq 2): hash mismatch");
    expect_flip(f, 1, in_tail, "seg-000001.jsonl: changed since its recovery");
    expect_flip(f, 1, start + 100, "seg-000001.jsonl: changed since its recovery");
    read_seg(f, 2, &b);
    size_t in_rec = (size_t)(strstr(b.data, "\"records_lost\":") - b.data) + 15;
    size_t in_next = (size_t)(strstr(b.data + line_off(&b, 2), "\"resource\":\"") - b.data) + 20;
    expect_flip(f, 2, in_rec, "seg-000002.jsonl recovery line:");
    expect_flip(f, 2, in_next, "seg-000002.jsonl line 2 (seq 11): hash mismatch");
    /* Every single-byte change anywhere in the damaged or the recovery segment shows. */
    flip_every_byte(f, 1);
    flip_every_byte(f, 2);
    assert_int_equal(verify(f, &rep, &err), 0);

    /* A recovery line signed with another key is refused. */
    char other[PATH_MAX];
    keyring_t *kr2 = NULL;
    snprintf(other, sizeof other, "%s/keys2", f->root);
    assert_int_equal(keyring_create(other, &err), 0);
    assert_int_equal(keyring_open(&kr2, other, &err), 0);
    assert_int_equal(audit_verify(f->dir, kr2, &rep, &err), TARN_ECONFLICT);
    assert_non_null(strstr(rep.first_bad, "seg-000002.jsonl recovery line: signature invalid"));
    keyring_free(kr2);
    buf_free(&b);
}

static void test_recover_zeros_at_end(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err = {0};
    audit_t *a = NULL;
    buf_t b = BUF_INIT;
    crash_after(f, 1, 5, 0);
    read_seg(f, 1, &b);
    size_t good = b.len;
    /* The size reached the disk, the last pages did not: zeros, no newline. */
    char zeros[700] = {0};
    assert_int_equal(buf_append(&b, zeros, sizeof zeros), 0);
    write_seg(f, 1, b.data, b.len);
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    read_seg(f, 1, &b);
    assert_int_equal(b.len, good + sizeof zeros); /* left as found */
    json_t *r = recovery_line(f, 2);
    assert_true(json_is_null(json_object_get(r, "records_lost")));
    assert_int_equal(jint(r, "byte_start"), (int64_t)good);
    assert_int_equal(jint(r, "byte_end"), (int64_t)(good + sizeof zeros));
    assert_int_equal(jint(r, "resume_seq"), 6);
    json_decref(r);
    append_n(a, 6, 1);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.ngaps, 1);
    assert_int_equal(rep.gaps[0].records_lost, -1);
    assert_int_equal(rep.records, 6);
    char line[320];
    audit_gap_describe(line, sizeof line, &rep.gaps[0]);
    assert_non_null(strstr(line, "an unknown number of records lost (from seq 6)"));
    buf_free(&b);
}

/* A child opens (and so recovers) and dies without closing. */
static void open_and_die(fixture_t *f)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        audit_t *a = NULL;
        tarn_err_t err = {0};
        _exit(audit_open(&a, f->dir, f->kr, &err) ? 2 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_recover_crash_during_recovery(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err = {0};
    audit_t *a = NULL;
    buf_t b = BUF_INIT;
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    size_t start, end;
    make_zeroed(f, &start, &end);

    /* Died while writing the recovery line: a partial tmp file, segment 2 absent. */
    seg_path(path, sizeof path, f, 2);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fs_write_full(fd, "{\"type\":\"recovery\",\"segm", 24), 0);
    close(fd);
    assert_int_equal(verify(f, &rep, &err), TARN_ECONFLICT); /* the tmp file is no segment */

    /* Died right after the recovery line was in place, before any append. */
    open_and_die(f);
    assert_false(fs_exists(tmp));
    read_seg(f, 2, &b);
    assert_int_equal(count_lines(&b), 1);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.ngaps, 1);

    /* The next start keeps that segment (it is the only record of the gap) and seals it. */
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    read_seg(f, 2, &b);
    assert_int_equal(count_lines(&b), 2);
    assert_non_null(strstr(b.data, "{\"type\":\"digest\",\"segment\":2,\"first_seq\":11,"
                                    "\"last_seq\":10,\"count\":0,"));
    append_n(a, 11, 2);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.ngaps, 1);
    assert_int_equal(rep.records, 9);
    assert_int_equal(rep.segments, 3);

    /* Crash damage in the recovery segment itself is recovered the same way. */
    crash_after(f, 13, 4, 0);
    read_seg(f, 4, &b);
    zero_range(f, 4, line_off(&b, 2) + 5, line_off(&b, 3) + 5);
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.ngaps, 2);
    assert_int_equal(rep.gaps[1].segment, 4);
    assert_int_equal(rep.gaps[1].records_lost, 2);
    assert_int_equal(rep.records, 11);
    buf_free(&b);
}

static void test_missing_segment_after_recovery(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err = {0};
    audit_t *a = NULL;
    char path[PATH_MAX], moved[PATH_MAX + 8];
    size_t start, end;
    make_zeroed(f, &start, &end);
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    append_n(a, 11, 2);
    audit_close(a);
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    append_n(a, 13, 2);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.segments, 3);

    /* The recovery segment, removed by hand: segment 1 is uncovered and 2 missing. */
    seg_path(path, sizeof path, f, 2);
    snprintf(moved, sizeof moved, "%s.away", path);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(verify(f, &rep, &err), TARN_ECONFLICT);
    assert_string_equal(rep.first_bad,
                        "seg-000002.jsonl: missing (segments must run from 1 without gaps)");
    /* The server still starts (it continues from the last segment), and verify still
     * fails until the segment is back. */
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    append_n(a, 15, 1);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), TARN_ECONFLICT);
    assert_non_null(strstr(rep.first_bad, "seg-000002.jsonl: missing"));
    assert_int_equal(rename(moved, path), 0);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 12);
    assert_int_equal(rep.segments, 4);
}

static void test_sealed_damage_starts(void **state)
{
    fixture_t *f = *state;
    audit_verify_report_t rep;
    tarn_err_t err = {0};
    audit_t *a = NULL;
    buf_t b = BUF_INIT;
    make_log(f, 6, 0);
    read_seg(f, 1, &b);
    /* A sealed last segment: zeros are not crash damage there. */
    zero_range(f, 1, line_off(&b, 2), line_off(&b, 3));
    assert_int_equal(audit_open(&a, f->dir, f->kr, &err), 0);
    append_n(a, 7, 2);
    audit_close(a);
    assert_int_equal(verify(f, &rep, &err), TARN_ECONFLICT);
    assert_non_null(strstr(rep.first_bad, "seg-000001.jsonl line 2"));
    write_seg(f, 1, b.data, b.len);
    assert_int_equal(verify(f, &rep, &err), 0);
    assert_int_equal(rep.records, 8);
    assert_int_equal(rep.ngaps, 0);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_definition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_targeted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_zeroed_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_rewrite_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_zeros_at_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_crash_during_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_segment_after_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_damage_starts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
