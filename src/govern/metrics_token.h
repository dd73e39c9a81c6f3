/* Metrics tokens: bearer tokens with which a scraper (Prometheus) reads /metrics and
 * nothing else. A token is shown once, when it is made; the catalog keeps only its
 * SHA-256 and a name to list and delete it by. */
#ifndef TARN_GOVERN_METRICS_TOKEN_H
#define TARN_GOVERN_METRICS_TOKEN_H

#include "util/db.h"
#include "util/err.h"

#include <jansson.h>

enum { METRICS_TOKEN_LEN = 68 }; /* "tmt_" and 64 hex digits */

/* Creates the table if it is missing. */
int metrics_token_open(db_t *db, tarn_err_t *err);
/* A new token named name (1-64 of A-Z a-z 0-9 . _ -; TARN_EEXISTS if taken) into token. */
int metrics_token_create(db_t *db, const char *name, char token[METRICS_TOKEN_LEN + 1],
                         tarn_err_t *err);
/* TARN_ENOTFOUND when there is no token called name. */
int metrics_token_delete(db_t *db, const char *name, tarn_err_t *err);
/* [{"name", "created"}] in name order. */
int metrics_token_list(db_t *db, json_t **out, tarn_err_t *err);
/* 0 and the token's name when token is a current one, else TARN_EDENIED (InvalidToken). */
int metrics_token_check(db_t *db, const char *token, char name[65], tarn_err_t *err);

#endif
