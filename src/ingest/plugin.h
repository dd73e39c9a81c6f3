/* Connectors: each way data comes into the lake from elsewhere is a plugin with a config
 * map, listed in one registry (plugins.c). Delivery streams take records pushed through the
 * Firehose API; sources (database change capture, directory and SMB sync, SFTP, HTTP APIs)
 * pull, through start, run and stop, on the source runner's thread (source_runner.h). */
#ifndef TARN_INGEST_PLUGIN_H
#define TARN_INGEST_PLUGIN_H

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "ingest/source_status.h"
#include "storage/store.h"
#include "util/buf.h"
#include "util/config_map.h"
#include "util/db.h"
#include "util/err.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* What a source runs with, borrowed from the runner from start until stop. */
typedef struct {
    const char *source;      /* the source's name */
    int64_t source_id;       /* its id: never given to another source */
    db_t *db;                /* the lake's catalog database */
    store_t *store;
    catalog_t *catalog;
    engine_t *engine;        /* writes Parquet; reads and writes tmp_dir */
    const char *tmp_dir;     /* the source's own staging folder (absolute, emptied at start) */
    source_status_t *status; /* where the source reports its state and progress */
    const atomic_bool *stop; /* set when run should return soon (pause, delete, shutdown) */
    bool resnapshot;         /* this run was asked to take the snapshot again */
} ingest_env_t;

/* run's answer when the source has nothing more to do (a one-time snapshot is taken). */
enum { INGEST_DONE = 1 };

typedef struct ingest_plugin {
    const char *name;        /* as configurations and `tarn help` name it */
    const char *description; /* one line for the help */
    const config_entry_t *config;
    /* What the map's types cannot say (a table named twice, a URL's scheme), on the
     * configuration as config_map_check filled it in; NULL when the map says it all. */
    int (*check)(const json_t *config, tarn_err_t *err);
    /* Sources: reaches what the configuration names and checks what start will need
     * (credentials, privileges, server settings), so that a source that cannot work is
     * refused when it is created rather than failing later; changes nothing there. NULL:
     * nothing to check. */
    int (*probe)(const json_t *config, const char *source, tarn_err_t *err);
    /* A source's life: start opens what it reads (a connection, a folder) with its checked
     * configuration, secrets in place (borrowed until stop); run does one round (reads
     * what is new, lands it and commits its cursor with it) and is called again while the
     * source is on, until it returns INGEST_DONE or an error; stop closes and frees. NULL
     * for plugins that are pushed to. */
    int (*start)(void **state, const json_t *config, const ingest_env_t *env, tarn_err_t *err);
    int (*run)(void *state, tarn_err_t *err);
    void (*stop)(void *state);
    /* The tables the configuration names, resolved (schema.* expanded), for a blueprint
     * to make one pipeline per table: [{"table": "schema.name", "lake": its table in the
     * lake, "keys": [columns]}], keys the primary key, else the replica identity's index,
     * else empty. NULL when the plugin has no tables. */
    int (*tables)(const json_t *config, const char *source, json_t **out, tarn_err_t *err);
    /* A deleted source: removes what it made at the other end (a replication slot), so
     * nothing there keeps waiting for it. NULL when it made nothing. */
    int (*forget)(const json_t *config, const char *source, tarn_err_t *err);
} ingest_plugin_t;

/* The plugin called name, or NULL. */
const ingest_plugin_t *ingest_plugin_find(const char *name);
/* Every plugin, in the registry's order; *n gets how many. */
const ingest_plugin_t *const *ingest_plugin_list(size_t *n);

/* Checks given against p's config map, then p's check: *out gets the configuration with
 * its defaults filled in (caller decrefs). TARN_EINVAL (reason InvalidArgument) names the
 * value at fault. */
int ingest_plugin_configure(json_t **out, const ingest_plugin_t *p, const json_t *given,
                            tarn_err_t *err);

/* Appends p's description and its configuration keys (config_map_help) to out. */
int ingest_plugin_help(buf_t *out, const ingest_plugin_t *p);

#endif
