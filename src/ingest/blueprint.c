/* Blueprints: checking the document, generating the source's configuration and the
 * pipelines' specs, and the registry of versions; see blueprint.h. */
#include "ingest/blueprint.h"
#include "util/config_map.h"
#include "util/cron.h"
#include "util/timeutil.h"
#include "util/yaml_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(o, k) json_string_value(config_map_get((o), (k)))

static const char *const modes[] = {"cdc", "snapshot", "incremental", NULL};
static const char *const formats[] = {"parquet", "jsonl", NULL};

static const config_entry_t target_map[] = {
    {.name = "database", .type = CONFIG_STRING,
     .help = "the lake database: raw.<database>.<table> change files and "
             "curated.<database>.<table> current-state tables (default: the blueprint's name)"},
    {.name = "format", .type = CONFIG_ENUM, .values = formats, .def = "parquet",
     .help = "of the change files"},
    {0}};

static const config_entry_t table_map[] = {
    {.name = "partition_by", .type = CONFIG_STRINGS,
     .help = "partition columns of the curated table (only partitions holding touched keys "
             "are rewritten)"},
    {.name = "keys", .type = CONFIG_STRINGS,
     .help = "the columns that identify a row (default: the table's primary key)"},
    {.name = "sort_by", .type = CONFIG_STRINGS, .help = "sort keys within each file"},
    {0}};

static const config_entry_t blueprint_map[] = {
    {.name = "blueprint", .type = CONFIG_STRING, .required = true,
     .help = "its name: 1-40 of a-z, 0-9 and _, starting with a letter; it names the source "
             "and prefixes the pipelines (<blueprint>_<table>)"},
    {.name = "source", .type = CONFIG_MAP, .required = true,
     .help = "type (postgres, mysql), connection, tables, and any other key of the type's "
             "configuration (tarn help source) but mode, schedule, format and target"},
    {.name = "mode", .type = CONFIG_ENUM, .values = modes, .def = "cdc",
     .help = "cdc: a snapshot, then every change; snapshot: every table read whole at each "
             "run (rows gone at the source go from curated); incremental: the rows whose "
             "watermark column grew (source.watermark), applied as upserts"},
    {.name = "schedule", .type = CONFIG_STRING,
     .help = "mode snapshot or incremental: a cron expression (UTC; 5 fields, or 6 with "
             "seconds first) at which the source runs; without one it runs at apply and on "
             "`tarn source run`"},
    {.name = "target", .type = CONFIG_MAP, .def = "{}", .fields = target_map},
    {.name = "tables", .type = CONFIG_MAP,
     .help = "per table (schema.table as the source names it): partition_by, keys, sort_by"},
    {.name = "batch_window_seconds", .type = CONFIG_INT, .def = "5", .min = 0, .max = 3600,
     .help = "changes landing within the window make one pipeline run"},
    {0}};

static bool plain(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    bool ok = n > 0 && n <= max && s[0] >= 'a' && s[0] <= 'z';
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_';
    return ok;
}

static int invalid(tarn_err_t *err, const char *fmt, const char *a)
    __attribute__((format(printf, 2, 0)));

static int invalid(tarn_err_t *err, const char *fmt, const char *a)
{
    return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, fmt, a);
}

/* Each entry of tables checked against table_map, in place. */
static int check_tables(json_t *bp, tarn_err_t *err)
{
    json_t *tables = config_map_get(bp, "tables");
    const char *name;
    json_t *v;
    json_object_foreach(tables, name, v)
    {
        json_t *checked = NULL;
        int rc = json_is_object(v) ? config_map_check(&checked, table_map, v, err)
                                   : invalid(err, "is a map of partition_by, keys, sort_by", "");
        if (rc) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "tables.%s: %s", name, msg);
        }
        json_object_set_new(tables, name, checked);
    }
    return 0;
}

int blueprint_parse(const char *text, size_t len, json_t **out, tarn_err_t *err)
{
    json_t *doc = NULL, *bp = NULL;
    int rc = yaml_json_parse(&doc, text, len, err);
    if (!rc && !json_is_object(doc))
        rc = invalid(err, "a blueprint is a map: blueprint, source, mode, target, tables%s", "");
    if (rc || (rc = config_map_check(&bp, blueprint_map, doc, err)) ||
        (rc = check_tables(bp, err)))
        goto done;
    const json_t *src = config_map_get(bp, "source");
    if (!plain(blueprint_name(bp), 40))
        rc = invalid(err, "blueprint: a name is 1-40 of a-z, 0-9 and _, starting with a letter "
                          "(got '%s')", blueprint_name(bp));
    else if (!json_is_string(json_object_get(src, "type")))
        rc = invalid(err, "source.type: is required (postgres, mysql)%s", "");
    else if (S(bp, "target.database") && !plain(S(bp, "target.database"), 63))
        rc = invalid(err, "target.database: use 1-63 of a-z, 0-9 and _ (got '%s')",
                     S(bp, "target.database"));
    else if (S(bp, "schedule") && !strcmp(S(bp, "mode"), "cdc"))
        rc = invalid(err, "schedule: mode %s streams every change as it commits and takes no "
                          "schedule; use mode snapshot or incremental with a schedule, or "
                          "remove schedule", S(bp, "mode"));
    else if (S(bp, "schedule")) {
        cron_t c;
        tarn_err_t e = {0};
        if (cron_parse(&c, S(bp, "schedule"), &e))
            rc = invalid(err, "schedule: %s", e.msg);
    }
    for (const char *const *k =
             (const char *const[]){"mode", "format", "target", "schedule", NULL};
         !rc && *k; k++)
        if (json_object_get(src, *k))
            rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                            "source.%s: give %s at the top of the blueprint%s", *k,
                            strcmp(*k, "format") ? *k : "target.format",
                            strcmp(*k, "target") ? "" : " (target.database)");
done:
    json_decref(doc);
    if (rc)
        json_decref(bp);
    else
        *out = bp;
    return rc;
}

const char *blueprint_name(const json_t *bp)
{
    return S(bp, "blueprint");
}

static const char *database_of(const json_t *bp)
{
    return S(bp, "target.database") ? S(bp, "target.database") : blueprint_name(bp);
}

int blueprint_source_config(const json_t *bp, const char **type, json_t **cfg, tarn_err_t *err)
{
    const json_t *src = config_map_get(bp, "source");
    json_t *c = json_deep_copy(src);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *type = json_string_value(json_object_get(src, "type"));
    json_object_del(c, "type");
    json_object_set_new(c, "mode", json_string(S(bp, "mode")));
    if (S(bp, "schedule"))
        json_object_set_new(c, "schedule", json_string(S(bp, "schedule")));
    json_object_set_new(c, "format", json_string(S(bp, "target.format")));
    json_object_set_new(c, "target", json_pack("{s:s}", "database", database_of(bp)));
    *cfg = c;
    return 0;
}

/* Appends a YAML flow list of JSON strings (valid YAML double-quoted scalars). */
static void put_list(buf_t *b, const json_t *names)
{
    buf_putc(b, '[');
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        buf_printf(b, "%s%s", i ? ", " : "", s ? s : "\"\"");
        free(s);
    }
    buf_putc(b, ']');
}

int blueprint_pipeline_spec(const json_t *bp, const json_t *t, char **name, char **spec,
                            tarn_err_t *err)
{
    const char *table = json_string_value(json_object_get(t, "table"));
    const char *lake = json_string_value(json_object_get(t, "lake"));
    const json_t *opts = json_object_get(config_map_get(bp, "tables"), table);
    const json_t *keys = json_object_get(opts, "keys");
    if (!json_array_size(keys))
        keys = json_object_get(t, "keys");
    if (!plain(lake, 63))
        return invalid(err, "source.tables: %s lands as a table whose name is not 1-63 of a-z, "
                            "0-9 and _; a blueprint cannot name it in SQL", table);
    if (!json_array_size(keys))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "tables.%s.keys: the table has no primary key, so name the columns "
                          "that identify a row (apply_changes needs them)",
                          table);
    const char *db = database_of(bp);
    buf_t n = BUF_INIT, b = BUF_INIT;
    buf_printf(&n, "%s_%s", blueprint_name(bp), lake);
    if (n.data && n.len > 63) {
        buf_free(&n);
        return invalid(err, "blueprint: with table %s the pipeline's name would pass 63 "
                            "characters; choose a shorter blueprint name", table);
    }
    buf_printf(&b,
               "# Made by blueprint %s: keeps curated.%s.%s equal to %s.\n"
               "name: %s\n"
               "description: \"Current state of %s (blueprint %s)\"\n"
               "incremental: true\n"
               "trigger:\n"
               "  on_new_data: [cleaned.%s.%s]\n"
               "  batch_window_seconds: %lld\n"
               "steps:\n"
               "  - name: apply\n"
               "    sql: SELECT * FROM cleaned.%s.%s\n"
               "    target:\n"
               "      table: curated.%s.%s\n"
               "      mode: apply_changes\n"
               "      keys: ",
               blueprint_name(bp), db, lake, table, n.data ? n.data : "", table,
               blueprint_name(bp), db, lake,
               (long long)json_integer_value(config_map_get(bp, "batch_window_seconds")), db,
               lake, db, lake);
    put_list(&b, keys);
    static const char *const lists[] = {"partition_by", "sort_by"};
    for (size_t k = 0; k < 2; k++)
        if (json_array_size(json_object_get(opts, lists[k]))) {
            buf_printf(&b, "\n      %s: ", lists[k]);
            put_list(&b, json_object_get(opts, lists[k]));
        }
    buf_putc(&b, '\n');
    if (!n.data || !b.data) {
        buf_free(&n);
        buf_free(&b);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    *name = buf_steal(&n);
    *spec = buf_steal(&b);
    buf_free(&n);
    buf_free(&b);
    return 0;
}

/* ---- the registry ---- */

static const char *const blueprints_schema[] = {
    /* Every apply is a new version with what it generated; deleting marks them all. */
    "CREATE TABLE ingest_blueprints(name TEXT NOT NULL, version INTEGER NOT NULL,"
    " text TEXT NOT NULL, generated TEXT NOT NULL, applied_by TEXT, created_ms INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(name, version)) WITHOUT ROWID",
};

int blueprints_init(db_t *db, tarn_err_t *err)
{
    return db_migrate(db, "blueprints", blueprints_schema,
                      (int)(sizeof blueprints_schema / sizeof *blueprints_schema), err);
}

static int no_such(tarn_err_t *err, const char *name)
{
    return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchBlueprint,
                      "no blueprint is named '%s' (see `tarn blueprint list`)", name);
}

int blueprints_record(db_t *db, const char *name, const char *text, const json_t *generated,
                      const char *by, int64_t *version, tarn_err_t *err)
{
    char *gen = json_dumps(generated, JSON_COMPACT);
    sqlite3_stmt *st = NULL;
    int rc = gen ? db_exec(db, "BEGIN IMMEDIATE", err)
                 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc) {
        free(gen);
        return rc;
    }
    if (!(rc = db_prepare(db, &st,
                          "INSERT INTO ingest_blueprints(name, version, text, generated,"
                          " applied_by, created_ms) SELECT ?1, coalesce(max(version), 0) + 1,"
                          " ?2, ?3, ?4, ?5 FROM ingest_blueprints WHERE name = ?1"
                          " RETURNING version",
                          err))) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, gen, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, time_now_ms());
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            *version = sqlite3_column_int64(st, 0);
        else
            rc = db_fail(db, step, err, "record blueprint");
        db_done(db, st);
    }
    free(gen);
    if (!rc)
        rc = db_exec(db, "COMMIT", err);
    if (rc)
        db_exec(db, "ROLLBACK", NULL);
    return rc;
}

/* The latest version of each live blueprint (of name alone when not NULL). */
#define LATEST                                                                              \
    "SELECT name, version, text, generated, applied_by, created_ms FROM ingest_blueprints b" \
    " WHERE deleted = 0 AND version = (SELECT max(version) FROM ingest_blueprints WHERE"    \
    " name = b.name) AND (?1 IS NULL OR name = ?1) ORDER BY name"

static json_t *row_json(sqlite3_stmt *st, bool full)
{
    json_t *gen = db_col_json(st, 3);
    json_t *o = json_pack("{s:o, s:o, s:O, s:O, s:o, s:o}", "name", db_col_text(st, 0), "version",
                          db_col_int(st, 1), "source", json_object_get(gen, "source"),
                          "pipelines", json_object_get(gen, "pipelines"), "applied_by",
                          db_col_text(st, 4), "updated", db_col_time(st, 5));
    if (o && full) {
        json_object_set_new(o, "text", db_col_text(st, 2));
        json_object_set(o, "generated", gen);
    }
    json_decref(gen);
    return o;
}

static int collect(db_t *db, const char *name, bool full, json_t **out, tarn_err_t *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, &st, LATEST, err);
    if (rc)
        return rc;
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    json_t *a = json_array();
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(a, row_json(st, full));
    db_done(db, st);
    if (step != SQLITE_DONE) {
        json_decref(a);
        return db_fail(db, step, err, "read blueprints");
    }
    *out = a;
    return 0;
}

int blueprints_list(db_t *db, json_t **out, tarn_err_t *err)
{
    json_t *a;
    int rc = collect(db, NULL, false, &a, err);
    if (!rc)
        *out = json_pack("{s:o}", "blueprints", a);
    return rc;
}

int blueprints_show(db_t *db, const char *name, json_t **out, tarn_err_t *err)
{
    json_t *a;
    int rc = collect(db, name, true, &a, err);
    if (rc)
        return rc;
    if (!json_array_size(a)) {
        json_decref(a);
        return no_such(err, name);
    }
    *out = json_incref(json_array_get(a, 0));
    json_decref(a);
    return 0;
}

int blueprints_delete(db_t *db, const char *name, json_t **generated, tarn_err_t *err)
{
    json_t *bp;
    int rc = blueprints_show(db, name, &bp, err);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if (!(rc = db_prepare(db, &st, "UPDATE ingest_blueprints SET deleted = 1 WHERE name = ?1",
                          err))) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        db_done(db, st);
        if (step != SQLITE_DONE)
            rc = db_fail(db, step, err, "delete blueprint");
    }
    if (!rc)
        *generated = json_incref(json_object_get(bp, "generated"));
    json_decref(bp);
    return rc;
}
