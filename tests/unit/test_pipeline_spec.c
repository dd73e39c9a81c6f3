/* Unit tests of pipeline specs: a full valid spec read field by field, each refusal with
 * the exact path it names, the steps' run order, and cycle reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "process/pipeline_spec.h"

#include <stdio.h>
#include <string.h>

static const char full_spec[] =
    "name: daily_sales\n"
    "owner: alice\n"
    "description: Orders of the day\n"
    "trigger:\n"
    "  on_new_data: [cleaned.sales.orders]\n"
    "  schedule: \"0 3 * * *\"\n"
    "  after: [load_customers]\n"
    "  batch_window_seconds: 45\n"
    "retries: {max_attempts: 3, backoff_seconds: 10}\n"
    "timeout_seconds: 1800\n"
    "incremental: true\n"
    "steps:\n"
    "  - name: clean_orders\n"
    "    sql: SELECT * FROM cleaned.sales.orders\n"
    "    target: {table: curated.sales.orders, mode: merge, keys: [order_id],\n"
    "             partition_by: [order_date], sort_by: [order_id], file_size_mb: 64}\n"
    "  - name: check_orders\n"
    "    depends_on: [clean_orders]\n"
    "    quality:\n"
    "      table: curated.sales.orders\n"
    "      rules:\n"
    "        - {not_null: [order_id], severity: error, on_error: quarantine}\n"
    "        - {unique: [order_id]}\n"
    "        - {accepted_values: {column: status, values: [open, shipped]}}\n"
    "        - {range: {column: amount, min: 0, max: 100000}}\n"
    "        - {regex: {column: email, pattern: '^[^@]+@[^@]+$'}, severity: warn}\n"
    "        - {row_count: {min: 1, max: 10000000}}\n"
    "        - {freshness: {column: updated_at, max_age_hours: 24}}\n"
    "        - {sql: \"amount >= discount\", name: amount_covers_discount}\n";

static pipeline_spec_t *parse_ok(const char *yaml)
{
    pipeline_spec_t *s = NULL;
    tarn_err_t e = {0};
    int rc = pipeline_spec_parse(yaml, strlen(yaml), &s, &e);
    if (rc != 0)
        fail_msg("parse failed: %s", e.msg);
    return s;
}

static void expect_error(const char *yaml, const char *msg)
{
    pipeline_spec_t *s = NULL;
    tarn_err_t e = {0};
    int rc = pipeline_spec_parse(yaml, strlen(yaml), &s, &e);
    assert_null(s);
    if (rc != TARN_EINVAL || strcmp(e.msg, msg) != 0)
        fail_msg("rc %d\n got  '%s'\n want '%s'", rc, e.msg, msg);
}

static void test_full_spec(void **state)
{
    (void)state;
    pipeline_spec_t *s = parse_ok(full_spec);
    assert_string_equal(s->name, "daily_sales");
    assert_string_equal(s->owner, "alice");
    assert_int_equal(s->on_new_data.n, 1);
    assert_string_equal(s->on_new_data.items[0], "cleaned.sales.orders");
    assert_string_equal(s->schedule, "0 3 * * *");
    assert_int_equal(s->cron.hour, 1u << 3);
    assert_string_equal(s->after.items[0], "load_customers");
    assert_int_equal(s->batch_window_seconds, 45);
    assert_int_equal(s->max_attempts, 3);
    assert_int_equal(s->backoff_seconds, 10);
    assert_int_equal(s->timeout_seconds, 1800);
    assert_true(s->incremental);
    assert_int_equal(s->n_steps, 2);
    const pipeline_step_t *a = &s->steps[0], *b = &s->steps[1];
    assert_string_equal(a->sql, "SELECT * FROM cleaned.sales.orders");
    assert_string_equal(a->target.table, "curated.sales.orders");
    assert_int_equal(a->target.mode, PIPELINE_MODE_MERGE);
    assert_string_equal(a->target.keys.items[0], "order_id");
    assert_string_equal(a->target.partition_by.items[0], "order_date");
    assert_string_equal(a->target.sort_by.items[0], "order_id");
    assert_int_equal(a->target.file_size_mb, 64);
    assert_true(b->is_quality);
    assert_string_equal(b->quality_table, "curated.sales.orders");
    assert_int_equal(b->n_rules, 8);
    const pipeline_rule_t *r = b->rules;
    assert_int_equal(r[0].kind, PIPELINE_RULE_NOT_NULL);
    assert_string_equal(r[0].name, "not_null_order_id");
    assert_true(r[0].quarantine);
    assert_false(r[0].warn);
    assert_int_equal(r[1].kind, PIPELINE_RULE_UNIQUE);
    assert_false(r[1].quarantine);
    assert_int_equal(r[2].kind, PIPELINE_RULE_ACCEPTED_VALUES);
    assert_string_equal(r[2].column, "status");
    assert_int_equal(r[2].values.n, 2);
    assert_string_equal(r[2].values.items[1], "shipped");
    assert_int_equal(r[3].kind, PIPELINE_RULE_RANGE);
    assert_true(r[3].has_min && r[3].has_max && r[3].min == 0 && r[3].max == 100000);
    assert_int_equal(r[4].kind, PIPELINE_RULE_REGEX);
    assert_string_equal(r[4].pattern, "^[^@]+@[^@]+$");
    assert_true(r[4].warn);
    assert_int_equal(r[5].kind, PIPELINE_RULE_ROW_COUNT);
    assert_true(r[5].min == 1 && r[5].max == 10000000);
    assert_int_equal(r[6].kind, PIPELINE_RULE_FRESHNESS);
    assert_true(r[6].max_age_hours == 24);
    assert_int_equal(r[7].kind, PIPELINE_RULE_SQL);
    assert_string_equal(r[7].sql, "amount >= discount");
    assert_string_equal(r[7].name, "amount_covers_discount");
    assert_int_equal(s->order[0], 0);
    assert_int_equal(s->order[1], 1);
    pipeline_spec_free(s);
}

static void test_defaults(void **state)
{
    (void)state;
    pipeline_spec_t *s = parse_ok("name: p\nsteps:\n  - name: a\n    sql: SELECT 1\n"
                                  "    target: {table: curated.d.t}\n");
    assert_null(s->owner);
    assert_null(s->schedule);
    assert_int_equal(s->max_attempts, 1);
    assert_int_equal(s->timeout_seconds, 3600);
    assert_int_equal(s->batch_window_seconds, 30);
    assert_false(s->incremental);
    assert_int_equal(s->steps[0].target.mode, PIPELINE_MODE_APPEND);
    assert_int_equal(s->steps[0].target.file_size_mb, 128);
    pipeline_spec_free(s);
}

#define STEP_A "  - name: a\n    sql: SELECT 1\n    target: {table: curated.d.t}\n"

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"steps: []\n", "name: is required"},
        {"name: p\n", "steps: is required"},
        {"name: p\nsteps: []\n", "steps: must hold 1 to 256 steps"},
        {"name: 9p\nsteps:\n" STEP_A,
         "name: '9p' is not a name (letters, digits and underscores, at most 63)"},
        {"name: p\nschedule: x\nsteps:\n" STEP_A,
         "schedule: unknown key; valid keys are name, owner, description, trigger, retries, "
         "timeout_seconds, incremental, steps"},
        {"name: p\nname: q\nsteps:\n" STEP_A, "name: given twice"},
        {"name: p\ntrigger: {cron: x}\nsteps:\n" STEP_A,
         "trigger.cron: unknown key; valid keys are on_new_data, schedule, after, "
         "batch_window_seconds"},
        {"name: p\ntrigger: {schedule: '0 3 * *'}\nsteps:\n" STEP_A,
         "trigger.schedule: cron expression '0 3 * *' has 4 fields; it needs 5 (minute hour "
         "day-of-month month day-of-week), or 6 with a second field first"},
        {"name: p\ntrigger: {schedule: '0 25 * * *'}\nsteps:\n" STEP_A,
         "trigger.schedule: cron hour field: 25 is out of range 0-23"},
        {"name: p\ntrigger: {on_new_data: [raw.d.t]}\nsteps:\n" STEP_A,
         "trigger.on_new_data[0]: must be a cleaned or curated table; raw files are read only "
         "once promoted (got 'raw.d.t')"},
        {"name: p\ntrigger: {on_new_data: [orders]}\nsteps:\n" STEP_A,
         "trigger.on_new_data[0]: must be zone.database.table (got 'orders')"},
        {"name: p\ntrigger: {after: [p]}\nsteps:\n" STEP_A,
         "trigger.after[0]: a pipeline cannot run after itself"},
        {"name: p\ntrigger: {batch_window_seconds: 4000}\nsteps:\n" STEP_A,
         "trigger.batch_window_seconds: must be an integer from 0 to 3600"},
        {"name: p\nretries: {max_attempts: 0}\nsteps:\n" STEP_A,
         "retries.max_attempts: must be an integer from 1 to 100"},
        {"name: p\nretries: {backoff: 1}\nsteps:\n" STEP_A,
         "retries.backoff: unknown key; valid keys are max_attempts, backoff_seconds"},
        {"name: p\ntimeout_seconds: ten\nsteps:\n" STEP_A,
         "timeout_seconds: must be an integer from 1 to 604800"},
        {"name: p\nincremental: yes\nsteps:\n" STEP_A, "incremental: must be true or false"},
        {"name: p\nsteps:\n" STEP_A "  - name: b\n    sql: SELECT 2\n"
         "    target: {table: curated.d.t, mode: upsert}\n",
         "steps[1].target.mode: must be append, overwrite, overwrite_partitions, merge or apply_changes"},
        {"name: p\nsteps:\n  - name: a\n    sql: SELECT 1\n"
         "    target: {table: curated.d.t, mode: merge}\n",
         "steps[0].target.keys: is required when mode is merge (the columns that identify a "
         "row)"},
        {"name: p\nsteps:\n  - name: a\n    sql: SELECT 1\n"
         "    target: {table: curated.d.t, mode: overwrite_partitions}\n",
         "steps[0].target.partition_by: is required when mode is overwrite_partitions"},
        {"name: p\nsteps:\n  - name: a\n    sql: SELECT 1\n    target: {table: cleaned.d.t}\n",
         "steps[0].target.table: must be in the curated zone (got 'cleaned.d.t')"},
        {"name: p\nsteps:\n  - name: a\n    sql: SELECT 1\n    target: {table: d.t}\n",
         "steps[0].target.table: must be zone.database.table (got 'd.t')"},
        {"name: p\nsteps:\n  - name: a\n    sql: SELECT 1\n    target: {table: gold.d.t}\n",
         "steps[0].target.table: zone must be raw, cleaned or curated (got 'gold.d.t')"},
        {"name: p\nsteps:\n  - name: a\n    sql: SELECT 1\n"
         "    target: {table: curated.d.t, file_size_mb: 0}\n",
         "steps[0].target.file_size_mb: must be an integer from 1 to 4096"},
        {"name: p\nsteps:\n  - name: a\n    sql: SELECT 1\n"
         "    target: {table: curated.d.t, format: csv}\n",
         "steps[0].target.format: unknown key; valid keys are table, mode, keys, partition_by, "
         "sort_by, file_size_mb"},
        {"name: p\nsteps:\n  - name: a\n    sql: SELECT 1\n",
         "steps[0].target: is required for a sql step"},
        {"name: p\nsteps:\n  - name: a\n", "steps[0]: needs sql (with a target) or quality"},
        {"name: p\nsteps:\n  - sql: SELECT 1\n    target: {table: curated.d.t}\n",
         "steps[0].name: is required"},
        {"name: p\nsteps:\n  - name: a\n    run: x\n",
         "steps[0].run: unknown key; valid keys are name, depends_on, sql, target, quality"},
        {"name: p\nsteps:\n" STEP_A STEP_A, "steps[1].name: 'a' is already used by steps[0]"},
        {"name: p\nsteps:\n" STEP_A "  - name: b\n    depends_on: [x]\n    sql: SELECT 2\n"
         "    target: {table: curated.d.u}\n",
         "steps[1].depends_on[0]: no step is named 'x'"},
        {"name: p\nsteps:\n  - name: a\n    depends_on: [a]\n    sql: SELECT 2\n"
         "    target: {table: curated.d.u}\n",
         "steps[0].depends_on[0]: a step cannot depend on itself"},
        {"name: p\nsteps:\n" STEP_A "  - name: q\n    quality: {rules: [{unique: [id]}]}\n",
         "steps[1].quality: needs exactly one of table or input"},
        {"name: p\nsteps:\n" STEP_A "  - name: q\n    quality: {input: z, rules: [{unique: [id]}]}\n",
         "steps[1].quality.input: must name another sql step (got 'z')"},
        {"name: p\nsteps:\n" STEP_A "  - name: q\n    quality: {input: a, rules: []}\n",
         "steps[1].quality.rules: must hold 1 to 1000 rules"},
        {"name: p\nsteps:\n" STEP_A "  - name: q\n    quality: {input: a, rules: [{}]}\n",
         "steps[1].quality.rules[0]: needs one of not_null, unique, accepted_values, range, "
         "regex, row_count, freshness, sql"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{unique: [id], not_null: [id]}]}\n",
         "steps[1].quality.rules[0]: has both not_null and unique; a rule checks one thing"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{unique: [id], severity: fatal}]}\n",
         "steps[1].quality.rules[0].severity: must be error or warn"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{unique: [id], on_error: drop}]}\n",
         "steps[1].quality.rules[0].on_error: must be fail or quarantine"},
        {"name: p\nsteps:\n" STEP_A "  - name: q\n    quality: {input: a, rules: "
         "[{row_count: {min: 1}, on_error: quarantine}]}\n",
         "steps[1].quality.rules[0].on_error: quarantine needs a rule about rows; row_count is "
         "about the whole table"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{range: {column: x, min: 5, max: 1}}]}\n",
         "steps[1].quality.rules[0].range: min must not be greater than max"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{range: {column: x}}]}\n",
         "steps[1].quality.rules[0].range: needs min, max or both"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{range: {column: x, min: low}}]}\n",
         "steps[1].quality.rules[0].range.min: must be a number"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{row_count: {min: -1}}]}\n",
         "steps[1].quality.rules[0].row_count.min: must be a whole number of rows, 0 or more"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{accepted_values: {column: s}}]}\n",
         "steps[1].quality.rules[0].accepted_values.values: is required"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{regex: {column: s, re: x}}]}\n",
         "steps[1].quality.rules[0].regex.re: unknown key; valid keys are column, pattern"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{freshness: {column: t, max_age_hours: 0}}]}\n",
         "steps[1].quality.rules[0].freshness.max_age_hours: must be greater than 0"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{not_null: id}]}\n",
         "steps[1].quality.rules[0].not_null: must be a list"},
        {"name: p\nsteps:\n" STEP_A
         "  - name: q\n    quality: {input: a, rules: [{unique: [id]}, {unique: [id]}]}\n",
         "steps[1].quality.rules[1]: rule name 'unique_id' is already used by rules[0]; give one "
         "a name"},
        {"name: p\nsteps:\n" STEP_A "  - name: q\n    sql: SELECT 1\n"
         "    quality: {input: a, rules: [{unique: [id]}]}\n",
         "steps[1]: has both sql and quality; a step does one of them"},
        {"name: p\nsteps:\n" STEP_A "  - name: q\n    target: {table: curated.d.t}\n"
         "    quality: {input: a, rules: [{unique: [id]}]}\n",
         "steps[1].target: only a sql step has a target"},
        {"name: [p\n", NULL},
        {"", "spec: is empty"},
        {"- a\n", "spec: must be a mapping"},
        {"name: p\n---\nname: q\n", "spec: holds more than one YAML document"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (cases[i].msg) {
            expect_error(cases[i].yaml, cases[i].msg);
            continue;
        }
        /* YAML syntax errors carry libyaml's wording; only the position is ours. */
        pipeline_spec_t *s = NULL;
        tarn_err_t e = {0};
        assert_int_equal(pipeline_spec_parse(cases[i].yaml, strlen(cases[i].yaml), &s, &e),
                         TARN_EINVAL);
        assert_null(s);
        assert_non_null(strstr(e.msg, "spec: line "));
    }
}

static void test_order(void **state)
{
    (void)state;
    /* Declared out of order: d needs b and c, b needs c, c needs nothing; the quality step
     * q reads a through input, which makes a its dependency. */
    pipeline_spec_t *s = parse_ok(
        "name: p\nsteps:\n"
        "  - {name: d, depends_on: [b, c], sql: SELECT 4, target: {table: curated.x.d}}\n"
        "  - {name: q, quality: {input: a, rules: [{unique: [id]}]}}\n"
        "  - {name: b, depends_on: [c], sql: SELECT 2, target: {table: curated.x.b}}\n"
        "  - {name: a, sql: SELECT 1, target: {table: curated.x.a}}\n"
        "  - {name: c, sql: SELECT 3, target: {table: curated.x.c}}\n");
    const char *want[] = {"a", "q", "c", "b", "d"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(s->steps[s->order[i]].name, want[i]);
    /* needs: the direct dependencies by index (d=0, q=1, b=2, a=3, c=4). */
    const bool want_needs[5][5] = {{0, 0, 1, 0, 1}, {0, 0, 0, 1, 0}, {0, 0, 0, 0, 1},
                                   {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}};
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 5; j++)
            assert_int_equal(s->needs[i * 5 + j], want_needs[i][j]);
    pipeline_spec_free(s);
}

static void test_cycles(void **state)
{
    (void)state;
    expect_error("name: p\nsteps:\n"
                 "  - {name: a, depends_on: [b], sql: SELECT 1, target: {table: curated.x.a}}\n"
                 "  - {name: b, depends_on: [a], sql: SELECT 2, target: {table: curated.x.b}}\n",
                 "steps: depends_on forms a cycle: a -> b -> a");
    expect_error("name: p\nsteps:\n"
                 "  - {name: s, sql: SELECT 0, target: {table: curated.x.s}}\n"
                 "  - {name: a, depends_on: [s, c], sql: SELECT 1, target: {table: curated.x.a}}\n"
                 "  - {name: b, depends_on: [a], sql: SELECT 2, target: {table: curated.x.b}}\n"
                 "  - {name: c, depends_on: [b], sql: SELECT 3, target: {table: curated.x.c}}\n",
                 "steps: depends_on forms a cycle: a -> c -> b -> a");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_spec), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),    cmocka_unit_test(test_order),
        cmocka_unit_test(test_cycles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
