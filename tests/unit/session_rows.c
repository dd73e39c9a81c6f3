/* Test support: a query session's rows as one string; see session_rows.h. */
#include "session_rows.h"
#include "util/buf.h"

#include <string.h>

char *session_rows_text(session_t *s, const char *sql, rowenc_style_t mode, tarn_err_t *err)
{
    json_t *cols = NULL;
    rowenc_t *st = NULL;
    memset(err, 0, sizeof *err);
    if (session_query(s, sql, NULL, mode, &cols, &st, err))
        return NULL;
    buf_t b = BUF_INIT;
    buf_puts(&b, "");
    size_t nc = rowenc_ncols(st), n;
    const engine_cell_t *cells;
    while (!rowenc_next(st, &cells, &n, err) && n)
        for (size_t r = 0; r < n; r++)
            for (size_t c = 0; c < nc; c++) {
                const engine_cell_t *cell = &cells[r * nc + c];
                if (cell->data)
                    buf_append(&b, cell->data, cell->len);
                else
                    buf_putc(&b, '-');
                buf_putc(&b, c + 1 < nc ? '|' : '\n');
            }
    rowenc_close(st);
    json_decref(cols);
    return b.data;
}

int64_t session_user_id(iam_t *iam, const char *name)
{
    iam_user_t u = {0};
    tarn_err_t err = {0};
    arena_t *a = arena_create();
    int64_t id = a && !iam_user_get(iam, name, &u, a, &err) ? u.id : 0;
    arena_free(a);
    return id;
}
