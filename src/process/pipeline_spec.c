/* Pipeline spec parsing: a libyaml document walked with a path in hand, so every refusal
 * names the value it is about ("steps[1].target.mode: ..."), then the step graph checked
 * (names, references, cycles) and put in an order a runner can follow. */
#include "process/pipeline_spec.h"

#include <yaml.h>

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_MAX_BYTES (1024 * 1024)
#define SPEC_MAX_STEPS 256
#define SPEC_MAX_RULES 1000
#define SPEC_PATH 256

typedef struct {
    yaml_document_t *doc;
    tarn_err_t *err;
} spec_ctx_t;

static int spec_fail(spec_ctx_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int spec_fail(spec_ctx_t *c, const char *path, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tarn_err_set(c->err, TARN_EINVAL, TARN_R_NONE, __FILE__, __LINE__, "%s: %s",
                        *path ? path : "spec", msg);
}

static int spec_nomem(spec_ctx_t *c)
{
    return TARN_ERR(c->err, TARN_ENOMEM, "out of memory parsing a pipeline spec");
}

static void spec_path(char *dst, const char *path, const char *key)
{
    snprintf(dst, SPEC_PATH, "%s%s%s", path, *path ? "." : "", key);
}

static yaml_node_t *spec_node(spec_ctx_t *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static const char *spec_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Checks that node is a mapping whose keys are all in valid (NULL-terminated), each once:
 * an unknown key is refused with the list of valid ones. */
static int spec_check_map(spec_ctx_t *c, yaml_node_t *node, const char *path,
                          const char *const *valid)
{
    if (!node || node->type != YAML_MAPPING_NODE)
        return spec_fail(c, path, "must be a mapping");
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
         p < node->data.mapping.pairs.top; p++) {
        const char *key = spec_scalar(spec_node(c, p->key));
        if (!key)
            return spec_fail(c, path, "keys must be plain names");
        char child[SPEC_PATH];
        spec_path(child, path, key);
        bool known = false;
        for (size_t i = 0; valid[i]; i++)
            known = known || strcmp(valid[i], key) == 0;
        if (!known) {
            char list[300] = "";
            size_t used = 0;
            for (size_t i = 0; valid[i]; i++)
                used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0,
                                         "%s%s", i ? ", " : "", valid[i]);
            return spec_fail(c, child, "unknown key; valid keys are %s", list);
        }
        for (yaml_node_pair_t *q = node->data.mapping.pairs.start; q < p; q++)
            if (strcmp(spec_scalar(spec_node(c, q->key)), key) == 0)
                return spec_fail(c, child, "given twice");
    }
    return 0;
}

static yaml_node_t *spec_get(spec_ctx_t *c, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = spec_scalar(spec_node(c, p->key));
        if (k && strcmp(k, key) == 0)
            return spec_node(c, p->value);
    }
    return NULL;
}

static bool spec_is_ident(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_') || strlen(s) > 63)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

typedef enum { SPEC_TABLE_ANY, SPEC_TABLE_INPUT, SPEC_TABLE_CURATED } spec_table_rule_t;

/* zone.database.table, each part a plain name, zone one of the lake's. */
static int spec_check_table(spec_ctx_t *c, const char *path, const char *name,
                            spec_table_rule_t rule)
{
    char buf[200];
    snprintf(buf, sizeof buf, "%s", name);
    char *dot1 = strchr(buf, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (strlen(name) >= sizeof buf || !dot2)
        return spec_fail(c, path, "must be zone.database.table (got '%s')", name);
    *dot1 = *dot2 = '\0';
    if (!spec_is_ident(buf) || !spec_is_ident(dot1 + 1) || !spec_is_ident(dot2 + 1))
        return spec_fail(c, path, "must be zone.database.table (got '%s')", name);
    if (strcmp(buf, "raw") != 0 && strcmp(buf, "cleaned") != 0 && strcmp(buf, "curated") != 0)
        return spec_fail(c, path, "zone must be raw, cleaned or curated (got '%s')", name);
    if (rule == SPEC_TABLE_CURATED && strcmp(buf, "curated") != 0)
        return spec_fail(c, path, "must be in the curated zone (got '%s')", name);
    if (rule == SPEC_TABLE_INPUT && strcmp(buf, "raw") == 0)
        return spec_fail(c, path,
                         "must be a cleaned or curated table; raw files are read only once "
                         "promoted (got '%s')",
                         name);
    return 0;
}

/* An optional string; required ones are refused when absent or empty. */
static int spec_get_str(spec_ctx_t *c, yaml_node_t *map, const char *path, const char *key,
                        bool required, char **out)
{
    char child[SPEC_PATH];
    spec_path(child, path, key);
    yaml_node_t *v = spec_get(c, map, key);
    if (!v)
        return required ? spec_fail(c, child, "is required") : 0;
    const char *s = spec_scalar(v);
    if (!s)
        return spec_fail(c, child, "must be a string");
    if (required && !*s)
        return spec_fail(c, child, "must not be empty");
    *out = strdup(s);
    return *out ? 0 : spec_nomem(c);
}

static int spec_get_int(spec_ctx_t *c, yaml_node_t *map, const char *path, const char *key,
                        int64_t lo, int64_t hi, int64_t *out)
{
    char child[SPEC_PATH];
    spec_path(child, path, key);
    yaml_node_t *v = spec_get(c, map, key);
    if (!v)
        return 0;
    const char *s = spec_scalar(v);
    char *end = NULL;
    long long n = s && *s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || n < lo || n > hi)
        return spec_fail(c, child, "must be an integer from %lld to %lld", (long long)lo,
                         (long long)hi);
    *out = n;
    return 0;
}

static int spec_get_num(spec_ctx_t *c, yaml_node_t *map, const char *path, const char *key,
                        bool *present, double *out)
{
    char child[SPEC_PATH];
    spec_path(child, path, key);
    yaml_node_t *v = spec_get(c, map, key);
    if (!v)
        return 0;
    const char *s = spec_scalar(v);
    char *end = NULL;
    double d = s && *s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || !isfinite(d))
        return spec_fail(c, child, "must be a number");
    *present = true;
    *out = d;
    return 0;
}

static int spec_get_bool(spec_ctx_t *c, yaml_node_t *map, const char *path, const char *key,
                         bool *out)
{
    char child[SPEC_PATH];
    spec_path(child, path, key);
    yaml_node_t *v = spec_get(c, map, key);
    if (!v)
        return 0;
    const char *s = spec_scalar(v);
    if (s && strcmp(s, "true") == 0)
        *out = true;
    else if (s && strcmp(s, "false") == 0)
        *out = false;
    else
        return spec_fail(c, child, "must be true or false");
    return 0;
}

typedef enum { SPEC_NAMES_ANY, SPEC_NAMES_IDENT, SPEC_NAMES_INPUT_TABLE } spec_names_rule_t;

/* A list of non-empty strings, each checked by rule. */
static int spec_get_names(spec_ctx_t *c, yaml_node_t *map, const char *path, const char *key,
                          bool required, spec_names_rule_t rule, pipeline_names_t *out)
{
    char child[SPEC_PATH];
    spec_path(child, path, key);
    yaml_node_t *v = spec_get(c, map, key);
    if (!v)
        return required ? spec_fail(c, child, "is required") : 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return spec_fail(c, child, "must be a list");
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (required && n == 0)
        return spec_fail(c, child, "must not be empty");
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (!out->items)
        return spec_nomem(c);
    for (size_t i = 0; i < n; i++) {
        char item[SPEC_PATH];
        snprintf(item, sizeof item, "%s[%zu]", child, i);
        const char *s = spec_scalar(spec_node(c, v->data.sequence.items.start[i]));
        if (!s || !*s)
            return spec_fail(c, item, "must be a non-empty string");
        if (rule == SPEC_NAMES_IDENT && !spec_is_ident(s))
            return spec_fail(c, item,
                             "'%s' is not a name (letters, digits and underscores, at most 63)",
                             s);
        if (rule == SPEC_NAMES_INPUT_TABLE) {
            int rc = spec_check_table(c, item, s, SPEC_TABLE_INPUT);
            if (rc != 0)
                return rc;
        }
        out->items[i] = strdup(s);
        if (!out->items[i])
            return spec_nomem(c);
        out->n++;
    }
    return 0;
}

/* A row count: whole, not negative, and exact as a double (checked before the cast). */
static bool spec_is_rows(double d)
{
    return d >= 0 && d <= 9e15 && d == (double)(int64_t)d;
}

static const char *const rule_kinds[] = {"not_null", "unique",    "accepted_values", "range",
                                         "regex",    "row_count", "freshness",       "sql"};

/* The kind-specific body of a rule; path names the kind key. */
static int spec_parse_rule_body(spec_ctx_t *c, yaml_node_t *map, const char *path,
                                pipeline_rule_t *r)
{
    static const char *const av_keys[] = {"column", "values", NULL};
    static const char *const range_keys[] = {"column", "min", "max", NULL};
    static const char *const regex_keys[] = {"column", "pattern", NULL};
    static const char *const count_keys[] = {"min", "max", NULL};
    static const char *const fresh_keys[] = {"column", "max_age_hours", NULL};
    const char *kind = rule_kinds[r->kind];
    yaml_node_t *body = spec_get(c, map, kind);
    int rc;
    switch (r->kind) {
    case PIPELINE_RULE_NOT_NULL:
    case PIPELINE_RULE_UNIQUE:
    case PIPELINE_RULE_SQL:
        return 0; /* their value is a list or a string, read by spec_parse_rule */
    case PIPELINE_RULE_ACCEPTED_VALUES:
        if ((rc = spec_check_map(c, body, path, av_keys)) != 0 ||
            (rc = spec_get_str(c, body, path, "column", true, &r->column)) != 0)
            return rc;
        return spec_get_names(c, body, path, "values", true, SPEC_NAMES_ANY, &r->values);
    case PIPELINE_RULE_RANGE:
    case PIPELINE_RULE_ROW_COUNT: {
        bool range = r->kind == PIPELINE_RULE_RANGE;
        if ((rc = spec_check_map(c, body, path, range ? range_keys : count_keys)) != 0)
            return rc;
        if (range && (rc = spec_get_str(c, body, path, "column", true, &r->column)) != 0)
            return rc;
        if ((rc = spec_get_num(c, body, path, "min", &r->has_min, &r->min)) != 0 ||
            (rc = spec_get_num(c, body, path, "max", &r->has_max, &r->max)) != 0)
            return rc;
        if (!r->has_min && !r->has_max)
            return spec_fail(c, path, "needs min, max or both");
        if (r->has_min && r->has_max && r->min > r->max)
            return spec_fail(c, path, "min must not be greater than max");
        char child[SPEC_PATH];
        if (!range && r->has_min && !spec_is_rows(r->min)) {
            spec_path(child, path, "min");
            return spec_fail(c, child, "must be a whole number of rows, 0 or more");
        }
        if (!range && r->has_max && !spec_is_rows(r->max)) {
            spec_path(child, path, "max");
            return spec_fail(c, child, "must be a whole number of rows, 0 or more");
        }
        return 0;
    }
    case PIPELINE_RULE_REGEX:
        if ((rc = spec_check_map(c, body, path, regex_keys)) != 0 ||
            (rc = spec_get_str(c, body, path, "column", true, &r->column)) != 0)
            return rc;
        return spec_get_str(c, body, path, "pattern", true, &r->pattern);
    case PIPELINE_RULE_FRESHNESS: {
        bool has = false;
        if ((rc = spec_check_map(c, body, path, fresh_keys)) != 0 ||
            (rc = spec_get_str(c, body, path, "column", true, &r->column)) != 0 ||
            (rc = spec_get_num(c, body, path, "max_age_hours", &has, &r->max_age_hours)) != 0)
            return rc;
        char child[SPEC_PATH];
        spec_path(child, path, "max_age_hours");
        if (!has)
            return spec_fail(c, child, "is required");
        if (r->max_age_hours <= 0)
            return spec_fail(c, child, "must be greater than 0");
        return 0;
    }
    }
    return 0;
}

static int spec_parse_rule(spec_ctx_t *c, yaml_node_t *node, const char *path,
                           pipeline_rule_t *r)
{
    static const char *const keys[] = {"not_null", "unique",    "accepted_values", "range",
                                       "regex",    "row_count", "freshness",       "sql",
                                       "name",     "severity",  "on_error",        NULL};
    int rc = spec_check_map(c, node, path, keys);
    if (rc != 0)
        return rc;
    int found = -1;
    for (int k = 0; k < (int)(sizeof rule_kinds / sizeof *rule_kinds); k++) {
        if (!spec_get(c, node, rule_kinds[k]))
            continue;
        if (found >= 0)
            return spec_fail(c, path, "has both %s and %s; a rule checks one thing",
                             rule_kinds[found], rule_kinds[k]);
        found = k;
    }
    if (found < 0)
        return spec_fail(c, path,
                         "needs one of not_null, unique, accepted_values, range, regex, "
                         "row_count, freshness, sql");
    r->kind = (pipeline_rule_kind_t)found;
    char kpath[SPEC_PATH];
    spec_path(kpath, path, rule_kinds[found]);
    if (r->kind == PIPELINE_RULE_NOT_NULL || r->kind == PIPELINE_RULE_UNIQUE) {
        if ((rc = spec_get_names(c, node, path, rule_kinds[found], true, SPEC_NAMES_ANY,
                                 &r->columns)) != 0)
            return rc;
    } else if (r->kind == PIPELINE_RULE_SQL) {
        if ((rc = spec_get_str(c, node, path, "sql", true, &r->sql)) != 0)
            return rc;
    } else if ((rc = spec_parse_rule_body(c, node, kpath, r)) != 0) {
        return rc;
    }
    char *sev = NULL, *on_error = NULL;
    char child[SPEC_PATH];
    if ((rc = spec_get_str(c, node, path, "name", false, &r->name)) != 0 ||
        (rc = spec_get_str(c, node, path, "severity", false, &sev)) != 0 ||
        (rc = spec_get_str(c, node, path, "on_error", false, &on_error)) != 0)
        goto done;
    if (r->name && !spec_is_ident(r->name)) {
        spec_path(child, path, "name");
        rc = spec_fail(c, child, "'%s' is not a name (letters, digits and underscores, at most 63)",
                       r->name);
        goto done;
    }
    if (sev && strcmp(sev, "error") != 0 && strcmp(sev, "warn") != 0) {
        spec_path(child, path, "severity");
        rc = spec_fail(c, child, "must be error or warn");
        goto done;
    }
    r->warn = sev && strcmp(sev, "warn") == 0;
    if (on_error && strcmp(on_error, "fail") != 0 && strcmp(on_error, "quarantine") != 0) {
        spec_path(child, path, "on_error");
        rc = spec_fail(c, child, "must be fail or quarantine");
        goto done;
    }
    r->quarantine = on_error && strcmp(on_error, "quarantine") == 0;
    if (r->quarantine && (r->kind == PIPELINE_RULE_ROW_COUNT ||
                          r->kind == PIPELINE_RULE_FRESHNESS)) {
        spec_path(child, path, "on_error");
        rc = spec_fail(c, child, "quarantine needs a rule about rows; %s is about the whole table",
                       rule_kinds[r->kind]);
        goto done;
    }
    if (!r->name) {
        /* The name travels beside quarantined rows, so every rule has one. */
        const char *col = r->column ? r->column : r->columns.n ? r->columns.items[0] : NULL;
        char buf[160];
        snprintf(buf, sizeof buf, "%s%s%s", rule_kinds[r->kind], col ? "_" : "", col ? col : "");
        r->name = strdup(buf);
        if (!r->name)
            rc = spec_nomem(c);
    }
done:
    free(sev);
    free(on_error);
    return rc;
}

static const char *const modes[] = {"append", "overwrite", "overwrite_partitions", "merge",
                                    "apply_changes"};
#define NMODES (sizeof modes / sizeof *modes)

const char *pipeline_mode_name(pipeline_mode_t mode)
{
    return modes[mode];
}

static int spec_parse_target(spec_ctx_t *c, yaml_node_t *map, const char *path,
                             pipeline_step_t *st)
{
    static const char *const keys[] = {"table", "mode",    "keys",         "partition_by",
                                       "sort_by", "file_size_mb", NULL};
    char *mode = NULL, child[SPEC_PATH];
    int rc;
    if ((rc = spec_check_map(c, map, path, keys)) != 0 ||
        (rc = spec_get_str(c, map, path, "table", true, &st->target.table)) != 0)
        goto done;
    spec_path(child, path, "table");
    if ((rc = spec_check_table(c, child, st->target.table, SPEC_TABLE_CURATED)) != 0 ||
        (rc = spec_get_str(c, map, path, "mode", false, &mode)) != 0)
        goto done;
    st->target.mode = PIPELINE_MODE_APPEND;
    if (mode) {
        size_t m = 0;
        while (m < NMODES && strcmp(mode, modes[m]) != 0)
            m++;
        if (m == NMODES) {
            spec_path(child, path, "mode");
            rc = spec_fail(c, child,
                           "must be append, overwrite, overwrite_partitions, merge or apply_changes");
            goto done;
        }
        st->target.mode = (pipeline_mode_t)m;
    }
    st->target.file_size_mb = 128;
    if ((rc = spec_get_names(c, map, path, "keys", false, SPEC_NAMES_ANY, &st->target.keys)) ||
        (rc = spec_get_names(c, map, path, "partition_by", false, SPEC_NAMES_ANY,
                             &st->target.partition_by)) ||
        (rc = spec_get_names(c, map, path, "sort_by", false, SPEC_NAMES_ANY,
                             &st->target.sort_by)) ||
        (rc = spec_get_int(c, map, path, "file_size_mb", 1, 4096, &st->target.file_size_mb)))
        goto done;
    if ((st->target.mode == PIPELINE_MODE_MERGE || st->target.mode == PIPELINE_MODE_APPLY_CHANGES) &&
        st->target.keys.n == 0) {
        spec_path(child, path, "keys");
        rc = spec_fail(c, child, "is required when mode is %s (the columns that identify a row)",
                       modes[st->target.mode]);
        goto done;
    }
    if (st->target.mode == PIPELINE_MODE_OVERWRITE_PARTITIONS && st->target.partition_by.n == 0) {
        spec_path(child, path, "partition_by");
        rc = spec_fail(c, child, "is required when mode is overwrite_partitions");
        goto done;
    }
done:
    free(mode);
    return rc;
}

static int spec_parse_quality(spec_ctx_t *c, yaml_node_t *map, const char *path,
                              pipeline_step_t *st)
{
    static const char *const keys[] = {"table", "input", "rules", NULL};
    char child[SPEC_PATH];
    int rc;
    st->is_quality = true;
    if ((rc = spec_check_map(c, map, path, keys)) != 0 ||
        (rc = spec_get_str(c, map, path, "table", false, &st->quality_table)) != 0 ||
        (rc = spec_get_str(c, map, path, "input", false, &st->quality_input)) != 0)
        return rc;
    if (!st->quality_table == !st->quality_input)
        return spec_fail(c, path, "needs exactly one of table or input");
    if (st->quality_table) {
        spec_path(child, path, "table");
        if ((rc = spec_check_table(c, child, st->quality_table, SPEC_TABLE_ANY)) != 0)
            return rc;
    }
    spec_path(child, path, "rules");
    yaml_node_t *rules = spec_get(c, map, "rules");
    if (!rules)
        return spec_fail(c, child, "is required");
    if (rules->type != YAML_SEQUENCE_NODE)
        return spec_fail(c, child, "must be a list");
    size_t n = (size_t)(rules->data.sequence.items.top - rules->data.sequence.items.start);
    if (n == 0 || n > SPEC_MAX_RULES)
        return spec_fail(c, child, "must hold 1 to %d rules", SPEC_MAX_RULES);
    st->rules = calloc(n, sizeof *st->rules);
    if (!st->rules)
        return spec_nomem(c);
    for (size_t i = 0; i < n; i++) {
        char rpath[SPEC_PATH];
        snprintf(rpath, sizeof rpath, "%s[%zu]", child, i);
        st->n_rules++;
        rc = spec_parse_rule(c, spec_node(c, rules->data.sequence.items.start[i]), rpath,
                             &st->rules[i]);
        if (rc != 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(st->rules[j].name, st->rules[i].name) == 0)
                return spec_fail(c, rpath,
                                 "rule name '%s' is already used by rules[%zu]; give one a name",
                                 st->rules[i].name, j);
    }
    return 0;
}

static int spec_parse_step(spec_ctx_t *c, yaml_node_t *map, const char *path,
                           pipeline_step_t *st)
{
    static const char *const keys[] = {"name", "depends_on", "sql", "target", "quality", NULL};
    char child[SPEC_PATH];
    int rc;
    if ((rc = spec_check_map(c, map, path, keys)) != 0 ||
        (rc = spec_get_str(c, map, path, "name", true, &st->name)) != 0)
        return rc;
    spec_path(child, path, "name");
    if (!spec_is_ident(st->name))
        return spec_fail(c, child,
                         "'%s' is not a name (letters, digits and underscores, at most 63)",
                         st->name);
    if ((rc = spec_get_names(c, map, path, "depends_on", false, SPEC_NAMES_IDENT,
                             &st->depends_on)) != 0 ||
        (rc = spec_get_str(c, map, path, "sql", false, &st->sql)) != 0)
        return rc;
    yaml_node_t *target = spec_get(c, map, "target"), *quality = spec_get(c, map, "quality");
    if (st->sql && quality)
        return spec_fail(c, path, "has both sql and quality; a step does one of them");
    if (!st->sql && !quality)
        return spec_fail(c, path, "needs sql (with a target) or quality");
    if (quality) {
        if (target) {
            spec_path(child, path, "target");
            return spec_fail(c, child, "only a sql step has a target");
        }
        spec_path(child, path, "quality");
        return spec_parse_quality(c, quality, child, st);
    }
    spec_path(child, path, "sql");
    if (!*st->sql)
        return spec_fail(c, child, "must not be empty");
    spec_path(child, path, "target");
    if (!target)
        return spec_fail(c, child, "is required for a sql step");
    return spec_parse_target(c, target, child, st);
}

static int spec_parse_trigger(spec_ctx_t *c, yaml_node_t *map, pipeline_spec_t *s)
{
    static const char *const keys[] = {"on_new_data", "schedule", "after",
                                       "batch_window_seconds", NULL};
    int rc;
    if ((rc = spec_check_map(c, map, "trigger", keys)) != 0 ||
        (rc = spec_get_names(c, map, "trigger", "on_new_data", false, SPEC_NAMES_INPUT_TABLE,
                             &s->on_new_data)) != 0 ||
        (rc = spec_get_str(c, map, "trigger", "schedule", false, &s->schedule)) != 0 ||
        (rc = spec_get_names(c, map, "trigger", "after", false, SPEC_NAMES_IDENT, &s->after)) !=
            0 ||
        (rc = spec_get_int(c, map, "trigger", "batch_window_seconds", 0, 3600,
                           &s->batch_window_seconds)) != 0)
        return rc;
    if (s->schedule) {
        tarn_err_t cerr = {0};
        if (cron_parse(&s->cron, s->schedule, &cerr) != 0)
            return spec_fail(c, "trigger.schedule", "%s", cerr.msg);
    }
    for (size_t i = 0; i < s->after.n; i++) {
        if (strcmp(s->after.items[i], s->name) == 0) {
            char child[SPEC_PATH];
            snprintf(child, sizeof child, "trigger.after[%zu]", i);
            return spec_fail(c, child, "a pipeline cannot run after itself");
        }
    }
    return 0;
}

static int spec_find_step(const pipeline_spec_t *s, const char *name)
{
    for (size_t i = 0; i < s->n_steps; i++)
        if (strcmp(s->steps[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Depth-first search from i; on meeting a step still on the stack, the stack from that
 * step on is the cycle, which is what the message shows. */
static int spec_visit(spec_ctx_t *c, const pipeline_spec_t *s, const bool *dep, char *color,
                      size_t *stack, size_t depth, size_t i)
{
    size_t n = s->n_steps;
    color[i] = 1;
    stack[depth] = i;
    for (size_t j = 0; j < n; j++) {
        if (!dep[i * n + j] || color[j] == 2)
            continue;
        if (color[j] == 1) {
            char msg[400] = "";
            size_t used = 0, from = 0;
            while (stack[from] != j)
                from++;
            for (size_t k = from; k <= depth; k++)
                used += (size_t)snprintf(msg + used, used < sizeof msg ? sizeof msg - used : 0,
                                         "%s -> ", s->steps[stack[k]].name);
            snprintf(msg + (used < sizeof msg ? used : sizeof msg - 1),
                     used < sizeof msg ? sizeof msg - used : 1, "%s", s->steps[j].name);
            return spec_fail(c, "steps", "depends_on forms a cycle: %s", msg);
        }
        int rc = spec_visit(c, s, dep, color, stack, depth + 1, j);
        if (rc != 0)
            return rc;
    }
    color[i] = 2;
    return 0;
}

/* Names, references and cycles of the step graph, then the order: repeatedly the first
 * declared step whose dependencies are all placed, so the order is stable and readable. */
static int spec_check_graph(spec_ctx_t *c, pipeline_spec_t *s)
{
    size_t n = s->n_steps;
    bool *dep = calloc(n * n, sizeof *dep);
    char *color = calloc(n, 1);
    bool *placed = calloc(n, sizeof *placed);
    size_t *stack = calloc(n, sizeof *stack);
    char path[SPEC_PATH];
    int rc = 0;
    s->order = calloc(n, sizeof *s->order);
    if (!dep || !color || !placed || !stack || !s->order) {
        rc = spec_nomem(c);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const pipeline_step_t *st = &s->steps[i];
        int first = spec_find_step(s, st->name);
        if ((size_t)first != i) {
            snprintf(path, sizeof path, "steps[%zu].name", i);
            rc = spec_fail(c, path, "'%s' is already used by steps[%d]", st->name, first);
            goto done;
        }
        for (size_t d = 0; d < st->depends_on.n; d++) {
            snprintf(path, sizeof path, "steps[%zu].depends_on[%zu]", i, d);
            int j = spec_find_step(s, st->depends_on.items[d]);
            if (j < 0) {
                rc = spec_fail(c, path, "no step is named '%s'", st->depends_on.items[d]);
                goto done;
            }
            if ((size_t)j == i) {
                rc = spec_fail(c, path, "a step cannot depend on itself");
                goto done;
            }
            dep[i * n + (size_t)j] = true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const pipeline_step_t *st = &s->steps[i];
        if (!st->quality_input)
            continue;
        /* Checking an earlier step's output makes that step a dependency. */
        snprintf(path, sizeof path, "steps[%zu].quality.input", i);
        int j = spec_find_step(s, st->quality_input);
        if (j < 0 || (size_t)j == i || s->steps[j].is_quality) {
            rc = spec_fail(c, path, "must name another sql step (got '%s')", st->quality_input);
            goto done;
        }
        dep[i * n + (size_t)j] = true;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (color[i] == 0)
            rc = spec_visit(c, s, dep, color, stack, 0, i);
    if (rc != 0)
        goto done;
    for (size_t k = 0; k < n; k++) {
        size_t i = 0;
        for (; i < n; i++) {
            if (placed[i])
                continue;
            bool ready = true;
            for (size_t j = 0; j < n && ready; j++)
                ready = !dep[i * n + j] || placed[j];
            if (ready)
                break;
        }
        assert(i < n); /* the graph has no cycle, so some step is always ready */
        placed[i] = true;
        s->order[k] = i;
    }
done:
    s->needs = rc ? (free(dep), NULL) : dep;
    free(color);
    free(placed);
    free(stack);
    return rc;
}

static int spec_parse_root(spec_ctx_t *c, yaml_node_t *root, pipeline_spec_t *s)
{
    static const char *const keys[] = {"name",    "owner",           "description", "trigger",
                                       "retries", "timeout_seconds", "incremental", "steps",
                                       NULL};
    static const char *const retry_keys[] = {"max_attempts", "backoff_seconds", NULL};
    int rc;
    if ((rc = spec_check_map(c, root, "", keys)) != 0 ||
        (rc = spec_get_str(c, root, "", "name", true, &s->name)) != 0)
        return rc;
    if (!spec_is_ident(s->name))
        return spec_fail(c, "name",
                         "'%s' is not a name (letters, digits and underscores, at most 63)",
                         s->name);
    s->batch_window_seconds = 30;
    s->max_attempts = 1;
    s->backoff_seconds = 10;
    s->timeout_seconds = 3600;
    if ((rc = spec_get_str(c, root, "", "owner", false, &s->owner)) != 0 ||
        (rc = spec_get_str(c, root, "", "description", false, &s->description)) != 0 ||
        (rc = spec_get_int(c, root, "", "timeout_seconds", 1, 7 * 86400, &s->timeout_seconds)) ||
        (rc = spec_get_bool(c, root, "", "incremental", &s->incremental)) != 0)
        return rc;
    yaml_node_t *trigger = spec_get(c, root, "trigger");
    if (trigger && (rc = spec_parse_trigger(c, trigger, s)) != 0)
        return rc;
    yaml_node_t *retries = spec_get(c, root, "retries");
    if (retries && ((rc = spec_check_map(c, retries, "retries", retry_keys)) != 0 ||
                    (rc = spec_get_int(c, retries, "retries", "max_attempts", 1, 100,
                                       &s->max_attempts)) != 0 ||
                    (rc = spec_get_int(c, retries, "retries", "backoff_seconds", 0, 86400,
                                       &s->backoff_seconds)) != 0))
        return rc;
    yaml_node_t *steps = spec_get(c, root, "steps");
    if (!steps)
        return spec_fail(c, "steps", "is required");
    if (steps->type != YAML_SEQUENCE_NODE)
        return spec_fail(c, "steps", "must be a list");
    size_t n = (size_t)(steps->data.sequence.items.top - steps->data.sequence.items.start);
    if (n == 0 || n > SPEC_MAX_STEPS)
        return spec_fail(c, "steps", "must hold 1 to %d steps", SPEC_MAX_STEPS);
    s->steps = calloc(n, sizeof *s->steps);
    if (!s->steps)
        return spec_nomem(c);
    for (size_t i = 0; i < n; i++) {
        char path[SPEC_PATH];
        snprintf(path, sizeof path, "steps[%zu]", i);
        s->n_steps++;
        rc = spec_parse_step(c, spec_node(c, steps->data.sequence.items.start[i]), path,
                             &s->steps[i]);
        if (rc != 0)
            return rc;
    }
    return spec_check_graph(c, s);
}

int pipeline_spec_parse(const char *yaml, size_t len, pipeline_spec_t **out, tarn_err_t *err)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    bool parser_ok = false, doc_ok = false;
    spec_ctx_t c = {&doc, err};
    pipeline_spec_t *s = NULL;
    int rc = 0;
    *out = NULL;
    if (len > SPEC_MAX_BYTES)
        return TARN_ERR(err, TARN_EINVAL, "spec: larger than %d bytes", SPEC_MAX_BYTES);
    if (!yaml_parser_initialize(&parser))
        return spec_nomem(&c);
    parser_ok = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = TARN_ERR(err, parser.error == YAML_MEMORY_ERROR ? TARN_ENOMEM : TARN_EINVAL,
                      "spec: line %zu column %zu: %s%s%s", parser.problem_mark.line + 1,
                      parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML",
                      parser.context ? " " : "", parser.context ? parser.context : "");
        goto done;
    }
    doc_ok = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = TARN_ERR(err, TARN_EINVAL, "spec: is empty");
        goto done;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        rc = TARN_ERR(err, TARN_EINVAL, "spec: line %zu: %s", parser.problem_mark.line + 1,
                      parser.problem ? parser.problem : "bad YAML");
        goto done;
    }
    bool more = yaml_document_get_root_node(&extra) != NULL;
    yaml_document_delete(&extra);
    if (more) {
        rc = TARN_ERR(err, TARN_EINVAL, "spec: holds more than one YAML document");
        goto done;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        rc = spec_nomem(&c);
        goto done;
    }
    rc = spec_parse_root(&c, root, s);
    if (rc == 0) {
        *out = s;
        s = NULL;
    }
done:
    pipeline_spec_free(s);
    if (doc_ok)
        yaml_document_delete(&doc);
    if (parser_ok)
        yaml_parser_delete(&parser);
    return rc;
}

static void spec_names_free(pipeline_names_t *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->items[i]);
    free(n->items);
}

void pipeline_spec_free(pipeline_spec_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_steps; i++) {
        pipeline_step_t *st = &s->steps[i];
        for (size_t r = 0; r < st->n_rules; r++) {
            pipeline_rule_t *ru = &st->rules[r];
            free(ru->name);
            spec_names_free(&ru->columns);
            free(ru->column);
            spec_names_free(&ru->values);
            free(ru->pattern);
            free(ru->sql);
        }
        free(st->rules);
        free(st->name);
        spec_names_free(&st->depends_on);
        free(st->sql);
        free(st->target.table);
        spec_names_free(&st->target.keys);
        spec_names_free(&st->target.partition_by);
        spec_names_free(&st->target.sort_by);
        free(st->quality_table);
        free(st->quality_input);
    }
    free(s->steps);
    free(s->order);
    free(s->needs);
    free(s->name);
    free(s->owner);
    free(s->description);
    spec_names_free(&s->on_new_data);
    free(s->schedule);
    spec_names_free(&s->after);
    free(s);
}
