/* tarn tables, tarn table ..., tarn search, tarn crawl: browsing and curating the
 * catalog through the REST API, and rolling back or compacting the tables tarn writes. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S(o, k) json_string_value(json_object_get((o), (k)))
#define I(o, k) ((long long)json_integer_value(json_object_get((o), (k))))

static const char *num(char *buf, size_t cap, json_t *v)
{
    if (!json_is_integer(v))
        return "-";
    snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    return buf;
}

/* "zone.db.table" (or "db.table" in curated, as in SQL) split into its parts. */
static int parse_table(const char *cmd, const char *name, char *zone, char *db, char *t)
{
    char buf[400];
    snprintf(buf, sizeof buf, "%s", name);
    char *p[3] = {0};
    int n = 0;
    for (char *s = buf, *tok; n < 4 && (tok = strsep(&s, ".")); n++)
        if (n < 3)
            p[n] = tok;
    if ((n != 2 && n != 3) || !*p[0] || !*p[1] || (n == 3 && !*p[2])) {
        fprintf(stderr, "tarn %s: name a table as zone.database.table (e.g. raw.sales.orders), "
                        "got '%s'\n", cmd, name);
        return -1;
    }
    snprintf(zone, 16, "%s", n == 3 ? p[0] : "curated");
    snprintf(db, 129, "%s", n == 3 ? p[1] : p[0]);
    snprintf(t, 129, "%s", n == 3 ? p[2] : p[1]);
    return 0;
}

static void print_tables(json_t *list, const char *key)
{
    static const char *const h[] = {"TABLE", "FORMAT", "FILES", "ROWS", "SIZE", "VERSION",
                                    "STATUS", "OWNER", "UPDATED"};
    table_t *t = table_create(9, h);
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(list, key), i, o)
    {
        char f[24], r[24], sz[24], v[24];
        const char *upd = S(o, "updated");
        const char *row[] = {S(o, "name"), S(o, "format"), num(f, sizeof f, json_object_get(o, "files")),
                             num(r, sizeof r, json_object_get(o, "rows")),
                             cli_size(sz, sizeof sz, I(o, "bytes")),
                             num(v, sizeof v, json_object_get(o, "schema_version")),
                             S(o, "status"), S(o, "owner"), upd ? upd : NULL};
        table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
}

int cmd_tables(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", NULL};
    static const char *const flags[] = {"--json", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, "tables"))
        return 2;
    if (a.npos > 1) {
        fprintf(stderr, "usage: tarn tables [ZONE[.DATABASE]]\n");
        return 2;
    }
    char path[600] = "/v1/tables";
    if (a.npos == 1) {
        char zone[64] = "", db[256] = "";
        sscanf(a.pos[0], "%63[^.].%255s", zone, db);
        char *ez = cli_escape(zone), *ed = cli_escape(db);
        snprintf(path, sizeof path, "/v1/tables?zone=%s%s%s", ez ? ez : "", *db ? "&database=" : "",
                 *db && ed ? ed : "");
        free(ez);
        free(ed);
    }
    json_t *out = NULL;
    if (cli_call("tables", args_get(&a, "--endpoint"), "GET", path, NULL, &out))
        return 1;
    if (args_flag(&a, "--json"))
        cli_print_json(out);
    else if (!json_array_size(json_object_get(out, "tables")))
        printf("No tables yet. Upload files under <zone>/<database>/<table>/ (e.g. "
               "s3://raw/sales/orders/part-0.csv) and they are catalogued on arrival.\n");
    else
        print_tables(out, "tables");
    json_decref(out);
    return 0;
}

/* ---- tarn table ... ---- */

static void join_tags(char *buf, size_t cap, json_t *tags)
{
    size_t i;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(tags, i, v)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? "," : "", json_string_value(v));
}

static void show_table(json_t *o)
{
    char tags[512], sz[24], b[24];
    join_tags(tags, sizeof tags, json_object_get(o, "tags"));
    char *opts = json_dumps(json_object_get(o, "format_options"), JSON_COMPACT);
    char *pk = NULL;
    {
        char buf[512] = "";
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(o, "partition_keys"), i, k)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s %s", i ? ", " : "",
                     S(k, "name"), S(k, "type"));
        pk = strdup(buf);
    }
    const char *fields[][2] = {
        {"table", S(o, "name")},
        {"location", S(o, "location")},
        {"format", S(o, "format")},
        {"options", opts},
        {"partitioned by", pk && *pk ? pk : NULL},
        {"schema", NULL},
        {"files", num(b, sizeof b, json_object_get(o, "files"))},
        {"size", cli_size(sz, sizeof sz, I(o, "bytes"))},
        {"status", S(o, "status")},
        {"owner", S(o, "owner")},
        {"steward", S(o, "steward")},
        {"description", S(o, "description")},
        {"tags", tags[0] ? tags : NULL},
        {"created", S(o, "created")},
        {"updated", S(o, "updated")},
    };
    char schema[64], rows[24];
    snprintf(schema, sizeof schema, "version %lld (%s), snapshot %lld", I(o, "schema_version"),
             S(o, "schema_source"), I(o, "snapshot"));
    fields[5][1] = schema;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        printf("%-15s %s\n", fields[i][0], fields[i][1] ? fields[i][1] : "-");
        if (!strcmp(fields[i][0], "files"))
            printf("%-15s %s\n", "rows", num(rows, sizeof rows, json_object_get(o, "rows")));
    }
    if (S(o, "status_reason"))
        printf("%-15s %s\n", "problem", S(o, "status_reason"));
    json_t *promo = json_object_get(o, "promotion");
    if (promo) {
        char req[300] = "", nn[300] = "", keep[40] = "server default";
        join_tags(req, sizeof req, json_object_get(promo, "required_columns"));
        join_tags(nn, sizeof nn, json_object_get(promo, "not_null_keys"));
        if (json_is_integer(json_object_get(promo, "raw_retention_s")))
            snprintf(keep, sizeof keep, "%llds", I(promo, "raw_retention_s"));
        printf("%-15s mode %s; required columns %s; not-null keys %s; raw kept %s\n",
               "promotion", S(promo, "mode"), *req ? req : "-", *nn ? nn : "-", keep);
        printf("%-15s %lld\n", "quarantined", I(o, "quarantined"));
    }
    free(opts);
    free(pk);
    printf("\n");
    static const char *const h[] = {"#", "COLUMN", "TYPE", "NULL", "SENSITIVITY", "TAGS",
                                    "DESCRIPTION"};
    table_t *t = table_create(7, h);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(o, "columns"), i, c)
    {
        char id[24], ct[256];
        join_tags(ct, sizeof ct, json_object_get(c, "tags"));
        const char *row[] = {num(id, sizeof id, json_object_get(c, "id")), S(c, "name"),
                             S(c, "type"), json_is_true(json_object_get(c, "nullable")) ? "yes" : "no",
                             S(c, "sensitivity"), ct[0] ? ct : NULL, S(c, "description")};
        table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
}

/* "added d BIGINT; removed x; amount BIGINT -> VARCHAR" */
static void change_summary(char *buf, size_t cap, json_t *ch)
{
    buf[0] = '\0';
    static const char *const kinds[] = {"added", "removed", "changed"};
    for (int k = 0; k < 3; k++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(ch, kinds[k]), i, c)
        {
            size_t n = strlen(buf);
            if (k == 2)
                snprintf(buf + n, cap - n, "%s%s %s -> %s", n ? "; " : "", S(c, "name"),
                         S(c, "old_type"), S(c, "new_type"));
            else
                snprintf(buf + n, cap - n, "%s%s %s %s", n ? "; " : "", kinds[k], S(c, "name"),
                         S(c, "type"));
        }
    }
}

/* What made a snapshot, in brief: "daily_sales@3 run 12 <- cleaned.sales.orders@5" for a
 * pipeline's (its first input and how many more), "to snapshot 3" for a rollback, and
 * for other summaries (compaction's, say) their plain values as key=value. */
static const char *lineage(char *buf, size_t cap, json_t *summary)
{
    buf[0] = '\0';
    if (S(summary, "pipeline")) {
        snprintf(buf, cap, "%s@%lld run %lld", S(summary, "pipeline"), I(summary, "version"),
                 I(summary, "run"));
        json_t *in = json_object_get(summary, "inputs"), *first = json_array_get(in, 0);
        if (S(first, "table")) {
            size_t n = strlen(buf);
            snprintf(buf + n, cap - n, " <- %s", S(first, "table"));
            if (json_is_integer(json_object_get(first, "snapshot")))
                snprintf(buf + strlen(buf), cap - strlen(buf), "@%lld", I(first, "snapshot"));
            if (json_array_size(in) > 1)
                snprintf(buf + strlen(buf), cap - strlen(buf), " +%zu", json_array_size(in) - 1);
        }
        return buf;
    }
    if (json_is_integer(json_object_get(summary, "rollback_to"))) {
        snprintf(buf, cap, "to snapshot %lld", I(summary, "rollback_to"));
        return buf;
    }
    const char *k;
    json_t *v;
    json_object_foreach(summary, k, v)
    {
        size_t n = strlen(buf);
        if (json_is_integer(v))
            snprintf(buf + n, cap - n, "%s%s=%lld", n ? " " : "", k,
                     (long long)json_integer_value(v));
        else if (json_is_string(v))
            snprintf(buf + n, cap - n, "%s%s=%s", n ? " " : "", k, json_string_value(v));
        else if (json_is_real(v))
            snprintf(buf + n, cap - n, "%s%s=%g", n ? " " : "", k, json_real_value(v));
        else if (json_is_boolean(v))
            snprintf(buf + n, cap - n, "%s%s=%s", n ? " " : "", k, json_is_true(v) ? "yes" : "no");
        else if (json_is_array(v))
            snprintf(buf + n, cap - n, "%s%s=[%zu]", n ? " " : "", k, json_array_size(v));
    }
    if (strlen(buf) > 60)
        snprintf(buf + 57, cap - 57, "...");
    return *buf ? buf : NULL;
}

static int table_list_view(const char *sub, json_t *out)
{
    size_t i;
    json_t *o;
    table_t *t = NULL;
    if (!strcmp(sub, "versions")) {
        static const char *const h[] = {"VERSION", "CREATED", "COLUMNS", "CHANGES"};
        t = table_create(4, h);
        json_array_foreach(json_object_get(out, "versions"), i, o)
        {
            char v[24], n[24], ch[2048];
            snprintf(n, sizeof n, "%zu", json_array_size(json_object_get(o, "columns")));
            change_summary(ch, sizeof ch, json_object_get(o, "changes"));
            const char *row[] = {num(v, sizeof v, json_object_get(o, "version")), S(o, "created"),
                                 n, ch};
            table_add(t, row);
        }
    } else if (!strcmp(sub, "files")) {
        static const char *const h[] = {"KEY", "SIZE", "FORMAT", "ROWS", "VERSION", "STATUS",
                                        "REASON"};
        t = table_create(7, h);
        json_array_foreach(json_object_get(out, "files"), i, o)
        {
            char sz[24], r[24], v[24];
            const char *row[] = {S(o, "key"), cli_size(sz, sizeof sz, I(o, "size")), S(o, "format"),
                                 num(r, sizeof r, json_object_get(o, "rows")),
                                 num(v, sizeof v, json_object_get(o, "schema_version")),
                                 S(o, "status"), S(o, "reason")};
            table_add(t, row);
        }
    } else if (!strcmp(sub, "partitions")) {
        static const char *const h[] = {"PARTITION", "FILES", "SIZE", "UPDATED"};
        t = table_create(4, h);
        json_array_foreach(json_object_get(out, "partitions"), i, o)
        {
            char f[24], sz[24];
            const char *row[] = {S(o, "spec"), num(f, sizeof f, json_object_get(o, "files")),
                                 cli_size(sz, sizeof sz, I(o, "bytes")), S(o, "updated")};
            table_add(t, row);
        }
    } else {
        static const char *const h[] = {"SNAPSHOT", "CREATED", "OPERATION", "ADDED", "REMOVED",
                                        "FILES", "SIZE", "CURRENT", "LINEAGE"};
        t = table_create(9, h);
        json_array_foreach(json_object_get(out, "snapshots"), i, o)
        {
            char s[24], ad[24], rm[24], f[24], sz[24], lin[400];
            const char *row[] = {num(s, sizeof s, json_object_get(o, "snapshot")), S(o, "created"),
                                 S(o, "operation"), num(ad, sizeof ad, json_object_get(o, "added_files")),
                                 num(rm, sizeof rm, json_object_get(o, "removed_files")),
                                 num(f, sizeof f, json_object_get(o, "files")),
                                 cli_size(sz, sizeof sz, I(o, "bytes")),
                                 json_is_true(json_object_get(o, "current")) ? "*" : "",
                                 lineage(lin, sizeof lin, json_object_get(o, "summary"))};
            table_add(t, row);
        }
    }
    table_print(t, stdout);
    table_free(t);
    return 0;
}

static int table_usage(void)
{
    fprintf(stderr, "usage: tarn table show|versions|files|partitions|snapshots ZONE.DB.TABLE\n"
                    "       tarn table create ZONE.DB.TABLE --format F --schema 'COL TYPE, ...'\n"
                    "       tarn table set ZONE.DB.TABLE [--description D] [--owner O] [--tag T]"
                    " [--column C ...]\n"
                    "                      [--promotion-mode additive|strict|any]"
                    " [--required-columns a,b] [--not-null-keys id] [--raw-retention S]\n"
                    "       tarn table rollback ZONE.DB.TABLE --to SNAPSHOT\n"
                    "       tarn table compact ZONE.DB.TABLE [--target-mb N]\n"
                    "(see `tarn help table`)\n");
    return 2;
}

/* Every value of a repeatable option. */
static json_t *all_values(const args_t *a, const char *name)
{
    json_t *v = json_array();
    for (size_t i = 0; i < a->nopts; i++)
        if (!strcmp(a->names[i], name) && a->values[i])
            json_array_append_new(v, json_string(a->values[i]));
    return v;
}

static json_t *create_body(const args_t *a)
{
    json_t *b = json_object();
    static const char *const map[][2] = {{"--format", "format"}, {"--schema", "schema"},
                                         {"--partition-keys", "partition_keys"},
                                         {"--description", "description"},
                                         {"--owner", "owner"}, {"--steward", "steward"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (args_get(a, map[i][0]))
            json_object_set_new(b, map[i][1], json_string(args_get(a, map[i][0])));
    json_t *tags = all_values(a, "--tag");
    if (json_array_size(tags))
        json_object_set(b, "tags", tags);
    json_decref(tags);
    json_t *opts = json_object();
    for (size_t i = 0; i < a->nopts; i++) {
        if (strcmp(a->names[i], "--option") || !a->values[i])
            continue;
        const char *eq = strchr(a->values[i], '=');
        char k[64];
        if (!eq || eq == a->values[i] || (size_t)(eq - a->values[i]) >= sizeof k)
            continue;
        snprintf(k, sizeof k, "%.*s", (int)(eq - a->values[i]), a->values[i]);
        const char *v = eq + 1;
        if (!strcmp(v, "true") || !strcmp(v, "false"))
            json_object_set_new(opts, k, json_boolean(!strcmp(v, "true")));
        else
            json_object_set_new(opts, k, json_string(v));
    }
    if (json_object_size(opts))
        json_object_set(b, "options", opts);
    json_decref(opts);
    return b;
}

/* "a,b" as ["a", "b"] (empty names dropped). */
static json_t *name_list(const char *v)
{
    json_t *l = json_array();
    char part[256];
    for (const char *p = v; p && *p;) {
        size_t n = strcspn(p, ",");
        snprintf(part, sizeof part, "%.*s", (int)(n < sizeof part ? n : sizeof part - 1), p);
        if (*part)
            json_array_append_new(l, json_string(part));
        p += n + (p[n] == ',');
    }
    return l;
}

/* The promotion policy options of `table set` as the PATCH's "promotion" object. */
static bool promotion_option(json_t *b, const char *n, const char *v)
{
    static const char *const names[] = {"--promotion-mode", "--required-columns",
                                        "--not-null-keys", "--raw-retention"};
    bool known = false;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        known = known || !strcmp(n, names[i]);
    if (!known)
        return false;
    json_t *p = json_object_get(b, "promotion");
    if (!p)
        json_object_set_new(b, "promotion", p = json_object());
    if (!strcmp(n, "--promotion-mode"))
        json_object_set_new(p, "mode", json_string(v));
    else if (!strcmp(n, "--required-columns"))
        json_object_set_new(p, "required_columns", name_list(v));
    else if (!strcmp(n, "--not-null-keys"))
        json_object_set_new(p, "not_null_keys", name_list(v));
    else
        json_object_set_new(p, "raw_retention_s",
                            *v ? json_integer(strtoll(v, NULL, 10)) : json_null());
    return true;
}

/* Options before the first --column apply to the table, after it to that column. */
static json_t *set_body(const args_t *a)
{
    json_t *b = json_object(), *target = b, *cols = json_object();
    for (size_t i = 0; i < a->nopts; i++) {
        const char *n = a->names[i], *v = a->values[i];
        if (v && promotion_option(b, n, v)) {
            continue;
        } else if (!strcmp(n, "--column")) {
            target = json_object();
            json_object_set_new(cols, v, target);
        } else if (!strcmp(n, "--tag") || !strcmp(n, "--untag")) {
            const char *k = !strcmp(n, "--tag") ? "add_tags" : "remove_tags";
            if (!json_object_get(target, k))
                json_object_set_new(target, k, json_array());
            json_array_append_new(json_object_get(target, k), json_string(v));
        } else if (strcmp(n, "--endpoint") && strcmp(n, "--json") && v) {
            json_object_set_new(target, n + 2, *v ? json_string(v) : json_null());
        }
    }
    if (json_object_size(cols))
        json_object_set(b, "columns", cols);
    json_decref(cols);
    return b;
}

/* A whole number option from lo to hi: *out (0 when absent); -1 when malformed. */
static int num_option(const args_t *a, const char *name, long long lo, long long hi,
                      long long *out)
{
    const char *v = args_get(a, name);
    char *end;
    *out = 0;
    if (!v)
        return 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        char to[32] = "";
        if (hi != INT64_MAX)
            snprintf(to, sizeof to, " to %lld", hi);
        fprintf(stderr, "tarn table: %s wants a whole number from %lld%s (got '%s')\n", name,
                lo, to, v);
        return -1;
    }
    *out = n;
    return 0;
}

/* `table rollback --to N` and `table compact [--target-mb N]`: new snapshots of a table
 * tarn writes (a pipeline's output), with the same files as an earlier one or with its
 * small files merged; earlier snapshots stay. */
static int change_files(const char *cmd, const char *sub, const char *ep, char *path,
                        size_t cap, const args_t *a)
{
    bool rollback = !strcmp(sub, "rollback");
    long long n;
    if (num_option(a, rollback ? "--to" : "--target-mb", 1, rollback ? INT64_MAX : 16384, &n))
        return 2;
    if (rollback && !n) {
        fprintf(stderr, "tarn %s: give the snapshot to go back to with --to N (`tarn table "
                        "snapshots %s` lists them)\n", cmd, a->pos[0]);
        return 2;
    }
    json_t *body = json_object(), *out = NULL;
    if (n)
        json_object_set_new(body, rollback ? "to" : "target_mb", json_integer(n));
    snprintf(path + strlen(path), cap - strlen(path), "/%s", sub);
    int rc = cli_call(cmd, ep, "POST", path, body, &out);
    json_decref(body);
    if (rc)
        return rc;
    const char *table = S(out, "table") ? S(out, "table") : a->pos[0];
    if (args_flag(a, "--json"))
        cli_print_json(out);
    else if (rollback)
        printf("Rolled back %s to snapshot %lld: it is now snapshot %lld with the same files. "
               "Later snapshots stay and can be restored the same way.\n",
               table, I(out, "rolled_back_to"), I(out, "snapshot"));
    else if (!I(out, "partitions_compacted"))
        printf("Nothing to compact in %s: no partition has small files to merge (%lld files).\n",
               table, I(out, "files_before"));
    else
        printf("Compacted %s: %lld files -> %lld in %lld partition%s (snapshot %lld; query "
               "results are unchanged).\n",
               table, I(out, "files_before"), I(out, "files_after"),
               I(out, "partitions_compacted"), I(out, "partitions_compacted") == 1 ? "" : "s",
               I(out, "snapshot"));
    json_decref(out);
    return 0;
}

int cmd_table(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", "--format", "--schema", "--partition-keys",
                                         "--description", "--owner", "--steward", "--tag",
                                         "--untag", "--column", "--sensitivity", "--option",
                                         "--promotion-mode", "--required-columns",
                                         "--not-null-keys", "--raw-retention", "--to",
                                         "--target-mb", NULL};
    static const char *const flags[] = {"--json", NULL};
    if (argc < 2)
        return table_usage();
    const char *sub = argv[0];
    args_t a;
    if (args_parse(&a, argc - 1, argv + 1, valued, flags, "table"))
        return 2;
    if (a.npos != 1)
        return table_usage();
    char zone[16], db[129], name[129], path[600], cmd[64];
    if (parse_table("table", a.pos[0], zone, db, name))
        return 2;
    snprintf(path, sizeof path, "/v1/tables/%s/%s/%s", zone, db, name);
    snprintf(cmd, sizeof cmd, "table %s", sub);
    bool json = args_flag(&a, "--json");
    const char *ep = args_get(&a, "--endpoint");
    json_t *out = NULL, *body = NULL;
    int rc = 0;
    if (!strcmp(sub, "show")) {
        if (!(rc = cli_call(cmd, ep, "GET", path, NULL, &out)))
            {
            if (json)
                cli_print_json(out);
            else
                show_table(out);
        }
    } else if (!strcmp(sub, "create")) {
        body = create_body(&a);
        if (!(rc = cli_call(cmd, ep, "POST", path, body, &out))) {
            if (json)
                cli_print_json(out);
            else
                printf("Created %s (%s, schema version 1). Files under %s are registered and "
                       "checked against its schema.\n",
                       S(out, "name"), S(out, "format"), S(out, "location"));
        }
    } else if (!strcmp(sub, "set")) {
        body = set_body(&a);
        if (!json_object_size(body)) {
            json_decref(body);
            return table_usage();
        }
        if (!(rc = cli_call(cmd, ep, "PATCH", path, body, &out)))
            {
            if (json)
                cli_print_json(out);
            else
                printf("Updated %s.\n", S(out, "name"));
        }
    } else if (!strcmp(sub, "versions") || !strcmp(sub, "partitions") ||
               !strcmp(sub, "snapshots")) {
        snprintf(path + strlen(path), sizeof path - strlen(path), "/%s", sub);
        if (!(rc = cli_call(cmd, ep, "GET", path, NULL, &out)))
            {
            if (json)
                cli_print_json(out);
            else
                table_list_view(sub, out);
        }
    } else if (!strcmp(sub, "rollback") || !strcmp(sub, "compact")) {
        return change_files(cmd, sub, ep, path, sizeof path, &a);
    } else if (!strcmp(sub, "files")) {
        /* Follow "next" so every file is listed. */
        json_t *all = json_array();
        char *after = NULL;
        do {
            char p[1800];
            snprintf(p, sizeof p, "%s/files?limit=10000%s%s", path, after ? "&after=" : "",
                     after ? after : "");
            free(after);
            after = NULL;
            json_decref(out);
            out = NULL;
            if ((rc = cli_call(cmd, ep, "GET", p, NULL, &out)))
                break;
            json_array_extend(all, json_object_get(out, "files"));
            if (S(out, "next"))
                after = cli_escape(S(out, "next"));
        } while (after);
        if (!rc) {
            json_t *view = json_pack("{s:O}", "files", all);
            if (json)
                cli_print_json(view);
            else
                table_list_view(sub, view);
            json_decref(view);
        }
        json_decref(all);
    } else {
        return table_usage();
    }
    json_decref(body);
    json_decref(out);
    return rc;
}

/* ---- tarn search ---- */

int cmd_search(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", "--zone", "--database", "--tag", "--owner",
                                         "--sensitivity", "--limit", NULL};
    static const char *const flags[] = {"--json", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, "search"))
        return 2;
    char q[1024] = "";
    for (size_t i = 0; i < a.npos; i++)
        snprintf(q + strlen(q), sizeof q - strlen(q), "%s%s", i ? " " : "", a.pos[i]);
    char path[2048] = "/v1/search?q=";
    char *e = cli_escape(q);
    snprintf(path + strlen(path), sizeof path - strlen(path), "%s", e ? e : "");
    free(e);
    static const char *const params[][2] = {{"--zone", "zone"}, {"--database", "database"},
                                            {"--tag", "tag"}, {"--owner", "owner"},
                                            {"--sensitivity", "sensitivity"}, {"--limit", "limit"}};
    for (size_t i = 0; i < sizeof params / sizeof *params; i++) {
        const char *v = args_get(&a, params[i][0]);
        if (!v)
            continue;
        char *ev = cli_escape(v);
        snprintf(path + strlen(path), sizeof path - strlen(path), "&%s=%s", params[i][1],
                 ev ? ev : "");
        free(ev);
    }
    json_t *out = NULL;
    if (cli_call("search", args_get(&a, "--endpoint"), "GET", path, NULL, &out))
        return 1;
    if (args_flag(&a, "--json")) {
        cli_print_json(out);
    } else if (!json_array_size(json_object_get(out, "results"))) {
        printf("No tables match.\n");
    } else {
        static const char *const h[] = {"TABLE", "FORMAT", "FILES", "OWNER", "DESCRIPTION"};
        table_t *t = table_create(5, h);
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(out, "results"), i, o)
        {
            char f[24];
            const char *row[] = {S(o, "name"), S(o, "format"),
                                 num(f, sizeof f, json_object_get(o, "files")), S(o, "owner"),
                                 S(o, "description")};
            table_add(t, row);
        }
        table_print(t, stdout);
        table_free(t);
    }
    json_decref(out);
    return 0;
}

/* ---- tarn crawl ---- */

int cmd_crawl(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", NULL};
    static const char *const flags[] = {"--json", "--force", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, "crawl"))
        return 2;
    if (a.npos > 1) {
        fprintf(stderr, "usage: tarn crawl [ZONE[/PREFIX]] [--force]\n");
        return 2;
    }
    json_t *body = json_pack("{s:b}", "force", args_flag(&a, "--force"));
    char zone[64] = "";
    if (a.npos) {
        const char *slash = strchr(a.pos[0], '/');
        snprintf(zone, sizeof zone, "%.*s", (int)(slash ? slash - a.pos[0] : (long)strlen(a.pos[0])),
                 a.pos[0]);
        json_object_set_new(body, "zone", json_string(zone));
        if (slash && slash[1])
            json_object_set_new(body, "prefix", json_string(slash + 1));
    }
    const char *ep = args_get(&a, "--endpoint");
    json_t *job = NULL;
    int rc = cli_call("crawl", ep, "POST", "/v1/crawl", body, &job);
    json_decref(body);
    if (rc)
        return rc;
    char path[64];
    snprintf(path, sizeof path, "/v1/crawl/%lld", I(job, "id"));
    bool tty = isatty(STDERR_FILENO) && !args_flag(&a, "--json");
    const char *what = a.npos ? a.pos[0] : "all zones";
    while (strcmp(S(job, "state"), "done") && strcmp(S(job, "state"), "failed")) {
        if (tty) {
            fprintf(stderr, "\rcrawling %s: %lld of %lld objects", what, I(job, "done"),
                    I(job, "objects"));
            fflush(stderr);
        }
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        json_decref(job);
        job = NULL;
        if ((rc = cli_call("crawl", ep, "GET", path, NULL, &job)))
            return rc;
    }
    if (tty)
        fprintf(stderr, "\r\033[K");
    if (args_flag(&a, "--json")) {
        cli_print_json(job);
    } else if (!strcmp(S(job, "state"), "failed")) {
        rc = cli_fail("crawl", S(job, "error") ? S(job, "error") : "the crawl failed");
    } else {
        printf("Crawled %s: %lld objects (%lld unchanged).\n"
               "  registered  %lld\n  failed      %lld%s\n  removed     %lld\n"
               "  tables      %lld changed, %lld new schema versions\n",
               what, I(job, "objects"), I(job, "unchanged"), I(job, "registered"), I(job, "failed"),
               I(job, "failed") ? "   (see `tarn table files ZONE.DB.TABLE` for reasons)" : "",
               I(job, "removed"), I(job, "tables_changed"), I(job, "versions_created"));
    }
    json_decref(job);
    return rc;
}
