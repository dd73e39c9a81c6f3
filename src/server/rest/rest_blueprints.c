/* REST for blueprints (/v1/blueprints): applying one makes (or updates) its source and one
 * apply_changes pipeline per table the source reads, and records what it generated;
 * deleting one removes those (not their data). Authorization is a source's (ALL or SOURCE
 * on iam) in the dispatcher, and the pipelines are checked here as an apply of each would
 * be; the audit record is the dispatcher's. Shapes are in docs/sources.md. */
#include "ingest/blueprint.h"
#include "ingest/source_runner.h"
#include "ingest/sources.h"
#include "process/pipelines.h"
#include "process/runner.h"
#include "server/rest/rest.h"
#include "server/server_state.h"

#include <stdlib.h>
#include <string.h>

#define NAME r->params[0]

/* What an apply makes, checked before anything is recorded. */
typedef struct {
    json_t *bp, *cfg, *tables; /* the blueprint; the source's configuration; its tables */
    const ingest_plugin_t *p;
    char **names, **specs; /* per table: the pipeline */
    size_t n;
    int64_t *owners;
} plan_t;

static void plan_free(plan_t *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        free(pl->names[i]);
        free(pl->specs[i]);
    }
    free(pl->names);
    free(pl->specs);
    free(pl->owners);
    json_decref(pl->bp);
    json_decref(pl->cfg);
    json_decref(pl->tables);
}

/* A refusal that is the request's fault, whatever the layer below called it. */
static int bad(req_t *r, int rc)
{
    if (rc == TARN_EUPSTREAM || rc == TARN_EDENIED || rc == TARN_EEXISTS || rc == TARN_ENOTFOUND) {
        r->err.code = rc = TARN_EINVAL;
        r->err.reason = TARN_R_InvalidArgument;
    }
    return rc;
}

static int plan(req_t *r, const char *text, size_t len, plan_t *pl)
{
    json_t *given = NULL;
    const char *type = NULL;
    int rc = blueprint_parse(text, len, &pl->bp, &r->err);
    if (rc)
        return rc;
    const char *name = blueprint_name(pl->bp);
    r->resource = arena_sprintf(r->arena, "blueprint/%s", name);
    if ((rc = sources_check_name(name, &r->err)) ||
        (rc = blueprint_source_config(pl->bp, &type, &given, &r->err)))
        return rc;
    pl->p = ingest_plugin_find(type);
    if (!pl->p || !pl->p->tables) {
        json_decref(given);
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "source.type: %s is not a type of source a blueprint can keep "
                          "current (valid types: postgres, mysql)",
                          type);
    }
    rc = ingest_plugin_configure(&pl->cfg, pl->p, given, &r->err);
    json_decref(given);
    /* The tables as the database has them (schema.* expanded), with their keys. */
    if (rc || (rc = bad(r, pl->p->tables(pl->cfg, name, &pl->tables, &r->err))))
        return rc;
    size_t n = json_array_size(pl->tables);
    pl->names = calloc(n + 1, sizeof *pl->names);
    pl->specs = calloc(n + 1, sizeof *pl->specs);
    pl->owners = calloc(n + 1, sizeof *pl->owners);
    if (!pl->names || !pl->specs || !pl->owners)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if ((rc = blueprint_pipeline_spec(pl->bp, json_array_get(pl->tables, i), &pl->names[i],
                                          &pl->specs[i], &r->err)))
            return rc;
        pl->n = i + 1;
        pipeline_spec_t *spec = NULL;
        if (!(rc = pipeline_spec_parse(pl->specs[i], strlen(pl->specs[i]), &spec, &r->err)))
            rc = rest_pipeline_check_apply(r, spec, &pl->owners[i]);
        pipeline_spec_free(spec);
        if (rc)
            return rc;
    }
    return 0;
}

/* The source: created (probed first) or its next version. */
static int put_source(req_t *r, plan_t *pl, json_t **out)
{
    const char *name = blueprint_name(pl->bp);
    source_row_t row;
    tarn_err_t e = {0};
    int rc = sources_load(r->srv->db, NULL, name, 0, &row, &e);
    bool exists = !rc;
    if (exists) {
        bool other = strcmp(row.type, pl->p->name) != 0;
        source_row_free(&row);
        if (other)
            return TARN_ERR_R(&r->err, TARN_ECONFLICT, SourceExists,
                              "source '%s' exists with another type; delete it or rename the "
                              "blueprint",
                              name);
    } else if (rc != TARN_ENOTFOUND) {
        r->err = e;
        return rc;
    }
    if (!exists && pl->p->probe && (rc = bad(r, pl->p->probe(pl->cfg, name, &r->err))))
        return rc;
    if ((rc = sources_apply(r->srv->db, r->srv->keyring, pl->p, name, pl->cfg, !exists,
                            r->principal.name, out, &r->err)))
        return rc;
    source_runner_wake(r->srv->sources);
    return 0;
}

/* Removes the pipelines in generated (an earlier version's) that keep is missing. */
static void drop_pipelines(req_t *r, const json_t *generated, const plan_t *keep, json_t *warnings)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(generated, "pipelines"), i, v)
    {
        const char *name = json_string_value(v);
        bool kept = false;
        for (size_t k = 0; keep && k < keep->n; k++)
            kept = kept || !strcmp(keep->names[k], name);
        tarn_err_t e = {0};
        int rc = kept ? 0 : pipelines_delete(r->srv->catalog, name, &e);
        if (rc && rc != TARN_ENOTFOUND)
            json_array_append_new(warnings, json_sprintf("pipeline %s: %s", name, e.msg));
    }
}

static int apply_blueprint(req_t *r)
{
    json_t *in = NULL, *src = NULL, *pipes = json_array(), *tables = json_array(),
           *warnings = json_array(), *old = NULL;
    plan_t pl = {0};
    const char *text;
    size_t len;
    int rc = rest_yaml_body(r, "blueprint", &in, &text, &len);
    if (rc || (rc = plan(r, text, len, &pl)))
        goto done;
    const char *name = blueprint_name(pl.bp);
    tarn_err_t e = {0};
    bool created = blueprints_show(r->srv->db, name, &old, &e) == TARN_ENOTFOUND;
    if ((rc = put_source(r, &pl, &src)))
        goto done;
    for (size_t i = 0; i < pl.n; i++) {
        json_t *out = NULL;
        if ((rc = pipelines_apply(r->srv->catalog, pl.specs[i], strlen(pl.specs[i]),
                                  r->principal.name, pl.owners[i], &out, &r->err)))
            goto done;
        json_array_append_new(pipes, json_string(pl.names[i]));
        const json_t *t = json_array_get(pl.tables, i);
        const char *db = json_string_value(
            json_object_get(json_object_get(pl.cfg, "target"), "database"));
        const char *lake = json_string_value(json_object_get(t, "lake"));
        json_array_append_new(
            tables, json_pack("{s:O, s:O, s:s, s:s+++, s:s+++, s:O}", "table",
                              json_object_get(t, "table"), "keys", json_object_get(t, "keys"),
                              "pipeline", pl.names[i], "raw", "raw.", db, ".", lake, "curated",
                              "curated.", db, ".", lake, "pipeline_version",
                              json_object_get(out, "version")));
        json_decref(out);
    }
    runner_wake(r->srv->runner);
    drop_pipelines(r, json_object_get(old, "generated"), &pl, warnings);
    /* Recorded with its secrets taken out, as the source keeps them. */
    json_t *stored = json_deep_copy(pl.bp), *secrets = json_object();
    json_t *scfg = json_deep_copy(pl.cfg);
    if (stored && scfg && !config_map_take_secrets(scfg, pl.p->config, secrets, &r->err)) {
        json_object_set_new(scfg, "type", json_string(pl.p->name));
        json_object_set(stored, "source", scfg);
    }
    json_decref(scfg);
    json_decref(secrets);
    char *stext = stored ? json_dumps(stored, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(stored);
    json_t *gen = json_pack("{s:s, s:s, s:O, s:O}", "source", name, "source_type", pl.p->name,
                            "pipelines", pipes, "tables", tables);
    int64_t version = 0;
    rc = stext && gen ? blueprints_record(r->srv->db, name, stext, gen, r->principal.name,
                                          &version, &r->err)
                      : TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    free(stext);
    json_decref(gen);
    if (rc)
        goto done;
    json_t *out = json_pack("{s:s, s:I, s:b, s:O, s:O, s:O, s:O}", "name", name, "version",
                            (json_int_t)version, "created", created, "source", src, "pipelines",
                            pipes, "tables", tables, "warnings", warnings);
    rc = rest_respond_json(r, created ? 201 : 200, out);
done:
    plan_free(&pl);
    json_decref(in);
    json_decref(src);
    json_decref(pipes);
    json_decref(tables);
    json_decref(warnings);
    json_decref(old);
    return rc;
}

static int list_blueprints(req_t *r)
{
    json_t *out = NULL;
    int rc = blueprints_list(r->srv->db, &out, &r->err);
    return rc ? rc : rest_respond_json(r, 200, out);
}

static int get_blueprint(req_t *r)
{
    json_t *out = NULL;
    int rc = blueprints_show(r->srv->db, NAME, &out, &r->err);
    return rc ? rc : rest_respond_json(r, 200, out);
}

/* Removes the pipelines and the source it made; their tables and files stay. */
static int delete_blueprint(req_t *r)
{
    json_t *gen = NULL, *warnings = json_array();
    int rc = blueprints_delete(r->srv->db, NAME, &gen, &r->err);
    if (rc) {
        json_decref(warnings);
        return rc;
    }
    drop_pipelines(r, gen, NULL, warnings);
    json_t *out = json_pack("{s:s, s:b, s:O, s:O}", "name", NAME, "deleted", true, "pipelines",
                            json_object_get(gen, "pipelines"), "source",
                            json_object_get(gen, "source"));
    const char *source = json_string_value(json_object_get(gen, "source"));
    tarn_err_t saved = r->err;
    json_t *sw = json_object();
    if (source && rest_source_remove(r, source, sw) && r->err.code != TARN_ENOTFOUND)
        json_array_append_new(warnings, json_sprintf("source %s: %s", source, r->err.msg));
    r->err = saved;
    if (json_object_get(sw, "warning"))
        json_array_append(warnings, json_object_get(sw, "warning"));
    json_decref(sw);
    json_decref(gen);
    json_object_set_new(out, "warnings", warnings);
    return rest_respond_json(r, 200, out);
}

#define BP "/v1/blueprints/{}"
#define BP_RES "blueprint/{0}"

const op_t rest_blueprint_ops[] = {
    REST_OP("ListBlueprints", "source:ListBlueprints", "GET", "/v1/blueprints", "blueprint/*",
            BODY_NONE, list_blueprints),
    REST_OP("ApplyBlueprint", "source:ApplyBlueprint", "POST", "/v1/blueprints", "blueprint/*",
            BODY_BUFFER, apply_blueprint),
    REST_OP("GetBlueprint", "source:GetBlueprint", "GET", BP, BP_RES, BODY_NONE, get_blueprint),
    REST_OP("DeleteBlueprint", "source:DeleteBlueprint", "DELETE", BP, BP_RES, BODY_NONE,
            delete_blueprint),
};
const size_t rest_blueprint_nops = sizeof rest_blueprint_ops / sizeof *rest_blueprint_ops;
