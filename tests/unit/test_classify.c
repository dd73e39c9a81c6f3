/* Unit tests of file classification: the match functions over a file's first bytes, and
 * classify_file end to end through the engine (formats, schemas, options and refusals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "catalog/classify.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- classify_match ---- */

static const char *match(const char *s, size_t n, const char **why)
{
    *why = NULL;
    return classify_match((const uint8_t *)s, n, why);
}
#define MATCH(lit, why) match((lit), sizeof(lit) - 1, (why))

static void test_match_formats(void **state)
{
    (void)state;
    const char *why;
    assert_string_equal(MATCH("PAR1\x15\x04\x15\x00", &why), "parquet");
    assert_null(why);
    assert_string_equal(MATCH("  [{\"a\":1}]", &why), "json");
    assert_string_equal(MATCH("\r\n\t[1,2]", &why), "json");
    assert_string_equal(MATCH("{\"a\":1}\n", &why), "jsonl");
    assert_string_equal(MATCH("{\"a\":1}\n{\"a\":2}\n", &why), "jsonl");
    assert_string_equal(MATCH("a\tb\n1\t2\n", &why), "tsv");
    assert_string_equal(MATCH("a,b\n1,2\n", &why), "csv");
    assert_string_equal(MATCH("a;b;c\n1;2;3\n", &why), "csv");
    assert_string_equal(MATCH("just one line", &why), "csv");
    /* The first line decides between TSV and CSV: more commas than tabs is CSV. */
    assert_string_equal(MATCH("a,b,c\td\n1,2,3\t4\n", &why), "csv");
    assert_string_equal(MATCH("a,b\n1\t2\t3\n", &why), "csv");
    /* A UTF-8 byte order mark is skipped. */
    assert_string_equal(MATCH("\xEF\xBB\xBF{\"a\":1}\n", &why), "jsonl");
    assert_string_equal(MATCH("\xEF\xBB\xBF  [{\"a\":1}]", &why), "json");
    assert_string_equal(MATCH("\xEF\xBB\xBF" "a,b\n", &why), "csv");
    /* UTF-16 text (with its byte order mark) holds NUL bytes but is text. */
    assert_string_equal(MATCH("\xFF\xFE" "a\0,\0b\0\n\0", &why), "csv");
    /* Latin-1 bytes are text. */
    assert_string_equal(MATCH("name\nJos\xE9\n", &why), "csv");
}

static void test_match_refusals(void **state)
{
    (void)state;
    const char *why;
    assert_null(MATCH("a,b\n1,\0" "2\n", &why));
    assert_non_null(why);
    assert_non_null(strstr(why, "binary"));
    assert_null(MATCH("\x7f" "ELF\x02\x01\x01\x00\x00\x00", &why));
    assert_non_null(why);
    assert_true(why[0] != '\0');
    assert_null(match("", 0, &why));
    assert_string_equal(why, "empty file");
    /* "PAR" alone is too short for the magic, and text after all. */
    assert_string_equal(MATCH("PAR", &why), "csv");
    /* why may be NULL. */
    assert_null(classify_match((const uint8_t *)"\0\0", 2, NULL));
}

/* ---- classify_file ---- */

typedef struct {
    char dir[64];
    engine_t *e;
    engine_conn_t *c;
    arena_t *a;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tarn_err_t err = {0};
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/tarn-classify-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    const char *dirs[] = {f->dir, NULL};
    if (engine_open(&f->e, &(engine_opts_t){.dirs = dirs, .threads = 1}, &err) || engine_connect(f->e, &f->c, &err)) {
        fprintf(stderr, "engine: %s\n", err.msg);
        return -1;
    }
    if (!(f->a = arena_create()))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    arena_free(f->a);
    engine_disconnect(f->c);
    engine_close(f->e);
    int rc = fs_remove_tree(f->dir);
    free(f);
    return rc ? -1 : 0;
}

static const char *write_file(fixture_t *f, const char *name, const void *data, size_t n)
{
    char *path = arena_sprintf(f->a, "%s/%s", f->dir, name);
    assert_non_null(path);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    return path;
}
#define WRITE(f, name, lit) write_file((f), (name), (lit), sizeof(lit) - 1)

/* Classifies path, expecting success and format; the caller frees r. */
static void classify_ok(fixture_t *f, const char *path, const char *format, classify_result_t *r)
{
    tarn_err_t err = {0};
    int rc = classify_file(r, f->c, path, f->a, &err);
    if (rc)
        fail_msg("classify_file(%s) = %d: %s", path, rc, err.msg);
    assert_non_null(r->format);
    assert_string_equal(r->format, format);
    assert_non_null(r->options);
}

/* Classifies path, expecting TARN_EINVAL with a reason; returns the reason (in the arena). */
static const char *classify_refused(fixture_t *f, const char *path)
{
    tarn_err_t err = {0};
    classify_result_t r;
    int rc = classify_file(&r, f->c, path, f->a, &err);
    if (rc != TARN_EINVAL)
        fail_msg("classify_file(%s) = %d, wanted TARN_EINVAL (%s)", path, rc, err.msg);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(r.schema.n, 0);
    classify_result_free(&r);
    return arena_strdup(f->a, err.msg);
}

static void assert_col(const classify_result_t *r, size_t i, const char *name, const char *type)
{
    assert_true(i < r->schema.n);
    assert_string_equal(r->schema.cols[i].name, name);
    assert_string_equal(r->schema.cols[i].type, type);
}

static const char *opt_str(const classify_result_t *r, const char *key)
{
    const char *v = json_string_value(json_object_get(r->options, key));
    if (!v)
        fail_msg("option %s missing or not a string", key);
    return v;
}

static void test_file_csv(void **state)
{
    fixture_t *f = *state;
    classify_result_t r;
    const char *p = WRITE(f, "orders.csv", "id,name,amount\n1,alice,1.5\n2,bob,2.25\n3,carol,10\n");
    classify_ok(f, p, "csv", &r);
    assert_int_equal(r.schema.n, 3);
    assert_col(&r, 0, "id", "BIGINT");
    assert_col(&r, 1, "name", "VARCHAR");
    assert_col(&r, 2, "amount", "DOUBLE");
    assert_true(r.schema.cols[0].nullable);
    assert_string_equal(opt_str(&r, "delimiter"), ",");
    assert_true(json_is_true(json_object_get(r.options, "header")));
    assert_string_equal(opt_str(&r, "compression"), "none");
    assert_string_equal(opt_str(&r, "encoding"), "utf-8");
    assert_int_equal(r.rows, -1);
    classify_result_free(&r);
    assert_null(r.options);
    assert_int_equal(r.schema.n, 0);

    /* Semicolons are sniffed too. */
    p = WRITE(f, "semi.csv", "a;b\n1;x\n2;y\n");
    classify_ok(f, p, "csv", &r);
    assert_string_equal(opt_str(&r, "delimiter"), ";");
    assert_int_equal(r.schema.n, 2);
    assert_col(&r, 0, "a", "BIGINT");
    assert_col(&r, 1, "b", "VARCHAR");
    classify_result_free(&r);
}

static void test_file_tsv(void **state)
{
    fixture_t *f = *state;
    classify_result_t r;
    const char *p = WRITE(f, "t.tsv", "id\tcity\tok\n1\tParis\ttrue\n2\tLyon\tfalse\n");
    classify_ok(f, p, "tsv", &r);
    assert_int_equal(r.schema.n, 3);
    assert_col(&r, 0, "id", "BIGINT");
    assert_col(&r, 1, "city", "VARCHAR");
    assert_col(&r, 2, "ok", "BOOLEAN");
    assert_string_equal(opt_str(&r, "delimiter"), "\t");
    assert_true(json_is_true(json_object_get(r.options, "header")));
    assert_string_equal(opt_str(&r, "compression"), "none");
    classify_result_free(&r);
}

static void test_file_jsonl(void **state)
{
    fixture_t *f = *state;
    classify_result_t r;
    const char *p = WRITE(f, "events.json",
                          "{\"id\":1,\"name\":\"a\",\"score\":1.5}\n"
                          "{\"id\":2,\"name\":\"b\",\"score\":2}\n");
    classify_ok(f, p, "jsonl", &r);
    assert_int_equal(r.schema.n, 3);
    assert_col(&r, 0, "id", "BIGINT");
    assert_col(&r, 1, "name", "VARCHAR");
    assert_col(&r, 2, "score", "DOUBLE");
    assert_string_equal(opt_str(&r, "layout"), "newline_delimited");
    assert_string_equal(opt_str(&r, "compression"), "none");
    classify_result_free(&r);
}

static void test_file_json_array(void **state)
{
    fixture_t *f = *state;
    classify_result_t r;
    const char *p = WRITE(f, "arr.json", "[\n  {\"a\": 1, \"b\": \"x\"},\n  {\"a\": 2, \"b\": \"y\"}\n]\n");
    classify_ok(f, p, "json", &r);
    assert_int_equal(r.schema.n, 2);
    assert_col(&r, 0, "a", "BIGINT");
    assert_col(&r, 1, "b", "VARCHAR");
    assert_string_equal(opt_str(&r, "layout"), "array");
    classify_result_free(&r);
}

static void test_file_gzip_csv(void **state)
{
    fixture_t *f = *state;
    classify_result_t r;
    char *path = arena_sprintf(f->a, "%s/data.csv.gz", f->dir);
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    static const char csv[] = "id,label,price\n1,x,0.5\n2,y,1.25\n3,z,7\n";
    assert_int_equal(gzwrite(gz, csv, sizeof csv - 1), (int)(sizeof csv - 1));
    assert_int_equal(gzclose(gz), Z_OK);
    classify_ok(f, path, "csv", &r);
    assert_string_equal(opt_str(&r, "compression"), "gzip");
    assert_string_equal(opt_str(&r, "delimiter"), ",");
    assert_true(json_is_true(json_object_get(r.options, "header")));
    assert_int_equal(r.schema.n, 3);
    assert_col(&r, 0, "id", "BIGINT");
    assert_col(&r, 1, "label", "VARCHAR");
    assert_col(&r, 2, "price", "DOUBLE");
    classify_result_free(&r);

    /* NDJSON inside gzip. */
    path = arena_sprintf(f->a, "%s/ev.json.gz", f->dir);
    gz = gzopen(path, "wb");
    assert_non_null(gz);
    static const char js[] = "{\"k\":1}\n{\"k\":2}\n";
    assert_int_equal(gzwrite(gz, js, sizeof js - 1), (int)(sizeof js - 1));
    assert_int_equal(gzclose(gz), Z_OK);
    classify_ok(f, path, "jsonl", &r);
    assert_string_equal(opt_str(&r, "compression"), "gzip");
    assert_col(&r, 0, "k", "BIGINT");
    classify_result_free(&r);

    /* A gzip header with garbage after it does not decompress. */
    const char *p = WRITE(f, "bad.gz", "\x1f\x8b\x08\x00garbage-garbage-garbage");
    const char *msg = classify_refused(f, p);
    assert_non_null(strstr(msg, "gzip"));
}

static void test_file_latin1(void **state)
{
    fixture_t *f = *state;
    classify_result_t r;
    const char *p = WRITE(f, "people.csv", "name,city\nJos\xE9,Paris\nRen\xE9,Lyon\n");
    classify_ok(f, p, "csv", &r);
    assert_string_equal(opt_str(&r, "encoding"), "latin-1");
    assert_int_equal(r.schema.n, 2);
    assert_col(&r, 0, "name", "VARCHAR");
    assert_col(&r, 1, "city", "VARCHAR");
    classify_result_free(&r);

    /* Valid UTF-8 stays utf-8. */
    p = WRITE(f, "people8.csv", "name,city\nJos\xC3\xA9,Paris\n");
    classify_ok(f, p, "csv", &r);
    assert_string_equal(opt_str(&r, "encoding"), "utf-8");
    classify_result_free(&r);
}

static void test_file_refusals(void **state)
{
    fixture_t *f = *state;
    const char *p = write_file(f, "empty.csv", "", 0);
    assert_string_equal(classify_refused(f, p), "empty file");

    static const uint8_t garbage[] = {0x00, 0x13, 0x37, 0xDE, 0xAD, 0xBE, 0xEF, 0x00,
                                      0xFF, 0x01, 0x02, 0x03, 'a',  ',',  'b',  '\n'};
    p = write_file(f, "x.csv", garbage, sizeof garbage);
    const char *msg = classify_refused(f, p);
    assert_non_null(strstr(msg, "binary"));

    /* "PAR1" without the footer. */
    p = WRITE(f, "fake.parquet", "PAR1 this is not really parquet at all");
    msg = classify_refused(f, p);
    assert_non_null(strstr(msg, "Parquet footer"));

    /* A key with a glob character is refused before reading. */
    p = WRITE(f, "a[1].csv", "a,b\n1,2\n");
    msg = classify_refused(f, p);
    assert_non_null(strstr(msg, "glob"));

    /* A missing file is not TARN_EINVAL. */
    tarn_err_t err = {0};
    classify_result_t r;
    char *missing = arena_sprintf(f->a, "%s/nope.csv", f->dir);
    assert_int_equal(classify_file(&r, f->c, missing, f->a, &err), TARN_ENOTFOUND);
    classify_result_free(&r);
}

static void test_file_too_many_columns(void **state)
{
    fixture_t *f = *state;
    const int ncols = 1700;
    size_t cap = (size_t)ncols * 16 + 16, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int row = 0; row < 3; row++) {
        for (int i = 0; i < ncols; i++) {
            if (row == 0)
                n += (size_t)snprintf(text + n, cap - n, "%sc%d", i ? "," : "", i);
            else
                n += (size_t)snprintf(text + n, cap - n, "%s%d", i ? "," : "", i + row);
        }
        text[n++] = '\n';
    }
    const char *p = write_file(f, "wide.csv", text, n);
    free(text);
    const char *msg = classify_refused(f, p);
    assert_non_null(strstr(msg, "1600"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_formats),
        cmocka_unit_test(test_match_refusals),
        cmocka_unit_test_setup_teardown(test_file_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_tsv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_jsonl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_json_array, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_gzip_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_latin1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_too_many_columns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
