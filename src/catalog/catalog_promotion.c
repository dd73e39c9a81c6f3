/* Promotion policies (raw -> cleaned) and quarantine counts, one per database.table: the
 * catalog keeps them so that `tarn table show` and PATCH of a raw or cleaned table read and
 * change them; the process layer's promoter reads them for every object it checks. */
#include "catalog/catalog_internal.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>

static const char *const modes[] = {"additive", "strict", "any", NULL};

static bool valid_mode(const char *m)
{
    for (const char *const *p = modes; m && *p; p++)
        if (!strcmp(*p, m))
            return true;
    return false;
}

int catalog_promotion_get(catalog_t *c, const char *db, const char *name, json_t **out,
                          tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT mode, required_columns, not_null_keys, raw_retention_s,"
                        " quarantined FROM cat_promotion WHERE db = ?1 AND name = ?2",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, db, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    json_t *o = NULL;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        json_t *req = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        json_t *nn = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        o = json_pack("{s:s, s:o, s:o, s:o, s:I}", "mode", sqlite3_column_text(st, 0),
                      "required_columns", req ? req : json_array(), "not_null_keys",
                      nn ? nn : json_array(), "raw_retention_s", db_col_int(st, 3), "quarantined",
                      (json_int_t)sqlite3_column_int64(st, 4));
    } else if (step == SQLITE_DONE) {
        o = json_pack("{s:s, s:[], s:[], s:n, s:i}", "mode", "additive", "required_columns",
                      "not_null_keys", "raw_retention_s", "quarantined", 0);
    }
    db_done(c->db, st);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return db_fail(c->db, step, err, "read promotion policy");
    if (!o)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *out = o;
    return 0;
}

/* A list of column names: an array of non-empty strings. */
static int name_list(const json_t *v, const char *field, tarn_err_t *err)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "promotion.%s is an array of column names", field);
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || !*json_string_value(e))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "promotion.%s is an array of column names", field);
    }
    return 0;
}

static int write_policy(catalog_t *c, const char *db, const char *name, const json_t *p,
                        tarn_err_t *err)
{
    sqlite3_stmt *st;
    char *req = cat_json_text(json_object_get(p, "required_columns"));
    char *nn = cat_json_text(json_object_get(p, "not_null_keys"));
    int rc = req && nn ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (!rc)
        rc = db_prepare(c->db, &st,
                        "INSERT INTO cat_promotion(db, name, mode, required_columns,"
                        " not_null_keys, raw_retention_s, updated_ms) VALUES(?1, ?2, ?3, ?4, ?5,"
                        " ?6, ?7) ON CONFLICT(db, name) DO UPDATE SET mode = ?3,"
                        " required_columns = ?4, not_null_keys = ?5, raw_retention_s = ?6,"
                        " updated_ms = ?7",
                        err);
    if (rc)
        goto done;
    json_t *ret = json_object_get(p, "raw_retention_s");
    sqlite3_bind_text(st, 1, db, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, json_string_value(json_object_get(p, "mode")), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, req, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, nn, -1, SQLITE_STATIC);
    if (json_is_integer(ret))
        sqlite3_bind_int64(st, 6, json_integer_value(ret));
    sqlite3_bind_int64(st, 7, time_now_ms());
    int step = sqlite3_step(st);
    db_done(c->db, st);
    if (step != SQLITE_DONE)
        rc = db_fail(c->db, step, err, "write promotion policy");
done:
    free(req);
    free(nn);
    return rc;
}

int cat_promotion_apply(catalog_t *c, const char *zone, const char *db, const char *name,
                        const json_t *patch, tarn_err_t *err)
{
    static const char *const valid[] = {"mode", "required_columns", "not_null_keys",
                                        "raw_retention_s"};
    if (strcmp(zone, "raw") && strcmp(zone, "cleaned"))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "promotion policies belong to raw and cleaned tables (got %s)", zone);
    if (!json_is_object(patch))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "promotion is an object: {\"mode\": \"additive\", "
                          "\"required_columns\": [...], \"not_null_keys\": [...], "
                          "\"raw_retention_s\": N}");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
            known = known || !strcmp(k, valid[i]);
        if (!known)
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "unknown promotion field '%s' (valid: mode, required_columns, "
                              "not_null_keys, raw_retention_s)",
                              k);
    }
    json_t *mode = json_object_get(patch, "mode");
    if (mode && !valid_mode(json_string_value(mode)))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "promotion mode is additive, strict or any");
    json_t *ret = json_object_get(patch, "raw_retention_s");
    if (ret && !json_is_null(ret) && (!json_is_integer(ret) || json_integer_value(ret) < 0))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "promotion.raw_retention_s is seconds (0 or more), or null for the "
                          "server's default");
    int rc = 0;
    static const char *const lists[] = {"required_columns", "not_null_keys"};
    for (int i = 0; !rc && i < 2; i++)
        if (json_object_get(patch, lists[i]))
            rc = name_list(json_object_get(patch, lists[i]), lists[i], err);
    json_t *cur = NULL;
    if (rc || (rc = catalog_promotion_get(c, db, name, &cur, err)))
        return rc;
    json_object_del(cur, "quarantined");
    json_object_update_existing(cur, (json_t *)patch);
    rc = write_policy(c, db, name, cur, err);
    json_decref(cur);
    return rc;
}

int catalog_promotion_quarantined_set(catalog_t *c, const char *db, const char *name, int64_t n,
                                      tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "INSERT INTO cat_promotion(db, name, quarantined, updated_ms)"
                        " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(db, name) DO UPDATE SET"
                        " quarantined = ?3",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, db, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, n);
    sqlite3_bind_int64(st, 4, time_now_ms());
    int step = sqlite3_step(st);
    db_done(c->db, st);
    return step == SQLITE_DONE ? 0 : db_fail(c->db, step, err, "count quarantined objects");
}

int catalog_cursor_set(catalog_t *c, const char *cursor, int64_t pos, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "INSERT OR REPLACE INTO cat_cursors(name, position) VALUES(?1, ?2)", err);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, cursor, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, pos);
    int step = sqlite3_step(st);
    db_done(c->db, st);
    return step == SQLITE_DONE ? 0 : db_fail(c->db, step, err, "record cursor position");
}
