/* Test support for the govern layer: a lake's catalog in a temporary folder with identities
 * and grants (and a keyring, for tests that make access keys), wired as the server wires
 * them: a user's deletion rebuilds the grants' snapshot. */
#ifndef TARN_TESTS_GOVERN_FIXTURE_H
#define TARN_TESTS_GOVERN_FIXTURE_H

#include "govern/grants.h"
#include "govern/iam.h"
#include "govern/keyring.h"

#include <stdbool.h>

typedef struct {
    char dir[64];
    db_t *db;
    keyring_t *kr; /* NULL unless asked for */
    iam_t *iam;
    grants_t *g;
    arena_t *a;         /* for what lookups return */
    int deleted;        /* users deleted so far */
    int64_t deleted_id; /* the last one's id */
} govern_fixture_t;

/* Opens everything in a new /tmp/tarn-<tag>-XXXXXX; 0, or -1 (printed). */
int govern_fixture_open(govern_fixture_t *f, const char *tag, bool with_keys);
/* Closes and removes the folder. */
void govern_fixture_close(govern_fixture_t *f);
/* As cmocka setups and teardown: *state is a new fixture (the _keys one with a keyring). */
int govern_fixture_setup(void **state);
int govern_fixture_setup_keys(void **state);
int govern_fixture_teardown(void **state);

#endif
