/* Writing managed tables' Parquet files; see output.h. */
#include "process/output.h"
#include "process/quality.h"
#include "util/arena.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void output_files_free(output_files_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].path);
        free(f->v[i].key);
    }
    free(f->v);
    f->v = NULL;
    f->n = 0;
}

size_t output_folder_len(const char *key)
{
    const char *slash = strrchr(key, '/');
    return slash ? (size_t)(slash - key) + 1 : 0;
}

/* Adds the Parquet files under dir (recursively) to out; rel is dir relative to root. */
static int collect(const char *root, const char *rel, const char *key_prefix, output_files_t *out,
                   size_t *cap, tarn_err_t *err)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : TARN_ERR(err, TARN_EIO, "open %s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4200], path[4400];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(path, sizeof path, "%s/%s", root, sub);
        struct stat st;
        if (stat(path, &st)) {
            rc = TARN_ERR(err, TARN_EIO, "stat %s: %s", path, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            rc = collect(root, sub, key_prefix, out, cap, err);
        } else {
            if (out->n == *cap) {
                *cap = *cap ? 2 * *cap : 16;
                output_file_t *v = realloc(out->v, *cap * sizeof *v);
                if (!v) {
                    rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
                    break;
                }
                out->v = v;
            }
            output_file_t *f = &out->v[out->n];
            memset(f, 0, sizeof *f);
            f->path = strdup(path);
            size_t kl = strlen(key_prefix) + strlen(sub) + 1;
            f->key = malloc(kl);
            if (f->key)
                snprintf(f->key, kl, "%s%s", key_prefix, sub);
            f->size = (uint64_t)st.st_size;
            f->rows = -1;
            out->n++;
            if (!f->path || !f->key)
                rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        }
    }
    closedir(d);
    return rc;
}

/* Row counts from the files' footers; zero-row files are removed from the list. */
static int count_rows(engine_conn_t *c, output_files_t *f, tarn_err_t *err)
{
    if (!f->n)
        return 0;
    arena_t *a = arena_create();
    buf_t b = BUF_INIT;
    buf_puts(&b, "SELECT file_name, sum(num_rows) FROM parquet_file_metadata([");
    for (size_t i = 0; i < f->n; i++) {
        buf_puts(&b, i ? ", " : "");
        quality_put_literal(&b, f->v[i].path);
    }
    buf_puts(&b, "]) GROUP BY file_name");
    engine_rows_t r;
    int rc = !a || !b.data ? TARN_ERR(err, TARN_ENOMEM, "out of memory")
                           : engine_query(c, b.data, f->n + 1, &r, a, err);
    for (size_t i = 0; !rc && i < r.nrows; i++)
        for (size_t k = 0; k < f->n; k++)
            if (r.cells[i * 2] && !strcmp(r.cells[i * 2], f->v[k].path))
                f->v[k].rows = r.cells[i * 2 + 1] ? strtoll(r.cells[i * 2 + 1], NULL, 10) : 0;
    buf_free(&b);
    arena_free(a);
    size_t n = 0;
    for (size_t i = 0; !rc && i < f->n; i++) {
        if (f->v[i].rows == 0) {
            unlink(f->v[i].path);
            free(f->v[i].path);
            free(f->v[i].key);
            continue;
        }
        f->v[n++] = f->v[i];
    }
    if (!rc)
        f->n = n;
    return rc;
}

/* Rewrites each of the files larger than 1.5 times target into files of about target,
 * beside it in its folder (a partitioned COPY writes one file per partition); *split
 * tells whether any was. */
static int split_large(engine_conn_t *c, const output_files_t *f, uint64_t target,
                       const char *tag, bool *split, tarn_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < f->n; i++) {
        if (f->v[i].size <= target + target / 2)
            continue;
        *split = true;
        const char *path = f->v[i].path;
        int dlen = (int)(strrchr(path, '/') - path);
        char out[4300];
        snprintf(out, sizeof out, "%.*s/.split-%zu", dlen, path, i);
        buf_t b = BUF_INIT;
        buf_puts(&b, "COPY (SELECT * FROM read_parquet(");
        quality_put_literal(&b, path);
        buf_puts(&b, ", hive_partitioning = false)) TO ");
        quality_put_literal(&b, out);
        buf_printf(&b,
                   " (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES %llu, FILENAME_PATTERN"
                   " 'part-%s-s%zu-{i}')",
                   (unsigned long long)target, tag, i);
        int64_t rows;
        rc = b.data ? engine_exec(c, b.data, NULL, &rows, err)
                    : TARN_ERR(err, TARN_ENOMEM, "out of memory");
        buf_free(&b);
        /* Move the pieces beside the original, then drop it. */
        DIR *sd = rc ? NULL : opendir(out);
        struct dirent *e;
        while (sd && (e = readdir(sd))) {
            if (e->d_name[0] == '.')
                continue;
            char from[4600], to[4600];
            snprintf(from, sizeof from, "%s/%s", out, e->d_name);
            snprintf(to, sizeof to, "%.*s/%s", dlen, path, e->d_name);
            if (rename(from, to))
                rc = TARN_ERR(err, TARN_EIO, "rename %s: %s", from, strerror(errno));
        }
        if (sd)
            closedir(sd);
        if (!rc && unlink(path))
            rc = TARN_ERR(err, TARN_EIO, "remove %s: %s", path, strerror(errno));
        fs_remove_tree(out);
    }
    return rc;
}

int output_copy_options(const output_opts_t *o, char **options, tarn_err_t *err)
{
    bool parts = o->partition_by && o->partition_by->n;
    long long target = (long long)(o->file_size_mb > 0 ? o->file_size_mb : 128) * 1024 * 1024;
    buf_t b = BUF_INIT;
    buf_printf(&b, "FILENAME_PATTERN 'part-%s-{i}'", o->file_tag);
    /* DuckDB cannot cut files by size while it partitions: split_large does it after. */
    if (!parts)
        buf_printf(&b, ", FILE_SIZE_BYTES %lld", target);
    if (parts) {
        buf_puts(&b, ", PARTITION_BY (");
        quality_put_idents(&b, o->partition_by, NULL);
        buf_puts(&b, ")");
    }
    /* Several files per folder need a pattern with {i}; the folder is new and empty. */
    buf_puts(&b, ", OVERWRITE_OR_IGNORE true");
    *options = buf_steal(&b);
    buf_free(&b);
    return *options ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

int output_collect(engine_conn_t *c, const output_opts_t *o, output_files_t *out,
                   tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    long long target = (long long)(o->file_size_mb > 0 ? o->file_size_mb : 128) * 1024 * 1024;
    size_t cap = 0;
    bool split = false;
    int rc = collect(o->dir, "", o->key_prefix, out, &cap, err);
    if (!rc && o->partition_by && o->partition_by->n)
        rc = split_large(c, out, (uint64_t)target, o->file_tag, &split, err);
    if (!rc && split) {
        output_files_free(out);
        cap = 0;
        rc = collect(o->dir, "", o->key_prefix, out, &cap, err);
    }
    if (!rc)
        rc = count_rows(c, out, err);
    if (rc)
        output_files_free(out);
    return rc;
}

int output_write(engine_conn_t *c, const char *select_sql, const output_opts_t *o,
                 output_files_t *out, tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    fs_remove_tree(o->dir);
    char *options = NULL;
    int rc = fs_mkdir_p(o->dir, 0700, err);
    if (rc || (rc = output_copy_options(o, &options, err)))
        return rc;
    buf_t b = BUF_INIT;
    buf_printf(&b, "COPY (SELECT * FROM (%s) AS _tarn_out", select_sql);
    if (o->sort_by && o->sort_by->n) {
        buf_puts(&b, " ORDER BY ");
        quality_put_idents(&b, o->sort_by, NULL);
    }
    buf_puts(&b, ") TO ");
    quality_put_literal(&b, o->dir);
    buf_printf(&b, " (FORMAT parquet, COMPRESSION zstd, %s)", options);
    free(options);
    int64_t n = 0;
    rc = b.data ? engine_exec(c, b.data, NULL, &n, err) : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    buf_free(&b);
    return rc ? rc : output_collect(c, o, out, err);
}

static bool listed(const pipeline_names_t *names, const char *name)
{
    for (size_t i = 0; names && i < names->n; i++)
        if (!strcmp(names->items[i], name))
            return true;
    return false;
}

int output_columns(engine_conn_t *c, const char *select_sql, const pipeline_names_t *partition_by,
                   char **columns, char **partition_keys, tarn_err_t *err)
{
    json_t *cols = NULL;
    int rc = engine_describe(c, select_sql, NULL, &cols, err);
    if (!rc)
        rc = output_columns_json(cols, partition_by, columns, partition_keys, err);
    json_decref(cols);
    return rc;
}

int output_columns_json(const json_t *cols, const pipeline_names_t *partition_by, char **columns,
                        char **partition_keys, tarn_err_t *err)
{
    int rc = 0;
    buf_t a = BUF_INIT, p = BUF_INIT;
    for (size_t k = 0; partition_by && k < partition_by->n; k++) {
        size_t i;
        json_t *col;
        bool found = false;
        json_array_foreach(cols, i, col)
        {
            const char *name = json_string_value(json_object_get(col, "name"));
            if (strcmp(name, partition_by->items[k]))
                continue;
            buf_printf(&p, "%s%s %s", p.len ? ", " : "", name,
                       json_string_value(json_object_get(col, "type")));
            found = true;
        }
        if (!found)
            rc = TARN_ERR(err, TARN_EINVAL, "partition_by names '%s', which the query's result "
                                            "does not have",
                          partition_by->items[k]);
    }
    size_t i;
    json_t *col;
    json_array_foreach(cols, i, col)
    {
        const char *name = json_string_value(json_object_get(col, "name"));
        if (listed(partition_by, name))
            continue;
        buf_puts(&a, a.len ? ", " : "");
        quality_put_ident(&a, name);
        buf_printf(&a, " %s", json_string_value(json_object_get(col, "type")));
    }
    if (!rc && !a.len)
        rc = TARN_ERR(err, TARN_EINVAL, "the query's result has no column besides its partition keys");
    if (rc) {
        buf_free(&a);
        buf_free(&p);
        return rc;
    }
    *columns = buf_steal(&a);
    *partition_keys = p.len ? buf_steal(&p) : strdup("");
    buf_free(&p);
    return *columns && *partition_keys ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

int output_publish(store_t *s, const char *bucket, const output_files_t *f, tarn_err_t *err)
{
    for (size_t i = 0; i < f->n; i++) {
        store_writer_t *w;
        int rc = store_writer_adopt(&w, s, f->v[i].path, err);
        if (rc)
            return rc;
        store_meta_t meta = {.content_type = "application/vnd.apache.parquet"};
        if ((rc = store_writer_commit(w, bucket, f->v[i].key, &meta, NULL, NULL, err)))
            return rc;
    }
    return 0;
}

void output_reader_sql(buf_t *out, const char *dir, const json_t *keys,
                       const char *partition_keys)
{
    output_reader_file_sql(out, dir, keys, partition_keys, NULL);
}

void output_reader_file_sql(buf_t *out, const char *dir, const json_t *keys,
                            const char *partition_keys, const char *file_col)
{
    buf_puts(out, "read_parquet([");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        buf_t path = BUF_INIT;
        buf_printf(&path, "%s/%s", dir, json_string_value(k));
        buf_puts(out, i ? ", " : "");
        quality_put_literal(out, path.data ? path.data : "");
        buf_free(&path);
    }
    buf_puts(out, "], union_by_name = true");
    if (partition_keys && *partition_keys) {
        /* "k TYPE, k2 TYPE" -> hive_types = {'k': 'TYPE', ...} */
        buf_puts(out, ", hive_partitioning = true, hive_types = {");
        char *copy = strdup(partition_keys);
        char *save = NULL;
        int k = 0;
        for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
             tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            char *sp = strchr(tok, ' ');
            if (!sp)
                continue;
            *sp = '\0';
            buf_puts(out, k++ ? ", " : "");
            quality_put_literal(out, tok);
            buf_puts(out, ": ");
            quality_put_literal(out, sp + 1);
        }
        free(copy);
        buf_puts(out, "}");
    } else {
        buf_puts(out, ", hive_partitioning = false");
    }
    if (file_col) {
        buf_puts(out, ", filename = ");
        quality_put_literal(out, file_col);
    }
    buf_puts(out, ")");
}
