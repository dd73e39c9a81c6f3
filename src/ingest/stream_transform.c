/* The record transform of delivery streams; see stream_transform.h. The check walks the
 * engine's own parse tree (json_serialize_sql), like the SQL sandbox, but the ingest
 * layer has no sessions or views: the only table a transform may name is `records`. */
#include "ingest/stream_transform.h"

#include "util/arena.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static int refuse(tarn_err_t *err, const char *why, const char *what)
{
    return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "%s %s%s", STREAM_TRANSFORM_FIELD,
                      why, what);
}

/* A transform reads its batch (`records`, or names its own WITH clauses bind) and
 * computes values; nothing else. */
static int check_node(void *ctx, json_t *j, const engine_tree_scope_t *s)
{
    tarn_err_t *err = ctx;
    const char *type = str(j, "type");
    if (!strcmp(type, "BASE_TABLE")) {
        const char *tab = str(j, "table_name");
        bool plain = !*str(j, "catalog_name") && !*str(j, "schema_name");
        if (!plain || (strcasecmp(tab, "records") && !engine_tree_cte_visible(s, tab)))
            return refuse(err, "may read only the batch's records (FROM records), not ", tab);
    } else if (!strcmp(type, "TABLE_FUNCTION")) {
        const char *fn = str(json_object_get(j, "function"), "function_name");
        if (!engine_tree_safe_function(fn))
            return refuse(err, "may not call the table function ", fn);
    }
    return 0;
}

/* The parse tree of sql; *tree NULL with a refusal in err when it is not one SELECT. */
static int parse(engine_conn_t *c, const char *sql, json_t **tree, arena_t *a, tarn_err_t *err)
{
    *tree = NULL;
    char mark[ENGINE_TREE_MARK];
    json_t *t;
    int rc = engine_tree_parse(c, sql, &t, mark, a, err);
    if (rc)
        return rc;
    json_t *stmts = json_object_get(t, "statements");
    if (json_is_true(json_object_get(t, "error"))) {
        rc = !strcmp(str(t, "error_type"), "parser")
                 ? refuse(err, "does not parse: ", str(t, "error_message"))
                 : refuse(err, "must be one SELECT statement: ", str(t, "error_message"));
    } else if (json_array_size(stmts) != 1) {
        rc = refuse(err, "must be exactly one SELECT statement", "");
    }
    if (rc)
        json_decref(t);
    else
        *tree = t;
    return rc;
}

int stream_transform_check(engine_conn_t *c, const char *sql, tarn_err_t *err)
{
    arena_t *a = arena_create();
    json_t *tree = NULL, *wrapped = NULL;
    buf_t sub = BUF_INIT;
    int rc;
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if ((rc = parse(c, sql, &tree, a, err)) ||
        (rc = engine_tree_walk(json_object_get(tree, "statements"), check_node, err)))
        goto done;
    /* Delivery runs it as a subquery: it must stay one SELECT there too (no trailing
     * semicolon or text that would close the parenthesis). */
    rc = buf_printf(&sub, "SELECT * FROM (\n%s\n) AS transformed", sql)
             ? TARN_ERR(err, TARN_ENOMEM, "out of memory")
             : parse(c, sub.data, &wrapped, a, err);
    if (rc == TARN_EINVAL)
        rc = refuse(err, "must be a single SELECT with no trailing semicolon or comment", "");
done:
    json_decref(tree);
    json_decref(wrapped);
    buf_free(&sub);
    arena_free(a);
    return rc;
}

static int quote(buf_t *b, const char *s)
{
    int rc = buf_putc(b, '\'');
    for (; *s && !rc; s++)
        rc = (*s == '\'' ? buf_putc(b, '\'') : 0) | buf_putc(b, *s);
    return rc | buf_putc(b, '\'');
}

int stream_transform_statement(buf_t *out, const char *sql, const char *in, const char *out_path)
{
    /* The batch is a WITH name around the user's query, so `records` means it and nothing
     * else; every record is sampled, so a key seen late still gets its column. */
    int rc = buf_puts(out, "COPY (WITH records AS (SELECT * FROM read_json(");
    rc |= quote(out, in);
    rc |= buf_puts(out, ", format='newline_delimited', sample_size=-1)) SELECT * FROM (\n");
    rc |= buf_puts(out, sql);
    rc |= buf_puts(out, "\n) AS transformed) TO ");
    rc |= quote(out, out_path);
    rc |= buf_puts(out, " (FORMAT json)");
    return rc ? TARN_ENOMEM : 0;
}
