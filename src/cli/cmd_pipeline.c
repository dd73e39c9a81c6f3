/* tarn pipeline ...: applying pipeline specs, listing and showing pipelines, starting runs
 * (and following one to its end), their history and logs, and deleting a pipeline,
 * through the REST API (/v1/pipelines). A spec's steps are shown as the parser orders
 * them, so `show` lists them in the order a run takes them. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "process/pipeline_spec.h"
#include "util/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S(o, k) json_string_value(json_object_get((o), (k)))
#define I(o, k) ((long long)json_integer_value(json_object_get((o), (k))))

static int usage(void)
{
    return cli_usage("pipeline");
}

/* /v1/pipelines/NAME followed by suffix (printf-style), into out. */
static int pipeline_path(char *out, size_t cap, const char *name, const char *suffix)
{
    char *n = cli_escape(name);
    if (!n)
        return -1;
    snprintf(out, cap, "/v1/pipelines/%s%s", n, suffix ? suffix : "");
    free(n);
    return 0;
}

/* ---- times ---- */

/* An ISO time of the API ("2026-11-26T01:36:38.123Z") in ms since the epoch; false when
 * s is none. */
static bool iso_ms(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int ms = 0;
    if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec) != 6)
        return false;
    const char *dot = strchr(s, '.');
    if (dot)
        ms = atoi(dot + 1);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm) * 1000 + ms;
    return true;
}

/* "2026-11-26 01:36:38" (UTC) of an ISO time, or NULL. */
static const char *short_time(char *buf, size_t cap, const char *iso)
{
    if (!iso || strlen(iso) < 19)
        return iso;
    snprintf(buf, cap, "%.10s %.8s", iso, iso + 11);
    return buf;
}

/* "0.4s", "12.3s", "4m05s", "2h03m". */
static const char *duration(char *buf, size_t cap, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms < 60000)
        snprintf(buf, cap, "%.1fs", (double)ms / 1000);
    else if (ms < 3600000)
        snprintf(buf, cap, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
    else
        snprintf(buf, cap, "%lldh%02lldm", (long long)(ms / 3600000),
                 (long long)(ms / 60000 % 60));
    return buf;
}

/* How long something with "started" and "finished" took (so far, while it runs). */
static const char *elapsed(char *buf, size_t cap, const json_t *o)
{
    int64_t a, b;
    if (!iso_ms(S(o, "started"), &a))
        return NULL;
    if (!iso_ms(S(o, "finished"), &b))
        b = (int64_t)time(NULL) * 1000;
    return duration(buf, cap, b - a);
}

/* s cut to at most n characters (UTF-8 aware enough: never inside a sequence), with
 * "..." when cut; one line. */
static const char *clip(char *buf, size_t cap, const char *s, size_t n)
{
    if (!s)
        return NULL;
    snprintf(buf, cap, "%s", s);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    if (strlen(buf) > n && n > 3) {
        size_t at = n - 3;
        while (at > 0 && ((unsigned char)buf[at] & 0xC0) == 0x80)
            at--;
        snprintf(buf + at, cap - at, "...");
    }
    return buf;
}

/* "a, b, c" of an array of strings. */
static void join(char *buf, size_t cap, const json_t *a, const char *sep)
{
    size_t i;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(a, i, v)
    {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%s", i ? sep : "",
                 json_string_value(v) ? json_string_value(v) : "?");
    }
}

static const char *count_of(char *buf, size_t cap, const json_t *v)
{
    if (json_is_array(v))
        snprintf(buf, cap, "%zu", json_array_size(v));
    else if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else
        return NULL;
    return buf;
}

/* "new data in cleaned.sales.orders; schedule 0 3 * * *; after load_customers", or
 * "manual only". */
static void triggers_text(char *buf, size_t cap, const json_t *t)
{
    char part[600];
    buf[0] = '\0';
    if (json_array_size(json_object_get(t, "on_new_data"))) {
        join(part, sizeof part, json_object_get(t, "on_new_data"), ", ");
        snprintf(buf + strlen(buf), cap - strlen(buf), "new data in %s", part);
    }
    if (S(t, "schedule"))
        snprintf(buf + strlen(buf), cap - strlen(buf), "%sschedule %s", *buf ? "; " : "",
                 S(t, "schedule"));
    if (json_array_size(json_object_get(t, "after"))) {
        join(part, sizeof part, json_object_get(t, "after"), ", ");
        snprintf(buf + strlen(buf), cap - strlen(buf), "%safter %s", *buf ? "; " : "", part);
    }
    if (!*buf)
        snprintf(buf, cap, "manual only");
}

/* "#12 succeeded 2026-11-26 01:36:38" of a last_run. */
static const char *last_run_text(char *buf, size_t cap, const json_t *lr)
{
    char t[32];
    if (!json_is_object(lr))
        return NULL;
    const char *when = short_time(t, sizeof t, S(lr, "finished"));
    snprintf(buf, cap, "#%lld %s%s%s", I(lr, "id"), S(lr, "status") ? S(lr, "status") : "?",
             when ? " " : "", when ? when : "");
    return buf;
}

/* ---- apply ---- */

static int read_spec(const char *file, buf_t *b)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "tarn pipeline apply: cannot read %s: %s\n", file, strerror(errno));
        return 1;
    }
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(b, chunk, n)) {
            n = 0;
            break;
        }
    bool bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad)
        fprintf(stderr, "tarn pipeline apply: cannot read %s\n", file);
    return bad ? 1 : 0;
}

static int apply(const args_t *a)
{
    if (a->npos != 2)
        return usage();
    const char *file = a->pos[1];
    buf_t b = BUF_INIT;
    client_t c;
    tarn_err_t err = {0};
    json_t *out = NULL;
    int rc = read_spec(file, &b);
    if (rc)
        goto done;
    if (!b.len) {
        rc = cli_fail("pipeline apply", "the spec is empty (see examples/pipelines/ and "
                                        "docs/pipelines.md for the format)");
        goto done;
    }
    if (client_init(&c, args_get(a, "--endpoint"), &err) ||
        client_send(&c, "POST", "/v1/pipelines", "application/yaml", b.data, b.len, &out,
                    &err)) {
        client_wipe(&c);
        fprintf(stderr, "tarn pipeline apply: %s: %s\n", file, err.msg);
        rc = 1;
        goto done;
    }
    client_wipe(&c);
    if (args_flag(a, "--json"))
        cli_print_json(out);
    else if (!json_is_true(json_object_get(out, "changed")))
        printf("Pipeline %s unchanged (version %lld)\n", S(out, "name"), I(out, "version"));
    else if (json_is_true(json_object_get(out, "created")))
        printf("Applied pipeline %s version %lld (new, owned by %s). Start a run with `tarn "
               "pipeline run %s`.\n",
               S(out, "name"), I(out, "version"), S(out, "owner"), S(out, "name"));
    else
        printf("Applied pipeline %s version %lld\n", S(out, "name"), I(out, "version"));
done:
    json_decref(out);
    buf_free(&b);
    return rc;
}

/* ---- list and show ---- */

static int list(const args_t *a)
{
    if (a->npos != 1)
        return usage();
    json_t *out = NULL;
    if (cli_call("pipeline list", args_get(a, "--endpoint"), "GET", "/v1/pipelines", NULL, &out))
        return 1;
    json_t *all = json_object_get(out, "pipelines");
    if (args_flag(a, "--json")) {
        cli_print_json(out);
    } else if (!json_array_size(all)) {
        printf("No pipelines yet. Write a spec (examples/pipelines/daily_sales.yaml, "
               "docs/pipelines.md) and apply it with `tarn pipeline apply FILE`.\n");
    } else {
        static const char *const h[] = {"PIPELINE", "VERSION", "OWNER", "STEPS", "TRIGGERS",
                                        "LAST RUN", "NEXT RUN"};
        table_t *t = table_create(7, h);
        size_t i;
        json_t *p;
        json_array_foreach(all, i, p)
        {
            char v[24], st[24], trig[1400], lr[96], nr[32];
            snprintf(v, sizeof v, "%lld", I(p, "version"));
            triggers_text(trig, sizeof trig, json_object_get(p, "triggers"));
            const char *row[] = {S(p, "name"), v, S(p, "owner"),
                                 count_of(st, sizeof st, json_object_get(p, "steps")), trig,
                                 last_run_text(lr, sizeof lr, json_object_get(p, "last_run")),
                                 short_time(nr, sizeof nr, S(p, "next_run"))};
            table_add(t, row);
        }
        table_print(t, stdout);
        table_free(t);
    }
    json_decref(out);
    return 0;
}

/* The steps in the order a run takes them, from the spec's text. */
static void print_steps(const pipeline_spec_t *spec)
{
    static const char *const h[] = {"#", "STEP", "KIND", "TARGET / CHECKS", "MODE",
                                    "DEPENDS ON"};
    table_t *t = table_create(6, h);
    for (size_t k = 0; k < spec->n_steps; k++) {
        const pipeline_step_t *s = &spec->steps[spec->order[k]];
        char n[16], what[400], mode[300] = "", deps[400] = "";
        snprintf(n, sizeof n, "%zu", k + 1);
        for (size_t d = 0; d < s->depends_on.n; d++)
            snprintf(deps + strlen(deps), sizeof deps - strlen(deps), "%s%s", d ? ", " : "",
                     s->depends_on.items[d]);
        if (s->is_quality) {
            snprintf(what, sizeof what, "%zu rule%s on %s", s->n_rules, s->n_rules == 1 ? "" : "s",
                     s->quality_table ? s->quality_table : s->quality_input);
        } else {
            snprintf(what, sizeof what, "%s", s->target.table);
            snprintf(mode, sizeof mode, "%s", pipeline_mode_name(s->target.mode));
            if (s->target.keys.n) {
                snprintf(mode + strlen(mode), sizeof mode - strlen(mode), " on ");
                for (size_t j = 0; j < s->target.keys.n; j++)
                    snprintf(mode + strlen(mode), sizeof mode - strlen(mode), "%s%s",
                             j ? "," : "", s->target.keys.items[j]);
            }
            if (s->target.partition_by.n) {
                snprintf(mode + strlen(mode), sizeof mode - strlen(mode), ", by ");
                for (size_t j = 0; j < s->target.partition_by.n; j++)
                    snprintf(mode + strlen(mode), sizeof mode - strlen(mode), "%s%s",
                             j ? "," : "", s->target.partition_by.items[j]);
            }
        }
        const char *row[] = {n, s->name, s->is_quality ? "quality" : "sql", what,
                             *mode ? mode : NULL, *deps ? deps : NULL};
        table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
}

/* A server whose spec this CLI cannot read (a newer spec format, say): the steps as the
 * server lists them, when it lists them. */
static void print_steps_json(const json_t *steps)
{
    static const char *const h[] = {"#", "STEP", "KIND", "TARGET", "MODE"};
    table_t *t = table_create(5, h);
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s)
    {
        char n[16];
        snprintf(n, sizeof n, "%zu", i + 1);
        const char *row[] = {n, S(s, "name"), S(s, "kind"), S(s, "target"), S(s, "mode")};
        table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
}

static void show_pipeline(const json_t *o)
{
    char trig[1400], lr[96], nr[32], up[32];
    pipeline_spec_t *spec = NULL;
    tarn_err_t err = {0};
    const char *text = S(o, "spec");
    if (text && pipeline_spec_parse(text, strlen(text), &spec, &err))
        spec = NULL;
    triggers_text(trig, sizeof trig, json_object_get(o, "triggers"));
    if (spec && spec->on_new_data.n)
        snprintf(trig + strlen(trig), sizeof trig - strlen(trig),
                 " (files within %llds make one run)", (long long)spec->batch_window_seconds);
    printf("%-13s %s\n", "pipeline", S(o, "name"));
    printf("%-13s %lld\n", "version", I(o, "version"));
    printf("%-13s %s\n", "owner", S(o, "owner") ? S(o, "owner") : "-");
    printf("%-13s %s\n", "description", S(o, "description") ? S(o, "description") : "-");
    printf("%-13s %s\n", "triggers", trig);
    if (spec) {
        printf("%-13s %lld attempt%s, backoff %llds (doubling)\n", "retries",
               (long long)spec->max_attempts, spec->max_attempts == 1 ? "" : "s",
               (long long)spec->backoff_seconds);
        printf("%-13s %llds\n", "timeout", (long long)spec->timeout_seconds);
    }
    printf("%-13s %s\n", "incremental",
           json_is_true(json_object_get(o, "incremental")) ? "yes: each run reads only new files"
                                                           : "no: each run reads everything");
    const char *updated = short_time(up, sizeof up, S(o, "updated"));
    printf("%-13s %s\n", "updated", updated ? updated : "-");
    const char *last = last_run_text(lr, sizeof lr, json_object_get(o, "last_run"));
    printf("%-13s %s\n", "last run", last ? last : "never");
    const char *next = short_time(nr, sizeof nr, S(o, "next_run"));
    printf("%-13s %s\n", "next run", next ? next : "-");
    printf("\nSteps, in run order:\n");
    if (spec)
        print_steps(spec);
    else if (json_is_array(json_object_get(o, "steps")))
        print_steps_json(json_object_get(o, "steps"));
    else
        printf("  (see the spec: tarn pipeline show %s --spec)\n", S(o, "name"));
    json_t *bm = json_object_get(o, "bookmarks");
    if (json_array_size(bm)) {
        printf("\nBookmarks (files already processed):\n");
        static const char *const h[] = {"TABLE", "FILES"};
        table_t *t = table_create(2, h);
        size_t i;
        json_t *b;
        json_array_foreach(bm, i, b)
        {
            char f[24];
            const char *row[] = {S(b, "table"), count_of(f, sizeof f, json_object_get(b, "files"))};
            table_add(t, row);
        }
        table_print(t, stdout);
        table_free(t);
    }
    json_t *versions = json_object_get(o, "versions");
    if (json_array_size(versions) > 1) {
        printf("\nVersions:\n");
        static const char *const h[] = {"VERSION", "CREATED", "APPLIED BY"};
        table_t *t = table_create(3, h);
        size_t i;
        json_t *v;
        json_array_foreach(versions, i, v)
        {
            char n[24], c[32];
            snprintf(n, sizeof n, "%lld", I(v, "version"));
            const char *row[] = {n, short_time(c, sizeof c, S(v, "created")), S(v, "applied_by")};
            table_add(t, row);
        }
        table_print(t, stdout);
        table_free(t);
    }
    pipeline_spec_free(spec);
}

static int show(const args_t *a)
{
    if (a->npos != 2)
        return usage();
    char path[700], suffix[48] = "";
    const char *v = args_get(a, "--version");
    if (v) {
        char *end;
        long long n = strtoll(v, &end, 10);
        if (!*v || *end || n < 1)
            return cli_fail("pipeline show", "--version wants a version number from 1");
        snprintf(suffix, sizeof suffix, "?version=%lld", n);
    }
    if (pipeline_path(path, sizeof path, a->pos[1], suffix))
        return cli_fail("pipeline show", "out of memory");
    json_t *out = NULL;
    if (cli_call("pipeline show", args_get(a, "--endpoint"), "GET", path, NULL, &out))
        return 1;
    if (args_flag(a, "--json"))
        cli_print_json(out);
    else if (args_flag(a, "--spec"))
        fputs(S(out, "spec") ? S(out, "spec") : "", stdout);
    else
        show_pipeline(out);
    json_decref(out);
    return 0;
}

/* ---- runs ---- */

static bool run_over(const json_t *run)
{
    const char *s = S(run, "status");
    return s && (!strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
}

/* The rows a run wrote to its target tables; -1 when it wrote none (yet). */
static long long rows_out(const json_t *run)
{
    const json_t *outs = json_object_get(run, "outputs");
    long long n = 0;
    size_t i;
    json_t *o;
    if (!json_array_size(outs))
        return -1;
    json_array_foreach(outs, i, o)
        n += I(o, "rows");
    return n;
}

static long long quarantined(const json_t *run)
{
    long long n = 0;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(run, "steps"), i, s)
        n += I(s, "quarantined");
    return n;
}

static void print_runs(const json_t *runs)
{
    static const char *const h[] = {"RUN",      "STATUS",   "TRIGGER",     "ATTEMPT", "STARTED",
                                    "DURATION", "ROWS OUT", "QUARANTINED", "ERROR"};
    table_t *t = table_create(9, h);
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        char id[24], status[48], att[32], st[32], dur[24], ro[24], q[24], e[100];
        snprintf(id, sizeof id, "%lld", I(r, "id"));
        snprintf(status, sizeof status, "%s%s", S(r, "status") ? S(r, "status") : "?",
                 json_is_true(json_object_get(r, "replay")) ? " (replay)" : "");
        snprintf(att, sizeof att, "%lld/%lld", I(r, "attempt"), I(r, "max_attempts"));
        long long rows = rows_out(r);
        snprintf(ro, sizeof ro, "%lld", rows);
        snprintf(q, sizeof q, "%lld", quarantined(r));
        const char *row[] = {id,
                             status,
                             S(r, "trigger"),
                             att,
                             short_time(st, sizeof st, S(r, "started")),
                             elapsed(dur, sizeof dur, r),
                             rows < 0 ? NULL : ro,
                             q,
                             clip(e, sizeof e, S(r, "error"), 60)};
        table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
}

/* A finished run: its steps, what it wrote, and how it ended. */
static void print_run(const char *name, const json_t *run)
{
    static const char *const h[] = {"STEP",   "KIND",        "STATUS",   "ROWS IN",
                                    "ROWS OUT", "QUARANTINED", "DURATION", "ERROR"};
    table_t *t = table_create(8, h);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(run, "steps"), i, s)
    {
        char in[24], out[24], q[24], dur[24], e[100];
        snprintf(in, sizeof in, "%lld", I(s, "rows_in"));
        snprintf(out, sizeof out, "%lld", I(s, "rows_out"));
        snprintf(q, sizeof q, "%lld", I(s, "quarantined"));
        const char *row[] = {S(s, "name"), S(s, "kind"), S(s, "status"),
                             json_is_integer(json_object_get(s, "rows_in")) ? in : NULL,
                             json_is_integer(json_object_get(s, "rows_out")) ? out : NULL,
                             q, elapsed(dur, sizeof dur, s), clip(e, sizeof e, S(s, "error"), 60)};
        table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
    json_array_foreach(json_object_get(run, "outputs"), i, s)
        printf("wrote %s: snapshot %lld, %lld files, %lld rows\n", S(s, "table"),
               I(s, "snapshot"), I(s, "files"), I(s, "rows"));
    char dur[24];
    const char *took = elapsed(dur, sizeof dur, run);
    printf("Run %lld of %s %s%s%s.\n", I(run, "id"), name,
           S(run, "status") ? S(run, "status") : "ended",
           took ? " in " : "", took ? took : "");
}

/* One line of progress on a terminal: the run's state and its steps'. */
static void progress(const json_t *run)
{
    char line[300], t[32];
    size_t done = 0, n = json_array_size(json_object_get(run, "steps"));
    char running[160] = "";
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(run, "steps"), i, s)
    {
        const char *st = S(s, "status");
        if (st && (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "skipped")))
            done++;
        else if (st && !strcmp(st, "running"))
            snprintf(running + strlen(running), sizeof running - strlen(running), "%s%s",
                     *running ? ", " : "", S(s, "name") ? S(s, "name") : "?");
    }
    const char *status = S(run, "status") ? S(run, "status") : "?";
    if (!strcmp(status, "queued") && S(run, "next_attempt"))
        snprintf(line, sizeof line, "run %lld: attempt %lld failed, retrying at %s", I(run, "id"),
                 I(run, "attempt"), short_time(t, sizeof t, S(run, "next_attempt")));
    else if (!strcmp(status, "queued"))
        snprintf(line, sizeof line, "run %lld queued", I(run, "id"));
    else
        snprintf(line, sizeof line, "run %lld %s (attempt %lld/%lld): %zu of %zu steps done%s%s",
                 I(run, "id"), status, I(run, "attempt"), I(run, "max_attempts"), done, n,
                 *running ? "; running " : "", running);
    char clipped[120];
    fprintf(stderr, "\r\033[K%s", clip(clipped, sizeof clipped, line, 110));
    fflush(stderr);
}

/* Polls the run until it ends; *run is replaced by each answer. */
static int wait_run(const char *cmd, const char *endpoint, const char *name, json_t **run)
{
    char path[700], suffix[48];
    snprintf(suffix, sizeof suffix, "/runs/%lld", I(*run, "id"));
    if (pipeline_path(path, sizeof path, name, suffix))
        return cli_fail(cmd, "out of memory");
    client_t c;
    tarn_err_t err = {0};
    if (client_init(&c, endpoint, &err))
        return cli_fail(cmd, err.msg);
    bool tty = isatty(STDERR_FILENO);
    int rc = 0;
    while (!run_over(*run)) {
        if (tty)
            progress(*run);
        struct timespec ts = {0, 500 * 1000000L};
        nanosleep(&ts, NULL);
        json_t *next = NULL;
        if (client_call(&c, "GET", path, NULL, &next, &err)) {
            rc = cli_fail(cmd, err.msg);
            break;
        }
        json_decref(*run);
        *run = next;
    }
    if (tty)
        fprintf(stderr, "\r\033[K");
    client_wipe(&c);
    return rc;
}

static int run(const args_t *a, bool replay)
{
    if (a->npos != 2)
        return usage();
    const char *name = a->pos[1], *ep = args_get(a, "--endpoint");
    const char *cmd = replay ? "pipeline replay" : "pipeline run";
    bool json = args_flag(a, "--json");
    char path[700];
    if (pipeline_path(path, sizeof path, name, "/runs"))
        return cli_fail(cmd, "out of memory");
    json_t *body = json_pack("{s:b}", "replay", replay), *r = NULL;
    int rc = cli_call(cmd, ep, "POST", path, body, &r);
    json_decref(body);
    if (rc)
        return rc;
    if (!args_flag(a, "--wait")) {
        if (json)
            cli_print_json(r);
        else
            printf("Run %lld of %s is queued%s. Follow it with `tarn pipeline runs %s` or "
                   "`tarn pipeline logs %s --run %lld`.\n",
                   I(r, "id"), name, replay ? " (replay: outputs rebuilt from cleaned)" : "",
                   name, name, I(r, "id"));
        json_decref(r);
        return 0;
    }
    if (!(rc = wait_run(cmd, ep, name, &r))) {
        if (json)
            cli_print_json(r);
        else
            print_run(name, r);
        if (!S(r, "status") || strcmp(S(r, "status"), "succeeded")) {
            char msg[700];
            snprintf(msg, sizeof msg, "run %lld of %s %s: %s (see `tarn pipeline logs %s --run "
                     "%lld`)", I(r, "id"), name, S(r, "status") ? S(r, "status") : "ended",
                     S(r, "error") ? S(r, "error") : "no reason given", name, I(r, "id"));
            rc = cli_fail(cmd, msg);
        }
    }
    json_decref(r);
    return rc;
}

static int runs(const args_t *a)
{
    if (a->npos != 2)
        return usage();
    char path[700], suffix[48] = "/runs";
    const char *l = args_get(a, "--limit");
    if (l) {
        char *end;
        long n = strtol(l, &end, 10);
        if (!*l || *end || n < 1 || n > 1000)
            return cli_fail("pipeline runs", "--limit wants a number from 1 to 1000");
        snprintf(suffix, sizeof suffix, "/runs?limit=%ld", n);
    }
    if (pipeline_path(path, sizeof path, a->pos[1], suffix))
        return cli_fail("pipeline runs", "out of memory");
    json_t *out = NULL;
    if (cli_call("pipeline runs", args_get(a, "--endpoint"), "GET", path, NULL, &out))
        return 1;
    if (args_flag(a, "--json"))
        cli_print_json(out);
    else if (!json_array_size(json_object_get(out, "runs")))
        printf("%s has not run yet. Start a run with `tarn pipeline run %s`.\n", a->pos[1],
               a->pos[1]);
    else
        print_runs(json_object_get(out, "runs"));
    json_decref(out);
    return 0;
}

static int logs(const args_t *a)
{
    if (a->npos != 2)
        return usage();
    const char *which = args_get(a, "--run") ? args_get(a, "--run") : "latest";
    char path[700], suffix[120];
    char *w = cli_escape(which);
    snprintf(suffix, sizeof suffix, "/runs/%s/logs", w ? w : "");
    free(w);
    if (pipeline_path(path, sizeof path, a->pos[1], suffix))
        return cli_fail("pipeline logs", "out of memory");
    json_t *out = NULL;
    if (cli_call("pipeline logs", args_get(a, "--endpoint"), "GET", path, NULL, &out))
        return 1;
    if (args_flag(a, "--json")) {
        cli_print_json(out);
        json_decref(out);
        return 0;
    }
    const json_t *r = json_object_get(out, "run");
    if (json_is_object(r))
        printf("Run %lld of %s: %s (%s, attempt %lld/%lld)\n", I(r, "id"), a->pos[1],
               S(r, "status") ? S(r, "status") : "?", S(r, "trigger") ? S(r, "trigger") : "?",
               I(r, "attempt"), I(r, "max_attempts"));
    else if (json_is_integer(r))
        printf("Run %lld of %s\n", (long long)json_integer_value(r), a->pos[1]);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(out, "logs"), i, l)
    {
        char t[32];
        const char *when = short_time(t, sizeof t, S(l, "time")), *step = S(l, "step");
        printf("%s  %-5s  %s%s%s%s\n", when ? when : "-", S(l, "level") ? S(l, "level") : "",
               step ? "[" : "", step ? step : "", step ? "] " : "",
               S(l, "message") ? S(l, "message") : "");
    }
    json_decref(out);
    return 0;
}

static int delete(const args_t *a)
{
    if (a->npos != 2)
        return usage();
    char path[700];
    if (pipeline_path(path, sizeof path, a->pos[1], NULL))
        return cli_fail("pipeline delete", "out of memory");
    json_t *out = NULL;
    if (cli_call("pipeline delete", args_get(a, "--endpoint"), "DELETE", path, NULL, &out))
        return 1;
    json_decref(out);
    printf("Deleted pipeline %s. Its tables, their snapshots and its run history stay.\n",
           a->pos[1]);
    return 0;
}

int cmd_pipeline(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", "--version", "--limit", "--run", NULL};
    static const char *const flags[] = {"--json", "--wait", "--replay", "--spec", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, "pipeline"))
        return 2;
    if (!a.npos)
        return usage();
    const char *sub = a.pos[0];
    if (!strcmp(sub, "apply"))
        return apply(&a);
    if (!strcmp(sub, "list"))
        return list(&a);
    if (!strcmp(sub, "show"))
        return show(&a);
    if (!strcmp(sub, "run"))
        return run(&a, args_flag(&a, "--replay"));
    if (!strcmp(sub, "replay"))
        return run(&a, true);
    if (!strcmp(sub, "runs"))
        return runs(&a);
    if (!strcmp(sub, "logs"))
        return logs(&a);
    if (!strcmp(sub, "delete"))
        return delete(&a);
    return usage();
}
