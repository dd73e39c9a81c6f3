/* PostgreSQL's view of the engine's types: which PostgreSQL type (OID, name, length,
 * type modifier) a DuckDB column type is shown as, the SQL that renders a value in
 * PostgreSQL's text format, and the conversions between that text and PostgreSQL's
 * binary format for values sent to and received from drivers. */
#ifndef TARN_CONSUME_PGWIRE_PGTYPE_H
#define TARN_CONSUME_PGWIRE_PGTYPE_H

#include "engine/engine.h"
#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PGTYPE_BOOL = 16,
    PGTYPE_BYTEA = 17,
    PGTYPE_CHAR = 18,
    PGTYPE_NAME = 19,
    PGTYPE_INT8 = 20,
    PGTYPE_INT2 = 21,
    PGTYPE_INT4 = 23,
    PGTYPE_TEXT = 25,
    PGTYPE_OID = 26,
    PGTYPE_JSON = 114,
    PGTYPE_FLOAT4 = 700,
    PGTYPE_FLOAT8 = 701,
    PGTYPE_UNKNOWN = 705,
    PGTYPE_BPCHAR = 1042,
    PGTYPE_VARCHAR = 1043,
    PGTYPE_DATE = 1082,
    PGTYPE_TIME = 1083,
    PGTYPE_TIMESTAMP = 1114,
    PGTYPE_TIMESTAMPTZ = 1184,
    PGTYPE_INTERVAL = 1186,
    PGTYPE_TIMETZ = 1266,
    PGTYPE_NUMERIC = 1700,
    PGTYPE_UUID = 2950,
};

typedef struct {
    uint32_t oid;
    const char *name; /* PostgreSQL's name: "int4", "numeric", "timestamptz" */
    int16_t len;      /* typlen: bytes, or -1 for variable length */
    int32_t typmod;   /* -1, or numeric's ((precision << 16) | scale) + 4 */
} pgtype_t;

/* The PostgreSQL type a DuckDB type name (as engine_describe spells it: "INTEGER",
 * "DECIMAL(10,2)", "VARCHAR[]") is shown as. Nested and unknown types are text. */
pgtype_t pgtype_of(const char *duckdb_type);
/* The array type of a type's OID (int4 -> _int4, 1007), and the element type of an array
 * type's OID; 0 when there is none. */
uint32_t pgtype_array_of(uint32_t elem);
uint32_t pgtype_array_elem(uint32_t oid);
/* The PostgreSQL type a parameter the engine infers as duckdb_type (engine_param_types:
 * "INTEGER", "JSON", "VARCHAR[]", "" when open) is described as: lists are arrays of
 * their element's type, and an open type is text, as PostgreSQL resolves unknown
 * parameters. */
uint32_t pgtype_param_oid(const char *duckdb_type);
/* The OID of a type as SQL names it (lowercase: "int4", "integer", "double precision",
 * "timestamp with time zone"), 0 for a name this table does not know. */
uint32_t pgtype_by_sql_name(const char *name);
/* The entry for a PostgreSQL OID, or NULL for an OID this table does not know. */
const pgtype_t *pgtype_by_oid(uint32_t oid);
/* The i-th type this table knows, or NULL past the last (to list them all). */
const pgtype_t *pgtype_at(size_t i);


/* How much of a value pgtype_put_text_sql rendered is PostgreSQL's text: all of it, but
 * that floats drop the engine's ".0" on whole numbers ("20", not "20.0"), as PostgreSQL's
 * shortest-exact output does. Cheaper per cell here than in the SQL. */
size_t pgtype_text_len(uint32_t oid, const char *text, size_t len);

/* Converts a value in PostgreSQL's text format to its binary format (appended to out).
 * TARN_EINVAL (reason "FeatureNotSupported") when the type has no binary form here, or
 * "InvalidTextRepresentation" when text is not a value of the type. */
int pgtype_text_to_binary(uint32_t oid, const char *text, size_t len, buf_t *out, tarn_err_t *err);

/* 2000-01-01, PostgreSQL's epoch, in days from 1970-01-01. */
enum { PGTYPE_EPOCH_DAYS = 10957 };
/* v's low `bytes` bytes, big-endian, appended to out. */
void pgtype_put_be(buf_t *out, uint64_t v, int bytes);

/* Row i (not NULL) of a typed column (rowenc_native for ROWENC_PG) in the binary format
 * of its PostgreSQL type, pgtype_of its DuckDB type, appended to out. */
int pgtype_vec_to_binary(const engine_vec_t *v, size_t i, buf_t *out, tarn_err_t *err);

/* A parameter value from a driver (format 0 text, 1 binary; declared type oid, 0 when
 * unspecified) as the JSON value the engine binds: integers and floats as numbers,
 * booleans as booleans, arrays (text literals or binary) as nested JSON arrays, bytea
 * as the engine's blob text ("\\x01..."), everything else as its text (the engine casts
 * it to the type the query needs). A value that is not of its type is
 * InvalidTextRepresentation (text) or InvalidBinaryRepresentation (binary: wrong
 * length); see pgarray.h for arrays. Caller decrefs *out. */
int pgtype_param_to_json(uint32_t oid, int format, const char *data, size_t len, json_t **out,
                         tarn_err_t *err);

#endif
