/* The baseline of the catalog crawl benchmark (bench/crawl.py): detects the schema of
 * each file of a list the way a DuckDB user would, with one statement per file on one
 * in-memory connection,
 *   DESCRIBE SELECT * FROM read_csv('<path>')      .csv, .tsv (and their .gz, .zst)
 *   DESCRIBE SELECT * FROM read_json('<path>')     .json, .ndjson, .jsonl
 *   DESCRIBE SELECT * FROM read_parquet('<path>')  .parquet
 * and prints {"files": N, "seconds": S, "files_per_s": R, "errors": E} on stdout.
 * The clock (CLOCK_MONOTONIC) covers the statements only, not opening the database.
 * With THREADS, that many threads share the files, each on its own connection to the
 * one database (DuckDB's default configuration), as the crawler's workers do.
 *
 * usage: crawl_baseline FOLDER LIST [THREADS]   (LIST: one path relative to FOLDER per line) */
#include <duckdb.h>
#include <pthread.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* The reader for a file name, ignoring a trailing compression suffix; NULL when none. */
static const char *reader_for(const char *name)
{
    char base[4096];
    snprintf(base, sizeof base, "%s", name);
    size_t n = strlen(base);
    if (ends_with(base, ".gz"))
        base[n - 3] = 0;
    else if (ends_with(base, ".zst"))
        base[n - 4] = 0;
    if (ends_with(base, ".csv") || ends_with(base, ".tsv"))
        return "read_csv";
    if (ends_with(base, ".json") || ends_with(base, ".ndjson") || ends_with(base, ".jsonl"))
        return "read_json";
    if (ends_with(base, ".parquet"))
        return "read_parquet";
    return NULL;
}

/* Appends s to out as the body of a SQL string literal (quotes doubled). */
static bool quote_into(char *out, size_t cap, const char *s)
{
    size_t k = strlen(out);
    for (; *s; s++) {
        if (k + 3 >= cap)
            return false;
        if (*s == '\'')
            out[k++] = '\'';
        out[k++] = *s;
    }
    out[k] = 0;
    return true;
}

typedef struct {
    duckdb_database db;
    const char *folder;
    char **paths;
    size_t n, first, step, errors;
} worker_t;

/* Detects the schema of paths[first], paths[first + step], ... on its own connection. */
static void *work(void *arg)
{
    worker_t *w = arg;
    duckdb_connection con;
    if (duckdb_connect(w->db, &con) == DuckDBError) {
        w->errors = w->n;
        return NULL;
    }
    char sql[16384];
    size_t cap = sizeof sql;
    for (size_t i = w->first; i < w->n; i += w->step) {
        const char *reader = reader_for(w->paths[i]);
        if (!reader) {
            w->errors++;
            continue;
        }
        snprintf(sql, cap, "DESCRIBE SELECT * FROM %s('", reader);
        if (!quote_into(sql, cap - 3, w->folder) || !quote_into(sql, cap - 3, "/") ||
            !quote_into(sql, cap - 3, w->paths[i])) {
            w->errors++;
            continue;
        }
        strcat(sql, "')");
        duckdb_result res;
        if (duckdb_query(con, sql, &res) == DuckDBError) {
            if (w->errors < 5)
                fprintf(stderr, "%s: %s\n", w->paths[i], duckdb_result_error(&res));
            w->errors++;
        } else if (duckdb_row_count(&res) == 0) {
            w->errors++;
        }
        duckdb_destroy_result(&res);
    }
    duckdb_disconnect(&con);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s FOLDER LIST [THREADS]\n", argv[0]);
        return 2;
    }
    const char *folder = argv[1];
    FILE *list = fopen(argv[2], "r");
    if (!list) {
        perror(argv[2]);
        return 2;
    }
    /* Read the whole list first so that the clock sees only DuckDB. */
    size_t n = 0, cap = 1024;
    char **paths = malloc(cap * sizeof *paths);
    char line[4096];
    while (paths && fgets(line, sizeof line, list)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        if (n == cap) {
            char **v = realloc(paths, 2 * cap * sizeof *v);
            if (!v)
                break;
            paths = v;
            cap *= 2;
        }
        if (!(paths[n] = strdup(line)))
            break;
        n++;
    }
    fclose(list);
    if (!paths) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }

    int threads = argc == 4 ? atoi(argv[3]) : 1;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "THREADS is 1 to 64\n");
        return 2;
    }
    duckdb_database db;
    if (duckdb_open(NULL, &db) == DuckDBError) {
        fprintf(stderr, "duckdb_open failed\n");
        return 1;
    }
    worker_t w[64];
    pthread_t th[64];
    size_t errors = 0;
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){db, folder, paths, n, (size_t)i, (size_t)threads, 0};
        if (i && pthread_create(&th[i], NULL, work, &w[i])) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    work(&w[0]);
    for (int i = 1; i < threads; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < threads; i++)
        errors += w[i].errors;
    double secs = now_s() - t0;

    duckdb_close(&db);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    printf("{\"files\": %zu, \"seconds\": %.6f, \"files_per_s\": %.3f, \"errors\": %zu}\n", n,
           secs, secs > 0 ? (double)n / secs : 0.0, errors);
    return 0;
}
