/* Unit tests of the binlog row decoder: a TABLE_MAP with full metadata built byte by byte
 * as MariaDB writes it (names, signedness, charsets with exceptions, ENUM and SET values,
 * the primary key), and row images holding every column type the server has —
 * CHAR/VARCHAR/TEXT in utf8mb4 and latin1, ENUM, SET, TIMESTAMP(6), DATETIME, DATE, TIME
 * (negative, with fractions), DECIMAL (negative), FLOAT, DOUBLE, TINYINT..BIGINT signed and
 * unsigned, BIT, YEAR, BLOB — and NULLs; updates with two images, v2 events, an
 * integer-only table, and the refusal of short events and maps without names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ingest/sources/binlog_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t b[2048];
    size_t n;
} msg_t;

static void put(msg_t *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void u8(msg_t *m, unsigned v)
{
    m->b[m->n++] = (uint8_t)v;
}

static void le(msg_t *m, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++, v >>= 8)
        u8(m, (unsigned)(v & 0xff));
}

static void be(msg_t *m, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0;)
        u8(m, (unsigned)(v >> (8 * i) & 0xff));
}

static void lstr(msg_t *m, const char *s)
{
    u8(m, (unsigned)strlen(s));
    put(m, s, strlen(s));
}

/* An optional metadata field: its type, length and bytes. */
static void field(msg_t *m, unsigned type, const msg_t *f)
{
    u8(m, type);
    u8(m, (unsigned)f->n);
    put(m, f->b, f->n);
}

static uint8_t kinds[64];
static const bl_charsets_t charsets = {kinds, sizeof kinds};

static int setup(void **state)
{
    (void)state;
    memset(kinds, BL_CS_OTHER, sizeof kinds);
    kinds[45] = BL_CS_UTF8;  /* utf8mb4_general_ci */
    kinds[8] = BL_CS_LATIN1; /* latin1_swedish_ci */
    kinds[33] = BL_CS_UTF8;  /* utf8mb3_general_ci */
    return 0;
}

enum { NCOLS = 18 };
static const char *const names[NCOLS] = {"id", "c", "e", "s", "ts", "t", "dt", "d", "dec", "f",
                                         "db", "ti", "bi", "bt", "y", "txt", "bl", "vc"};

/* The table every test reads: its TABLE_MAP event's post-header and body. */
static msg_t table_map(bool with_names)
{
    msg_t m = {0};
    le(&m, 42, 6); /* table id */
    le(&m, 1, 2);  /* flags */
    lstr(&m, "shop");
    u8(&m, 0);
    lstr(&m, "kinds");
    u8(&m, 0);
    u8(&m, NCOLS);
    static const uint8_t types[NCOLS] = {3, 254, 254, 254, 17, 19, 18, 10, 246, 4, 5, 1, 8, 16,
                                         13, 252, 252, 15};
    put(&m, types, NCOLS);
    msg_t meta = {0};
    u8(&meta, 0xfe), u8(&meta, 40); /* CHAR(10) utf8mb4: 40 bytes */
    u8(&meta, 0xf7), u8(&meta, 1);  /* ENUM, one byte */
    u8(&meta, 0xf8), u8(&meta, 1);  /* SET, one byte */
    u8(&meta, 6);                   /* TIMESTAMP(6) */
    u8(&meta, 3);                   /* TIME(3) */
    u8(&meta, 0);                   /* DATETIME */
    u8(&meta, 10), u8(&meta, 2);    /* DECIMAL(10,2) */
    u8(&meta, 4);                   /* FLOAT */
    u8(&meta, 8);                   /* DOUBLE */
    u8(&meta, 2), u8(&meta, 1);     /* BIT(10): 2 bits and 1 byte */
    u8(&meta, 2);                   /* TEXT: a 2-byte length */
    u8(&meta, 2);                   /* BLOB */
    le(&meta, 300, 2);              /* VARCHAR(300) latin1 */
    u8(&m, (unsigned)meta.n);
    put(&m, meta.b, meta.n);
    le(&m, 0xfffffe, 3); /* nullable: all but id */
    msg_t f = {0};
    u8(&f, 0x08); /* signedness of id, dec, f, db, ti, bi: ti unsigned */
    field(&m, 1, &f);
    f.n = 0;
    u8(&f, 45), u8(&f, 2), u8(&f, 63), u8(&f, 3), u8(&f, 8); /* utf8mb4; bl binary, vc latin1 */
    field(&m, 2, &f);
    if (with_names) {
        f.n = 0;
        for (int i = 0; i < NCOLS; i++)
            lstr(&f, names[i]);
        field(&m, 4, &f);
    }
    f.n = 0;
    u8(&f, 3), lstr(&f, "x"), lstr(&f, "y"), lstr(&f, "z");
    field(&m, 5, &f);
    f.n = 0;
    u8(&f, 2), lstr(&f, "a"), lstr(&f, "b\xc3\xa9");
    field(&m, 6, &f);
    f.n = 0;
    u8(&f, 0);
    field(&m, 8, &f);
    f.n = 0;
    u8(&f, 45);
    field(&m, 10, &f);
    return m;
}

static bl_table_t *parse_map(void)
{
    msg_t m = table_map(true);
    bl_table_t *t = NULL;
    tarn_err_t err = {0};
    assert_int_equal(bl_table_parse(&t, m.b, m.n, &charsets, &err), 0);
    return t;
}

static void test_table_map(void **state)
{
    (void)state;
    bl_table_t *t = parse_map();
    assert_string_equal(t->db, "shop");
    assert_string_equal(t->name, "kinds");
    assert_int_equal(t->id, 42);
    assert_int_equal(t->ncols, NCOLS);
    for (int i = 0; i < NCOLS; i++)
        assert_string_equal(t->cols[i].name, names[i]);
    assert_true(t->cols[0].key);
    assert_false(t->cols[1].key);
    assert_int_equal(t->cols[1].type, BL_STRING);
    assert_int_equal(t->cols[1].meta, 40);
    assert_int_equal(t->cols[2].type, BL_ENUM);
    assert_int_equal(t->cols[2].nvalues, 2);
    assert_int_equal(t->cols[3].type, BL_SET);
    assert_int_equal(t->cols[3].nvalues, 3);
    assert_true(t->cols[11].is_unsigned);
    assert_false(t->cols[12].is_unsigned);
    assert_int_equal(t->cols[13].meta, 10);
    assert_int_equal(t->cols[15].cs, BL_CS_UTF8);
    assert_int_equal(t->cols[16].cs, BL_CS_BINARY);
    assert_int_equal(t->cols[17].cs, BL_CS_LATIN1);
    assert_int_equal(t->cols[17].type, BL_VARCHAR);
    char buf[32];
    const char *ra, *cv;
    static const char *const want[NCOLS] = {
        "INTEGER", "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ", "VARCHAR", "TIMESTAMP",
        "DATE", "DECIMAL(10,2)", "FLOAT", "DOUBLE", "UTINYINT", "BIGINT", "UBIGINT",
        "SMALLINT", "VARCHAR", "BLOB", "VARCHAR"};
    for (int i = 0; i < NCOLS; i++)
        assert_string_equal(bl_col_type(&t->cols[i], buf, sizeof buf, &ra, &cv), want[i]);
    bl_col_type(&t->cols[16], buf, sizeof buf, &ra, &cv);
    assert_string_equal(ra, "VARCHAR");
    assert_string_equal(cv, "unhex(%s)");
    bl_table_free(t);
}

static void test_map_without_names(void **state)
{
    (void)state;
    msg_t m = table_map(false);
    bl_table_t *t = NULL;
    tarn_err_t err = {0};
    assert_int_equal(bl_table_parse(&t, m.b, m.n, &charsets, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "binlog_row_metadata = FULL"));
    for (size_t cut = 0; cut < m.n - 1; cut += 3) {
        tarn_err_t e = {0};
        assert_int_not_equal(bl_table_parse(&t, m.b, cut, &charsets, &e), 0);
    }
}

/* A row image of the table: every column set. */
static void full_row(msg_t *m)
{
    le(m, 0, 3); /* no NULLs */
    le(m, (uint64_t)(int64_t)-7, 4);               /* id -7 */
    lstr(m, "h\xc3\xa9llo");                       /* CHAR: 1-byte length, UTF-8 */
    u8(m, 2);                                      /* ENUM: 'bé' */
    u8(m, 5);                                      /* SET: x,z */
    be(m, 1700000000, 4), be(m, 123456, 3);        /* TIMESTAMP(6) */
    be(m, 0x800000 - 2, 3), be(m, 65536 - 5000, 2); /* TIME(3) -00:00:01.500 */
    be(m, ((uint64_t)((2024 * 13 + 2) << 5 | 29) << 17 | (13 << 12 | 14 << 6 | 15)) +
              0x8000000000ull, 5);                  /* DATETIME 2024-02-29 13:14:15 */
    le(m, 2024u << 9 | 2 << 5 | 29, 3);             /* DATE 2024-02-29 */
    be(m, 0x7ffffb2d, 4), u8(m, 0xc7);              /* DECIMAL(10,2) -1234.56 */
    le(m, 0x3fc00000, 4);                           /* FLOAT 1.5 */
    double d = -2.25;
    uint64_t dv;
    memcpy(&dv, &d, 8);
    le(m, dv, 8);                                   /* DOUBLE */
    u8(m, 255);                                     /* TINYINT UNSIGNED */
    le(m, (uint64_t)INT64_MIN, 8);                  /* BIGINT */
    be(m, 0x2ab, 2);                                /* BIT(10) */
    u8(m, 124);                                     /* YEAR 2024 */
    le(m, 5, 2), put(m, "a\"b\n\t", 5);              /* TEXT */
    le(m, 3, 2), put(m, "\x00\xff\x10", 3);          /* BLOB */
    le(m, 6, 2), put(m, "caf\xe9 \x80", 6);          /* VARCHAR latin1: 2-byte length */
}

static const char *const full_want[NCOLS] = {
    "-7", "\"h\xc3\xa9llo\"", "\"b\xc3\xa9\"", "\"x,z\"", "\"2023-11-14 22:13:20.123456+00\"",
    "\"-00:00:01.500000\"", "\"2024-02-29 13:14:15.000000\"", "\"2024-02-29\"", "\"-1234.56\"",
    "1.5", "-2.25", "255", "-9223372036854775808", "683", "2024", "\"a\\\"b\\n\\t\"",
    "\"00ff10\"", "\"caf\xc3\xa9 \xe2\x82\xac\""};

static void assert_image(const bl_image_t *im, const char *const *want)
{
    for (size_t i = 0; i < im->ncols; i++) {
        char got[200];
        snprintf(got, sizeof got, "%.*s", (int)im->len[i], im->text.data + im->off[i]);
        assert_string_equal(got, want[i]);
    }
}

static msg_t rows_event(int type)
{
    msg_t m = {0};
    le(&m, 42, 6);
    le(&m, 1, 2);
    if (type >= 30)
        le(&m, 2, 2); /* v2: no extra data */
    u8(&m, NCOLS);
    le(&m, 0x3ffff, 3);
    if (type == 24 || type == 31)
        le(&m, 0x3ffff, 3);
    return m;
}

static void test_every_type(void **state)
{
    (void)state;
    bl_table_t *t = parse_map();
    msg_t m = rows_event(23);
    full_row(&m);
    /* A second row of NULLs but the key. */
    le(&m, 0xfffffe, 3);
    le(&m, 8, 4);
    bl_rows_t r;
    bl_image_t before = {0}, after = {0};
    tarn_err_t err = {0};
    assert_int_equal(bl_rows_open(&r, 23, m.b, m.n, &err), 0);
    assert_int_equal(r.op, 'c');
    assert_int_equal(r.table_id, 42);
    assert_int_equal(bl_rows_next(&r, t, &before, &after, &err), 1);
    assert_image(&after, full_want);
    assert_int_equal(bl_rows_next(&r, t, &before, &after, &err), 1);
    const char *nulls[NCOLS];
    for (int i = 0; i < NCOLS; i++)
        nulls[i] = i ? "null" : "8";
    assert_image(&after, nulls);
    assert_int_equal(bl_rows_next(&r, t, &before, &after, &err), 0);
    bl_image_free(&before);
    bl_image_free(&after);
    bl_table_free(t);
}

static void test_update_v2_and_delete(void **state)
{
    (void)state;
    bl_table_t *t = parse_map();
    msg_t m = rows_event(31);
    full_row(&m);
    le(&m, 0xfffffe, 3);
    le(&m, 9, 4);
    bl_rows_t r;
    bl_image_t before = {0}, after = {0};
    tarn_err_t err = {0};
    assert_int_equal(bl_rows_open(&r, 31, m.b, m.n, &err), 0);
    assert_int_equal(r.op, 'u');
    assert_int_equal(bl_rows_next(&r, t, &before, &after, &err), 1);
    assert_image(&before, full_want);
    assert_int_equal(after.len[0], 1);
    assert_memory_equal(after.text.data + after.off[0], "9", 1);
    assert_int_equal(bl_rows_next(&r, t, &before, &after, &err), 0);

    m = rows_event(25);
    full_row(&m);
    assert_int_equal(bl_rows_open(&r, 25, m.b, m.n, &err), 0);
    assert_int_equal(r.op, 'd');
    assert_int_equal(bl_rows_next(&r, t, &before, &after, &err), 1);
    assert_image(&before, full_want);

    /* Cut anywhere, the row is refused, never read past its end. */
    for (size_t cut = 1; cut < m.n; cut++) {
        tarn_err_t e = {0};
        int rc = bl_rows_open(&r, 25, m.b, cut, &e);
        if (!rc)
            rc = bl_rows_next(&r, t, &before, &after, &e);
        assert_true(rc < 0 || (rc == 0 && cut <= 8 + 1 + 3));
    }
    bl_image_free(&before);
    bl_image_free(&after);
    bl_table_free(t);
}

/* Tables of integers alone, every width, signed and unsigned, at their limits. */
static void test_integer_only_table(void **state)
{
    (void)state;
    msg_t m = {0};
    le(&m, 7, 6), le(&m, 1, 2), lstr(&m, "d"), u8(&m, 0), lstr(&m, "ints"), u8(&m, 0);
    static const uint8_t types[10] = {1, 1, 2, 2, 9, 9, 3, 3, 8, 8};
    u8(&m, 10);
    put(&m, types, 10);
    u8(&m, 0); /* no per-column metadata */
    le(&m, 0x3ff, 2);
    msg_t f = {0};
    u8(&f, 0x55), u8(&f, 0x40); /* odd columns unsigned: 0101 0101 01 */
    field(&m, 1, &f);
    f.n = 0;
    for (int i = 0; i < 10; i++) {
        char n[4] = {'c', (char)('0' + i), 0};
        lstr(&f, n);
    }
    field(&m, 4, &f);
    bl_table_t *t = NULL;
    tarn_err_t err = {0};
    assert_int_equal(bl_table_parse(&t, m.b, m.n, &charsets, &err), 0);
    msg_t r = {0};
    le(&r, 7, 6), le(&r, 0, 2), u8(&r, 10), le(&r, 0x3ff, 2);
    le(&r, 0, 2);
    u8(&r, 0x80), u8(&r, 0xff);
    le(&r, 0x8000, 2), le(&r, 0xffff, 2);
    le(&r, 0x800000, 3), le(&r, 0xffffff, 3);
    le(&r, 0x80000000, 4), le(&r, 0xffffffff, 4);
    le(&r, 0x8000000000000000ull, 8), le(&r, UINT64_MAX, 8);
    bl_rows_t rows;
    bl_image_t before = {0}, after = {0};
    assert_int_equal(bl_rows_open(&rows, 30, (msg_t){0}.b, 0, &err) < 0, 1);
    assert_int_equal(bl_rows_open(&rows, 23, r.b, r.n, &err), 0);
    assert_int_equal(bl_rows_next(&rows, t, &before, &after, &err), 1);
    static const char *const want[10] = {
        "-128", "255", "-32768", "65535", "-8388608", "16777215", "-2147483648", "4294967295",
        "-9223372036854775808", "18446744073709551615"};
    assert_image(&after, want);
    char buf[32];
    const char *ra, *cv;
    assert_string_equal(bl_col_type(&t->cols[5], buf, sizeof buf, &ra, &cv), "UINTEGER");
    assert_string_equal(bl_col_type(&t->cols[9], buf, sizeof buf, &ra, &cv), "UBIGINT");
    bl_image_free(&before);
    bl_image_free(&after);
    bl_table_free(t);
}

/* Single values: each a column of its own. */
static void value_is(bl_col_t c, const void *bytes, size_t n, const char *want)
{
    buf_t out = BUF_INIT;
    size_t used = 0;
    tarn_err_t err = {0};
    if (!c.name)
        c.name = "v";
    assert_int_equal(bl_value_json(&out, &c, bytes, n, &used, &err), 0);
    assert_int_equal(used, n);
    buf_putc(&out, 0);
    assert_string_equal(out.data, want);
    buf_free(&out);
}

static void test_values(void **state)
{
    (void)state;
    /* TIME: 838:59:59 and -838:59:59 with no fraction; 12:34:56.789012 with six digits. */
    uint32_t hms = 838u << 12 | 59 << 6 | 59;
    uint8_t b[8] = {(uint8_t)((0x800000 + hms) >> 16), (uint8_t)((0x800000 + hms) >> 8),
                    (uint8_t)(0x800000 + hms)};
    value_is((bl_col_t){.type = BL_TIME2, .meta = 0}, b, 3, "\"838:59:59.000000\"");
    uint32_t neg = 0x800000 - hms;
    uint8_t nb[3] = {(uint8_t)(neg >> 16), (uint8_t)(neg >> 8), (uint8_t)neg};
    value_is((bl_col_t){.type = BL_TIME2, .meta = 0}, nb, 3, "\"-838:59:59.000000\"");
    uint64_t packed = ((uint64_t)(12u << 12 | 34 << 6 | 56) << 24 | 789012) + 0x800000000000ull;
    uint8_t t6[6];
    for (int i = 0; i < 6; i++)
        t6[i] = (uint8_t)(packed >> (8 * (5 - i)));
    value_is((bl_col_t){.type = BL_TIME2, .meta = 6}, t6, 6, "\"12:34:56.789012\"");
    /* DATETIME(2) with its fraction in hundredths; a zero date is null. */
    uint64_t dt = ((uint64_t)((1999 * 13 + 12) << 5 | 31) << 17 | (23 << 12 | 59 << 6 | 58)) +
                  0x8000000000ull;
    uint8_t d2[6] = {(uint8_t)(dt >> 32), (uint8_t)(dt >> 24), (uint8_t)(dt >> 16),
                     (uint8_t)(dt >> 8), (uint8_t)dt, 99};
    value_is((bl_col_t){.type = BL_DATETIME2, .meta = 2}, d2, 6,
             "\"1999-12-31 23:59:58.990000\"");
    uint8_t zero[5] = {0x80, 0, 0, 0, 0};
    value_is((bl_col_t){.type = BL_DATETIME2, .meta = 0}, zero, 5, "null");
    uint8_t zdate[3] = {0};
    value_is((bl_col_t){.type = BL_DATE}, zdate, 3, "null");
    uint8_t zts[4] = {0};
    value_is((bl_col_t){.type = BL_TIMESTAMP2, .meta = 0}, zts, 4, "null");
    uint8_t ts3[6] = {0x65, 0x53, 0xf1, 0x00, 0x00, 0x7b}; /* 1700000000 .123 (fsp 3) */
    value_is((bl_col_t){.type = BL_TIMESTAMP2, .meta = 3}, ts3, 6,
             "\"2023-11-14 22:13:20.012300+00\"");
    /* DECIMAL(20,6) 12345678901234.000001 and DECIMAL(5,0) 0; DECIMAL(4,4) -0.5. */
    /* intg 14: 5 digits (3 bytes: 12345) + 9 digits (678901234); frac 6 digits (3 bytes). */
    uint8_t dec14[10] = {0x80, 0x30, 0x39, 0x28, 0x77, 0x35, 0xf2, 0x00, 0x00, 0x01};
    value_is((bl_col_t){.type = BL_NEWDECIMAL, .meta = 20 << 8 | 6}, dec14, 10,
             "\"12345678901234.000001\"");
    uint8_t d0[3] = {0x80, 0, 0};
    value_is((bl_col_t){.type = BL_NEWDECIMAL, .meta = 5 << 8}, d0, 3, "\"0\"");
    uint8_t dh[2] = {0x6c, 0x77}; /* 0x93 0x88 (5000 with the sign bit), inverted */
    value_is((bl_col_t){.type = BL_NEWDECIMAL, .meta = 4 << 8 | 4}, dh, 2, "\"-0.5000\"");
    /* CHAR(100) in utf8mb4 is 400 bytes: a 2-byte length, and the real type's folded bits. */
    uint8_t c2[5] = {3, 0, 'a', 'b', 'c'};
    value_is((bl_col_t){.type = BL_STRING, .meta = 400}, c2, 5, "\"abc\"");
    /* BINARY(4) comes without its trailing zero bytes. */
    uint8_t bn[3] = {2, 'a', 'b'};
    value_is((bl_col_t){.type = BL_STRING, .meta = 4, .cs = BL_CS_BINARY}, bn, 3,
             "\"61620000\"");
    /* BIT(64) and a 4-byte BLOB length; YEAR 0; a NaN float. */
    uint8_t bit[8] = {0xff, 0, 0, 0, 0, 0, 0, 1};
    value_is((bl_col_t){.type = BL_BIT, .meta = 64}, bit, 8, "18374686479671623681");
    uint8_t lb[6] = {2, 0, 0, 0, 'h', 'i'};
    value_is((bl_col_t){.type = BL_BLOB, .meta = 4, .cs = BL_CS_UTF8}, lb, 6, "\"hi\"");
    uint8_t y0[1] = {0};
    value_is((bl_col_t){.type = BL_YEAR}, y0, 1, "0");
    uint8_t nan[4] = {0, 0, 0xc0, 0x7f};
    value_is((bl_col_t){.type = BL_FLOAT, .meta = 4}, nan, 4, "\"NaN\"");
    /* An empty SET and the ENUM error value ''. */
    char *vals[] = {"a", "b"};
    uint8_t z1[1] = {0};
    value_is((bl_col_t){.type = BL_SET, .meta = 1, .values = vals, .nvalues = 2}, z1, 1, "\"\"");
    value_is((bl_col_t){.type = BL_ENUM, .meta = 1, .values = vals, .nvalues = 2}, z1, 1, "\"\"");
    /* An unknown charset is refused with the fix. */
    buf_t out = BUF_INIT;
    size_t used;
    tarn_err_t err = {0};
    bl_col_t other = {.name = "v", .type = BL_VARCHAR, .meta = 10, .cs = BL_CS_OTHER,
                      .charset = "koi8r"};
    assert_int_equal(bl_value_json(&out, &other, c2 + 1, 4, &used, &err), TARN_EINVAL);
    assert_non_null(strstr(err.msg, "CONVERT TO CHARACTER SET utf8mb4"));
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_table_map, setup),
        cmocka_unit_test_setup(test_map_without_names, setup),
        cmocka_unit_test_setup(test_every_type, setup),
        cmocka_unit_test_setup(test_update_v2_and_delete, setup),
        cmocka_unit_test_setup(test_integer_only_table, setup),
        cmocka_unit_test_setup(test_values, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
