/* REST for the permission model: /v1/groups, /v1/roles, /v1/filters and /v1/grants.
 * Groups, roles and filters are managed by the admin or a holder of ALL on iam (the
 * dispatcher checks it). Granting and revoking is also open to a principal that holds the
 * permission WITH GRANT OPTION, which these handlers ask of authz_may_grant. */
#include "server/rest/rest.h"
#include "server/server_state.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int bad(req_t *r, const char *msg)
{
    return TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument, "%s", msg);
}

/* ---- groups and roles ---- */

/* Groups and roles are both named sets of principals; one set of handlers serves both,
 * the operation's name telling which. */
typedef struct {
    const char *what, *members, *example;
    int (*create)(grants_t *, const char *, tarn_err_t *);
    int (*delete)(grants_t *, const char *, tarn_err_t *);
    int (*add)(grants_t *, const char *, const char *, tarn_err_t *);
    int (*remove)(grants_t *, const char *, const char *, tarn_err_t *);
    int (*list)(grants_t *, json_t **, tarn_err_t *);
} set_kind_t;

static const set_kind_t groups = {"group", "members", "analysts", grants_group_create,
                                  grants_group_delete, grants_group_add, grants_group_remove,
                                  grants_groups_list};
static const set_kind_t roles = {"role", "holders", "reader", grants_role_create,
                                 grants_role_delete, grants_role_assign, grants_role_unassign,
                                 grants_roles_list};

static const set_kind_t *set_kind(const req_t *r)
{
    return strstr(r->op->name, "Role") ? &roles : &groups;
}

static int list_sets(req_t *r)
{
    json_t *out;
    int rc = set_kind(r)->list(r->srv->grants, &out, &r->err);
    return rc ? rc : rest_respond_json(r, 200, out);
}

static int create_set(req_t *r)
{
    const set_kind_t *k = set_kind(r);
    json_t *in;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *name = str(in, "name");
    if (name)
        rc = k->create(r->srv->grants, name, &r->err);
    else
        rc = TARN_ERR_R(&r->err, TARN_EINVAL, InvalidArgument,
                        "the body names the %s: {\"name\": \"%s\"}", k->what, k->example);
    if (!rc)
        rc = rest_respond_json(r, 201, json_pack("{s:s, s:[]}", "name", name, k->members));
    json_decref(in);
    return rc;
}

/* DELETE /v1/{groups,roles}/{name}, and PUT / DELETE of .../{name}/members/{user} and
 * .../{name}/holders/{user:x | group:y} (or .../holders/{user|group}/{name}). */
static int change_set(req_t *r)
{
    const set_kind_t *k = set_kind(r);
    grants_t *g = r->srv->grants;
    const char *who = r->nparams == 3 ? arena_sprintf(r->arena, "%s:%s", r->params[1], r->params[2])
                      : r->nparams == 2 ? r->params[1]
                                        : NULL;
    int rc = r->nparams == 1           ? k->delete(g, r->params[0], &r->err)
             : !who                    ? TARN_ERR(&r->err, TARN_ENOMEM, "out of memory")
             : !strcmp(r->method, "PUT") ? k->add(g, r->params[0], who, &r->err)
                                         : k->remove(g, r->params[0], who, &r->err);
    if (!rc)
        req_respond_bytes(r, 204, NULL, "", 0);
    return rc;
}

/* ---- data filters ---- */

static int list_filters(req_t *r)
{
    json_t *out;
    int rc = grants_filters_list(r->srv->grants, &out, &r->err);
    return rc ? rc : rest_respond_json(r, 200, out);
}

static int create_filter(req_t *r)
{
    json_t *in;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *table = str(in, "table"), *name = str(in, "name");
    if (!table || !name)
        rc = bad(r, "the body has the filter's table and name: {\"table\": "
                    "\"curated.sales.orders\", \"name\": \"eu_only\", \"row_filter\": "
                    "\"region = 'eu'\", \"columns\": [...]}");
    else
        rc = grants_filter_create(r->srv->grants, table, name, str(in, "row_filter"),
                                  json_object_get(in, "columns"), json_object_get(in, "excluded"),
                                  &r->err);
    if (!rc)
        rc = rest_respond_json(r, 201, json_incref(in));
    json_decref(in);
    return rc;
}

static int delete_filter(req_t *r)
{
    /* /v1/filters/{zone.db.table}/{name} */
    int rc = grants_filter_delete(r->srv->grants, r->params[0], r->params[1], &r->err);
    if (!rc)
        req_respond_bytes(r, 204, NULL, "", 0);
    return rc;
}

/* ---- grants ---- */

static int list_grants(req_t *r)
{
    const char *principal = req_query(r, "principal"), *resource = req_query(r, "resource");
    int64_t id;
    char self[80];
    snprintf(self, sizeof self, "user:%s", r->principal.name);
    /* Everyone may list their own grants; all of them needs the admin or ALL on iam. */
    if (!r->principal.admin &&
        !grants_allows(r->srv->grants, r->principal.id, GRANT_ALL, "iam", false, &id)) {
        if (principal && strcmp(principal, self))
            return TARN_ERR_R(&r->err, TARN_EDENIED, AccessDenied,
                              "%s may list only its own grants", r->principal.name);
        principal = self;
    }
    json_t *out;
    int rc = grants_list(r->srv->grants, principal, resource, &out, &r->err);
    return rc ? rc : rest_respond_json(r, 200, out);
}

/* The permissions of a body: "permission": "SELECT" or "permissions": ["SELECT", ...]. */
static json_t *permissions(const json_t *in)
{
    const json_t *many = json_object_get(in, "permissions");
    if (json_is_array(many))
        return json_incref((json_t *)many);
    const char *one = str(in, "permission");
    return one ? json_pack("[s]", one) : NULL;
}

static int create_grant(req_t *r)
{
    json_t *in, *perms = NULL, *ids = json_array();
    int rc = req_body_json(r, &in);
    if (rc)
        goto done;
    const char *principal = str(in, "principal"), *resource = str(in, "resource");
    perms = permissions(in);
    if (!principal || !resource || !json_array_size(perms)) {
        rc = bad(r, "a grant is {\"principal\": \"user:alice\", \"permission\": \"SELECT\", "
                    "\"resource\": \"table:curated.sales.orders\"} (and optionally \"columns\", "
                    "\"excluded\", \"grant_option\")");
        goto done;
    }
    size_t i;
    json_t *p;
    json_array_foreach(perms, i, p)
    {
        const char *perm = json_string_value(p);
        if (!perm) {
            rc = bad(r, "permissions are strings: SELECT, INSERT, DESCRIBE, ...");
            goto done;
        }
        if ((rc = authz_may_grant(&r->principal, perm, resource, &r->err)))
            goto done;
    }
    json_array_foreach(perms, i, p)
    {
        grant_spec_t s = {.principal = principal,
                          .permission = json_string_value(p),
                          .resource = resource,
                          .columns = json_object_get(in, "columns"),
                          .excluded = json_object_get(in, "excluded"),
                          .grant_option = json_is_true(json_object_get(in, "grant_option"))};
        int64_t id = 0;
        if ((rc = grants_grant(r->srv->grants, &s, r->principal.name, &id, &r->err)))
            goto done;
        json_array_append_new(ids, json_integer(id));
    }
    rc = rest_respond_json(r, 201, json_pack("{s:O}", "ids", ids));
done:
    json_decref(in);
    json_decref(perms);
    json_decref(ids);
    return rc;
}

static int revoke_grant(req_t *r)
{
    json_t *in, *perms = NULL;
    int rc = req_body_json(r, &in);
    if (rc)
        return rc;
    const char *principal = str(in, "principal"), *resource = str(in, "resource");
    perms = permissions(in);
    if (!principal || !resource || !json_array_size(perms)) {
        rc = bad(r, "a revoke is {\"principal\": \"user:alice\", \"permission\": \"SELECT\", "
                    "\"resource\": \"table:curated.sales.orders\"}");
    } else {
        size_t i;
        json_t *p;
        json_array_foreach(perms, i, p)
        {
            const char *perm = json_string_value(p);
            if ((rc = perm ? authz_may_grant(&r->principal, perm, resource, &r->err)
                           : bad(r, "permissions are strings")) ||
                (rc = grants_revoke(r->srv->grants, principal, perm, resource, &r->err)))
                break;
        }
    }
    if (!rc)
        req_respond_bytes(r, 204, NULL, "", 0);
    json_decref(in);
    json_decref(perms);
    return rc;
}

const op_t rest_grant_ops[] = {
    REST_OP("ListGroups", "iam:ListGroups", "GET", "/v1/groups", NULL, BODY_NONE, list_sets),
    REST_OP("CreateGroup", "iam:CreateGroup", "POST", "/v1/groups", NULL, BODY_BUFFER, create_set),
    REST_OP("DeleteGroup", "iam:DeleteGroup", "DELETE", "/v1/groups/{}", "group/{0}", BODY_NONE,
            change_set),
    REST_OP("AddUserToGroup", "iam:AddUserToGroup", "PUT", "/v1/groups/{}/members/{}", "group/{0}",
            BODY_NONE, change_set),
    REST_OP("RemoveUserFromGroup", "iam:RemoveUserFromGroup", "DELETE", "/v1/groups/{}/members/{}",
            "group/{0}", BODY_NONE, change_set),
    REST_OP("ListRoles", "iam:ListRoles", "GET", "/v1/roles", NULL, BODY_NONE, list_sets),
    REST_OP("CreateRole", "iam:CreateRole", "POST", "/v1/roles", NULL, BODY_BUFFER, create_set),
    REST_OP("DeleteRole", "iam:DeleteRole", "DELETE", "/v1/roles/{}", "role/{0}", BODY_NONE,
            change_set),
    REST_OP("AssignRole", "iam:AssignRole", "PUT", "/v1/roles/{}/holders/{}", "role/{0}", BODY_NONE,
            change_set),
    REST_OP("UnassignRole", "iam:UnassignRole", "DELETE", "/v1/roles/{}/holders/{}", "role/{0}",
            BODY_NONE, change_set),
    /* The holder as two segments (user|group, name): for signers that cannot sign a ':' in
     * a path the way the server canonicalizes it (libcurl's, which the CLI uses). */
    REST_OP("AssignRole", "iam:AssignRole", "PUT", "/v1/roles/{}/holders/{}/{}", "role/{0}",
            BODY_NONE, change_set),
    REST_OP("UnassignRole", "iam:UnassignRole", "DELETE", "/v1/roles/{}/holders/{}/{}", "role/{0}",
            BODY_NONE, change_set),
    REST_OP("ListDataFilters", "iam:ListDataFilters", "GET", "/v1/filters", NULL, BODY_NONE,
            list_filters),
    REST_OP("CreateDataFilter", "iam:CreateDataFilter", "POST", "/v1/filters", NULL, BODY_BUFFER,
            create_filter),
    REST_OP("DeleteDataFilter", "iam:DeleteDataFilter", "DELETE", "/v1/filters/{}/{}", "filter/{0}",
            BODY_NONE, delete_filter),
    REST_OP("ListGrants", "grants:List", "GET", "/v1/grants", NULL, BODY_NONE, list_grants),
    REST_OP("Grant", "grants:Grant", "POST", "/v1/grants", NULL, BODY_BUFFER, create_grant),
    REST_OP("Revoke", "grants:Revoke", "POST", "/v1/grants/revoke", NULL, BODY_BUFFER,
            revoke_grant),
};
const size_t rest_grant_nops = sizeof rest_grant_ops / sizeof *rest_grant_ops;
