/* tarn blueprint ...: applying a blueprint file (a source and one current-state pipeline
 * per table), listing, showing and deleting blueprints, through the REST API
 * (/v1/blueprints). A password in the file goes to the server once and is never shown
 * back. */
#include "cli/commands.h"
#include "cli/table.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(o, k) json_string_value(json_object_get((o), (k)))
#define I(o, k) ((long long)json_integer_value(json_object_get((o), (k))))

static int usage(void)
{
    return cli_usage("blueprint");
}

static void print_tables(const json_t *tables)
{
    static const char *const h[] = {"TABLE", "KEYS", "RAW", "CURATED", "PIPELINE"};
    table_t *t = table_create(5, h);
    size_t i;
    json_t *o;
    json_array_foreach(tables, i, o)
    {
        char keys[300] = "";
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(o, "keys"), k, v)
            snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s", k ? "," : "",
                     json_string_value(v));
        const char *row[] = {S(o, "table"), keys, S(o, "raw"), S(o, "curated"), S(o, "pipeline")};
        table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
}

static void print_warnings(const json_t *out)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(out, "warnings"), i, w)
        printf("Warning: %s\n", json_string_value(w));
}

static int apply(const args_t *a)
{
    if (a->npos != 2)
        return usage();
    json_t *doc = NULL, *out = NULL;
    if (cli_read_yaml("blueprint apply", a->pos[1], "blueprint", &doc))
        return 1;
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    json_t *body = text ? json_pack("{s:s}", "spec", text) : NULL;
    if (text) {
        OPENSSL_cleanse(text, strlen(text)); /* may hold a password */
        free(text);
    }
    if (!body)
        return cli_fail("blueprint apply", "out of memory");
    int rc = cli_call("blueprint apply", args_get(a, "--endpoint"), "POST", "/v1/blueprints",
                      body, &out);
    json_decref(body);
    if (rc)
        return rc;
    if (args_flag(a, "--json")) {
        cli_print_json(out);
    } else {
        printf("%s blueprint %s (version %lld): source %s, %zu pipeline%s.\n",
               json_is_true(json_object_get(out, "created")) ? "Created" : "Applied",
               S(out, "name"), I(out, "version"), S(out, "name"),
               json_array_size(json_object_get(out, "pipelines")),
               json_array_size(json_object_get(out, "pipelines")) == 1 ? "" : "s");
        print_tables(json_object_get(out, "tables"));
        print_warnings(out);
        printf("Follow the source with `tarn source status %s`.\n", S(out, "name"));
    }
    json_decref(out);
    return 0;
}

static int list(const args_t *a)
{
    json_t *out = NULL;
    if (a->npos != 1)
        return usage();
    if (cli_call("blueprint list", args_get(a, "--endpoint"), "GET", "/v1/blueprints", NULL,
                 &out))
        return 1;
    json_t *all = json_object_get(out, "blueprints");
    if (args_flag(a, "--json")) {
        cli_print_json(out);
    } else if (!json_array_size(all)) {
        printf("No blueprints yet. Write one (docs/sources.md, examples/blueprints/) and apply "
               "it with `tarn blueprint apply FILE`.\n");
    } else {
        static const char *const h[] = {"BLUEPRINT", "VERSION", "SOURCE", "PIPELINES",
                                        "APPLIED BY"};
        table_t *t = table_create(5, h);
        size_t i;
        json_t *b;
        json_array_foreach(all, i, b)
        {
            char v[32], n[32];
            snprintf(v, sizeof v, "%lld", I(b, "version"));
            snprintf(n, sizeof n, "%zu", json_array_size(json_object_get(b, "pipelines")));
            const char *row[] = {S(b, "name"), v, S(b, "source"), n, S(b, "applied_by")};
            table_add(t, row);
        }
        table_print(t, stdout);
        table_free(t);
    }
    json_decref(out);
    return 0;
}

/* Calls method on the blueprint a names; the usage's or the failure's status, else 0. */
static int call_named(const args_t *a, const char *cmd, const char *method, json_t **out)
{
    if (a->npos != 2)
        return usage();
    char path[700];
    if (cli_resource_path(path, sizeof path, "/v1/blueprints/", a->pos[1], NULL))
        return cli_fail(cmd, "out of memory");
    return cli_call(cmd, args_get(a, "--endpoint"), method, path, NULL, out);
}

static int show(const args_t *a)
{
    json_t *out = NULL;
    int rc = call_named(a, "blueprint show", "GET", &out);
    if (rc)
        return rc;
    if (args_flag(a, "--json")) {
        cli_print_json(out);
    } else {
        printf("%-12s %s\n%-12s %lld\n%-12s %s\n%-12s %s\n\n", "blueprint", S(out, "name"),
               "version", I(out, "version"), "source", S(out, "source"), "applied by",
               S(out, "applied_by"));
        print_tables(json_object_get(json_object_get(out, "generated"), "tables"));
        printf("\n%s\n", S(out, "text") ? S(out, "text") : "");
    }
    json_decref(out);
    return 0;
}

static int delete(const args_t *a)
{
    json_t *out = NULL;
    int rc = call_named(a, "blueprint delete", "DELETE", &out);
    if (rc)
        return rc;
    if (args_flag(a, "--json")) {
        cli_print_json(out);
    } else {
        printf("Deleted blueprint %s: source %s and %zu pipeline%s. Their tables and files "
               "stay in the lake.\n",
               a->pos[1], S(out, "source"), json_array_size(json_object_get(out, "pipelines")),
               json_array_size(json_object_get(out, "pipelines")) == 1 ? "" : "s");
        print_warnings(out);
    }
    json_decref(out);
    return 0;
}

int cmd_blueprint(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", NULL};
    static const char *const flags[] = {"--json", NULL};
    static const cli_sub_t subs[] = {
        {"apply", apply}, {"list", list}, {"show", show}, {"delete", delete}, {NULL, NULL}};
    return cli_dispatch(argc, argv, "blueprint", valued, flags, subs, usage);
}
