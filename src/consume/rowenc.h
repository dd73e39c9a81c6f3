/* Row encoders: a query's typed column vectors (engine_stream_next) written as the text
 * each interface sends, in one pass per chunk — PostgreSQL's text format, plain text for
 * CSV, or each row as one JSON array — with no text conversion in the query. The few
 * types written here are those results mostly hold; a column of any other type (nested,
 * enum, interval, with time zone, JSON) is converted to text by the query itself,
 * rowenc_put_convert saying how. */
#ifndef TARN_CONSUME_ROWENC_H
#define TARN_CONSUME_ROWENC_H

#include "engine/engine.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>

/* How a query's rows are encoded. */
typedef enum {
    ROWENC_JSON, /* one cell per row: the row as a JSON array */
    ROWENC_PG,   /* one cell per column in PostgreSQL's text format for the column's type
                  * (NULL stays NULL) */
    ROWENC_TEXT, /* one cell per column: the value as text, lists, structs and maps as
                  * JSON (NULL stays NULL); for CSV */
} rowenc_style_t;

typedef struct rowenc rowenc_t;

/* Whether values of kind are written here in style; when not, the query converts the
 * column first (rowenc_put_convert). */
bool rowenc_native(engine_kind_t kind, rowenc_style_t style);
/* Appends to b the SQL that converts column ident of DuckDB type `type` (not native) to
 * the text style wants. */
void rowenc_put_convert(buf_t *b, const char *type, const char *ident, rowenc_style_t style);

/* An encoder reading stream (taken over: rowenc_close closes it). converted[j] (NULL:
 * none) says that column j was converted by the query: in JSON it is then JSON text,
 * written as it is. */
int rowenc_open(rowenc_t **out, engine_stream_t *stream, rowenc_style_t style,
                const bool *converted, tarn_err_t *err);
/* Column col is written by the caller from rowenc_vectors (a binary format), unless the
 * query converted it to text: its cells then only tell NULL (data NULL) from a value
 * (data ""). Not for JSON. */
void rowenc_own(rowenc_t *e, size_t col);
/* Whether rowenc_own took col. */
bool rowenc_owned(const rowenc_t *e, size_t col);
/* The vectors of the chunk rowenc_next last gave. */
const engine_vec_t *rowenc_vectors(const rowenc_t *e);
/* Cells per row: 1 for JSON, else one per column. */
size_t rowenc_ncols(const rowenc_t *e);
/* The next rows: *cells gets *nrows rows of rowenc_ncols cells, row by row, valid until
 * the next call; *nrows is 0 at the end. */
int rowenc_next(rowenc_t *e, const engine_cell_t **cells, size_t *nrows, tarn_err_t *err);
void rowenc_close(rowenc_t *e);

/* Writes row i of v as style's text (v not NULL at i): the unit of rowenc_next, for
 * tests. */
int rowenc_put_value(buf_t *b, const engine_vec_t *v, size_t i, rowenc_style_t style);

#endif
