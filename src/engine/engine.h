/* The embedded DuckDB engine: one database per server, connections, running a statement
 * and reading its (small) result. It knows nothing of tables, users or zones: callers
 * hand it SQL. File access is confined to the folders named at open, and the
 * configuration is locked, so no statement can widen what the engine may read. */
#ifndef TARN_ENGINE_ENGINE_H
#define TARN_ENGINE_ENGINE_H

#include "util/arena.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct engine engine_t;
typedef struct engine_conn engine_conn_t;

/* DuckDB's library version, e.g. "v1.4.4". Static string. */
const char *engine_version(void);

typedef struct {
    /* The only folders statements may read or write (paths, with or without a trailing
     * '/'), ended by NULL. */
    const char *const *dirs;
    int threads;           /* per statement at most; 0: one per core */
    /* Memory all statements together may hold, in bytes (0: DuckDB's default, 80% of
     * the RAM); what does not fit goes to spill_dir (NULL: DuckDB's default). */
    uint64_t memory_limit;
    const char *spill_dir;
} engine_opts_t;

/* Opens an in-memory database confined to o->dirs; caller frees with engine_close after
 * closing every connection. */
int engine_open(engine_t **out, const engine_opts_t *o, tarn_err_t *err);
void engine_close(engine_t *e);
/* The memory all statements together may hold, in bytes (as DuckDB reports it, to
 * a tenth of its unit). */
uint64_t engine_memory_limit(engine_t *e);

/* A connection for one thread at a time; caller frees with engine_disconnect. */
int engine_connect(engine_t *e, engine_conn_t **out, tarn_err_t *err);
void engine_disconnect(engine_conn_t *c);

/* A materialized result as text: cells[row * ncols + col], NULL for SQL NULL. Everything
 * lives in the arena given to engine_query. */
typedef struct {
    size_t ncols, nrows;
    const char **names;
    const char **cells;
} engine_rows_t;

/* Runs sql (one statement) and materializes its result, at most max_rows rows. An engine
 * error is TARN_EINVAL with DuckDB's message (first line) in err; running out of memory
 * (after spilling what could be) is TARN_ENOMEM with reason "QueryOutOfMemory". */
int engine_query(engine_conn_t *c, const char *sql, size_t max_rows, engine_rows_t *out,
                 arena_t *a, tarn_err_t *err);
/* Runs sql (one statement, such as a COPY) with params bound like engine_stream_open's;
 * *count gets the first value of its result as an integer (a COPY's rows written), 0
 * when there is none. */
int engine_exec(engine_conn_t *c, const char *sql, const json_t *params, int64_t *count,
                tarn_err_t *err);

/* A query whose rows are fetched chunk by chunk as the engine produces them, so a large
 * result is never held whole, each column as the engine's typed vector. */
typedef struct engine_stream engine_stream_t;

/* How a column's values are held, for encoders that write them in one pass. */
typedef enum {
    ENGINE_KIND_OTHER, /* none below (nested, enum, interval, with time zone, ...): not
                        * readable here; a query converts such a column to text first */
    ENGINE_KIND_TEXT,  /* VARCHAR: engine_vec_text */
    ENGINE_KIND_BLOB,  /* engine_vec_text gives the bytes */
    ENGINE_KIND_BOOL,  /* bool */
    ENGINE_KIND_I8,
    ENGINE_KIND_I16,
    ENGINE_KIND_I32,
    ENGINE_KIND_I64,
    ENGINE_KIND_U8,
    ENGINE_KIND_U16,
    ENGINE_KIND_U32,
    ENGINE_KIND_U64,
    ENGINE_KIND_I128, /* engine_i128_t */
    ENGINE_KIND_U128, /* engine_i128_t, hi unsigned */
    ENGINE_KIND_F32,
    ENGINE_KIND_F64,
    ENGINE_KIND_DEC16, /* DECIMAL held as int16_t ... engine_i128_t, scaled by 10^scale */
    ENGINE_KIND_DEC32,
    ENGINE_KIND_DEC64,
    ENGINE_KIND_DEC128,
    ENGINE_KIND_DATE,      /* int32_t days since 1970-01-01 (INT32_MAX: infinity) */
    ENGINE_KIND_TIME,      /* int64_t microseconds since midnight */
    ENGINE_KIND_TIMESTAMP, /* int64_t microseconds since 1970-01-01 (INT64_MAX: infinity) */
    ENGINE_KIND_UUID,      /* engine_i128_t with the top bit flipped (the engine's order) */
} engine_kind_t;

typedef struct {
    uint64_t lo;
    int64_t hi;
} engine_i128_t;

/* One column of a chunk: values[i] of the kind's C type; valid: NULL when no value is
 * NULL, else bit i says whether row i has a value. */
typedef struct {
    engine_kind_t kind;
    uint8_t scale; /* DECIMAL */
    const void *values;
    const uint64_t *valid;
} engine_vec_t;

static inline bool engine_vec_null(const engine_vec_t *v, size_t i)
{
    return v->valid && !((v->valid[i / 64] >> (i % 64)) & 1);
}
/* Row i of a TEXT or BLOB column: its bytes (not NUL-terminated), valid until the next
 * chunk. */
const char *engine_vec_text(const engine_vec_t *v, size_t i, size_t *len);

/* One value as bytes (not NUL-terminated), or data NULL for SQL NULL. */
typedef struct {
    const char *data;
    size_t len;
} engine_cell_t;

/* Prepares sql with params bound, a JSON array of strings, numbers, booleans, nulls and
 * arrays of them (lists, nested for more dimensions) for $1, $2, ... (NULL for none),
 * each bound with the type the statement infers for it where it is one of those; it runs on engine_stream_start, or on the first
 * engine_stream_columns that needs a run or engine_stream_next. */
int engine_stream_open(engine_conn_t *c, const char *sql, const json_t *params,
                       engine_stream_t **out, tarn_err_t *err);
/* The columns as [{"name", "type"}] with DuckDB's type names (see engine_describe), and
 * each column's kind; both borrowed from the stream. Known from preparing when no type
 * depends on a parameter's value, else from starting the run. */
int engine_stream_columns(engine_stream_t *s, const json_t **columns, const engine_kind_t **kinds,
                          tarn_err_t *err);
size_t engine_stream_ncols(const engine_stream_t *s);
/* Runs the statement until its first rows are ready, so that a failure is known before
 * an answer begins; engine_stream_next does it when it was not done. */
int engine_stream_start(engine_stream_t *s, tarn_err_t *err);
/* The next rows: *vecs gets one vector per column holding *n rows, valid until the next
 * call; *n is 0 at the end. A column of kind OTHER fails. */
int engine_stream_next(engine_stream_t *s, const engine_vec_t **vecs, size_t *n, tarn_err_t *err);
void engine_stream_close(engine_stream_t *s);
/* Stops the connection's running statement (from another thread); it fails with an
 * "interrupted" error. */
void engine_interrupt(engine_conn_t *c);

/* The result columns sql has with params bound, as [{"name", "type"}] with DuckDB's type
 * names ("BIGINT", "DECIMAL(10,2)", "VARCHAR[]", "STRUCT("a" INTEGER)"), read by running
 * it for no rows. Caller decrefs. */
int engine_describe(engine_conn_t *c, const char *sql, const json_t *params, json_t **out,
                    tarn_err_t *err);

/* The types sql's parameters $1, $2, ... take where the statement uses them, as preparing
 * it infers them (WHERE amount > $1: the column's type; $1::json: JSON), with DuckDB's
 * type names; "" for a parameter whose type the statement leaves open (SELECT $1).
 * Caller decrefs *types. */
int engine_param_types(engine_conn_t *c, const char *sql, json_t **types, tarn_err_t *err);

/* The parse tree of sql as DuckDB's json_serialize_sql gives it: *tree (caller decrefs) is
 * {"error": false, "statements": [...]} or {"error": true, "error_type": "parser", ...}.
 * Integers too large for JSON libraries come as strings marked with mark (filled in here,
 * ENGINE_TREE_MARK bytes), which engine_tree_print turns back into the same digits. */
enum { ENGINE_TREE_MARK = 40 };
int engine_tree_parse(engine_conn_t *c, const char *sql, json_t **tree, char *mark, arena_t *a,
                      tarn_err_t *err);
/* The SQL of a (checked, maybe rewritten) tree, printed by the engine, in arena a. */
int engine_tree_print(engine_conn_t *c, const json_t *tree, const char *mark, const char **sql,
                      arena_t *a, tarn_err_t *err);

/* Names a WITH clause binds, visible to the query that defines them and those inside it. */
typedef struct engine_tree_scope {
    const json_t *ctes; /* a cte_map's "map" array */
    const struct engine_tree_scope *up;
} engine_tree_scope_t;
/* Calls visit on every object node of a parse tree, each before the nodes inside it (so
 * a visit may rewrite what is below), with the WITH names visible at the node; stops at
 * the first nonzero return, which it returns. */
int engine_tree_walk(json_t *tree,
                     int (*visit)(void *ctx, json_t *node, const engine_tree_scope_t *scope),
                     void *ctx);
/* Whether a bare table name is bound by a WITH clause in scope (names compare without
 * case, as the engine's do). */
bool engine_tree_cte_visible(const engine_tree_scope_t *scope, const char *name);
/* Whether a table function only computes values (unnest, range, generate_series) rather
 * than reading files or the engine's own state. */
bool engine_tree_safe_function(const char *name);

/* s as a SQL string literal ('...' with quotes doubled), in arena a. */
char *engine_quote(arena_t *a, const char *s);

#endif
