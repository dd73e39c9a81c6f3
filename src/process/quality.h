/* Quality rules as SQL: a pipeline's quality step checks its input with one query that
 * flags every row with the names of the row rules it fails (run through the owner's
 * session, since a rule may hold SQL), then counts, splits and checks table-wide rules
 * over the flagged rows with SQL that tarn writes itself. No I/O here: only text. */
#ifndef TARN_PROCESS_QUALITY_H
#define TARN_PROCESS_QUALITY_H

#include "process/pipeline_spec.h"
#include "util/buf.h"

#include <stdbool.h>

/* The name of the column of failed rule names the flagging query adds. */
#define QUALITY_FAILED_COL "_tarn_failed"

/* Whether rule r is about the whole table (row_count, freshness) rather than each row. */
bool quality_rule_is_table(const pipeline_rule_t *r);

/* Appends to out the query that returns every row of relation `from` (SQL text naming a
 * table or a step) with one more column, QUALITY_FAILED_COL: the names of the row rules
 * of the step the row fails (an empty list when it passes). */
void quality_flag_sql(buf_t *out, const pipeline_step_t *step, const char *from);

/* Appends to out a query over relation `from` (the flagged rows) returning one row with
 * one column: the measured value of table rule r, as text (the row count, or the age in
 * hours of the newest value; NULL when there is none). */
void quality_table_sql(buf_t *out, const pipeline_rule_t *r, const char *from);
/* Whether a table rule's measured value (NULL: none) passes; detail (cap bytes) gets a
 * sentence about it. */
bool quality_table_passes(const pipeline_rule_t *r, const char *value, char *detail, size_t cap);

/* Appends a SQL identifier, quoted. */
void quality_put_ident(buf_t *out, const char *name);
/* Appends names as quoted identifiers separated by ", ", each after qualifier (NULL:
 * none), e.g. "t.". */
void quality_put_idents(buf_t *out, const pipeline_names_t *names, const char *qualifier);
/* Appends a SQL string literal. */
void quality_put_literal(buf_t *out, const char *s);

#endif
