/* The CLI's side of the REST API: finding the server and credentials (--endpoint,
 * TARN_ENDPOINT, TARN_ACCESS_KEY/TARN_SECRET_KEY, TARN_CREDENTIALS_FILE, then
 * ./tarn-data/admin.credentials) and the CAs an https endpoint is checked against
 * (TARN_CA_BUNDLE), and sending SigV4-signed requests with libcurl. */
#ifndef TARN_CLI_CLIENT_H
#define TARN_CLI_CLIENT_H

#include "util/buf.h"
#include "util/err.h"

#include <jansson.h>
#include <stdio.h>

typedef struct {
    char endpoint[512];
    char access_key[129];
    char secret_key[129];
    const char *cred_source; /* where the credentials came from, for error messages */
    char ca_bundle[1024];    /* PEM file of CAs to trust for https (TARN_CA_BUNDLE), or "" */
} client_t;

/* Resolves endpoint and credentials; endpoint_opt may be NULL. */
int client_init(client_t *c, const char *endpoint_opt, tarn_err_t *err);
void client_wipe(client_t *c);
/* Sends method path with an optional JSON body; on 2xx *out gets the parsed JSON (or NULL
 * for an empty body). On an error status the server's message is in err. */
int client_call(client_t *c, const char *method, const char *path, json_t *body, json_t **out,
                tarn_err_t *err);

/* Like client_call, but a 2xx answer's body is written to out as it arrives, whatever it
 * is (a Parquet file, say); an error answer is read as client_call reads it. */
int client_download(client_t *c, const char *method, const char *path, json_t *body, FILE *out,
                    tarn_err_t *err);

/* Like client_call with a body of any type (NDJSON records, say), sent as it is. */
int client_send(client_t *c, const char *method, const char *path, const char *content_type,
                const void *data, size_t n, json_t **out, tarn_err_t *err);

/* Reads key = value from [section] of an INI file (AWS credentials format). */
int client_ini_get(const char *path, const char *section, const char *key, char *out, size_t cap);

#endif
