/* Unit tests of authz_check as a decision table: each kind of principal (anonymous, the
 * admin, a user without a grants store, users holding nothing, holding through a group, a
 * role or directly, a holder of ALL on iam) against the actions of every API, with the
 * answer and the rule or grant that decided it. Also who sees which bucket, who manages
 * identities, and what a table's SELECT shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "govern/authz.h"
#include "govern_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The grants every row is decided against, each with a label the table refers to. */
static const struct {
    const char *label, *principal, *perm, *resource, *columns;
} granted[] = {
    {"sel_orders", "group:analysts", "SELECT", "table:curated.sales.orders", NULL},
    {"read_curated_sales", "group:analysts", "READ", "location:curated/sales/", NULL},
    {"read_raw_web", "role:reader", "READ", "location:raw/web/", NULL},
    {"write_landing", "role:loader", "WRITE", "location:raw/landing", NULL},
    {"insert_events", "role:loader", "INSERT", "table:raw.web.events", NULL},
    {"sel_raw_web", "user:carol", "SELECT", "table:raw.web.*", NULL},
    {"iam_all", "user:dan", "ALL", "iam", NULL},
    {"sel_order_ids", "user:erin", "SELECT", "table:curated.sales.orders", "[\"id\"]"},
    {"read_curated", "user:erin", "READ", "location:curated", NULL},
    {"create_sales", "user:erin", "CREATE_TABLE", "database:curated.sales", NULL},
    {"alter_daily", "user:erin", "ALTER", "table:curated.sales.daily", NULL},
    {"describe_hr", "user:erin", "DESCRIBE", "database:curated.hr", NULL},
};
enum { NGRANTED = sizeof granted / sizeof *granted };

typedef struct {
    govern_fixture_t l;
    int64_t ids[NGRANTED];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    tarn_err_t err = {0};
    if (!f || govern_fixture_open(&f->l, "authz", false))
        return -1;
    const char *users[] = {"alice", "bob", "carol", "dan", "erin"};
    for (size_t i = 0; i < sizeof users / sizeof *users; i++)
        if (iam_user_create(f->l.iam, users[i], false, NULL, &err))
            return -1;
    /* bob is an analyst, and analysts hold the reader role; carol holds the loader role. */
    if (grants_group_create(f->l.g, "analysts", &err) ||
        grants_group_add(f->l.g, "analysts", "bob", &err) ||
        grants_role_create(f->l.g, "reader", &err) || grants_role_create(f->l.g, "loader", &err) ||
        grants_role_assign(f->l.g, "reader", "group:analysts", &err) ||
        grants_role_assign(f->l.g, "loader", "user:carol", &err))
        return -1;
    for (size_t i = 0; i < NGRANTED; i++) {
        json_t *c = granted[i].columns ? json_loads(granted[i].columns, 0, NULL) : NULL;
        grant_spec_t s = {granted[i].principal, granted[i].perm, granted[i].resource, c, NULL,
                          false};
        int rc = grants_grant(f->l.g, &s, "admin", &f->ids[i], &err);
        json_decref(c);
        if (rc) {
            fprintf(stderr, "grant %s: %s\n", granted[i].label, err.msg);
            return -1;
        }
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    govern_fixture_close(&f->l);
    free(f);
    return 0;
}

/* A principal of the table: "anonymous", "admin", "ghost" (a user and no grants store),
 * "scraper" (a metrics token), or a user of the fixture by name. */
static authz_principal_t principal(fixture_t *f, const char *who)
{
    if (!strcmp(who, "anonymous"))
        return (authz_principal_t){0};
    if (!strcmp(who, "admin"))
        return (authz_principal_t){.name = "root", .id = 0, .admin = true, .grants = f->l.g};
    if (!strcmp(who, "ghost"))
        return (authz_principal_t){.name = "ghost", .id = 999};
    if (!strcmp(who, "scraper"))
        return (authz_principal_t){.name = "metrics-token:p", .metrics_only = true};
    arena_t *a = arena_create();
    iam_user_t u = {0};
    tarn_err_t err = {0};
    if (iam_user_get(f->l.iam, who, &u, a, &err))
        fail_msg("no user %s", who);
    arena_free(a);
    return (authz_principal_t){.name = who, .id = u.id, .grants = f->l.g};
}

static int64_t grant_id(fixture_t *f, const char *label)
{
    for (size_t i = 0; i < NGRANTED; i++)
        if (!strcmp(granted[i].label, label))
            return f->ids[i];
    fail_msg("no grant labelled %s", label);
    return 0;
}

/* The rule a row expects: "grant:<label>" names a grant of the fixture by its label. */
static void expected_rule(fixture_t *f, const char *rule, char *out, size_t cap)
{
    if (strncmp(rule, "grant:", 6))
        snprintf(out, cap, "%s", rule);
    else
        snprintf(out, cap, "grant:%lld", (long long)grant_id(f, rule + 6));
}

static const struct {
    const char *who, *action, *resource;
    bool allowed;
    const char *rule;
} table[] = {
    /* Nobody signed in: nothing, not even who they are. */
    {"anonymous", "s3:GetObject", "raw/x", false, "anonymous"},
    {"anonymous", "iam:GetCallerIdentity", "*", false, "anonymous"},
    {"anonymous", "sql:Select", "table/*", false, "anonymous"},
    /* The admin: everything, named or not. */
    {"admin", "audit:Read", "*", true, "admin"},
    {"admin", "s3:DeleteBucket", "raw", true, "admin"},
    {"admin", "process:ListQuarantine", "quarantine/*", true, "admin"},
    {"admin", "made:Up", "*", true, "admin"},
    /* A metrics token: /metrics, and nothing else whatever it names. */
    {"scraper", "metrics:Read", "metrics", true, "metrics-token"},
    {"scraper", "s3:GetObject", "raw/a.csv", false, "metrics-token"},
    {"scraper", "sql:Select", "table/*", false, "metrics-token"},
    {"scraper", "iam:GetCallerIdentity", "*", false, "metrics-token"},
    /* A user where no grants are kept: only who it is. */
    {"ghost", "iam:GetCallerIdentity", "*", true, "self"},
    {"ghost", "s3:GetObject", "raw/x", false, "no-grants"},
    {"ghost", "s3:ListBuckets", "*", false, "no-grants"},
    /* alice holds nothing: listings (each item is checked again), her own pipelines, and
     * putting records (checked once the destination is known); nothing else. */
    {"alice", "iam:GetCallerIdentity", "*", true, "self"},
    {"alice", "s3:ListBuckets", "*", true, "listing"},
    {"alice", "s3:GetObject", "raw/web/a.json", false, "no-location-grant"},
    {"alice", "s3:PutObject", "raw/web/a.json", false, "no-location-grant"},
    {"alice", "s3:PutBucketPolicy", "raw", false, "admin-only"},
    {"alice", "catalog:Describe", "table/*", true, "listing"},
    {"alice", "catalog:Describe", "database/*", true, "listing"},
    {"alice", "catalog:Describe", "table/curated.sales.orders", false, "no-catalog-grant"},
    {"alice", "catalog:Crawl", "*", false, "default-deny"},
    {"alice", "sql:Select", "table/*", true, "listing"},
    {"alice", "sql:Select", "query/q1", true, "listing"},
    {"alice", "sql:Select", "table/curated.sales.orders", false, "no-select-grant"},
    {"alice", "sql:Select", "*", false, "default-deny"},
    {"alice", "firehose:ListDeliveryStreams", "deliverystream/*", true, "listing"},
    {"alice", "firehose:DescribeDeliveryStream", "deliverystream/s", true, "listing"},
    {"alice", "firehose:PutRecordBatch", "deliverystream/s", true,
     "insert-checked-on-destination"},
    {"alice", "firehose:PutRecord", "table/raw.web.events", false, "no-insert-grant"},
    {"alice", "firehose:CreateDeliveryStream", "deliverystream/*", false, "no-iam-grant"},
    {"alice", "process:GetPipeline", "pipeline/daily", true, AUTHZ_RULE_OWNER_CHECKED},
    {"alice", "process:GetPipeline", "table/curated.a.b", false, "admin-only"},
    {"alice", "process:ListQuarantine", "quarantine/*", false, "admin-only"},
    {"alice", "iam:CreateUser", "*", false, "no-iam-grant"},
    {"alice", "grants:Grant", "*", true, "grant-option"},
    {"alice", "audit:Read", "*", false, "default-deny"},
    {"alice", "metrics:Read", "metrics", false, "default-deny"},
    /* bob, through his group and the role it holds. */
    {"bob", "sql:Select", "table/curated.sales.orders", true, "grant:sel_orders"},
    {"bob", "catalog:Describe", "table/curated.sales.orders", true, "grant:sel_orders"},
    {"bob", "catalog:Describe", "database/curated.sales", true, "grant:sel_orders"},
    {"bob", "catalog:Describe", "database/curated.hr", false, "no-catalog-grant"},
    {"bob", "s3:GetObject", "raw/web/a.json", true, "grant:read_raw_web"},
    {"bob", "s3:ListObjectsV2", "raw/web/", true, "grant:read_raw_web"},
    {"bob", "s3:ListObjectsV2", "raw", false, "no-location-grant"},
    {"bob", "s3:PutObject", "raw/web/a.json", false, "no-location-grant"},
    /* A curated table's file also needs an unrestricted SELECT on the table. */
    {"bob", "s3:GetObject", "curated/sales/orders/p1.parquet", true, "grant:read_curated_sales"},
    {"bob", "s3:HeadObject", "curated/sales/other/p1.parquet", false, "needs-unrestricted-select"},
    {"bob", "s3:ListObjectsV2", "curated/sales/", true, "grant:read_curated_sales"},
    /* carol, through her role and directly. */
    {"carol", "s3:PutObject", "raw/landing/f.csv", true, "grant:write_landing"},
    {"carol", "s3:CreateMultipartUpload", "raw/landing/big.csv", true, "grant:write_landing"},
    {"carol", "s3:PutObject", "raw/landingx/f.csv", false, "no-location-grant"},
    {"carol", "s3:GetObject", "raw/landing/f.csv", false, "no-location-grant"},
    {"carol", "firehose:PutRecord", "table/raw.web.events", true, "grant:insert_events"},
    {"carol", "catalog:Insert", "table/raw.web.events", true, "grant:insert_events"},
    {"carol", "catalog:Insert", "table/raw.web.clicks", false, "no-catalog-grant"},
    {"carol", "sql:Select", "table/raw.web.clicks", true, "grant:sel_raw_web"},
    {"carol", "sql:Select", "table/raw.webx.clicks", false, "no-select-grant"},
    /* dan manages identities, grants, streams and every pipeline; no data comes with it. */
    {"dan", "iam:CreateUser", "*", true, "grant:iam_all"},
    {"dan", "grants:Grant", "*", true, "grant:iam_all"},
    {"dan", "firehose:CreateDeliveryStream", "deliverystream/*", true, "grant:iam_all"},
    {"dan", "process:DeletePipeline", "pipeline/daily", true, "grant:iam_all"},
    {"dan", "process:ListQuarantine", "quarantine/*", false, "admin-only"},
    {"dan", "s3:GetObject", "raw/x", false, "no-location-grant"},
    {"dan", "sql:Select", "table/curated.sales.orders", false, "no-select-grant"},
    {"dan", "audit:Read", "*", false, "default-deny"},
    /* erin: some columns, a location, a database and a table. */
    {"erin", "sql:Select", "table/curated.sales.orders", true, "grant:sel_order_ids"},
    {"erin", "s3:GetObject", "curated/sales/orders/p1.parquet", false,
     "needs-unrestricted-select"},
    {"erin", "s3:GetObject", "curated/README", true, "grant:read_curated"},
    {"erin", "catalog:CreateTable", "table/curated.sales.new", true, "grant:create_sales"},
    {"erin", "catalog:CreateTable", "table/curated.hr.new", false, "no-catalog-grant"},
    {"erin", "catalog:Alter", "table/curated.sales.daily", true, "grant:alter_daily"},
    {"erin", "catalog:Alter", "table/curated.sales.other", false, "no-catalog-grant"},
    {"erin", "catalog:Describe", "table/curated.hr.salaries", true, "grant:describe_hr"},
    {"erin", "catalog:Describe", "database/curated.hr", true, "grant:describe_hr"},
    {"erin", "sql:Select", "table/curated.hr.salaries", false, "no-select-grant"},
};

static void test_decision_table(void **state)
{
    fixture_t *f = *state;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        authz_principal_t p = principal(f, table[i].who);
        authz_decision_t d;
        memset(&d, 0xAA, sizeof d); /* every field must be written */
        int rc = authz_check(&p, table[i].action, table[i].resource, &d);
        char want[48];
        expected_rule(f, table[i].rule, want, sizeof want);
        if (d.allowed != table[i].allowed || strcmp(d.rule, want) ||
            rc != (table[i].allowed ? 0 : TARN_EDENIED))
            fail_msg("%s %s %s: %s by '%.48s' (rc %d), expected %s by '%s'", table[i].who,
                     table[i].action, table[i].resource, d.allowed ? "allowed" : "denied", d.rule,
                     rc, table[i].allowed ? "allowed" : "denied", want);
        /* The same answer without asking for the decision. */
        assert_int_equal(authz_check(&p, table[i].action, table[i].resource, NULL), rc);
    }
    /* No resource is a wildcard. */
    authz_principal_t alice = principal(f, "alice");
    authz_decision_t d;
    assert_int_equal(authz_check(&alice, "sql:Select", NULL, &d), TARN_EDENIED);
    assert_string_equal(d.rule, "default-deny");
    assert_int_equal(authz_check(NULL, "s3:GetObject", "raw/x", &d), TARN_EDENIED);
    assert_string_equal(d.rule, "anonymous");
}

/* A user deleted keeps nothing, even under an id a caller still holds. */
static void test_deleted_user_is_refused(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    authz_principal_t bob = principal(f, "bob");
    authz_decision_t d;
    assert_int_equal(authz_check(&bob, "sql:Select", "table/curated.sales.orders", &d), 0);
    assert_int_equal(iam_user_delete(f->l.iam, "bob", &err), 0);
    assert_int_equal(authz_check(&bob, "sql:Select", "table/curated.sales.orders", &d),
                     TARN_EDENIED);
    assert_string_equal(d.rule, "no-select-grant");
    assert_int_equal(authz_check(&bob, "s3:GetObject", "raw/web/a.json", &d), TARN_EDENIED);
    assert_string_equal(d.rule, "no-location-grant");
}

static void test_buckets_and_iam_admins(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *who, *bucket;
        bool visible;
    } seen[] = {
        {"admin", "raw", true},      {"admin", "anything", true}, {"anonymous", "raw", false},
        {"ghost", "raw", false},     {"alice", "raw", false},     {"alice", "curated", false},
        {"bob", "raw", true},        {"bob", "curated", true},    {"bob", "cleaned", false},
        {"carol", "raw", true},      {"carol", "curated", false}, {"dan", "raw", false},
        {"erin", "curated", true},   {"erin", "raw", false},      {"erin", "cur", false},
    };
    for (size_t i = 0; i < sizeof seen / sizeof *seen; i++) {
        authz_principal_t p = principal(f, seen[i].who);
        if (authz_bucket_visible(&p, seen[i].bucket) != seen[i].visible)
            fail_msg("%s %s the bucket %s", seen[i].who, seen[i].visible ? "misses" : "sees",
                     seen[i].bucket);
    }
    const char *admins[] = {"admin", "dan"}, *others[] = {"anonymous", "ghost", "alice", "erin"};
    for (size_t i = 0; i < 2; i++) {
        authz_principal_t p = principal(f, admins[i]);
        int64_t id = -1;
        assert_true(authz_iam_admin(&p, &id));
        assert_int_equal(id, i == 0 ? 0 : grant_id(f, "iam_all")); /* the admin needs none */
    }
    for (size_t i = 0; i < 4; i++) {
        authz_principal_t p = principal(f, others[i]);
        int64_t id = -1;
        assert_false(authz_iam_admin(&p, &id));
        assert_int_equal(id, 0);
    }
}

static void test_table_access(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *who, *table;
        bool allowed, all_columns;
        const char *rule;
    } rows[] = {
        {"admin", "curated.any.thing", true, true, "admin"},
        {"anonymous", "curated.sales.orders", false, false, "anonymous"},
        {"ghost", "curated.sales.orders", false, false, "no-grants"},
        {"alice", "curated.sales.orders", false, false, "no-select-grant"},
        {"bob", "curated.sales.orders", true, true, "grant:sel_orders"},
        {"erin", "curated.sales.orders", true, false, "grant:sel_order_ids"},
        {"carol", "raw.web.anything", true, true, "grant:sel_raw_web"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        authz_principal_t p = principal(f, rows[i].who);
        grants_access_t a;
        authz_decision_t d;
        tarn_err_t err = {0};
        assert_int_equal(authz_table_access(&p, rows[i].table, &a, &d, &err), 0);
        char want[48];
        expected_rule(f, rows[i].rule, want, sizeof want);
        if (a.allowed != rows[i].allowed || d.allowed != rows[i].allowed ||
            a.all_columns != rows[i].all_columns || strcmp(d.rule, want))
            fail_msg("%s on %s: allowed %d, all columns %d, rule %s", rows[i].who,
                     rows[i].table, a.allowed, a.all_columns, d.rule);
        if (a.allowed && !a.all_columns) {
            assert_true(grants_access_shows(&a, "ID"));
            assert_false(grants_access_shows(&a, "amount"));
        }
        grants_access_free(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decision_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_user_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buckets_and_iam_admins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_access, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
