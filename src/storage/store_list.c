/* Listing objects in key order with S3 semantics: prefix, delimiter (common prefixes
 * rolled up and counted once), start-after, and max-keys with truncation. Keys sort by
 * their UTF-8 bytes, which is SQLite's BINARY collation. */
#include "storage/store_internal.h"

#include <string.h>

/* The smallest string greater than every string that starts with p, or NULL when p is
 * all 0xFF bytes (then nothing sorts after the prefix). Allocated in a. */
static char *prefix_successor(arena_t *a, const char *p)
{
    size_t n = strlen(p);
    char *s = arena_strndup(a, p, n);
    while (s && n > 0) {
        if ((unsigned char)s[n - 1] != 0xFF) {
            s[n - 1] = (char)((unsigned char)s[n - 1] + 1);
            s[n] = '\0';
            return s;
        }
        n--;
    }
    return NULL;
}

int store_list(store_t *s, const char *bucket, const store_list_opts_t *o, store_list_cb cb,
               void *ctx, bool *truncated, const char **last, arena_t *a, tarn_err_t *err)
{
    const char *prefix = o->prefix ? o->prefix : "";
    const char *delim = o->delimiter && *o->delimiter ? o->delimiter : NULL;
    size_t plen = strlen(prefix);
    char *upper = plen ? prefix_successor(a, prefix) : NULL;
    /* cursor: list keys strictly greater than this. */
    const char *cursor = o->start_after && strcmp(o->start_after, prefix) >= 0 ? o->start_after : NULL;
    const char *from = cursor ? cursor : prefix; /* inclusive when no cursor */
    bool inclusive = cursor == NULL;
    size_t emitted = 0;
    *truncated = false;
    *last = NULL;
    int rc = store_bucket_check(s, bucket, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = db_prepare(s->db, &st,
                    "SELECT key, size, etag, mtime_ms FROM objects WHERE bucket = ?1"
                    " AND (key > ?2 OR (?3 AND key = ?2)) AND (?4 IS NULL OR key < ?4)"
                    " ORDER BY key LIMIT ?5",
                    err);
    if (rc)
        return rc;
    const char *last_prefix = NULL;
    for (;;) {
        /* Page through the index; re-querying after a common prefix skips its keys. */
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, from, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 3, inclusive);
        if (upper)
            sqlite3_bind_text(st, 4, upper, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_int(st, 5, 1000);
        int rows = 0;
        const char *seek = NULL; /* set when the page must restart after a common prefix */
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            rows++;
            const char *key = (const char *)sqlite3_column_text(st, 0);
            if (plen && strncmp(key, prefix, plen))
                continue;
            const char *d = delim ? strstr(key + plen, delim) : NULL;
            if (d) {
                size_t cplen = (size_t)(d - key) + strlen(delim);
                char *cp = arena_strndup(a, key, cplen);
                if (!cp) {
                    rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
                    goto done;
                }
                /* A common prefix at or before the cursor was returned on an earlier page. */
                bool seen = (cursor && strcmp(cp, cursor) <= 0) ||
                            (last_prefix && !strcmp(cp, last_prefix));
                if (!seen) {
                    if (emitted == o->max_keys) {
                        *truncated = true;
                        goto done;
                    }
                    store_entry_t e = {.key = cp, .is_prefix = true};
                    if ((rc = cb(ctx, &e)))
                        goto done;
                    emitted++;
                    *last = cp;
                    last_prefix = cp;
                }
                seek = prefix_successor(a, cp);
                if (!seek)
                    goto done;
                break;
            }
            if (emitted == o->max_keys) {
                *truncated = true;
                goto done;
            }
            store_entry_t e = {.key = key,
                               .size = (uint64_t)sqlite3_column_int64(st, 1),
                               .etag = (const char *)sqlite3_column_text(st, 2),
                               .mtime_ms = sqlite3_column_int64(st, 3)};
            if ((rc = cb(ctx, &e)))
                goto done;
            emitted++;
            *last = arena_strdup(a, key);
            from = *last;
            inclusive = false;
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE) {
            rc = db_fail(s->db, step, err, "list objects");
            goto done;
        }
        if (seek) {
            from = seek;
            inclusive = true;
            continue;
        }
        if (rows < 1000)
            break;
    }
done:
    db_done(s->db, st);
    return rc;
}
