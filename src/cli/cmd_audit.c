/* tarn audit tail and tarn audit verify: read the audit trail of a lake on this machine
 * (--data DIR), checking its hash chain and signed segment digests. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "govern/audit.h"
#include "govern/keyring.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool json;
    table_t *t;
} tail_t;

static int on_line(void *ctx, const char *line)
{
    tail_t *tl = ctx;
    if (tl->json) {
        printf("%s\n", line);
        return 0;
    }
    json_t *r = json_loads(line, 0, NULL);
    if (!r)
        return 0;
    char status[16];
    snprintf(status, sizeof status, "%lld", (long long)json_integer_value(json_object_get(r, "status")));
    const char *row[] = {json_string_value(json_object_get(r, "time")),
                         json_string_value(json_object_get(r, "principal")),
                         json_string_value(json_object_get(r, "action")),
                         json_string_value(json_object_get(r, "resource")),
                         json_string_value(json_object_get(r, "outcome")), status,
                         json_string_value(json_object_get(r, "source"))};
    table_add(tl->t, row);
    json_decref(r);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    static const char *const valued[] = {"--data", "-n", NULL};
    static const char *const flags[] = {"--json", NULL};
    args_t a;
    if (argc < 1 || args_parse(&a, argc - 1, argv + 1, valued, flags, "audit")) {
        fprintf(stderr, "usage: tarn audit tail [-n N] [--json] [--data DIR] | tarn audit verify [--data DIR]\n");
        return 2;
    }
    const char *data = args_get(&a, "--data");
    char dir[4200], keys[4200];
    snprintf(dir, sizeof dir, "%s/audit", data ? data : "tarn-data");
    snprintf(keys, sizeof keys, "%s/keys", data ? data : "tarn-data");
    tarn_err_t err = {0};
    if (!strcmp(argv[0], "tail")) {
        const char *nv = args_get(&a, "-n");
        long n = nv ? strtol(nv, NULL, 10) : 20;
        if (n < 1)
            return cli_fail("audit tail", "-n wants a positive number");
        static const char *const h[] = {"TIME", "PRINCIPAL", "ACTION", "RESOURCE", "OUTCOME", "STATUS", "SOURCE"};
        tail_t tl = {args_flag(&a, "--json"), NULL};
        if (!tl.json)
            tl.t = table_create(7, h);
        int rc = audit_tail(dir, (size_t)n, on_line, &tl, &err);
        if (tl.t) {
            if (!rc)
                table_print(tl.t, stdout);
            table_free(tl.t);
        }
        return rc ? cli_fail("audit tail", err.msg) : 0;
    }
    if (!strcmp(argv[0], "verify")) {
        keyring_t *kr = NULL;
        if (keyring_open(&kr, keys, &err))
            return cli_fail("audit verify", err.msg);
        audit_verify_report_t rep;
        memset(&rep, 0, sizeof rep);
        int rc = audit_verify(dir, kr, &rep, &err);
        keyring_free(kr);
        if (rc) {
            fprintf(stderr, "tarn audit verify: FAILED: %s\n",
                    rep.first_bad[0] ? rep.first_bad : err.msg);
            return 1;
        }
        printf("audit trail intact: %llu record%s in %llu segment%s, hash chain and signatures "
               "verified\n",
               (unsigned long long)rep.records, rep.records == 1 ? "" : "s",
               (unsigned long long)rep.segments, rep.segments == 1 ? "" : "s");
        return 0;
    }
    fprintf(stderr, "usage: tarn audit tail [-n N] [--json] [--data DIR] | tarn audit verify [--data DIR]\n");
    return 2;
}
