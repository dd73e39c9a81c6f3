/* Prometheus metrics: requests by API operation and status, a latency histogram per
 * operation, bytes in and out, failed logins and the password back-off per door,
 * connections per port, and objects and bytes per bucket (read from the store's index at
 * scrape time). Served at GET /metrics in the text exposition format. */
#include "server/http.h"
#include "server/metrics.h"
#include "server/server_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NB (sizeof bounds / sizeof *bounds)
#define MAX_SERIES 512

typedef struct {
    const char *api; /* static strings: API names and op names from the tables */
    const char *op;
    int status;
    uint64_t count;
} counter_t;

typedef struct {
    const char *api;
    const char *op;
    uint64_t buckets[NB];
    uint64_t count;
    double sum;
    uint64_t bytes_in, bytes_out;
} histo_t;

/* Logins with passwords at one door (static name). */
typedef struct {
    const char *door;
    uint64_t failures;
    double backoff_s;
} door_t;

enum { MAX_DOORS = 4 };

struct metrics {
    pthread_mutex_t mu;
    door_t doors[MAX_DOORS];
    size_t ndoors;
    counter_t counters[MAX_SERIES];
    size_t ncounters;
    histo_t histos[MAX_SERIES];
    size_t nhistos;
};

metrics_t *metrics_create(void)
{
    metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    /* Shown at 0 from the start, so an alert on its rate needs no first failure. */
    m->doors[m->ndoors++] = (door_t){"postgres", 0, 0};
    return m;
}

void metrics_free(metrics_t *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void metrics_observe(metrics_t *m, const char *api, const char *op, int status, double seconds,
                     uint64_t bytes_in, uint64_t bytes_out)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    counter_t *c = NULL;
    for (size_t i = 0; i < m->ncounters; i++)
        if (m->counters[i].status == status && !strcmp(m->counters[i].op, op) &&
            !strcmp(m->counters[i].api, api))
            c = &m->counters[i];
    if (!c && m->ncounters < MAX_SERIES) {
        c = &m->counters[m->ncounters++];
        *c = (counter_t){api, op, status, 0};
    }
    if (c)
        c->count++;
    histo_t *h = NULL;
    for (size_t i = 0; i < m->nhistos; i++)
        if (!strcmp(m->histos[i].op, op) && !strcmp(m->histos[i].api, api))
            h = &m->histos[i];
    if (!h && m->nhistos < MAX_SERIES) {
        h = &m->histos[m->nhistos++];
        memset(h, 0, sizeof *h);
        h->api = api;
        h->op = op;
    }
    if (h) {
        for (size_t i = 0; i < NB; i++)
            if (seconds <= bounds[i])
                h->buckets[i]++;
        h->count++;
        h->sum += seconds;
        h->bytes_in += bytes_in;
        h->bytes_out += bytes_out;
    }
    pthread_mutex_unlock(&m->mu);
}

/* Under m->mu; NULL when the table is full. */
static door_t *door_of(metrics_t *m, const char *door)
{
    for (size_t i = 0; i < m->ndoors; i++)
        if (!strcmp(m->doors[i].door, door))
            return &m->doors[i];
    if (m->ndoors == MAX_DOORS)
        return NULL;
    m->doors[m->ndoors] = (door_t){door, 0, 0};
    return &m->doors[m->ndoors++];
}

void metrics_auth_failure(metrics_t *m, const char *door)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    door_t *d = door_of(m, door);
    if (d)
        d->failures++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_auth_backoff(metrics_t *m, const char *door, double seconds)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    door_t *d = door_of(m, door);
    if (d)
        d->backoff_s += seconds;
    pthread_mutex_unlock(&m->mu);
}

static void conns_lines(buf_t *b, conns_t *c, const char *door)
{
    if (!c)
        return;
    conns_stats_t st;
    conns_stats(c, &st);
    buf_printf(b, "tarn_connections{door=\"%s\",state=\"unauthenticated\"} %lld\n", door,
               st.unauth);
    buf_printf(b, "tarn_connections{door=\"%s\",state=\"authenticated\"} %lld\n", door, st.auth);
    const char *reasons[] = {"cap", "address", "timeout", "idle"};
    long long counts[] = {st.evicted_cap, st.evicted_addr, st.evicted_timeout, st.evicted_idle};
    for (size_t i = 0; i < 4; i++)
        buf_printf(b, "tarn_connections_evicted_total{door=\"%s\",reason=\"%s\"} %lld\n", door,
                   reasons[i], counts[i]);
    buf_printf(b, "tarn_connections_refused_total{door=\"%s\"} %lld\n", door, st.refused);
}

/* Connections per port: how many, and how many admission closed or refused. */
static void connection_metrics(server_t *srv, buf_t *b)
{
    buf_puts(b, "# HELP tarn_connections Open connections by port and state.\n"
                "# TYPE tarn_connections gauge\n"
                "# HELP tarn_connections_evicted_total Connections closed to make room or past the"
                " authentication timeout, by reason (cap, address, timeout, idle).\n"
                "# TYPE tarn_connections_evicted_total counter\n"
                "# HELP tarn_connections_refused_total Authenticated connections refused at the"
                " cap (non-admins: at the admin's reserved slots).\n"
                "# TYPE tarn_connections_refused_total counter\n");
    conns_lines(b, srv->http_conns, "http");
    conns_lines(b, srv->pg_conns, "postgres");
}

static int usage_line(void *ctx, const char *bucket, uint64_t objects, uint64_t bytes)
{
    buf_t *b = ctx;
    buf_printf(b, "tarn_bucket_objects{bucket=\"%s\"} %llu\n", bucket, (unsigned long long)objects);
    buf_printf(b, "tarn_bucket_bytes{bucket=\"%s\"} %llu\n", bucket, (unsigned long long)bytes);
    return 0;
}

static void gauge_line(void *ctx, const char *name, const char *labels, long long value)
{
    buf_printf(ctx, "%s%s%s%s %lld\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
               value);
}

int metrics_render(metrics_t *m, store_t *store, catalog_t *catalog, buf_t *b)
{
    pthread_mutex_lock(&m->mu);
    buf_puts(b, "# HELP tarn_requests_total Requests by API, operation and HTTP status.\n"
                "# TYPE tarn_requests_total counter\n");
    for (size_t i = 0; i < m->ncounters; i++)
        buf_printf(b, "tarn_requests_total{api=\"%s\",op=\"%s\",status=\"%d\"} %llu\n",
                   m->counters[i].api, m->counters[i].op, m->counters[i].status,
                   (unsigned long long)m->counters[i].count);
    buf_puts(b, "# HELP tarn_request_duration_seconds Request latency by API and operation.\n"
                "# TYPE tarn_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->nhistos; i++) {
        const histo_t *h = &m->histos[i];
        for (size_t j = 0; j < NB; j++)
            buf_printf(b, "tarn_request_duration_seconds_bucket{api=\"%s\",op=\"%s\",le=\"%g\"} %llu\n",
                       h->api, h->op, bounds[j], (unsigned long long)h->buckets[j]);
        buf_printf(b, "tarn_request_duration_seconds_bucket{api=\"%s\",op=\"%s\",le=\"+Inf\"} %llu\n",
                   h->api, h->op, (unsigned long long)h->count);
        buf_printf(b, "tarn_request_duration_seconds_sum{api=\"%s\",op=\"%s\"} %.6f\n", h->api,
                   h->op, h->sum);
        buf_printf(b, "tarn_request_duration_seconds_count{api=\"%s\",op=\"%s\"} %llu\n", h->api,
                   h->op, (unsigned long long)h->count);
    }
    buf_puts(b, "# HELP tarn_bytes_in_total Request body bytes received.\n"
                "# TYPE tarn_bytes_in_total counter\n");
    for (size_t i = 0; i < m->nhistos; i++)
        buf_printf(b, "tarn_bytes_in_total{api=\"%s\",op=\"%s\"} %llu\n", m->histos[i].api,
                   m->histos[i].op, (unsigned long long)m->histos[i].bytes_in);
    buf_puts(b, "# HELP tarn_bytes_out_total Response body bytes sent.\n"
                "# TYPE tarn_bytes_out_total counter\n");
    for (size_t i = 0; i < m->nhistos; i++)
        buf_printf(b, "tarn_bytes_out_total{api=\"%s\",op=\"%s\"} %llu\n", m->histos[i].api,
                   m->histos[i].op, (unsigned long long)m->histos[i].bytes_out);
    buf_puts(b, "# HELP tarn_auth_failures_total Failed password logins by door.\n"
                "# TYPE tarn_auth_failures_total counter\n");
    for (size_t i = 0; i < m->ndoors; i++)
        buf_printf(b, "tarn_auth_failures_total{door=\"%s\"} %llu\n", m->doors[i].door,
                   (unsigned long long)m->doors[i].failures);
    buf_puts(b, "# HELP tarn_auth_backoff_seconds_total Seconds login attempts were held back by"
                " the password back-off, by door.\n"
                "# TYPE tarn_auth_backoff_seconds_total counter\n");
    for (size_t i = 0; i < m->ndoors; i++)
        buf_printf(b, "tarn_auth_backoff_seconds_total{door=\"%s\"} %.3f\n", m->doors[i].door,
                   m->doors[i].backoff_s);
    pthread_mutex_unlock(&m->mu);
    buf_puts(b, "# HELP tarn_bucket_objects Objects stored per bucket (zones and plain buckets).\n"
                "# TYPE tarn_bucket_objects gauge\n"
                "# HELP tarn_bucket_bytes Bytes stored per bucket.\n"
                "# TYPE tarn_bucket_bytes gauge\n");
    int rc = store_usage(store, usage_line, b, NULL);
    if (rc)
        return rc;
    buf_puts(b, "# HELP tarn_catalog_tables Tables in the catalog per zone.\n"
                "# TYPE tarn_catalog_tables gauge\n"
                "# HELP tarn_catalog_files Files registered per zone and status (ok, error,"
                " mismatch, unmapped, ignored).\n"
                "# TYPE tarn_catalog_files gauge\n"
                "# HELP tarn_crawler_lag_events Landing events the crawler has not applied yet.\n"
                "# TYPE tarn_crawler_lag_events gauge\n");
    if ((rc = catalog_metrics(catalog, gauge_line, b, NULL)))
        return rc;
    buf_puts(b, "# HELP tarn_promotions_total Objects moved out of raw (or released from"
                " quarantine) by outcome: cleaned or quarantined.\n"
                "# TYPE tarn_promotions_total counter\n"
                "# HELP tarn_promoter_lag_events Events the promoter has not taken in yet.\n"
                "# TYPE tarn_promoter_lag_events gauge\n"
                "# HELP tarn_promotions_pending Objects taken in and not yet through, by state.\n"
                "# TYPE tarn_promotions_pending gauge\n"
                "# HELP tarn_quarantine_objects Objects in quarantine.\n"
                "# TYPE tarn_quarantine_objects gauge\n");
    return promote_metrics(catalog, gauge_line, b, NULL);
}

int http_metrics(req_t *r)
{
    buf_t b = BUF_INIT;
    int rc = metrics_render(r->srv->metrics, r->srv->store, r->srv->catalog, &b);
    if (rc) {
        buf_free(&b);
        return TARN_ERR(&r->err, rc, "cannot read storage and catalog usage");
    }
    if (r->srv->streams)
        stream_mgr_metrics(r->srv->streams, &b);
    if (r->srv->sources)
        source_runner_metrics(r->srv->sources, &b);
    connection_metrics(r->srv, &b);
    uint64_t commits, syncs;
    db_sync_stats(r->srv->db, &commits, &syncs);
    buf_printf(&b,
               "# HELP tarn_catalog_commits_total Catalog transactions committed.\n"
               "# TYPE tarn_catalog_commits_total counter\n"
               "tarn_catalog_commits_total %llu\n"
               "# HELP tarn_catalog_wal_syncs_total fdatasyncs of the catalog's write-ahead log"
               " (group commit: concurrent commits share one).\n"
               "# TYPE tarn_catalog_wal_syncs_total counter\n"
               "tarn_catalog_wal_syncs_total %llu\n",
               (unsigned long long)commits, (unsigned long long)syncs);
    uint64_t held, written;
    store_pending_stats(r->srv->store, &held, &written);
    buf_printf(&b,
               "# HELP tarn_store_held_objects Small objects acknowledged from the catalog"
               " whose files the background writer has yet to write.\n"
               "# TYPE tarn_store_held_objects gauge\n"
               "tarn_store_held_objects %llu\n"
               "# HELP tarn_store_written_back_total Small objects the background writer gave"
               " their files.\n"
               "# TYPE tarn_store_written_back_total counter\n"
               "tarn_store_written_back_total %llu\n",
               (unsigned long long)held, (unsigned long long)written);
    req_respond_buf(r, 200, "text/plain; version=0.0.4", &b);
    return 0;
}

int http_healthz(req_t *r)
{
    static const char ok[] = "{\"status\":\"ok\"}\n";
    req_respond_bytes(r, 200, "application/json", ok, sizeof ok - 1);
    return 0;
}
