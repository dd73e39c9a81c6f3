/* The MySQL/MariaDB source plugin (mysql.c), for the registry. */
#ifndef TARN_INGEST_SOURCES_MYSQL_H
#define TARN_INGEST_SOURCES_MYSQL_H

#include "ingest/plugin.h"

extern const ingest_plugin_t mysql_plugin;

#endif
