/* tarn audit tail and tarn audit verify: read the audit trail of a lake on this machine
 * (--data DIR), checking its hash chain, signed segment digests and recovery lines; gaps
 * left by crash damage are reported, and fail the check with --strict. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "govern/audit.h"
#include "govern/keyring.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE                                                                              \
    "usage: tarn audit tail [-n N] [--json] [--data DIR] | tarn audit verify [--strict] "  \
    "[--json] [--data DIR]\n"

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

static void print_gaps(FILE *f, const audit_verify_report_t *rep)
{
    char line[320];
    for (size_t i = 0; i < rep->ngaps && i < AUDIT_GAPS_MAX; i++) {
        audit_gap_describe(line, sizeof line, &rep->gaps[i]);
        fprintf(f, "gap: %s\n", line);
    }
    if (rep->ngaps > AUDIT_GAPS_MAX)
        fprintf(f, "gap: ... and %zu more\n", rep->ngaps - AUDIT_GAPS_MAX);
}

static int verify_json(const audit_verify_report_t *rep, int rc, const char *why)
{
    json_t *gaps = json_array(), *o;
    for (size_t i = 0; gaps && i < rep->ngaps && i < AUDIT_GAPS_MAX; i++) {
        const audit_gap_t *g = &rep->gaps[i];
        char name[32], rname[32];
        audit_seg_name(name, sizeof name, g->segment);
        audit_seg_name(rname, sizeof rname, g->segment + 1);
        json_array_append_new(
            gaps, json_pack("{s:s, s:I, s:I, s:o, s:I, s:I, s:I, s:s}", "segment", name,
                            "byte_start", (json_int_t)g->byte_start, "byte_end",
                            (json_int_t)g->byte_end, "records_lost",
                            g->records_lost < 0 ? json_null() : json_integer(g->records_lost),
                            "lost_from_seq", (json_int_t)g->lost_from, "kept_before",
                            (json_int_t)g->kept_before, "kept_after", (json_int_t)g->kept_after,
                            "recovered_in", rname));
    }
    o = json_pack("{s:b, s:I, s:I, s:I, s:o, s:s?}", "ok", rc == 0, "records",
                  (json_int_t)rep->records, "segments", (json_int_t)rep->segments, "gap_count",
                  (json_int_t)rep->ngaps, "gaps", gaps, "error", rc ? why : NULL);
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!s)
        return cli_fail("audit verify", "out of memory");
    printf("%s\n", s);
    free(s);
    return rc ? 1 : 0;
}

/* Exit 0 when every hash and signature holds and each gap is covered by a signed recovery
 * line (--strict: and there is no gap), 1 otherwise. */
static int verify(const char *dir, const char *keys, bool strict, bool json)
{
    keyring_t *kr = NULL;
    tarn_err_t err = {0};
    audit_verify_report_t *rep = calloc(1, sizeof *rep);
    int rc;
    if (!rep)
        return cli_fail("audit verify", "out of memory");
    if (keyring_open(&kr, keys, &err)) {
        free(rep);
        return cli_fail("audit verify", err.msg);
    }
    rc = audit_verify_flags(dir, kr, strict ? AUDIT_VERIFY_STRICT : 0, rep, &err);
    keyring_free(kr);
    const char *why = rep->first_bad[0] ? rep->first_bad : err.msg;
    if (json) {
        rc = verify_json(rep, rc, why);
        free(rep);
        return rc;
    }
    print_gaps(rc ? stderr : stdout, rep);
    if (rc)
        fprintf(stderr, "tarn audit verify: FAILED: %s\n", why);
    else if (rep->ngaps)
        printf("audit trail verified with %zu recorded gap%s (crash damage, covered by signed "
               "recovery lines): %llu record%s kept in %llu segment%s, hash chain and "
               "signatures verified\n",
               rep->ngaps, rep->ngaps == 1 ? "" : "s", (unsigned long long)rep->records,
               rep->records == 1 ? "" : "s", (unsigned long long)rep->segments,
               rep->segments == 1 ? "" : "s");
    else
        printf("audit trail intact: %llu record%s in %llu segment%s, hash chain and signatures "
               "verified\n",
               (unsigned long long)rep->records, rep->records == 1 ? "" : "s",
               (unsigned long long)rep->segments, rep->segments == 1 ? "" : "s");
    free(rep);
    return rc ? 1 : 0;
}

int cmd_audit(int argc, char **argv)
{
    static const char *const valued[] = {"--data", "-n", NULL};
    static const char *const flags[] = {"--json", "--strict", NULL};
    args_t a;
    if (argc < 1 || args_parse(&a, argc - 1, argv + 1, valued, flags, "audit")) {
        fprintf(stderr, USAGE);
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
    if (!strcmp(argv[0], "verify"))
        return verify(dir, keys, args_flag(&a, "--strict"), args_flag(&a, "--json"));
    fprintf(stderr, USAGE);
    return 2;
}
