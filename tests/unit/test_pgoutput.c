/* Unit tests of the pgoutput decoder: every message type of protocol version 1 built byte
 * by byte as a walsender sends it, relation announcements and their replacement, and the
 * refusal of malformed messages (truncated, unknown relation, unknown kinds, left-over
 * bytes, a tuple of the wrong width), plus LSN text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ingest/sources/pgoutput.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t b[1024];
    size_t n;
} msg_t;

static void put8(msg_t *m, uint8_t v)
{
    m->b[m->n++] = v;
}

static void put16(msg_t *m, uint16_t v)
{
    put8(m, (uint8_t)(v >> 8));
    put8(m, (uint8_t)v);
}

static void put32(msg_t *m, uint32_t v)
{
    put16(m, (uint16_t)(v >> 16));
    put16(m, (uint16_t)v);
}

static void put64(msg_t *m, uint64_t v)
{
    put32(m, (uint32_t)(v >> 32));
    put32(m, (uint32_t)v);
}

static void puts0(msg_t *m, const char *s)
{
    size_t k = strlen(s) + 1;
    memcpy(m->b + m->n, s, k);
    m->n += k;
}

static void put_text(msg_t *m, const char *s)
{
    put8(m, 't');
    put32(m, (uint32_t)strlen(s));
    memcpy(m->b + m->n, s, strlen(s));
    m->n += strlen(s);
}

/* Relation 16384 public.orders (id int4 key, note text, total numeric). */
static msg_t relation(const char *third)
{
    msg_t m = {0};
    put8(&m, 'R');
    put32(&m, 16384);
    puts0(&m, "public");
    puts0(&m, "orders");
    put8(&m, 'd');
    put16(&m, 3);
    put8(&m, 1), puts0(&m, "id"), put32(&m, 23), put32(&m, (uint32_t)-1);
    put8(&m, 0), puts0(&m, "note"), put32(&m, 25), put32(&m, (uint32_t)-1);
    put8(&m, 0), puts0(&m, third), put32(&m, 1700), put32(&m, (10 << 16 | 2) + 4);
    return m;
}

typedef struct {
    arena_t *a;
    pgoutput_rels_t *rels;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->a = arena_create();
    f->rels = pgoutput_rels_create();
    *state = f;
    return f->a && f->rels ? 0 : -1;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    pgoutput_rels_free(f->rels);
    arena_free(f->a);
    free(f);
    return 0;
}

static int decode(fx_t *f, const msg_t *m, pgoutput_msg_t *out, tarn_err_t *err)
{
    return pgoutput_decode(f->rels, m->b, m->n, out, f->a, err);
}

static void announce(fx_t *f)
{
    msg_t m = relation("total");
    pgoutput_msg_t out;
    tarn_err_t err = {0};
    assert_int_equal(decode(f, &m, &out, &err), 0);
}

static void test_begin_and_commit(void **state)
{
    fx_t *f = *state;
    msg_t m = {0};
    put8(&m, 'B');
    put64(&m, 0x16B374D848ULL);
    put64(&m, 1000000); /* one second after 2000-01-01 */
    put32(&m, 731);
    pgoutput_msg_t out;
    tarn_err_t err = {0};
    assert_int_equal(decode(f, &m, &out, &err), 0);
    assert_int_equal(out.tag, PGOUTPUT_BEGIN);
    assert_true(out.final_lsn == 0x16B374D848ULL);
    assert_true(out.commit_ts_us == INT64_C(946684801000000));
    assert_int_equal(out.xid, 731);

    m = (msg_t){0};
    put8(&m, 'C');
    put8(&m, 0);
    put64(&m, 0x100);
    put64(&m, 0x180);
    put64(&m, 0);
    assert_int_equal(decode(f, &m, &out, &err), 0);
    assert_int_equal(out.tag, PGOUTPUT_COMMIT);
    assert_true(out.commit_lsn == 0x100 && out.end_lsn == 0x180);
    assert_true(out.commit_ts_us == PGOUTPUT_EPOCH_US);
}

static void test_relation_and_insert(void **state)
{
    fx_t *f = *state;
    announce(f);
    const pgoutput_rel_t *rel = pgoutput_rels_get(f->rels, 16384);
    assert_non_null(rel);
    assert_string_equal(rel->nspname, "public");
    assert_string_equal(rel->relname, "orders");
    assert_int_equal(rel->replident, 'd');
    assert_int_equal(rel->ncols, 3);
    assert_true(rel->cols[0].key);
    assert_false(rel->cols[1].key);
    assert_int_equal(rel->cols[2].type_oid, 1700);

    msg_t m = {0};
    put8(&m, 'I');
    put32(&m, 16384);
    put8(&m, 'N');
    put16(&m, 3);
    put_text(&m, "42");
    put8(&m, 'n');
    put_text(&m, "19.99");
    pgoutput_msg_t out;
    tarn_err_t err = {0};
    assert_int_equal(decode(f, &m, &out, &err), 0);
    assert_int_equal(out.tag, PGOUTPUT_INSERT);
    assert_ptr_equal(out.rel, rel);
    assert_int_equal(out.newtup.ncols, 3);
    assert_int_equal(out.newtup.values[0].kind, PGOUTPUT_TEXT);
    assert_string_equal(out.newtup.values[0].data, "42");
    assert_int_equal(out.newtup.values[1].kind, PGOUTPUT_NULL);
    assert_string_equal(out.newtup.values[2].data, "19.99");
    assert_int_equal(out.newtup.values[2].len, 5);
}

static void test_update_delete_truncate(void **state)
{
    fx_t *f = *state;
    announce(f);
    /* An update that changed the key: old key, then the new row with an unchanged TOAST. */
    msg_t m = {0};
    put8(&m, 'U');
    put32(&m, 16384);
    put8(&m, 'K');
    put16(&m, 3);
    put_text(&m, "1");
    put8(&m, 'n');
    put8(&m, 'n');
    put8(&m, 'N');
    put16(&m, 3);
    put_text(&m, "2");
    put8(&m, 'u');
    put_text(&m, "5.00");
    pgoutput_msg_t out;
    tarn_err_t err = {0};
    assert_int_equal(decode(f, &m, &out, &err), 0);
    assert_int_equal(out.old_kind, 'K');
    assert_string_equal(out.old.values[0].data, "1");
    assert_string_equal(out.newtup.values[0].data, "2");
    assert_int_equal(out.newtup.values[1].kind, PGOUTPUT_UNCHANGED);

    /* An update that kept the key: no old tuple. */
    m = (msg_t){0};
    put8(&m, 'U');
    put32(&m, 16384);
    put8(&m, 'N');
    put16(&m, 3);
    put_text(&m, "2"), put_text(&m, "x"), put_text(&m, "1");
    assert_int_equal(decode(f, &m, &out, &err), 0);
    assert_int_equal(out.old_kind, 0);
    assert_int_equal(out.old.ncols, 0);

    /* A delete under REPLICA IDENTITY FULL: the whole old row, with a binary value. */
    m = (msg_t){0};
    put8(&m, 'D');
    put32(&m, 16384);
    put8(&m, 'O');
    put16(&m, 3);
    put_text(&m, "2");
    put8(&m, 'b'), put32(&m, 3), put8(&m, 'a'), put8(&m, 0), put8(&m, 'b');
    put8(&m, 'n');
    assert_int_equal(decode(f, &m, &out, &err), 0);
    assert_int_equal(out.tag, PGOUTPUT_DELETE);
    assert_int_equal(out.old_kind, 'O');
    assert_int_equal(out.old.values[1].kind, PGOUTPUT_BINARY);
    assert_int_equal(out.old.values[1].len, 3);
    assert_memory_equal(out.old.values[1].data, "a\0b", 3);

    m = (msg_t){0};
    put8(&m, 'T');
    put32(&m, 1);
    put8(&m, 2);
    put32(&m, 16384);
    assert_int_equal(decode(f, &m, &out, &err), 0);
    assert_int_equal(out.nrels, 1);
    assert_string_equal(out.rels[0]->relname, "orders");
    assert_int_equal(out.truncate_options, 2);
}

static void test_type_origin_message(void **state)
{
    fx_t *f = *state;
    msg_t m = {0};
    put8(&m, 'Y');
    put32(&m, 90001);
    puts0(&m, "public");
    puts0(&m, "mood");
    pgoutput_msg_t out;
    tarn_err_t err = {0};
    assert_int_equal(decode(f, &m, &out, &err), 0);
    assert_int_equal(out.type_oid, 90001);
    assert_string_equal(out.name, "mood");

    m = (msg_t){0};
    put8(&m, 'O');
    put64(&m, 77);
    puts0(&m, "upstream");
    assert_int_equal(decode(f, &m, &out, &err), 0);
    assert_string_equal(out.name, "upstream");

    m = (msg_t){0};
    put8(&m, 'M');
    put8(&m, 1);
    put64(&m, 99);
    puts0(&m, "tarn");
    put32(&m, 2);
    put8(&m, 'h'), put8(&m, 'i');
    assert_int_equal(decode(f, &m, &out, &err), 0);
    assert_true(out.transactional);
    assert_string_equal(out.name, "tarn");
    assert_int_equal(out.content_len, 2);
    assert_memory_equal(out.content, "hi", 2);
}

static void test_schema_change_replaces_the_relation(void **state)
{
    fx_t *f = *state;
    announce(f);
    const pgoutput_rel_t *before = pgoutput_rels_get(f->rels, 16384);
    msg_t m = relation("amount");
    pgoutput_msg_t out;
    tarn_err_t err = {0};
    assert_int_equal(decode(f, &m, &out, &err), 0);
    const pgoutput_rel_t *after = pgoutput_rels_get(f->rels, 16384);
    assert_ptr_equal(out.rel, after);
    assert_string_equal(after->cols[2].name, "amount");
    /* The earlier announcement stays readable for changes decoded with it. */
    assert_string_equal(before->cols[2].name, "total");
}

static void expect_refused(fx_t *f, const msg_t *m, const char *needle)
{
    pgoutput_msg_t out;
    tarn_err_t err = {0};
    assert_int_equal(decode(f, m, &out, &err), TARN_EINVAL);
    if (!strstr(err.msg, needle))
        fail_msg("'%s' not in '%s'", needle, err.msg);
}

static void test_malformed(void **state)
{
    fx_t *f = *state;
    msg_t m = {0};
    put8(&m, 'I');
    put32(&m, 5);
    put8(&m, 'N');
    put16(&m, 0);
    expect_refused(f, &m, "which no Relation message announced");

    announce(f);
    m = (msg_t){0};
    put8(&m, 'B');
    put64(&m, 1);
    expect_refused(f, &m, "the commit time expected at byte 9");

    m = (msg_t){0};
    put8(&m, 'Z');
    expect_refused(f, &m, "unknown type 0x5a");

    m = (msg_t){0};
    put8(&m, 'I');
    put32(&m, 16384);
    put8(&m, 'N');
    put16(&m, 3);
    put_text(&m, "1");
    put8(&m, 'x');
    expect_refused(f, &m, "column 2 has kind 0x78");

    m = (msg_t){0};
    put8(&m, 'I');
    put32(&m, 16384);
    put8(&m, 'N');
    put16(&m, 2);
    put_text(&m, "1");
    put8(&m, 'n');
    expect_refused(f, &m, "a tuple of 2 columns for public.orders, which has 3");

    m = (msg_t){0};
    put8(&m, 'I');
    put32(&m, 16384);
    put8(&m, 'N');
    put16(&m, 3);
    put8(&m, 't');
    put32(&m, 1000); /* longer than the message */
    expect_refused(f, &m, "a column's value expected");

    m = (msg_t){0};
    put8(&m, 'C');
    put8(&m, 0);
    put64(&m, 1), put64(&m, 2), put64(&m, 3);
    put8(&m, 0);
    expect_refused(f, &m, "1 bytes left over");

    m = (msg_t){0};
    put8(&m, 'Y');
    put32(&m, 1);
    m.b[m.n++] = 'p'; /* no NUL */
    expect_refused(f, &m, "has no terminating NUL");

    m = (msg_t){0};
    put8(&m, 'T');
    put32(&m, 1000000);
    put8(&m, 0);
    expect_refused(f, &m, "relations announced, the message holds fewer");
}

static void test_lsn_text(void **state)
{
    (void)state;
    char s[32];
    pgoutput_lsn_format(s, sizeof s, 0x16B374D848ULL);
    assert_string_equal(s, "16/B374D848");
    uint64_t v = 0;
    assert_true(pgoutput_lsn_parse("16/B374D848", &v));
    assert_true(v == 0x16B374D848ULL);
    assert_true(pgoutput_lsn_parse("0/0", &v) && v == 0);
    assert_false(pgoutput_lsn_parse("16", &v));
    assert_false(pgoutput_lsn_parse("16/xyz", &v));
    assert_false(pgoutput_lsn_parse("1/2 ", &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_begin_and_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relation_and_insert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_delete_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_origin_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_change_replaces_the_relation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test(test_lsn_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
