/* Aligned CLI tables; see table.h. Widths count UTF-8 code points, not bytes. */
#include "cli/table.h"

#include <stdlib.h>
#include <string.h>

struct table {
    size_t ncols, nrows, cap;
    char **cells; /* row-major, header row first */
};

static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

table_t *table_create(size_t ncols, const char *const *headers)
{
    table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    if (table_add(t, headers)) {
        table_free(t);
        return NULL;
    }
    return t;
}

int table_add(table_t *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **n = realloc(t->cells, cap * t->ncols * sizeof *n);
        if (!n)
            return -1;
        t->cells = n;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        const char *c = cells[i] ? cells[i] : "-";
        t->cells[t->nrows * t->ncols + i] = strdup(c);
    }
    t->nrows++;
    return 0;
}

void table_print(const table_t *t, FILE *out)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    if (!w)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t cw = s ? width(s) : 0;
            if (cw > w[c])
                w[c] = cw;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            s = s ? s : "";
            if (c + 1 < t->ncols)
                fprintf(out, "%s%*s  ", s, (int)(w[c] - width(s)), "");
            else
                fprintf(out, "%s\n", s);
        }
    }
    free(w);
}

void table_free(table_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}
