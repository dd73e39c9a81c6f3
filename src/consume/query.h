/* One query's lifecycle, the same for every SQL interface (REST SQL, the PostgreSQL
 * protocol): admission to the workload (a slot, the wait for one, the deadline), the
 * session that checks, maps and runs it, its rows chunk by chunk, cancellation, why it
 * failed in words a user can act on, and its record in the query history. The
 * interfaces only encode the rows and answer. */
#ifndef TARN_CONSUME_QUERY_H
#define TARN_CONSUME_QUERY_H

#include "consume/session.h"
#include "consume/workload.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct query query_t;

/* What queries run on; borrowed for the life of every query. */
typedef struct {
    engine_t *engine; /* query sessions' */
    catalog_t *catalog;
    const char *objects_dir; /* absolute path of <data>/objects */
    workload_t *workload;
    uint64_t query_memory; /* each slot's share of the engine's memory (for messages) */
} query_env_t;

typedef struct {
    /* The session to run on (borrowed: a PostgreSQL connection's); NULL: the query opens
     * its own for the principal and closes it with the query. */
    session_t *session;
    rowenc_style_t rows; /* how the rows are encoded */
    /* Instead of rows: the whole answer written to this file as Parquet (zstd); the
     * query then has no rows to read. */
    const char *parquet_path;
    /* When not NULL, gets the query's id as soon as it is admitted, before it runs, so
     * another thread can cancel it by id meanwhile (a PostgreSQL CancelRequest). */
    atomic_llong *admitted_id;
} query_opts_t;

/* Admits sql run by principal p (borrowed until query_close) to the workload, then
 * checks it and starts it with params bound to $1, $2, ... *out is set whenever the
 * query could be created, even when it then failed (its id and table decisions are
 * still wanted): the caller closes it either way. A cancel or the time limit is
 * TARN_ECONFLICT "QueryCancelled" or TARN_EBUSY "QueryTimeout"; running out of memory
 * says what the limit was and what to do. */
int query_open(query_t **out, const query_env_t *env, const authz_principal_t *p,
               const char *sql, const json_t *params, const query_opts_t *o, tarn_err_t *err);

/* The query's columns as [{"name", "type"}] with DuckDB's type names (borrowed). */
const json_t *query_columns(const query_t *q);
/* The next rows: *cells gets *nrows rows of query_ncols cells, row by row, valid until
 * the next call; *nrows is 0 at the end. A failure is explained as query_open's are. */
int query_next(query_t *q, const engine_cell_t **cells, size_t *nrows, tarn_err_t *err);
size_t query_ncols(const query_t *q);
/* The interface writes column col itself from its typed vector (PostgreSQL's binary
 * format): its cells then only tell NULL from a value. A column the query had to
 * convert to text keeps its text cells. */
void query_own_column(query_t *q, size_t col);
/* Column col of the chunk query_next last gave, when query_own_column took it; else
 * NULL (read the cells). */
const engine_vec_t *query_vectors(const query_t *q, size_t col);
/* The query's id in the workload (0 when it was never admitted), and its tables with
 * what decided each (session_decisions). */
int64_t query_id(const query_t *q);
const char *query_decisions(const query_t *q);
/* "cancelled" or "timeout" when the workload interrupted the query, else NULL. */
const char *query_interruption(const query_t *q);
/* Interrupts query id from another thread, as an admin's cancel does (a PostgreSQL
 * CancelRequest, a shutdown): by id, since the query may end meanwhile. */
void query_cancel(workload_t *w, int64_t id);
/* Ends the query: frees its slot and records it in the history with the bytes the
 * interface sent and error (NULL: the query's own failure, if it had one). */
void query_close(query_t *q, uint64_t bytes_out, const char *error);

#endif
