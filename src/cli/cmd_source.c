/* tarn source ...: creating sources from a YAML (or JSON) configuration file, changing,
 * listing, showing, following (status), pausing, resuming, running and deleting them,
 * through the REST API (/v1/sources). Secrets in the file go to the server once and are
 * never shown back. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S(o, k) json_string_value(json_object_get((o), (k)))
#define I(o, k) ((long long)json_integer_value(json_object_get((o), (k))))

static int usage(void)
{
    return cli_usage("source");
}

static int source_path(char *out, size_t cap, const char *name, const char *suffix)
{
    return cli_resource_path(out, cap, "/v1/sources/", name, suffix);
}

static int read_config(const char *cmd, const char *file, json_t **out)
{
    return cli_read_yaml(cmd, file, "source", out);
}

static const char *lag_text(char *buf, size_t cap, const json_t *o)
{
    if (!json_is_number(json_object_get(o, "lag_seconds")))
        return NULL;
    snprintf(buf, cap, "%.1fs", json_number_value(json_object_get(o, "lag_seconds")));
    return buf;
}

static const char *state_text(char *buf, size_t cap, const json_t *o)
{
    const char *st = S(o, "state") ? S(o, "state") : "?";
    if (S(o, "reason"))
        snprintf(buf, cap, "%s: %.160s", st, S(o, "reason"));
    else
        snprintf(buf, cap, "%s", st);
    return buf;
}

static int apply(const args_t *a, bool create)
{
    const char *cmd = create ? "source create" : "source update";
    const char *file = args_get(a, "--config"), *type = args_get(a, "--type");
    if (a->npos != 2 || !file)
        return usage();
    json_t *cfg = NULL, *out = NULL;
    if (read_config(cmd, file, &cfg))
        return 1;
    json_t *body = json_pack("{s:s, s:o}", "name", a->pos[1], "config", cfg);
    if (type)
        json_object_set_new(body, "type", json_string(type));
    char path[700];
    int rc = 0;
    if (create)
        snprintf(path, sizeof path, "/v1/sources");
    else if (source_path(path, sizeof path, a->pos[1], NULL))
        rc = cli_fail(cmd, "out of memory");
    if (!rc)
        rc = cli_call(cmd, args_get(a, "--endpoint"), create ? "POST" : "PUT", path, body, &out);
    json_decref(body);
    if (rc)
        return rc;
    if (args_flag(a, "--json"))
        cli_print_json(out);
    else if (create)
        printf("Created source %s (%s). It starts in the background: follow it with `tarn "
               "source status %s`.\n", S(out, "name"), S(out, "type"), S(out, "name"));
    else if (json_is_true(json_object_get(out, "changed")))
        printf("Source %s is now at version %lld; it restarts with it.\n", S(out, "name"),
               I(out, "version"));
    else
        printf("Source %s unchanged (version %lld)\n", S(out, "name"), I(out, "version"));
    json_decref(out);
    return 0;
}

static int list(const args_t *a)
{
    json_t *out = NULL;
    if (a->npos != 1)
        return usage();
    if (cli_call("source list", args_get(a, "--endpoint"), "GET", "/v1/sources", NULL, &out))
        return 1;
    json_t *all = json_object_get(out, "sources");
    if (args_flag(a, "--json")) {
        cli_print_json(out);
    } else if (!json_array_size(all)) {
        printf("No sources yet. Write a configuration (docs/sources.md) and create one with "
               "`tarn source create NAME --type postgres|mysql --config FILE`.\n");
    } else {
        static const char *const h[] = {"SOURCE", "TYPE", "MODE", "STATE", "ROWS", "LAG",
                                        "CURSOR"};
        table_t *t = table_create(7, h);
        size_t i;
        json_t *s;
        json_array_foreach(all, i, s)
        {
            char st[200], rows[32], lag[32];
            snprintf(rows, sizeof rows, "%lld", I(s, "rows"));
            const char *row[] = {S(s, "name"), S(s, "type"), S(s, "mode"),
                                 state_text(st, sizeof st, s),
                                 json_object_get(s, "rows") ? rows : NULL,
                                 lag_text(lag, sizeof lag, s), S(s, "cursor")};
            table_add(t, row);
        }
        table_print(t, stdout);
        table_free(t);
    }
    json_decref(out);
    return 0;
}

static void print_status(const json_t *o)
{
    char st[600], lag[32];
    printf("%-16s %s\n", "source", S(o, "name"));
    printf("%-16s %s, %s\n", "type", S(o, "type") ? S(o, "type") : "-",
           S(o, "mode") ? S(o, "mode") : "-");
    printf("%-16s %s\n", "state", state_text(st, sizeof st, o));
    printf("%-16s %s\n", "cursor", S(o, "cursor") ? S(o, "cursor") : "-");
    if (S(o, "schedule")) {
        printf("%-16s %s (UTC)\n", "schedule", S(o, "schedule"));
        printf("%-16s %s\n", "next run", S(o, "next_run") ? S(o, "next_run") : "-");
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "watermarks"), k, v)
        printf("%-16s %s > %s\n", "watermark", k, json_string_value(v));
    const char *l = lag_text(lag, sizeof lag, o);
    printf("%-16s %s (%lld bytes of log)\n", "lag", l ? l : "-", I(o, "lag_bytes"));
    printf("%-16s %lld in %lld files, %.1f rows/s lately\n", "rows", I(o, "rows"), I(o, "files"),
           json_number_value(json_object_get(o, "rows_per_second")));
    if (S(o, "last_error"))
        printf("%-16s %s (%s)\n", "last error", S(o, "last_error"), S(o, "last_error_at"));
    json_t *tables = json_object_get(o, "tables");
    if (json_array_size(tables)) {
        printf("\n%s:\n", S(o, "mode") && !strcmp(S(o, "mode"), "incremental") ? "Last run"
                                                                                 : "Snapshot");
        static const char *const h[] = {"TABLE", "ROWS", "OF ABOUT", "DONE"};
        table_t *t = table_create(4, h);
        size_t i;
        json_t *x;
        json_array_foreach(tables, i, x)
        {
            char rows[32], total[32];
            snprintf(rows, sizeof rows, "%lld", I(x, "rows"));
            snprintf(total, sizeof total, "%lld", I(x, "total"));
            const char *row[] = {S(x, "table"), rows, I(x, "total") >= 0 ? total : NULL,
                                 json_is_true(json_object_get(x, "done")) ? "yes" : "no"};
            table_add(t, row);
        }
        table_print(t, stdout);
        table_free(t);
    }
}

static int show(const args_t *a, const char *what)
{
    if (a->npos != 2)
        return usage();
    char path[700], suffix[64] = "";
    const char *v = args_get(a, "--version");
    if (!strcmp(what, "status"))
        snprintf(suffix, sizeof suffix, "/status");
    else if (v)
        snprintf(suffix, sizeof suffix, "?version=%lld", atoll(v));
    if (source_path(path, sizeof path, a->pos[1], suffix))
        return cli_fail("source show", "out of memory");
    json_t *out = NULL;
    char cmd[32];
    snprintf(cmd, sizeof cmd, "source %s", what);
    if (cli_call(cmd, args_get(a, "--endpoint"), "GET", path, NULL, &out))
        return 1;
    if (args_flag(a, "--json")) {
        cli_print_json(out);
    } else {
        print_status(out);
        if (!strcmp(what, "show")) {
            printf("\nConfiguration (version %lld, secrets sealed):\n",
                   I(out, "shown_version"));
            cli_print_json(json_object_get(out, "config"));
        }
    }
    json_decref(out);
    return 0;
}

static int pause_resume(const args_t *a, bool pause)
{
    if (a->npos != 2)
        return usage();
    char path[700];
    if (source_path(path, sizeof path, a->pos[1], pause ? "/pause" : "/resume"))
        return cli_fail("source pause", "out of memory");
    json_t *out = NULL;
    if (cli_call(pause ? "source pause" : "source resume", args_get(a, "--endpoint"), "POST",
                 path, NULL, &out))
        return 1;
    if (args_flag(a, "--json"))
        cli_print_json(out);
    else
        printf(pause ? "Paused source %s: it reads nothing until `tarn source resume %s`; its "
                       "cursor keeps its place.\n"
                     : "Resumed source %s; it goes on from its cursor (`tarn source status "
                       "%s`).\n",
               a->pos[1], a->pos[1]);
    json_decref(out);
    return 0;
}

static bool run_over(const json_t *run)
{
    const char *s = S(run, "status");
    return s && strcmp(s, "queued") && strcmp(s, "running");
}

static int run(const args_t *a)
{
    if (a->npos != 2)
        return usage();
    const char *ep = args_get(a, "--endpoint");
    char path[700];
    if (source_path(path, sizeof path, a->pos[1], "/runs"))
        return cli_fail("source run", "out of memory");
    json_t *body = json_pack("{s:b}", "resnapshot", args_flag(a, "--resnapshot")), *r = NULL;
    int rc = cli_call("source run", ep, "POST", path, body, &r);
    json_decref(body);
    if (rc)
        return rc;
    /* A cdc source's run goes on streaming: waiting ends once it streams (its snapshot,
     * if any, is in). A paused source runs nothing until resumed: waiting ends at once. */
    const char *state = NULL;
    json_t *st = NULL;
    if (args_flag(a, "--wait")) {
        char one[760], stp[700];
        snprintf(one, sizeof one, "%s/%lld", path, I(r, "id"));
        if (source_path(stp, sizeof stp, a->pos[1], "/status"))
            rc = cli_fail("source run", "out of memory");
        while (!rc && !run_over(r)) {
            json_decref(st);
            st = NULL;
            if ((rc = cli_call("source run", ep, "GET", stp, NULL, &st)))
                break;
            /* Streaming counts once this run has begun (a source asked to take its
             * snapshot again streams on until the run starts). */
            state = S(st, "state");
            const char *rs = S(r, "status");
            if (state && ((!strcmp(state, "paused") && rs && !strcmp(rs, "queued")) ||
                          (!strcmp(state, "streaming") && rs && !strcmp(rs, "running"))))
                break;
            state = NULL;
            struct timespec ts = {0, 300 * 1000000L};
            nanosleep(&ts, NULL);
            json_t *next = NULL;
            if ((rc = cli_call("source run", ep, "GET", one, NULL, &next)))
                break;
            json_decref(r);
            r = next;
        }
    }
    if (!rc && state && !strcmp(state, "paused") && !args_flag(a, "--json")) {
        printf("Run %lld of %s is queued, but the source is paused: `tarn source resume %s` "
               "starts it.\n", I(r, "id"), a->pos[1], a->pos[1]);
        rc = 1;
    } else if (!rc && state && !strcmp(state, "paused")) {
        cli_print_json(r);
        rc = 1;
    } else if (!rc && state && !args_flag(a, "--json"))
        printf("Run %lld of %s: the source streams changes now (its snapshot is in). Follow it "
               "with `tarn source status %s`.\n", I(r, "id"), a->pos[1], a->pos[1]);
    else if (!rc && args_flag(a, "--json"))
        cli_print_json(r);
    else if (!rc && !run_over(r))
        printf("Run %lld of %s is %s. Follow it with `tarn source status %s`.\n", I(r, "id"),
               a->pos[1], S(r, "status"), a->pos[1]);
    else if (!rc)
        printf("Run %lld of %s %s: %lld rows in %lld files%s%s.\n", I(r, "id"), a->pos[1],
               S(r, "status"), I(r, "rows"), I(r, "files"), S(r, "error") ? ": " : "",
               S(r, "error") ? S(r, "error") : "");
    if (!rc && run_over(r) && strcmp(S(r, "status"), "succeeded"))
        rc = 1;
    json_decref(st);
    json_decref(r);
    return rc;
}

static int runs(const args_t *a)
{
    if (a->npos != 2)
        return usage();
    char path[700], suffix[48] = "/runs";
    if (args_get(a, "--limit"))
        snprintf(suffix, sizeof suffix, "/runs?limit=%d", atoi(args_get(a, "--limit")));
    if (source_path(path, sizeof path, a->pos[1], suffix))
        return cli_fail("source runs", "out of memory");
    json_t *out = NULL;
    if (cli_call("source runs", args_get(a, "--endpoint"), "GET", path, NULL, &out))
        return 1;
    if (args_flag(a, "--json")) {
        cli_print_json(out);
    } else {
        static const char *const h[] = {"RUN", "TRIGGER", "STATUS", "QUEUED", "FINISHED", "ROWS",
                                        "FILES", "ERROR"};
        table_t *t = table_create(8, h);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(out, "runs"), i, r)
        {
            char id[24], rows[24], files[24];
            snprintf(id, sizeof id, "%lld", I(r, "id"));
            snprintf(rows, sizeof rows, "%lld", I(r, "rows"));
            snprintf(files, sizeof files, "%lld", I(r, "files"));
            const char *row[] = {id, S(r, "trigger"), S(r, "status"), S(r, "queued"),
                                 S(r, "finished"), rows, files, S(r, "error")};
            table_add(t, row);
        }
        table_print(t, stdout);
        table_free(t);
    }
    json_decref(out);
    return 0;
}

static int delete(const args_t *a)
{
    if (a->npos != 2)
        return usage();
    char path[700];
    if (source_path(path, sizeof path, a->pos[1], NULL))
        return cli_fail("source delete", "out of memory");
    json_t *out = NULL;
    if (cli_call("source delete", args_get(a, "--endpoint"), "DELETE", path, NULL, &out))
        return 1;
    if (args_flag(a, "--json"))
        cli_print_json(out);
    else
        printf("Deleted source %s. Its change files stay in the lake.%s%s\n", a->pos[1],
               S(out, "warning") ? " Warning: " : "", S(out, "warning") ? S(out, "warning") : "");
    json_decref(out);
    return 0;
}

int cmd_source(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", "--type", "--config", "--version",
                                         "--limit", NULL};
    static const char *const flags[] = {"--json", "--wait", "--resnapshot", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, "source"))
        return 2;
    if (!a.npos)
        return usage();
    const char *sub = a.pos[0];
    if (!strcmp(sub, "create"))
        return apply(&a, true);
    if (!strcmp(sub, "update"))
        return apply(&a, false);
    if (!strcmp(sub, "list"))
        return list(&a);
    if (!strcmp(sub, "show") || !strcmp(sub, "status"))
        return show(&a, sub);
    if (!strcmp(sub, "pause") || !strcmp(sub, "resume"))
        return pause_resume(&a, !strcmp(sub, "pause"));
    if (!strcmp(sub, "run"))
        return run(&a);
    if (!strcmp(sub, "runs"))
        return runs(&a);
    if (!strcmp(sub, "delete"))
        return delete(&a);
    return usage();
}
