/* Delivery streams (Firehose-style): their configuration, kept in the catalog database,
 * and the running streams of a server. A record is acknowledged once it is in the
 * stream's write-ahead log on disk; a delivery thread batches records by size or age,
 * partitions them by the key prefix template, compresses or converts them to Parquet and
 * lands each file in its zone atomically, recording the log position it covers in the
 * same transaction, so a crash never loses or repeats a record. */
#ifndef TARN_INGEST_STREAM_H
#define TARN_INGEST_STREAM_H

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "ingest/plugin.h"
#include "ingest/stream_jq.h"
#include "ingest/stream_template.h"
#include "ingest/stream_wal.h"
#include "storage/store.h"
#include "util/buf.h"
#include "util/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum { STREAM_NAME_MAX = 64 };
enum { STREAM_RECORD_MAX = 1000 * 1024 }; /* bytes of one record, before base64 */
enum { STREAM_BATCH_RECORDS = 500, STREAM_BATCH_BYTES = 4 << 20 };

enum { STREAM_COMPRESS_NONE, STREAM_COMPRESS_GZIP, STREAM_COMPRESS_ZSTD };

/* A stream's destination, as validated from a CreateDeliveryStream request. */
typedef struct {
    char name[STREAM_NAME_MAX + 1];
    char bucket[64];
    char *prefix;          /* "" when not given */
    char *error_prefix;    /* "" when not given */
    char *extension;       /* FileExtension, or NULL for the default */
    uint64_t buffer_bytes; /* BufferingHints.SizeInMBs */
    int interval_s;        /* BufferingHints.IntervalInSeconds */
    int compression;       /* STREAM_COMPRESS_* */
    bool parquet;          /* DataFormatConversionConfiguration enabled */
    char *parquet_compression; /* "snappy", "gzip", "uncompressed" */
    char *schema_zone, *schema_db, *schema_table;
    bool partitioning;     /* DynamicPartitioningConfiguration enabled */
    stream_jq_t *jq;       /* MetadataExtractionQuery, or NULL */
    char *transform;       /* the SQL processor's Query, or NULL */
} stream_config_t;

/* The stream plugin: its config map is the CreateDeliveryStream request's keys. */
extern const ingest_plugin_t stream_plugin;

/* Validates a CreateDeliveryStream request body. A field or value tarn does not support
 * is TARN_EINVAL (reason InvalidArgument) naming it. A transform's query is checked by
 * stream_create, which has the engine. Free with stream_config_free. */
int stream_config_parse(stream_config_t *out, const json_t *req, tarn_err_t *err);
void stream_config_free(stream_config_t *c);

typedef struct stream_mgr stream_mgr_t;

typedef struct {
    const char *data_dir;
    db_t *db;              /* borrowed until stream_mgr_close */
    store_t *store;
    catalog_t *catalog;    /* for Parquet schemas */
    engine_t *engine;      /* writes Parquet; must reach tmp_dir */
    const char *tmp_dir;   /* staging for Parquet conversion (absolute) */
    uint64_t wal_limit;    /* bytes of log per stream before puts are refused; 0: 1 GiB */
} stream_opts_t;

/* Loads the streams and recovers their logs. Caller frees with stream_mgr_close. */
int stream_mgr_open(stream_mgr_t **out, const stream_opts_t *o, tarn_err_t *err);
/* Starts the delivery thread. */
int stream_mgr_start(stream_mgr_t *m, tarn_err_t *err);
/* Stops delivery (what is buffered stays in the logs) and frees. */
void stream_mgr_close(stream_mgr_t *m);

/* CreateDeliveryStream: TARN_EEXISTS (reason StreamExists) when the name is taken.
 * *arn (arena a) gets the stream's ARN. */
int stream_create(stream_mgr_t *m, const json_t *req, const char **arn, arena_t *a,
                  tarn_err_t *err);
/* The DeliveryStreamDescription of DescribeDeliveryStream; with_stats adds tarn's
 * counters under "Tarn". TARN_ENOTFOUND (reason NoSuchStream). Caller decrefs. */
int stream_describe(stream_mgr_t *m, const char *name, bool with_stats, json_t **out,
                    tarn_err_t *err);
/* Names in order, after `start` (NULL: from the first), at most limit; *more tells
 * whether others follow. Caller decrefs *names. */
int stream_list(stream_mgr_t *m, const char *start, size_t limit, json_t **names, bool *more,
                tarn_err_t *err);
/* Deletes the stream and its undelivered records. */
int stream_delete(stream_mgr_t *m, const char *name, tarn_err_t *err);

/* Appends records (each at most STREAM_RECORD_MAX bytes, checked by the caller) and
 * returns once they are durable. record_ids (n entries of 33 bytes each, may be NULL)
 * get each record's id. TARN_ENOTFOUND for an unknown stream; TARN_EBUSY (reason
 * SlowDown) when the stream's log passed its bound. */
int stream_put(stream_mgr_t *m, const char *name, const stream_record_t *recs, size_t n,
               char (*record_ids)[33], tarn_err_t *err);

/* Appends per-stream Prometheus lines. */
void stream_mgr_metrics(stream_mgr_t *m, buf_t *out);

#endif
