/* The statement check of the SQL sandbox; see sandbox.h. */
#include "consume/sandbox.h"

#include <jansson.h>
#include <string.h>

/* Table functions that only compute values. */
static const char *const safe_table_functions[] = {"unnest", "range", "generate_series", NULL};

/* Names a WITH clause binds, visible to the query that defines them. */
typedef struct scope {
    const json_t *ctes; /* the cte_map's "map" array */
    const struct scope *up;
} scope_t;

typedef struct {
    sandbox_allow_fn allow;
    void *ctx;
    tarn_err_t *err;
} walk_t;

static bool cte_visible(const scope_t *s, const char *name)
{
    for (; s; s = s->up) {
        size_t i;
        json_t *e;
        json_array_foreach(s->ctes, i, e)
        {
            const char *k = json_string_value(json_object_get(e, "key"));
            if (k && !strcmp(k, name))
                return true;
        }
    }
    return false;
}

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static int walk(const walk_t *w, const json_t *j, const scope_t *s);

static int check_node(const walk_t *w, const json_t *o, const scope_t *s)
{
    const char *type = str(o, "type");
    if (!strcmp(type, "BASE_TABLE")) {
        const char *cat = str(o, "catalog_name"), *sch = str(o, "schema_name");
        const char *tab = str(o, "table_name");
        if (!*cat && !*sch && cte_visible(s, tab))
            return 0;
        if (!w->allow(w->ctx, cat, sch, tab))
            return TARN_ERR_R(w->err, TARN_EDENIED, "AccessDenied",
                              "no table %s%s%s%s%s in this session (tables are zone.database.table "
                              "names you may read; files and URLs cannot be read directly)",
                              cat, *cat ? "." : "", sch, *sch ? "." : "", tab);
    } else if (!strcmp(type, "TABLE_FUNCTION")) {
        const char *fn = str(json_object_get(o, "function"), "function_name");
        bool safe = false;
        for (const char *const *p = safe_table_functions; *p && !safe; p++)
            safe = !strcmp(*p, fn);
        if (!safe)
            return TARN_ERR_R(w->err, TARN_EDENIED, "AccessDenied",
                              "table function %s is not allowed: query the lake's tables by name",
                              fn);
    }
    return 0;
}

static int walk(const walk_t *w, const json_t *j, const scope_t *s)
{
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            int rc = walk(w, v, s);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (!json_is_object(j))
        return 0;
    scope_t inner = {json_object_get(json_object_get(j, "cte_map"), "map"), s};
    if (json_array_size(inner.ctes))
        s = &inner;
    int rc = check_node(w, j, s);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
    {
        if (rc)
            break;
        rc = walk(w, v, s);
    }
    return rc;
}

int sandbox_check_select(engine_conn_t *c, const char *sql, sandbox_allow_fn allow, void *ctx,
                         arena_t *a, tarn_err_t *err)
{
    char *lit = engine_quote(a, sql);
    char *q = lit ? arena_sprintf(a, "SELECT json_serialize_sql(%s)", lit) : NULL;
    engine_rows_t r;
    int rc = q ? engine_query(c, q, 1, &r, a, err) : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc)
        return rc;
    /* Locations are unsigned 64-bit (UINT64_MAX for none): read numbers as reals. */
    json_t *tree = r.nrows == 1 && r.cells[0]
                       ? json_loads(r.cells[0], JSON_DECODE_INT_AS_REAL, NULL)
                       : NULL;
    if (!tree)
        return TARN_ERR(err, TARN_EIO, "the SQL engine returned no parse tree");
    const json_t *stmts = json_object_get(tree, "statements");
    if (json_is_true(json_object_get(tree, "error"))) {
        const char *type = str(tree, "error_type"), *msg = str(tree, "error_message");
        if (!strcmp(type, "parser"))
            rc = TARN_ERR_R(err, TARN_EINVAL, "SyntaxError", "%s", msg);
        else
            rc = TARN_ERR_R(err, TARN_EINVAL, "NotReadOnly",
                            "only a SELECT may run here (%s)", msg);
    } else if (json_array_size(stmts) != 1) {
        rc = TARN_ERR_R(err, TARN_EINVAL, "NotReadOnly",
                        "send exactly one statement (got %zu)", json_array_size(stmts));
    } else {
        walk_t w = {allow, ctx, err};
        rc = walk(&w, stmts, NULL);
    }
    json_decref(tree);
    return rc;
}
