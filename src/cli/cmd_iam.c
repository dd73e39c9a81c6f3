/* tarn user ..., tarn key ... and tarn metrics token ...: identity management through the
 * REST API. */
#include "cli/args.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/table.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const common_valued[] = {"--endpoint", "--password", "--allow-cidr", NULL};
static const char *const common_flags[] = {"--json", "--admin", "--delete-old", NULL};

static int call(const char *cmd, const args_t *a, const char *method, const char *path,
                json_t *body, json_t **out)
{
    return cli_call(cmd, args_get(a, "--endpoint"), method, path, body, out);
}

static int usage(const char *cmd, const char *text)
{
    fprintf(stderr, "usage: tarn %s\n(see `tarn help %s`)\n", text, cmd);
    return 2;
}

int cmd_user(int argc, char **argv)
{
    args_t a;
    if (argc < 1)
        return usage("user", "user create|list|delete [NAME]");
    if (args_parse(&a, argc - 1, argv + 1, common_valued, common_flags, "user"))
        return 2;
    const char *sub = argv[0];
    bool json = args_flag(&a, "--json");
    json_t *out = NULL;
    int rc;
    if (!strcmp(sub, "list")) {
        if ((rc = call("user list", &a, "GET", "/v1/users", NULL, &out)))
            return rc;
        if (json) {
            cli_print_json(out);
        } else {
            static const char *const h[] = {"USER", "ADMIN", "KEYS", "CREATED"};
            table_t *t = table_create(4, h);
            size_t i;
            json_t *u;
            json_array_foreach(json_object_get(out, "users"), i, u)
            {
                char keys[16];
                snprintf(keys, sizeof keys, "%lld",
                         (long long)json_integer_value(json_object_get(u, "keys")));
                const char *row[] = {json_string_value(json_object_get(u, "name")),
                                     json_is_true(json_object_get(u, "admin")) ? "yes" : "no", keys,
                                     json_string_value(json_object_get(u, "created"))};
                table_add(t, row);
            }
            table_print(t, stdout);
            table_free(t);
        }
    } else if (!strcmp(sub, "create") && a.npos == 1) {
        json_t *body = json_pack("{s:s, s:b}", "name", a.pos[0], "admin", args_flag(&a, "--admin"));
        if (args_get(&a, "--password"))
            json_object_set_new(body, "password", json_string(args_get(&a, "--password")));
        rc = call("user create", &a, "POST", "/v1/users", body, &out);
        json_decref(body);
        if (rc)
            return rc;
        if (json) {
            cli_print_json(out);
        } else {
            printf("Created user %s.\n", a.pos[0]);
            const char *pw = json_string_value(json_object_get(out, "password"));
            if (pw)
                printf("  password  %s   (shown once)\n", pw);
            printf("Next: `tarn key create %s` gives the user an access key.\n", a.pos[0]);
        }
    } else if (!strcmp(sub, "delete") && a.npos == 1) {
        char path[256];
        snprintf(path, sizeof path, "/v1/users/%s", a.pos[0]);
        if ((rc = call("user delete", &a, "DELETE", path, NULL, &out)))
            return rc;
        if (!json)
            printf("Deleted user %s and its access keys.\n", a.pos[0]);
    } else {
        return usage("user", "user create NAME [--admin] [--password PW] | user list | user delete NAME");
    }
    json_decref(out);
    return 0;
}

int cmd_key(int argc, char **argv)
{
    args_t a;
    if (argc < 1)
        return usage("key", "key create|list|rotate USER | key activate|deactivate|delete USER ACCESS_KEY");
    if (args_parse(&a, argc - 1, argv + 1, common_valued, common_flags, "key"))
        return 2;
    const char *sub = argv[0];
    bool json = args_flag(&a, "--json");
    json_t *out = NULL;
    char path[512];
    int rc;
    if (a.npos < 1)
        return usage("key", "key create|list|rotate USER | key activate|deactivate|delete USER ACCESS_KEY");
    if (!strcmp(sub, "create") && a.npos == 1) {
        snprintf(path, sizeof path, "/v1/users/%s/keys", a.pos[0]);
        const char *cidr = args_get(&a, "--allow-cidr");
        json_t *body = cidr ? json_pack("{s:s}", "allow_cidr", cidr) : NULL;
        rc = call("key create", &a, "POST", path, body, &out);
        json_decref(body);
        if (rc)
            return rc;
        if (json) {
            cli_print_json(out);
        } else {
            printf("Created an access key for %s (the secret is shown only now):\n\n"
                   "  aws_access_key_id      %s\n  aws_secret_access_key  %s\n",
                   a.pos[0], json_string_value(json_object_get(out, "access_key")),
                   json_string_value(json_object_get(out, "secret_key")));
            if (cidr)
                printf("\nIt signs requests only from %s.\n", cidr);
        }
    } else if (!strcmp(sub, "list") && a.npos == 1) {
        snprintf(path, sizeof path, "/v1/users/%s/keys", a.pos[0]);
        if ((rc = call("key list", &a, "GET", path, NULL, &out)))
            return rc;
        if (json) {
            cli_print_json(out);
        } else {
            static const char *const h[] = {"ACCESS KEY", "STATUS", "CREATED", "LAST USED",
                                            "FROM"};
            table_t *t = table_create(5, h);
            size_t i;
            json_t *k;
            json_array_foreach(json_object_get(out, "keys"), i, k)
            {
                const char *row[] = {json_string_value(json_object_get(k, "access_key")),
                                     json_string_value(json_object_get(k, "status")),
                                     json_string_value(json_object_get(k, "created")),
                                     json_string_value(json_object_get(k, "last_used")),
                                     json_string_value(json_object_get(k, "allow_cidr"))
                                         ? json_string_value(json_object_get(k, "allow_cidr"))
                                         : "any"};
                table_add(t, row);
            }
            table_print(t, stdout);
            table_free(t);
        }
    } else if (!strcmp(sub, "rotate") && a.npos == 1) {
        bool del = args_flag(&a, "--delete-old");
        json_t *body = json_pack("{s:b}", "delete_old", del);
        snprintf(path, sizeof path, "/v1/users/%s/keys/rotate", a.pos[0]);
        rc = call("key rotate", &a, "POST", path, body, &out);
        json_decref(body);
        if (rc)
            return rc;
        if (json) {
            cli_print_json(out);
        } else {
            long long n = json_integer_value(json_object_get(out, "retired"));
            printf("Created a new access key for %s (the secret is shown only now):\n\n"
                   "  aws_access_key_id      %s\n  aws_secret_access_key  %s\n\n"
                   "%s %lld older key%s: %s.\n",
                   a.pos[0], json_string_value(json_object_get(out, "access_key")),
                   json_string_value(json_object_get(out, "secret_key")),
                   del ? "Deleted" : "Deactivated", n, n == 1 ? "" : "s",
                   del ? "they no longer exist"
                       : "they are refused from now on; `tarn key delete` removes them, "
                         "`tarn key activate` brings one back");
        }
    } else if ((!strcmp(sub, "activate") || !strcmp(sub, "deactivate")) && a.npos == 2) {
        bool on = !strcmp(sub, "activate");
        json_t *body = json_pack("{s:s}", "status", on ? "active" : "inactive");
        snprintf(path, sizeof path, "/v1/users/%s/keys/%s", a.pos[0], a.pos[1]);
        rc = call(on ? "key activate" : "key deactivate", &a, "PATCH", path, body, &out);
        json_decref(body);
        if (rc)
            return rc;
        if (json)
            cli_print_json(out);
        else
            printf("%s access key %s of %s%s.\n", on ? "Activated" : "Deactivated", a.pos[1],
                   a.pos[0], on ? "" : ": requests signed with it are refused from now on");
    } else if (!strcmp(sub, "delete") && a.npos == 2) {
        snprintf(path, sizeof path, "/v1/users/%s/keys/%s", a.pos[0], a.pos[1]);
        if ((rc = call("key delete", &a, "DELETE", path, NULL, &out)))
            return rc;
        if (!json)
            printf("Deleted access key %s of %s.\n", a.pos[1], a.pos[0]);
    } else {
        return usage("key", "key create USER | key list USER | key rotate USER [--delete-old] | "
                            "key activate|deactivate|delete USER ACCESS_KEY");
    }
    json_decref(out);
    return 0;
}

int cmd_metrics(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", "--name", NULL};
    static const char *const flags[] = {"--json", NULL};
    const char *text = "metrics token create [--name NAME] | metrics token list | "
                       "metrics token delete NAME";
    args_t a;
    if (argc < 2 || strcmp(argv[0], "token"))
        return usage("metrics", text);
    if (args_parse(&a, argc - 2, argv + 2, valued, flags, "metrics"))
        return 2;
    const char *sub = argv[1];
    bool json = args_flag(&a, "--json");
    json_t *out = NULL;
    char path[512];
    int rc;
    if (!strcmp(sub, "create") && a.npos == 0) {
        const char *name = args_get(&a, "--name");
        json_t *body = name ? json_pack("{s:s}", "name", name) : NULL;
        rc = call("metrics token create", &a, "POST", "/v1/metrics/tokens", body, &out);
        json_decref(body);
        if (rc)
            return rc;
        if (json)
            cli_print_json(out);
        else
            printf("Created the metrics token %s (shown only now): it reads /metrics and nothing "
                   "else.\n\n  %s\n\nIn prometheus.yml, under the job that scrapes tarn:\n"
                   "  authorization:\n    type: Bearer\n    credentials: %s\n",
                   json_string_value(json_object_get(out, "name")),
                   json_string_value(json_object_get(out, "token")),
                   json_string_value(json_object_get(out, "token")));
    } else if (!strcmp(sub, "list") && a.npos == 0) {
        if ((rc = call("metrics token list", &a, "GET", "/v1/metrics/tokens", NULL, &out)))
            return rc;
        if (json) {
            cli_print_json(out);
        } else {
            static const char *const h[] = {"NAME", "CREATED"};
            table_t *t = table_create(2, h);
            size_t i;
            json_t *k;
            json_array_foreach(json_object_get(out, "tokens"), i, k)
            {
                const char *row[] = {json_string_value(json_object_get(k, "name")),
                                     json_string_value(json_object_get(k, "created"))};
                table_add(t, row);
            }
            table_print(t, stdout);
            table_free(t);
        }
    } else if (!strcmp(sub, "delete") && a.npos == 1) {
        snprintf(path, sizeof path, "/v1/metrics/tokens/%s", a.pos[0]);
        if ((rc = call("metrics token delete", &a, "DELETE", path, NULL, &out)))
            return rc;
        if (json) {
            json_t *o = json_pack("{s:s, s:b}", "name", a.pos[0], "deleted", 1);
            cli_print_json(o);
            json_decref(o);
        } else
            printf("Deleted the metrics token %s: scrapes with it are refused from now on.\n",
                   a.pos[0]);
    } else {
        return usage("metrics", text);
    }
    json_decref(out);
    return 0;
}

int cmd_whoami(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", NULL};
    static const char *const flags[] = {"--json", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, "whoami"))
        return 2;
    if (a.npos)
        return usage("whoami", "whoami [--json]");
    json_t *out = NULL;
    int rc = call("whoami", &a, "GET", "/v1/whoami", NULL, &out);
    if (rc)
        return rc;
    if (args_flag(&a, "--json"))
        cli_print_json(out);
    else
        printf("%s%s (access key %s)\n", json_string_value(json_object_get(out, "user")),
               json_is_true(json_object_get(out, "admin")) ? ", admin" : "",
               json_string_value(json_object_get(out, "access_key")));
    json_decref(out);
    return 0;
}
