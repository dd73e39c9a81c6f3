/* REST for pipelines (/v1/pipelines: specs, runs, logs) and for what tarn does to the
 * tables it writes (rollback to an earlier snapshot, compaction). Authorization lets
 * anyone through to the pipeline operations as "owner-checked"; these handlers then
 * refuse a pipeline the principal does not own unless it is the admin or holds ALL on
 * iam. Shapes are those of process/pipelines.h and process/runner.h. */
#include "process/pipeline_spec.h"
#include "process/pipelines.h"
#include "process/runner.h"
#include "server/rest/rest.h"
#include "server/server_state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME r->params[0]

/* Gives an error the precise reason the contract promises when the layer below left it
 * out, so the edge table maps it (404 NoSuchPipeline rather than a bare NotFound). */
static int with_reason(req_t *r, int rc, int code, tarn_reason_t reason)
{
    if (rc == code && !r->err.reason)
        r->err.reason = reason;
    return rc;
}

static bool manages_all(const req_t *r)
{
    return authz_iam_admin(&r->principal, NULL);
}

/* Whether the principal may see and change pipeline `name`: it exists, and the principal
 * owns it or manages every pipeline. */
static int check_owner(req_t *r, const char *name)
{
    char owner[256];
    int64_t owner_id = 0;
    int rc = pipelines_owner(r->srv->catalog, name, owner, sizeof owner, &owner_id, &r->err);
    if (rc)
        return with_reason(r, rc, TARN_ENOTFOUND, TARN_R_NoSuchPipeline);
    if (manages_all(r) || owner_id == r->principal.id)
        return 0;
    return TARN_ERR_R(&r->err, TARN_EDENIED, AccessDenied,
                      "%s does not own pipeline '%s': only its owner, the admin or a holder "
                      "of ALL on iam may read, run or change it",
                      r->principal.name, name);
}

/* " to 1000", or "" when there is no bound to speak of. */
static const char *upto(char *buf, size_t cap, long long hi)
{
    if (hi == INT64_MAX)
        buf[0] = '\0';
    else
        snprintf(buf, cap, " to %lld", hi);
    return buf;
}

/* A numeric query parameter within [lo, hi], or def when absent. */
static int query_int(req_t *r, const char *name, long long lo, long long hi, long long def,
                     long long *out)
{
    const char *v = req_query(r, name);
    char *end, to[32];
    *out = def;
    if (!v)
        return 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < lo || n > hi)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "%s must be a whole number from %lld%s (got '%s')", name, lo,
                          upto(to, sizeof to, hi), v);
    *out = n;
    return 0;
}

/* An optional whole-number field of a JSON body within [lo, hi] (def when absent). */
static int body_int(req_t *r, const json_t *in, const char *key, long long lo, long long hi,
                    long long def, long long *out)
{
    const json_t *v = json_object_get(in, key);
    char to[32];
    *out = def;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "\"%s\" must be a whole number from %lld%s", key, lo,
                          upto(to, sizeof to, hi));
    *out = json_integer_value(v);
    return 0;
}

/* Refuses body fields other than those named (NULL-terminated), listing the valid ones. */
static int body_keys(req_t *r, const json_t *in, const char *const *valid, const char *list)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)in, k, v)
    {
        bool known = false;
        for (size_t i = 0; valid[i]; i++)
            known = known || !strcmp(k, valid[i]);
        if (!known)
            return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                              "unknown field '%.100s' (valid: %s)", k, list);
    }
    return 0;
}

static int pipelines_off(req_t *r)
{
    return TARN_ERR_R(&r->err, TARN_ECONFLICT, PipelinesOff,
                      "pipelines are off on this server: restart it with `tarn serve "
                      "--pipelines on` to run pipelines and compact tables");
}

/* ---- the registry ---- */

/* Everyone's pipelines for those who manage them all; one's own for anyone else. */
static int list_pipelines(req_t *r)
{
    json_t *out = NULL;
    int rc = pipelines_list(r->srv->catalog, &out, &r->err);
    if (rc)
        return rc;
    json_t *all = json_object_get(out, "pipelines");
    if (!manages_all(r))
        for (size_t i = json_array_size(all); i-- > 0;) {
            json_t *id = json_object_get(json_array_get(all, i), "owner_id");
            if (json_integer_value(id) != r->principal.id)
                json_array_remove(all, i);
        }
    return rest_respond_json(r, 200, out);
}

/* Who may apply a spec: anyone for a pipeline that is new or theirs, owned by themselves
 * (its SQL runs with its owner's permissions, so naming another owner would borrow that
 * user's access); the admin and holders of ALL on iam for any pipeline and any existing
 * owner. */
int rest_pipeline_check_apply(req_t *r, const pipeline_spec_t *spec, int64_t *owner_id)
{
    char owner[256];
    *owner_id = r->principal.id;
    if (manages_all(r)) {
        iam_user_t u;
        tarn_err_t e = {0};
        int rc = spec->owner ? iam_user_get(r->srv->iam, spec->owner, &u, r->arena, &e) : 0;
        if (rc == TARN_ENOTFOUND)
            return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidPipelineSpec,
                              "owner: there is no user '%s' (create it with `tarn user "
                              "create %s`, or leave owner out to own the pipeline yourself)",
                              spec->owner, spec->owner);
        if (rc)
            r->err = e;
        else if (spec->owner)
            *owner_id = u.id;
        return rc;
    }
    if (spec->owner && strcmp(spec->owner, r->principal.name))
        return TARN_ERR_R(&r->err, TARN_EDENIED, AccessDenied,
                          "%s may not apply a pipeline owned by %s: its SQL would run with "
                          "%s's permissions. Leave owner out (the pipeline is then yours), or "
                          "ask the admin or a holder of ALL on iam",
                          r->principal.name, spec->owner, spec->owner);
    int64_t current = 0;
    int rc = pipelines_owner(r->srv->catalog, spec->name, owner, sizeof owner, &current, &r->err);
    if (rc == TARN_ENOTFOUND) {
        memset(&r->err, 0, sizeof r->err);
        return 0;
    }
    if (rc)
        return rc;
    if (current != r->principal.id) /* by id: a namesake of a deleted owner is not it */
        return TARN_ERR_R(&r->err, TARN_EDENIED, AccessDenied,
                          "pipeline '%s' belongs to another user: only its owner, the admin or "
                          "a holder of ALL on iam may change it (or choose another name)",
                          spec->name);
    return 0;
}

static int apply_pipeline(req_t *r)
{
    json_t *in = NULL, *out = NULL;
    pipeline_spec_t *spec = NULL;
    const char *yaml = NULL;
    size_t len = 0;
    int rc = rest_yaml_body(r, "pipeline spec", &in, &yaml, &len);
    if (rc)
        goto done;
    /* Parsed here too, to know the name and owner before anything is recorded. */
    if ((rc = pipeline_spec_parse(yaml, len, &spec, &r->err))) {
        rc = with_reason(r, rc, TARN_EINVAL, TARN_R_InvalidPipelineSpec);
        goto done;
    }
    r->resource = arena_sprintf(r->arena, "pipeline/%s", spec->name);
    int64_t owner_id;
    if ((rc = rest_pipeline_check_apply(r, spec, &owner_id)))
        goto done;
    rc = pipelines_apply(r->srv->catalog, yaml, len, r->principal.name, owner_id, &out, &r->err);
    if ((rc = with_reason(r, rc, TARN_EINVAL, TARN_R_InvalidPipelineSpec)))
        goto done;
    runner_wake(r->srv->runner);
    int status = json_is_true(json_object_get(out, "created")) ? 201 : 200;
    rc = rest_respond_json(r, status, out);
    out = NULL;
done:
    pipeline_spec_free(spec);
    json_decref(out);
    json_decref(in);
    return rc;
}

static int get_pipeline(req_t *r)
{
    long long version;
    json_t *out = NULL;
    int rc = check_owner(r, NAME);
    if (!rc)
        rc = query_int(r, "version", 1, INT64_MAX, 0, &version);
    if (!rc)
        rc = with_reason(r, pipelines_show(r->srv->catalog, NAME, version, &out, &r->err),
                         TARN_ENOTFOUND, TARN_R_NoSuchPipeline);
    return rc ? rc : rest_respond_json(r, 200, out);
}

static int delete_pipeline(req_t *r)
{
    int rc = check_owner(r, NAME);
    if (!rc)
        rc = with_reason(r, pipelines_delete(r->srv->catalog, NAME, &r->err), TARN_ECONFLICT,
                         TARN_R_PipelineRunning);
    if (!rc)
        req_respond_bytes(r, 204, NULL, "", 0);
    return rc;
}

/* ---- runs ---- */

/* POST {"replay": bool}: queues a manual run (or finds the one already queued) and wakes
 * the runner; 202, the run goes on in the background. */
static int start_run(req_t *r)
{
    static const char *const valid[] = {"replay", NULL};
    json_t *in = NULL, *out = NULL;
    int64_t id = 0;
    int rc = check_owner(r, NAME);
    if (rc || (rc = req_body_json(r, &in)) || (rc = body_keys(r, in, valid, "replay")))
        goto done;
    const json_t *replay = json_object_get(in, "replay");
    if (replay && !json_is_boolean(replay)) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "\"replay\" is true or false");
        goto done;
    }
    if (!r->srv->runner) {
        rc = pipelines_off(r);
        goto done;
    }
    rc = pipelines_run_request(r->srv->catalog, NAME, "manual", json_is_true(replay),
                               r->principal.name, &id, &out, &r->err);
    if ((rc = with_reason(r, rc, TARN_ENOTFOUND, TARN_R_NoSuchPipeline)))
        goto done;
    rc = rest_respond_json(r, 202, out);
    out = NULL;
done:
    json_decref(in);
    json_decref(out);
    return rc;
}

static int list_runs(req_t *r)
{
    long long limit;
    json_t *out = NULL;
    int rc = check_owner(r, NAME);
    if (!rc)
        rc = query_int(r, "limit", 1, 1000, 20, &limit);
    if (!rc)
        rc = pipelines_runs_list(r->srv->catalog, NAME, (size_t)limit, &out, &r->err);
    return rc ? rc : rest_respond_json(r, 200, out);
}

/* The run a path names ("latest": the pipeline's newest), checked to be one of this
 * pipeline's: a run id of another pipeline is no run of this one. *out: caller decrefs. */
static int find_run(req_t *r, const char *name, const char *ref, json_t **out)
{
    tarn_err_t *err = &r->err;
    *out = NULL;
    if (!strcmp(ref, "latest")) {
        json_t *list = NULL;
        int rc = pipelines_runs_list(r->srv->catalog, name, 1, &list, err);
        if (rc)
            return rc;
        *out = json_incref(json_array_get(json_object_get(list, "runs"), 0));
        json_decref(list);
        if (!*out)
            return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchRun,
                              "pipeline '%s' has not run yet (start a run with `tarn pipeline "
                              "run %s`)",
                              name, name);
        return 0;
    }
    char *end;
    long long id = strtoll(ref, &end, 10);
    if (!*ref || *end || id < 1)
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchRun,
                          "a run is a number from 1, or latest (got '%s')", ref);
    int rc = with_reason(r, pipelines_run_get(r->srv->catalog, id, out, err), TARN_ENOTFOUND,
                         TARN_R_NoSuchRun);
    if (rc)
        return rc;
    const char *of = json_string_value(json_object_get(*out, "pipeline"));
    if (!of || strcmp(of, name)) {
        json_decref(*out);
        *out = NULL;
        return TARN_ERR_R(err, TARN_ENOTFOUND, NoSuchRun, "pipeline '%s' has no run %lld",
                          name, id);
    }
    return 0;
}

static int get_run(req_t *r)
{
    json_t *out = NULL;
    int rc = check_owner(r, NAME);
    if (!rc)
        rc = find_run(r, NAME, r->params[1], &out);
    return rc ? rc : rest_respond_json(r, 200, out);
}

static int run_logs(req_t *r)
{
    json_t *run = NULL, *out = NULL;
    int rc = check_owner(r, NAME);
    if (!rc)
        rc = find_run(r, NAME, r->params[1], &run);
    if (!rc)
        rc = with_reason(r,
                         pipelines_run_logs(r->srv->catalog, NAME,
                                            json_integer_value(json_object_get(run, "id")),
                                            &out, &r->err),
                         TARN_ENOTFOUND, TARN_R_NoSuchRun);
    json_decref(run);
    return rc ? rc : rest_respond_json(r, 200, out);
}

/* ---- managed tables: rollback and compaction ---- */

#define Z r->params[0]
#define D r->params[1]
#define T r->params[2]

/* POST {"to": N}: a new snapshot with the files of snapshot N (earlier snapshots stay). */
static int rollback_table(req_t *r)
{
    static const char *const valid[] = {"to", NULL};
    json_t *in = NULL;
    long long to = 0;
    int64_t snap = 0;
    int rc = req_body_json(r, &in);
    if (rc || (rc = body_keys(r, in, valid, "to")) ||
        (rc = body_int(r, in, "to", 1, INT64_MAX, 0, &to)))
        goto done;
    if (!to) {
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "name the snapshot to go back to: {\"to\": 3} (`tarn table snapshots "
                        "%s.%s.%s` lists them)",
                        Z, D, T);
        goto done;
    }
    if ((rc = catalog_table_rollback(r->srv->catalog, Z, D, T, to, &snap, &r->err)))
        goto done;
    char *table = arena_sprintf(r->arena, "%s.%s.%s", Z, D, T);
    rc = rest_respond_json(r, 200, json_pack("{s:s, s:I, s:I}", "table", table ? table : "",
                                             "snapshot", (json_int_t)snap, "rolled_back_to",
                                             (json_int_t)to));
done:
    json_decref(in);
    return rc;
}

/* POST {"target_mb": N}: rewrites the table's small files into files of about N MB. */
static int compact_table(req_t *r)
{
    static const char *const valid[] = {"target_mb", NULL};
    json_t *in = NULL, *out = NULL;
    long long mb = 0;
    int rc = req_body_json(r, &in);
    if (rc || (rc = body_keys(r, in, valid, "target_mb")) ||
        (rc = body_int(r, in, "target_mb", 1, 16384, 0, &mb)))
        goto done;
    if (!r->srv->runner) {
        rc = pipelines_off(r);
        goto done;
    }
    if ((rc = runner_compact(r->srv->runner, Z, D, T, mb, &out, &r->err)))
        goto done;
    rc = rest_respond_json(r, 200, out);
    out = NULL;
done:
    json_decref(in);
    json_decref(out);
    return rc;
}

#define PIPE "/v1/pipelines/{}"
#define PIPE_RES "pipeline/{0}"

const op_t rest_pipeline_ops[] = {
    REST_OP("ListPipelines", "process:ListPipelines", "GET", "/v1/pipelines", "pipeline/*",
            BODY_NONE, list_pipelines),
    REST_OP("ApplyPipeline", "process:ApplyPipeline", "POST", "/v1/pipelines", "pipeline/*",
            BODY_BUFFER, apply_pipeline),
    REST_OP("GetPipeline", "process:GetPipeline", "GET", PIPE, PIPE_RES, BODY_NONE, get_pipeline),
    REST_OP("DeletePipeline", "process:DeletePipeline", "DELETE", PIPE, PIPE_RES, BODY_NONE,
            delete_pipeline),
    REST_OP("StartPipelineRun", "process:StartPipelineRun", "POST", PIPE "/runs", PIPE_RES,
            BODY_BUFFER, start_run),
    REST_OP("ListPipelineRuns", "process:GetPipelineRuns", "GET", PIPE "/runs", PIPE_RES, BODY_NONE,
            list_runs),
    REST_OP("GetPipelineRun", "process:GetPipelineRuns", "GET", PIPE "/runs/{}", PIPE_RES,
            BODY_NONE, get_run),
    REST_OP("GetPipelineRunLogs", "process:GetPipelineRuns", "GET", PIPE "/runs/{}/logs", PIPE_RES,
            BODY_NONE, run_logs),
    /* Managed tables: changing which files a table has is altering it. */
    REST_OP("RollbackTable", "catalog:Alter", "POST", REST_TABLE "/rollback", REST_TABLE_RES,
            BODY_BUFFER, rollback_table),
    REST_OP("CompactTable", "catalog:Alter", "POST", REST_TABLE "/compact", REST_TABLE_RES,
            BODY_BUFFER, compact_table),
};
const size_t rest_pipeline_nops = sizeof rest_pipeline_ops / sizeof *rest_pipeline_ops;
