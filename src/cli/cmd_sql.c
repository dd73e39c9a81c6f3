/* tarn sql: queries through POST /v1/sql, printed as an aligned table, CSV or JSON; one
 * from the command line, or statements from an interactive prompt (libedit: line
 * editing, history in ~/.tarn_history) or from a pipe. A Parquet answer goes to stdout
 * as the server sends it. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/table.h"

#include "util/buf.h"

#include <ctype.h>
#include <editline/readline.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A cell as text: strings as they are, NULL as "NULL" (table) or empty (CSV), anything
 * else as JSON. Caller frees. */
static char *cell_text(json_t *v, bool csv)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_null(v))
        return strdup(csv ? "" : "NULL");
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void put_csv(const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* Runs one query and prints its answer; returns the exit status. */
static int run_query(const char *endpoint, const char *sql, const char *format)
{
    json_t *body = json_pack("{s:s}", "sql", sql), *out = NULL;
    int rc = cli_call("sql", endpoint, "POST", "/v1/sql", body, &out);
    json_decref(body);
    if (rc)
        return rc;
    json_t *cols = json_object_get(out, "columns"), *rows = json_object_get(out, "rows");
    json_t *error = json_object_get(out, "error");
    size_t nc = json_array_size(cols), i, j;
    json_t *row, *c;
    if (!strcmp(format, "json")) {
        cli_print_json(out);
    } else if (!strcmp(format, "csv")) {
        json_array_foreach(cols, j, c)
        {
            if (j)
                putchar(',');
            put_csv(json_string_value(json_object_get(c, "name")));
        }
        putchar('\n');
        json_array_foreach(rows, i, row)
        {
            for (j = 0; j < nc; j++) {
                char *t = cell_text(json_array_get(row, j), true);
                if (j)
                    putchar(',');
                put_csv(t ? t : "");
                free(t);
            }
            putchar('\n');
        }
    } else {
        const char **h = calloc(nc ? nc : 1, sizeof *h);
        char **cells = calloc(nc ? nc : 1, sizeof *cells);
        json_array_foreach(cols, j, c)
            h[j] = json_string_value(json_object_get(c, "name"));
        table_t *t = table_create(nc, h);
        json_array_foreach(rows, i, row)
        {
            for (j = 0; j < nc; j++)
                cells[j] = cell_text(json_array_get(row, j), false);
            table_add(t, (const char *const *)cells);
            for (j = 0; j < nc; j++)
                free(cells[j]);
        }
        table_print(t, stdout);
        table_free(t);
        free(h);
        free(cells);
        size_t n = json_array_size(rows);
        printf("(%zu row%s)\n", n, n == 1 ? "" : "s");
    }
    if (error)
        rc = cli_fail("sql", json_string_value(json_object_get(error, "message")));
    json_decref(out);
    return rc;
}

/* One query's Parquet answer, its bytes copied to stdout, which must not be a terminal. */
static int run_parquet(const char *endpoint, const char *sql)
{
    if (isatty(STDOUT_FILENO))
        return cli_fail("sql", "a Parquet answer is binary; send it to a file: "
                               "tarn sql \"SELECT ...\" --format parquet > answer.parquet");
    client_t c;
    tarn_err_t err = {0};
    json_t *body = json_pack("{s:s, s:s}", "sql", sql, "format", "parquet");
    int rc = client_init(&c, endpoint, &err);
    if (!rc)
        rc = client_download(&c, "POST", "/v1/sql", body, stdout, &err);
    if (!rc && fflush(stdout))
        rc = TARN_ERR(&err, TARN_EIO, "cannot write the answer: %s", strerror(errno));
    client_wipe(&c);
    json_decref(body);
    return rc ? cli_fail("sql", err.msg) : 0;
}

/* Reads statements (ended by ';' at the end of a line) from a terminal with line editing
 * and history, or from a pipe, and runs each; \q or end of input stops. */
static int run_statements(const char *endpoint, const char *format)
{
    bool tty = isatty(STDIN_FILENO);
    char hist[4200] = "";
    const char *home = getenv("HOME");
    if (tty) {
        if (home)
            snprintf(hist, sizeof hist, "%s/.tarn_history", home);
        using_history();
        if (*hist)
            read_history(hist);
        printf("tarn sql: end each statement with ';'. \\q quits.\n");
    }
    buf_t stmt = BUF_INIT;
    int rc = 0;
    for (;;) {
        char *line = NULL;
        if (tty) {
            line = readline(stmt.len ? "   ...> " : "lake> ");
        } else {
            char chunk[4096];
            buf_t l = BUF_INIT;
            while (fgets(chunk, sizeof chunk, stdin)) {
                buf_puts(&l, chunk);
                if (strchr(chunk, '\n'))
                    break;
            }
            line = l.len ? buf_steal(&l) : NULL;
            buf_free(&l);
        }
        if (!line)
            break;
        line[strcspn(line, "\r\n")] = '\0';
        char *t = line;
        while (isspace((unsigned char)*t))
            t++;
        if (!stmt.len && (!strcmp(t, "\\q") || !strcmp(t, "quit") || !strcmp(t, "exit"))) {
            free(line);
            break;
        }
        if (*t) {
            if (stmt.len)
                buf_putc(&stmt, '\n');
            buf_puts(&stmt, line);
        }
        free(line);
        size_t n = stmt.len;
        while (n && isspace((unsigned char)stmt.data[n - 1]))
            n--;
        if (!n || stmt.data[n - 1] != ';')
            continue;
        stmt.data[n - 1] = '\0';
        if (tty)
            add_history(stmt.data);
        rc = run_query(endpoint, stmt.data, format) ? 1 : rc;
        buf_reset(&stmt);
    }
    if (stmt.len) /* a last statement without its ';' */
        rc = run_query(endpoint, stmt.data, format) ? 1 : rc;
    buf_free(&stmt);
    if (tty && *hist)
        write_history(hist);
    return rc;
}

int cmd_sql(int argc, char **argv)
{
    static const char *const valued[] = {"--endpoint", "--format", "-c", "-f", NULL};
    static const char *const flags[] = {"--json", NULL};
    args_t a;
    if (args_parse(&a, argc, argv, valued, flags, "sql"))
        return 2;
    /* -c SQL is the query as an option (as psql has it); -f FILE runs a file's statements. */
    const char *cmdq = args_get(&a, "-c"), *file = args_get(&a, "-f");
    if ((cmdq || file) && (a.npos || (cmdq && file))) {
        fprintf(stderr, "tarn sql: give the query once: as an argument, with -c, or in a file "
                        "with -f\n");
        return 2;
    }
    if (cmdq)
        a.pos[a.npos++] = cmdq;
    if (file && !freopen(file, "r", stdin)) {
        char m[4300];
        snprintf(m, sizeof m, "cannot read %s: %s", file, strerror(errno));
        return cli_fail("sql", m);
    }
    const char *format = args_get(&a, "--format");
    if (args_flag(&a, "--json"))
        format = "json";
    if (!format)
        format = "table";
    if (a.npos > 1 || (strcmp(format, "table") && strcmp(format, "csv") && strcmp(format, "json") &&
                       strcmp(format, "parquet"))) {
        fprintf(stderr, "usage: tarn sql [\"SELECT ...\"] [--format table|csv|json|parquet]\n"
                        "(see `tarn help sql`)\n");
        return 2;
    }
    if (!strcmp(format, "parquet")) {
        /* Answers one after another would not make one Parquet file. */
        if (!a.npos)
            return cli_fail("sql", "--format parquet answers one query given on the command "
                                   "line: tarn sql \"SELECT ...\" --format parquet > answer.parquet");
        return run_parquet(args_get(&a, "--endpoint"), a.pos[0]);
    }
    if (!a.npos)
        return run_statements(args_get(&a, "--endpoint"), format);
    return run_query(args_get(&a, "--endpoint"), a.pos[0], format);
}
