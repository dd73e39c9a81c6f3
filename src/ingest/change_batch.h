/* A batch of change files: the rows a database source read (a snapshot's, or a run of
 * transactions'), staged on disk table by table in bounded memory, then landed as one
 * file per table (Parquet through the engine, or JSON Lines) under
 * <zone>/<database>/<table>/, all of them and the source's cursor in ONE catalog
 * transaction, so a crash delivers a batch wholly or not at all. Shared by every database
 * source: the source turns its rows into JSON objects or CSV records, this module does the
 * rest (converting held batches in the background while the source reads on). */
#ifndef TARN_INGEST_CHANGE_BATCH_H
#define TARN_INGEST_CHANGE_BATCH_H

#include "ingest/plugin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A column of a table's change files. */
typedef struct {
    const char *name;
    const char *type;    /* its type in Parquet files, as DuckDB writes it ("BIGINT") */
    const char *read_as; /* the type its staged value is read as; NULL: type */
    const char *convert; /* NULL, or a SQL expression turning the value read (written %s)
                          * into type: "unhex(substr(%s, 3))" */
} change_col_t;

typedef struct change_batch change_batch_t;

/* How a group's rows are staged. JSON: one object per line, keyed by column name. CSV:
 * one RFC 4180 record per row (quote '"' doubled inside quotes), the group's columns in
 * order, NULL an empty unquoted field and the empty string "" -- what PostgreSQL's
 * COPY ... (FORMAT csv) writes; only for batches that land Parquet. */
typedef enum { CHANGE_STAGE_JSON, CHANGE_STAGE_CSV } change_stage_t;

typedef struct {
    const char *zone;     /* "raw" */
    const char *database; /* the catalog database the tables land in */
    bool parquet;         /* else JSON Lines */
} change_batch_opts_t;

/* A batch staged in env's folder and landed through env's store; o's strings copied. */
int change_batch_create(change_batch_t **out, const ingest_env_t *env,
                        const change_batch_opts_t *o, tarn_err_t *err);
void change_batch_free(change_batch_t *b);

/* The group that gathers table's rows with these columns (copied): the open one when its
 * columns are the same, else a new one (a table whose columns changed gets a file of each
 * shape). *group names it for change_batch_add. */
int change_batch_group(change_batch_t *b, const char *table, const change_col_t *cols,
                       size_t ncols, size_t *group, tarn_err_t *err);
/* The same, with rows staged as stage says (a group of the other kind is a new group). */
int change_batch_group_as(change_batch_t *b, const char *table, const change_col_t *cols,
                          size_t ncols, change_stage_t stage, size_t *group, tarn_err_t *err);
/* Whether the batch lands Parquet (else JSON Lines, from JSON staging only). */
bool change_batch_parquet(const change_batch_t *b);
/* Stages one row in the group's form, without the newline: a JSON object's text whose keys
 * are the group's columns, or a CSV record. */
int change_batch_add(change_batch_t *b, size_t group, const char *json, size_t len,
                     tarn_err_t *err);
/* Stages a row whose columns names[i] hold the strings values[i] and every other column
 * NULL (a marker such as a snapshot's leading truncate), in the group's form. */
int change_batch_add_strings(change_batch_t *b, size_t group, const char *const *names,
                             const char *const *values, size_t n, tarn_err_t *err);
uint64_t change_batch_rows(const change_batch_t *b);
uint64_t change_batch_bytes(const change_batch_t *b);

/* Lands every held file and every group that has rows as
 * <zone>/<database>/<table>/<env source>-<tag>-<n>.<ext>
 * (tag: the batch's position, so names sort in delivery order), with an object.landed event
 * each, and calls cursor(ctx) inside the same transaction to record how far the batch
 * goes; returns once that transaction is on disk. The batch is empty afterwards, failed
 * or not (a failed batch is read again from the source). *rows, *files (may be NULL) get
 * what was landed. */
int change_batch_commit(change_batch_t *b, const char *tag,
                        int (*cursor)(void *ctx, tarn_err_t *err), void *ctx, uint64_t *rows,
                        uint64_t *files, tarn_err_t *err);

/* Converts the staged rows into their files now, on a thread of its own, but lands them
 * only with the next change_batch_commit, in its one transaction: a snapshot read in many
 * batches becomes visible whole or not at all (a crash before leaves nothing), while the
 * source reads the next batch as this one is converted. The batch is empty at once. One
 * set converts at a time: this waits for the one before and returns its error, if it
 * failed (then every held file is dropped). */
int change_batch_hold(change_batch_t *b, const char *tag, tarn_err_t *err);
/* Waits for the conversion in flight, if any: 0, or its error. */
int change_batch_wait(change_batch_t *b, tarn_err_t *err);

/* Empties the batch, held files included, without landing anything. */
void change_batch_reset(change_batch_t *b);

#endif
