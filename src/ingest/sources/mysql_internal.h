/* The MySQL/MariaDB source's private parts, shared by its files: mysql.c (the plugin:
 * configuration, checks, the snapshot, start/run/stop), mysql_conn.c (connecting, the
 * server's settings and the tables' checks, columns and snapshot values) and
 * mysql_stream.c (the binlog from the replica connection). */
#ifndef TARN_INGEST_SOURCES_MYSQL_INTERNAL_H
#define TARN_INGEST_SOURCES_MYSQL_INTERNAL_H

#include "ingest/change_batch.h"
#include "ingest/source_db.h"
#include "ingest/sources/binlog_rows.h"
#include "ingest/sources/mysql.h"

#include <mysql.h>
#include <stdbool.h>
#include <stdint.h>

/* A table the source reads. */
typedef struct {
    char *db, *name; /* in the server */
    char *lake;      /* its table in the lake: name, or db_name outside connection.database */
    bl_table_t *cols; /* its columns as information_schema describes them, typed like a
                       * TABLE_MAP's, for the snapshot and a truncate */
    int64_t estimate;
    int wm;           /* mode incremental: the watermark column's index; else -1 */
} my_table_t;

/* A binlog position: the file's sequence number and name, and the offset in it. */
typedef struct {
    char file[128];
    uint32_t seq;
    uint64_t pos;
} my_pos_t;

typedef struct my_source {
    const ingest_env_t *env;
    const json_t *cfg; /* borrowed */
    source_db_batching_t bt; /* mode, format and batch.* of the configuration */
    uint32_t server_id;
    my_table_t *tables;
    size_t ntables;
    MYSQL *conn, *repl;
    void *rpl;                  /* MARIADB_RPL of the replica connection */
    change_batch_t *batch;
    bl_charsets_t charsets;     /* the server's collation ids */
    bool done;                  /* snapshot mode: the snapshot is in */
    /* Snapshot and incremental modes: the position of the last run (each run's rows sort
     * after it), and per table the last watermark delivered and its column. */
    my_pos_t last;
    json_t *watermarks, *wm_cols;
    bool streaming;
    bool checksum;              /* events end in a CRC32 */
    /* The stream: where it is, and the end of the last delivered transaction. */
    my_pos_t at, cursor;
    char cursor_gtid[64];
    uint64_t server_pos;        /* how far the server's log goes, from heartbeats */
    /* The open transaction. */
    bool in_txn, skip_txn, standalone;
    my_pos_t txn;               /* its GTID event's end: its _source_pos */
    int64_t txn_ts_us;
    char txn_gtid[64];
    uint32_t ordinal;
    /* The batch being gathered. */
    my_pos_t batch_first, batch_end;
    char batch_gtid[64];
    size_t batch_txns;
    int64_t batch_started_ms, oldest_us;
    struct my_map *maps;        /* TABLE_MAPs by table id */
    size_t nmaps;
    bl_image_t before, after;
    buf_t line;
} my_source_t;

/* ---- mysql_conn.c ---- */
/* Connects with the configuration's connection (the password from password,
 * password_file or password_env), UTF-8 and UTC; errors name what to fix (a wrong
 * password, an unreachable host). read_timeout_s: 0 for none. */
int my_connect(MYSQL **out, const json_t *cfg, int read_timeout_s, tarn_err_t *err);
/* Runs sql; the server's message on failure, after what. */
int my_exec(MYSQL *c, const char *sql, const char *what, tarn_err_t *err);
/* The first row of sql's answer, its first ncols values copied into out[i] (cap each);
 * "" for NULL; 1 when there was a row, 0 when none. */
int my_query_row(MYSQL *c, const char *sql, char out[][128], int ncols, tarn_err_t *err);
/* Checks what change capture needs: the binary log on, binlog_format, binlog_row_image
 * and binlog_row_metadata, and the user's REPLICATION SLAVE and REPLICATION CLIENT
 * privileges; refuses with every setting to change. */
int my_check_server(MYSQL *c, const json_t *cfg, tarn_err_t *err);
/* The tables the configuration names (db.* expanded), with their columns; refuses (with
 * the SQL that fixes it) a missing table, one the user may not read, a column in a
 * character set tarn does not convert, and, for change capture, a table without a
 * primary key. */
int my_tables_resolve(MYSQL *c, const json_t *cfg, bool cdc, my_table_t **out, size_t *n,
                      tarn_err_t *err);
void my_tables_free(my_table_t *t, size_t n);
/* The server's collation ids as charsets (caller frees cs->kinds). */
int my_charsets_load(MYSQL *c, bl_charsets_t *cs, tarn_err_t *err);

/* A table's change-file columns: its own and _op, _source_pos, _commit_ts, _txid,
 * _old_key. Caller frees with my_cols_free. */
int my_change_cols(const bl_table_t *t, change_col_t **out, size_t *nout, tarn_err_t *err);
void my_cols_free(change_col_t *c, size_t n);
/* A value as the text protocol gives it (NULL data: NULL) as the staged value its column's
 * change-file type reads: a JSON value, or (csv) a CSV field. */
int my_text_value(buf_t *out, const bl_col_t *c, const char *data, size_t len, bool csv);
/* Whether the column's values are numbers (compared as numbers, written unquoted). */
bool my_col_numeric(const bl_col_t *c);
/* "0000000003-00000000000004D2-0000000012": a position that sorts as text in commit order. */
void my_source_pos(char *out, size_t cap, const my_pos_t *p, uint32_t ordinal);
/* The sequence number of a binlog file's name ("mysql-bin.000003": 3). */
uint32_t my_file_seq(const char *file);

/* ---- mysql.c ---- */
/* Lands the batch with the cursor {"phase", "file", "pos", "gtid"} (and in mode
 * incremental "watermarks" {table: last value read}, "watermark_columns" {table: column});
 * tag orders the files. */
int my_batch_commit(my_source_t *s, const char *phase, const my_pos_t *end, const char *gtid,
                    const char *tag, tarn_err_t *err);

/* ---- mysql_stream.c ---- */
/* Opens the replica connection and asks for the binlog from p. */
int my_stream_start(my_source_t *s, const my_pos_t *p, tarn_err_t *err);
/* Reads the binlog for up to wait_ms, landing batches as they fill or age. */
int my_stream_poll(my_source_t *s, int64_t wait_ms, tarn_err_t *err);
/* Frees what the stream keeps in s. */
void my_stream_free(my_source_t *s);

#endif
