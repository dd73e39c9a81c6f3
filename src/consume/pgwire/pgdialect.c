/* PostgreSQL's dialect: the text rewrite before parsing (on the tokens of PostgreSQL's own
 * scanner, pglex.h) and the parse tree rewrite; see pgdialect.h. */
#include "consume/pgwire/pgdialect.h"
#include "consume/pgwire/pgcatalog.h"
#include "consume/pgwire/pglex.h"

#include "util/buf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the text ---- */

typedef pglex_tok_t tok_t;

static bool tok_is(const char *sql, const tok_t *t, const char *s)
{
    return t->len == strlen(s) && !strncasecmp(sql + t->at, s, t->len) &&
           (t->kind == PGLEX_WORD || t->kind == PGLEX_PUNCT || t->kind == PGLEX_OP);
}

/* Whether t is the name of a collation PostgreSQL clients ask for that means the engine's
 * default order: default, "default", C, "C", POSIX, "POSIX", ucs_basic. */
static bool default_collation(const char *sql, const tok_t *t)
{
    static const char *const names[] = {"default", "C", "POSIX", "ucs_basic"};
    const char *s = sql + t->at;
    size_t len = t->len;
    if (t->kind == PGLEX_QIDENT && len >= 2)
        s++, len -= 2;
    else if (t->kind != PGLEX_WORD)
        return false;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (len == strlen(names[i]) && !strncasecmp(s, names[i], len))
            return true;
    return false;
}

/* Whether a rewrite can start at t (only then are the tokens after it looked at). */
static bool starts_rewrite(const char *sql, const tok_t *t)
{
    return tok_is(sql, t, "OPERATOR") || tok_is(sql, t, "COLLATE") || tok_is(sql, t, "::") ||
           tok_is(sql, t, "AS");
}

int pgdialect_rewrite_text(const char *sql, const char **out, arena_t *a, tarn_err_t *err)
{
    buf_t b = BUF_INIT;
    size_t copied = 0, ntoks; /* sql before copied is in b */
    tok_t *toks;
    bool changed = false;
    int rc = pglex_scan(sql, strlen(sql), &toks, &ntoks, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < ntoks; i++) {
        /* The token at hand and the ones after it. */
        const tok_t *w = toks + i;
        size_t n = ntoks - i < 8 ? ntoks - i : 8;
        if (w[0].at < copied || !starts_rewrite(sql, &w[0]))
            continue;
        size_t from = w[0].at, to = 0; /* the span [from, to) to replace */
        const char *with = "";
        size_t with_len = 0;
        if (tok_is(sql, &w[0], "OPERATOR") && n > 1 && tok_is(sql, &w[1], "(")) {
            /* OPERATOR(schema.op) is the bare operator. */
            size_t j = 2;
            while (j + 1 < n && (w[j].kind == PGLEX_WORD || w[j].kind == PGLEX_QIDENT) &&
                   tok_is(sql, &w[j + 1], "."))
                j += 2;
            if (j + 1 < n && w[j].kind == PGLEX_OP && tok_is(sql, &w[j + 1], ")")) {
                to = w[j + 1].at + 1;
                with = sql + w[j].at;
                with_len = w[j].len;
            }
        } else if (tok_is(sql, &w[0], "COLLATE") && n > 1) {
            /* The default collations are the engine's default order: dropped. */
            size_t j = 1;
            if (j + 2 < n && tok_is(sql, &w[j], "pg_catalog") && tok_is(sql, &w[j + 1], "."))
                j += 2;
            if (default_collation(sql, &w[j]))
                to = w[j].at + w[j].len;
        } else if ((tok_is(sql, &w[0], "::") || tok_is(sql, &w[0], "AS")) && n > 3 &&
                   tok_is(sql, &w[1], "pg_catalog") && tok_is(sql, &w[2], ".")) {
            /* ::pg_catalog.text (or AS pg_catalog.text in a CAST): the type's own name,
             * which the engine's parser takes. */
            from = w[1].at;
            to = w[3].at;
        }
        if (!to)
            continue;
        buf_append(&b, sql + copied, from - copied);
        buf_putc(&b, ' ');
        buf_append(&b, with, with_len);
        buf_putc(&b, ' ');
        copied = to;
        changed = true;
    }
    free(toks);
    if (!changed) {
        *out = sql;
        buf_free(&b);
        return 0;
    }
    buf_puts(&b, sql + copied);
    *out = b.data ? arena_strdup(a, b.data) : NULL;
    buf_free(&b);
    return *out ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

/* ---- the parse tree ---- */

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* Whether the node's query_location points at s in text (locations the tree cannot hold
 * as integers are no location). */
static bool located_at(const json_t *node, const char *text, const char *s)
{
    const json_t *l = json_object_get(node, "query_location");
    if (!json_is_integer(l) || json_integer_value(l) < 0 ||
        (size_t)json_integer_value(l) >= strlen(text))
        return false;
    return !strncmp(text + json_integer_value(l), s, strlen(s));
}

static json_t *constant_text(const char *s)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:{s:{s:s, s:n}, s:b, s:s}}", "class", "CONSTANT",
                     "type", "VALUE_CONSTANT", "alias", "", "query_location", (json_int_t)0,
                     "value", "type", "id", "VARCHAR", "type_info", "is_null", 0, "value", s);
}

/* A call of `name` with `children` (stolen), shaped as the parser shapes them. */
static json_t *function_call(const char *name, json_t *children)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:n, s:{s:s, s:[]}, s:b, s:b, s:b, "
                     "s:s}",
                     "class", "FUNCTION", "type", "FUNCTION", "alias", "", "query_location",
                     (json_int_t)0, "function_name", name, "schema", "", "children", children,
                     "filter", "order_bys", "type", "ORDER_MODIFIER", "orders", "distinct", 0,
                     "is_operator", 0, "export_state", 0, "catalog", "");
}

/* Replaces the contents of node with those of repl (stolen), keeping node's alias. */
static int replace_node(json_t *node, json_t *repl, tarn_err_t *err)
{
    if (!repl)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    json_t *alias = json_incref(json_object_get(node, "alias"));
    json_object_clear(node);
    json_object_update(node, repl);
    if (alias)
        json_object_set_new(node, "alias", alias);
    json_decref(repl);
    return 0;
}

/* The PostgreSQL types the engine lacks, as the engine type that holds their values. */
static const struct {
    const char *name, *as; /* as: VARCHAR, BIGINT, or a list of one of them */
} pg_only_types[] = {
    {"name", "VARCHAR"},          {"char", "VARCHAR"},         {"bpchar", "VARCHAR"},
    {"pg_node_tree", "VARCHAR"},  {"aclitem", "VARCHAR"},      {"regproc", "VARCHAR"},
    {"regprocedure", "VARCHAR"},  {"oid", "BIGINT"},           {"xid", "BIGINT"},
    {"xid8", "BIGINT"},           {"cid", "BIGINT"},           {"tid", "BIGINT"},
    {"regclass", "BIGINT"},       {"regtype", "BIGINT"},       {"regnamespace", "BIGINT"},
    {"regrole", "BIGINT"},        {"regoper", "BIGINT"},       {"regoperator", "BIGINT"},
    {"regconfig", "BIGINT"},      {"regdictionary", "BIGINT"}, {"regcollation", "BIGINT"},
    {"int2vector", "SMALLINT[]"}, {"oidvector", "BIGINT[]"},
};

/* Casts to these call the session's function of the same name (a name has to be looked
 * up, so they cannot be plain casts). */
static const char *const reg_functions[] = {
    "regclass", "regtype", "regnamespace", "regrole", "regproc", "regprocedure", NULL};

static json_t *engine_type(const char *as)
{
    size_t n = strcspn(as, "[");
    json_t *base = json_pack("{s:s%, s:n}", "id", as, n, "type_info");
    if (!as[n])
        return base;
    return json_pack("{s:s, s:{s:s, s:s, s:n, s:o}}", "id", "LIST", "type_info", "type",
                     "LIST_TYPE_INFO", "alias", "", "extension_info", "child_type", base);
}

/* The engine's type for cast type ty (NULL: keep it); lists are mapped element-wise. */
static json_t *map_type(const json_t *ty)
{
    const json_t *info = json_object_get(ty, "type_info");
    if (!strcmp(str(ty, "id"), "LIST")) {
        json_t *child = map_type(json_object_get(info, "child_type"));
        if (!child)
            return NULL;
        json_t *copy = json_deep_copy(ty);
        json_object_set_new(json_object_get(copy, "type_info"), "child_type", child);
        return copy;
    }
    if (strcmp(str(ty, "id"), "USER"))
        return NULL;
    const char *name = str(info, "user_type_name"), *schema = str(info, "schema");
    /* Unqualified "char" is the engine's VARCHAR already; qualified, it is the
     * PostgreSQL one-byte type, held as text all the same. */
    for (size_t i = 0; i < sizeof pg_only_types / sizeof *pg_only_types; i++)
        if (!strcasecmp(name, pg_only_types[i].name))
            return engine_type(pg_only_types[i].as);
    if (!strcmp(schema, "pg_catalog")) {
        json_t *copy = json_deep_copy(ty);
        json_object_set_new(json_object_get(copy, "type_info"), "schema", json_string(""));
        return copy;
    }
    return NULL;
}

static int rewrite_cast(json_t *node, const char **reads, tarn_err_t *err)
{
    const json_t *ty = json_object_get(node, "cast_type");
    const json_t *info = json_object_get(ty, "type_info");
    if (!strcmp(str(ty, "id"), "USER") && !json_is_true(json_object_get(node, "try_cast")))
        for (const char *const *f = reg_functions; *f; f++)
            if (!strcasecmp(str(info, "user_type_name"), *f)) {
                json_t *child = json_incref(json_object_get(node, "child"));
                *reads = pgcatalog_function_reads(*f);
                return replace_node(node, function_call(*f, json_pack("[o]", child)), err);
            }
    json_t *mapped = map_type(ty);
    if (mapped)
        json_object_set_new(node, "cast_type", mapped);
    return 0;
}

/* '{1,2}' as [1,2]: PostgreSQL's array literal, in the engine's spelling. */
static void array_literal(json_t *side)
{
    if (strcmp(str(side, "class"), "CONSTANT"))
        return;
    json_t *v = json_object_get(side, "value");
    const char *s = str(v, "value");
    size_t n = strlen(s);
    if (strcmp(str(json_object_get(v, "type"), "id"), "VARCHAR") || n < 2 || s[0] != '{' ||
        s[n - 1] != '}' || strcspn(s + 1, "{}\"'\\") != n - 2)
        return;
    char *copy = strdup(s);
    if (!copy)
        return;
    copy[0] = '[';
    copy[n - 1] = ']';
    json_object_set_new(v, "value", json_string(copy));
    free(copy);
}

static int rewrite_function(json_t *node, const char *text, const char **reads, tarn_err_t *err)
{
    const char *name = str(node, "function_name");
    if ((!strcmp(str(node, "schema"), "pg_catalog") ||
         !strcmp(str(node, "schema"), "information_schema")) &&
        (!*str(node, "catalog") || !strcmp(str(node, "catalog"), "system")))
        json_object_set_new(node, "schema", json_string(""));
    if (!strcmp(name, "regexp_full_match") && located_at(node, text, "~")) {
        json_object_set_new(node, "function_name", json_string("regexp_matches"));
    } else if (json_is_true(json_object_get(node, "is_operator")) &&
               (!strcmp(name, "~*") || !strcmp(name, "!~*"))) {
        json_t *args = json_deep_copy(json_object_get(node, "children"));
        if (!args || json_array_append_new(args, constant_text("i")))
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        json_t *call = function_call("regexp_matches", args);
        if (name[0] == '~')
            return replace_node(node, call, err);
        return replace_node(node,
                            json_pack("{s:s, s:s, s:s, s:I, s:[o]}", "class", "OPERATOR", "type",
                                      "OPERATOR_NOT", "alias", "", "query_location", (json_int_t)0,
                                      "children", call),
                            err);
    }
    *reads = pgcatalog_function_reads(str(node, "function_name"));
    return 0;
}

/* PostgreSQL expands the rows of a set-returning function in a select list; the engine's
 * generate_series gives one list there, which unnest expands (the engine's unnest in a
 * select list already expands). generate_subscripts(a, d) is the series of a's
 * subscripts in dimension d. Subqueries keep their own select lists. */
static int expand_set_functions(json_t *expr, tarn_err_t *err)
{
    const char *cls = str(expr, "class");
    if (!strcmp(cls, "SUBQUERY"))
        return 0;
    const char *name = str(expr, "function_name");
    bool series = !strcmp(name, "generate_series"), subs = !strcmp(name, "generate_subscripts");
    json_t *args = json_object_get(expr, "children");
    if (!strcmp(cls, "FUNCTION") && (series || (subs && json_array_size(args) == 2)) &&
        (!*str(expr, "schema") || !strcmp(str(expr, "schema"), "pg_catalog"))) {
        json_t *inner;
        if (series) {
            inner = json_deep_copy(expr);
            if (inner)
                json_object_set_new(inner, "alias", json_string(""));
        } else {
            json_t *a = json_array_get(args, 0), *d = json_array_get(args, 1);
            inner = function_call(
                "generate_series",
                json_pack("[o, o]",
                          function_call("array_lower", json_pack("[O, O]", a, d)),
                          function_call("array_upper", json_pack("[O, O]", a, d))));
        }
        /* The column is named after the function, as PostgreSQL names it. */
        json_t *alias = *str(expr, "alias") ? NULL : json_string(name);
        int rc = replace_node(expr, inner ? function_call("unnest", json_pack("[o]", inner)) : NULL,
                              err);
        if (!rc && alias)
            json_object_set(expr, "alias", alias);
        json_decref(alias);
        return rc;
    }
    const char *key;
    json_t *v;
    json_object_foreach(expr, key, v)
    {
        size_t i;
        json_t *e;
        int rc = 0;
        if (json_is_object(v))
            rc = expand_set_functions(v, err);
        json_array_foreach(v, i, e)
        {
            if (!rc && json_is_object(e))
                rc = expand_set_functions(e, err);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int pgdialect_rewrite_node(json_t *node, const char *text, const char **reads, tarn_err_t *err)
{
    const char *cls = str(node, "class"), *type = str(node, "type");
    *reads = NULL;
    if (!strcmp(type, "SELECT_NODE")) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(node, "select_list"), i, e)
        {
            int rc = expand_set_functions(e, err);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (!strcmp(cls, "FUNCTION"))
        return rewrite_function(node, text, reads, err);
    if (!strcmp(cls, "CAST"))
        return rewrite_cast(node, reads, err);
    if (!strcmp(cls, "COLUMN_REF")) {
        /* pg_catalog.pg_class.relname: the session's pg_class goes by its name alone. */
        json_t *names = json_object_get(node, "column_names");
        const char *first = json_string_value(json_array_get(names, 0));
        if (json_array_size(names) >= 3 && first &&
            (!strcasecmp(first, "pg_catalog") || !strcasecmp(first, "information_schema")))
            json_array_remove(names, 0);
    } else if (!strcmp(cls, "COMPARISON")) {
        array_literal(json_object_get(node, "left"));
        array_literal(json_object_get(node, "right"));
    } else if (!strcmp(type, "OPERATOR_NOT") && located_at(node, text, "!~") &&
               !located_at(node, text, "!~~")) {
        /* a !~ b is NOT regexp_full_match(a, b). */
        json_t *f = json_array_get(json_object_get(node, "children"), 0);
        if (!strcmp(str(f, "function_name"), "regexp_full_match"))
            json_object_set_new(f, "function_name", json_string("regexp_matches"));
    } else if (!strcmp(type, "TABLE_FUNCTION") && *str(node, "alias") &&
               !json_array_size(json_object_get(node, "column_name_alias"))) {
        const char *fn = str(json_object_get(node, "function"), "function_name");
        if (!strcmp(fn, "unnest") || !strcmp(fn, "generate_series"))
            json_object_set_new(node, "column_name_alias", json_pack("[s]", str(node, "alias")));
    }
    return 0;
}
