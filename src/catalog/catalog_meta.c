/* Explicit tables (declared schemas) and business metadata: descriptions, owners,
 * stewards, tags, column sensitivity; see catalog.h. */
#include "catalog/catalog_internal.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const formats[] = {"csv", "tsv", "jsonl", "json", "parquet", NULL};
static const char *const sensitivities[] = {"public", "internal", "confidential", "restricted",
                                            NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; s && *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

/* Rejects keys of o not in valid, naming them. */
static int check_keys(const json_t *o, const char *const *valid, const char *what,
                      tarn_err_t *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (in_list(valid, k))
            continue;
        char list[400] = "";
        for (const char *const *p = valid; *p; p++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     p == valid ? "" : ", ", *p);
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "unknown %s field '%s' (valid: %s)", what, k, list);
    }
    return 0;
}

/* A tag: 1-64 of letters, digits and _ - : . (lower-cased). */
static int tag_norm(char *out, const char *tag, tarn_err_t *err)
{
    size_t n = tag ? strlen(tag) : 0;
    if (!n || n > 64)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "a tag is 1 to 64 characters");
    for (size_t i = 0; i <= n; i++) {
        char ch = tag[i];
        if (ch && !(isalnum((unsigned char)ch) || strchr("_-:.", ch)))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "tag '%s': use letters, digits and _ - : . only", tag);
        out[i] = (char)tolower((unsigned char)ch);
    }
    return 0;
}

/* New tag list from the current one and a patch's tags / add_tags / remove_tags. */
static int tags_apply(json_t **tags, const json_t *patch, tarn_err_t *err)
{
    const json_t *set = json_object_get(patch, "tags");
    const json_t *add = json_object_get(patch, "add_tags");
    const json_t *rm = json_object_get(patch, "remove_tags");
    const json_t *lists[] = {set, add, rm};
    for (int i = 0; i < 3; i++)
        if (lists[i] && !json_is_array(lists[i]))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "tags, add_tags and remove_tags are arrays of strings");
    json_t *out = set || !*tags ? json_array() : json_deep_copy(*tags);
    const json_t *adds[] = {set, add};
    size_t i;
    json_t *v;
    for (int l = 0; l < 2; l++)
        json_array_foreach((json_t *)adds[l], i, v)
        {
            char t[65];
            int rc = tag_norm(t, json_string_value(v), err);
            if (rc) {
                json_decref(out);
                return rc;
            }
            bool dup = false;
            for (size_t k = 0; k < json_array_size(out); k++)
                dup |= !strcmp(json_string_value(json_array_get(out, k)), t);
            if (!dup)
                json_array_append_new(out, json_string(t));
        }
    json_array_foreach((json_t *)rm, i, v)
    {
        char t[65];
        if (tag_norm(t, json_string_value(v), err))
            continue;
        for (size_t k = json_array_size(out); k-- > 0;)
            if (!strcmp(json_string_value(json_array_get(out, k)), t))
                json_array_remove(out, k);
    }
    json_decref(*tags);
    *tags = out;
    return 0;
}

static int opt_string(const json_t *o, const char *k, const char **out, tarn_err_t *err)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "%s must be a string", k);
    *out = json_string_value(v);
    return 0;
}

static int validate_options(const char *format, const json_t *opts, tarn_err_t *err)
{
    static const char *const csv[] = {"delimiter", "quote", "escape", "header", "skip",
                                      "compression", "encoding", NULL};
    static const char *const json[] = {"layout", "compression", NULL};
    static const char *const none[] = {NULL};
    if (opts && !json_is_object(opts))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "options must be an object");
    const char *const *valid = !strcmp(format, "csv") || !strcmp(format, "tsv") ? csv
                               : !strcmp(format, "parquet")                     ? none
                                                                                : json;
    int rc = opts ? check_keys(opts, valid, "format option", err) : 0;
    const char *comp = json_string_value(json_object_get(opts, "compression"));
    if (!rc && comp && strcmp(comp, "none") && strcmp(comp, "gzip") && strcmp(comp, "zstd"))
        rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                        "compression is none, gzip or zstd (got '%s')", comp);
    return rc;
}

static int set_text(catalog_t *c, int64_t id, const char *col, const char *v, tarn_err_t *err)
{
    static const char *const cols[] = {"description", "owner", "steward", "tags", NULL};
    if (!in_list(cols, col))
        return TARN_ERR(err, TARN_EINVAL, "not a table field: %s", col);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE cat_tables SET %s = ?2, updated_ms = ?3 WHERE id = ?1", col);
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st, sql, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (v)
        sqlite3_bind_text(st, 2, v, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, time_now_ms());
    int step = sqlite3_step(st);
    db_done(c->db, st);
    return step == SQLITE_DONE ? 0 : db_fail(c->db, step, err, "update table");
}

/* Applies description/owner/steward/tags of patch to table id. */
static int table_fields_apply(catalog_t *c, int64_t id, const json_t *patch, tarn_err_t *err)
{
    static const char *const text_fields[] = {"description", "owner", "steward"};
    int rc = 0;
    for (int i = 0; !rc && i < 3; i++) {
        const char *v;
        if (!json_object_get(patch, text_fields[i]) ||
            (rc = opt_string(patch, text_fields[i], &v, err)))
            continue;
        rc = set_text(c, id, text_fields[i], v && *v ? v : NULL, err);
    }
    if (rc || !(json_object_get(patch, "tags") || json_object_get(patch, "add_tags") ||
                json_object_get(patch, "remove_tags")))
        return rc;
    sqlite3_stmt *st;
    json_t *tags = NULL;
    if ((rc = db_prepare(c->db, &st, "SELECT tags FROM cat_tables WHERE id = ?1", err)))
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        tags = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    db_done(c->db, st);
    if (!(rc = tags_apply(&tags, patch, err))) {
        char *t = cat_json_text(tags);
        rc = t ? set_text(c, id, "tags", t, err) : TARN_ERR(err, TARN_ENOMEM, "out of memory");
        free(t);
    }
    json_decref(tags);
    return rc;
}

static int column_apply(catalog_t *c, int64_t id, const schema_t *s, const char *name,
                        const json_t *patch, tarn_err_t *err)
{
    static const char *const valid[] = {"description", "sensitivity", "tags", "add_tags",
                                        "remove_tags", NULL};
    if (!json_is_object(patch))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "columns.%s must be an object of fields", name);
    int rc = check_keys(patch, valid, "column", err);
    if (rc)
        return rc;
    long k = schema_find(s, name);
    if (k < 0)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchColumn,
                          "the table has no column %s (see `tarn table show`)", name);
    name = s->cols[k].name;
    const char *desc = NULL, *sens = NULL;
    if ((rc = opt_string(patch, "description", &desc, err)) ||
        (rc = opt_string(patch, "sensitivity", &sens, err)))
        return rc;
    if (sens && !in_list(sensitivities, sens))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "sensitivity is public, internal, confidential or restricted (got '%s')",
                          sens);
    sqlite3_stmt *st;
    json_t *tags = NULL;
    char *cur_desc = NULL, *cur_sens = NULL;
    if ((rc = db_prepare(c->db, &st,
                         "SELECT description, sensitivity, tags FROM cat_columns WHERE table_id = ?1"
                         " AND name = ?2",
                         err)))
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 0);
        cur_desc = d ? strdup(d) : NULL;
        cur_sens = strdup((const char *)sqlite3_column_text(st, 1));
        tags = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
    }
    db_done(c->db, st);
    char *t = NULL;
    if ((rc = tags_apply(&tags, patch, err)))
        goto done;
    t = cat_json_text(tags);
    if ((rc = db_prepare(c->db, &st,
                         "INSERT OR REPLACE INTO cat_columns(table_id, name, description,"
                         " sensitivity, tags) VALUES(?1, ?2, ?3, ?4, ?5)",
                         err)))
        goto done;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    const char *nd = json_object_get(patch, "description") ? desc : cur_desc;
    if (nd && *nd)
        sqlite3_bind_text(st, 3, nd, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sens ? sens : cur_sens ? cur_sens : "internal", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, t ? t : "[]", -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    db_done(c->db, st);
    if (step != SQLITE_DONE)
        rc = db_fail(c->db, step, err, "update column");
done:
    free(t);
    free(cur_desc);
    free(cur_sens);
    json_decref(tags);
    return rc;
}

int catalog_table_update(catalog_t *c, const char *zone, const char *db, const char *name,
                         const json_t *patch, json_t **out, tarn_err_t *err)
{
    static const char *const valid[] = {"description", "owner", "steward", "tags", "add_tags",
                                        "remove_tags", "columns", "promotion", NULL};
    int rc = check_keys(patch, valid, "table", err);
    if (rc)
        return rc;
    const json_t *cols = json_object_get(patch, "columns");
    if (cols && !json_is_object(cols))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "columns is an object: {\"email\": {\"sensitivity\": \"restricted\"}}");
    if ((rc = db_exec(c->db, "BEGIN IMMEDIATE", err)))
        return rc;
    cat_table_t t = {0};
    schema_t s = {0};
    if ((rc = cat_table_load(c, zone, db, name, &t, err)) ||
        (rc = cat_schema_load(c, t.id, t.schema_version, &s, err)) ||
        (rc = table_fields_apply(c, t.id, patch, err)))
        goto done;
    const char *col;
    json_t *cp;
    json_object_foreach((json_t *)cols, col, cp)
    {
        if ((rc = column_apply(c, t.id, &s, col, cp, err)))
            goto done;
    }
    if (json_object_get(patch, "promotion") &&
        (rc = cat_promotion_apply(c, zone, db, name, json_object_get(patch, "promotion"), err)))
        goto done;
    rc = cat_search_refresh(c, t.id, err);
done:
    rc = rc ? (db_exec(c->db, "ROLLBACK", NULL), rc) : db_exec(c->db, "COMMIT", err);
    schema_free(&s);
    cat_table_release(&t);
    return rc ? rc : catalog_table_get(c, zone, db, name, out, err);
}

int catalog_table_create(catalog_t *c, const char *zone, const char *db, const char *name,
                         const json_t *spec, const char *creator, json_t **out, tarn_err_t *err)
{
    static const char *const valid[] = {"zone", "database", "table", "format", "schema",
                                        "options", "partition_keys", "description", "owner",
                                        "steward", "tags", NULL};
    int rc = check_keys(spec, valid, "table", err);
    if (rc)
        return rc;
    if (!catalog_zone_valid(zone))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "tables live in the zones raw, cleaned and curated (got '%s')", zone);
    if (!hive_valid_name(db) || !hive_valid_name(name))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "database and table names are letters, digits, _ and -, starting "
                          "with a letter (got %s.%s)", db, name);
    const char *format = json_string_value(json_object_get(spec, "format"));
    const char *schema_text = json_string_value(json_object_get(spec, "schema"));
    const char *pk_text = json_string_value(json_object_get(spec, "partition_keys"));
    const json_t *opts = json_object_get(spec, "options");
    if (!in_list(formats, format))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "format is csv, tsv, jsonl, json or parquet (got '%s')",
                          format ? format : "nothing");
    if (!schema_text)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "a declared table needs a schema: \"id BIGINT, name VARCHAR\"");
    if ((rc = validate_options(format, opts, err)))
        return rc;
    schema_t s = {0}, pks = {0};
    json_t *pk = json_array();
    cat_table_t t = {0};
    if ((rc = schema_parse(&s, schema_text, err))) {
        err->reason = TARN_R_InvalidArgument;
        goto out;
    }
    if (pk_text) {
        if ((rc = schema_parse(&pks, pk_text, err))) {
            err->reason = TARN_R_InvalidArgument;
            goto out;
        }
        for (size_t i = 0; i < pks.n; i++)
            json_array_append_new(pk, json_pack("{s:s, s:s}", "name", pks.cols[i].name, "type",
                                                pks.cols[i].type));
    }
    if ((rc = db_exec(c->db, "BEGIN IMMEDIATE", err)))
        goto out;
    schema_t empty = {0};
    json_t *changes = schema_diff(&empty, &s);
    const char *owner;
    json_t *o = opts ? json_deep_copy(opts) : json_object();
    if (!json_object_get(o, "compression"))
        json_object_set_new(o, "compression", json_string("none"));
    if (!(rc = opt_string(spec, "owner", &owner, err)) &&
        !(rc = cat_table_insert(c, zone, db, name, format, o, pk, true,
                                owner ? owner : creator, &t, err)) &&
        !(rc = cat_version_add(c, &t, &s, changes, err)) &&
        !(rc = table_fields_apply(c, t.id, spec, err)))
        rc = cat_search_refresh(c, t.id, err);
    json_decref(o);
    json_decref(changes);
    rc = rc ? (db_exec(c->db, "ROLLBACK", NULL), rc) : db_exec(c->db, "COMMIT", err);
out:
    schema_free(&s);
    schema_free(&pks);
    json_decref(pk);
    cat_table_release(&t);
    return rc ? rc : catalog_table_get(c, zone, db, name, out, err);
}
