/* Promotion policy decisions that need no I/O: whether a file's schema may join its
 * table's under the table's mode, required columns, the line number a reader's error
 * names, and the reason document written beside a quarantined object. The promoter
 * (promote.c) gathers the facts; these functions decide, so they are tested alone. */
#ifndef TARN_PROCESS_POLICY_H
#define TARN_PROCESS_POLICY_H

#include "catalog/schema.h"
#include "util/err.h"

#include <jansson.h>
#include <stdint.h>

typedef enum { POLICY_ADDITIVE, POLICY_STRICT, POLICY_ANY } policy_mode_t;

/* "additive", "strict" or "any"; TARN_EINVAL otherwise. */
int policy_mode_parse(policy_mode_t *out, const char *s);

/* Whether a file with schema file may join a table with schema table: additive allows
 * new columns but no removed column and no type change (a narrower type that fits, such
 * as INTEGER into BIGINT, is no change); strict wants the same columns with the same
 * types; any allows everything. A table without columns yet takes any file. 0 when
 * allowed, else TARN_EINVAL with the first refused difference in err. */
int policy_check_schema(policy_mode_t mode, const schema_t *table, const schema_t *file,
                        tarn_err_t *err);

/* 0 when every name of required (a JSON array of strings) is a column of file, else
 * TARN_EINVAL naming the missing ones. */
int policy_check_required(const json_t *required, const schema_t *file, tarn_err_t *err);

/* The line number of the file a reader's error names ("CSV Error on Line: 3", "Malformed
 * JSON ... in line 4", which means line 3), 0 when none. */
int64_t policy_error_line(const char *msg);
/* The record number a JSON reader's error names ("record/value 2"), 0 when none. */
int64_t policy_error_record(const char *msg);

/* The reason document of a quarantined object: {"check", "detail", "line" or "row" when
 * known (> 0), "table", "policy", "time"}. Caller decrefs; NULL when out of memory. */
json_t *policy_reason(const char *check, const char *detail, int64_t line, int64_t row,
                      const char *table, const json_t *policy, int64_t time_ms);

#endif
