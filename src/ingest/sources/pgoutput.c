/* Decoder of pgoutput's logical replication messages; see pgoutput.h. The format is
 * PostgreSQL's "Logical Replication Message Formats" (protocol version 1): network byte
 * order integers, NUL-terminated strings. */
#include "ingest/sources/pgoutput.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct pgoutput_rels {
    pgoutput_rel_t **v; /* current announcement per oid, in arrival order */
    size_t n, cap;
    /* Replaced announcements stay alive until the map is freed: a change decoded before
     * a schema change may still point at the relation it was decoded with. */
    pgoutput_rel_t **old;
    size_t nold, capold;
    size_t last; /* index of the last relation found: changes come in runs per table */
};

static void rel_free(pgoutput_rel_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->ncols; i++)
        free(r->cols[i].name);
    free(r->cols);
    free(r->nspname);
    free(r->relname);
    free(r);
}

pgoutput_rels_t *pgoutput_rels_create(void)
{
    return calloc(1, sizeof(pgoutput_rels_t));
}

void pgoutput_rels_free(pgoutput_rels_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        rel_free(r->v[i]);
    for (size_t i = 0; i < r->nold; i++)
        rel_free(r->old[i]);
    free(r->v);
    free(r->old);
    free(r);
}

static ssize_t rel_index(const pgoutput_rels_t *r, uint32_t oid)
{
    if (r->last < r->n && r->v[r->last]->oid == oid)
        return (ssize_t)r->last;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i]->oid == oid)
            return (ssize_t)i;
    return -1;
}

const pgoutput_rel_t *pgoutput_rels_get(const pgoutput_rels_t *r, uint32_t oid)
{
    ssize_t i = rel_index(r, oid);
    return i < 0 ? NULL : r->v[i];
}

static bool push(pgoutput_rel_t ***v, size_t *n, size_t *cap, pgoutput_rel_t *x)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        pgoutput_rel_t **nv = realloc(*v, c * sizeof *nv);
        if (!nv)
            return false;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = x;
    return true;
}

/* Takes ownership of rel (freed on failure). */
static bool rels_put(pgoutput_rels_t *r, pgoutput_rel_t *rel)
{
    ssize_t i = rel_index(r, rel->oid);
    if (i < 0) {
        if (push(&r->v, &r->n, &r->cap, rel))
            return true;
    } else if (push(&r->old, &r->nold, &r->capold, r->v[i])) {
        r->v[i] = rel;
        return true;
    }
    rel_free(rel);
    return false;
}

/* ---- reading ---- */

typedef struct {
    const uint8_t *p;
    size_t n, off;
    tarn_err_t *err;
    int rc;
} rd_t;

static bool need(rd_t *r, size_t k, const char *what)
{
    if (r->rc)
        return false;
    if (r->n - r->off < k) {
        r->rc = TARN_ERR(r->err, TARN_EINVAL,
                         "pgoutput message %c: %s expected at byte %zu, the message ends there",
                         r->n ? r->p[0] : '?', what, r->off);
        return false;
    }
    return true;
}

static uint8_t u8(rd_t *r, const char *what)
{
    return need(r, 1, what) ? r->p[r->off++] : 0;
}

static uint16_t u16(rd_t *r, const char *what)
{
    if (!need(r, 2, what))
        return 0;
    uint16_t v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
    r->off += 2;
    return v;
}

static uint32_t u32(rd_t *r, const char *what)
{
    if (!need(r, 4, what))
        return 0;
    const uint8_t *q = r->p + r->off;
    r->off += 4;
    return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

static uint64_t u64(rd_t *r, const char *what)
{
    uint64_t hi = u32(r, what);
    return hi << 32 | u32(r, what);
}

/* A NUL-terminated string, pointing into the message (which outlives the result only
 * through a copy). */
static const char *str(rd_t *r, const char *what)
{
    if (r->rc)
        return NULL;
    const uint8_t *nul = memchr(r->p + r->off, 0, r->n - r->off);
    if (!nul) {
        r->rc = TARN_ERR(r->err, TARN_EINVAL,
                         "pgoutput message %c: %s at byte %zu has no terminating NUL",
                         r->p[0], what, r->off);
        return NULL;
    }
    const char *s = (const char *)r->p + r->off;
    r->off = (size_t)(nul - r->p) + 1;
    return s;
}

/* A copy of a string read from the message ("" when reading failed). */
static const char *dup_str(rd_t *r, arena_t *a, const char *what)
{
    const char *s = str(r, what);
    char *d = arena_strdup(a, s ? s : "");
    if (!d && !r->rc)
        r->rc = TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
    return d;
}

static int64_t unix_us(uint64_t pg_us)
{
    return (int64_t)pg_us + PGOUTPUT_EPOCH_US;
}

static void tuple(rd_t *r, pgoutput_tuple_t *t, arena_t *a)
{
    t->ncols = u16(r, "the column count of a tuple");
    if (r->rc)
        return;
    t->values = arena_alloc(a, (t->ncols ? (size_t)t->ncols : 1) * sizeof *t->values);
    if (!t->values) {
        r->rc = TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
        return;
    }
    for (int i = 0; i < t->ncols && !r->rc; i++) {
        pgoutput_value_t *v = &t->values[i];
        uint8_t kind = u8(r, "a column's kind");
        switch (kind) {
        case 'n':
            v->kind = PGOUTPUT_NULL;
            break;
        case 'u':
            v->kind = PGOUTPUT_UNCHANGED;
            break;
        case 't':
        case 'b': {
            v->kind = kind == 't' ? PGOUTPUT_TEXT : PGOUTPUT_BINARY;
            v->len = u32(r, "a column's length");
            if (!need(r, v->len, "a column's value"))
                return;
            char *d = arena_alloc(a, (size_t)v->len + 1); /* zeroed: text ends in a NUL */
            if (!d) {
                r->rc = TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
                return;
            }
            memcpy(d, r->p + r->off, v->len);
            v->data = d;
            r->off += v->len;
            break;
        }
        default:
            if (!r->rc)
                r->rc = TARN_ERR(r->err, TARN_EINVAL,
                                 "pgoutput tuple: column %d has kind 0x%02x at byte %zu"
                                 " (expected n, u, t or b)",
                                 i + 1, kind, r->off - 1);
        }
    }
}

static const pgoutput_rel_t *known_rel(rd_t *r, const pgoutput_rels_t *rels, uint32_t oid)
{
    const pgoutput_rel_t *rel = r->rc ? NULL : pgoutput_rels_get(rels, oid);
    if (!rel && !r->rc)
        r->rc = TARN_ERR(r->err, TARN_EINVAL,
                         "pgoutput message %c names relation %" PRIu32
                         ", which no Relation message announced",
                         r->p[0], oid);
    return rel;
}

/* A change's tuple must have the relation's columns. */
static void check_width(rd_t *r, const pgoutput_rel_t *rel, const pgoutput_tuple_t *t)
{
    if (!r->rc && rel && t->ncols != rel->ncols)
        r->rc = TARN_ERR(r->err, TARN_EINVAL,
                         "pgoutput message %c: a tuple of %d columns for %s.%s, which has %d",
                         r->p[0], t->ncols, rel->nspname, rel->relname, rel->ncols);
}

static void relation(rd_t *r, pgoutput_rels_t *rels, pgoutput_msg_t *m)
{
    pgoutput_rel_t *rel = calloc(1, sizeof *rel);
    if (!rel) {
        r->rc = TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
        return;
    }
    rel->oid = u32(r, "the relation id");
    const char *ns = str(r, "the namespace");
    const char *name = str(r, "the relation name");
    rel->replident = (char)u8(r, "the replica identity");
    rel->ncols = u16(r, "the column count");
    rel->nspname = ns ? strdup(ns) : NULL;
    rel->relname = name ? strdup(name) : NULL;
    rel->cols = calloc(rel->ncols ? (size_t)rel->ncols : 1, sizeof *rel->cols);
    if (!r->rc && (!rel->nspname || !rel->relname || !rel->cols))
        r->rc = TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
    for (int i = 0; i < rel->ncols && !r->rc; i++) {
        pgoutput_col_t *c = &rel->cols[i];
        uint8_t flags = u8(r, "a column's flags");
        const char *cn = str(r, "a column's name");
        c->type_oid = u32(r, "a column's type");
        c->typmod = (int32_t)u32(r, "a column's type modifier");
        c->key = flags & 1;
        if (!r->rc && !(c->name = strdup(cn)))
            r->rc = TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
    }
    if (r->rc) {
        rel_free(rel);
        return;
    }
    if (!rels_put(rels, rel)) {
        r->rc = TARN_ERR(r->err, TARN_ENOMEM, "out of memory");
        return;
    }
    m->rel = rel;
}

int pgoutput_decode(pgoutput_rels_t *rels, const uint8_t *p, size_t n, pgoutput_msg_t *out,
                    arena_t *a, tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!n)
        return TARN_ERR(err, TARN_EINVAL, "pgoutput message: empty");
    rd_t r = {.p = p, .n = n, .off = 1, .err = err};
    out->tag = (pgoutput_tag_t)p[0];
    switch (p[0]) {
    case 'B':
        out->final_lsn = u64(&r, "the final LSN");
        out->commit_ts_us = unix_us(u64(&r, "the commit time"));
        out->xid = u32(&r, "the transaction id");
        break;
    case 'C':
        u8(&r, "the flags");
        out->commit_lsn = u64(&r, "the commit LSN");
        out->end_lsn = u64(&r, "the end LSN");
        out->commit_ts_us = unix_us(u64(&r, "the commit time"));
        break;
    case 'O':
        out->commit_lsn = u64(&r, "the origin's commit LSN");
        out->name = dup_str(&r, a, "the origin name");
        break;
    case 'R':
        relation(&r, rels, out);
        break;
    case 'Y':
        out->type_oid = u32(&r, "the type id");
        out->nspname = dup_str(&r, a, "the namespace");
        out->name = dup_str(&r, a, "the type name");
        break;
    case 'I':
        out->rel = known_rel(&r, rels, u32(&r, "the relation id"));
        if (u8(&r, "the new tuple marker") != 'N' && !r.rc)
            r.rc = TARN_ERR(err, TARN_EINVAL, "pgoutput insert: expected 'N' at byte 5");
        tuple(&r, &out->newtup, a);
        check_width(&r, out->rel, &out->newtup);
        break;
    case 'U': {
        out->rel = known_rel(&r, rels, u32(&r, "the relation id"));
        uint8_t k = u8(&r, "a tuple marker");
        if (k == 'K' || k == 'O') {
            out->old_kind = (char)k;
            tuple(&r, &out->old, a);
            check_width(&r, out->rel, &out->old);
            k = u8(&r, "the new tuple marker");
        }
        if (k != 'N' && !r.rc)
            r.rc = TARN_ERR(err, TARN_EINVAL,
                            "pgoutput update: expected 'N' (or 'K'/'O' then 'N') at byte %zu",
                            r.off - 1);
        tuple(&r, &out->newtup, a);
        check_width(&r, out->rel, &out->newtup);
        break;
    }
    case 'D': {
        out->rel = known_rel(&r, rels, u32(&r, "the relation id"));
        uint8_t k = u8(&r, "the old tuple marker");
        if (k != 'K' && k != 'O' && !r.rc)
            r.rc = TARN_ERR(err, TARN_EINVAL, "pgoutput delete: expected 'K' or 'O' at byte 5");
        out->old_kind = (char)k;
        tuple(&r, &out->old, a);
        check_width(&r, out->rel, &out->old);
        break;
    }
    case 'T': {
        uint32_t nrels = u32(&r, "the relation count");
        out->truncate_options = u8(&r, "the options");
        if (!r.rc && nrels > (n - r.off) / 4)
            r.rc = TARN_ERR(err, TARN_EINVAL, "pgoutput truncate: %" PRIu32
                            " relations announced, the message holds fewer", nrels);
        out->nrels = (int)nrels;
        out->rels = r.rc ? NULL : arena_alloc(a, (nrels ? nrels : 1) * sizeof *out->rels);
        if (!r.rc && !out->rels)
            r.rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < nrels && !r.rc; i++)
            out->rels[i] = known_rel(&r, rels, u32(&r, "a relation id"));
        break;
    }
    case 'M':
        out->transactional = u8(&r, "the flags") & 1;
        out->commit_lsn = u64(&r, "the message LSN");
        out->name = dup_str(&r, a, "the prefix");
        out->content_len = u32(&r, "the content length");
        if (need(&r, out->content_len, "the content")) {
            char *c = arena_alloc(a, out->content_len + 1);
            if (c)
                memcpy(c, p + r.off, out->content_len);
            out->content = c;
            r.off += out->content_len;
        }
        break;
    default:
        return TARN_ERR(err, TARN_EINVAL,
                        "pgoutput message: unknown type 0x%02x (protocol version 1 has B, C, O,"
                        " R, Y, I, U, D, T and M)",
                        p[0]);
    }
    if (!r.rc && r.off != n)
        r.rc = TARN_ERR(err, TARN_EINVAL, "pgoutput message %c: %zu bytes left over after byte %zu",
                        p[0], n - r.off, r.off);
    return r.rc;
}

void pgoutput_lsn_format(char *out, size_t cap, uint64_t lsn)
{
    snprintf(out, cap, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

bool pgoutput_lsn_parse(const char *s, uint64_t *lsn)
{
    uint32_t hi, lo;
    int end = 0;
    if (sscanf(s, "%" SCNx32 "/%" SCNx32 "%n", &hi, &lo, &end) != 2 || s[end] || s[0] == '-')
        return false;
    *lsn = (uint64_t)hi << 32 | lo;
    return true;
}
