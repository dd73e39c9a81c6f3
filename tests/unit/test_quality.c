/* Unit tests of quality rules as SQL: each row rule flags exactly the rows it should
 * (NULLs fail only not_null, as dbt's tests do), unique flags every copy of a repeated
 * key, and the table-wide rules measure and judge row counts and freshness. The SQL runs
 * on a real engine over a VALUES relation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "process/pipeline_spec.h"
#include "process/quality.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    snprintf(f->dir, sizeof f->dir, "/tmp/tarn-quality-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    const char *dirs[] = {f->dir, NULL};
    if (engine_open(&f->e, &(engine_opts_t){.dirs = dirs, .threads = 1}, &err) ||
        engine_connect(f->e, &f->c, &err))
        return -1;
    f->a = arena_create();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    engine_disconnect(f->c);
    engine_close(f->e);
    arena_free(f->a);
    fs_remove_tree(f->dir);
    free(f);
    return 0;
}

/* The step of a spec with one quality step over table t. */
static pipeline_spec_t *spec_of(const char *rules)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "name: q\nsteps:\n  - name: check\n    quality:\n      table: cleaned.d.t\n"
             "      rules:\n%s",
             rules);
    pipeline_spec_t *s = NULL;
    tarn_err_t e = {0};
    if (pipeline_spec_parse(yaml, strlen(yaml), &s, &e))
        fprintf(stderr, "spec: %s\n", e.msg);
    return s;
}

#define ROWS                                                                                 \
    "(SELECT * FROM (VALUES (1, 'open', 5.0, 'a@b.c', TIMESTAMP '2020-01-01 00:00:00'),"    \
    " (2, 'lost', -1.0, 'nope', NULL), (2, NULL, NULL, NULL, NULL),"                        \
    " (NULL, 'shipped', 200.0, 'x@y.z', NULL)) AS v(id, status, amount, email, ts))"

/* "id:rule,rule;id:..." of the flagged rows, in id order. */
static char *flags(fixture_t *f, const pipeline_step_t *step)
{
    buf_t b = BUF_INIT;
    quality_flag_sql(&b, step, ROWS);
    char *sql = arena_sprintf(f->a,
                              "SELECT string_agg(coalesce(CAST(id AS VARCHAR), '-') || ':' ||"
                              " coalesce(array_to_string(list_sort(" QUALITY_FAILED_COL "), ','), ''), ';'"
                              " ORDER BY id NULLS LAST, status NULLS FIRST) FROM (%s)",
                              b.data);
    buf_free(&b);
    engine_rows_t r;
    tarn_err_t err = {0};
    if (engine_query(f->c, sql, 1, &r, f->a, &err)) {
        fprintf(stderr, "%s\n%s\n", err.msg, sql);
        return NULL;
    }
    return (char *)r.cells[0];
}

static void test_row_rules(void **state)
{
    fixture_t *f = *state;
    pipeline_spec_t *s = spec_of("        - {not_null: [id, status]}\n"
                                 "        - {unique: [id]}\n"
                                 "        - {accepted_values: {column: status, values: [open, shipped]}}\n"
                                 "        - {range: {column: amount, min: 0, max: 100}}\n"
                                 "        - {regex: {column: email, pattern: '^[^@]+@[^@]+$'}}\n"
                                 "        - {sql: \"amount > 0\", name: positive}\n");
    assert_non_null(s);
    char *got = flags(f, &s->steps[0]);
    assert_non_null(got);
    assert_string_equal(got, "1:;"
                             "2:not_null_id,unique_id;"
                             "2:accepted_values_status,positive,range_amount,regex_email,unique_id;"
                             "-:not_null_id,range_amount");
    pipeline_spec_free(s);
}

static void test_no_row_rules_flags_nothing(void **state)
{
    fixture_t *f = *state;
    pipeline_spec_t *s = spec_of("        - {row_count: {min: 1}}\n");
    assert_non_null(s);
    assert_string_equal(flags(f, &s->steps[0]), "1:;2:;2:;-:");
    pipeline_spec_free(s);
}

static const char *measure(fixture_t *f, const pipeline_rule_t *r)
{
    buf_t b = BUF_INIT;
    quality_table_sql(&b, r, ROWS);
    engine_rows_t out;
    tarn_err_t err = {0};
    int rc = engine_query(f->c, b.data, 1, &out, f->a, &err);
    buf_free(&b);
    assert_int_equal(rc, 0);
    return out.cells[0];
}

static void test_table_rules(void **state)
{
    fixture_t *f = *state;
    pipeline_spec_t *s = spec_of("        - {row_count: {min: 1, max: 3}}\n"
                                 "        - {row_count: {min: 4}, name: at_least_4}\n"
                                 "        - {freshness: {column: ts, max_age_hours: 24}}\n");
    assert_non_null(s);
    char detail[300];
    const pipeline_rule_t *r = s->steps[0].rules;
    assert_true(quality_rule_is_table(&r[0]));
    assert_string_equal(measure(f, &r[0]), "4");
    assert_false(quality_table_passes(&r[0], "4", detail, sizeof detail));
    assert_string_equal(detail, "4 rows; expected at least 1 and at most 3");
    assert_true(quality_table_passes(&r[1], measure(f, &r[1]), detail, sizeof detail));
    /* The newest value is years old. */
    assert_false(quality_table_passes(&r[2], measure(f, &r[2]), detail, sizeof detail));
    assert_non_null(strstr(detail, "the newest ts is"));
    assert_false(quality_table_passes(&r[2], NULL, detail, sizeof detail));
    assert_true(quality_table_passes(&r[2], "1.5", detail, sizeof detail));
    pipeline_spec_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_row_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_row_rules_flags_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
