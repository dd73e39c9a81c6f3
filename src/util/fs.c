/* Durable filesystem helpers; see fs.h. */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_mkdir_p(const char *path, mode_t mode, tarn_err_t *err)
{
    char tmp[PATH_MAX];
    if (strlen(path) >= sizeof tmp)
        return TARN_ERR(err, TARN_EINVAL, "path too long: %s", path);
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) && errno != EEXIST)
            return TARN_ERR(err, TARN_EIO, "mkdir %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, mode) && errno != EEXIST)
        return TARN_ERR(err, TARN_EIO, "mkdir %s: %s", tmp, strerror(errno));
    return 0;
}

int fs_fsync_dir(const char *dir, tarn_err_t *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return TARN_ERR(err, TARN_EIO, "open %s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc)
        return TARN_ERR(err, TARN_EIO, "fsync %s: %s", dir, strerror(errno));
    return 0;
}

int fs_fsync_parent(const char *path, tarn_err_t *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        return fs_fsync_dir(".", err);
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1;
    if (n >= sizeof dir)
        return TARN_ERR(err, TARN_EINVAL, "path too long");
    memcpy(dir, path, n);
    dir[n] = '\0';
    return fs_fsync_dir(dir, err);
}

int fs_write_full(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode, tarn_err_t *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return TARN_ERR(err, TARN_EINVAL, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return TARN_ERR(err, TARN_EIO, "create %s: %s", tmp, strerror(errno));
    if (fs_write_full(fd, data, n) || fsync(fd)) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return TARN_ERR(err, TARN_EIO, "write %s: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return TARN_ERR(err, TARN_EIO, "rename to %s: %s", path, strerror(e));
    }
    return fs_fsync_parent(path, err);
}

int fs_read_all(const char *path, buf_t *out, tarn_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TARN_ERR(err, errno == ENOENT ? TARN_ENOTFOUND : TARN_EIO, "open %s: %s", path,
                        strerror(errno));
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return TARN_ERR(err, TARN_EIO, "read %s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        if (buf_append(out, chunk, (size_t)r)) {
            close(fd);
            return TARN_ERR(err, TARN_ENOMEM, "out of memory reading %s", path);
        }
    }
    close(fd);
    if (!out->data && buf_reserve(out, 0))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    return 0;
}

int fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int fs_remove_tree(const char *path)
{
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
