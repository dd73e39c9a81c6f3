/* The quarantine as users see it: listing what failed promotion and why, releasing an
 * object for another pass (queued as a row the promoter thread takes), and the
 * promoter's metrics; see promote.h. */
#include "process/promote.h"
#include "process/promote_internal.h"
#include "util/timeutil.h"

#include <string.h>

int promote_quarantine_list(catalog_t *c, const char *db_name, const char *name, json_t **out,
                            tarn_err_t *err)
{
    db_t *db = catalog_db(c);
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st,
                        "SELECT q.key, q.db, q.tbl, q.check_name, q.detail, q.line, q.row,"
                        " q.size, q.time_ms, EXISTS(SELECT 1 FROM proc_promotions p WHERE"
                        " p.source = 'quarantine' AND p.key = q.key AND p.state = 'pending')"
                        " FROM proc_quarantine q WHERE ?1 IS NULL OR (q.db = ?1 AND q.tbl = ?2)"
                        " ORDER BY q.key",
                        err);
    if (rc)
        return rc;
    if (db_name) {
        sqlite3_bind_text(st, 1, db_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    }
    json_t *a = json_array();
    int step;
    while (a && (step = sqlite3_step(st)) == SQLITE_ROW) {
        char t[32], table[300] = "";
        time_fmt_iso_ms(t, sqlite3_column_int64(st, 8));
        if (sqlite3_column_type(st, 1) != SQLITE_NULL)
            snprintf(table, sizeof table, "cleaned.%s.%s", sqlite3_column_text(st, 1),
                     sqlite3_column_text(st, 2));
        json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:o, s:o, s:I, s:s}", "key",
                              sqlite3_column_text(st, 0), "table", *table ? table : NULL, "check",
                              sqlite3_column_text(st, 3), "detail", sqlite3_column_text(st, 4),
                              "line", db_col_int(st, 5), "row", db_col_int(st, 6), "size",
                              (json_int_t)sqlite3_column_int64(st, 7), "time", t);
        if (o && sqlite3_column_int(st, 9))
            json_object_set_new(o, "release", json_string("pending"));
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            a = NULL;
        }
    }
    db_done(db, st);
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *out = json_pack("{s:o}", "objects", a);
    return *out ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

int promote_quarantine_release(catalog_t *c, store_t *s, const char *key, json_t **out,
                               tarn_err_t *err)
{
    db_t *db = catalog_db(c);
    sqlite3_stmt *st;
    arena_t *a = arena_create();
    store_object_t o;
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    int rc = db_prepare(db, &st, "SELECT 1 FROM proc_quarantine WHERE key = ?1", err);
    if (rc)
        goto done;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    bool known = sqlite3_step(st) == SQLITE_ROW;
    db_done(db, st);
    tarn_err_t e = {0};
    if (!known || store_object_head(s, "quarantine", key, &o, a, &e)) {
        rc = TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchKey,
                        "%s is not in quarantine (see `tarn quarantine list`)", key);
        goto done;
    }
    /* One pending release per key: asking twice queues it once. */
    if ((rc = db_exec(db, "BEGIN IMMEDIATE", err)))
        goto done;
    rc = promote_sql(db,
                     "INSERT INTO proc_promotions(source, key, etag, state, created_ms)"
                     " SELECT 'quarantine', ?1, ?2, 'pending', ?3 WHERE NOT EXISTS (SELECT 1"
                     " FROM proc_promotions WHERE source = 'quarantine' AND key = ?1 AND"
                     " state = 'pending')",
                     key, o.etag, time_now_ms(), err);
    rc = rc ? (db_exec(db, "ROLLBACK", NULL), rc) : db_exec(db, "COMMIT", err);
    if (!rc && !(*out = json_pack("{s:s, s:s}", "key", key, "release", "pending")))
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
done:
    arena_free(a);
    return rc;
}

int promote_metrics(catalog_t *c,
                    void (*line)(void *ctx, const char *name, const char *labels, long long value),
                    void *ctx, tarn_err_t *err)
{
    static const struct {
        const char *name, *sql;
    } gauges[] = {
        {"tarn_promotions_total", "SELECT 'outcome=\"' || outcome || '\"', n FROM proc_outcomes"
                                  " ORDER BY outcome"},
        {"tarn_promoter_lag_events", "SELECT '', (SELECT coalesce(max(id), 0) FROM events) -"
                                     " coalesce((SELECT position FROM cat_cursors WHERE name ="
                                     " 'promoter'), 0)"},
        {"tarn_promotions_pending", "SELECT 'state=\"' || state || '\"', count(*) FROM"
                                    " proc_promotions GROUP BY state ORDER BY state"},
        {"tarn_quarantine_objects", "SELECT '', count(*) FROM proc_quarantine"},
    };
    db_t *db = catalog_db(c);
    for (size_t i = 0; i < sizeof gauges / sizeof *gauges; i++) {
        sqlite3_stmt *st;
        int rc = db_prepare(db, &st, gauges[i].sql, err);
        if (rc)
            return rc;
        while (sqlite3_step(st) == SQLITE_ROW)
            line(ctx, gauges[i].name, (const char *)sqlite3_column_text(st, 0),
                 sqlite3_column_int64(st, 1));
        db_done(db, st);
    }
    return 0;
}
