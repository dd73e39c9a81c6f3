/* tarn grant / revoke / grants / group / role / filter: the permission model through the
 * REST API. Grants read like SQL:
 *   tarn grant SELECT ON TABLE curated.sales.orders (order_id, amount) TO user:alice
 *   tarn grant SELECT ON FILTER curated.sales.orders.eu_only TO group:analysts
 *   tarn revoke SELECT ON TABLE curated.sales.orders FROM user:alice */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "govern/grants_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const valued[] = {"--endpoint", "--row-filter", "--columns", "--exclude", NULL};
static const char *const flags[] = {"--json", NULL};

static int usage(const char *cmd, const char *text)
{
    fprintf(stderr, "usage: %s\n(see `tarn help %s`)\n", text, cmd);
    return 2;
}

/* "a, b" or "(a, b)" as a JSON array of names. */
static json_t *name_list(const char *s)
{
    json_t *a = json_array();
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '(' || *p == ')')
            p++;
        const char *b = p;
        while (*p && *p != ',' && *p != ')' && *p != ' ')
            p++;
        if (p > b)
            json_array_append_new(a, json_stringn(b, (size_t)(p - b)));
    }
    return a;
}

/* The words after `tarn grant` (or revoke) as the REST body, parsed as the SQL statement
 * GRANT|REVOKE <words> is (govern/grants_sql.h), so both read the same. */
static json_t *parse_grant(int argc, const char *const *argv, bool revoke, char *why, size_t cap)
{
    buf_t b = BUF_INIT;
    buf_puts(&b, revoke ? "REVOKE" : "GRANT");
    for (int i = 0; i < argc; i++) {
        buf_putc(&b, ' ');
        buf_puts(&b, argv[i]);
    }
    grant_statement_t st;
    tarn_err_t err = {0};
    json_t *g = NULL;
    if (!b.data || grants_parse(b.data, &st, &err)) {
        snprintf(why, cap, "%s", err.msg[0] ? err.msg : "out of memory");
    } else {
        g = json_pack("{s:s, s:O, s:s}", "principal", st.principal, "permissions",
                      st.permissions, "resource", st.resource);
        if (st.columns)
            json_object_set(g, "columns", st.columns);
        if (st.excluded)
            json_object_set(g, "excluded", st.excluded);
        if (st.grant_option)
            json_object_set_new(g, "grant_option", json_true());
        grants_statement_free(&st);
    }
    buf_free(&b);
    return g;
}

static int grant_or_revoke(int argc, char **argv, bool revoke)
{
    const char *cmd = revoke ? "revoke" : "grant";
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, cmd))
        return 2;
    char why[200] = "";
    json_t *body = parse_grant((int)a.npos, a.pos, revoke, why, sizeof why);
    if (!body) {
        fprintf(stderr, "tarn %s: %s\n", cmd, why);
        return usage(cmd, revoke ? "tarn revoke PERMISSION[,...] ON KIND NAME FROM PRINCIPAL"
                                 : "tarn grant PERMISSION[,...] ON KIND NAME [(COLUMNS) | "
                                   "EXCLUDING (COLUMNS)] TO PRINCIPAL [WITH GRANT OPTION]");
    }
    json_t *out = NULL;
    int rc = cli_call(cmd, args_get(&a, "--endpoint"), "POST",
                      revoke ? "/v1/grants/revoke" : "/v1/grants", body, &out);
    if (!rc && args_flag(&a, "--json"))
        cli_print_json(out ? out : json_object());
    else if (!rc)
        printf("%s %s %s %s.\n", revoke ? "Revoked" : "Granted",
               json_string_value(json_object_get(body, "resource")), revoke ? "from" : "to",
               json_string_value(json_object_get(body, "principal")));
    json_decref(body);
    json_decref(out);
    return rc;
}

int cmd_grant(int argc, char **argv)
{
    return grant_or_revoke(argc, argv, false);
}

int cmd_revoke(int argc, char **argv)
{
    return grant_or_revoke(argc, argv, true);
}

static const char *cols_text(char *buf, size_t cap, const json_t *g)
{
    const json_t *c = json_object_get(g, "columns"), *x = json_object_get(g, "excluded");
    const json_t *list = json_is_array(c) ? c : json_is_array(x) ? x : NULL;
    if (!list)
        return "all";
    size_t used = (size_t)snprintf(buf, cap, "%s", list == x ? "all but " : "");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (used < cap) used += (size_t)snprintf(
        buf + used, cap - used, "%s%s", i ? ", " : "", json_string_value(v));
    return buf;
}

int cmd_grants(int argc, char **argv)
{
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, "grants"))
        return 2;
    char path[700] = "/v1/grants";
    if (a.npos == 1) {
        /* A principal (kind:name) or a resource (kind:name, or iam). */
        bool principal = !strncmp(a.pos[0], "user:", 5) || !strncmp(a.pos[0], "group:", 6) ||
                         !strncmp(a.pos[0], "role:", 5);
        char *e = cli_escape(a.pos[0]);
        snprintf(path, sizeof path, "/v1/grants?%s=%s", principal ? "principal" : "resource",
                 e ? e : "");
        free(e);
    } else if (a.npos > 1) {
        return usage("grants", "tarn grants [PRINCIPAL | RESOURCE] [--json]");
    }
    json_t *out = NULL;
    int rc = cli_call("grants", args_get(&a, "--endpoint"), "GET", path, NULL, &out);
    if (rc)
        return rc;
    if (args_flag(&a, "--json")) {
        cli_print_json(out);
    } else {
        static const char *const h[] = {"ID", "PRINCIPAL", "PERMISSION", "RESOURCE", "COLUMNS",
                                        "GRANT OPTION", "BY"};
        table_t *t = table_create(7, h);
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(out, "grants"), i, g)
        {
            char id[24], cols[400];
            snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(g, "id")));
            const char *row[] = {id,
                                 json_string_value(json_object_get(g, "principal")),
                                 json_string_value(json_object_get(g, "permission")),
                                 json_string_value(json_object_get(g, "resource")),
                                 cols_text(cols, sizeof cols, g),
                                 json_is_true(json_object_get(g, "grant_option")) ? "yes" : "no",
                                 json_string_value(json_object_get(g, "created_by"))};
            table_add(t, row);
        }
        table_print(t, stdout);
        table_free(t);
    }
    json_decref(out);
    return 0;
}

/* tarn group|role: create, delete, list, and membership. */
static int members(int argc, char **argv, bool role)
{
    const char *cmd = role ? "role" : "group";
    const char *use = role ? "tarn role create|delete NAME | role list | role assign|unassign "
                             "NAME user:USER|group:GROUP"
                           : "tarn group create|delete NAME | group list | group add|remove "
                             "NAME USER";
    if (argc < 1)
        return usage(cmd, use);
    args_t a;
    if (args_parse(&a, argc - 1, argv + 1, valued, flags, cmd))
        return 2;
    const char *sub = argv[0], *ep = args_get(&a, "--endpoint");
    const char *base = role ? "/v1/roles" : "/v1/groups";
    char path[600];
    json_t *out = NULL;
    int rc;
    if (!strcmp(sub, "list") && !a.npos) {
        if ((rc = cli_call(cmd, ep, "GET", base, NULL, &out)))
            return rc;
        if (args_flag(&a, "--json")) {
            cli_print_json(out);
        } else {
            static const char *const hg[] = {"GROUP", "MEMBERS"}, *const hr[] = {"ROLE", "HELD BY"};
            table_t *t = table_create(2, role ? hr : hg);
            size_t i;
            json_t *g;
            json_array_foreach(json_object_get(out, role ? "roles" : "groups"), i, g)
            {
                buf_t m = BUF_INIT;
                size_t j;
                json_t *v;
                json_array_foreach(json_object_get(g, role ? "holders" : "members"), j, v)
                    buf_printf(&m, "%s%s", j ? ", " : "", json_string_value(v));
                const char *row[] = {json_string_value(json_object_get(g, "name")),
                                     m.data ? m.data : ""};
                table_add(t, row);
                buf_free(&m);
            }
            table_print(t, stdout);
            table_free(t);
        }
    } else if (!strcmp(sub, "create") && a.npos == 1) {
        json_t *body = json_pack("{s:s}", "name", a.pos[0]);
        rc = cli_call(cmd, ep, "POST", base, body, &out);
        json_decref(body);
        if (rc)
            return rc;
        printf("Created %s %s.\n", cmd, a.pos[0]);
    } else if (!strcmp(sub, "delete") && a.npos == 1) {
        snprintf(path, sizeof path, "%s/%s", base, a.pos[0]);
        if ((rc = cli_call(cmd, ep, "DELETE", path, NULL, &out)))
            return rc;
        printf("Deleted %s %s and its grants.\n", cmd, a.pos[0]);
    } else if (a.npos == 2 && (!strcmp(sub, role ? "assign" : "add") ||
                               !strcmp(sub, role ? "unassign" : "remove"))) {
        bool add = !strcmp(sub, role ? "assign" : "add");
        /* A holder "group:y" goes as .../holders/group/y: libcurl's signature does not
         * encode a ':' in a path the way SigV4 canonicalizes it. */
        const char *colon = role ? strchr(a.pos[1], ':') : NULL;
        snprintf(path, sizeof path, "%s/%s/%s/%.*s%s%s", base, a.pos[0],
                 role ? "holders" : "members",
                 (int)(colon ? (size_t)(colon - a.pos[1]) : strlen(a.pos[1])), a.pos[1],
                 colon ? "/" : "", colon ? colon + 1 : "");
        if ((rc = cli_call(cmd, ep, add ? "PUT" : "DELETE", path, NULL, &out)))
            return rc;
        if (role)
            printf("%s %s the role %s.\n", a.pos[1], add ? "now holds" : "no longer holds",
                   a.pos[0]);
        else
            printf("%s %s %s %s.\n", add ? "Added" : "Removed", a.pos[1], add ? "to" : "from",
                   a.pos[0]);
    } else {
        return usage(cmd, use);
    }
    json_decref(out);
    return 0;
}

int cmd_group(int argc, char **argv)
{
    return members(argc, argv, false);
}

int cmd_role(int argc, char **argv)
{
    return members(argc, argv, true);
}

int cmd_filter(int argc, char **argv)
{
    const char *use = "tarn filter create ZONE.DB.TABLE NAME [--row-filter SQL] "
                      "[--columns a,b | --exclude c,d] | filter list | filter delete "
                      "ZONE.DB.TABLE NAME";
    if (argc < 1)
        return usage("filter", use);
    args_t a;
    if (args_parse(&a, argc - 1, argv + 1, valued, flags, "filter"))
        return 2;
    const char *sub = argv[0], *ep = args_get(&a, "--endpoint");
    json_t *out = NULL;
    int rc;
    if (!strcmp(sub, "list") && !a.npos) {
        if ((rc = cli_call("filter", ep, "GET", "/v1/filters", NULL, &out)))
            return rc;
        if (args_flag(&a, "--json")) {
            cli_print_json(out);
        } else {
            static const char *const h[] = {"FILTER", "ROWS", "COLUMNS"};
            table_t *t = table_create(3, h);
            size_t i;
            json_t *f;
            json_array_foreach(json_object_get(out, "filters"), i, f)
            {
                char name[600], cols[400];
                snprintf(name, sizeof name, "%s.%s",
                         json_string_value(json_object_get(f, "table")),
                         json_string_value(json_object_get(f, "name")));
                const char *rows = json_string_value(json_object_get(f, "row_filter"));
                const char *row[] = {name, rows ? rows : "all", cols_text(cols, sizeof cols, f)};
                table_add(t, row);
            }
            table_print(t, stdout);
            table_free(t);
        }
    } else if (!strcmp(sub, "create") && a.npos == 2) {
        json_t *body = json_pack("{s:s, s:s}", "table", a.pos[0], "name", a.pos[1]);
        if (args_get(&a, "--row-filter"))
            json_object_set_new(body, "row_filter", json_string(args_get(&a, "--row-filter")));
        if (args_get(&a, "--columns"))
            json_object_set_new(body, "columns", name_list(args_get(&a, "--columns")));
        if (args_get(&a, "--exclude"))
            json_object_set_new(body, "excluded", name_list(args_get(&a, "--exclude")));
        rc = cli_call("filter", ep, "POST", "/v1/filters", body, &out);
        json_decref(body);
        if (rc)
            return rc;
        printf("Created the filter %s.%s; grant it with `tarn grant SELECT ON FILTER %s.%s TO "
               "...`.\n",
               a.pos[0], a.pos[1], a.pos[0], a.pos[1]);
    } else if (!strcmp(sub, "delete") && a.npos == 2) {
        char path[700];
        snprintf(path, sizeof path, "/v1/filters/%s/%s", a.pos[0], a.pos[1]);
        if ((rc = cli_call("filter", ep, "DELETE", path, NULL, &out)))
            return rc;
        printf("Deleted the filter %s.%s and its grants.\n", a.pos[0], a.pos[1]);
    } else {
        return usage("filter", use);
    }
    json_decref(out);
    return 0;
}
