/* Writing a pipeline's or a compaction's rows as the Parquet files of a managed table:
 * one COPY into a staging folder (zstd, hive partitions, a target file size, optional
 * sort), the files found there with their sizes and row counts, and publishing them into
 * the store by renaming (no copy). */
#ifndef TARN_PROCESS_OUTPUT_H
#define TARN_PROCESS_OUTPUT_H

#include "engine/engine.h"
#include "process/pipeline_spec.h"
#include "storage/store.h"
#include "util/buf.h"

#include <stdint.h>

typedef struct {
    char *path; /* staged file */
    char *key;  /* its key in the zone: <key_prefix><relative path> */
    uint64_t size;
    int64_t rows;
} output_file_t;

typedef struct {
    output_file_t *v;
    size_t n;
} output_files_t;

typedef struct {
    const pipeline_names_t *partition_by; /* NULL or empty: none */
    const pipeline_names_t *sort_by;      /* NULL or empty: none */
    int64_t file_size_mb;                 /* 0: 128 */
    const char *dir;        /* an empty or missing staging folder the engine may write */
    const char *key_prefix; /* "db/table/" */
    const char *file_tag;   /* unique per write, e.g. "r12a1": part-<tag>-<n>.parquet */
} output_opts_t;

/* Writes the rows of select_sql (a query the caller composed) as o says; out gets the
 * files written (zero-row files are dropped). Caller frees with output_files_free. */
int output_write(engine_conn_t *c, const char *select_sql, const output_opts_t *o,
                 output_files_t *out, tarn_err_t *err);
/* The COPY options (after FORMAT and COMPRESSION) that write as o says, into *options
 * (caller frees): for a query that writes the files itself (a SQL step as its owner);
 * o->sort_by is the caller's to apply. */
int output_copy_options(const output_opts_t *o, char **options, tarn_err_t *err);
/* After a COPY with output_copy_options into o->dir: cuts oversized partition files,
 * and fills out as output_write does. */
int output_collect(engine_conn_t *c, const output_opts_t *o, output_files_t *out,
                   tarn_err_t *err);
/* The columns of select_sql's result as catalog text "name TYPE, ...": *columns without
 * the partition keys, *partition_keys the partition keys in partition_by's order (caller
 * frees both). */
int output_columns(engine_conn_t *c, const char *select_sql, const pipeline_names_t *partition_by,
                   char **columns, char **partition_keys, tarn_err_t *err);
/* The same from columns already known ([{"name", "type"}]). */
int output_columns_json(const json_t *cols, const pipeline_names_t *partition_by, char **columns,
                        char **partition_keys, tarn_err_t *err);
/* Moves each staged file into bucket under its key (store_writer_adopt). */
int output_publish(store_t *s, const char *bucket, const output_files_t *f, tarn_err_t *err);
void output_files_free(output_files_t *f);
/* The length of a key's folder part, its last '/' included ("db/t/k=v/" of
 * "db/t/k=v/part-0.parquet"): files with equal folder parts share a partition. */
size_t output_folder_len(const char *key);

/* read_parquet([...]) over the files dir/<key> of keys (a JSON array of keys, not empty),
 * with hive partitions typed by partition_keys text ("k TYPE, ..."; NULL: none),
 * appended to out. */
void output_reader_sql(buf_t *out, const char *dir, const json_t *keys,
                       const char *partition_keys);
/* The same with each row's file path as column file_col. */
void output_reader_file_sql(buf_t *out, const char *dir, const json_t *keys,
                            const char *partition_keys, const char *file_col);

#endif
