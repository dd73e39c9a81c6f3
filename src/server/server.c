/* `tarn serve`: starting a lake's parts (catalog, crawler, promotion, query sessions,
 * pipelines, streams, connection admission) and its listeners, and running until
 * SIGINT/SIGTERM, after which in-flight requests finish before the process exits. A data
 * folder without a lake gets one first (lake_init.c). */
#include "server/server.h"
#include "consume/session.h"
#include "engine/engine.h"
#include "govern/metrics_token.h"
#include "ingest/blueprint.h"
#include "process/pipelines.h"
#include "consume/pgwire/pgwire.h"
#include "server/errors.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/server_state.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/net.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

static void path_join(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}


/* The catalog and the crawler that follows the event queue. The crawler infers schemas
 * through an engine of its own that reads only the objects folder and runs each statement
 * on one thread: inference is many tiny statements, which run fastest side by side on
 * separate connections rather than each spread over every core, and it keeps crawling
 * apart from the threads and memory of interactive SQL. */
static int start_catalog(server_t *s, tarn_err_t *err)
{
    _Static_assert(sizeof s->objects_dir >= PATH_MAX, "realpath writes up to PATH_MAX bytes");
    char objects[4200];
    path_join(objects, sizeof objects, s->data_dir, "objects");
    if (!realpath(objects, s->objects_dir))
        return TARN_ERR(err, TARN_EIO, "%s: %s", objects, strerror(errno));
    const char *dirs[] = {s->objects_dir, NULL};
    int rc = engine_open(&s->engine, &(engine_opts_t){.dirs = dirs, .threads = 1}, err);
    if (!rc)
        rc = catalog_open(&s->catalog, s->db, err);
    crawler_opts_t co = {.objects_dir = s->objects_dir, .store = s->store,
                         .catalog = s->catalog, .engine = s->engine, .follow_events = true};
    if (!rc)
        rc = crawler_start(&s->crawler, &co, err);
    return rc;
}

/* Promotion raw -> cleaned. It classifies and reads each object itself through the
 * crawler's engine (a connection of its own) rather than waiting for the crawler: it must
 * read the whole file, where the crawler samples, and it must not depend on how far
 * behind the crawler is. */
static int start_promotion(server_t *s, const server_opts_t *o, tarn_err_t *err)
{
    int rc = promote_init(s->db, err);
    if (rc || o->promotion_off)
        return rc;
    promote_opts_t po = {.objects_dir = s->objects_dir, .store = s->store,
                         .catalog = s->catalog, .engine = s->engine,
                         .raw_retention_s = o->raw_retention_s};
    return promote_start(&s->promoter, &po, err);
}

/* An empty folder <data>/tmp/<name>, its absolute path in out (PATH_MAX bytes): what a
 * previous run left there belonged to queries that are gone. */
static int fresh_tmp_dir(const server_t *s, const char *name, char *out, tarn_err_t *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/tmp/%s", s->data_dir, name);
    fs_remove_tree(p);
    int rc = fs_mkdir_p(p, 0700, err);
    if (!rc && !realpath(p, out))
        rc = TARN_ERR(err, TARN_EIO, "%s: %s", p, strerror(errno));
    return rc;
}

/* Query sessions: the workload that bounds them and their engine (parallel statements; it
 * reads the objects folder and writes Parquet answers in <data>/tmp/sql). The engine's
 * memory limit is one budget for the whole database, so it is sized as the slots times
 * each query's share; sorts and joins that outgrow it spill to <data>/tmp/duckdb. */
static int start_sql(server_t *s, const server_opts_t *o, tarn_err_t *err)
{
    workload_opts_t wo = {.slots = o->query_slots,
                          .timeout_ms = (o->query_timeout_s > 0 ? o->query_timeout_s : 300) * 1000,
                          .max_wait_ms = (o->queue_wait_s > 0 ? o->queue_wait_s : 30) * 1000};
    char spill[PATH_MAX];
    int rc = workload_create(&s->workload, &wo, err);
    if (rc || (rc = fresh_tmp_dir(s, "sql", s->sql_dir, err)) ||
        (rc = fresh_tmp_dir(s, "duckdb", spill, err)))
        return rc;
    uint64_t slots = (uint64_t)workload_slots(s->workload);
    if (o->query_memory > UINT64_MAX / slots)
        return TARN_ERR(err, TARN_EINVAL, "--query-memory times %llu query slots is too large",
                        (unsigned long long)slots);
    const char *dirs[] = {s->objects_dir, s->sql_dir, NULL};
    engine_opts_t eo = {.dirs = dirs, .memory_limit = o->query_memory * slots, .spill_dir = spill};
    if ((rc = engine_open(&s->sql_engine, &eo, err)))
        return rc;
    s->query_memory = o->query_memory ? o->query_memory : engine_memory_limit(s->sql_engine) / slots;
    s->queries = (query_env_t){.engine = s->sql_engine,
                               .catalog = s->catalog,
                               .objects_dir = s->objects_dir,
                               .workload = s->workload,
                               .query_memory = s->query_memory};
    return 0;
}

/* A user's deletion removed its grants and memberships in the catalog: the grants'
 * snapshot, and whatever sessions derived from it (grants_generation), are rebuilt. */
static void user_deleted(void *grants, int64_t user_id)
{
    (void)user_id;
    grants_invalidate(grants);
}

/* Lets the runner stop a pipeline step's statement: the runner calls fn(arg) with a
 * void pointer, so session_interrupt is called through this rather than cast. */
static void interrupt_session(void *session)
{
    session_interrupt(session);
}

/* The runner's query function: one SQL step of a pipeline, run as its owner through a
 * query session like any of the owner's queries (same grants, column limits and row
 * filters, same sandbox), narrowed to the step's view of the lake, its whole result
 * written as one Parquet file. The owner is looked up at every step, so a deleted owner
 * or a revoked grant stops the pipeline at its next run. */
static int pipeline_query(void *ctx, const char *owner, const char *sql,
                          const catalog_scope_t *scope, runner_output_t *out,
                          runner_cancel_t *cancel, tarn_err_t *err)
{
    server_t *s = ctx;
    session_t *session = NULL;
    iam_user_t user;
    authz_principal_t p = {.name = owner, .grants = s->grants};
    bool registered = false;
    int rc = 0;
    arena_t *a = arena_create();
    if (!a)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if ((rc = iam_user_get(s->iam, owner, &user, a, err))) {
        if (rc == TARN_ENOTFOUND)
            rc = TARN_ERR_R(err, TARN_EDENIED, AccessDenied,
                            "pipeline owner '%s' does not exist", owner);
        goto done;
    }
    p.id = user.id;
    p.admin = user.admin;
    if ((rc = session_open(&session, s->sql_engine, s->catalog, s->objects_dir, &p, err)))
        goto done;
    session_set_scope(session, scope);
    if (cancel) {
        pthread_mutex_lock(&cancel->mu);
        if (!cancel->cancelled) {
            cancel->fn = interrupt_session;
            cancel->arg = session;
            registered = true;
        }
        pthread_mutex_unlock(&cancel->mu);
        if (!registered) {
            rc = TARN_ERR_R(err, TARN_ECONFLICT, QueryCancelled,
                            "the run was stopped before this step's query started");
            goto done;
        }
    }
    rc = session_query_parquet(session, sql, NULL, out->path, out->copy_options, &out->rows,
                               &out->columns, err);
done:
    if (registered) {
        pthread_mutex_lock(&cancel->mu);
        cancel->fn = NULL;
        cancel->arg = NULL;
        pthread_mutex_unlock(&cancel->mu);
    }
    session_close(session);
    arena_free(a);
    return rc;
}

/* The pipeline registry (kept also when pipelines are off, so specs can be applied and
 * read) and the runner. Its SQL steps run on the query engine, as the owner's sessions,
 * and stage their outputs under <data>/tmp/sql/pipelines, which that engine may write and
 * start_sql has just emptied (outputs of runs the last server left unfinished never
 * reached a snapshot). */
static int start_pipelines(server_t *s, const server_opts_t *o, tarn_err_t *err)
{
    int rc = pipelines_init(s->db, err);
    if (rc || o->pipelines_off)
        return rc;
    snprintf(s->pipeline_dir, sizeof s->pipeline_dir, "%s/pipelines", s->sql_dir);
    if ((rc = fs_mkdir_p(s->pipeline_dir, 0700, err)))
        return rc;
    runner_opts_t ro = {.objects_dir = s->objects_dir,
                        .staging_dir = s->pipeline_dir,
                        .store = s->store,
                        .catalog = s->catalog,
                        .engine = s->sql_engine,
                        .grants = s->grants,
                        .iam = s->iam,
                        .query = pipeline_query,
                        .query_ctx = s,
                        .max_runs = o->pipeline_runs,
                        .compact_min_files = o->compact_min_files};
    return runner_start(&s->runner, &ro, err);
}

/* Delivery streams: their logs are recovered before the HTTP port opens, so a put never
 * races recovery. Parquet conversion gets an engine of its own that reads and writes
 * only <data>/tmp/streams (emptied at start: staging of batches that are rebuilt from
 * the logs). */
static int start_streams(server_t *s, uint64_t wal_limit, tarn_err_t *err)
{
    char tmp[PATH_MAX];
    int rc = fresh_tmp_dir(s, "streams", tmp, err);
    if (rc)
        return rc;
    const char *dirs[] = {tmp, NULL};
    if ((rc = engine_open(&s->stream_engine, &(engine_opts_t){.dirs = dirs, .threads = 1}, err)))
        return rc;
    stream_opts_t so = {.data_dir = s->data_dir, .db = s->db, .store = s->store,
                        .catalog = s->catalog, .engine = s->stream_engine, .tmp_dir = tmp,
                        .wal_limit = wal_limit};
    if ((rc = stream_mgr_open(&s->streams, &so, err)))
        return rc;
    return stream_mgr_start(s->streams, err);
}

/* Sources: the registry (kept also when nothing runs) and the runner, which takes every
 * enabled source up again from its cursor. Change files are converted to Parquet by an
 * engine of their own that reads and writes only <data>/tmp/sources (emptied at start:
 * staging of batches that were not landed, which the sources read again). */
static int start_sources(server_t *s, tarn_err_t *err)
{
    char tmp[PATH_MAX];
    int rc = sources_init(s->db, err);
    if (rc || (rc = blueprints_init(s->db, err)) ||
        (rc = fresh_tmp_dir(s, "sources", tmp, err)))
        return rc;
    const char *dirs[] = {tmp, NULL};
    if ((rc = engine_open(&s->source_engine, &(engine_opts_t){.dirs = dirs, .threads = 1}, err)))
        return rc;
    source_runner_opts_t ro = {.db = s->db, .store = s->store, .catalog = s->catalog,
                               .engine = s->source_engine, .keyring = s->keyring,
                               .tmp_dir = tmp};
    return source_runner_start(&s->sources, &ro, err);
}

/* The HTTPS certificate chain and key as PEM text: libmicrohttpd takes them from memory. */
static int read_tls_files(server_t *s, const server_opts_t *o, tarn_err_t *err)
{
    if (!o->tls_cert && !o->tls_key)
        return 0;
    if (!o->tls_cert || !o->tls_key)
        return TARN_ERR(err, TARN_EINVAL, "TLS needs both --tls-cert and --tls-key");
    int rc = fs_read_all(o->tls_cert, &s->tls_cert_pem, err);
    if (!rc)
        rc = fs_read_all(o->tls_key, &s->tls_key_pem, err);
    if (rc) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return TARN_ERR(err, rc, "TLS: cannot read the certificate or key: %s", why);
    }
    return 0;
}

/* Every connection is a descriptor, and floods are held off by evicting rather than by
 * running out of them: take the whole allowance the system grants. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl))
        log_warn("cannot raise the open-file limit", "error", strerror(errno));
}

static int opt_or(int v, int dflt)
{
    return v > 0 ? v : dflt;
}

/* Admission of connections on both ports and the password back-off (docs/server.md,
 * "Connections"). */
static int start_admission(server_t *s, const server_opts_t *o, tarn_err_t *err)
{
    s->auth_timeout_s = opt_or(o->auth_timeout_s, 10);
    s->idle_timeout_s = opt_or(o->idle_timeout_s, 300);
    int reserved = o->reserved_admin > 0 ? o->reserved_admin : o->reserved_admin < 0 ? 0 : 3;
    conns_opts_t co = {.door = "http",
                       .max_unauth = opt_or(o->max_unauth, 256),
                       .max_unauth_per_addr = opt_or(o->max_unauth_per_addr, 64),
                       .max_auth = opt_or(o->http_max_connections, 1000),
                       .reserved_admin = reserved,
                       .auth_timeout_s = s->auth_timeout_s,
                       .evict_idle = true};
    if (co.reserved_admin >= co.max_auth)
        return TARN_ERR(err, TARN_EINVAL, "--reserved-admin-connections must be below "
                        "--http-max-connections and --pg-max-connections");
    /* Room above our caps for evicted connections whose threads are still closing. */
    s->http_conn_limit = co.max_auth + co.max_unauth + 256;
    int rc = conns_create(&s->http_conns, &co, err);
    if (rc)
        return rc;
    co.door = "postgres";
    co.max_auth = opt_or(o->pg_max_connections, 100);
    co.evict_idle = false;
    if (co.reserved_admin >= co.max_auth)
        return TARN_ERR(err, TARN_EINVAL, "--reserved-admin-connections must be below "
                        "--http-max-connections and --pg-max-connections");
    if ((rc = conns_create(&s->pg_conns, &co, err)))
        return rc;
    if (!(s->backoff = backoff_create(NULL)))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    return 0;
}

/* ---- what the PostgreSQL protocol needs of the server (pgwire_env_t) ---- */

static void pg_observe(void *ctx, const char *op, int status, double seconds, uint64_t bytes_out)
{
    server_t *s = ctx;
    metrics_observe(s->metrics, "pg", op, status, seconds, 0, bytes_out);
}

static void pg_auth_failed(void *ctx)
{
    server_t *s = ctx;
    metrics_auth_failure(s->metrics, "postgres");
}

static void pg_auth_held(void *ctx, double seconds)
{
    server_t *s = ctx;
    metrics_auth_backoff(s->metrics, "postgres", seconds);
}

void server_refuse_address(server_t *s, const char *door, const struct sockaddr *peer)
{
    char addr[64];
    net_addr_text(peer, addr, sizeof addr, NULL);
    log_warn("connection refused: the address is not in the allow-list", "door", door,
             "source", addr);
    audit_record_t rec = {.time_ms = time_now_ms(), .request_id = "-", .source = addr,
                          .action = "net:Connect", .resource = door, .outcome = "deny",
                          .reason = "allow-cidr", .status = 403};
    tarn_err_t aerr = {0};
    if (s->audit && audit_append(s->audit, &rec, &aerr))
        log_error("audit append failed", "error", aerr.msg);
}

static void *pg_conn_admit(void *ctx, int fd, const struct sockaddr *peer)
{
    server_t *s = ctx;
    if (!net_cidrs_allow(&s->pg_allow, peer)) {
        server_refuse_address(s, "postgres", peer);
        return NULL;
    }
    return conns_add(s->pg_conns, fd, peer);
}

static int pg_conn_login(void *ctx, void *slot, bool admin)
{
    server_t *s = ctx;
    return conns_authenticate(s->pg_conns, slot, admin);
}

static void pg_conn_leave(void *ctx, void *slot)
{
    server_t *s = ctx;
    conns_remove(s->pg_conns, slot);
}

static int start_postgres(server_t *s, const server_opts_t *o, const char *addr, tarn_err_t *err)
{
    pgwire_env_t env = {
        .queries = &s->queries,
        .iam = s->iam,
        .grants = s->grants,
        .backoff = s->backoff,
        .audit = s->audit,
        .db = s->db,
        .tls_cert = o->tls_cert,
        .tls_key = o->tls_key,
        .ctx = s,
        .sqlstate = errors_sqlstate,
        .observe = pg_observe,
        .auth_failed = pg_auth_failed,
        .auth_held = pg_auth_held,
        .conn_admit = pg_conn_admit,
        .conn_login = pg_conn_login,
        .conn_leave = pg_conn_leave,
    };
    return pgwire_start(&s->pg, &env, addr, err);
}

static void wipe_buf(buf_t *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    buf_free(b);
}

static void server_free(server_t *s)
{
    if (!s)
        return;
    /* The runner first: its runs use the query engine, the catalog and the store. */
    if (s->runner)
        runner_stop(s->runner);
    promote_stop(s->promoter);
    source_runner_stop(s->sources); /* before the store and catalog it lands in */
    engine_close(s->source_engine);
    stream_mgr_close(s->streams); /* before the store and catalog it delivers into */
    engine_close(s->stream_engine);
    crawler_stop(s->crawler);
    workload_free(s->workload);
    catalog_close(s->catalog);
    engine_close(s->engine);
    engine_close(s->sql_engine);
    grants_close(s->grants);
    checkpointer_stop(s->checkpointer);
    audit_close(s->audit);
    metrics_free(s->metrics);
    conns_free(s->http_conns); /* the listeners are stopped: no connection is left */
    conns_free(s->pg_conns);
    net_cidrs_free(&s->http_allow);
    net_cidrs_free(&s->pg_allow);
    backoff_free(s->backoff);
    iam_close(s->iam);
    store_close(s->store);
    db_close(s->db);
    keyring_free(s->keyring);
    wipe_buf(&s->tls_cert_pem);
    wipe_buf(&s->tls_key_pem);
    free(s);
}

int server_run(const server_opts_t *o, tarn_err_t *err)
{
    char p[4200];
    int lockfd = -1, rc = 0;
    struct addrinfo *ai = NULL;
    server_t *s = NULL;
    path_join(p, sizeof p, o->data_dir, "tarn.db");
    if (!fs_exists(p) && (rc = server_init_lake(o->data_dir, stdout, err)))
        return rc;
    if ((rc = net_listen_addr(o->listen, "--listen", &ai, err)))
        return rc;
    if (o->metrics_public && !net_addr_loopback(ai->ai_addr)) {
        freeaddrinfo(ai);
        return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument,
                          "--metrics-public serves /metrics to anyone who reaches the port, so "
                          "it needs a loopback --listen (such as 127.0.0.1:9470); for a "
                          "scraper on the network, give it a token: tarn metrics token create");
    }
    path_join(p, sizeof p, o->data_dir, "tarn.lock");
    lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB)) {
        rc = TARN_ERR(err, TARN_EBUSY, "another tarn server is already using %s", o->data_dir);
        goto done;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(s->data_dir, sizeof s->data_dir, "%s", o->data_dir);
    s->metrics_public = o->metrics_public;
    const char *ha = o->allow_cidr_http ? o->allow_cidr_http : o->allow_cidr;
    const char *pa = o->allow_cidr_pg ? o->allow_cidr_pg : o->allow_cidr;
    if ((ha && (rc = net_cidrs_parse(&s->http_allow, ha,
                                     o->allow_cidr_http ? "--allow-cidr-http" : "--allow-cidr",
                                     err))) ||
        (pa && (rc = net_cidrs_parse(&s->pg_allow, pa,
                                     o->allow_cidr_pg ? "--allow-cidr-pg" : "--allow-cidr", err))))
        goto done;
    uint8_t rnd[8];
    hash_random(rnd, sizeof rnd);
    memcpy(&s->boot_id, rnd, sizeof rnd);
    char keys[4200], audit_dir[4200];
    if ((rc = read_tls_files(s, o, err)))
        goto done;
    path_join(keys, sizeof keys, o->data_dir, "keys");
    path_join(audit_dir, sizeof audit_dir, o->data_dir, "audit");
    if ((rc = keyring_open(&s->keyring, keys, err)) || (rc = server_open_db(&s->db, o->data_dir, err)) ||
        (rc = store_open(&s->store, o->data_dir, s->db, err)) ||
        (rc = iam_open(&s->iam, s->db, s->keyring, err)) ||
        (rc = metrics_token_open(s->db, err)) ||
        (rc = grants_open(&s->grants, s->db, err)) ||
        (rc = audit_open(&s->audit, audit_dir, s->keyring, err)) ||
        (rc = checkpointer_start(&s->checkpointer, s->db, s->audit, err)) ||
        (rc = start_catalog(s, err)) || (rc = start_promotion(s, o, err)) ||
        (rc = start_sql(s, o, err)) || (rc = start_pipelines(s, o, err)))
        goto done;
    iam_on_user_deleted(s->iam, user_deleted, s->grants);
    const char *wl = getenv("TARN_STREAM_WAL_LIMIT"); /* bytes; for tests of backpressure */
    if ((rc = start_streams(s, wl ? strtoull(wl, NULL, 10) : 0, err)) ||
        (rc = start_sources(s, err)))
        goto done;
    s->metrics = metrics_create();
    if (!s->metrics) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    raise_fd_limit();
    if ((rc = start_admission(s, o, err)))
        goto done;
    /* Signals are taken synchronously by this thread; the server's threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The PostgreSQL port listens before the HTTP one, so a server that answers /healthz
     * takes PostgreSQL clients too. */
    const char *pg_listen_addr = o->pg_listen ? o->pg_listen : "127.0.0.1:5470";
    if (strcmp(pg_listen_addr, "off") &&
        (rc = start_postgres(s, o, pg_listen_addr, err)))
        goto done;
    if (!o->tls_cert && !net_addr_loopback(ai->ai_addr))
        log_warn("HTTP clients reach this server from the network without TLS: requests are "
                 "signed, but objects, queries and results (and secrets shown once) travel in "
                 "plain text; give --tls-cert and --tls-key",
                 "listen", o->listen);
    if ((rc = http_start(s, ai->ai_addr, err)))
        goto done;
    log_info("tarn ready", "listen", o->listen, "tls", o->tls_cert ? "on" : "off", "pg_listen", pg_listen_addr, "data", o->data_dir,
             "pipelines", s->runner ? "on" : "off", "version", TARN_VERSION, "duckdb",
             engine_version());
    int sig = 0;
    while (sigwait(&set, &sig) || (sig != SIGINT && sig != SIGTERM))
        ;
    log_info("shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    pgwire_stop(s->pg);
    s->pg = NULL;
    int lfd = MHD_quiesce_daemon(s->daemon); /* stop accepting; the caller owns the socket */
    if (lfd >= 0)
        close(lfd);
    for (int i = 0; i < 300 && atomic_load(&s->inflight) > 0; i++)
        usleep(100000);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    log_info("stopped");
done:
    if (s)
        pgwire_stop(s->pg);
    if (s && s->daemon)
        MHD_stop_daemon(s->daemon);
    server_free(s);
    if (ai)
        freeaddrinfo(ai);
    if (lockfd >= 0)
        close(lockfd);
    return rc;
}
