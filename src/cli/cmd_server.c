/* tarn init, tarn serve, tarn version: commands that run on the lake's own machine. */
#include "cli/args.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "server/server.h"
#include "util/units.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_init(int argc, char **argv)
{
    static const char *const valued[] = {"--data", NULL};
    static const char *const flags[] = {"--self-signed", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, "init") || a.npos) {
        if (a.npos)
            fprintf(stderr, "usage: tarn init [--data DIR] [--self-signed]\n");
        return 2;
    }
    const char *data = args_get(&a, "--data");
    if (!data)
        data = "tarn-data";
    bool tls = args_flag(&a, "--self-signed");
    tarn_err_t err = {0};
    /* With --self-signed an existing lake is fine: only the certificate is added. */
    int rc = server_init_lake(data, stdout, &err);
    if (rc == TARN_EEXISTS && tls)
        rc = 0;
    else if (!rc && tls)
        printf("\n");
    if (rc || (tls && server_init_tls(data, stdout, &err)))
        return cli_fail("init", err.msg);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    static const char *const valued[] = {"--data",          "--listen",     "--query-slots",
                                         "--query-timeout", "--queue-wait", "--pg-listen",
                                         "--tls-cert",      "--tls-key",    "--query-memory",
                                         "--promotion",     "--raw-retention", "--pipelines",
                                         "--pipeline-runs", "--compact-min-files",
                                         "--auth-timeout", "--idle-timeout",
                                         "--max-unauthenticated",
                                         "--max-unauthenticated-per-address",
                                         "--http-max-connections", "--pg-max-connections",
                                         "--reserved-admin-connections", "--allow-cidr",
                                         "--allow-cidr-http", "--allow-cidr-pg", NULL};
    args_t a;
    static const char *const flags[] = {"--metrics-public", NULL};
    if (args_parse(&a, argc, argv, valued, flags, "serve"))
        return 2;
    server_opts_t o = {.data_dir = args_get(&a, "--data"),
                       .listen = args_get(&a, "--listen"),
                       .pg_listen = args_get(&a, "--pg-listen"),
                       .tls_cert = args_get(&a, "--tls-cert"),
                       .tls_key = args_get(&a, "--tls-key"),
                       .metrics_public = args_flag(&a, "--metrics-public"),
                       .allow_cidr = args_get(&a, "--allow-cidr"),
                       .allow_cidr_http = args_get(&a, "--allow-cidr-http"),
                       .allow_cidr_pg = args_get(&a, "--allow-cidr-pg")};
    static const char *const nums[] = {"--query-slots", "--query-timeout", "--queue-wait"};
    int *dst[] = {&o.query_slots, &o.query_timeout_s, &o.queue_wait_s};
    for (int i = 0; i < 3; i++) {
        const char *v = args_get(&a, nums[i]);
        char *end;
        long n = v ? strtol(v, &end, 10) : 0;
        if (v && (!*v || *end || n < 1 || n > 86400)) {
            fprintf(stderr, "tarn serve: %s wants a number from 1 to 86400 (got '%s')\n", nums[i], v);
            return 2;
        }
        *dst[i] = (int)n;
    }
    const char *mem = args_get(&a, "--query-memory");
    /* Below some megabytes DuckDB cannot run even a small query on a few threads. */
    if (mem && (units_size_parse(&o.query_memory, mem) || o.query_memory < 16000000)) {
        fprintf(stderr, "tarn serve: --query-memory wants a size of at least 16MB, such as "
                        "512MB or 2GB (got '%s')\n", mem);
        return 2;
    }
    const char *promo = args_get(&a, "--promotion");
    if (promo && strcmp(promo, "on") && strcmp(promo, "off")) {
        fprintf(stderr, "tarn serve: --promotion is on or off (got '%s')\n", promo);
        return 2;
    }
    o.promotion_off = promo && !strcmp(promo, "off");
    const char *pipes = args_get(&a, "--pipelines");
    if (pipes && strcmp(pipes, "on") && strcmp(pipes, "off")) {
        fprintf(stderr, "tarn serve: --pipelines is on or off (got '%s')\n", pipes);
        return 2;
    }
    o.pipelines_off = pipes && !strcmp(pipes, "off");
    static const struct {
        const char *flag;
        long lo, hi;
    } pnums[] = {{"--pipeline-runs", 1, 64},
                 {"--compact-min-files", 0, 100000},
                 {"--auth-timeout", 1, 3600},
                 {"--idle-timeout", 1, 86400},
                 {"--max-unauthenticated", 1, 100000},
                 {"--max-unauthenticated-per-address", 1, 100000},
                 {"--http-max-connections", 1, 100000},
                 {"--pg-max-connections", 1, 100000},
                 {"--reserved-admin-connections", 0, 1000}};
    int *pdst[] = {&o.pipeline_runs,        &o.compact_min_files,   &o.auth_timeout_s,
                   &o.idle_timeout_s,       &o.max_unauth,          &o.max_unauth_per_addr,
                   &o.http_max_connections, &o.pg_max_connections,  &o.reserved_admin};
    _Static_assert(sizeof pnums / sizeof *pnums == sizeof pdst / sizeof *pdst, "one per flag");
    for (size_t i = 0; i < sizeof pnums / sizeof *pnums; i++) {
        const char *v = args_get(&a, pnums[i].flag);
        char *end;
        long n = v ? strtol(v, &end, 10) : 0;
        if (v && (!*v || *end || n < pnums[i].lo || n > pnums[i].hi)) {
            fprintf(stderr, "tarn serve: %s wants a number from %ld to %ld (got '%s')\n",
                    pnums[i].flag, pnums[i].lo, pnums[i].hi, v);
            return 2;
        }
        *pdst[i] = (int)n;
    }
    /* 0 in the options means the default; an explicit 0 reserved slots is -1. */
    const char *res = args_get(&a, "--reserved-admin-connections");
    if (res && o.reserved_admin == 0)
        o.reserved_admin = -1;
    const char *ret = args_get(&a, "--raw-retention");
    if (ret) {
        char *end;
        long long n = strtoll(ret, &end, 10);
        if (!*ret || *end || n < 0 || n > 100LL * 365 * 86400) {
            fprintf(stderr, "tarn serve: --raw-retention wants seconds, 0 or more (got '%s')\n",
                    ret);
            return 2;
        }
        o.raw_retention_s = n;
    }
    if (!o.data_dir)
        o.data_dir = "tarn-data";
    if (!o.listen)
        o.listen = "127.0.0.1:9470";
    tarn_err_t err = {0};
    if (server_run(&o, &err))
        return cli_fail("serve", err.msg);
    return 0;
}

int cmd_version(int argc, char **argv)
{
    static const char *const flags[] = {"--json", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, NULL, flags, "version"))
        return 2;
    if (args_flag(&a, "--json")) {
        json_t *o = json_pack("{s:s, s:s}", "tarn", TARN_VERSION, "duckdb", engine_version());
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("tarn    %s\nduckdb  %s\n", TARN_VERSION, engine_version());
    }
    return 0;
}
