/* The baseline of the catalog crawl benchmark (bench/crawl.py): detects the schema of
 * each file of a list the way a DuckDB user would, with one statement per file on one
 * in-memory connection,
 *   DESCRIBE SELECT * FROM read_csv('<path>')      .csv, .tsv (and their .gz, .zst)
 *   DESCRIBE SELECT * FROM read_json('<path>')     .json, .ndjson, .jsonl
 *   DESCRIBE SELECT * FROM read_parquet('<path>')  .parquet
 * and prints {"files": N, "seconds": S, "files_per_s": R, "errors": E} on stdout.
 * The clock (CLOCK_MONOTONIC) covers the statements only, not opening the database.
 *
 * usage: crawl_baseline FOLDER LIST   (LIST: one path relative to FOLDER per line) */
#include <duckdb.h>

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

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FOLDER LIST\n", argv[0]);
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

    duckdb_database db;
    duckdb_connection con;
    if (duckdb_open(NULL, &db) == DuckDBError) {
        fprintf(stderr, "duckdb_open failed\n");
        return 1;
    }
    if (duckdb_connect(db, &con) == DuckDBError) {
        fprintf(stderr, "duckdb_connect failed\n");
        duckdb_close(&db);
        return 1;
    }

    size_t errors = 0;
    char sql[16384];
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        const char *reader = reader_for(paths[i]);
        if (!reader) {
            errors++;
            continue;
        }
        snprintf(sql, sizeof sql, "DESCRIBE SELECT * FROM %s('", reader);
        if (!quote_into(sql, sizeof sql - 3, folder) || !quote_into(sql, sizeof sql - 3, "/") ||
            !quote_into(sql, sizeof sql - 3, paths[i])) {
            errors++;
            continue;
        }
        strcat(sql, "')");
        duckdb_result res;
        if (duckdb_query(con, sql, &res) == DuckDBError) {
            if (errors < 5)
                fprintf(stderr, "%s: %s\n", paths[i], duckdb_result_error(&res));
            errors++;
        } else if (duckdb_row_count(&res) == 0) {
            errors++;
        }
        duckdb_destroy_result(&res);
    }
    double secs = now_s() - t0;

    duckdb_disconnect(&con);
    duckdb_close(&db);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    printf("{\"files\": %zu, \"seconds\": %.6f, \"files_per_s\": %.3f, \"errors\": %zu}\n", n,
           secs, secs > 0 ? (double)n / secs : 0.0, errors);
    return 0;
}
