/* Schemas, type widening and change summaries; see schema.h. */
#include "catalog/schema.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void schema_free(schema_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->cols[i].name);
        free(s->cols[i].type);
    }
    free(s->cols);
    memset(s, 0, sizeof *s);
}

int schema_add(schema_t *s, const char *name, const char *type, bool nullable, int64_t id)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        schema_col_t *v = realloc(s->cols, cap * sizeof *v);
        if (!v)
            return TARN_ENOMEM;
        s->cols = v;
        s->cap = cap;
    }
    schema_col_t *c = &s->cols[s->n];
    c->name = strdup(name);
    c->type = strdup(type);
    if (!c->name || !c->type) {
        free(c->name);
        free(c->type);
        return TARN_ENOMEM;
    }
    c->nullable = nullable;
    c->id = id;
    s->n++;
    return 0;
}

long schema_find(const schema_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcasecmp(s->cols[i].name, name))
            return (long)i;
    return -1;
}

int schema_copy(schema_t *dst, const schema_t *src)
{
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < src->n; i++) {
        const schema_col_t *c = &src->cols[i];
        if (schema_add(dst, c->name, c->type, c->nullable, c->id)) {
            schema_free(dst);
            return TARN_ENOMEM;
        }
    }
    return 0;
}

json_t *schema_to_json(const schema_t *s)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->n; i++) {
        const schema_col_t *c = &s->cols[i];
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)c->id,
                                           "name", c->name, "type", c->type, "nullable",
                                           c->nullable));
    }
    return a;
}

int schema_from_json(schema_t *s, const json_t *j, tarn_err_t *err)
{
    size_t i;
    json_t *c;
    memset(s, 0, sizeof *s);
    if (!json_is_array(j))
        return TARN_ERR(err, TARN_EINVAL, "schema is not a JSON array");
    json_array_foreach(j, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *type = json_string_value(json_object_get(c, "type"));
        json_t *nl = json_object_get(c, "nullable");
        if (!name || !type) {
            schema_free(s);
            return TARN_ERR(err, TARN_EINVAL, "schema column %zu has no name or type", i);
        }
        if (schema_add(s, name, type, !nl || json_is_true(nl),
                       (int64_t)json_integer_value(json_object_get(c, "id")))) {
            schema_free(s);
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* ---- type widening ---- */

/* Rank of an integer type by the range it holds (unsigned types rank with the signed type
 * that holds them), 0 when not an integer type. */
static int int_rank(const char *t)
{
    static const struct {
        const char *name;
        int rank;
    } ranks[] = {{"TINYINT", 1}, {"UTINYINT", 2},  {"SMALLINT", 2}, {"USMALLINT", 3},
                 {"INTEGER", 3}, {"UINTEGER", 4},  {"BIGINT", 4},   {"UBIGINT", 5},
                 {"HUGEINT", 5}};
    for (size_t i = 0; i < sizeof ranks / sizeof *ranks; i++)
        if (!strcmp(t, ranks[i].name))
            return ranks[i].rank;
    return 0;
}

static const char *rank_type(int rank)
{
    static const char *const names[] = {"", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"};
    return names[rank];
}

static bool is_float(const char *t)
{
    return !strcmp(t, "FLOAT") || !strcmp(t, "DOUBLE") || !strncmp(t, "DECIMAL", 7);
}

static bool is_time(const char *t)
{
    return !strcmp(t, "DATE") || !strcmp(t, "TIMESTAMP") || !strcmp(t, "TIMESTAMP_NS") ||
           !strcmp(t, "TIMESTAMP WITH TIME ZONE");
}

const char *schema_widen_type(const char *a, const char *b)
{
    if (!strcmp(a, b))
        return a;
    if (!strcmp(a, "NULL"))
        return b;
    if (!strcmp(b, "NULL"))
        return a;
    int ra = int_rank(a), rb = int_rank(b);
    if (ra && rb) /* unsigned types rank with the signed type that holds them */
        return rank_type(ra > rb ? ra : rb);
    if ((ra || is_float(a)) && (rb || is_float(b)))
        return "DOUBLE";
    if (is_time(a) && is_time(b)) {
        if (!strcmp(a, "TIMESTAMP WITH TIME ZONE") || !strcmp(b, "TIMESTAMP WITH TIME ZONE"))
            return "TIMESTAMP WITH TIME ZONE";
        return "TIMESTAMP";
    }
    return "VARCHAR";
}

bool schema_type_fits(const char *from, const char *to)
{
    return !strcmp(schema_widen_type(from, to), to);
}

int schema_merge(schema_t *s, const schema_t *add)
{
    int changed = 0;
    for (size_t i = 0; i < add->n; i++) {
        const schema_col_t *c = &add->cols[i];
        long k = schema_find(s, c->name);
        if (k < 0) {
            if (schema_add(s, c->name, c->type, true, 0))
                return TARN_ENOMEM;
            changed = 1;
            continue;
        }
        schema_col_t *m = &s->cols[k];
        const char *w = schema_widen_type(m->type, c->type);
        if (strcmp(w, m->type)) {
            char *t = strdup(w);
            if (!t)
                return TARN_ENOMEM;
            free(m->type);
            m->type = t;
            changed = 1;
        }
    }
    return changed;
}

json_t *schema_diff(const schema_t *old, const schema_t *new_)
{
    json_t *added = json_array(), *removed = json_array(), *changed = json_array();
    for (size_t i = 0; i < new_->n; i++) {
        const schema_col_t *c = &new_->cols[i];
        long k = schema_find(old, c->name);
        if (k < 0)
            json_array_append_new(added, json_pack("{s:s, s:s}", "name", c->name, "type", c->type));
        else if (strcmp(old->cols[k].type, c->type))
            json_array_append_new(changed, json_pack("{s:s, s:s, s:s}", "name", c->name,
                                                     "old_type", old->cols[k].type, "new_type",
                                                     c->type));
    }
    for (size_t i = 0; i < old->n; i++)
        if (schema_find(new_, old->cols[i].name) < 0)
            json_array_append_new(removed, json_pack("{s:s, s:s}", "name", old->cols[i].name,
                                                     "type", old->cols[i].type));
    json_t *d = NULL;
    if (json_array_size(added) || json_array_size(removed) || json_array_size(changed)) {
        d = json_object();
        if (json_array_size(added))
            json_object_set(d, "added", added);
        if (json_array_size(removed))
            json_object_set(d, "removed", removed);
        if (json_array_size(changed))
            json_object_set(d, "changed", changed);
    }
    json_decref(added);
    json_decref(removed);
    json_decref(changed);
    return d;
}

/* ---- declared schemas ---- */

/* Canonical spelling of a declared base type, or NULL when tarn does not know it. */
static const char *canonical_type(const char *t)
{
    static const struct {
        const char *alias, *name;
    } types[] = {
        {"BOOLEAN", "BOOLEAN"},   {"BOOL", "BOOLEAN"},       {"TINYINT", "TINYINT"},
        {"INT1", "TINYINT"},      {"SMALLINT", "SMALLINT"},  {"INT2", "SMALLINT"},
        {"INTEGER", "INTEGER"},   {"INT", "INTEGER"},        {"INT4", "INTEGER"},
        {"BIGINT", "BIGINT"},     {"INT8", "BIGINT"},        {"HUGEINT", "HUGEINT"},
        {"UTINYINT", "UTINYINT"}, {"USMALLINT", "USMALLINT"}, {"UINTEGER", "UINTEGER"},
        {"UBIGINT", "UBIGINT"},   {"FLOAT", "FLOAT"},        {"REAL", "FLOAT"},
        {"FLOAT4", "FLOAT"},      {"DOUBLE", "DOUBLE"},      {"FLOAT8", "DOUBLE"},
        {"VARCHAR", "VARCHAR"},   {"TEXT", "VARCHAR"},       {"STRING", "VARCHAR"},
        {"BLOB", "BLOB"},         {"BYTEA", "BLOB"},         {"DATE", "DATE"},
        {"TIME", "TIME"},         {"TIMESTAMP", "TIMESTAMP"}, {"DATETIME", "TIMESTAMP"},
        {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"},
        {"TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH TIME ZONE"},
        {"INTERVAL", "INTERVAL"}, {"UUID", "UUID"},          {"JSON", "JSON"},
    };
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcmp(t, types[i].alias))
            return types[i].name;
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Normalizes one declared type into out: upper case, single spaces, aliases resolved,
 * DECIMAL/NUMERIC precision checked, a trailing [] for lists. */
static int declared_type(char *out, size_t cap, char *t, const char *col, tarn_err_t *err)
{
    char up[128];
    size_t j = 0;
    bool space = false;
    if (strlen(t) >= sizeof up)
        return TARN_ERR(err, TARN_EINVAL, "column %s: type '%.40s...' is too long", col, t);
    for (const char *p = t; *p; p++) {
        if (isspace((unsigned char)*p)) {
            space = j > 0;
            continue;
        }
        if (space && *p != '(' && *p != '[')
            up[j++] = ' ';
        space = false;
        up[j++] = (char)toupper((unsigned char)*p);
    }
    up[j] = '\0';
    bool list = j > 2 && !strcmp(up + j - 2, "[]");
    if (list)
        up[j - 2] = '\0';
    unsigned p = 18, sc = 3;
    const char *base = canonical_type(up);
    char dec[32];
    if (!base && (!strncmp(up, "DECIMAL", 7) || !strncmp(up, "NUMERIC", 7))) {
        const char *args = up + 7;
        int used = 0;
        if (!*args) {
            p = 18, sc = 3;
        } else if (sscanf(args, "(%u,%u)%n", &p, &sc, &used) == 2 && used && !args[used]) {
        } else if ((used = 0, sscanf(args, "(%u)%n", &p, &used) == 1) && used && !args[used]) {
            sc = 0;
        } else {
            p = 0;
        }
        if (p < 1 || p > 38 || sc > p)
            return TARN_ERR(err, TARN_EINVAL,
                            "column %s: DECIMAL wants (precision 1-38, scale <= precision), got %s",
                            col, t);
        snprintf(dec, sizeof dec, "DECIMAL(%u,%u)", p, sc);
        base = dec;
    }
    if (!base)
        return TARN_ERR(err, TARN_EINVAL,
                        "column %s: unknown type '%s' (use BOOLEAN, INTEGER, BIGINT, DOUBLE, "
                        "DECIMAL(p,s), VARCHAR, DATE, TIMESTAMP, ... or TYPE[] for a list)",
                        col, t);
    snprintf(out, cap, "%s%s", base, list ? "[]" : "");
    return 0;
}

/* A type as the engine names it: kept as it is, but it must stand alone inside a cast
 * (parentheses and quotes balanced, no statement end), since views cast to it. */
static int engine_type_check(const char *t, const char *col, tarn_err_t *err)
{
    int depth = 0;
    char quote = 0;
    for (const char *p = t; *p && depth >= 0; p++) {
        if (quote)
            quote = *p == quote ? 0 : quote;
        else if (*p == '"' || *p == '\'')
            quote = *p;
        else if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        else if (*p == ';')
            depth = -1;
    }
    if (depth || quote)
        return TARN_ERR(err, TARN_EINVAL, "column %s: '%.60s' is not a type", col, t);
    return 0;
}

static int parse_columns(schema_t *s, const char *text, bool verbatim, tarn_err_t *err)
{
    memset(s, 0, sizeof *s);
    char *copy = strdup(text ? text : "");
    if (!copy)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    int rc = 0, depth = 0;
    bool quoted = false;
    char *start = copy;
    for (char *p = copy;; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (*p == '(' && !quoted)
            depth++;
        else if (*p == ')' && !quoted)
            depth--;
        if (*p && (*p != ',' || depth > 0 || quoted))
            continue;
        bool end = !*p;
        if (end && (depth || quoted)) {
            rc = TARN_ERR(err, TARN_EINVAL, quoted ? "schema: unterminated quoted name"
                                                   : "schema: unbalanced parentheses");
            break;
        }
        *p = '\0';
        char *def = trim(start), *name = def, *type;
        if (!*def) {
            if (end && s->n)
                break;
            rc = TARN_ERR(err, TARN_EINVAL, "schema: empty column definition after %zu column%s",
                          s->n, s->n == 1 ? "" : "s");
            break;
        }
        if (*def == '"') {
            /* "" inside quotes stands for one ", as in SQL. */
            char *q = def + 1, *w = def + 1;
            for (; *q && !(q[0] == '"' && q[1] != '"'); q++)
                *w++ = *q == '"' ? *++q : *q;
            if (!*q) {
                rc = TARN_ERR(err, TARN_EINVAL, "schema: unterminated quoted name in '%s'", def);
                break;
            }
            *w = '\0';
            name = def + 1;
            type = q + 1;
        } else {
            type = name + strcspn(name, " \t\n");
            if (*type)
                *type++ = '\0';
            for (char *c = name; *c; c++)
                if (!(isalnum((unsigned char)*c) || *c == '_')) {
                    rc = TARN_ERR(err, TARN_EINVAL,
                                  "schema: column name '%s' needs double quotes (letters, digits "
                                  "and _ otherwise)", name);
                    break;
                }
            if (rc)
                break;
        }
        type = trim(type);
        bool nullable = true;
        size_t tl = strlen(type);
        if (tl >= 8 && !strcasecmp(type + tl - 8, "NOT NULL")) {
            nullable = false;
            type[tl - 8] = '\0';
            type = trim(type);
        }
        if (!*name || !*type) {
            rc = TARN_ERR(err, TARN_EINVAL, "schema: '%s' wants NAME TYPE", def);
            break;
        }
        char canon[160];
        if ((rc = verbatim ? engine_type_check(type, name, err)
                           : declared_type(canon, sizeof canon, type, name, err)))
            break;
        if (schema_find(s, name) >= 0) {
            rc = TARN_ERR(err, TARN_EINVAL, "schema: column %s is declared twice", name);
            break;
        }
        if (s->n == SCHEMA_MAX_COLUMNS) {
            rc = TARN_ERR(err, TARN_EINVAL, "schema: more than %d columns", SCHEMA_MAX_COLUMNS);
            break;
        }
        if (schema_add(s, name, verbatim ? type : canon, nullable, 0)) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            break;
        }
        if (end)
            break;
        start = p + 1;
    }
    if (!rc && !s->n)
        rc = TARN_ERR(err, TARN_EINVAL, "schema: no columns (e.g. 'id BIGINT, name VARCHAR')");
    free(copy);
    if (rc)
        schema_free(s);
    return rc;
}

int schema_parse(schema_t *s, const char *text, tarn_err_t *err)
{
    return parse_columns(s, text, false, err);
}

int schema_parse_engine(schema_t *s, const char *text, tarn_err_t *err)
{
    return parse_columns(s, text, true, err);
}

int schema_check_file(const schema_t *table, const schema_t *file, tarn_err_t *err)
{
    for (size_t i = 0; i < file->n; i++) {
        const schema_col_t *c = &file->cols[i];
        long k = schema_find(table, c->name);
        if (k < 0)
            return TARN_ERR(err, TARN_EINVAL, "column %s is in the file but not in the table",
                            c->name);
        if (!schema_type_fits(c->type, table->cols[k].type))
            return TARN_ERR(err, TARN_EINVAL, "column %s is %s in the file, %s in the table",
                            c->name, c->type, table->cols[k].type);
    }
    for (size_t i = 0; i < table->n; i++)
        if (!table->cols[i].nullable && schema_find(file, table->cols[i].name) < 0)
            return TARN_ERR(err, TARN_EINVAL, "column %s (NOT NULL) is missing from the file",
                            table->cols[i].name);
    return 0;
}
