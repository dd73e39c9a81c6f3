/* Signed REST calls from the CLI; see client.h. libcurl signs with SigV4 itself
 * (CURLOPT_AWS_SIGV4), the same scheme the server verifies for S3 and REST alike. */
#include "cli/client.h"
#include "util/hash.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int client_ini_get(const char *path, const char *section, const char *key, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return TARN_ENOTFOUND;
    char line[1024];
    int in = 0, found = TARN_ENOTFOUND;
    while (fgets(line, sizeof line, f)) {
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        s[strcspn(s, "\r\n")] = '\0';
        if (*s == '#' || *s == ';' || !*s)
            continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            in = e && (size_t)(e - s - 1) == strlen(section) && !strncmp(s + 1, section, strlen(section));
            continue;
        }
        if (!in)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            continue;
        char *k = s, *ke = eq;
        while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
            ke--;
        if ((size_t)(ke - k) != strlen(key) || strncmp(k, key, strlen(key)))
            continue;
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *ve = v + strlen(v);
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        *ve = '\0';
        snprintf(out, cap, "%s", v);
        found = 0;
        break;
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    return found;
}

int client_init(client_t *c, const char *endpoint_opt, tarn_err_t *err)
{
    memset(c, 0, sizeof *c);
    const char *ep = endpoint_opt ? endpoint_opt : getenv("TARN_ENDPOINT");
    snprintf(c->endpoint, sizeof c->endpoint, "%s", ep && *ep ? ep : "http://127.0.0.1:9470");
    size_t n = strlen(c->endpoint);
    while (n && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    const char *ca = getenv("TARN_CA_BUNDLE");
    if (ca && *ca) {
        if (strlen(ca) >= sizeof c->ca_bundle || access(ca, R_OK))
            return TARN_ERR(err, TARN_EINVAL, "cannot read the CA bundle %s (TARN_CA_BUNDLE or "
                            "--ca-bundle): %s", ca, strerror(errno ? errno : ENAMETOOLONG));
        snprintf(c->ca_bundle, sizeof c->ca_bundle, "%s", ca);
    }
    const char *ak = getenv("TARN_ACCESS_KEY"), *sk = getenv("TARN_SECRET_KEY");
    if (ak && sk && *ak && *sk) {
        snprintf(c->access_key, sizeof c->access_key, "%s", ak);
        snprintf(c->secret_key, sizeof c->secret_key, "%s", sk);
        c->cred_source = "TARN_ACCESS_KEY/TARN_SECRET_KEY";
        return 0;
    }
    const char *file = getenv("TARN_CREDENTIALS_FILE");
    const char *fallback = "tarn-data/admin.credentials";
    if (!file || !*file)
        file = fallback;
    if (client_ini_get(file, "default", "aws_access_key_id", c->access_key, sizeof c->access_key) ||
        client_ini_get(file, "default", "aws_secret_access_key", c->secret_key,
                       sizeof c->secret_key))
        return TARN_ERR(err, TARN_ENOTFOUND,
                        "no credentials: set TARN_ACCESS_KEY and TARN_SECRET_KEY, or "
                        "TARN_CREDENTIALS_FILE (AWS credentials format), or run from the folder "
                        "that holds tarn-data/admin.credentials");
    c->cred_source = file == fallback ? "./tarn-data/admin.credentials" : "TARN_CREDENTIALS_FILE";
    return 0;
}

void client_wipe(client_t *c)
{
    OPENSSL_cleanse(c->secret_key, sizeof c->secret_key);
}

typedef struct {
    CURL *h;
    buf_t resp;  /* the body, unless it goes to sink */
    FILE *sink;  /* where a 2xx body goes as it arrives, or NULL */
    bool failed; /* writing to sink failed */
} reply_t;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    reply_t *r = ud;
    long status = 0;
    if (r->sink)
        curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        r->failed = fwrite(p, size, n, r->sink) != n;
        return r->failed ? 0 : size * n;
    }
    return buf_append(&r->resp, p, size * n) ? 0 : size * n;
}

/* Sends the request; a 2xx body goes to sink when there is one, else into *out as JSON. */
static int perform(client_t *c, const char *method, const char *path, const char *ctype,
                   char *payload, size_t plen, FILE *sink, json_t **out, tarn_err_t *err)
{
    if (out)
        *out = NULL;
    CURL *h = curl_easy_init();
    if (!h)
        return TARN_ERR(err, TARN_ENOMEM, "cannot start libcurl");
    char url[2048], userpwd[300];
    snprintf(url, sizeof url, "%s%s", c->endpoint, path);
    snprintf(userpwd, sizeof userpwd, "%s:%s", c->access_key, c->secret_key);
    char ctype_hdr[128];
    snprintf(ctype_hdr, sizeof ctype_hdr, "Content-Type: %s", ctype);
    reply_t reply = {.h = h, .sink = sink};
    buf_t *resp = &reply.resp;
    struct curl_slist *hdrs = curl_slist_append(NULL, ctype_hdr);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:tarn");
    curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (c->ca_bundle[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_bundle);
    if (payload) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)plen);
    }
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    if (reply.failed) {
        rc = TARN_ERR(err, TARN_EIO, "cannot write the answer: %s", strerror(errno));
        goto done;
    }
    if (cc == CURLE_PARTIAL_FILE) {
        rc = TARN_ERR(err, TARN_EUPSTREAM,
                      "the answer was cut off before its end (for a query, GET /v1/queries "
                      "says why)");
        goto done;
    }
    if (cc == CURLE_PEER_FAILED_VERIFICATION) {
        rc = TARN_ERR(err, TARN_EDENIED,
                      "the TLS certificate of %s is not trusted (%s): give the CA bundle that "
                      "signed it, or the certificate itself when it is self-signed, with "
                      "--ca-bundle FILE or TARN_CA_BUNDLE%s",
                      c->endpoint, curl_easy_strerror(cc),
                      c->ca_bundle[0] ? " (the one given does not vouch for it)" : "");
        goto done;
    }
    if ((cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR) && !strncmp(c->endpoint, "http:", 5)) {
        rc = TARN_ERR(err, TARN_EUPSTREAM,
                      "the tarn server at %s closed the connection without an answer: if it "
                      "serves HTTPS (tarn serve --tls-cert), use an https:// endpoint",
                      c->endpoint);
        goto done;
    }
    if (cc == CURLE_SSL_CONNECT_ERROR) {
        rc = TARN_ERR(err, TARN_EUPSTREAM,
                      "cannot start TLS with %s: %s (does the server serve HTTPS? without "
                      "--tls-cert it serves plain http://)",
                      c->endpoint, curl_easy_strerror(cc));
        goto done;
    }
    if (cc != CURLE_OK) {
        rc = TARN_ERR(err, TARN_EUPSTREAM,
                      "cannot reach the tarn server at %s: %s (is `tarn serve` running? set "
                      "--endpoint or TARN_ENDPOINT)",
                      c->endpoint, curl_easy_strerror(cc));
        goto done;
    }
    json_t *j = resp->len ? json_loadb(resp->data, resp->len, 0, NULL) : NULL;
    if (status >= 200 && status < 300) {
        if (out)
            *out = j;
        else
            json_decref(j);
        goto done;
    }
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    int ec = status == 404 ? TARN_ENOTFOUND
             : status == 403 ? TARN_EDENIED
             : status == 409 ? TARN_EEXISTS
             : status >= 500 ? TARN_EUPSTREAM
                             : TARN_EINVAL;
    rc = TARN_ERR(err, ec, "%s (%s, HTTP %ld)", msg ? msg : "request failed",
                  code ? code : "error", status);
    if (status == 403 && code && strcmp(code, "AccessDenied"))
        snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
                 "; credentials from %s", c->cred_source);
    json_decref(j);
done:
    OPENSSL_cleanse(userpwd, sizeof userpwd);
    if (resp->data)
        OPENSSL_cleanse(resp->data, resp->len);
    buf_free(resp);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

/* A JSON body may hold a secret (a password being set): wiped after sending. */
static int perform_json(client_t *c, const char *method, const char *path, json_t *body,
                        FILE *sink, json_t **out, tarn_err_t *err)
{
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t n = payload ? strlen(payload) : 0;
    int rc = perform(c, method, path, "application/json", payload, n, sink, out, err);
    if (payload) {
        OPENSSL_cleanse(payload, n);
        free(payload);
    }
    return rc;
}

int client_call(client_t *c, const char *method, const char *path, json_t *body, json_t **out,
                tarn_err_t *err)
{
    return perform_json(c, method, path, body, NULL, out, err);
}

int client_download(client_t *c, const char *method, const char *path, json_t *body, FILE *out,
                    tarn_err_t *err)
{
    return perform_json(c, method, path, body, out, NULL, err);
}

int client_send(client_t *c, const char *method, const char *path, const char *content_type,
                const void *data, size_t n, json_t **out, tarn_err_t *err)
{
    return perform(c, method, path, content_type, (char *)data, n, NULL, out, err);
}
