/* DuckDB engine entry points; see engine.h. */
#include "engine/engine.h"

#include <duckdb.h>

const char *engine_version(void)
{
    return duckdb_library_version();
}
