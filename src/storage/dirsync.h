/* Group commit for directory fsyncs: after a rename into a folder, the rename is durable
 * once the folder is fsynced. Concurrent writers into the same folder share one fsync
 * (a sync that starts after a writer's rename covers it), so many small PUTs cost far
 * fewer directory syncs than objects. */
#ifndef TARN_STORAGE_DIRSYNC_H
#define TARN_STORAGE_DIRSYNC_H

#include "util/err.h"

typedef struct dirsync dirsync_t;

dirsync_t *dirsync_create(void); /* NULL on out of memory */
void dirsync_free(dirsync_t *ds);
/* Returns once every rename made in dir before the call is on disk. */
int dirsync_sync(dirsync_t *ds, const char *dir, tarn_err_t *err);

#endif
