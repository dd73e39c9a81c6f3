/* Table schemas as the catalog keeps them: ordered columns with a DuckDB type name,
 * nullability and a stable numeric id. Merging schemas across files widens types
 * (INTEGER + BIGINT -> BIGINT, INTEGER + DOUBLE -> DOUBLE, anything + VARCHAR ->
 * VARCHAR), and diffing two versions gives the change summary a new version records. */
#ifndef TARN_CATALOG_SCHEMA_H
#define TARN_CATALOG_SCHEMA_H

#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tables hold at most this many columns (PostgreSQL's limit, so every SQL client can read
 * every table). */
#define SCHEMA_MAX_COLUMNS 1600

typedef struct {
    char *name;
    char *type;
    bool nullable;
    int64_t id; /* 0 until the catalog assigns one */
} schema_col_t;

/* Owns its columns; zero-initialize, release with schema_free. */
typedef struct {
    schema_col_t *cols;
    size_t n, cap;
} schema_t;

void schema_free(schema_t *s);
int schema_add(schema_t *s, const char *name, const char *type, bool nullable, int64_t id);
/* Index of the column named name (case-insensitive, as SQL compares names), or -1. */
long schema_find(const schema_t *s, const char *name);
int schema_copy(schema_t *dst, const schema_t *src);

/* [{"id":1,"name":"a","type":"BIGINT","nullable":true}, ...] and back. */
json_t *schema_to_json(const schema_t *s);
int schema_from_json(schema_t *s, const json_t *j, tarn_err_t *err);

/* The narrowest type holding values of both a and b (a static string or a or b). */
const char *schema_widen_type(const char *a, const char *b);
/* Whether a value of type from fits a column of type to without loss. */
bool schema_type_fits(const char *from, const char *to);
/* Merges add into s by column name: new columns are appended, shared ones widened.
 * Returns 1 when s changed, 0 when not, or a negative error. */
int schema_merge(schema_t *s, const schema_t *add);
/* {"added":[{name,type}], "removed":[{name,type}], "changed":[{name,old_type,new_type}]}
 * with empty arrays omitted; NULL when old and new have the same columns and types. */
json_t *schema_diff(const schema_t *old, const schema_t *new_);
/* Parses a declared schema: "id BIGINT NOT NULL, name VARCHAR, amount DECIMAL(10,2)".
 * Names are identifiers or double-quoted ("" for a quote inside). */
int schema_parse(schema_t *s, const char *text, tarn_err_t *err);
/* Parses columns whose types the engine gave (a query's DESCRIBE): names as schema_parse
 * takes them, any DuckDB type kept as written ("s STRUCT(a INTEGER, b VARCHAR[])",
 * "ts TIMESTAMP_NS"), as long as it stands alone (balanced parentheses and quotes). */
int schema_parse_engine(schema_t *s, const char *text, tarn_err_t *err);
/* Checks a file's schema against a declared table schema; 0 when the file can be read
 * as the table, otherwise TARN_EINVAL with the first difference in err. */
int schema_check_file(const schema_t *table, const schema_t *file, tarn_err_t *err);

#endif
