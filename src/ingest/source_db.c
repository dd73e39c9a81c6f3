/* Shared parts of the database sources; see source_db.h. */
#include "ingest/source_db.h"

#include "ingest/sources.h"
#include "util/cron.h"
#include "util/fs.h"
#include "util/killpoint.h"
#include "util/timeutil.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S(o, k) json_string_value(config_map_get((o), (k)))

const char *const source_db_modes[] = {"snapshot", "incremental", "cdc", NULL};
const char *const source_db_formats[] = {"parquet", "jsonl", NULL};
static const char *const zones[] = {"raw", NULL};

const config_entry_t source_db_batch_config[] = {
    {.name = "max_rows", .type = CONFIG_INT, .def = "100000", .min = 1, .max = 100000000,
     .help = "rows per change file at most"},
    {.name = "max_bytes", .type = CONFIG_SIZE, .def = "64MB", .min = 1024,
     .max = INT64_C(4) << 30, .help = "staged bytes per batch at most"},
    {.name = "max_time", .type = CONFIG_DURATION, .def = "2s", .min = 10, .max = 3600000,
     .help = "how long changes wait to be delivered at most"},
    {0}};

const config_entry_t source_db_target_config[] = {
    {.name = "zone", .type = CONFIG_ENUM, .values = zones, .def = "raw"},
    {.name = "database", .type = CONFIG_STRING,
     .help = "the catalog database of the change files (default: the source's name)"},
    {0}};

int source_db_check_password(const json_t *cfg, tarn_err_t *err)
{
    int given = !!S(cfg, "connection.password") + !!S(cfg, "connection.password_file") +
                !!S(cfg, "connection.password_env");
    if (given > 1)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "connection: give one of password, password_file and password_env");
    return 0;
}

int source_db_password(const json_t *cfg, char *out, size_t cap, tarn_err_t *err)
{
    const char *pw = S(cfg, "connection.password"), *file = S(cfg, "connection.password_file"),
               *env = S(cfg, "connection.password_env");
    out[0] = '\0';
    if (pw) {
        snprintf(out, cap, "%s", pw);
    } else if (file) {
        buf_t b = BUF_INIT;
        tarn_err_t e = {0};
        if (fs_read_all(file, &b, &e))
            return TARN_ERR(err, TARN_EINVAL, "connection.password_file: cannot read %s on the "
                            "server: %s", file, e.msg);
        size_t n = b.len;
        while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
            n--;
        snprintf(out, cap, "%.*s", (int)n, b.data ? b.data : "");
        if (b.data)
            OPENSSL_cleanse(b.data, b.cap);
        buf_free(&b);
    } else if (env) {
        const char *v = getenv(env);
        if (!v)
            return TARN_ERR(err, TARN_EINVAL, "connection.password_env: the server's environment "
                            "has no variable %s (set it where `tarn serve` runs)", env);
        snprintf(out, cap, "%s", v);
    }
    return 0;
}

bool source_db_plain_name(const char *s, bool upper)
{
    size_t n = strlen(s);
    bool ok = n > 0 && n <= 63;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
             (upper && s[i] >= 'A' && s[i] <= 'Z');
    return ok;
}

/* Whether table ("db.t") is among the configuration's tables, or in a "db.*" of them. */
static bool named(const json_t *cfg, const char *table)
{
    const char *dot = strchr(table, '.');
    size_t i;
    json_t *v;
    json_array_foreach(config_map_get(cfg, "tables"), i, v)
    {
        const char *t = json_string_value(v);
        if (!strcmp(t, table) || (dot && !strcmp(strchr(t, '.'), ".*") &&
                                  !strncmp(t, table, (size_t)(dot - table + 1))))
            return true;
    }
    return false;
}

/* The schedule and the watermark keys against the mode: a cdc source streams and takes
 * no schedule; only incremental reads by a watermark, and it needs one. */
static int check_schedule(const json_t *cfg, const char *container, tarn_err_t *err)
{
    const char *mode = S(cfg, "mode"), *sched = S(cfg, "schedule");
    const json_t *wms = config_map_get(cfg, "watermarks");
    if (sched && !strcmp(mode, "cdc"))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "schedule: a source in mode cdc streams every change as it commits and "
                          "takes no schedule; use mode snapshot or incremental with a schedule, "
                          "or remove schedule");
    if (sched) {
        cron_t c;
        tarn_err_t e = {0};
        if (cron_parse(&c, sched, &e))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "schedule: %s", e.msg);
    }
    bool inc = !strcmp(mode, "incremental");
    if (!inc && (S(cfg, "watermark") || json_object_size(wms)))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "%s: only mode incremental reads by a watermark column (mode is %s)",
                          S(cfg, "watermark") ? "watermark" : "watermarks", mode);
    if (inc && !S(cfg, "watermark") && !json_object_size(wms))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "mode incremental: give watermark (a column every table has, such as "
                          "updated_at) or watermarks ({%s.table: column})", container);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)wms, k, v)
    {
        if (!json_is_string(v) || !*json_string_value(v))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "watermarks.%s: must be a column name", k);
        if (!named(cfg, k))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "watermarks.%s: is not one of the tables (name it as %s.table, as "
                              "tables does)", k, container);
    }
    return 0;
}

bool source_db_is_incremental(const json_t *cfg)
{
    return !strcmp(S(cfg, "mode"), "incremental");
}

const char *source_db_watermark(const json_t *cfg, const char *table)
{
    const char *c = json_string_value(json_object_get(config_map_get(cfg, "watermarks"), table));
    return c ? c : S(cfg, "watermark");
}

int source_db_watermark_refuse(const json_t *cfg, const char *table, const char *col,
                               const char *type, tarn_err_t *err)
{
    const char *key = json_object_get(config_map_get(cfg, "watermarks"), table) ? "watermarks"
                                                                                : "watermark";
    if (!col)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "watermarks.%s: mode incremental needs a watermark column for every "
                          "table; name one for %s (or a watermark every table has)",
                          table, table);
    if (!type)
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "%s: table %s has no column %s", key, table, col);
    return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                      "%s: column %s of %s is of type %s, which has no order to read changes "
                      "by; use a column of an integer, numeric, date, time, timestamp or text "
                      "type that grows with each change (such as updated_at)",
                      key, col, table, type);
}

int source_db_check(const json_t *cfg, const char *container, const char *quotes,
                    tarn_err_t *err)
{
    int rc = source_db_check_password(cfg, err);
    if (rc)
        return rc;
    size_t i;
    json_t *v;
    json_array_foreach(config_map_get(cfg, "tables"), i, v)
    {
        const char *t = json_string_value(v), *dot = strchr(t, '.');
        if (!dot || dot == t || !dot[1] || strchr(dot + 1, '.') || strpbrk(t, quotes) ||
            strchr(t, ' '))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                              "tables[%zu]: '%s' is not %s.table or %s.*", i, t, container,
                              container);
    }
    if (!json_array_size(config_map_get(cfg, "tables")))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, "tables: name at least one table");
    if (S(cfg, "target.database") && !source_db_plain_name(S(cfg, "target.database"), false))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "target.database: use 1-63 of a-z, 0-9 and _");
    return check_schedule(cfg, container, err);
}

bool source_db_is_cdc(const json_t *cfg)
{
    return !strcmp(S(cfg, "mode"), "cdc");
}

void source_db_timestamp(char *out, size_t cap, int64_t unix_us)
{
    time_t t = (time_t)(unix_us / 1000000);
    int64_t us = unix_us % 1000000;
    if (us < 0) {
        us += 1000000;
        t--;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)us);
}

int source_db_batch_open(const json_t *cfg, const ingest_env_t *env, source_db_batching_t *o,
                         change_batch_t **batch, tarn_err_t *err)
{
    o->cdc = source_db_is_cdc(cfg);
    o->incremental = source_db_is_incremental(cfg);
    o->parquet = !strcmp(S(cfg, "format"), "parquet");
    o->max_rows = (uint64_t)json_integer_value(config_map_get(cfg, "batch.max_rows"));
    o->max_bytes = (uint64_t)json_integer_value(config_map_get(cfg, "batch.max_bytes"));
    o->max_ms = json_integer_value(config_map_get(cfg, "batch.max_time"));
    const char *db = S(cfg, "target.database") ? S(cfg, "target.database") : env->source;
    change_batch_opts_t bo = {.zone = S(cfg, "target.zone"), .database = db,
                              .parquet = o->parquet};
    return change_batch_create(batch, env, &bo, err);
}

bool source_db_batch_due(const change_batch_t *b, const source_db_batching_t *o,
                         int64_t started_ms)
{
    return change_batch_rows(b) >= o->max_rows || change_batch_bytes(b) >= o->max_bytes ||
           time_mono_ms() - started_ms >= o->max_ms;
}

typedef struct {
    const ingest_env_t *env;
    const json_t *cursor;
} cursor_ctx_t;

static int put_cursor(void *ctx, tarn_err_t *err)
{
    cursor_ctx_t *c = ctx;
    return sources_cursor_set(c->env->db, c->env->source_id, c->cursor, err);
}

int source_db_commit(const ingest_env_t *env, change_batch_t *b, const char *tag,
                     const json_t *cursor, const char *cursor_text, tarn_err_t *err)
{
    cursor_ctx_t c = {env, cursor};
    uint64_t rows = 0, files = 0;
    int rc = change_batch_commit(b, tag, put_cursor, &c, &rows, &files, err);
    if (!rc) {
        source_status_delivered(env->status, rows, files);
        source_status_cursor(env->status, cursor_text);
        killpoint_hit("source-batch-committed"); /* files and cursor in, the run going on */
    }
    return rc;
}
