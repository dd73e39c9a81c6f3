/* Quality rules as SQL text; see quality.h. A row rule is a condition true for a failing
 * row, following dbt's tests: NULLs fail only not_null (a NULL is not outside a range,
 * not an unaccepted value, not a regex mismatch), and a custom predicate fails a row
 * only when it is false. */
#include "process/quality.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool quality_rule_is_table(const pipeline_rule_t *r)
{
    return r->kind == PIPELINE_RULE_ROW_COUNT || r->kind == PIPELINE_RULE_FRESHNESS;
}

void quality_put_ident(buf_t *out, const char *name)
{
    buf_putc(out, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            buf_putc(out, '"');
        buf_putc(out, *p);
    }
    buf_putc(out, '"');
}

void quality_put_idents(buf_t *out, const pipeline_names_t *names, const char *qualifier)
{
    for (size_t i = 0; i < names->n; i++) {
        buf_puts(out, i ? ", " : "");
        if (qualifier)
            buf_puts(out, qualifier);
        quality_put_ident(out, names->items[i]);
    }
}

void quality_put_literal(buf_t *out, const char *s)
{
    buf_putc(out, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            buf_putc(out, '\'');
        buf_putc(out, *p);
    }
    buf_putc(out, '\'');
}

static void put_number(buf_t *out, double v)
{
    buf_printf(out, "%.17g", v);
}

/* The failing condition of row rule r; unique rules read the window count column
 * _tarn_u<i> that quality_flag_sql adds. */
static void put_condition(buf_t *out, const pipeline_rule_t *r, size_t i)
{
    switch (r->kind) {
    case PIPELINE_RULE_NOT_NULL:
        for (size_t c = 0; c < r->columns.n; c++) {
            buf_puts(out, c ? " OR " : "");
            quality_put_ident(out, r->columns.items[c]);
            buf_puts(out, " IS NULL");
        }
        break;
    case PIPELINE_RULE_UNIQUE:
        buf_printf(out, "_tarn_u%zu > 1", i);
        break;
    case PIPELINE_RULE_ACCEPTED_VALUES:
        buf_puts(out, "CAST(");
        quality_put_ident(out, r->column);
        buf_puts(out, " AS VARCHAR) NOT IN (");
        for (size_t v = 0; v < r->values.n; v++) {
            buf_puts(out, v ? ", " : "");
            quality_put_literal(out, r->values.items[v]);
        }
        buf_putc(out, ')');
        break;
    case PIPELINE_RULE_RANGE:
        buf_putc(out, '(');
        if (r->has_min) {
            quality_put_ident(out, r->column);
            buf_puts(out, " < ");
            put_number(out, r->min);
        }
        if (r->has_min && r->has_max)
            buf_puts(out, " OR ");
        if (r->has_max) {
            quality_put_ident(out, r->column);
            buf_puts(out, " > ");
            put_number(out, r->max);
        }
        buf_putc(out, ')');
        break;
    case PIPELINE_RULE_REGEX:
        buf_puts(out, "NOT regexp_matches(CAST(");
        quality_put_ident(out, r->column);
        buf_puts(out, " AS VARCHAR), ");
        quality_put_literal(out, r->pattern);
        buf_putc(out, ')');
        break;
    case PIPELINE_RULE_SQL:
        buf_printf(out, "NOT (%s)", r->sql);
        break;
    default:
        buf_puts(out, "false");
        break;
    }
}

void quality_flag_sql(buf_t *out, const pipeline_step_t *step, const char *from)
{
    bool windows = false;
    /* The outer query turns the list of names and NULLs into the names alone. */
    buf_puts(out, "SELECT * EXCLUDE (" QUALITY_FAILED_COL "), list_filter(" QUALITY_FAILED_COL
                  ", x -> x IS NOT NULL) AS " QUALITY_FAILED_COL " FROM (SELECT * ");
    for (size_t i = 0; i < step->n_rules; i++)
        if (step->rules[i].kind == PIPELINE_RULE_UNIQUE) {
            buf_printf(out, "%s_tarn_u%zu", windows ? ", " : "EXCLUDE (", i);
            windows = true;
        }
    buf_puts(out, windows ? "), [" : ", [");
    size_t n = 0;
    for (size_t i = 0; i < step->n_rules; i++) {
        const pipeline_rule_t *r = &step->rules[i];
        if (quality_rule_is_table(r))
            continue;
        buf_puts(out, n++ ? ", " : "");
        buf_puts(out, "CASE WHEN coalesce((");
        put_condition(out, r, i);
        buf_puts(out, "), false) THEN ");
        quality_put_literal(out, r->name);
        buf_puts(out, " END");
    }
    buf_puts(out, "]");
    /* list_filter drops the NULLs of passed rules; an empty list literal needs a type. */
    if (!n)
        buf_puts(out, "::VARCHAR[]");
    buf_puts(out, " AS " QUALITY_FAILED_COL);
    buf_puts(out, " FROM (SELECT *");
    for (size_t i = 0; i < step->n_rules; i++) {
        const pipeline_rule_t *r = &step->rules[i];
        if (r->kind != PIPELINE_RULE_UNIQUE)
            continue;
        buf_puts(out, ", count(*) OVER (PARTITION BY ");
        for (size_t c = 0; c < r->columns.n; c++) {
            buf_puts(out, c ? ", " : "");
            quality_put_ident(out, r->columns.items[c]);
        }
        buf_printf(out, ") AS _tarn_u%zu", i);
    }
    buf_printf(out, " FROM %s) AS _tarn_in) AS _tarn_flagged", from);
}

void quality_table_sql(buf_t *out, const pipeline_rule_t *r, const char *from)
{
    if (r->kind == PIPELINE_RULE_ROW_COUNT) {
        buf_printf(out, "SELECT CAST(count(*) AS VARCHAR) FROM %s", from);
        return;
    }
    /* Age of the newest value in hours, against the clock now. */
    buf_puts(out, "SELECT CAST((epoch_ms(CAST(now() AS TIMESTAMP)) - epoch_ms(max(CAST(");
    quality_put_ident(out, r->column);
    buf_printf(out, " AS TIMESTAMP)))) / 3600000.0 AS VARCHAR) FROM %s", from);
}

bool quality_table_passes(const pipeline_rule_t *r, const char *value, char *detail, size_t cap)
{
    double v = value ? strtod(value, NULL) : 0;
    if (r->kind == PIPELINE_RULE_ROW_COUNT) {
        bool ok = (!r->has_min || v >= r->min) && (!r->has_max || v <= r->max);
        char lo[32] = "", hi[32] = "";
        if (r->has_min)
            snprintf(lo, sizeof lo, "at least %.0f", r->min);
        if (r->has_max)
            snprintf(hi, sizeof hi, "at most %.0f", r->max);
        snprintf(detail, cap, "%.0f rows; expected %s%s%s", v, lo, *lo && *hi ? " and " : "",
                 hi);
        return ok;
    }
    if (!value) {
        snprintf(detail, cap, "no value in column %s to measure freshness by", r->column);
        return false;
    }
    bool ok = v <= r->max_age_hours;
    snprintf(detail, cap, "the newest %s is %.1f hours old; expected at most %g", r->column, v,
             r->max_age_hours);
    return ok;
}
