/* Directory fsync group commit; see dirsync.h. Folders hash to slots; each slot runs at
 * most one fsync at a time and every caller waits for a sync that began after it asked.
 * A caller whose folder collides with a busy slot for another folder syncs on its own. */
#include "storage/dirsync.h"
#include "util/fs.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 64

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char path[PATH_MAX];
    uint64_t requested, completed;
    bool syncing;
    int rc;
} slot_t;

struct dirsync {
    slot_t slots[SLOTS];
};

dirsync_t *dirsync_create(void)
{
    dirsync_t *ds = calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    for (int i = 0; i < SLOTS; i++) {
        pthread_mutex_init(&ds->slots[i].mu, NULL);
        pthread_cond_init(&ds->slots[i].cv, NULL);
    }
    return ds;
}

void dirsync_free(dirsync_t *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < SLOTS; i++) {
        pthread_mutex_destroy(&ds->slots[i].mu);
        pthread_cond_destroy(&ds->slots[i].cv);
    }
    free(ds);
}

int dirsync_sync(dirsync_t *ds, const char *dir, tarn_err_t *err)
{
    size_t len = strlen(dir);
    if (len >= PATH_MAX)
        return TARN_ERR(err, TARN_EINVAL, "path too long");
    uint32_t h = 2166136261u;
    for (const char *p = dir; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    slot_t *s = &ds->slots[h % SLOTS];
    pthread_mutex_lock(&s->mu);
    if (strcmp(s->path, dir)) {
        if (s->syncing || s->requested != s->completed) {
            pthread_mutex_unlock(&s->mu);
            return fs_fsync_dir(dir, err); /* busy with another folder */
        }
        memcpy(s->path, dir, len + 1);
    }
    uint64_t ticket = ++s->requested;
    int rc = 0;
    while (s->completed < ticket) {
        if (s->syncing) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        /* Lead a sync covering every ticket issued so far. */
        s->syncing = true;
        uint64_t target = s->requested;
        pthread_mutex_unlock(&s->mu);
        tarn_err_t e = {0};
        int r = fs_fsync_dir(dir, &e);
        pthread_mutex_lock(&s->mu);
        s->syncing = false;
        s->completed = target;
        s->rc = r;
        pthread_cond_broadcast(&s->cv);
    }
    rc = s->rc;
    pthread_mutex_unlock(&s->mu);
    if (rc)
        return TARN_ERR(err, rc, "fsync of folder %s failed", dir);
    return 0;
}
