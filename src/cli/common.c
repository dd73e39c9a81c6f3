/* Pieces every client command uses: failing with a message, calling the REST API with
 * the resolved endpoint and credentials, printing JSON for --json, escaping URL parts and
 * formatting sizes. */
#include "cli/commands.h"

#include <curl/curl.h>
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
