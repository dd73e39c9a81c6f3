/* The REST API under /v1 (JSON in, JSON out): routing into its operation tables and the
 * helpers its handlers share. */
#ifndef TARN_SERVER_REST_REST_H
#define TARN_SERVER_REST_REST_H

#include "server/req.h"

#include <jansson.h>
#include <stddef.h>

/* Finds the operation for r (sets r->op, r->params and r->resource). */
int rest_route(req_t *r);

extern const op_t rest_ops[];
extern const size_t rest_nops;
extern const op_t rest_grant_ops[]; /* groups, roles, data filters, grants */
extern const size_t rest_grant_nops;
/* rest_pipelines.c: /v1/pipelines and the managed tables' rollback and compaction */
extern const op_t rest_pipeline_ops[];
extern const size_t rest_pipeline_nops;

/* Responds with o (taking it) as JSON. */
int rest_respond_json(req_t *r, int status, json_t *o);

/* rest_catalog.c: handlers of /v1/databases, /v1/tables, /v1/crawl, /v1/search */
int rest_list_databases(req_t *r);
int rest_list_tables(req_t *r);
int rest_get_table(req_t *r);
int rest_create_table(req_t *r);
int rest_update_table(req_t *r);
int rest_table_versions(req_t *r);
int rest_table_partitions(req_t *r);
int rest_table_files(req_t *r);
int rest_table_snapshots(req_t *r);
int rest_snapshot_files(req_t *r);
int rest_start_crawl(req_t *r);
int rest_get_crawl(req_t *r);
int rest_search(req_t *r);
/* rest_quarantine.c */
int rest_list_quarantine(req_t *r);
int rest_release_quarantine(req_t *r);
/* rest_sql.c */
int rest_sql(req_t *r);
int rest_list_queries(req_t *r);
int rest_get_query(req_t *r);
int rest_cancel_query(req_t *r);
/* firehose.c: /v1/streams */
int rest_list_streams(req_t *r);
int rest_create_stream(req_t *r);
int rest_get_stream(req_t *r);
int rest_delete_stream(req_t *r);
int rest_put_stream_records(req_t *r);

#endif
