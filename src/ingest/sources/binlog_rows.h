/* MySQL/MariaDB binlog row events, decoded by tarn rather than by libmariadb (whose row
 * extraction gets CHAR/ENUM/SET, TIMESTAMP(6), TIME and integer-only tables wrong): a
 * TABLE_MAP event (with binlog_row_metadata=FULL: column names, signedness, charsets,
 * ENUM and SET values, the primary key) into a table description, and the row images of
 * WRITE/UPDATE/DELETE_ROWS events (v1 and v2) into one JSON value per column, typed as
 * the change files read them. Bytes in, text out: no I/O, so every type is unit-tested. */
#ifndef TARN_INGEST_SOURCES_BINLOG_ROWS_H
#define TARN_INGEST_SOURCES_BINLOG_ROWS_H

#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Column types as the binlog writes them (MySQL's enum_field_types). */
enum {
    BL_DECIMAL = 0, BL_TINY = 1, BL_SHORT = 2, BL_LONG = 3, BL_FLOAT = 4, BL_DOUBLE = 5,
    BL_NULL = 6, BL_TIMESTAMP = 7, BL_LONGLONG = 8, BL_INT24 = 9, BL_DATE = 10, BL_TIME = 11,
    BL_DATETIME = 12, BL_YEAR = 13, BL_NEWDATE = 14, BL_VARCHAR = 15, BL_BIT = 16,
    BL_TIMESTAMP2 = 17, BL_DATETIME2 = 18, BL_TIME2 = 19, BL_JSON = 245, BL_NEWDECIMAL = 246,
    BL_ENUM = 247, BL_SET = 248, BL_TINY_BLOB = 249, BL_MEDIUM_BLOB = 250, BL_LONG_BLOB = 251,
    BL_BLOB = 252, BL_VAR_STRING = 253, BL_STRING = 254, BL_GEOMETRY = 255,
};

/* How a character column's bytes become UTF-8. */
typedef enum { BL_CS_UTF8, BL_CS_LATIN1, BL_CS_BINARY, BL_CS_OTHER } bl_charset_t;

typedef struct {
    char *name;
    uint8_t type;     /* BL_*; a CHAR, ENUM or SET column has its real type here */
    /* What the type's values need: VARCHAR and CHAR their length in bytes, BLOB its
     * length's bytes (1-4), FLOAT and DOUBLE their size, NEWDECIMAL precision << 8 | scale,
     * BIT its bits, TIME2/DATETIME2/TIMESTAMP2 their fractional digits, ENUM and SET their
     * value's bytes. */
    uint32_t meta;
    bool is_unsigned;
    bl_charset_t cs;  /* character columns; BLOB and friends are BL_CS_BINARY */
    char *charset;    /* its name when known ("koi8r"), for the errors */
    bool key;         /* part of the primary key */
    char **values;    /* ENUM and SET: the values, in order */
    size_t nvalues;
} bl_col_t;

typedef struct {
    uint64_t id;      /* the binlog's table id (valid until the next map of the table) */
    char *db, *name;
    bl_col_t *cols;
    size_t ncols;
} bl_table_t;

/* Collation ids as charsets: kinds[id] for id < n (from the server's COLLATIONS); other
 * ids are BL_CS_OTHER, but 63 is always binary. */
typedef struct {
    const uint8_t *kinds; /* bl_charset_t values */
    size_t n;
} bl_charsets_t;

/* A TABLE_MAP event's post-header and body (after the 19-byte event header, without a
 * checksum). Column names come from the optional metadata: without them (the server's
 * binlog_row_metadata is not FULL) the error says so. Caller frees with bl_table_free. */
int bl_table_parse(bl_table_t **out, const uint8_t *p, size_t n, const bl_charsets_t *cs,
                   tarn_err_t *err);
void bl_table_free(bl_table_t *t);

/* The change-file (DuckDB) type of a column, into buf when it needs room; with *read_as
 * and *convert set when the staged JSON value is read as another type and converted
 * (binary values are staged as hex). */
const char *bl_col_type(const bl_col_t *c, char *buf, size_t cap, const char **read_as,
                        const char **convert);

/* One row image: each column's value as JSON text (null when NULL or absent). */
typedef struct {
    buf_t text;
    size_t *off, *len;
    size_t ncols;
} bl_image_t;

void bl_image_free(bl_image_t *im);

/* A rows event being read, image by image. */
typedef struct {
    char op;                  /* 'c' write, 'u' update, 'd' delete */
    uint64_t table_id;
    uint16_t flags;
    size_t ncols;
    const uint8_t *present;   /* the before (or only) image's column bitmap */
    const uint8_t *present2;  /* an update's after image's */
    const uint8_t *p, *end;   /* the rows not yet read */
} bl_rows_t;

/* Opens a rows event of type (WRITE/UPDATE/DELETE_ROWS, v1 23-25 or v2 30-32) from its
 * post-header and body (without a checksum); r->table_id names the TABLE_MAP it needs. */
int bl_rows_open(bl_rows_t *r, int type, const uint8_t *p, size_t n, tarn_err_t *err);
/* Reads the next row into before (delete: the row; update: the old row) and after
 * (write: the row; update: the new row); 1 when a row was read, 0 at the end. */
int bl_rows_next(bl_rows_t *r, const bl_table_t *t, bl_image_t *before, bl_image_t *after,
                 tarn_err_t *err);

/* One value of column c at p (at most n bytes) as JSON into out; *used gets its bytes.
 * Exposed for the tests. */
int bl_value_json(buf_t *out, const bl_col_t *c, const uint8_t *p, size_t n, size_t *used,
                  tarn_err_t *err);

/* n (at most 8) little-endian bytes at p as a number. */
uint64_t bl_uint_le(const uint8_t *p, size_t n);
/* Appends n bytes at p as hex digits, with zero bytes after them up to pad bytes (a
 * BINARY(n)'s); bl_hex_json the same as a JSON string. */
void bl_hex(buf_t *out, const uint8_t *p, size_t n, size_t pad);
void bl_hex_json(buf_t *out, const uint8_t *p, size_t n, size_t pad);

/* Appends len bytes of s in charset cs as a JSON string (latin1 is MySQL's, cp1252). */
int bl_text_json(buf_t *out, bl_charset_t cs, const char *s, size_t len);

#endif
