/* YAML documents as JSON values, for configurations people write in YAML (a source's
 * config file) and programs send as JSON: mappings become objects, sequences arrays, and
 * plain scalars that read as integers, numbers, true/false or null become those; quoted
 * scalars stay strings. */
#ifndef TARN_UTIL_YAML_JSON_H
#define TARN_UTIL_YAML_JSON_H

#include "util/err.h"

#include <jansson.h>
#include <stddef.h>

/* Parses the first document of text (JSON is YAML too). *out: caller decrefs.
 * TARN_EINVAL (reason InvalidArgument) with the line and column of a syntax error, or for
 * an empty text. */
int yaml_json_parse(json_t **out, const char *text, size_t len, tarn_err_t *err);

#endif
