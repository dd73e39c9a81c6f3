/* Test support: a catalog with identities and grants; see govern_fixture.h. */
#include "govern_fixture.h"
#include "util/fs.h"

#include <stdio.h>
#include <stdlib.h>

static void user_deleted(void *ctx, int64_t user_id)
{
    govern_fixture_t *f = ctx;
    f->deleted++;
    f->deleted_id = user_id;
    grants_invalidate(f->g);
}

int govern_fixture_open(govern_fixture_t *f, const char *tag, bool with_keys)
{
    tarn_err_t err = {0};
    char path[128];
    snprintf(f->dir, sizeof f->dir, "/tmp/tarn-%s-XXXXXX", tag);
    if (!mkdtemp(f->dir)) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(path, sizeof path, "%s/keys", f->dir);
    if (with_keys && (keyring_create(path, &err) || keyring_open(&f->kr, path, &err)))
        goto fail;
    snprintf(path, sizeof path, "%s/tarn.db", f->dir);
    if (db_open(&f->db, path, &err) || iam_open(&f->iam, f->db, f->kr, &err) ||
        grants_open(&f->g, f->db, &err))
        goto fail;
    if (!(f->a = arena_create())) {
        TARN_ERR(&err, TARN_ENOMEM, "out of memory");
        goto fail;
    }
    iam_on_user_deleted(f->iam, user_deleted, f);
    return 0;
fail:
    fprintf(stderr, "fixture: %s\n", err.msg);
    return -1;
}

void govern_fixture_close(govern_fixture_t *f)
{
    grants_close(f->g);
    iam_close(f->iam);
    db_close(f->db);
    keyring_free(f->kr);
    arena_free(f->a);
    fs_remove_tree(f->dir);
}

static int setup(void **state, bool with_keys)
{
    govern_fixture_t *f = calloc(1, sizeof *f);
    if (!f || govern_fixture_open(f, "govern", with_keys)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

int govern_fixture_setup(void **state)
{
    return setup(state, false);
}

int govern_fixture_setup_keys(void **state)
{
    return setup(state, true);
}

int govern_fixture_teardown(void **state)
{
    govern_fixture_close(*state);
    free(*state);
    return 0;
}
