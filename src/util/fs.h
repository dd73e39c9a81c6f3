/* Filesystem helpers for durable writes: every write that must survive a crash goes
 * through a temp file, fsync, rename and a directory fsync. */
#ifndef TARN_UTIL_FS_H
#define TARN_UTIL_FS_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p with the given mode; existing directories are fine. */
int fs_mkdir_p(const char *path, mode_t mode, tarn_err_t *err);
int fs_fsync_dir(const char *dir, tarn_err_t *err);
/* Fsyncs the directory that contains path. */
int fs_fsync_parent(const char *path, tarn_err_t *err);
/* Writes data to path atomically (tmp in the same directory, fsync, rename, dir fsync). */
int fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode, tarn_err_t *err);
/* Reads a whole (small) file into out. */
int fs_read_all(const char *path, buf_t *out, tarn_err_t *err);
int fs_exists(const char *path);
/* Writes all n bytes, retrying short writes and EINTR. */
int fs_write_full(int fd, const void *p, size_t n);
/* Removes a directory tree (no symlink following). */
int fs_remove_tree(const char *path);

#endif
