/* What stream.c (configuration, registry, puts) and stream_deliver.c (the delivery
 * thread) share: a running stream and the manager that holds them. */
#ifndef TARN_INGEST_STREAM_INTERNAL_H
#define TARN_INGEST_STREAM_INTERNAL_H

#include "ingest/stream.h"
#include "util/worker.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

typedef struct stream {
    int64_t id;
    stream_config_t cfg;
    json_t *dest;          /* the ExtendedS3DestinationConfiguration as given */
    int64_t created_ms;
    stream_wal_t *wal;
    /* Puts and deliveries hold it shared; deletion holds it exclusively, so the log is
     * never closed under them. A stream is freed only with the manager. */
    pthread_rwlock_t lock;
    bool deleted;
    atomic_uint_fast64_t delivered;  /* last record delivered */
    atomic_int_fast64_t pending;     /* bytes acknowledged, not yet delivered */
    atomic_int_fast64_t oldest_ms;   /* arrival of the oldest pending record, 0: none */
    atomic_int_fast64_t retry_at_ms; /* after a failed delivery */
    atomic_uint_fast64_t records_in, bytes_in, records_delivered, bytes_delivered,
        records_failed, files_delivered;
    struct stream *next;
} stream_t;

struct stream_mgr {
    stream_opts_t o;
    char wal_dir[PATH_MAX];
    char tmp_dir[PATH_MAX]; /* o.tmp_dir points here */
    pthread_mutex_t mu; /* the list */
    stream_t *list;
    worker_t *worker; /* delivery, woken by puts (stream_put says when) */
    engine_conn_t *conn; /* the delivery thread's, for Parquet */
    stream_jq_guard_t *jq_guard; /* bounds the delivery thread's MetadataExtractionQuery */
};

/* stream_deliver.c: the delivery worker's body (arg: the manager). */
void stream_deliver_main(worker_t *w, void *arg);
/* Delivers one batch of s (caller holds s->lock shared). */
int stream_deliver_batch(stream_mgr_t *m, stream_t *s, tarn_err_t *err);

#endif
