/* What every database source shares beyond change batches: the configuration keys of its
 * batches and target, its mode (cdc, snapshot, incremental by a watermark column) and
 * schedule, the password from the configuration, a file or the environment,
 * values as JSON text for the staged rows, and landing a batch with the source's cursor
 * (the files and the cursor in one catalog transaction, then the status). */
#ifndef TARN_INGEST_SOURCE_DB_H
#define TARN_INGEST_SOURCE_DB_H

#include "ingest/change_batch.h"
#include "util/buf.h"
#include "util/config_map.h"
#include "util/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Config map entries shared by database sources: `batch` (max_rows, max_bytes, max_time)
 * and `target` (zone, database), and the values of `mode` and `format`. */
extern const config_entry_t source_db_batch_config[];
extern const config_entry_t source_db_target_config[];
extern const char *const source_db_modes[];
extern const char *const source_db_formats[];

#define SOURCE_DB_MODE_HELP                                                                    \
    "snapshot: every table read whole at each run; incremental: the rows whose watermark "    \
    "column grew since the last run; cdc: a snapshot, then every change as it commits"
/* Config map entries of the scheduled modes, the same in every database source:
 * `schedule`, `watermark` and `watermarks` (container: "schema" or "database"). */
#define SOURCE_DB_SCHEDULE_CONFIG(container)                                                   \
    {.name = "schedule", .type = CONFIG_STRING,                                               \
     .help = "mode snapshot or incremental: a cron expression (UTC; 5 fields, or 6 with "     \
             "seconds first) at which the server runs the source"},                           \
    {.name = "watermark", .type = CONFIG_STRING,                                              \
     .help = "mode incremental: the column of every table that grows with each change "       \
             "(updated_at, a sequence); each run reads the rows above the last one read"},    \
    {.name = "watermarks", .type = CONFIG_MAP,                                                \
     .help = "mode incremental: a watermark column per table, {" container ".table: "         \
             "column}, over watermark"}

/* The password from connection.password, connection.password_file (read on the server)
 * or connection.password_env (the server's environment); "" when none is given. The
 * caller cleanses out. */
int source_db_password(const json_t *cfg, char *out, size_t cap, tarn_err_t *err);

/* Refuses more than one of connection.password, password_file and password_env. */
int source_db_check_password(const json_t *cfg, tarn_err_t *err);

/* What every database source's configuration must be beyond its config map: one way to
 * give the password, at least one table, each `<container>.table` or `<container>.*`
 * with none of the quote characters (nor a space), and a plain target.database. */
int source_db_check(const json_t *cfg, const char *container, const char *quotes,
                    tarn_err_t *err);
/* Whether s is 1-63 of a-z, 0-9 and _ (and A-Z when upper): a name tarn can put in SQL
 * unquoted. */
bool source_db_plain_name(const char *s, bool upper);
/* Whether the configuration's mode is cdc (a snapshot, then every change). */
bool source_db_is_cdc(const json_t *cfg);
/* Whether the configuration's mode is incremental (rows whose watermark column grew). */
bool source_db_is_incremental(const json_t *cfg);
/* The watermark column of table ("schema.table" as the source names it) in mode
 * incremental: watermarks.<table>, else watermark; NULL when neither names one. Borrowed
 * from cfg. */
const char *source_db_watermark(const json_t *cfg, const char *table);
/* The refusal of a watermark column that does not suit: col of table is missing (type
 * NULL) or of type `type`, which has no order that grows with each change. */
int source_db_watermark_refuse(const json_t *cfg, const char *table, const char *col,
                               const char *type, tarn_err_t *err);

/* Unix microseconds as "2026-01-02 03:04:05.123456+00". */
void source_db_timestamp(char *out, size_t cap, int64_t unix_us);

/* How a database source batches, from its configuration (mode, format, batch.*). */
typedef struct {
    bool cdc, incremental, parquet;
    uint64_t max_rows, max_bytes;
    int64_t max_ms;
} source_db_batching_t;

/* Reads *o from cfg and creates *batch for the source's target (target.zone, and
 * target.database or the source's name). */
int source_db_batch_open(const json_t *cfg, const ingest_env_t *env, source_db_batching_t *o,
                         change_batch_t **batch, tarn_err_t *err);

/* Whether a stream's batch b is due: it holds o's max_rows rows or max_bytes bytes, or
 * began (started_ms, the monotonic clock) max_ms ago. */
bool source_db_batch_due(const change_batch_t *b, const source_db_batching_t *o,
                         int64_t started_ms);

/* Lands batch b (change_batch_commit with tag) and records cursor (not consumed) as the
 * source's cursor in the same transaction; then reports the rows delivered and
 * cursor_text to env's status. */
int source_db_commit(const ingest_env_t *env, change_batch_t *b, const char *tag,
                     const json_t *cursor, const char *cursor_text, tarn_err_t *err);

#endif
