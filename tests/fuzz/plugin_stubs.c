/* For the fuzz targets of delivery streams: plugins.c lists every connector, and the
 * sources other than the stream (the database ones need libpq, libmariadb and the catalog) are not
 * under test there. A connector added to the list gets its stub here. */
#include "ingest/sources/mysql.h"
#include "ingest/sources/postgres.h"

const ingest_plugin_t postgres_plugin = {.name = "postgres"};
const ingest_plugin_t mysql_plugin = {.name = "mysql"};
