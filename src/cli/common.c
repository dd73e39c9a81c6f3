/* Pieces every client command uses: failing with a message, calling the REST API with
 * the resolved endpoint and credentials, printing JSON for --json, escaping URL parts and
 * formatting sizes, reading YAML files. */
#include "cli/commands.h"
#include "util/buf.h"
#include "util/yaml_json.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *cmd, const char *msg)
{
    fprintf(stderr, "tarn %s: %s\n", cmd, msg);
    return 1;
}

void cli_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        printf("%s\n", s);
        OPENSSL_cleanse(s, strlen(s)); /* may hold a secret shown once */
        free(s);
    }
}

int cli_call(const char *cmd, const char *endpoint, const char *method, const char *path,
             json_t *body, json_t **out)
{
    client_t c;
    tarn_err_t err = {0};
    int rc = client_init(&c, endpoint, &err);
    if (!rc)
        rc = client_call(&c, method, path, body, out, &err);
    client_wipe(&c);
    if (rc) {
        cli_fail(cmd, err.msg);
        return 1;
    }
    return 0;
}

char *cli_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *out = e ? strdup(e) : NULL;
    curl_free(e);
    return out;
}

const char *cli_size(char *buf, size_t cap, long long bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%lld B", bytes);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

int cli_resource_path(char *out, size_t cap, const char *base, const char *name,
                      const char *suffix)
{
    char *n = cli_escape(name);
    if (!n)
        return -1;
    snprintf(out, cap, "%s%s%s", base, n, suffix ? suffix : "");
    free(n);
    return 0;
}

int cli_read_yaml(const char *cmd, const char *file, const char *help, json_t **out)
{
    buf_t b = BUF_INIT;
    tarn_err_t err = {0};
    FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "tarn %s: cannot read %s: %s\n", cmd, file, strerror(errno));
        return 1;
    }
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    if (f != stdin)
        fclose(f);
    int rc = yaml_json_parse(out, b.data ? b.data : "", b.len, &err);
    if (b.data)
        OPENSSL_cleanse(b.data, b.cap); /* may hold a password */
    buf_free(&b);
    if (!rc && !json_is_object(*out)) {
        json_decref(*out);
        snprintf(err.msg, sizeof err.msg, "the file must be a map of keys");
        rc = 1;
    }
    if (rc) {
        fprintf(stderr, "tarn %s: %s: %s (see `tarn help %s` for the keys)\n", cmd, file,
                err.msg, help);
        return 1;
    }
    return 0;
}

int cli_dispatch(int argc, char **argv, const char *cmd, const char *const *valued,
                 const char *const *flags, const cli_sub_t *subs, int (*usage)(void))
{
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, cmd))
        return 2;
    for (size_t i = 0; a.npos && subs[i].name; i++)
        if (!strcmp(a.pos[0], subs[i].name))
            return subs[i].run(&a);
    return usage();
}
