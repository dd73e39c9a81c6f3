/* Argument parsing for tarn commands; see args.h. */
#include "cli/args.h"

#include <stdio.h>
#include <string.h>

static bool in(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

static void list_valid(const char *const *valued, const char *const *flags)
{
    fprintf(stderr, "valid options:");
    for (; valued && *valued; valued++)
        fprintf(stderr, " %s VALUE", *valued);
    for (; flags && *flags; flags++)
        fprintf(stderr, " %s", *flags);
    fprintf(stderr, "\n");
}

int args_parse(args_t *a, int argc, char **argv, const char *const *valued,
               const char *const *flags, const char *cmd)
{
    memset(a, 0, sizeof *a);
    bool ended = false; /* after "--" every argument is positional ("-- a comment") */
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!ended && !strcmp(s, "--")) {
            ended = true;
            continue;
        }
        if (ended || s[0] != '-' || !s[1]) {
            if (a->npos == ARGS_MAX)
                goto too_many;
            a->pos[a->npos++] = s;
            continue;
        }
        if (a->nopts == ARGS_MAX)
            goto too_many;
        char name[64];
        const char *eq = strchr(s, '=');
        size_t n = eq ? (size_t)(eq - s) : strlen(s);
        if (n >= sizeof name)
            n = sizeof name - 1;
        memcpy(name, s, n);
        name[n] = '\0';
        if (in(valued, name)) {
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                fprintf(stderr, "tarn %s: %s needs a value\n", cmd, name);
                return -1;
            }
            for (const char *const *p = valued; *p; p++)
                if (!strcmp(*p, name))
                    a->names[a->nopts] = *p;
            a->values[a->nopts++] = v;
        } else if (in(flags, name) && !eq) {
            for (const char *const *p = flags; *p; p++)
                if (!strcmp(*p, name))
                    a->names[a->nopts] = *p;
            a->values[a->nopts++] = NULL;
        } else {
            fprintf(stderr, "tarn %s: unknown option %s\n", cmd, name);
            list_valid(valued, flags);
            return -1;
        }
    }
    return 0;
too_many:
    fprintf(stderr, "tarn %s: too many arguments\n", cmd);
    return -1;
}

const char *args_get(const args_t *a, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < a->nopts; i++)
        if (!strcmp(a->names[i], name) && a->values[i])
            v = a->values[i];
    return v;
}

bool args_flag(const args_t *a, const char *name)
{
    for (size_t i = 0; i < a->nopts; i++)
        if (!strcmp(a->names[i], name))
            return true;
    return false;
}
