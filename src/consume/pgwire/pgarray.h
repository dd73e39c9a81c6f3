/* PostgreSQL arrays as drivers send them: the text literal array_in reads ('{1,2}',
 * '{{"a b",NULL},{"c\"d",e}}', '[0:1]={1,2}') and the binary form array_recv reads
 * (dimensions, lower bounds, element OID, elements), each read into nested JSON arrays
 * (one level per dimension) whose elements a callback converts from their text or
 * binary bytes. Lower bounds are checked and dropped: the engine's lists have none. */
#ifndef TARN_CONSUME_PGWIRE_PGARRAY_H
#define TARN_CONSUME_PGWIRE_PGARRAY_H

#include "util/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum { PGARRAY_MAX_DIMS = 6 };

/* Converts one element's bytes (unescaped text, or binary) to the JSON value bound for
 * it; *out is a new reference. */
typedef int (*pgarray_elem_fn)(void *ctx, const char *data, size_t len, json_t **out,
                               tarn_err_t *err);

/* A text array literal: *out (caller decrefs) gets its nested arrays, NULL elements as
 * JSON null. A malformed literal is TARN_EINVAL with reason InvalidTextRepresentation
 * and PostgreSQL's message ('malformed array literal: "{1,2"') and its detail. */
int pgarray_from_text(const char *s, size_t len, pgarray_elem_fn elem, void *ctx, json_t **out,
                      tarn_err_t *err);

/* A binary array whose elements must be of type elem_oid: errors as array_recv gives
 * them (InvalidParameterValue for dimensions and flags, DatatypeMismatch for another
 * element type, ProtocolViolation when the data ends early, InvalidBinaryRepresentation
 * for bytes left over). */
int pgarray_from_binary(const char *d, size_t len, uint32_t elem_oid, pgarray_elem_fn elem,
                        void *ctx, json_t **out, tarn_err_t *err);

#endif
