/* The server's checkpoint worker: copies committed pages of the catalog's WAL into the
 * database file and syncs the audit log's last records, about once a second while commits
 * or audit records arrive, and not at all while none do (an idle server sleeps). */
#include "server/server_state.h"
#include "util/timeutil.h"
#include "util/worker.h"

#include <stdlib.h>

/* At most one round a second: a burst of commits costs one checkpoint, and a power loss
 * takes at most about a second of audit records. */
#define ROUND_MS 1000

struct checkpointer {
    worker_t *w;
    db_t *db;
    audit_t *audit;
    int watch;
};

static void checkpoint_main(worker_t *w, void *ctx)
{
    checkpointer_t *c = ctx;
    int64_t last = 0, retry = WORKER_FOREVER;
    uint64_t done = 0; /* commits numbered before the last complete checkpoint */
    while (!worker_wait(w, retry) && !worker_sleep(w, last + ROUND_MS)) {
        audit_sync(c->audit, NULL);
        uint64_t commits, syncs;
        db_sync_stats(c->db, &commits, &syncs);
        retry = WORKER_FOREVER;
        if (commits != done) {
            /* Readers may hold pages back: try again in a round even with no commit. */
            if (db_checkpoint(c->db) == TARN_EBUSY)
                retry = time_mono_ms() + ROUND_MS;
            else
                done = commits;
        }
        last = time_mono_ms();
    }
}

int checkpointer_start(checkpointer_t **out, db_t *db, audit_t *audit, tarn_err_t *err)
{
    checkpointer_t *c = calloc(1, sizeof *c);
    if (!c)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    c->db = db;
    c->audit = audit;
    int rc = worker_start(&c->w, "checkpoint", checkpoint_main, c, err);
    if (!rc && (c->watch = db_watch(db, NULL, worker_wake_cb, c->w)) < 0)
        rc = TARN_ERR(err, TARN_ENOMEM, "cannot watch the catalog for changes");
    if (rc) {
        worker_stop(c->w);
        free(c);
        return rc;
    }
    audit_on_unsynced(audit, worker_wake_cb, c->w);
    *out = c;
    return 0;
}

void checkpointer_stop(checkpointer_t *c)
{
    if (!c)
        return;
    audit_on_unsynced(c->audit, NULL, NULL);
    db_unwatch(c->db, c->watch);
    worker_stop(c->w);
    free(c);
}
