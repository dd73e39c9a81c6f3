/* Aligned text tables for CLI output: add rows of cells, then print with columns padded
 * to their widest cell. */
#ifndef TARN_CLI_TABLE_H
#define TARN_CLI_TABLE_H

#include <stdio.h>

typedef struct table table_t;

table_t *table_create(size_t ncols, const char *const *headers);
/* Copies the cells (ncols of them; NULL prints as "-"). */
int table_add(table_t *t, const char *const *cells);
void table_print(const table_t *t, FILE *out);
void table_free(table_t *t);

#endif
