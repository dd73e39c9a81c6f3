/* Unit tests for grants and authz_check: what each grant allows and nothing more,
 * through users, groups and roles; table wildcards; location prefixes; the union of
 * column sets and row filters; the grant option; revocation and deletion taking effect at
 * once; validation of what is granted; the mapping of actions to permissions
 * (pipelines' owner-checked actions included); principals by id (deleted and created
 * again, they start with nothing) and the migration of lakes that named them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "govern/authz.h"
#include "govern/grants_sql.h"
#include "govern_fixture.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef govern_fixture_t fixture_t;

static int setup(void **state)
{
    tarn_err_t err = {0};
    if (govern_fixture_setup(state))
        return -1;
    fixture_t *f = *state;
    const char *users[] = {"alice", "bob", "carol", "dan"};
    for (int i = 0; i < 4; i++)
        if (iam_user_create(f->iam, users[i], false, NULL, &err))
            return -1;
    return 0;
}

static int teardown(void **state)
{
    return govern_fixture_teardown(state);
}

static int64_t grant(fixture_t *f, const char *principal, const char *perm, const char *res,
                     const char *columns, const char *excluded, bool option)
{
    tarn_err_t err = {0};
    json_t *c = columns ? json_loads(columns, 0, NULL) : NULL;
    json_t *x = excluded ? json_loads(excluded, 0, NULL) : NULL;
    grant_spec_t s = {principal, perm, res, c, x, option};
    int64_t id = 0;
    int rc = grants_grant(f->g, &s, "admin", &id, &err);
    json_decref(c);
    json_decref(x);
    if (rc)
        fail_msg("grant %s %s %s: %s", principal, perm, res, err.msg);
    return id;
}

/* The id of a living user (grants are looked up by id), or 0. */
static int64_t uid(fixture_t *f, const char *user)
{
    arena_t *a = arena_create();
    iam_user_t u = {0};
    tarn_err_t err = {0};
    int64_t id = a && !iam_user_get(f->iam, user, &u, a, &err) ? u.id : 0;
    arena_free(a);
    return id;
}

static authz_principal_t principal(fixture_t *f, const char *user)
{
    return (authz_principal_t){.name = user, .id = uid(f, user), .grants = f->g};
}

static bool may(fixture_t *f, const char *user, const char *action, const char *res)
{
    authz_principal_t p = principal(f, user);
    return authz_check(&p, action, res, NULL) == 0;
}

static void test_nothing_is_open(void **state)
{
    fixture_t *f = *state;
    assert_false(may(f, "alice", "s3:GetObject", "raw/x.csv"));
    assert_false(may(f, "alice", "s3:PutObject", "raw/x.csv"));
    assert_false(may(f, "alice", "sql:Select", "table/curated.sales.orders"));
    assert_false(may(f, "alice", "catalog:Describe", "table/curated.sales.orders"));
    assert_false(may(f, "alice", "iam:CreateUser", "*"));
    assert_false(may(f, "alice", "audit:Read", "*"));
    assert_true(may(f, "alice", "iam:GetCallerIdentity", "*"));
    authz_principal_t admin = {.name = "root", .admin = true};
    authz_decision_t d;
    assert_int_equal(authz_check(&admin, "audit:Read", "*", &d), 0);
    assert_string_equal(d.rule, "admin");
    authz_principal_t anon = {0};
    assert_int_equal(authz_check(&anon, "s3:GetObject", "raw/x", &d), TARN_EDENIED);
}

static void test_tables_wildcards_and_describe(void **state)
{
    fixture_t *f = *state;
    int64_t id = grant(f, "user:alice", "SELECT", "table:curated.sales.orders", NULL, NULL, false);
    grant(f, "user:alice", "SELECT", "table:raw.web.*", NULL, NULL, false);
    authz_principal_t p = principal(f, "alice");
    authz_decision_t d;
    assert_int_equal(authz_check(&p, "sql:Select", "table/curated.sales.orders", &d), 0);
    char want[48];
    snprintf(want, sizeof want, "grant:%lld", (long long)id);
    assert_string_equal(d.rule, want);
    assert_true(may(f, "alice", "sql:Select", "table/raw.web.clicks"));
    assert_false(may(f, "alice", "sql:Select", "table/raw.webx.clicks"));
    assert_false(may(f, "alice", "sql:Select", "table/curated.sales.customers"));
    /* DESCRIBE comes with SELECT; the database is describable through its table */
    assert_true(may(f, "alice", "catalog:Describe", "table/curated.sales.orders"));
    assert_true(may(f, "alice", "catalog:Describe", "database/curated.sales"));
    assert_false(may(f, "alice", "catalog:Describe", "database/curated.hr"));
    assert_false(may(f, "alice", "catalog:Alter", "table/curated.sales.orders"));
    grant(f, "user:bob", "DESCRIBE", "database:curated.hr", NULL, NULL, false);
    assert_true(may(f, "bob", "catalog:Describe", "table/curated.hr.salaries"));
    assert_false(may(f, "bob", "sql:Select", "table/curated.hr.salaries"));
    grant(f, "user:bob", "CREATE_TABLE", "database:curated.hr", NULL, NULL, false);
    assert_true(may(f, "bob", "catalog:CreateTable", "table/curated.hr.new_one"));
    assert_false(may(f, "bob", "catalog:CreateTable", "table/curated.sales.new_one"));
}

static void test_locations(void **state)
{
    fixture_t *f = *state;
    grant(f, "user:carol", "READ", "location:raw/clicks/", NULL, NULL, false);
    grant(f, "user:carol", "WRITE", "location:raw/clicks/2024", NULL, NULL, false);
    assert_true(may(f, "carol", "s3:GetObject", "raw/clicks/a.json"));
    assert_true(may(f, "carol", "s3:ListObjectsV2", "raw/clicks/"));
    assert_false(may(f, "carol", "s3:ListObjectsV2", "raw"));
    assert_false(may(f, "carol", "s3:GetObject", "raw/clicksx/a.json"));
    assert_false(may(f, "carol", "s3:PutObject", "raw/clicks/a.json"));
    assert_true(may(f, "carol", "s3:PutObject", "raw/clicks/2024/a.json"));
    assert_false(may(f, "carol", "s3:PutObject", "raw/clicks/20245/a.json"));
    assert_false(may(f, "carol", "s3:DeleteBucket", "raw"));
    assert_true(may(f, "carol", "s3:ListBuckets", "*"));
    /* a curated file needs an unrestricted SELECT on its table as well */
    grant(f, "user:carol", "READ", "location:curated", NULL, NULL, false);
    assert_false(may(f, "carol", "s3:GetObject", "curated/sales/orders/p1.parquet"));
    grant(f, "user:carol", "SELECT", "table:curated.sales.orders", "[\"id\"]", NULL, false);
    assert_false(may(f, "carol", "s3:GetObject", "curated/sales/orders/p1.parquet"));
    grant(f, "user:carol", "SELECT", "table:curated.sales.orders", NULL, NULL, false);
    assert_true(may(f, "carol", "s3:GetObject", "curated/sales/orders/p1.parquet"));
    assert_true(may(f, "carol", "s3:GetObject", "curated/README"));
}

static void test_groups_roles_and_revocation(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    assert_int_equal(grants_group_create(f->g, "analysts", &err), 0);
    assert_int_equal(grants_group_add(f->g, "analysts", "dan", &err), 0);
    assert_int_equal(grants_role_create(f->g, "reader", &err), 0);
    assert_int_equal(grants_role_assign(f->g, "reader", "group:analysts", &err), 0);
    grant(f, "role:reader", "SELECT", "table:curated.hr.salaries", NULL, NULL, false);
    assert_true(may(f, "dan", "sql:Select", "table/curated.hr.salaries"));
    assert_false(may(f, "alice", "sql:Select", "table/curated.hr.salaries"));
    assert_int_equal(grants_group_remove(f->g, "analysts", "dan", &err), 0);
    assert_false(may(f, "dan", "sql:Select", "table/curated.hr.salaries"));
    assert_int_equal(grants_role_assign(f->g, "reader", "user:dan", &err), 0);
    assert_true(may(f, "dan", "sql:Select", "table/curated.hr.salaries"));
    assert_int_equal(grants_revoke(f->g, "role:reader", "SELECT", "table:curated.hr.salaries", &err),
                     0);
    assert_false(may(f, "dan", "sql:Select", "table/curated.hr.salaries"));
    assert_int_equal(grants_revoke(f->g, "role:reader", "SELECT", "table:curated.hr.salaries", &err),
                     TARN_ENOTFOUND);
    grant(f, "role:reader", "SELECT", "table:curated.hr.salaries", NULL, NULL, false);
    assert_int_equal(grants_role_delete(f->g, "reader", &err), 0);
    assert_false(may(f, "dan", "sql:Select", "table/curated.hr.salaries"));
    /* deleting a user takes its grants with it */
    grant(f, "user:dan", "SELECT", "table:curated.hr.salaries", NULL, NULL, false);
    assert_int_equal(iam_user_delete(f->iam, "dan", &err), 0);
    json_t *list;
    assert_int_equal(grants_list(f->g, "user:dan", NULL, &list, &err), 0);
    assert_int_equal(json_array_size(json_object_get(list, "grants")), 0);
    json_decref(list);
}

static void test_columns_and_filters_add_up(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    grants_access_t a;
    grant(f, "user:bob", "SELECT", "table:curated.shop.orders", "[\"id\", \"amount\"]", NULL, false);
    assert_int_equal(grants_table_access(f->g, uid(f, "bob"), "curated.shop.orders", &a, &err), 0);
    assert_true(a.allowed);
    assert_false(a.all_columns);
    assert_int_equal(json_array_size(a.columns), 2);
    assert_null(a.row_filter);
    grants_access_free(&a);
    json_t *cols = json_pack("[s, s]", "id", "region");
    assert_int_equal(grants_filter_create(f->g, "curated.shop.orders", "eu", "region = 'eu'", cols,
                                          NULL, &err),
                     0);
    json_decref(cols);
    assert_int_equal(grants_filter_create(f->g, "curated.shop.orders", "big", "amount > 100",
                                          NULL, NULL, &err),
                     0);
    assert_int_equal(grants_group_create(f->g, "eu_team", &err), 0);
    assert_int_equal(grants_group_add(f->g, "eu_team", "alice", &err), 0);
    grant(f, "group:eu_team", "SELECT", "filter:curated.shop.orders.eu", NULL, NULL, false);
    grant(f, "user:alice", "SELECT", "filter:curated.shop.orders.big", NULL, NULL, false);
    assert_int_equal(grants_table_access(f->g, uid(f, "alice"), "curated.shop.orders", &a, &err),
                     0);
    assert_true(a.allowed);
    /* the big filter shows every column; the rows of either filter */
    assert_true(a.all_columns);
    assert_non_null(a.row_filter);
    assert_non_null(strstr(a.row_filter, "(region = 'eu')"));
    assert_non_null(strstr(a.row_filter, " OR "));
    assert_non_null(strstr(a.row_filter, "(amount > 100)"));
    grants_access_free(&a);
    /* exclusions intersect */
    grant(f, "user:carol", "SELECT", "table:curated.shop.items", NULL, "[\"cost\", \"margin\"]",
          false);
    grant(f, "user:carol", "SELECT", "table:curated.shop.*", NULL, "[\"margin\"]", false);
    assert_int_equal(grants_table_access(f->g, uid(f, "carol"), "curated.shop.items", &a, &err), 0);
    assert_false(a.all_columns);
    assert_int_equal(json_array_size(a.excluded), 1);
    assert_string_equal(json_string_value(json_array_get(a.excluded, 0)), "margin");
    grants_access_free(&a);
    /* deleting a filter deletes its grants */
    assert_int_equal(grants_filter_delete(f->g, "curated.shop.orders", "big", &err), 0);
    assert_int_equal(grants_table_access(f->g, uid(f, "alice"), "curated.shop.orders", &a, &err),
                     0);
    assert_false(a.all_columns);
    assert_string_equal(a.row_filter, "(region = 'eu')");
    grants_access_free(&a);
}

static void test_grant_option_and_iam(void **state)
{
    fixture_t *f = *state;
    grant(f, "user:alice", "SELECT", "table:curated.a.b", NULL, NULL, true);
    grant(f, "user:bob", "SELECT", "table:curated.a.b", NULL, NULL, false);
    int64_t id;
    assert_true(grants_allows(f->g, uid(f, "alice"), GRANT_SELECT, "table:curated.a.b", true, &id));
    assert_false(grants_allows(f->g, uid(f, "bob"), GRANT_SELECT, "table:curated.a.b", true, &id));
    assert_false(may(f, "bob", "iam:CreateUser", "*"));
    grant(f, "user:bob", "ALL", "iam", NULL, NULL, false);
    assert_true(may(f, "bob", "iam:CreateUser", "*"));
    assert_true(may(f, "bob", "iam:ListGroups", "*"));
}

/* Pipelines: the admin and ALL on iam manage every one; anyone else is let through as
 * "owner-checked" (the handler compares the owner); table rollback and compaction are
 * catalog:Alter; other process actions stay the admin's. */
static void test_pipelines_and_table_changes(void **state)
{
    fixture_t *f = *state;
    static const char *const actions[] = {
        "process:ListPipelines",   "process:GetPipeline",      "process:ApplyPipeline",
        "process:DeletePipeline",  "process:StartPipelineRun", "process:GetPipelineRuns",
    };
    authz_principal_t alice = principal(f, "alice");
    authz_principal_t admin = {.name = "root", .admin = true};
    authz_decision_t d;
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++) {
        assert_int_equal(authz_check(&alice, actions[i], "pipeline/daily", &d), 0);
        assert_string_equal(d.rule, AUTHZ_RULE_OWNER_CHECKED);
        assert_int_equal(authz_check(&alice, actions[i], "pipeline/*", &d), 0);
        assert_string_equal(d.rule, AUTHZ_RULE_OWNER_CHECKED);
        assert_int_equal(authz_check(&admin, actions[i], "pipeline/daily", &d), 0);
        assert_string_equal(d.rule, "admin");
    }
    /* Not a pipeline action, or not a pipeline: the admin's. */
    assert_false(may(f, "alice", "process:ListQuarantine", "quarantine/*"));
    assert_false(may(f, "alice", "process:ReleaseQuarantine", "quarantine/*"));
    assert_false(may(f, "alice", "process:GetPipeline", "table/curated.a.b"));
    assert_false(may(f, "alice", "process:RunEverything", "pipeline/daily"));
    authz_principal_t anon = {0};
    assert_int_equal(authz_check(&anon, "process:GetPipeline", "pipeline/daily", &d),
                     TARN_EDENIED);
    int64_t id = 0;
    assert_false(authz_iam_admin(&alice, &id));
    assert_true(authz_iam_admin(&admin, &id));
    assert_int_equal(id, 0);
    assert_false(authz_iam_admin(&anon, NULL));
    int64_t g = grant(f, "user:bob", "ALL", "iam", NULL, NULL, false);
    authz_principal_t bob = principal(f, "bob");
    assert_true(authz_iam_admin(&bob, &id));
    assert_int_equal(id, g);
    assert_int_equal(authz_check(&bob, "process:DeletePipeline", "pipeline/daily", &d), 0);
    char rule[32];
    snprintf(rule, sizeof rule, "grant:%lld", (long long)g);
    assert_string_equal(d.rule, rule);
    assert_false(may(f, "bob", "process:ListQuarantine", "quarantine/*"));
    /* Rollback and compaction: ALTER on the table or its database. */
    assert_false(may(f, "carol", "catalog:Alter", "table/curated.sales.daily"));
    grant(f, "user:carol", "ALTER", "table:curated.sales.daily", NULL, NULL, false);
    assert_true(may(f, "carol", "catalog:Alter", "table/curated.sales.daily"));
    assert_false(may(f, "carol", "catalog:Alter", "table/curated.sales.other"));
    grant(f, "user:dan", "ALTER", "database:curated.sales", NULL, NULL, false);
    assert_true(may(f, "dan", "catalog:Alter", "table/curated.sales.other"));
    assert_false(may(f, "dan", "catalog:Alter", "table/curated.hr.salaries"));
}

static void test_bad_grants_are_refused(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *principal, *perm, *res, *cols, *why;
    } bad[] = {
        {"user:nobody", "SELECT", "table:curated.a.b", NULL, "does not exist"},
        {"alice", "SELECT", "table:curated.a.b", NULL, "user:NAME"},
        {"user:alice", "READ", "table:curated.a.b", NULL, "cannot be granted"},
        {"user:alice", "SELECT", "location:raw", NULL, "cannot be granted"},
        {"user:alice", "SELECT", "table:curated.a", NULL, "not a"},
        {"user:alice", "SELECT", "table:curated.*.b", NULL, "not a"},
        {"user:alice", "SELECT", "bucket:raw", NULL, "a resource is"},
        {"user:alice", "INSERT", "table:curated.a.b", "[\"x\"]", "only with SELECT"},
        {"user:alice", "SELECT", "filter:curated.a.b.none", NULL, "no filter"},
        {"user:alice", "SELECT", "table:curated.a.b", "[]", "list of column names"},
        {"user:alice", "FLY", "table:curated.a.b", NULL, "cannot be granted"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tarn_err_t err = {0};
        json_t *c = bad[i].cols ? json_loads(bad[i].cols, 0, NULL) : NULL;
        grant_spec_t s = {bad[i].principal, bad[i].perm, bad[i].res, c, NULL, false};
        assert_int_not_equal(grants_grant(f->g, &s, "admin", NULL, &err), 0);
        if (!strstr(err.msg, bad[i].why))
            fail_msg("%s %s %s: '%s' does not say '%s'", bad[i].principal, bad[i].perm,
                     bad[i].res, err.msg, bad[i].why);
        json_decref(c);
    }
}

static void test_statements_parse(void **state)
{
    (void)state;
    grant_statement_t st;
    tarn_err_t err = {0};
    assert_int_equal(grants_parse("GRANT SELECT, insert ON TABLE curated.sales.orders (id, "
                                  "amount) TO alice WITH GRANT OPTION",
                                  &st, &err),
                     0);
    assert_false(st.revoke);
    assert_int_equal(json_array_size(st.permissions), 2);
    assert_string_equal(json_string_value(json_array_get(st.permissions, 1)), "INSERT");
    assert_string_equal(st.resource, "table:curated.sales.orders");
    assert_string_equal(st.principal, "user:alice");
    assert_int_equal(json_array_size(st.columns), 2);
    assert_true(st.grant_option);
    grants_statement_free(&st);
    assert_int_equal(grants_parse("revoke select on \"curated.sales.orders\" from group analysts;",
                                  &st, &err),
                     0);
    assert_true(st.revoke);
    assert_string_equal(st.resource, "table:curated.sales.orders");
    assert_string_equal(st.principal, "group:analysts");
    grants_statement_free(&st);
    assert_int_equal(grants_parse("GRANT CREATE TABLE ON DATABASE raw.web TO role:loader", &st,
                                  &err),
                     0);
    assert_string_equal(json_string_value(json_array_get(st.permissions, 0)), "CREATE_TABLE");
    assert_string_equal(st.resource, "database:raw.web");
    grants_statement_free(&st);
    assert_int_equal(grants_parse("GRANT SELECT ON curated.a.b EXCLUDING (ssn) TO bob", &st, &err),
                     0);
    assert_int_equal(json_array_size(st.excluded), 1);
    grants_statement_free(&st);
    assert_int_equal(grants_parse("GRANT ALL ON IAM TO user:ops", &st, &err), 0);
    assert_string_equal(st.resource, "iam");
    grants_statement_free(&st);
    const char *bad[] = {"", "SELECT 1", "GRANT", "GRANT SELECT", "GRANT SELECT ON t",
                         "GRANT SELECT ON t TO", "REVOKE SELECT ON t TO x",
                         "GRANT SELECT ON t TO x WITH", "REVOKE SELECT ON t FROM x WITH GRANT OPTION",
                         "GRANT SELECT ON t TO x y"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(grants_parse(bad[i], &st, &err), TARN_EINVAL);
        assert_string_equal(tarn_reason_name(err.reason), "SyntaxError");
    }
}

/* Grants, memberships and role holdings belong to a principal's id, never its name: a
 * user, group or role deleted and created again under the same name starts with nothing,
 * the old id is refused everything, and no listing shows what the old one held. */
static void test_principals_die_whole(void **state)
{
    fixture_t *f = *state;
    tarn_err_t err = {0};
    json_t *list;
    /* a user: grants, a group membership and a role of its own */
    assert_int_equal(grants_group_create(f->g, "analysts", &err), 0);
    assert_int_equal(grants_role_create(f->g, "reader", &err), 0);
    assert_int_equal(grants_group_add(f->g, "analysts", "dan", &err), 0);
    assert_int_equal(grants_role_assign(f->g, "reader", "user:dan", &err), 0);
    grant(f, "user:dan", "SELECT", "table:curated.hr.salaries", NULL, NULL, false);
    grant(f, "group:analysts", "SELECT", "table:curated.sales.orders", NULL, NULL, false);
    grant(f, "role:reader", "READ", "location:raw/hr", NULL, NULL, false);
    int64_t old_dan = uid(f, "dan");
    assert_true(may(f, "dan", "sql:Select", "table/curated.hr.salaries"));
    assert_true(may(f, "dan", "sql:Select", "table/curated.sales.orders"));
    assert_true(may(f, "dan", "s3:GetObject", "raw/hr/x.csv"));
    assert_int_equal(iam_user_delete(f->iam, "dan", &err), 0);
    assert_int_equal(iam_user_create(f->iam, "dan", false, NULL, &err), 0);
    assert_true(uid(f, "dan") > old_dan);
    assert_false(may(f, "dan", "sql:Select", "table/curated.hr.salaries"));
    assert_false(may(f, "dan", "sql:Select", "table/curated.sales.orders"));
    assert_false(may(f, "dan", "s3:GetObject", "raw/hr/x.csv"));
    /* the old id (an open session's) holds nothing either */
    authz_principal_t ghost = {.name = "dan", .id = old_dan, .grants = f->g};
    assert_int_not_equal(authz_check(&ghost, "sql:Select", "table/curated.hr.salaries", NULL), 0);
    assert_false(grants_allows(f->g, old_dan, GRANT_READ, "location:raw/hr/x.csv", false, NULL));
    assert_int_equal(grants_list(f->g, "user:dan", NULL, &list, &err), 0);
    assert_int_equal(json_array_size(json_object_get(list, "grants")), 0);
    json_decref(list);
    assert_int_equal(grants_groups_list(f->g, &list, &err), 0);
    assert_int_equal(json_array_size(json_object_get(
                         json_array_get(json_object_get(list, "groups"), 0), "members")),
                     0);
    json_decref(list);
    assert_int_equal(grants_roles_list(f->g, &list, &err), 0);
    assert_int_equal(json_array_size(json_object_get(
                         json_array_get(json_object_get(list, "roles"), 0), "holders")),
                     0);
    json_decref(list);
    /* a group: its new namesake's members get none of the old group's grants */
    assert_int_equal(grants_group_add(f->g, "analysts", "alice", &err), 0);
    assert_int_equal(grants_role_assign(f->g, "reader", "group:analysts", &err), 0);
    assert_true(may(f, "alice", "sql:Select", "table/curated.sales.orders"));
    assert_true(may(f, "alice", "s3:GetObject", "raw/hr/x.csv"));
    assert_int_equal(grants_group_delete(f->g, "analysts", &err), 0);
    assert_int_equal(grants_group_create(f->g, "analysts", &err), 0);
    assert_int_equal(grants_group_add(f->g, "analysts", "alice", &err), 0);
    assert_false(may(f, "alice", "sql:Select", "table/curated.sales.orders"));
    assert_false(may(f, "alice", "s3:GetObject", "raw/hr/x.csv"));
    assert_int_equal(grants_list(f->g, "group:analysts", NULL, &list, &err), 0);
    assert_int_equal(json_array_size(json_object_get(list, "grants")), 0);
    json_decref(list);
    /* a role: its new namesake's holders get none of the old role's grants */
    assert_int_equal(grants_role_assign(f->g, "reader", "user:bob", &err), 0);
    assert_true(may(f, "bob", "s3:GetObject", "raw/hr/x.csv"));
    assert_int_equal(grants_role_delete(f->g, "reader", &err), 0);
    assert_int_equal(grants_role_create(f->g, "reader", &err), 0);
    assert_int_equal(grants_role_assign(f->g, "reader", "user:bob", &err), 0);
    assert_false(may(f, "bob", "s3:GetObject", "raw/hr/x.csv"));
    assert_int_equal(grants_list(f->g, NULL, NULL, &list, &err), 0);
    assert_int_equal(json_array_size(json_object_get(list, "grants")), 0);
    json_decref(list);
    /* no row anywhere still refers to a principal that is gone */
    sqlite3_stmt *st = NULL;
    assert_int_equal(db_prepare(f->db, &st,
                                "SELECT (SELECT count(*) FROM grants) +"
                                " (SELECT count(*) FROM iam_role_holders WHERE holder_kind ="
                                " 'user' AND holder_id NOT IN (SELECT id FROM users)) +"
                                " (SELECT count(*) FROM iam_group_members WHERE user_id NOT IN"
                                " (SELECT id FROM users))",
                                &err),
                     0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    db_done(f->db, st);
}

/* A lake made before principals had ids: users, keys, groups, roles and grants recorded
 * by name. Opening it maps every name to an id; each grant keeps its id and still
 * applies, through groups and roles too; a row naming no principal is not carried over. */
static void test_migration_maps_names_to_ids(void **state)
{
    (void)state;
    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/tarn-grants-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tarn.db", dir);
    db_t *db = NULL;
    iam_t *iam = NULL;
    grants_t *g = NULL;
    tarn_err_t err = {0};
    assert_int_equal(db_open(&db, path, &err), 0);
    static const char *const old_lake =
        "CREATE TABLE schema_versions(name TEXT PRIMARY KEY, version INTEGER NOT NULL);"
        "INSERT INTO schema_versions VALUES ('iam', 3), ('grants', 9);"
        "CREATE TABLE users(name TEXT PRIMARY KEY, admin INTEGER NOT NULL DEFAULT 0,"
        " created_ms INTEGER NOT NULL, password_hash TEXT, scram_verifier TEXT);"
        "CREATE TABLE access_keys(access_key TEXT PRIMARY KEY,"
        " user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
        " secret_sealed TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'active',"
        " created_ms INTEGER NOT NULL, last_used_ms INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX access_keys_by_user ON access_keys(user);"
        "CREATE TABLE iam_groups(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);"
        "CREATE TABLE iam_group_members(grp TEXT NOT NULL REFERENCES iam_groups(name)"
        " ON DELETE CASCADE, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
        " PRIMARY KEY(grp, user));"
        "CREATE TABLE iam_roles(name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);"
        "CREATE TABLE iam_role_holders(role TEXT NOT NULL REFERENCES iam_roles(name)"
        " ON DELETE CASCADE, holder TEXT NOT NULL, PRIMARY KEY(role, holder));"
        "CREATE TABLE data_filters(tbl TEXT NOT NULL, name TEXT NOT NULL, row_filter TEXT,"
        " columns TEXT, excluded TEXT, created_ms INTEGER NOT NULL, PRIMARY KEY(tbl, name));"
        "CREATE TABLE grants(id INTEGER PRIMARY KEY, principal TEXT NOT NULL,"
        " permission TEXT NOT NULL, resource TEXT NOT NULL, columns TEXT, excluded TEXT,"
        " grant_option INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,"
        " created_by TEXT NOT NULL, UNIQUE(principal, permission, resource));"
        "CREATE TRIGGER grants_user_gone AFTER DELETE ON users BEGIN"
        " DELETE FROM grants WHERE principal = 'user:' || old.name;"
        " DELETE FROM iam_role_holders WHERE holder = 'user:' || old.name; END;"
        "CREATE TRIGGER grants_group_gone AFTER DELETE ON iam_groups BEGIN"
        " DELETE FROM grants WHERE principal = 'group:' || old.name;"
        " DELETE FROM iam_role_holders WHERE holder = 'group:' || old.name; END;"
        "CREATE TRIGGER grants_role_gone AFTER DELETE ON iam_roles BEGIN"
        " DELETE FROM grants WHERE principal = 'role:' || old.name; END;"
        /* created out of name order, so ids follow creation, not names */
        "INSERT INTO users(name, admin, created_ms) VALUES ('root', 1, 1), ('zed', 0, 2),"
        " ('amy', 0, 3);"
        "INSERT INTO access_keys(access_key, user, secret_sealed, created_ms) VALUES"
        " ('TKZED', 'zed', 'sealed', 5), ('TKAMY', 'amy', 'sealed', 6);"
        "INSERT INTO iam_groups VALUES ('ops', 7);"
        "INSERT INTO iam_group_members VALUES ('ops', 'amy');"
        "INSERT INTO iam_roles VALUES ('auditor', 8);"
        "INSERT INTO iam_role_holders VALUES ('auditor', 'group:ops'), ('auditor', 'user:zed'),"
        " ('auditor', 'user:gone');"
        "INSERT INTO grants(id, principal, permission, resource, columns, grant_option,"
        " created_ms, created_by) VALUES"
        " (4, 'user:zed', 'SELECT', 'table:curated.a.b', '[\"x\"]', 1, 9, 'root'),"
        " (7, 'group:ops', 'READ', 'location:raw/ops', NULL, 0, 9, 'root'),"
        " (9, 'role:auditor', 'DESCRIBE', 'database:curated.hr', NULL, 0, 9, 'root'),"
        " (12, 'user:gone', 'ALL', 'iam', NULL, 0, 9, 'root');";
    assert_int_equal(db_exec(db, old_lake, &err), 0);
    assert_int_equal(iam_open(&iam, db, NULL, &err), 0);
    assert_int_equal(grants_open(&g, db, &err), 0);
    fixture_t f = {.db = db, .iam = iam, .g = g};
    int64_t root = uid(&f, "root"), zed = uid(&f, "zed"), amy = uid(&f, "amy");
    assert_true(root > 0 && root < zed && zed < amy);
    /* keys moved to the ids */
    arena_t *a = arena_create();
    iam_key_t *keys;
    size_t n;
    assert_int_equal(iam_key_list(iam, "zed", &keys, &n, a, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(keys[0].access_key, "TKZED");
    assert_string_equal(keys[0].user, "zed");
    arena_free(a);
    /* grants apply as before, directly and through the group and the role */
    int64_t id = 0;
    assert_true(grants_allows(g, zed, GRANT_SELECT, "table:curated.a.b", true, &id));
    assert_int_equal(id, 4);
    assert_true(grants_allows(g, amy, GRANT_READ, "location:raw/ops/x", false, &id));
    assert_int_equal(id, 7);
    assert_true(grants_allows(g, amy, GRANT_DESCRIBE, "database:curated.hr", false, &id));
    assert_int_equal(id, 9);
    assert_true(grants_allows(g, zed, GRANT_DESCRIBE, "database:curated.hr", false, &id));
    assert_false(grants_allows(g, amy, GRANT_SELECT, "table:curated.a.b", false, &id));
    /* listings show names, and nothing of the principal that did not exist */
    json_t *list;
    assert_int_equal(grants_list(g, NULL, NULL, &list, &err), 0);
    json_t *all = json_object_get(list, "grants");
    assert_int_equal(json_array_size(all), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "principal")),
                        "role:auditor"); /* listed by resource */
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 1), "principal")),
                        "group:ops");
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 2), "principal")),
                        "user:zed");
    json_decref(list);
    assert_int_equal(grants_roles_list(g, &list, &err), 0);
    json_t *holders = json_object_get(json_array_get(json_object_get(list, "roles"), 0), "holders");
    assert_int_equal(json_array_size(holders), 2);
    assert_string_equal(json_string_value(json_array_get(holders, 0)), "group:ops");
    assert_string_equal(json_string_value(json_array_get(holders, 1)), "user:zed");
    json_decref(list);
    /* a grant made now gets an id above every old one, and deleting zed after the
     * migration takes its key, grant and role holding with it */
    grant_spec_t s = {"user:amy", "SELECT", "table:curated.a.c", NULL, NULL, false};
    assert_int_equal(grants_grant(g, &s, "root", &id, &err), 0);
    assert_true(id > 12);
    assert_int_equal(iam_user_delete(iam, "zed", &err), 0);
    assert_false(grants_allows(g, zed, GRANT_SELECT, "table:curated.a.b", false, &id));
    assert_int_equal(iam_user_create(iam, "zed", false, NULL, &err), 0);
    assert_true(uid(&f, "zed") > amy);
    assert_false(
        grants_allows(g, uid(&f, "zed"), GRANT_DESCRIBE, "database:curated.hr", false, &id));
    sqlite3_stmt *st = NULL;
    assert_int_equal(db_prepare(db, &st, "SELECT count(*) FROM access_keys", &err), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    db_done(db, st);
    grants_close(g);
    iam_close(iam);
    /* opening again changes nothing */
    assert_int_equal(iam_open(&iam, db, NULL, &err), 0);
    assert_int_equal(grants_open(&g, db, &err), 0);
    assert_true(grants_allows(g, amy, GRANT_READ, "location:raw/ops/x", false, &id));
    grants_close(g);
    iam_close(iam);
    db_close(db);
    fs_remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nothing_is_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables_wildcards_and_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_roles_and_revocation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_columns_and_filters_add_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grant_option_and_iam, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelines_and_table_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_grants_are_refused, setup, teardown),
        cmocka_unit_test(test_statements_parse),
        cmocka_unit_test_setup_teardown(test_principals_die_whole, setup, teardown),
        cmocka_unit_test(test_migration_maps_names_to_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
