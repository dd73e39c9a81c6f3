/* Delivery streams: keeping them in the catalog database, acknowledging records through
 * the write-ahead log, and the per-stream counters; their configuration is checked in
 * stream_config.c and delivered in stream_deliver.c. */
#include "ingest/stream_internal.h"
#include "ingest/stream_transform.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARN_PREFIX "arn:aws:firehose:us-east-1:000000000000:deliverystream/"

/* ---- the registry ---- */

static const char *const migrations[] = {
    "CREATE TABLE streams ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " config TEXT NOT NULL," /* the CreateDeliveryStream request as given */
    " created_ms INTEGER NOT NULL,"
    " delivered_seq INTEGER NOT NULL DEFAULT 0);"
    /* Each delivered file with the log range of its batch: written in the transaction
     * that lands the file, so recovery knows which files of a batch already exist. */
    "CREATE TABLE stream_files ("
    " stream_id INTEGER NOT NULL,"
    " batch_first INTEGER NOT NULL,"
    " batch_last INTEGER NOT NULL,"
    " bucket TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " records INTEGER NOT NULL,"
    " PRIMARY KEY (stream_id, batch_first, bucket, key));",
};

static void stream_free(stream_t *s)
{
    if (!s)
        return;
    stream_wal_close(s->wal);
    stream_config_free(&s->cfg);
    json_decref(s->dest);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

static void wal_path(const stream_mgr_t *m, int64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%" PRId64, m->wal_dir, id);
}

static int count_pending(void *ctx, const stream_wal_rec_t *r)
{
    stream_t *s = ctx;
    if (!atomic_load(&s->oldest_ms))
        atomic_store(&s->oldest_ms, r->ts_ms);
    atomic_fetch_add(&s->pending, (int64_t)r->len);
    return 0;
}

/* A stream object from its stored request; recovers its log. */
static int stream_load(stream_mgr_t *m, int64_t id, const char *config, int64_t created,
                       uint64_t delivered, stream_t **out, tarn_err_t *err)
{
    stream_t *s = calloc(1, sizeof *s);
    json_t *req = NULL;
    int rc = 0;
    if (!s)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    pthread_rwlock_init(&s->lock, NULL);
    s->id = id;
    s->created_ms = created;
    atomic_store(&s->delivered, delivered);
    if (!(req = json_loads(config, 0, NULL))) {
        rc = TARN_ERR(err, TARN_EIO, "stream %" PRId64 " has an unreadable configuration", id);
        goto done;
    }
    if ((rc = stream_config_parse(&s->cfg, req, err)))
        goto done;
    s->dest = json_incref(json_object_get(req, "ExtendedS3DestinationConfiguration"));
    char dir[PATH_MAX + 32];
    wal_path(m, id, dir, sizeof dir);
    if ((rc = stream_wal_open(&s->wal, dir, delivered, err)))
        goto done;
    rc = stream_wal_read(s->wal, delivered, UINT64_MAX, SIZE_MAX, count_pending, s, err);
done:
    json_decref(req);
    if (rc) {
        stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int stream_mgr_open(stream_mgr_t **out, const stream_opts_t *o, tarn_err_t *err)
{
    stream_mgr_t *m = calloc(1, sizeof *m);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (!m)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    m->o = *o;
    snprintf(m->tmp_dir, sizeof m->tmp_dir, "%s", o->tmp_dir);
    m->o.tmp_dir = m->tmp_dir;
    if (!m->o.wal_limit)
        m->o.wal_limit = 1ull << 30;
    pthread_mutex_init(&m->mu, NULL);
    snprintf(m->wal_dir, sizeof m->wal_dir, "%s/wal", o->data_dir);
    if ((rc = fs_mkdir_p(m->wal_dir, 0700, err)) ||
        (rc = db_migrate(o->db, "streams", migrations,
                         (int)(sizeof migrations / sizeof *migrations), err)) ||
        (rc = db_prepare(o->db, &st,
                         "SELECT id, name, config, created_ms, delivered_seq FROM streams"
                         " ORDER BY name DESC", err)))
        goto done;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        stream_t *s;
        rc = stream_load(m, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 2),
                         sqlite3_column_int64(st, 3), (uint64_t)sqlite3_column_int64(st, 4), &s,
                         err);
        if (rc)
            goto done;
        s->next = m->list;
        m->list = s;
    }
    if (step != SQLITE_DONE)
        rc = db_fail(o->db, step, err, "load streams");
done:
    if (st)
        db_done(o->db, st);
    if (rc) {
        stream_mgr_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

int stream_mgr_start(stream_mgr_t *m, tarn_err_t *err)
{
    int rc = engine_connect(m->o.engine, &m->conn, err);
    if (rc || (rc = stream_jq_guard_create(&m->jq_guard, err)))
        return rc;
    return worker_start(&m->worker, "stream-deliver", stream_deliver_main, m, err);
}

void stream_mgr_close(stream_mgr_t *m)
{
    if (!m)
        return;
    worker_stop(m->worker);
    if (m->conn)
        engine_disconnect(m->conn);
    stream_jq_guard_free(m->jq_guard);
    while (m->list) {
        stream_t *n = m->list->next;
        stream_free(m->list);
        m->list = n;
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* The live stream named name, or NULL. Streams are never freed while the manager runs,
 * so the pointer stays valid; callers check `deleted` under its lock. */
static stream_t *find(stream_mgr_t *m, const char *name)
{
    pthread_mutex_lock(&m->mu);
    stream_t *s = m->list;
    while (s && (s->deleted || strcmp(s->cfg.name, name)))
        s = s->next;
    pthread_mutex_unlock(&m->mu);
    return s;
}

static int not_found(const char *name, tarn_err_t *err)
{
    return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchStream,
                      "Firehose %s under account 000000000000 not found.", name);
}

int stream_create(stream_mgr_t *m, const json_t *req, const char **arn, arena_t *a,
                  tarn_err_t *err)
{
    stream_config_t cfg;
    char *text = NULL;
    sqlite3_stmt *st = NULL;
    json_t *table = NULL;
    int rc = stream_config_parse(&cfg, req, err);
    if (rc)
        return rc;
    if ((rc = store_bucket_check(m->o.store, cfg.bucket, err)))
        goto done;
    if (cfg.transform) {
        /* A connection of its own: the delivery thread's is busy on its thread. */
        engine_conn_t *c = NULL;
        if ((rc = engine_connect(m->o.engine, &c, err)))
            goto done;
        rc = stream_transform_check(c, cfg.transform, err);
        engine_disconnect(c);
        if (rc)
            goto done;
    }
    if (cfg.parquet &&
        (rc = catalog_table_get(m->o.catalog, cfg.schema_zone, cfg.schema_db, cfg.schema_table,
                                &table, err))) {
        if (rc == TARN_ENOTFOUND)
            rc = TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                            "DataFormatConversionConfiguration.SchemaConfiguration names the "
                            "table %s.%s.%s, which is not in the catalog (create it with a "
                            "declared schema first)", cfg.schema_zone, cfg.schema_db,
                            cfg.schema_table);
        goto done;
    }
    if (!(text = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    pthread_mutex_lock(&m->mu); /* one creation at a time: name check, insert, list */
    if ((rc = db_prepare(m->o.db, &st,
                         "INSERT INTO streams(name, config, created_ms) VALUES(?1, ?2, ?3)",
                         err)))
        goto unlock;
    int64_t now = time_now_ms();
    sqlite3_bind_text(st, 1, cfg.name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int step = sqlite3_step(st);
    int64_t id = sqlite3_last_insert_rowid(db_h(m->o.db));
    db_done(m->o.db, st);
    if (step == SQLITE_CONSTRAINT) {
        rc = TARN_ERR_R(err, TARN_EEXISTS, StreamExists,
                        "Firehose %s under account 000000000000 already exists.", cfg.name);
        goto unlock;
    }
    if (step != SQLITE_DONE) {
        rc = db_fail(m->o.db, step, err, "create stream");
        goto unlock;
    }
    stream_t *s;
    if ((rc = stream_load(m, id, text, now, 0, &s, err))) {
        char *q = sqlite3_mprintf("DELETE FROM streams WHERE id = %lld", (long long)id);
        db_exec(m->o.db, q, NULL);
        sqlite3_free(q);
        goto unlock;
    }
    s->next = m->list;
    m->list = s;
    *arn = arena_sprintf(a, ARN_PREFIX "%s", cfg.name);
unlock:
    pthread_mutex_unlock(&m->mu);
done:
    json_decref(table);
    free(text);
    stream_config_free(&cfg);
    return rc;
}

int stream_delete(stream_mgr_t *m, const char *name, tarn_err_t *err)
{
    stream_t *s = find(m, name);
    if (!s)
        return not_found(name, err);
    pthread_rwlock_wrlock(&s->lock);
    int rc = 0;
    if (s->deleted) {
        rc = not_found(name, err);
        goto done;
    }
    char *q = sqlite3_mprintf("BEGIN IMMEDIATE; DELETE FROM stream_files WHERE stream_id = %lld;"
                              " DELETE FROM streams WHERE id = %lld; COMMIT;",
                              (long long)s->id, (long long)s->id);
    if (!q) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    rc = db_exec(m->o.db, q, err);
    sqlite3_free(q);
    if (rc) {
        db_exec(m->o.db, "ROLLBACK", NULL);
        goto done;
    }
    s->deleted = true; /* the log object stays until the manager closes: others may hold it */
    char dir[PATH_MAX + 32];
    wal_path(m, s->id, dir, sizeof dir);
    fs_remove_tree(dir);
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int stream_list(stream_mgr_t *m, const char *start, size_t limit, json_t **names, bool *more,
                tarn_err_t *err)
{
    json_t *a = json_array();
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    /* Names in order: the list is short, so sort a copy of its names. */
    pthread_mutex_lock(&m->mu);
    size_t n = 0;
    for (stream_t *s = m->list; s; s = s->next)
        n += !s->deleted;
    const char **v = calloc(n ? n : 1, sizeof *v);
    size_t k = 0;
    for (stream_t *s = m->list; v && s; s = s->next)
        if (!s->deleted)
            v[k++] = s->cfg.name;
    for (size_t i = 1; v && i < k; i++)
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            const char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *more = false;
    for (size_t i = 0; v && i < k; i++) {
        if (start && strcmp(v[i], start) <= 0)
            continue;
        if (json_array_size(a) == limit) {
            *more = true;
            break;
        }
        json_array_append_new(a, json_string(v[i]));
    }
    pthread_mutex_unlock(&m->mu);
    if (!v) {
        json_decref(a);
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    free(v);
    *names = a;
    return 0;
}

/* The destination as DescribeDeliveryStream shows it: what was given, with defaults. */
static json_t *dest_description(const stream_t *s)
{
    json_t *d = json_deep_copy(s->dest);
    if (!json_object_get(d, "RoleARN"))
        json_object_set_new(d, "RoleARN", json_string("arn:aws:iam::000000000000:role/tarn"));
    if (!json_object_get(d, "BufferingHints"))
        json_object_set_new(d, "BufferingHints", json_pack("{s:i, s:i}", "SizeInMBs", 5,
                                                           "IntervalInSeconds", 300));
    json_t *bh = json_object_get(d, "BufferingHints");
    if (!json_object_get(bh, "SizeInMBs"))
        json_object_set_new(bh, "SizeInMBs", json_integer(5));
    if (!json_object_get(bh, "IntervalInSeconds"))
        json_object_set_new(bh, "IntervalInSeconds", json_integer(300));
    if (!json_object_get(d, "CompressionFormat"))
        json_object_set_new(d, "CompressionFormat", json_string("UNCOMPRESSED"));
    if (!json_object_get(d, "EncryptionConfiguration"))
        json_object_set_new(d, "EncryptionConfiguration",
                            json_pack("{s:s}", "NoEncryptionConfig", "NoEncryption"));
    if (!json_object_get(d, "S3BackupMode"))
        json_object_set_new(d, "S3BackupMode", json_string("Disabled"));
    return d;
}

int stream_describe(stream_mgr_t *m, const char *name, bool with_stats, json_t **out,
                    tarn_err_t *err)
{
    stream_t *s = find(m, name);
    if (!s)
        return not_found(name, err);
    pthread_rwlock_rdlock(&s->lock);
    if (s->deleted) {
        pthread_rwlock_unlock(&s->lock);
        return not_found(name, err);
    }
    json_t *dest = dest_description(s);
    json_t *ext = json_deep_copy(dest);
    /* The plain S3 view of the same destination, as the service also returns it. */
    json_t *plain = json_pack("{s:O, s:O, s:O?, s:O?, s:O, s:O, s:O}", "RoleARN",
                              json_object_get(dest, "RoleARN"), "BucketARN",
                              json_object_get(dest, "BucketARN"), "Prefix",
                              json_object_get(dest, "Prefix"), "ErrorOutputPrefix",
                              json_object_get(dest, "ErrorOutputPrefix"), "BufferingHints",
                              json_object_get(dest, "BufferingHints"), "CompressionFormat",
                              json_object_get(dest, "CompressionFormat"),
                              "EncryptionConfiguration",
                              json_object_get(dest, "EncryptionConfiguration"));
    json_decref(dest);
    double created = (double)s->created_ms / 1000.0;
    json_t *d = json_pack(
        "{s:s, s:s+, s:s, s:s, s:s, s:f, s:f, s:[{s:s, s:o, s:o}], s:b, "
        "s:{s:s}}",
        "DeliveryStreamName", s->cfg.name, "DeliveryStreamARN", ARN_PREFIX, s->cfg.name,
        "DeliveryStreamStatus", "ACTIVE", "DeliveryStreamType", "DirectPut", "VersionId", "1",
        "CreateTimestamp", created, "LastUpdateTimestamp", created, "Destinations",
        "DestinationId", "destinationId-000000000001", "S3DestinationDescription", plain,
        "ExtendedS3DestinationDescription", ext, "HasMoreDestinations", false,
        "DeliveryStreamEncryptionConfiguration", "Status", "DISABLED");
    if (d && with_stats) {
        int64_t oldest = atomic_load(&s->oldest_ms);
        int64_t pending = atomic_load(&s->pending);
        json_object_set_new(
            d, "Tarn",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "RecordsIn",
                      (json_int_t)atomic_load(&s->records_in), "BytesIn",
                      (json_int_t)atomic_load(&s->bytes_in), "RecordsDelivered",
                      (json_int_t)atomic_load(&s->records_delivered), "BytesDelivered",
                      (json_int_t)atomic_load(&s->bytes_delivered), "RecordsFailed",
                      (json_int_t)atomic_load(&s->records_failed), "FilesDelivered",
                      (json_int_t)atomic_load(&s->files_delivered), "PendingBytes",
                      (json_int_t)(pending > 0 ? pending : 0), "DeliveredSequence",
                      (json_int_t)atomic_load(&s->delivered), "WalBytes",
                      (json_int_t)stream_wal_disk_bytes(s->wal), "BufferAgeSeconds",
                      oldest && pending > 0 ? (double)(time_now_ms() - oldest) / 1000.0 : 0.0));
    }
    pthread_rwlock_unlock(&s->lock);
    if (!d)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    *out = d;
    return 0;
}

int stream_put(stream_mgr_t *m, const char *name, const stream_record_t *recs, size_t n,
               char (*record_ids)[33], tarn_err_t *err)
{
    stream_t *s = find(m, name);
    if (!s)
        return not_found(name, err);
    pthread_rwlock_rdlock(&s->lock);
    int rc = 0;
    if (s->deleted) {
        rc = not_found(name, err);
        goto done;
    }
    if (stream_wal_disk_bytes(s->wal) > m->o.wal_limit) {
        /* Delivery is behind: refuse rather than let the log grow without bound. */
        rc = TARN_ERR_R(err, TARN_EBUSY, SlowDown,
                        "Slow down. The stream %s has %llu bytes waiting for delivery.", name,
                        (unsigned long long)stream_wal_disk_bytes(s->wal));
        goto done;
    }
    uint64_t first, bytes = 0;
    int64_t now = time_now_ms();
    for (size_t i = 0; i < n; i++)
        bytes += recs[i].len;
    if ((rc = stream_wal_append(s->wal, recs, n, now, &first, err)))
        goto done;
    int64_t expect = 0;
    bool started = atomic_compare_exchange_strong(&s->oldest_ms, &expect, now);
    int64_t pending = atomic_fetch_add(&s->pending, (int64_t)bytes) + (int64_t)bytes;
    atomic_fetch_add(&s->records_in, n);
    atomic_fetch_add(&s->bytes_in, bytes);
    for (size_t i = 0; record_ids && i < n; i++)
        snprintf(record_ids[i], 33, "%016" PRIx64 "%016" PRIx64, (uint64_t)s->id, first + i);
    /* Delivery sleeps until the next buffer is due: wake it when these records are due
     * now, or start a buffer (their interval is the new deadline). */
    bool wake = started || pending >= (int64_t)s->cfg.buffer_bytes || s->cfg.interval_s == 0;
    pthread_rwlock_unlock(&s->lock);
    if (wake)
        worker_wake(m->worker);
    return 0;
done:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

void stream_mgr_metrics(stream_mgr_t *m, buf_t *b)
{
    static const char *const names[] = {
        "tarn_stream_records_in_total", "tarn_stream_bytes_in_total",
        "tarn_stream_records_delivered_total", "tarn_stream_bytes_delivered_total",
        "tarn_stream_records_failed_total", "tarn_stream_files_delivered_total"};
    static const char *const helps[] = {
        "Records acknowledged (durable in the stream log)", "Bytes of records acknowledged",
        "Records delivered in files", "Bytes of records delivered",
        "Records sent to the error output (quarantine)", "Files delivered"};
    pthread_mutex_lock(&m->mu);
    for (size_t k = 0; k < 6; k++) {
        buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", names[k], helps[k], names[k]);
        for (stream_t *s = m->list; s; s = s->next) {
            if (s->deleted)
                continue;
            atomic_uint_fast64_t *v[] = {&s->records_in, &s->bytes_in, &s->records_delivered,
                                         &s->bytes_delivered, &s->records_failed,
                                         &s->files_delivered};
            buf_printf(b, "%s{stream=\"%s\"} %llu\n", names[k], s->cfg.name,
                       (unsigned long long)atomic_load(v[k]));
        }
    }
    buf_puts(b, "# HELP tarn_stream_buffer_age_seconds Age of the oldest record not yet "
                "delivered\n# TYPE tarn_stream_buffer_age_seconds gauge\n");
    int64_t now = time_now_ms();
    for (stream_t *s = m->list; s; s = s->next) {
        int64_t o = atomic_load(&s->oldest_ms), p = atomic_load(&s->pending);
        if (!s->deleted)
            buf_printf(b, "tarn_stream_buffer_age_seconds{stream=\"%s\"} %.3f\n", s->cfg.name,
                       o && p > 0 ? (double)(now - o) / 1000.0 : 0.0);
    }
    buf_puts(b, "# HELP tarn_stream_wal_bytes Bytes of the stream's write-ahead log on disk\n"
                "# TYPE tarn_stream_wal_bytes gauge\n");
    for (stream_t *s = m->list; s; s = s->next)
        if (!s->deleted && s->wal)
            buf_printf(b, "tarn_stream_wal_bytes{stream=\"%s\"} %llu\n", s->cfg.name,
                       (unsigned long long)stream_wal_disk_bytes(s->wal));
    pthread_mutex_unlock(&m->mu);
}
