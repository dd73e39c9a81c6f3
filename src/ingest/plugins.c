/* The registry of connectors: the one list of every ingest plugin, so configuration,
 * help and (for sources) the runner find them by name. A new connector adds its line here. */
#include "ingest/plugin.h"

#include "ingest/sources/mysql.h"
#include "ingest/sources/postgres.h"
#include "ingest/stream.h"

#include <string.h>

static const ingest_plugin_t *const plugins[] = {
    &stream_plugin,
    &postgres_plugin,
    &mysql_plugin,
};

const ingest_plugin_t *ingest_plugin_find(const char *name)
{
    for (size_t i = 0; i < sizeof plugins / sizeof *plugins; i++)
        if (!strcmp(plugins[i]->name, name))
            return plugins[i];
    return NULL;
}

const ingest_plugin_t *const *ingest_plugin_list(size_t *n)
{
    *n = sizeof plugins / sizeof *plugins;
    return plugins;
}

int ingest_plugin_configure(json_t **out, const ingest_plugin_t *p, const json_t *given,
                            tarn_err_t *err)
{
    int rc = config_map_check(out, p->config, given, err);
    if (!rc && p->check && (rc = p->check(*out, err))) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int ingest_plugin_help(buf_t *out, const ingest_plugin_t *p)
{
    int rc = buf_printf(out, "Plugin %s: %s\nConfiguration keys:\n", p->name, p->description);
    return rc ? rc : config_map_help(out, p->config);
}
