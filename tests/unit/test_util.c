/* Unit tests of util/: growable buffers and their XML escaping, arenas (alignment, zeroing,
 * large and impossible sizes, reuse), the durable file helpers, digests and encodings
 * against known vectors, constant-time equality, the time formats of HTTP and AWS, and
 * the recording of errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/net.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/timeutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- buf ---- */

static void test_buf_appends_keep_a_nul(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    assert_int_equal(buf_puts(&b, "ab"), 0);
    assert_int_equal(buf_putc(&b, 'c'), 0);
    assert_int_equal(buf_printf(&b, "-%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "abc-42-x");
    assert_int_equal(b.len, 8);
    /* Many doublings; binary bytes (a NUL inside) count in len. */
    char big[10000];
    memset(big, 'z', sizeof big);
    assert_int_equal(buf_append(&b, big, sizeof big), 0);
    assert_int_equal(buf_append(&b, "\0y", 2), 0);
    assert_int_equal(b.len, 8 + sizeof big + 2);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(b.data[b.len - 1], 'y');
    assert_int_equal(buf_append(&b, NULL, 0), 0);
    size_t cap = b.cap;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(b.cap, cap);
    buf_free(&b);
    buf_free(&b); /* twice is harmless */
    assert_null(b.data);
}

static void test_buf_xml_and_steal(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    assert_int_equal(buf_put_xml(&b, "<a href=\"x\">'&'\r\n\tok</a>"), 0);
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&#13;&#10;\tok"
                                "&lt;/a&gt;");
    char *p = buf_steal(&b);
    assert_non_null(p);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(p);
    /* An empty buffer hands out an empty string of its own. */
    p = buf_steal(&b);
    assert_non_null(p);
    assert_string_equal(p, "");
    free(p);
}

/* JSON strings: what must be escaped is, every other byte (UTF-8 too) stays as it is,
 * and NUL bytes inside the value are written, not taken as its end. */
static bool allowed(const net_cidrs_t *l, const char *addr)
{
    struct sockaddr_storage ss = {0};
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addr, &a->sin_addr), 1);
    }
    return net_cidrs_allow(l, (struct sockaddr *)&ss);
}

static void test_net_cidrs(void **state)
{
    (void)state;
    net_cidrs_t l;
    tarn_err_t err = {0};
    assert_int_equal(net_cidrs_parse(&l, "10.0.0.0/8, 192.168.1.7,fd00::/8,127.0.0.2/31", "--x",
                                     &err), 0);
    assert_int_equal(l.n, 4);
    assert_true(allowed(&l, "10.255.1.2"));
    assert_false(allowed(&l, "11.0.0.1"));
    assert_true(allowed(&l, "192.168.1.7"));
    assert_false(allowed(&l, "192.168.1.8"));
    assert_true(allowed(&l, "127.0.0.3"));
    assert_false(allowed(&l, "127.0.0.1"));
    assert_true(allowed(&l, "fd12::1"));
    assert_false(allowed(&l, "fe80::1"));
    assert_true(allowed(&l, "::ffff:10.1.2.3")); /* IPv4-mapped: as IPv4 */
    assert_false(allowed(&l, "::ffff:11.1.2.3"));
    net_cidrs_free(&l);
    net_cidrs_t none = {0};
    assert_true(allowed(&none, "8.8.8.8")); /* no list: everyone */
    assert_int_equal(net_cidrs_parse(&l, "0.0.0.0/0", "--x", &err), 0);
    assert_true(allowed(&l, "1.2.3.4"));
    assert_false(allowed(&l, "::1"));
    net_cidrs_free(&l);
    static const char *const bad[] = {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8,", "nonsense",
                                      "::1/129", "10.0.0.0/8/8", "1.2.3.4/-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(net_cidrs_parse(&l, bad[i], "--allow-cidr", &err), TARN_EINVAL);
        assert_non_null(strstr(err.msg, "--allow-cidr"));
    }
}

static void test_buf_csv_field(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},           {"", "\"\""},
        {"a,b", "\"a,b\""},           {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"\"", "\"\"\"\""},           {"two\nlines", "\"two\nlines\""},
        {"cr\r", "\"cr\r\""},         {"tab\tand\\", "tab\tand\\"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        buf_t b = BUF_INIT;
        assert_int_equal(buf_put_csv_field(&b, cases[i].in, strlen(cases[i].in)), 0);
        assert_string_equal(b.data, cases[i].out);
        buf_free(&b);
    }
}

static void test_buf_json_string(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    const char s[] = "a\"b\\c/\n\r\t\b\f\x01\x1f\x00\xc3\xa9";
    assert_int_equal(buf_put_json_string(&b, s, sizeof s - 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\\u0000\xc3\xa9\"");
    buf_reset(&b);
    assert_int_equal(buf_put_json_string(&b, "", 0), 0);
    assert_string_equal(b.data, "\"\"");
    buf_free(&b);
}

static void test_buf_refuses_sizes_that_wrap(void **state)
{
    (void)state;
    buf_t b = BUF_INIT;
    assert_int_equal(buf_puts(&b, "abc"), 0);
    assert_int_equal(buf_reserve(&b, SIZE_MAX), TARN_ENOMEM);
    assert_int_equal(buf_reserve(&b, SIZE_MAX - 3), TARN_ENOMEM);
    assert_int_equal(buf_reserve(&b, SIZE_MAX / 2 + 1), TARN_ENOMEM);
    assert_string_equal(b.data, "abc"); /* untouched */
    assert_int_equal(buf_reserve(&b, 0), 0);
    buf_free(&b);
}

/* ---- arena ---- */

static void test_arena_aligned_and_zeroed(void **state)
{
    (void)state;
    arena_t *a = arena_create();
    assert_non_null(a);
    for (int round = 0; round < 2; round++) {
        for (size_t n = 1; n <= 300; n++) {
            unsigned char *p = arena_alloc(a, n);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % 16, 0);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(p[i], 0);
            memset(p, 0xAB, n); /* dirty it: the next ones must still come zeroed */
        }
        /* Larger than a block: a block of its own. */
        unsigned char *big = arena_alloc(a, 100000);
        assert_non_null(big);
        assert_int_equal(big[0] | big[99999], 0);
        memset(big, 0xCD, 100000);
        arena_reset(a); /* and again, reusing nothing that is gone */
    }
    arena_free(a);
    arena_free(NULL);
}

static void test_arena_strings(void **state)
{
    (void)state;
    arena_t *a = arena_create();
    assert_string_equal(arena_strdup(a, "hello"), "hello");
    assert_string_equal(arena_strndup(a, "hello", 3), "hel");
    assert_string_equal(arena_strndup(a, "", 0), "");
    assert_string_equal(arena_sprintf(a, "%s-%d", "a", 7), "a-7");
    char *wide = arena_sprintf(a, "%20000d", 1);
    assert_non_null(wide);
    assert_int_equal(strlen(wide), 20000);
    assert_int_equal(wide[19999], '1');
    arena_free(a);
}

static void test_arena_refuses_sizes_that_wrap(void **state)
{
    (void)state;
    arena_t *a = arena_create();
    /* Rounded up to 16 these would wrap to a few bytes: out of memory instead. */
    assert_null(arena_alloc(a, SIZE_MAX));
    assert_null(arena_alloc(a, SIZE_MAX - 8));
    assert_non_null(arena_alloc(a, 16));
    arena_free(a);
}

/* ---- fs ---- */

typedef struct {
    char dir[64];
} tmpdir_t;

static int fs_setup(void **state)
{
    tmpdir_t *t = calloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/tarn-util-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    umask(022);
    *state = t;
    return 0;
}

static int fs_teardown(void **state)
{
    tmpdir_t *t = *state;
    fs_remove_tree(t->dir);
    free(t);
    return 0;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void test_fs_mkdir_and_atomic_writes(void **state)
{
    tmpdir_t *t = *state;
    tarn_err_t err = {0};
    char p[PATH_MAX], f[PATH_MAX];
    snprintf(p, sizeof p, "%s/a/b/c", t->dir);
    assert_int_equal(fs_mkdir_p(p, 0750, &err), 0);
    assert_int_equal(fs_mkdir_p(p, 0750, &err), 0); /* existing folders are fine */
    assert_true(fs_exists(p));
    snprintf(f, sizeof f, "%s/a/f", t->dir);
    assert_int_equal(fs_write_atomic(f, "hello", 5, 0640, &err), 0);
    struct stat st;
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(fs_write_atomic(f, "bye", 3, 0640, &err), 0);
    buf_t b = BUF_INIT;
    assert_int_equal(fs_read_all(f, &b, &err), 0);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "bye");
    buf_free(&b);
    /* No temporary file is left beside it. */
    snprintf(p, sizeof p, "%s/a", t->dir);
    assert_int_equal(count_entries(p), 2);
    /* A file where a folder should be. */
    snprintf(p, sizeof p, "%s/a/f/g", t->dir);
    assert_int_equal(fs_mkdir_p(p, 0750, &err), TARN_EIO);
    char longp[PATH_MAX + 16];
    memset(longp, 'x', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(fs_mkdir_p(longp, 0750, &err), TARN_EINVAL);
    assert_int_equal(fs_write_atomic(longp, "x", 1, 0640, &err), TARN_EINVAL);
    assert_int_not_equal(fs_remove_tree(p), 0); /* nothing there */
    snprintf(p, sizeof p, "%s/a", t->dir);
    assert_int_equal(fs_remove_tree(p), 0);
    assert_false(fs_exists(p));
}

static void test_fs_read_all_and_sync(void **state)
{
    tmpdir_t *t = *state;
    tarn_err_t err = {0};
    char p[PATH_MAX];
    buf_t b = BUF_INIT;
    snprintf(p, sizeof p, "%s/missing", t->dir);
    assert_int_equal(fs_read_all(p, &b, &err), TARN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "missing"));
    assert_int_equal(fs_read_all(t->dir, &b, &err), TARN_EIO); /* a folder */
    /* An empty file reads as an empty string, not as no data. */
    snprintf(p, sizeof p, "%s/empty", t->dir);
    int fd = open(p, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fs_read_all(p, &b, &err), 0);
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    /* More than one read's worth, written by fs_write_full. */
    snprintf(p, sizeof p, "%s/big", t->dir);
    fd = open(p, O_WRONLY | O_CREAT, 0600);
    char *big = malloc(300000);
    for (size_t i = 0; i < 300000; i++)
        big[i] = (char)(i * 7);
    assert_int_equal(fs_write_full(fd, big, 300000), 0);
    close(fd);
    assert_int_equal(fs_read_all(p, &b, &err), 0);
    assert_int_equal(b.len, 300000);
    assert_memory_equal(b.data, big, 300000);
    buf_free(&b);
    free(big);
    assert_int_equal(fs_fsync_dir(t->dir, &err), 0);
    assert_int_equal(fs_fsync_parent(p, &err), 0);
    assert_int_equal(fs_fsync_parent("relative-name", &err), 0); /* its folder is "." */
    assert_int_equal(fs_fsync_parent("/top", &err), 0);         /* and here "/" */
    snprintf(p, sizeof p, "%s/missing/x", t->dir);
    assert_int_equal(fs_fsync_parent(p, &err), TARN_EIO);
}

/* ---- hash ---- */

static void test_hash_digests(void **state)
{
    (void)state;
    uint8_t d[32];
    char hex[65];
    hash_sha256(d, "abc", 3);
    hash_hex(hex, d, 32);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hash_md5(d, "abc", 3);
    hash_hex(hex, d, 16);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    const char *msg = "The quick brown fox jumps over the lazy dog";
    hash_hmac_sha256(d, "key", 3, msg, strlen(msg));
    hash_hex(hex, d, 32);
    assert_string_equal(hex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    const char *digits = "123456789";
    assert_int_equal(hash_crc32c_update(0, digits, 9), 0xE3069283u);
    /* Incremental CRC-32C over every split point equals the one-shot value. */
    for (size_t i = 0; i <= 9; i++)
        assert_int_equal(hash_crc32c_update(hash_crc32c_update(0, digits, i), digits + i, 9 - i),
                         0xE3069283u);
    uint8_t r1[32], r2[32];
    assert_int_equal(hash_random(r1, sizeof r1), 0);
    assert_int_equal(hash_random(r2, sizeof r2), 0);
    assert_memory_not_equal(r1, r2, sizeof r1);
}

static void test_hash_multi(void **state)
{
    (void)state;
    const char *text = "123456789";
    hash_multi_t *h = hash_multi_create(HASH_SHA256 | HASH_MD5 | HASH_CRC32 | HASH_CRC32C);
    assert_non_null(h);
    for (size_t i = 0; i < 9; i += 2)
        hash_multi_update(h, text + i, i + 2 <= 9 ? 2 : 1);
    hash_digests_t d;
    hash_multi_final(h, &d);
    hash_multi_free(h);
    uint8_t sha[32], md5[16];
    hash_sha256(sha, text, 9);
    hash_md5(md5, text, 9);
    assert_memory_equal(d.sha256, sha, 32);
    assert_memory_equal(d.md5, md5, 16);
    assert_int_equal(d.crc32, 0xCBF43926u);
    assert_int_equal(d.crc32c, 0xE3069283u);
    assert_int_equal(d.size, 9);
    /* Only what was asked for is computed; the rest stays zero. */
    h = hash_multi_create(HASH_CRC32);
    hash_multi_update(h, text, 9);
    hash_multi_final(h, &d);
    hash_multi_free(h);
    uint8_t zero[32] = {0};
    assert_memory_equal(d.sha256, zero, 32);
    assert_memory_equal(d.md5, zero, 16);
    assert_int_equal(d.crc32, 0xCBF43926u);
    assert_int_equal(d.crc32c, 0);
    assert_int_equal(d.size, 9);
    hash_multi_free(NULL);
}

static void test_hash_hex_and_base64(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x00, 0x7f, 0x80, 0xff};
    char hex[9];
    uint8_t back[8];
    hash_hex(hex, bytes, 4);
    assert_string_equal(hex, "007f80ff");
    assert_int_equal(hash_unhex(back, 4, "007F80fF"), 0);
    assert_memory_equal(back, bytes, 4);
    assert_int_equal(hash_unhex(back, 4, "007f80f"), TARN_EINVAL);   /* odd */
    assert_int_equal(hash_unhex(back, 4, "007f80ff00"), TARN_EINVAL); /* long */
    assert_int_equal(hash_unhex(back, 4, "007f80fg"), TARN_EINVAL);
    assert_int_equal(hash_hexval('a'), 10);
    assert_int_equal(hash_hexval('F'), 15);
    assert_int_equal(hash_hexval('9'), 9);
    assert_int_equal(hash_hexval('g'), -1);
    assert_int_equal(hash_hexval('\0'), -1);

    char b64[16];
    assert_int_equal(hash_b64(b64, (const uint8_t *)"tarn", 4), 8);
    assert_string_equal(b64, "dGFybg==");
    assert_int_equal(hash_b64(b64, (const uint8_t *)"ta", 2), 4);
    assert_string_equal(b64, "dGE=");
    assert_int_equal(hash_b64(b64, (const uint8_t *)"\x00\xff", 2), 4);
    assert_string_equal(b64, "AP8=");
    assert_int_equal(hash_b64(b64, (const uint8_t *)"", 0), 0);
    assert_string_equal(b64, "");
    assert_int_equal(hash_unb64(back, sizeof back, "dGFybg=="), 4);
    assert_memory_equal(back, "tarn", 4);
    assert_int_equal(hash_unb64(back, sizeof back, "AP8="), 2);
    assert_memory_equal(back, "\x00\xff", 2);
    assert_int_equal(hash_unb64(back, sizeof back, ""), 0);
    assert_int_equal(hash_unb64(back, sizeof back, "dGE"), -1);  /* not a multiple of 4 */
    assert_int_equal(hash_unb64(back, sizeof back, "d!E="), -1); /* not base64 */
    /* Exactly room for the bytes, not for the padding's group: decoded aside, copied. */
    assert_int_equal(hash_unb64(back, 4, "dGFybg=="), 4);
    assert_memory_equal(back, "tarn", 4);
    assert_int_equal(hash_unb64(back, 3, "dGFybg=="), -1);
    assert_int_equal(hash_unb64n(back, sizeof back, "dGE=trailing", 4), 2);
    assert_memory_equal(back, "ta", 2);
}

static void test_hash_equal(void **state)
{
    (void)state;
    assert_true(hash_equal("secret", 6, "secret", 6));
    assert_false(hash_equal("secret", 6, "secreT", 6));
    assert_false(hash_equal("secret", 6, "secret!", 7)); /* a prefix is not equal */
    assert_false(hash_equal("secret", 6, "secre", 5));
    assert_true(hash_equal("", 0, "", 0));
}

/* ---- time ---- */

static void test_time_formats(void **state)
{
    (void)state;
    time_t t = 1764096990; /* 2025-11-25 18:56:30 UTC, a Tuesday */
    char amz[17], iso[25], http[30];
    time_fmt_amz(amz, t);
    assert_string_equal(amz, "20251125T185630Z");
    time_fmt_http(http, t);
    assert_string_equal(http, "Tue, 25 Nov 2025 18:56:30 GMT");
    time_fmt_iso_ms(iso, (int64_t)t * 1000 + 123);
    assert_string_equal(iso, "2025-11-25T18:56:30.123Z");
    time_fmt_iso_ms(iso, (int64_t)t * 1000 + 7);
    assert_string_equal(iso, "2025-11-25T18:56:30.007Z");
    time_fmt_iso_ms(iso, 0);
    assert_string_equal(iso, "1970-01-01T00:00:00.000Z");

    time_t back = 0;
    assert_int_equal(time_parse_amz(&back, amz), 0);
    assert_int_equal(back, t);
    const char *bad_amz[] = {"", "20251125185630Z", "20251125T185630", "2025112XT185630Z",
                             "20251125T185630Z ", "20251325T185630Z", "20251125t185630z"};
    for (size_t i = 0; i < sizeof bad_amz / sizeof *bad_amz; i++)
        if (time_parse_amz(&back, bad_amz[i]) != TARN_EINVAL)
            fail_msg("'%s' parsed as an X-Amz-Date", bad_amz[i]);
    /* HTTP dates: IMF-fixdate, RFC 850, asctime, and ISO 8601. */
    assert_int_equal(time_parse_http(&back, http), 0);
    assert_int_equal(back, t);
    const char *same[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                          "Sun Nov  6 08:49:37 1994", "1994-11-06T08:49:37Z"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        back = 0;
        assert_int_equal(time_parse_http(&back, same[i]), 0);
        assert_int_equal(back, 784111777);
    }
    const char *bad_http[] = {"", "yesterday", "Sun, 06 Nov 1994 08:49:37", "1994-11-06"};
    for (size_t i = 0; i < sizeof bad_http / sizeof *bad_http; i++)
        if (time_parse_http(&back, bad_http[i]) != TARN_EINVAL)
            fail_msg("'%s' parsed as an HTTP date", bad_http[i]);
}

static void test_time_clocks(void **state)
{
    (void)state;
    assert_true(time_now_ms() > 1700000000000LL);
    int64_t a = time_mono_ns(), b = time_mono_ns();
    assert_true(b >= a);
    assert_true(time_mono_ms() >= a / 1000000);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec later = time_after_ms(1999);
    assert_true(later.tv_nsec >= 0 && later.tv_nsec < 1000000000L);
    int64_t diff_ms = ((int64_t)later.tv_sec - now.tv_sec) * 1000 +
                      (later.tv_nsec - now.tv_nsec) / 1000000;
    assert_true(diff_ms >= 1998 && diff_ms < 2100);
}

/* ---- err ---- */

static void test_err_records(void **state)
{
    (void)state;
    tarn_err_t e = {0};
    int line = __LINE__ + 1;
    assert_int_equal(TARN_ERR(&e, TARN_EINVAL, "bad %s %d", "x", 3), TARN_EINVAL);
    assert_int_equal(e.code, TARN_EINVAL);
    assert_string_equal(e.msg, "bad x 3");
    assert_int_equal(e.reason, TARN_R_NONE);
    assert_non_null(strstr(e.file, "test_util.c"));
    assert_int_equal(e.line, line);
    assert_int_equal(TARN_ERR_R(&e, TARN_ENOTFOUND, NoSuchKey, "gone"), TARN_ENOTFOUND);
    assert_string_equal(tarn_reason_name(e.reason), "NoSuchKey");
    assert_string_equal(e.msg, "gone");
    /* The last error wins; a new one without a reason clears the old reason. */
    TARN_ERR(&e, TARN_EIO, "disk");
    assert_int_equal(e.reason, TARN_R_NONE);
    assert_int_equal(e.code, TARN_EIO);
    /* No detail wanted: the code still comes back. */
    assert_int_equal(TARN_ERR(NULL, TARN_EBUSY, "ignored"), TARN_EBUSY);
    /* A long message is cut to the buffer, NUL-terminated. */
    char longer[1000];
    memset(longer, 'm', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    TARN_ERR(&e, TARN_EINVAL, "%s", longer);
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
}

static void test_err_names(void **state)
{
    (void)state;
    const struct {
        int code;
        const char *name;
    } names[] = {
        {TARN_OK, "ok"},           {TARN_ENOTFOUND, "not found"}, {TARN_EEXISTS, "already exists"},
        {TARN_EDENIED, "denied"},  {TARN_EINVAL, "invalid"},      {TARN_ECONFLICT, "conflict"},
        {TARN_EIO, "I/O error"},   {TARN_ENOMEM, "out of memory"}, {TARN_EBUSY, "busy"},
        {TARN_EUPSTREAM, "upstream error"}, {-99, "error"},       {1, "error"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        assert_string_equal(tarn_err_name(names[i].code), names[i].name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_appends_keep_a_nul),
        cmocka_unit_test(test_buf_xml_and_steal),
        cmocka_unit_test(test_buf_json_string),
        cmocka_unit_test(test_buf_csv_field),
        cmocka_unit_test(test_net_cidrs),
        cmocka_unit_test(test_buf_refuses_sizes_that_wrap),
        cmocka_unit_test(test_arena_aligned_and_zeroed),
        cmocka_unit_test(test_arena_strings),
        cmocka_unit_test(test_arena_refuses_sizes_that_wrap),
        cmocka_unit_test_setup_teardown(test_fs_mkdir_and_atomic_writes, fs_setup, fs_teardown),
        cmocka_unit_test_setup_teardown(test_fs_read_all_and_sync, fs_setup, fs_teardown),
        cmocka_unit_test(test_hash_digests),
        cmocka_unit_test(test_hash_multi),
        cmocka_unit_test(test_hash_hex_and_base64),
        cmocka_unit_test(test_hash_equal),
        cmocka_unit_test(test_time_formats),
        cmocka_unit_test(test_time_clocks),
        cmocka_unit_test(test_err_records),
        cmocka_unit_test(test_err_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
