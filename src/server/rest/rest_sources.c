/* REST for sources (/v1/sources): creating one (its configuration checked by its plugin's
 * config map, then probed against the database it names, so a source that cannot work is
 * refused before anything is recorded), changing, listing, showing, pausing, resuming,
 * running and deleting it, and its status and runs. Authorization (ALL or SOURCE on iam)
 * and the audit record happen before these handlers, in the dispatcher. Shapes are those
 * of ingest/sources.h and ingest/source_status.h (docs/sources.md). */
#include "ingest/source_runner.h"
#include "ingest/sources.h"
#include "server/rest/rest.h"
#include "server/server_state.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

#define NAME r->params[0]

/* The plugin and checked configuration of a body {"name", "type", "config"} (the type may
 * also be the config's own "type", as config files write it). */
static int configure(req_t *r, json_t *in, const ingest_plugin_t **p, json_t **cfg)
{
    json_t *given = json_object_get(in, "config");
    const char *type = json_string_value(json_object_get(in, "type"));
    const char *ctype = json_string_value(json_object_get(given, "type"));
    if (!json_is_object(given))
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "the body gives the source's configuration: {\"name\": ..., \"type\": "
                          "\"postgres\", \"config\": {...}}");
    if (type && ctype && strcmp(type, ctype))
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "the type is %s but the configuration says type: %s", type, ctype);
    if (!type)
        type = ctype;
    *p = type ? ingest_plugin_find(type) : NULL;
    if (!*p || !(*p)->start)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "%s%s is not a type of source (valid types: postgres, mysql)",
                          type ? "type " : "the type is missing: ", type ? type : "give --type");
    json_t *copy = json_deep_copy(given);
    if (!copy)
        return TARN_ERR(&r->err, TARN_ENOMEM, "out of memory");
    json_object_del(copy, "type");
    int rc = ingest_plugin_configure(cfg, *p, copy, &r->err);
    json_decref(copy);
    return rc;
}

/* Records the configuration as the source's new version (created: its first), wakes the
 * runner (a new version restarts the source) and answers with the source. */
static int apply(req_t *r, const ingest_plugin_t *p, const char *name, const json_t *cfg,
                 bool created)
{
    json_t *out = NULL;
    int rc = sources_apply(r->srv->db, r->srv->keyring, p, name, cfg, created,
                           r->principal.name, &out, &r->err);
    if (rc)
        return rc;
    source_runner_wake(r->srv->sources);
    return rest_respond_json(r, created ? 201 : 200, out);
}

static int create_source(req_t *r)
{
    json_t *in = NULL, *cfg = NULL;
    const ingest_plugin_t *p = NULL;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *name = json_string_value(json_object_get(in, "name"));
    if (!name) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument, "the body must name the source");
        goto done;
    }
    r->resource = arena_sprintf(r->arena, "source/%s", name);
    if ((rc = sources_check_name(name, &r->err)) || (rc = configure(r, in, &p, &cfg)))
        goto done;
    /* Nothing is recorded for a source that cannot reach its database or lacks what it
     * needs there. */
    if (p->probe && !json_is_false(json_object_get(in, "probe")) &&
        (rc = p->probe(cfg, name, &r->err))) {
        if (rc == TARN_EUPSTREAM || rc == TARN_EDENIED || rc == TARN_EEXISTS)
            rc = TARN_EINVAL; /* the request's fault, answered with the reason */
        r->err.code = rc;
        r->err.reason = TARN_R_InvalidArgument;
        goto done;
    }
    rc = apply(r, p, name, cfg, true);
done:
    json_decref(in);
    json_decref(cfg);
    return rc;
}

static bool is_cdc(const json_t *cfg)
{
    const char *mode = json_string_value(json_object_get(cfg, "mode"));
    return mode && !strcmp(mode, "cdc");
}

/* A source that leaves cdc mode no longer reads its change stream: what it made at the
 * other end for it (a replication slot, which would keep the server's log for ever) is
 * removed once the new version is recorded. */
static int update_source(req_t *r)
{
    json_t *in = NULL, *cfg = NULL;
    const ingest_plugin_t *p = NULL;
    source_row_t old;
    tarn_err_t e = {0};
    bool had = !sources_load(r->srv->db, r->srv->keyring, NAME, 0, &old, &e);
    int rc = req_body_json(r, &in);
    if (!rc && !(rc = configure(r, in, &p, &cfg)))
        rc = apply(r, p, NAME, cfg, false);
    if (!rc && had && is_cdc(old.config) && !is_cdc(cfg)) {
        if (source_runner_forget(r->srv->sources, &old, &e))
            log_warn("a source left cdc mode, but what it made at its database remains",
                     "source", NAME, "error", e.msg);
        source_runner_wake(r->srv->sources);
    }
    if (had)
        source_row_free(&old);
    json_decref(in);
    json_decref(cfg);
    return rc;
}

/* The live status over what the registry last recorded. */
static void add_status(req_t *r, json_t *o)
{
    json_t *live = source_runner_status(r->srv->sources,
                                        json_integer_value(json_object_get(o, "id")));
    if (!live)
        return;
    if (json_is_true(json_object_get(o, "paused")) &&
        strcmp(json_string_value(json_object_get(live, "state")), "failed"))
        json_object_set_new(live, "state", json_string("paused"));
    json_object_del(o, "reason");
    json_object_update(o, live);
    json_decref(live);
}

static int list_sources(req_t *r)
{
    json_t *out = NULL;
    int rc = sources_list(r->srv->db, &out, &r->err);
    if (rc)
        return rc;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(out, "sources"), i, s)
        add_status(r, s);
    return rest_respond_json(r, 200, out);
}

static int get_source(req_t *r)
{
    json_t *out = NULL;
    const char *v = req_query(r, "version");
    int rc = sources_show(r->srv->db, NAME, v ? strtoll(v, NULL, 10) : 0, &out, &r->err);
    if (rc)
        return rc;
    add_status(r, out);
    return rest_respond_json(r, 200, out);
}

static int source_status(req_t *r)
{
    json_t *out = NULL;
    int rc = sources_show(r->srv->db, NAME, 0, &out, &r->err);
    if (rc)
        return rc;
    json_object_del(out, "config");
    json_object_del(out, "versions");
    add_status(r, out);
    return rest_respond_json(r, 200, out);
}

static int set_paused(req_t *r, bool paused)
{
    source_row_t row;
    int rc = sources_set_paused(r->srv->db, NAME, paused, &r->err);
    if (!rc)
        rc = sources_load(r->srv->db, NULL, NAME, 0, &row, &r->err);
    if (rc)
        return rc;
    if (paused)
        source_runner_halt(r->srv->sources, row.id);
    source_row_free(&row);
    source_runner_wake(r->srv->sources);
    return source_status(r);
}

static int pause_source(req_t *r)
{
    return set_paused(r, true);
}

static int resume_source(req_t *r)
{
    return set_paused(r, false);
}

int rest_source_remove(req_t *r, const char *name, json_t *out)
{
    source_row_t row;
    int rc = sources_delete(r->srv->db, r->srv->keyring, name, &row, &r->err);
    if (rc)
        return rc;
    /* Recorded as deleted already: what the source made at the other end (a replication
     * slot) is removed next; if that fails, the answer says what is left to remove. */
    tarn_err_t e = {0};
    if (source_runner_forget(r->srv->sources, &row, &e))
        json_object_set_new(out, "warning", json_string(e.msg));
    source_row_free(&row);
    return 0;
}

static int delete_source(req_t *r)
{
    json_t *out = json_pack("{s:s, s:b}", "name", NAME, "deleted", true);
    int rc = rest_source_remove(r, NAME, out);
    if (rc) {
        json_decref(out);
        return rc;
    }
    return rest_respond_json(r, 200, out);
}

static int start_run(req_t *r)
{
    json_t *in = NULL, *out = NULL;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const json_t *resnap = json_object_get(in, "resnapshot");
    if (resnap && !json_is_boolean(resnap))
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument, "\"resnapshot\" is true or false");
    if (!rc)
        rc = sources_run_request(r->srv->db, NAME, "manual", json_is_true(resnap),
                                 r->principal.name, &out, &r->err);
    json_decref(in);
    if (rc)
        return rc;
    source_runner_wake(r->srv->sources);
    return rest_respond_json(r, 202, out);
}

static int list_runs(req_t *r)
{
    json_t *out = NULL;
    const char *l = req_query(r, "limit");
    long limit = l ? strtol(l, NULL, 10) : 20;
    if (limit < 1 || limit > 1000)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument, "limit is 1 to 1000");
    int rc = sources_runs_list(r->srv->db, NAME, (size_t)limit, &out, &r->err);
    return rc ? rc : rest_respond_json(r, 200, out);
}

static int get_run(req_t *r)
{
    json_t *out = NULL;
    char *end;
    long long id = strtoll(r->params[1], &end, 10);
    if (*end || id < 1)
        return TARN_ERR_R(&r->err, TARN_ENOTFOUND, NoSuchRun, "a run is a number from 1");
    int rc = sources_run_get(r->srv->db, id, &out, &r->err);
    if (rc)
        return rc;
    const char *of = json_string_value(json_object_get(out, "source"));
    if (!of || strcmp(of, NAME)) {
        json_decref(out);
        return TARN_ERR_R(&r->err, TARN_ENOTFOUND, NoSuchRun, "source '%s' has no run %lld",
                          NAME, id);
    }
    return rest_respond_json(r, 200, out);
}

#define SRC "/v1/sources/{}"
#define SRC_RES "source/{0}"

const op_t rest_source_ops[] = {
    REST_OP("ListSources", "source:ListSources", "GET", "/v1/sources", "source/*", BODY_NONE,
      list_sources),
    REST_OP("CreateSource", "source:CreateSource", "POST", "/v1/sources", "source/*", BODY_BUFFER,
      create_source),
    REST_OP("GetSource", "source:GetSource", "GET", SRC, SRC_RES, BODY_NONE, get_source),
    REST_OP("UpdateSource", "source:UpdateSource", "PUT", SRC, SRC_RES, BODY_BUFFER, update_source),
    REST_OP("DeleteSource", "source:DeleteSource", "DELETE", SRC, SRC_RES, BODY_NONE, delete_source),
    REST_OP("GetSourceStatus", "source:GetSource", "GET", SRC "/status", SRC_RES, BODY_NONE,
      source_status),
    REST_OP("PauseSource", "source:PauseSource", "POST", SRC "/pause", SRC_RES, BODY_BUFFER,
      pause_source),
    REST_OP("ResumeSource", "source:ResumeSource", "POST", SRC "/resume", SRC_RES, BODY_BUFFER,
      resume_source),
    REST_OP("StartSourceRun", "source:StartSourceRun", "POST", SRC "/runs", SRC_RES, BODY_BUFFER,
      start_run),
    REST_OP("ListSourceRuns", "source:GetSourceRuns", "GET", SRC "/runs", SRC_RES, BODY_NONE,
      list_runs),
    REST_OP("GetSourceRun", "source:GetSourceRuns", "GET", SRC "/runs/{}", SRC_RES, BODY_NONE,
      get_run),
};
const size_t rest_source_nops = sizeof rest_source_ops / sizeof *rest_source_ops;
