/* The engine's parse tree of a statement (json_serialize_sql) as JSON, and back
 * (json_deserialize_sql); see engine.h. The tree holds integers beyond what JSON libraries
 * keep exactly, which are carried through as marked strings. */
#include "engine/engine.h"
#include "util/buf.h"
#include "util/hash.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The tree holds unsigned 64-bit and larger integers (a location of UINT64_MAX for "none",
 * big literals). Each integer token of more than 18 digits outside strings becomes the
 * string "<mark><digits>", and back after the rewrite; the mark has a random part, so no
 * string of the user's can pass for one. */
static char *protect_ints(const char *in, const char *mark, arena_t *a)
{
    buf_t b = BUF_INIT;
    bool in_str = false;
    for (const char *p = in; *p;) {
        if (in_str) {
            if (*p == '\\' && p[1]) {
                buf_append(&b, p, 2);
                p += 2;
                continue;
            }
            in_str = *p != '"';
            buf_putc(&b, *p++);
            continue;
        }
        if (*p == '"') {
            in_str = true;
            buf_putc(&b, *p++);
            continue;
        }
        if (*p == '-' || isdigit((unsigned char)*p)) {
            size_t n = strspn(p + (*p == '-'), "0123456789") + (*p == '-');
            bool integer = !strchr(".eE", p[n]) || !p[n];
            if (integer && n > 18)
                buf_printf(&b, "\"%s%.*s\"", mark, (int)n, p);
            else
                buf_append(&b, p, n);
            p += n;
            continue;
        }
        buf_putc(&b, *p++);
    }
    char *out = b.data ? arena_strdup(a, b.data) : NULL;
    buf_free(&b);
    return out;
}

static char *restore_ints(const char *in, const char *mark, arena_t *a)
{
    buf_t b = BUF_INIT;
    size_t ml = strlen(mark);
    for (const char *p = in; *p;) {
        if (*p == '"' && !strncmp(p + 1, mark, ml)) {
            const char *d = p + 1 + ml;
            size_t n = strspn(d + (*d == '-'), "0123456789") + (*d == '-');
            if (d[n] == '"') {
                buf_append(&b, d, n);
                p = d + n + 1;
                continue;
            }
        }
        buf_putc(&b, *p++);
    }
    char *out = b.data ? arena_strdup(a, b.data) : NULL;
    buf_free(&b);
    return out;
}

/* Runs SELECT fn(literal) and gives its one text cell. */
static int one_text(engine_conn_t *c, const char *fn, const char *arg, const char **out,
                    arena_t *a, tarn_err_t *err)
{
    char *lit = engine_quote(a, arg);
    char *q = lit ? arena_sprintf(a, "SELECT %s(%s)", fn, lit) : NULL;
    engine_rows_t r;
    int rc = q ? engine_query(c, q, 1, &r, a, err) : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (!rc && (r.nrows != 1 || !r.cells[0]))
        rc = TARN_ERR(err, TARN_EIO, "the SQL engine returned nothing for %s", fn);
    if (!rc)
        *out = r.cells[0];
    return rc;
}

static void new_mark(char *mark, size_t cap)
{
    uint8_t r[8];
    char hex[17];
    hash_random(r, sizeof r);
    hash_hex(hex, r, sizeof r);
    snprintf(mark, cap, "tarn-int-%s:", hex);
}

int engine_tree_parse(engine_conn_t *c, const char *sql, json_t **tree, char *mark, arena_t *a,
                      tarn_err_t *err)
{
    new_mark(mark, ENGINE_TREE_MARK);
    const char *text;
    int rc = one_text(c, "json_serialize_sql", sql, &text, a, err);
    if (rc)
        return rc;
    const char *safe = protect_ints(text, mark, a);
    json_error_t je;
    json_t *t = safe ? json_loads(safe, 0, &je) : NULL;
    if (!t)
        return TARN_ERR(err, TARN_EIO, "cannot read the parse tree: %s",
                        safe ? je.text : "out of memory");
    *tree = t;
    return 0;
}

int engine_tree_print(engine_conn_t *c, const json_t *tree, const char *mark, const char **sql,
                      arena_t *a, tarn_err_t *err)
{
    char *text = json_dumps(tree, JSON_COMPACT);
    const char *exact = text ? restore_ints(text, mark, a) : NULL;
    free(text);
    if (!exact)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    return one_text(c, "json_deserialize_sql", exact, sql, a, err);
}

/* ---- walking a tree ---- */

static int walk(json_t *j, int (*visit)(void *, json_t *, const engine_tree_scope_t *),
                void *ctx, const engine_tree_scope_t *s)
{
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            int rc = walk(v, visit, ctx, s);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (!json_is_object(j))
        return 0;
    engine_tree_scope_t inner = {json_object_get(json_object_get(j, "cte_map"), "map"), s};
    if (json_array_size(inner.ctes))
        s = &inner;
    int rc = visit(ctx, j, s);
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (rc)
            break;
        rc = walk(v, visit, ctx, s);
    }
    return rc;
}

int engine_tree_walk(json_t *tree,
                     int (*visit)(void *ctx, json_t *node, const engine_tree_scope_t *scope),
                     void *ctx)
{
    return walk(tree, visit, ctx, NULL);
}

bool engine_tree_cte_visible(const engine_tree_scope_t *s, const char *name)
{
    for (; s; s = s->up) {
        size_t i;
        json_t *e;
        json_array_foreach(s->ctes, i, e)
        {
            const char *k = json_string_value(json_object_get(e, "key"));
            if (k && !strcasecmp(k, name))
                return true;
        }
    }
    return false;
}

bool engine_tree_safe_function(const char *name)
{
    static const char *const safe[] = {"unnest", "range", "generate_series", NULL};
    for (const char *const *p = safe; *p; p++)
        if (!strcmp(*p, name))
            return true;
    return false;
}
