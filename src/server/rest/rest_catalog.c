/* The catalog's REST API: databases, tables (browse, create with a declared schema,
 * business metadata), versions, partitions, files, snapshots, crawls and search. Shapes
 * are documented in docs/catalog.md; the dispatcher has authenticated, authorized and
 * audited the request before these run. */
#include "server/rest/rest.h"
#include "server/server_state.h"

#include <stdlib.h>
#include <string.h>

#define Z r->params[0]
#define D r->params[1]
#define T r->params[2]

static int reply(req_t *r, int rc, json_t *out)
{
    return rc ? rc : rest_respond_json(r, 200, out);
}

/* A numeric query parameter within [lo, hi], or def when absent. */
static int query_num(req_t *r, const char *name, long lo, long hi, long def, long *out)
{
    const char *v = req_query(r, name);
    char *end;
    *out = def;
    if (!v)
        return 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "%s must be a number from %ld to %ld (got '%s')", name, lo, hi, v);
    *out = n;
    return 0;
}

static int rest_list_databases(req_t *r)
{
    json_t *out = NULL;
    int rc = catalog_databases_list(r->srv->catalog, &r->principal, req_query(r, "zone"), &out,
                                    &r->err);
    return reply(r, rc, out);
}

static int rest_list_tables(req_t *r)
{
    json_t *out = NULL;
    int rc = catalog_tables_list(r->srv->catalog, &r->principal, req_query(r, "zone"),
                                 req_query(r, "database"), &out, &r->err);
    return reply(r, rc, out);
}

/* Leaves out of a table's "columns" those the principal may not select, when it may
 * select the table at all with a column restriction: describing a table never shows
 * more of it than querying it would. */
static void hide_columns(req_t *r, json_t *table)
{
    if (r->principal.admin)
        return;
    char name[600];
    snprintf(name, sizeof name, "%s.%s.%s", Z, D, T);
    grants_access_t a;
    tarn_err_t e = {0};
    if (authz_table_access(&r->principal, name, &a, NULL, &e) || !a.allowed || a.all_columns) {
        grants_access_free(&a);
        return;
    }
    json_t *cols = json_object_get(table, "columns");
    for (size_t i = json_array_size(cols); i-- > 0;) {
        const char *c = json_string_value(json_object_get(json_array_get(cols, i), "name"));
        if (c && !grants_access_shows(&a, c))
            json_array_remove(cols, i);
    }
    grants_access_free(&a);
}

static int rest_get_table(req_t *r)
{
    json_t *out = NULL;
    int rc = catalog_table_get(r->srv->catalog, Z, D, T, &out, &r->err);
    if (!rc)
        hide_columns(r, out);
    return reply(r, rc, out);
}

static int count_entry(void *ctx, const store_entry_t *e)
{
    (void)e;
    ++*(size_t *)ctx;
    return 0;
}

static bool folder_has_objects(req_t *r, const char *zone, const char *prefix)
{
    size_t n = 0;
    bool more;
    const char *last;
    tarn_err_t e = {0};
    store_list_opts_t o = {.prefix = prefix, .max_keys = 1};
    return !store_list(r->srv->store, zone, &o, count_entry, &n, &more, &last, r->arena, &e) &&
           n > 0;
}

static int rest_create_table(req_t *r)
{
    json_t *in, *out = NULL;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    rc = catalog_table_create(r->srv->catalog, Z, D, T, in, r->principal.name, &out, &r->err);
    json_decref(in);
    if (rc)
        return rc;
    /* Files already under the table's folder are registered (and checked) now. */
    int64_t job;
    char *prefix = arena_sprintf(r->arena, "%s/%s/", D, T);
    if (prefix && folder_has_objects(r, Z, prefix) &&
        !crawler_request(r->srv->crawler, Z, prefix, false, &job, &r->err))
        json_object_set_new(out, "crawl", json_integer(job));
    return rest_respond_json(r, 201, out);
}

static int rest_update_table(req_t *r)
{
    json_t *in, *out = NULL;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    rc = catalog_table_update(r->srv->catalog, Z, D, T, in, &out, &r->err);
    json_decref(in);
    return reply(r, rc, out);
}

static int rest_table_versions(req_t *r)
{
    json_t *out = NULL;
    int rc = catalog_table_versions(r->srv->catalog, Z, D, T, &out, &r->err);
    return reply(r, rc, out);
}

static int rest_table_partitions(req_t *r)
{
    json_t *out = NULL;
    int rc = catalog_table_partitions(r->srv->catalog, Z, D, T, &out, &r->err);
    return reply(r, rc, out);
}

static int rest_table_files(req_t *r)
{
    long limit;
    json_t *out = NULL;
    int rc = query_num(r, "limit", 1, 10000, 1000, &limit);
    if (!rc)
        rc = catalog_table_files(r->srv->catalog, Z, D, T, req_query(r, "after"), (size_t)limit,
                                 &out, &r->err);
    return reply(r, rc, out);
}

static int rest_table_snapshots(req_t *r)
{
    json_t *out = NULL;
    int rc = catalog_table_snapshots(r->srv->catalog, Z, D, T, &out, &r->err);
    return reply(r, rc, out);
}

static int rest_snapshot_files(req_t *r)
{
    char *end;
    long long snap = strtoll(r->params[3], &end, 10);
    if (*end || snap < 1)
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "a snapshot is a number from 1 (got '%s')", r->params[3]);
    json_t *out = NULL;
    int rc = catalog_snapshot_files(r->srv->catalog, Z, D, T, snap, &out, &r->err);
    return reply(r, rc, out);
}

static int rest_start_crawl(req_t *r)
{
    json_t *in, *out = NULL;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *zone = json_string_value(json_object_get(in, "zone"));
    const char *prefix = json_string_value(json_object_get(in, "prefix"));
    json_t *force = json_object_get(in, "force");
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        if (strcmp(k, "zone") && strcmp(k, "prefix") && strcmp(k, "force")) {
            rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                            "unknown crawl field '%s' (valid: zone, prefix, force)", k);
            json_decref(in); /* k is the body's: the message is written first */
            return rc;
        }
    }
    if ((json_object_get(in, "zone") && !zone) || (json_object_get(in, "prefix") && !prefix) ||
        (force && !json_is_boolean(force))) {
        json_decref(in);
        return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                          "zone and prefix are strings, force is true or false");
    }
    int64_t id;
    rc = crawler_request(r->srv->crawler, zone, prefix, json_is_true(force), &id, &r->err);
    json_decref(in);
    if (!rc)
        rc = crawler_job(r->srv->crawler, id, &out, &r->err);
    return rc ? rc : rest_respond_json(r, 202, out);
}

static int rest_get_crawl(req_t *r)
{
    char *end;
    long long id = strtoll(r->params[0], &end, 10);
    int rc;
    if (*end)
        return TARN_ERR_R(&r->err, TARN_ENOTFOUND, NoSuchCrawl, "no crawl '%s'", r->params[0]);
    json_t *out = NULL;
    rc = crawler_job(r->srv->crawler, id, &out, &r->err);
    return reply(r, rc, out);
}

static int rest_search(req_t *r)
{
    long limit;
    int rc = query_num(r, "limit", 1, 1000, 20, &limit);
    if (rc)
        return rc;
    catalog_search_opts_t o = {.zone = req_query(r, "zone"),
                               .db = req_query(r, "database"),
                               .tag = req_query(r, "tag"),
                               .owner = req_query(r, "owner"),
                               .sensitivity = req_query(r, "sensitivity"),
                               .limit = (size_t)limit};
    json_t *out = NULL;
    rc = catalog_search(r->srv->catalog, &r->principal, req_query(r, "q"), &o, &out, &r->err);
    return reply(r, rc, out);
}

const op_t rest_catalog_ops[] = {
    /* Listing and search are filtered table by table inside. */
    REST_OP("ListDatabases", "catalog:Describe", "GET", "/v1/databases", "database/*", BODY_NONE,
            rest_list_databases),
    REST_OP("ListTables", "catalog:Describe", "GET", "/v1/tables", "table/*", BODY_NONE,
            rest_list_tables),
    REST_OP("GetTable", "catalog:Describe", "GET", REST_TABLE, REST_TABLE_RES, BODY_NONE,
            rest_get_table),
    REST_OP("CreateTable", "catalog:CreateTable", "POST", REST_TABLE, REST_TABLE_RES, BODY_BUFFER,
            rest_create_table),
    REST_OP("UpdateTable", "catalog:Alter", "PATCH", REST_TABLE, REST_TABLE_RES, BODY_BUFFER,
            rest_update_table),
    REST_OP("GetTableVersions", "catalog:Describe", "GET", REST_TABLE "/versions", REST_TABLE_RES,
            BODY_NONE, rest_table_versions),
    REST_OP("GetTablePartitions", "catalog:Describe", "GET", REST_TABLE "/partitions",
            REST_TABLE_RES, BODY_NONE, rest_table_partitions),
    REST_OP("GetTableFiles", "catalog:Describe", "GET", REST_TABLE "/files", REST_TABLE_RES,
            BODY_NONE, rest_table_files),
    REST_OP("GetTableSnapshots", "catalog:Describe", "GET", REST_TABLE "/snapshots", REST_TABLE_RES,
            BODY_NONE, rest_table_snapshots),
    REST_OP("GetSnapshotFiles", "catalog:Describe", "GET", REST_TABLE "/snapshots/{}",
            REST_TABLE_RES, BODY_NONE, rest_snapshot_files),
    REST_OP("StartCrawl", "catalog:Crawl", "POST", "/v1/crawl", "*", BODY_BUFFER, rest_start_crawl),
    REST_OP("GetCrawl", "catalog:Crawl", "GET", "/v1/crawl/{}", "crawl/{0}", BODY_NONE,
            rest_get_crawl),
    REST_OP("SearchCatalog", "catalog:Describe", "GET", "/v1/search", "table/*", BODY_NONE,
            rest_search),
};
const size_t rest_catalog_nops = sizeof rest_catalog_ops / sizeof *rest_catalog_ops;
