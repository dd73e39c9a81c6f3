/* tarn quarantine list|release: what failed promotion raw -> cleaned and why, and
 * sending an object through promotion again once its table's policy or schema is fixed. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(o, k) json_string_value(json_object_get((o), (k)))

static int quarantine_usage(void)
{
    fprintf(stderr, "usage: tarn quarantine list [ZONE.DB.TABLE] [--json]\n"
                    "       tarn quarantine release KEY [--json]\n(see `tarn help quarantine`)\n");
    return 2;
}

static void print_list(json_t *out)
{
    static const char *const h[] = {"KEY", "TABLE", "CHECK", "LINE", "DETAIL", "TIME"};
    table_t *t = table_create(6, h);
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(out, "objects"), i, o)
    {
        char line[48] = "";
        json_t *l = json_object_get(o, "line"), *r = json_object_get(o, "row");
        if (json_is_integer(l))
            snprintf(line, sizeof line, "%lld", (long long)json_integer_value(l));
        else if (json_is_integer(r))
            snprintf(line, sizeof line, "row %lld", (long long)json_integer_value(r));
        char detail[160];
        snprintf(detail, sizeof detail, "%s%s", S(o, "release") ? "(release pending) " : "",
                 S(o, "detail") ? S(o, "detail") : "");
        const char *row[] = {S(o, "key"), S(o, "table"), S(o, "check"), *line ? line : NULL,
                             detail, S(o, "time")};
        table_add(t, row);
    }
    if (!json_array_size(json_object_get(out, "objects")))
        printf("Nothing in quarantine.\n");
    else
        table_print(t, stdout);
    table_free(t);
}

int cmd_quarantine(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", NULL};
    static const char *const flags[] = {"--json", NULL};
    if (argc < 1)
        return quarantine_usage();
    const char *sub = argv[0];
    args_t a;
    if (args_parse(&a, argc - 1, argv + 1, valued, flags, "quarantine"))
        return 2;
    const char *ep = args_get(&a, "--endpoint");
    bool json = args_flag(&a, "--json");
    json_t *out = NULL;
    int rc;
    if (!strcmp(sub, "list") && a.npos <= 1) {
        char path[600] = "/v1/quarantine";
        if (a.npos) {
            char *t = cli_escape(a.pos[0]);
            if (!t)
                return cli_fail("quarantine list", "out of memory");
            snprintf(path, sizeof path, "/v1/quarantine?table=%s", t);
            free(t);
        }
        if ((rc = cli_call("quarantine list", ep, "GET", path, NULL, &out)))
            return rc;
        if (json)
            cli_print_json(out);
        else
            print_list(out);
    } else if (!strcmp(sub, "release") && a.npos == 1) {
        json_t *body = json_pack("{s:s}", "key", a.pos[0]);
        rc = cli_call("quarantine release", ep, "POST", "/v1/quarantine/release", body, &out);
        json_decref(body);
        if (rc)
            return rc;
        if (json)
            cli_print_json(out);
        else
            printf("Queued %s for promotion again: it moves to cleaned if it passes now, or "
                   "stays in quarantine with a new reason.\n",
                   a.pos[0]);
    } else {
        return quarantine_usage();
    }
    json_decref(out);
    return 0;
}
