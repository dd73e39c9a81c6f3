/* Classifiers: what format a file is in and what schema it has. Each classifier is one
 * entry of a table (a name, a match function over the file's first bytes, and an infer
 * function that asks the engine's readers for the schema), tried in priority order; the
 * text formats are also recognized inside gzip and zstd. Adding a format is adding an
 * entry. */
#ifndef TARN_CATALOG_CLASSIFY_H
#define TARN_CATALOG_CLASSIFY_H

#include "catalog/schema.h"
#include "engine/engine.h"
#include "util/arena.h"

#include <jansson.h>
#include <stdint.h>

typedef struct {
    const char *format; /* "csv", "tsv", "jsonl", "json", "parquet" (static) */
    json_t *options;    /* {"compression":..., "delimiter":..., "header":..., ...}; owned */
    schema_t schema;    /* owned */
    int64_t rows;       /* -1 when not cheap to know */
} classify_result_t;

/* Classifies the file at path (a file in the engine's readable folder). On failure err
 * holds the reason to record beside the file (TARN_EINVAL: not a known format, or the
 * reader refused it); other codes are I/O or memory trouble. Free out with
 * classify_result_free either way. */
int classify_file(classify_result_t *out, engine_conn_t *c, const char *path, arena_t *a,
                  tarn_err_t *err);
void classify_result_free(classify_result_t *r);

/* The name of the classifier that accepts these first bytes of a file (after
 * decompression), or NULL; why gets a reason when none does. For tests. */
const char *classify_match(const uint8_t *head, size_t n, const char **why);

#endif
