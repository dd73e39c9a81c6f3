/* Prometheus metrics of a running server: requests by API operation, failed logins and
 * the password back-off by door; rendered with the store's, catalog's and promoter's
 * figures for GET /metrics (http_metrics). */
#ifndef TARN_SERVER_METRICS_H
#define TARN_SERVER_METRICS_H

#include "catalog/catalog.h"
#include "storage/store.h"
#include "util/buf.h"

#include <stdint.h>

typedef struct metrics metrics_t;

metrics_t *metrics_create(void);
void metrics_free(metrics_t *m);
void metrics_observe(metrics_t *m, const char *api, const char *op, int status, double seconds,
                     uint64_t bytes_in, uint64_t bytes_out);
int metrics_render(metrics_t *m, store_t *store, catalog_t *catalog, buf_t *out);
/* A failed password login at door ("postgres"; a static string). */
void metrics_auth_failure(metrics_t *m, const char *door);
/* Seconds a login attempt at door was held back by the password back-off. */
void metrics_auth_backoff(metrics_t *m, const char *door, double seconds);

#endif
