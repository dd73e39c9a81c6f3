/* Full-text search over the catalog (SQLite FTS5, bm25 ranking): one entry per table
 * holding its name, description, columns (names, descriptions, tags), tags, owner and
 * steward, rewritten whenever any of them changes; see catalog.h. */
#include "catalog/catalog_internal.h"
#include "util/buf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Column weights of bm25, in the order of the FTS table: a word in the table's name
 * counts most, then column names and descriptions, tags, the description, people. */
#define BM25 "bm25(cat_search, 10.0, 2.0, 4.0, 3.0, 1.0, 1.0)"

/* Appends a JSON array's strings, each after a space. */
static void put_words(buf_t *b, const json_t *words)
{
    size_t i;
    json_t *v;
    json_array_foreach(words, i, v)
    {
        buf_putc(b, ' ');
        buf_puts(b, json_string_value(v));
    }
}

int cat_search_refresh(catalog_t *c, int64_t id, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(c->db, &st,
                        "SELECT zone, db, name, description, tags, owner, steward, schema_version"
                        " FROM cat_tables WHERE id = ?1",
                        err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    buf_t name = BUF_INIT, desc = BUF_INIT, cols = BUF_INIT, tags = BUF_INIT, owner = BUF_INIT,
          steward = BUF_INIT;
    buf_t *parts[] = {&name, &desc, &cols, &tags, &owner, &steward};
    int64_t version = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
#define TXT(i) ((const char *)sqlite3_column_text(st, i))
        buf_printf(&name, "%s %s %s", TXT(0), TXT(1), TXT(2));
        buf_puts(&desc, TXT(3) ? TXT(3) : "");
        json_t *t = TXT(4) ? json_loads(TXT(4), 0, NULL) : NULL;
        put_words(&tags, t);
        json_decref(t);
        buf_puts(&owner, TXT(5) ? TXT(5) : "");
        buf_puts(&steward, TXT(6) ? TXT(6) : "");
        version = sqlite3_column_int64(st, 7);
#undef TXT
    }
    db_done(c->db, st);
    json_t *columns = NULL;
    if ((rc = cat_columns_json(c, id, version, &columns, err)))
        goto done;
    size_t i;
    json_t *col;
    json_array_foreach(columns, i, col)
    {
        const char *d = json_string_value(json_object_get(col, "description"));
        buf_printf(&cols, "%s%s", i ? " " : "", json_string_value(json_object_get(col, "name")));
        if (d)
            buf_printf(&cols, " %s", d);
        put_words(&tags, json_object_get(col, "tags"));
    }
    json_decref(columns);
    if (rc || (rc = db_prepare(c->db, &st, "DELETE FROM cat_search WHERE rowid = ?1", err)))
        goto done;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    db_done(c->db, st);
    if (step != SQLITE_DONE) {
        rc = db_fail(c->db, step, err, "update search entry");
        goto done;
    }
    if ((rc = db_prepare(c->db, &st,
                         "INSERT INTO cat_search(rowid, name, description, columns, tags, owner,"
                         " steward) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                         err)))
        goto done;
    sqlite3_bind_int64(st, 1, id);
    for (int i = 0; i < 6; i++)
        sqlite3_bind_text(st, i + 2, parts[i]->data ? parts[i]->data : "", -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    db_done(c->db, st);
    if (step != SQLITE_DONE)
        rc = db_fail(c->db, step, err, "update search entry");
done:
    for (int i = 0; i < 6; i++)
        buf_free(parts[i]);
    return rc;
}

/* Whether the FTS query has a match beyond the first n. */
static bool has_more_matches(catalog_t *c, const char *q, size_t n, int *rc, tarn_err_t *err)
{
    sqlite3_stmt *st;
    if ((*rc = db_prepare(c->db, &st,
                          "SELECT 1 FROM cat_search WHERE cat_search MATCH ?1 LIMIT 1 OFFSET ?2",
                          err)))
        return false;
    sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
    bool more = sqlite3_step(st) == SQLITE_ROW;
    db_done(c->db, st);
    return more;
}

/* The user's words as an FTS5 query: every word must match, as a prefix, so "cust
 * email" finds customer_email. Words are quoted, so FTS5 operators in the input are just
 * text. Returns 0 words when the input has none. */
static size_t fts_query(buf_t *q, const char *text)
{
    size_t words = 0;
    for (const char *p = text; *p;) {
        while (*p && !(isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80))
            p++;
        const char *s = p;
        while (*p && (isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80))
            p++;
        if (p > s) {
            buf_printf(q, "%s\"%.*s\"*", words ? " " : "", (int)(p - s), s);
            words++;
        }
    }
    return words;
}

/* Whether a query word starts the name of a column the principal may not select: the
 * table may match through that column, and listing it would tell the column exists. */
static bool matches_hidden_column(catalog_t *c, const authz_principal_t *p, sqlite3_stmt *st,
                                  const char *table, const char *q)
{
    if (!q || !p || p->admin)
        return false;
    grants_access_t a;
    tarn_err_t e = {0};
    json_t *cols = NULL;
    bool hit = false;
    if (authz_table_access(p, table, &a, NULL, &e) || !a.allowed || a.all_columns ||
        cat_columns_json(c, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 9), &cols, &e))
        goto done;
    size_t i;
    json_t *col;
    json_array_foreach(cols, i, col)
    {
        const char *name = json_string_value(json_object_get(col, "name"));
        if (!name || grants_access_shows(&a, name))
            continue;
        for (const char *w = q; *w && !hit;) {
            while (*w && !isalnum((unsigned char)*w))
                w++;
            size_t n = 0;
            while (isalnum((unsigned char)w[n]) || w[n] == '_')
                n++;
            hit = n && !strncasecmp(name, w, n);
            w += n;
        }
        if (hit)
            break;
    }
done:
    json_decref(cols);
    grants_access_free(&a);
    return hit;
}

int catalog_search(catalog_t *c, const authz_principal_t *p, const char *q,
                   const catalog_search_opts_t *o, json_t **out, tarn_err_t *err)
{
    buf_t fq = BUF_INIT;
    size_t words = fts_query(&fq, q ? q : "");
    bool filtered = o->zone || o->db || o->tag || o->owner || o->sensitivity;
    if (!words && !filtered) {
        buf_free(&fq);
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "give words to search for (q=...) or a filter (zone, database, tag, "
                          "owner, sensitivity)");
    }
    size_t limit = o->limit ? o->limit : 20;
    const char *filters =
        " AND (?2 IS NULL OR t.zone = ?2) AND (?3 IS NULL OR t.db = ?3)"
        " AND (?4 IS NULL OR t.owner = ?4)"
        " AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(t.tags) WHERE value = ?5)"
        "  OR EXISTS (SELECT 1 FROM cat_columns k, json_each(k.tags) WHERE k.table_id = t.id"
        "  AND value = ?5))"
        " AND (?6 IS NULL OR EXISTS (SELECT 1 FROM cat_columns k WHERE k.table_id = t.id"
        "  AND k.sensitivity = ?6))";
    /* Ranking happens inside FTS5 on a page of the best matches, and only that page is
     * joined with the tables: joining every match first costs a lookup per match, which
     * for a common word is most of the catalog. Pages double until enough results pass
     * the filters and the caller's DESCRIBE check. */
    char sql[2048];
    if (words)
        snprintf(sql, sizeof sql,
                 "SELECT " CAT_SUMMARY_COLS ", m.score FROM (SELECT rowid AS id, " BM25
                 " AS score FROM cat_search WHERE cat_search MATCH ?1 ORDER BY score"
                 " LIMIT ?7 OFFSET ?8) m JOIN cat_tables t ON t.id = m.id WHERE 1%s"
                 " ORDER BY m.score",
                 filters);
    else
        snprintf(sql, sizeof sql,
                 "SELECT " CAT_SUMMARY_COLS ", 0 FROM cat_tables t WHERE ?1 IS NULL%s"
                 " ORDER BY t.zone, t.db, t.name",
                 filters);
    json_t *a = json_array();
    int rc = 0;
    size_t page = limit, offset = 0;
    for (;;) {
        sqlite3_stmt *st;
        if ((rc = db_prepare(c->db, &st, sql, err)))
            break;
        if (words)
            sqlite3_bind_text(st, 1, fq.data, -1, SQLITE_STATIC);
        const char *binds[] = {o->zone, o->db, o->owner, o->tag, o->sensitivity};
        for (int i = 0; i < 5; i++)
            if (binds[i])
                sqlite3_bind_text(st, i + 2, binds[i], -1, SQLITE_STATIC);
        if (words) {
            sqlite3_bind_int64(st, 7, (sqlite3_int64)page);
            sqlite3_bind_int64(st, 8, (sqlite3_int64)offset);
        }
        while (json_array_size(a) < limit && sqlite3_step(st) == SQLITE_ROW) {
            char res[400];
            snprintf(res, sizeof res, "table/%s.%s.%s", sqlite3_column_text(st, 1),
                     sqlite3_column_text(st, 2), sqlite3_column_text(st, 3));
            if (authz_check(p, "catalog:Describe", res, NULL) ||
                matches_hidden_column(c, p, st, res + 6, q))
                continue;
            json_t *row = cat_summary_row(st);
            json_object_set_new(row, "score", json_real(-sqlite3_column_double(st, 17)));
            json_array_append_new(a, row);
        }
        db_done(c->db, st);
        /* Done when enough results passed, or the ranking has no more pages. */
        if (!words || json_array_size(a) >= limit)
            break;
        if (!has_more_matches(c, fq.data, offset + page, &rc, err))
            break;
        offset += page;
        page *= 2;
    }
    if (rc) {
        json_decref(a);
        buf_free(&fq);
        return rc;
    }
    *out = json_pack("{s:s, s:o}", "query", q ? q : "", "results", a);
    buf_free(&fq);
    return 0;
}
