/* The PostgreSQL source plugin (postgres.c), for the registry. */
#ifndef TARN_INGEST_SOURCES_POSTGRES_H
#define TARN_INGEST_SOURCES_POSTGRES_H

#include "ingest/plugin.h"

extern const ingest_plugin_t postgres_plugin;

#endif
