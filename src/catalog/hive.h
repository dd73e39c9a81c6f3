/* How object keys map to tables: <database>/<table>/[<col>=<value>/...][...]<file>.
 * Hive-style folders (k=v) become partition values, URL-decoded as Hive and Spark write
 * them, with __HIVE_DEFAULT_PARTITION__ standing for NULL; partition key types are
 * inferred from the values seen. */
#ifndef TARN_CATALOG_HIVE_H
#define TARN_CATALOG_HIVE_H

#include "util/arena.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

#define HIVE_MAX_PARTS 16

typedef struct {
    const char *db, *table;
    const char *location;  /* "db/table/" */
    const char *file;      /* last segment */
    size_t nparts;
    const char *names[HIVE_MAX_PARTS];
    const char *values[HIVE_MAX_PARTS]; /* decoded; NULL for the default partition */
    const char *spec;      /* "dt=2024-01-01/region=eu" as in the key, "" when none */
    const char *part_location; /* key prefix of the partition folder */
    bool hidden;           /* a file or folder name starting with '_' or '.' (_SUCCESS, .crc) */
} hive_key_t;

/* Parses key; strings in arena a. TARN_EINVAL with the reason when the key does not name
 * a table (fewer than three segments, or a database/table name that is not an
 * identifier). */
int hive_parse_key(hive_key_t *out, const char *key, arena_t *a, tarn_err_t *err);

/* Whether name is a usable database or table name: letters, digits, '_' and '-', starting
 * with a letter or '_', at most 128 bytes. */
bool hive_valid_name(const char *name);

/* The narrowest type of a partition value: BIGINT, DOUBLE, DATE, BOOLEAN or VARCHAR;
 * "NULL" for the default partition. */
const char *hive_value_type(const char *value);

#endif
