/* A stream's write-ahead log: acknowledged records that are not yet delivered, in
 * numbered segment files under the stream's folder in <data>/wal/. Each record is one
 * frame (length, CRC-32C, sequence number, arrival time, bytes); appends from concurrent
 * requests share fsyncs (group commit), and a torn tail left by a crash is cut at open. */
#ifndef TARN_INGEST_STREAM_WAL_H
#define TARN_INGEST_STREAM_WAL_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct stream_wal stream_wal_t;

typedef struct {
    const void *data;
    size_t len;
} stream_record_t;

typedef struct {
    uint64_t seq;
    int64_t ts_ms;
    const void *data; /* valid during the callback */
    size_t len;
} stream_wal_rec_t;

enum { STREAM_WAL_FRAME = 24 }; /* bytes of each frame's header */

/* Opens (creating) the log in dir. Segments wholly at or below `delivered` are removed;
 * the last segment's torn tail, if any, is cut. Caller frees with stream_wal_close. */
int stream_wal_open(stream_wal_t **out, const char *dir, uint64_t delivered, tarn_err_t *err);
void stream_wal_close(stream_wal_t *w);

/* Appends n records with arrival time ts_ms and returns once they are on disk (fsynced,
 * possibly by another appender's fsync). *first_seq gets the first record's number; the
 * others follow it. */
int stream_wal_append(stream_wal_t *w, const stream_record_t *recs, size_t n, int64_t ts_ms,
                      uint64_t *first_seq, tarn_err_t *err);

/* The last record on disk (0 when none was ever written). */
uint64_t stream_wal_durable(stream_wal_t *w);

/* Calls fn for the records after `after` up to `upto` in order, until fn returns nonzero
 * (returned) or max_bytes of record data were passed (at least one record). */
int stream_wal_read(stream_wal_t *w, uint64_t after, uint64_t upto, size_t max_bytes,
                    int (*fn)(void *ctx, const stream_wal_rec_t *r), void *ctx, tarn_err_t *err);

/* Removes the segments whose records are all at or below delivered. */
int stream_wal_trim(stream_wal_t *w, uint64_t delivered, tarn_err_t *err);

/* Bytes of the segments on disk. */
uint64_t stream_wal_disk_bytes(stream_wal_t *w);

/* Segment size at which a new segment starts (for tests; default 64 MiB). */
void stream_wal_set_segment_size(stream_wal_t *w, uint64_t bytes);

#endif
