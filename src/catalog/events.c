/* Durable event queue in SQLite, and the landing events objects write into it; see
 * events.h. */
#include "catalog/events.h"
#include "util/hash.h"
#include "util/timeutil.h"

#include <assert.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const events_schema[] = {
    "CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL,"
    " type TEXT NOT NULL, zone TEXT, key TEXT, payload TEXT NOT NULL DEFAULT '{}')",
};

int catalog_events_init(db_t *db, tarn_err_t *err)
{
    return db_migrate(db, "events", events_schema,
                      (int)(sizeof events_schema / sizeof *events_schema), err);
}

int catalog_event_append(db_t *db, const char *type, const char *zone, const char *key,
                         const char *payload, int64_t *id_out, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(db, &st,
                        "INSERT INTO events(time_ms, type, zone, key, payload)"
                        " VALUES(?1, ?2, ?3, ?4, ?5)",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, time_now_ms());
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, payload ? payload : "{}", -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE && id_out) {
        *id_out = sqlite3_last_insert_rowid(db_h(db));
        assert(*id_out > 0); /* consumers start from 0: an event at 0 would never be read */
    }
    db_done(db, st);
    return step == SQLITE_DONE ? 0 : db_fail(db, step, err, "append event");
}

int catalog_events_list(db_t *db, int64_t after, size_t max, catalog_event_t **out, size_t *n,
                        arena_t *a, tarn_err_t *err)
{
    sqlite3_stmt *st = NULL;
    int rc = db_prepare(db, &st,
                        "SELECT id, time_ms, type, zone, key, payload FROM events WHERE id > ?1"
                        " ORDER BY id LIMIT ?2",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    catalog_event_t *v = arena_alloc(a, (max ? max : 1) * sizeof *v);
    size_t cnt = 0;
    while (v && cnt < max && sqlite3_step(st) == SQLITE_ROW) {
        v[cnt].id = sqlite3_column_int64(st, 0);
        /* Strictly after the cursor and ascending: a consumer that remembers the last id
         * it handled neither skips nor repeats an event (AUTOINCREMENT never reuses one). */
        assert(v[cnt].id > (cnt ? v[cnt - 1].id : after));
        v[cnt].time_ms = sqlite3_column_int64(st, 1);
#define T(i) (sqlite3_column_text(st, i) ? arena_strdup(a, (const char *)sqlite3_column_text(st, i)) : NULL)
        v[cnt].type = T(2);
        v[cnt].zone = T(3);
        v[cnt].key = T(4);
        v[cnt].payload = T(5);
#undef T
        cnt++;
    }
    db_done(db, st);
    if (!v)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *out = v;
    *n = cnt;
    return 0;
}

/* ---- landing ---- */

static bool table_zone(const char *bucket)
{
    return !strcmp(bucket, "raw") || !strcmp(bucket, "cleaned") || !strcmp(bucket, "curated");
}

static int append_object(db_t *db, const char *type, const store_object_t *o, json_t *p,
                         tarn_err_t *err)
{
    char *text = p ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(p);
    if (!text)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    int rc = catalog_event_append(db, type, o->bucket, o->key, text, NULL, err);
    free(text);
    return rc;
}

int catalog_event_object_landed(db_t *db, const store_object_t *o, const char *principal,
                                tarn_err_t *err)
{
    if (!table_zone(o->bucket))
        return 0;
    char sha[65];
    hash_hex(sha, o->sha256, 32);
    return append_object(db, "object.landed", o,
                  json_pack("{s:s, s:s, s:I, s:s, s:s, s:s?}", "bucket", o->bucket, "key", o->key,
                            "size", (json_int_t)o->size, "etag", o->etag, "sha256", sha,
                            "principal", principal),
                  err);
}

int catalog_event_object_removed(db_t *db, const store_object_t *o, const char *principal,
                                 tarn_err_t *err)
{
    if (!table_zone(o->bucket))
        return 0;
    return append_object(db, "object.removed", o,
                  json_pack("{s:s, s:s, s:s?}", "bucket", o->bucket, "key", o->key, "principal",
                            principal),
                  err);
}
