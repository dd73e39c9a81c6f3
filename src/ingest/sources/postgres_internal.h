/* The PostgreSQL source's private parts, shared by its files: postgres.c (the plugin:
 * configuration, checks, the snapshot, start/run/stop), postgres_conn.c (connecting,
 * the server's and tables' checks, types and values as change-file columns) and
 * postgres_stream.c (the change stream from the replication slot). */
#ifndef TARN_INGEST_SOURCES_POSTGRES_INTERNAL_H
#define TARN_INGEST_SOURCES_POSTGRES_INTERNAL_H

#include "ingest/change_batch.h"
#include "ingest/source_db.h"
#include "ingest/sources/pgoutput.h"
#include "ingest/sources/postgres.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char *name;
    uint32_t type;
    int32_t typmod;
} pg_col_t;

/* A table the source reads. */
typedef struct {
    char *schema, *name; /* in PostgreSQL */
    char *lake;          /* its table in the lake: name, or schema_name outside public */
    uint32_t oid;
    int ncols;
    pg_col_t *cols;
    int64_t estimate;    /* rows, as the planner's statistics guess */
    int wm;              /* mode incremental: the watermark column's index; else -1 */
} pg_table_t;

typedef struct {
    const ingest_env_t *env;
    const json_t *cfg; /* borrowed */
    source_db_batching_t bt; /* mode, format and batch.* of the configuration */
    char slot[64], publication[64];
    pg_table_t *tables;
    size_t ntables;
    PGconn *conn, *repl;
    change_batch_t *batch;
    pgoutput_rels_t *rels;
    bool done;        /* snapshot mode: the snapshot is in */
    /* Snapshot and incremental modes: the position of the last run (each run's rows sort
     * after it), and per table the last watermark delivered and its column. */
    uint64_t last_lsn;
    json_t *watermarks, *wm_cols;
    bool streaming;   /* the change stream is started */
    /* The stream: the end of the last delivered transaction (the cursor), what the
     * server was told is flushed, and the end of what it sent. */
    uint64_t cursor_lsn, confirmed, received, server_end;
    bool in_txn, skip_txn;
    uint32_t xid, ordinal;
    uint64_t txn_lsn;
    int64_t txn_ts_us;
    /* The batch being gathered: its first transaction's commit position, the end of its
     * last, when it started, and its oldest commit time. */
    uint64_t batch_first, batch_end;
    size_t batch_txns;
    int64_t batch_started_ms, oldest_us, last_feedback_ms;
    arena_t *arena;   /* one decoded message's */
    /* Change-file columns per relation announcement (a new one after a schema change). */
    struct pg_rel_cols *relcols;
    size_t nrelcols;
    buf_t line;
} pg_source_t;

/* ---- postgres_conn.c ---- */
/* Connects with the configuration's connection (the password from password,
 * password_file or password_env), as a replication connection when replication; errors
 * name what to fix (a wrong password, an unreachable host). */
int pg_connect(PGconn **out, const json_t *cfg, const char *source, bool replication,
               tarn_err_t *err);
/* Runs sql, expecting want (PGRES_COMMAND_OK, PGRES_TUPLES_OK); *res (NULL: cleared) gets
 * the result. The server's message on failure, after what. */
int pg_exec(PGconn *c, const char *sql, ExecStatusType want, PGresult **res, const char *what,
            tarn_err_t *err);
/* Checks what change capture needs of the server and the user: wal_level = logical and
 * the REPLICATION attribute. */
int pg_check_server(PGconn *c, const json_t *cfg, tarn_err_t *err);
/* The tables the configuration names (schema.* expanded), with their columns; refuses
 * (with the SQL that fixes it) a table that does not exist, that the user may not read,
 * or, for change capture, that has no primary key or replica identity. */
int pg_tables_resolve(PGconn *c, const json_t *cfg, bool cdc, pg_table_t **out, size_t *n,
                      tarn_err_t *err);
void pg_tables_free(pg_table_t *t, size_t n);
/* Runs sql, a query with $1 the oid of a relation; *out (caller clears) gets its rows. */
int pg_query_oid(PGconn *c, const char *sql, uint32_t oid, PGresult **out, tarn_err_t *err);
/* The publication: when it exists it must hold every table; when it does not, create
 * makes it, otherwise the user must be able to. */
int pg_publication_ensure(PGconn *c, const char *pub, const pg_table_t *t, size_t n,
                          bool create, tarn_err_t *err);
/* At create: the slot must not exist yet, and there must be room for one more. */
int pg_slot_check(PGconn *c, const char *slot, tarn_err_t *err);

/* A table's change-file columns: its own (typed from PostgreSQL's types) and _op,
 * _source_pos, _commit_ts, _txid, _old_key. Caller frees with pg_cols_free. */
int pg_change_cols(const pg_col_t *cols, int n, change_col_t **out, size_t *nout,
                   tarn_err_t *err);
void pg_cols_free(change_col_t *c, size_t n);
/* Appends a value in PostgreSQL's text output format as the JSON value its column's
 * change-file type reads (a number, true/false, embedded JSON, or a string); NULL data
 * is null. */
int pg_value_json(buf_t *out, uint32_t type, const char *data, size_t len);
/* "0000000016B374D8-0000000012": a position that sorts as text in delivery order. */
void pg_source_pos(char *out, size_t cap, uint64_t lsn, uint32_t ordinal);

/* ---- postgres.c ---- */
/* Lands the batch (if it has rows, or when the cursor must move) with the cursor
 * {"phase", "slot", "lsn"} (and in mode incremental "watermarks" {table: last value read},
 * "watermark_columns" {table: column}); tag orders the files. */
int pg_batch_commit(pg_source_t *s, const char *phase, uint64_t lsn, const char *tag,
                    tarn_err_t *err);

/* ---- postgres_stream.c ---- */
/* Starts streaming changes from the slot after lsn. */
int pg_stream_start(pg_source_t *s, uint64_t lsn, tarn_err_t *err);
/* Reads changes for up to wait_ms, landing batches as they fill or age; sends the server
 * the flushed position. */
int pg_stream_poll(pg_source_t *s, int64_t wait_ms, tarn_err_t *err);
/* Frees what the stream keeps in s. */
void pg_stream_free(pg_source_t *s);

#endif
