/* Authorization: actions mapped to the permissions grants give; see authz.h. The storage
 * API needs READ or WRITE on the object's location; reading a file of a curated table
 * also needs an unrestricted SELECT on the table, because a file cannot hide columns or
 * rows. The catalog needs DESCRIBE, CREATE_TABLE or ALTER; SQL needs SELECT; managing
 * identities and grants needs ALL on iam, which also manages every pipeline (anyone may
 * manage their own); sources need ALL or SOURCE on iam. Everything else is the admin's. */
#include "govern/authz.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

static const char *const s3_reads[] = {
    "GetObject",     "HeadObject",           "ListObjects",       "ListObjectsV2",
    "ListParts",     "ListMultipartUploads", "ListObjectVersions", "GetBucketLocation",
    "GetBucketVersioning", "HeadBucket",
};
static const char *const s3_writes[] = {
    "PutObject",     "CopyObject",      "DeleteObject",           "DeleteObjects",
    "UploadPart",    "UploadPartCopy",  "CreateMultipartUpload",  "CompleteMultipartUpload",
    "AbortMultipartUpload", "CreateBucket", "DeleteBucket",
};

static bool in(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

static int decide(authz_decision_t *d, bool allowed, const char *rule, int64_t grant)
{
    d->allowed = allowed;
    if (grant)
        snprintf(d->rule, sizeof d->rule, "grant:%lld", (long long)grant);
    else
        snprintf(d->rule, sizeof d->rule, "%s", rule);
    return 0;
}

/* A curated object's table ("curated/db/t/..." is curated.db.t), or false. */
static bool curated_table(const char *res, char *out, size_t cap)
{
    if (strncmp(res, "curated/", 8))
        return false;
    const char *db = res + 8, *t = strchr(db, '/'), *end = t ? strchr(t + 1, '/') : NULL;
    if (!t || !end || t == db || end == t + 1)
        return false;
    snprintf(out, cap, "curated.%.*s.%.*s", (int)(t - db), db, (int)(end - t - 1), t + 1);
    return true;
}

static void check_s3(const authz_principal_t *p, const char *op, const char *res,
                     authz_decision_t *d)
{
    char loc[1200];
    int64_t id = 0;
    if (!strcmp(op, "ListBuckets")) {
        decide(d, true, "listing", 0); /* each bucket listed is checked */
        return;
    }
    bool read = in(op, s3_reads, sizeof s3_reads / sizeof *s3_reads);
    bool write = in(op, s3_writes, sizeof s3_writes / sizeof *s3_writes);
    if (!read && !write) {
        decide(d, false, "admin-only", 0);
        return;
    }
    snprintf(loc, sizeof loc, "location:%s", res);
    if (!grants_allows(p->grants, p->id, read ? GRANT_READ : GRANT_WRITE, loc, false, &id)) {
        decide(d, false, "no-location-grant", 0);
        return;
    }
    char table[600];
    if (read && (!strcmp(op, "GetObject") || !strcmp(op, "HeadObject")) &&
        curated_table(res, table, sizeof table)) {
        grants_access_t a;
        tarn_err_t e = {0};
        bool whole = !grants_table_access(p->grants, p->id, table, &a, &e) && a.allowed &&
                     a.all_columns && !a.row_filter;
        grants_access_free(&a);
        if (!whole) {
            decide(d, false, "needs-unrestricted-select", 0);
            return;
        }
    }
    decide(d, true, NULL, id);
}

/* "table/zone.db.t" -> "zone.db" into out. */
static bool database_of(const char *table, char *out, size_t cap)
{
    const char *last = strrchr(table, '.');
    if (!last)
        return false;
    snprintf(out, cap, "%.*s", (int)(last - table), table);
    return true;
}

static void check_catalog(const authz_principal_t *p, const char *op, const char *res,
                          authz_decision_t *d)
{
    char r[700], db[600];
    int64_t id = 0;
    if (!strcmp(res, "table/*") || !strcmp(res, "database/*")) {
        decide(d, true, "listing", 0); /* each table or database listed is checked */
        return;
    }
    const char *table = !strncmp(res, "table/", 6) ? res + 6 : NULL;
    const char *database = !strncmp(res, "database/", 9) ? res + 9 : NULL;
    bool ok = false;
    if (!strcmp(op, "Describe") && table) {
        snprintf(r, sizeof r, "table:%s", table);
        ok = grants_allows(p->grants, p->id, GRANT_DESCRIBE, r, false, &id);
    } else if (!strcmp(op, "Describe") && database) {
        snprintf(r, sizeof r, "database:%s", database);
        ok = grants_allows(p->grants, p->id, GRANT_DESCRIBE, r, false, &id);
    } else if (!strcmp(op, "CreateTable") && table && database_of(table, db, sizeof db)) {
        snprintf(r, sizeof r, "database:%s", db);
        ok = grants_allows(p->grants, p->id, GRANT_CREATE_TABLE, r, false, &id);
    } else if (!strcmp(op, "Insert") && table) {
        /* Writing rows into a table (a pipeline's target). */
        snprintf(r, sizeof r, "table:%s", table);
        ok = grants_allows(p->grants, p->id, GRANT_INSERT, r, false, &id);
    } else if (!strcmp(op, "Alter") && table) {
        snprintf(r, sizeof r, "table:%s", table);
        ok = grants_allows(p->grants, p->id, GRANT_ALTER, r, false, &id);
        if (!ok && database_of(table, db, sizeof db)) {
            snprintf(r, sizeof r, "database:%s", db);
            ok = grants_allows(p->grants, p->id, GRANT_ALTER, r, false, &id);
        }
    }
    decide(d, ok, ok ? NULL : "no-catalog-grant", id);
}

/* Pipelines: the admin and holders of ALL on iam manage every pipeline; anyone else may
 * manage their own, which only the handler can tell (the owner is in the registry, or in
 * the spec being applied), so these are allowed as "owner-checked" and the handler
 * refuses what the principal does not own. Other process actions (the quarantine, which
 * holds any table's rows) stay the admin's. */
static const char *const pipeline_ops[] = {
    "ListPipelines",  "GetPipeline",      "ApplyPipeline",
    "DeletePipeline", "StartPipelineRun", "GetPipelineRuns",
};

static void check_process(const authz_principal_t *p, const char *op, const char *res,
                          authz_decision_t *d)
{
    int64_t id = 0;
    if (!in(op, pipeline_ops, sizeof pipeline_ops / sizeof *pipeline_ops) ||
        strncmp(res, "pipeline/", 9)) {
        decide(d, false, "admin-only", 0);
        return;
    }
    if (authz_iam_admin(p, &id))
        decide(d, true, NULL, id);
    else
        decide(d, true, AUTHZ_RULE_OWNER_CHECKED, 0);
}

/* Delivery streams: anyone may list and describe them; creating and deleting one is
 * identity-level work (ALL on iam); putting records needs INSERT on the stream's table,
 * which the handler asks once it knows the destination ("table/zone.db.t"). */
static void check_firehose(const authz_principal_t *p, const char *op, const char *res,
                           authz_decision_t *d)
{
    int64_t id = 0;
    bool put = !strncmp(op, "PutRecord", 9);
    if (put && !strncmp(res, "table/", 6)) {
        char r[700];
        snprintf(r, sizeof r, "table:%s", res + 6);
        bool ok = grants_allows(p->grants, p->id, GRANT_INSERT, r, false, &id);
        decide(d, ok, ok ? NULL : "no-insert-grant", id);
    } else if (put || !strcmp(op, "ListDeliveryStreams") || !strcmp(op, "DescribeDeliveryStream")) {
        decide(d, true, put ? "insert-checked-on-destination" : "listing", 0);
    } else {
        bool ok = grants_allows(p->grants, p->id, GRANT_ALL, "iam", false, &id);
        decide(d, ok, ok ? NULL : "no-iam-grant", id);
    }
}

/* Sources hold credentials of other systems and land data in raw: managing them (and
 * seeing their configuration and state) needs ALL or SOURCE on iam. */
static void check_source(const authz_principal_t *p, authz_decision_t *d)
{
    int64_t id = 0;
    bool ok = grants_allows(p->grants, p->id, GRANT_SOURCE, "iam", false, &id);
    decide(d, ok, ok ? NULL : "no-source-grant", id);
}

int authz_check(const authz_principal_t *p, const char *action, const char *resource,
                authz_decision_t *out)
{
    authz_decision_t d;
    decide(&d, false, "default-deny", 0);
    if (!resource)
        resource = "*";
    if (!p || !p->name) {
        decide(&d, false, "anonymous", 0);
    } else if (p->metrics_only) {
        decide(&d, !strcmp(action, "metrics:Read"), "metrics-token", 0);
    } else if (p->admin) {
        decide(&d, true, "admin", 0);
    } else if (!strcmp(action, "iam:GetCallerIdentity")) {
        decide(&d, true, "self", 0);
    } else if (!p->grants) {
        decide(&d, false, "no-grants", 0);
    } else if (!strncmp(action, "s3:", 3)) {
        check_s3(p, action + 3, resource, &d);
    } else if (!strncmp(action, "catalog:", 8) && strcmp(action, "catalog:Crawl")) {
        check_catalog(p, action + 8, resource, &d);
    } else if (!strcmp(action, "sql:Select")) {
        if (!strcmp(resource, "table/*") || !strncmp(resource, "query/", 6)) {
            decide(&d, true, "listing", 0); /* each table a query names is checked */
        } else if (!strncmp(resource, "table/", 6)) {
            grants_access_t a;
            tarn_err_t e = {0};
            authz_table_access(p, resource + 6, &a, &d, &e);
            grants_access_free(&a);
        }
    } else if (!strncmp(action, "firehose:", 9)) {
        check_firehose(p, action + 9, resource, &d);
    } else if (!strncmp(action, "source:", 7)) {
        check_source(p, &d);
    } else if (!strncmp(action, "process:", 8)) {
        check_process(p, action + 8, resource, &d);
    } else if (!strncmp(action, "iam:", 4) || !strncmp(action, "grants:", 7)) {
        int64_t id = 0;
        if (grants_allows(p->grants, p->id, GRANT_ALL, "iam", false, &id))
            decide(&d, true, NULL, id);
        else if (!strncmp(action, "grants:", 7))
            decide(&d, true, "grant-option", 0); /* the handler checks WITH GRANT OPTION */
        else
            decide(&d, false, "no-iam-grant", 0);
    }
    if (out)
        *out = d;
    return d.allowed ? 0 : TARN_EDENIED;
}

int authz_table_access(const authz_principal_t *p, const char *table, grants_access_t *out,
                       authz_decision_t *decision, tarn_err_t *err)
{
    authz_decision_t d;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (p && p->admin) {
        out->allowed = out->all_columns = true;
        decide(&d, true, "admin", 0);
    } else if (!p || !p->name) {
        decide(&d, false, "anonymous", 0);
    } else if (!p->grants) {
        decide(&d, false, "no-grants", 0);
    } else if (!(rc = grants_table_access(p->grants, p->id, table, out, err)) && out->allowed) {
        decide(&d, true, NULL, out->grant_id);
    } else {
        decide(&d, false, "no-select-grant", 0);
    }
    if (decision)
        *decision = d;
    return rc;
}

bool authz_iam_admin(const authz_principal_t *p, int64_t *grant)
{
    int64_t id = 0;
    bool ok =
        p && p->name &&
        (p->admin || (p->grants && grants_allows(p->grants, p->id, GRANT_ALL, "iam", false, &id)));
    if (grant)
        *grant = ok ? id : 0;
    return ok;
}

int authz_may_grant(const authz_principal_t *p, const char *permission, const char *resource,
                    tarn_err_t *err)
{
    unsigned bit = grants_permission_bit(permission);
    if (authz_iam_admin(p, NULL) ||
        (bit && p->grants && grants_allows(p->grants, p->id, bit, resource, true, NULL)))
        return 0;
    return TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                      "%s may not grant or revoke %s on %s: that needs %s on it WITH GRANT "
                      "OPTION (or the admin)",
                      p->name, permission, resource, permission);
}

bool authz_bucket_visible(const authz_principal_t *p, const char *bucket)
{
    if (!p || !p->name)
        return false;
    return p->admin || (p->grants && grants_any_under(p->grants, p->id, bucket));
}
