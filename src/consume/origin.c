/* Result columns traced to the lake tables they come from; see origin.h. Only the top
 * SELECT is read: its FROM (base tables and joins of them) and its select list (column
 * references and stars); a subquery, a set operation or a table function in FROM leaves
 * the columns untraced rather than guessed. */
#include "consume/origin.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* The FROM items of a base table or joins of them, in order, as [{"view", "alias"}];
 * false for anything else. */
static bool from_items(const json_t *f, json_t *out)
{
    const char *type = str(f, "type");
    if (!strcmp(type, "BASE_TABLE"))
        return !json_array_append_new(out, json_pack("{s:s, s:s}", "view", str(f, "table_name"),
                                                     "alias", str(f, "alias")));
    if (!strcmp(type, "JOIN"))
        return from_items(json_object_get(f, "left"), out) &&
               from_items(json_object_get(f, "right"), out);
    return false;
}

/* The table id and position of column name (qualified by q, "" when bare) among the
 * FROM items; false when no single item has it. */
static bool resolve(const json_t *from, const json_t *views, const char *q, const char *name,
                    json_int_t *id, json_int_t *pos)
{
    char lower[256];
    size_t n = strlen(name);
    if (n >= sizeof lower)
        return false;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    int found = 0;
    size_t i;
    const json_t *f;
    json_array_foreach(from, i, f)
    {
        if (*q && strcasecmp(q, str(f, "alias")) && strcasecmp(q, str(f, "view")))
            continue;
        const json_t *v = json_object_get(views, str(f, "view"));
        const json_t *p = json_object_get(json_object_get(v, "cols"), lower);
        if (!v) {
            /* Not a lake table (a catalog relation): a bare name might be its column. */
            if (!*q)
                return false;
            continue;
        }
        if (p) {
            *id = json_integer_value(json_object_get(v, "id"));
            *pos = json_integer_value(p);
            found++;
        }
    }
    return found == 1;
}

static void mark(json_t *col, json_int_t id, json_int_t pos)
{
    json_object_set_new(col, "table_id", json_integer(id));
    json_object_set_new(col, "attnum", json_integer(pos));
}

json_t *origin_read(engine_conn_t *c, const char *mapped, arena_t *a)
{
    char m[ENGINE_TREE_MARK];
    json_t *tree = NULL, *from = json_array(), *plan = NULL;
    tarn_err_t err = {0};
    if (!from || engine_tree_parse(c, mapped, &tree, m, a, &err))
        goto done;
    const json_t *node = json_object_get(json_array_get(json_object_get(tree, "statements"), 0),
                                         "node");
    if (json_is_true(json_object_get(tree, "error")) || strcmp(str(node, "type"), "SELECT_NODE") ||
        !from_items(json_object_get(node, "from_table"), from))
        goto done;
    plan = json_pack("{s:O, s:O}", "from", from, "items", json_object_get(node, "select_list"));
done:
    json_decref(tree);
    json_decref(from);
    return plan;
}

void origin_apply(const json_t *plan, const json_t *views, json_t *cols)
{
    const json_t *from = json_object_get(plan, "from"), *items = json_object_get(plan, "items");
    size_t nitems = json_array_size(items), ncols = json_array_size(cols), stars = 0, i;
    const json_t *e;
    json_array_foreach(items, i, e) stars += !strcmp(str(e, "class"), "STAR");
    /* One star stands for the columns the other items leave; more cannot be told apart. */
    if (!plan || stars > 1 || nitems - stars > ncols)
        return;
    size_t star_width = ncols - (nitems - stars), k = 0;
    json_int_t id, pos;
    json_array_foreach(items, i, e)
    {
        const char *cls = str(e, "class");
        if (!strcmp(cls, "STAR")) {
            bool plain = !json_array_size(json_object_get(e, "exclude_list")) &&
                         !json_object_size(json_object_get(e, "replace_list")) &&
                         !json_is_true(json_object_get(e, "columns"));
            for (size_t w = 0; w < star_width; w++, k++) {
                json_t *col = json_array_get(cols, k);
                if (plain && resolve(from, views, str(e, "relation_name"), str(col, "name"), &id,
                                     &pos))
                    mark(col, id, pos);
            }
            continue;
        }
        const json_t *names = json_object_get(e, "column_names");
        size_t nn = json_array_size(names);
        if (!strcmp(cls, "COLUMN_REF") && (nn == 1 || nn == 2) &&
            resolve(from, views, nn == 2 ? json_string_value(json_array_get(names, 0)) : "",
                    json_string_value(json_array_get(names, nn - 1)), &id, &pos))
            mark(json_array_get(cols, k), id, pos);
        k++;
    }
}
