/* Connectors: each way data comes into the lake from elsewhere is a plugin with a config
 * map, listed in one registry (plugins.c). Delivery streams take records pushed through the
 * Firehose API; sources (database change capture, directory and SMB sync, SFTP, HTTP APIs)
 * pull, through start, run and stop. */
#ifndef TARN_INGEST_PLUGIN_H
#define TARN_INGEST_PLUGIN_H

#include "util/buf.h"
#include "util/config_map.h"
#include "util/err.h"

#include <jansson.h>
#include <stddef.h>

typedef struct ingest_plugin {
    const char *name;        /* as configurations and `tarn help` name it */
    const char *description; /* one line for the help */
    const config_entry_t *config;
    /* What the map's types cannot say (a table named twice, a URL's scheme), on the
     * configuration as config_map_check filled it in; NULL when the map says it all. */
    int (*check)(const json_t *config, tarn_err_t *err);
    /* A source's life: start opens what it reads (a connection, a folder) with its checked
     * configuration (borrowed until stop); run does one round (reads what is new, lands it
     * and commits its cursor with it) and is called again while the source is on; stop
     * closes and frees. NULL for plugins that are pushed to. */
    int (*start)(void **state, const json_t *config, tarn_err_t *err);
    int (*run)(void *state, tarn_err_t *err);
    void (*stop)(void *state);
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
