/* The statement check of the SQL sandbox; see sandbox.h. */
#include "consume/sandbox.h"
#include "consume/pgwire/pgdialect.h"

#include "util/buf.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    sandbox_map_fn map; /* the session's view for a table name, or NULL: refused */
    void *ctx;
    tarn_err_t *err;
    bool pg;          /* PostgreSQL's dialect: nodes are rewritten before they are checked */
    const char *text; /* what was parsed (node locations point into it) */
} walk_t;

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static int check_node(const walk_t *w, json_t *o, const engine_tree_scope_t *s)
{
    const char *type = str(o, "type");
    if (!strcmp(type, "BASE_TABLE")) {
        const char *cat = str(o, "catalog_name"), *sch = str(o, "schema_name");
        const char *tab = str(o, "table_name");
        if (!*cat && !*sch && engine_tree_cte_visible(s, tab))
            return 0;
        const char *view = w->map(w->ctx, cat, sch, tab);
        if (view) {
            /* Qualified column references (orders.id) keep working through the alias. */
            if (!*str(o, "alias"))
                json_object_set_new(o, "alias", json_string(tab));
            json_object_set_new(o, "catalog_name", json_string("temp"));
            json_object_set_new(o, "schema_name", json_string("main"));
            json_object_set_new(o, "table_name", json_string(view));
            return 0;
        }
        return TARN_ERR_R(w->err, TARN_EDENIED, AccessDenied,
                          "no table %s%s%s%s%s in this session (tables are zone.database.table "
                          "names you may read; files and URLs cannot be read directly)",
                          cat, *cat ? "." : "", sch, *sch ? "." : "", tab);
    } else if (!strcmp(type, "SHOW_REF") && !json_is_object(json_object_get(o, "query"))) {
        /* SHOW of the engine's own catalog: the lake's tables are SHOW TABLES (answered
         * from the catalog before this check), and the engine's are nobody's business. */
        return TARN_ERR_R(w->err, TARN_EDENIED, AccessDenied,
                          "only SHOW TABLES is available: it lists the lake's tables you may "
                          "read");
    } else if (!strcmp(type, "TABLE_FUNCTION")) {
        const char *fn = str(json_object_get(o, "function"), "function_name");
        if (!engine_tree_safe_function(fn))
            return TARN_ERR_R(w->err, TARN_EDENIED, AccessDenied,
                              "table function %s is not allowed: query the lake's tables by name",
                              fn);
    }
    return 0;
}

/* PostgreSQL's meaning of the node; a function that reads one of the session's catalogs
 * asks for it like a table reference would, so it is there and up to date. */
static int pg_node(const walk_t *w, json_t *j)
{
    const char *reads;
    int rc = pgdialect_rewrite_node(j, w->text, &reads, w->err);
    if (!rc && reads && !w->map(w->ctx, "", "pg_catalog", reads))
        rc = TARN_ERR_R(w->err, TARN_EDENIED, AccessDenied, "pg_catalog.%s is not available",
                        reads);
    return rc;
}

/* Each node: in PostgreSQL's dialect rewritten first, then checked. */
static int visit(void *ctx, json_t *j, const engine_tree_scope_t *s)
{
    const walk_t *w = ctx;
    int rc = w->pg ? pg_node(w, j) : 0;
    return rc ? rc : check_node(w, j, s);
}

/* Parses sql into its tree and walks it with w; *tree (caller decrefs) on success. */
static int check_tree(engine_conn_t *c, const char *sql, const walk_t *w, char *mark,
                      json_t **tree, arena_t *a, tarn_err_t *err)
{
    json_t *t;
    int rc = engine_tree_parse(c, sql, &t, mark, a, err);
    if (rc)
        return rc;
    json_t *stmts = json_object_get(t, "statements");
    if (json_is_true(json_object_get(t, "error"))) {
        const char *type = str(t, "error_type"), *msg = str(t, "error_message");
        if (!strcmp(type, "parser"))
            rc = TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "%s", msg);
        else
            rc = TARN_ERR_R(err, TARN_EINVAL, NotReadOnly, "only a SELECT may run here (%s)",
                            msg);
    } else if (json_array_size(stmts) != 1) {
        rc = TARN_ERR_R(err, TARN_EINVAL, NotReadOnly,
                        "send exactly one statement (got %zu)", json_array_size(stmts));
    } else {
        rc = engine_tree_walk(stmts, visit, (void *)w);
    }
    if (rc)
        json_decref(t);
    else
        *tree = t;
    return rc;
}

static int map_select(engine_conn_t *c, bool pg, const char *sql, sandbox_map_fn map,
                      void *ctx, const char **out, arena_t *a, tarn_err_t *err)
{
    char mark[ENGINE_TREE_MARK];
    walk_t w = {.map = map, .ctx = ctx, .err = err, .pg = pg, .text = sql};
    json_t *tree = NULL;
    int rc = check_tree(c, sql, &w, mark, &tree, a, err);
    if (rc)
        return rc;
    rc = engine_tree_print(c, tree, mark, out, a, err);
    json_decref(tree);
    return rc;
}

int sandbox_check_syntax(engine_conn_t *c, const char *sql, arena_t *a, tarn_err_t *err)
{
    char mark[ENGINE_TREE_MARK];
    json_t *t;
    int rc = engine_tree_parse(c, sql, &t, mark, a, err);
    if (rc)
        return rc;
    if (json_is_true(json_object_get(t, "error")) && !strcmp(str(t, "error_type"), "parser"))
        rc = TARN_ERR_R(err, TARN_EINVAL, SyntaxError, "%s", str(t, "error_message"));
    json_decref(t);
    return rc;
}

int sandbox_map_select(engine_conn_t *c, const char *sql, sandbox_map_fn map, void *ctx,
                       const char **out, arena_t *a, tarn_err_t *err)
{
    return map_select(c, false, sql, map, ctx, out, a, err);
}

/* Skips blanks and SQL comments. */
static const char *skip_blank(const char *p)
{
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

static bool word_is(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && !strncasecmp(p, w, n);
}

static int map_statement(engine_conn_t *c, bool pg, const char *sql, sandbox_map_fn map,
                         void *ctx, const char **out, arena_t *a, tarn_err_t *err)
{
    int rc = pg ? pgdialect_rewrite_text(sql, &sql, a, err) : 0;
    if (rc)
        return rc;
    const char *p = skip_blank(sql);
    size_t n = 0;
    while (isalpha((unsigned char)p[n]))
        n++;
    const char *kind = word_is(p, n, "DESCRIBE") || word_is(p, n, "DESC") ? "DESCRIBE"
                       : word_is(p, n, "SUMMARIZE")                      ? "SUMMARIZE"
                       : word_is(p, n, "EXPLAIN")                        ? "EXPLAIN"
                                                                         : NULL;
    if (!kind)
        return map_select(c, pg, sql, map, ctx, out, a, err);
    const char *rest = skip_blank(p + n);
    size_t m = 0;
    while (isalpha((unsigned char)rest[m]))
        m++;
    if (!strcmp(kind, "EXPLAIN") && word_is(rest, m, "ANALYZE")) {
        kind = "EXPLAIN ANALYZE";
        rest = skip_blank(rest + m);
        for (m = 0; isalpha((unsigned char)rest[m]);)
            m++;
    }
    if (!*rest || *rest == ';')
        return TARN_ERR_R(err, TARN_EINVAL, NotReadOnly, "%s needs a table or a query", kind);
    /* DESCRIBE t is DESCRIBE of SELECT * FROM t: one kind of inner query to check. EXPLAIN
     * only explains queries. */
    if (kind[0] == 'E' && !(*rest == '(' || word_is(rest, m, "SELECT") ||
                            word_is(rest, m, "WITH") || word_is(rest, m, "FROM") ||
                            word_is(rest, m, "VALUES")))
        return TARN_ERR_R(err, TARN_EINVAL, NotReadOnly, "only a query can be explained here");
    bool query = *rest == '(' || word_is(rest, m, "SELECT") || word_is(rest, m, "WITH") ||
                 word_is(rest, m, "FROM") || word_is(rest, m, "VALUES");
    const char *inner = query ? rest : arena_sprintf(a, "SELECT * FROM %s", rest);
    const char *mapped;
    rc = inner ? map_select(c, pg, inner, map, ctx, &mapped, a, err)
               : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc)
        return rc;
    *out = arena_sprintf(a, "%s %s", kind, mapped);
    return *out ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

int sandbox_map_statement(engine_conn_t *c, const char *sql, sandbox_map_fn map, void *ctx,
                          const char **out, arena_t *a, tarn_err_t *err)
{
    return map_statement(c, false, sql, map, ctx, out, a, err);
}

int sandbox_map_pg_statement(engine_conn_t *c, const char *sql, sandbox_map_fn map, void *ctx,
                             const char **out, arena_t *a, tarn_err_t *err)
{
    return map_statement(c, true, sql, map, ctx, out, a, err);
}
