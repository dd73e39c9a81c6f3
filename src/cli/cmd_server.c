/* tarn init, tarn serve, tarn version: commands that run on the lake's own machine. */
#include "cli/args.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "server/server.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

int cmd_init(int argc, char **argv)
{
    static const char *const valued[] = {"--data", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, NULL, "init"))
        return 2;
    const char *data = args_get(&a, "--data");
    tarn_err_t err = {0};
    if (server_init_lake(data ? data : "tarn-data", stdout, &err))
        return cli_fail("init", err.msg);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    static const char *const valued[] = {"--data",       "--listen",     "--query-slots",
                                         "--query-timeout", "--queue-wait", "--pg-listen",
                                         "--tls-cert",   "--tls-key",    NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, NULL, "serve"))
        return 2;
    server_opts_t o = {args_get(&a, "--data"), args_get(&a, "--listen"), 0, 0, 0,
                       args_get(&a, "--pg-listen"), args_get(&a, "--tls-cert"),
                       args_get(&a, "--tls-key")};
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
