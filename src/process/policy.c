/* Promotion policy decisions; see policy.h. */
#include "process/policy.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int policy_mode_parse(policy_mode_t *out, const char *s)
{
    static const char *const names[] = {"additive", "strict", "any"};
    for (int i = 0; s && i < 3; i++)
        if (!strcmp(s, names[i])) {
            *out = (policy_mode_t)i;
            return 0;
        }
    return TARN_EINVAL;
}

int policy_check_schema(policy_mode_t mode, const schema_t *table, const schema_t *file,
                        tarn_err_t *err)
{
    if (mode == POLICY_ANY || !table->n)
        return 0;
    const char *name = mode == POLICY_STRICT ? "strict" : "additive";
    /* A file that has none of the table's columns is not the table with some left out
     * (a CSV read without its header, another table's file). */
    size_t shared = 0;
    for (size_t i = 0; i < table->n; i++)
        shared += schema_find(file, table->cols[i].name) >= 0;
    if (!shared)
        return TARN_ERR(err, TARN_EINVAL, "none of the table's columns (%s %s, ...) is in the "
                                          "file, whose columns are %s%s",
                        table->cols[0].name, table->cols[0].type,
                        file->n ? file->cols[0].name : "(none)", file->n > 1 ? ", ..." : "");
    for (size_t i = 0; i < table->n; i++) {
        const schema_col_t *t = &table->cols[i];
        long k = schema_find(file, t->name);
        /* Additive: a file without a nullable column reads it as NULL (a stream's records
         * that omit an optional field, a column dropped at a source database). */
        if (k < 0 && (mode == POLICY_STRICT || !t->nullable))
            return TARN_ERR(err, TARN_EINVAL, "column %s (%s%s) of the table is missing from the "
                                              "file (%s mode refuses removed columns%s)",
                            t->name, t->type, t->nullable ? "" : " NOT NULL", name,
                            t->nullable ? "" : " that are NOT NULL");
        if (k < 0)
            continue;
        const char *ft = file->cols[k].type;
        bool same = !strcasecmp(ft, t->type);
        /* Additive: a narrower type that fits is no change, and a widening (INTEGER to
         * BIGINT, DATE to TIMESTAMP) evolves the table; anything that would turn the
         * column into text is a change of meaning. */
        bool fits = schema_type_fits(ft, t->type) ||
                    (schema_type_fits(t->type, ft) && strcmp(ft, "VARCHAR"));
        if (!same && (mode == POLICY_STRICT || !fits))
            return TARN_ERR(err, TARN_EINVAL,
                            "column %s changed type from %s to %s (%s mode refuses type "
                            "changes%s)",
                            t->name, t->type, ft, name,
                            mode == POLICY_STRICT ? "" : " other than widening");
    }
    if (mode == POLICY_STRICT)
        for (size_t i = 0; i < file->n; i++)
            if (schema_find(table, file->cols[i].name) < 0)
                return TARN_ERR(err, TARN_EINVAL,
                                "column %s (%s) is not in the table (strict mode refuses added "
                                "columns)",
                                file->cols[i].name, file->cols[i].type);
    return 0;
}

int policy_check_required(const json_t *required, const schema_t *file, tarn_err_t *err)
{
    char missing[400] = "";
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(required, i, v)
    {
        const char *name = json_string_value(v);
        if (!name || schema_find(file, name) >= 0)
            continue;
        size_t len = strlen(missing);
        snprintf(missing + len, sizeof missing - len, "%s%s", n++ ? ", " : "", name);
    }
    if (!n)
        return 0;
    return TARN_ERR(err, TARN_EINVAL, "required column%s missing: %s", n == 1 ? "" : "s",
                    missing);
}

/* The number after the first occurrence of one of the words (case-insensitive). */
static int64_t number_after(const char *msg, const char *const *words, size_t nwords)
{
    if (!msg)
        return 0;
    for (const char *p = msg; *p; p++)
        for (size_t w = 0; w < nwords; w++) {
            size_t n = strlen(words[w]);
            if (strncasecmp(p, words[w], n))
                continue;
            const char *q = p + n;
            while (*q == ' ' || *q == ':')
                q++;
            if (isdigit((unsigned char)*q))
                return strtoll(q, NULL, 10);
        }
    return 0;
}

int64_t policy_error_line(const char *msg)
{
    static const char *const words[] = {"line"};
    int64_t n = number_after(msg, words, 1);
    /* DuckDB 1.4's JSON reader names the line after the broken one. */
    if (n > 1 && msg && strstr(msg, "Malformed JSON"))
        n--;
    return n;
}

int64_t policy_error_record(const char *msg)
{
    static const char *const words[] = {"record/value", "record"};
    return number_after(msg, words, 2);
}

json_t *policy_reason(const char *check, const char *detail, int64_t line, int64_t row,
                      const char *table, const json_t *policy, int64_t time_ms)
{
    char t[32];
    time_fmt_iso_ms(t, time_ms);
    json_t *o = json_pack("{s:s, s:s}", "check", check, "detail", detail ? detail : "");
    if (!o)
        return NULL;
    if (line > 0)
        json_object_set_new(o, "line", json_integer(line));
    if (row > 0)
        json_object_set_new(o, "row", json_integer(row));
    json_object_set_new(o, "table", table ? json_string(table) : json_null());
    json_object_set_new(o, "policy", policy ? json_deep_copy(policy) : json_null());
    json_object_set_new(o, "time", json_string(t));
    return o;
}
