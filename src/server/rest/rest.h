/* The REST API under /v1 (JSON in, JSON out): routing (rest.c) into one table of
 * operations per resource family, each in its own file, and the helpers their handlers
 * share. */
#ifndef TARN_SERVER_REST_REST_H
#define TARN_SERVER_REST_REST_H

#include "process/pipeline_spec.h"
#include "server/req.h"

#include <jansson.h>
#include <stddef.h>

/* Finds the operation for r (sets r->op, r->params and r->resource). */
int rest_route(req_t *r);

/* Responds with o (taking it) as JSON. */
int rest_respond_json(req_t *r, int status, json_t *o);

/* One entry of a family's table: route segments written {} are captured into r->params;
 * the resource authorized is res with {0}, {1}, ... replaced by the captures (NULL: the
 * path after /v1/). */
#define REST_OP(n, act, m, route_, res_, b, fin) \
    {.name = n, .action = act, .method = m, .route = route_, .res = res_, .body = b, .finish = fin}
/* A table's routes and its resource. */
#define REST_TABLE "/v1/tables/{}/{}/{}"
#define REST_TABLE_RES "table/{0}.{1}.{2}"

/* The families' tables, in the order rest_route tries them. */
extern const op_t rest_iam_ops[]; /* rest_iam.c: users, access keys, metrics tokens, whoami,
                                   * the audit trail */
extern const size_t rest_iam_nops;
extern const op_t rest_catalog_ops[]; /* rest_catalog.c: databases, tables, crawls, search */
extern const size_t rest_catalog_nops;
extern const op_t rest_quarantine_ops[]; /* rest_quarantine.c: promotion's quarantine */
extern const size_t rest_quarantine_nops;
extern const op_t rest_stream_ops[]; /* rest_streams.c: delivery streams and their records */
extern const size_t rest_stream_nops;
extern const op_t rest_sql_ops[]; /* rest_sql.c: queries, their history and cancellation */
extern const size_t rest_sql_nops;
extern const op_t rest_grant_ops[]; /* rest_grants.c: groups, roles, data filters, grants */
extern const size_t rest_grant_nops;
extern const op_t rest_pipeline_ops[]; /* rest_pipelines.c: pipelines; managed tables'
                                        * rollback and compaction */
extern const size_t rest_pipeline_nops;
extern const op_t rest_source_ops[]; /* rest_sources.c: sources, their status and runs */
extern const size_t rest_source_nops;
extern const op_t rest_blueprint_ops[]; /* rest_blueprints.c: blueprints (a source and its
                                         * pipelines from one document) */
extern const size_t rest_blueprint_nops;

/* A YAML document in a request: the body itself (any content type but JSON), or a JSON
 * body's "spec" string; what names it in the error for an empty one. *in (caller decrefs)
 * holds what *yaml points into. */
int rest_yaml_body(req_t *r, const char *what, json_t **in, const char **yaml, size_t *len);

/* Shared by the families that make pipelines and sources (rest_pipelines.c,
 * rest_sources.c) and blueprints, which make both. */
/* Whether r's principal may apply spec (a pipeline new or its own, owned by itself; the
 * admin and holders of ALL on iam any); *owner_id gets the owner's id. */
int rest_pipeline_check_apply(req_t *r, const pipeline_spec_t *spec, int64_t *owner_id);
/* Deletes source name and removes what it made at the other end; a failure of the latter
 * is set as out's "warning". */
int rest_source_remove(req_t *r, const char *name, json_t *out);

#endif
