/* The classifier table and the engine queries that infer schemas; see classify.h. */
#include "catalog/classify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* How much of a file the match functions see, after decompression. */
#define HEAD_BYTES 65536
/* Rows the engine's readers sample to infer types. Partition folders are the catalog's to
 * interpret, so the readers are told not to turn them into columns. */
#define SAMPLE_ROWS 20480

typedef struct {
    const char *path;     /* SQL literal of the file's path */
    const char *compression; /* "none", "gzip", "zstd" */
    const char *encoding; /* "utf-8", "latin-1", "utf-16" */
} infer_ctx_t;

typedef struct {
    const char *name;
    bool binary;          /* matched on the raw bytes, never inside a compressed file */
    bool (*match)(const uint8_t *p, size_t n);
    int (*infer)(classify_result_t *out, engine_conn_t *c, const infer_ctx_t *x, arena_t *a,
                 tarn_err_t *err);
} classifier_t;

/* ---- match functions ---- */

static size_t skip_bom_ws(const uint8_t *p, size_t n)
{
    size_t i = n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF ? 3 : 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

static bool match_parquet(const uint8_t *p, size_t n)
{
    return n >= 4 && !memcmp(p, "PAR1", 4);
}

static bool is_text(const uint8_t *p, size_t n);

static bool match_json_array(const uint8_t *p, size_t n)
{
    if (!is_text(p, n))
        return false;
    size_t i = skip_bom_ws(p, n);
    return i < n && p[i] == '[';
}

static bool match_jsonl(const uint8_t *p, size_t n)
{
    if (!is_text(p, n))
        return false;
    size_t i = skip_bom_ws(p, n);
    return i < n && p[i] == '{';
}

static bool is_utf16(const uint8_t *p, size_t n)
{
    return n >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF));
}

/* Text: no NUL bytes (UTF-16 text starts with its byte order mark). */
static bool is_text(const uint8_t *p, size_t n)
{
    return is_utf16(p, n) || !memchr(p, 0, n);
}

static bool match_tsv(const uint8_t *p, size_t n)
{
    if (!is_text(p, n) || is_utf16(p, n))
        return false;
    size_t tabs = 0, commas = 0;
    for (size_t i = 0; i < n && p[i] != '\n'; i++) {
        tabs += p[i] == '\t';
        commas += p[i] == ',';
    }
    return tabs > 0 && tabs >= commas;
}

static bool match_csv(const uint8_t *p, size_t n)
{
    return is_text(p, n);
}

/* ---- infer functions ---- */

static int columns_from_describe(schema_t *s, const engine_rows_t *r, tarn_err_t *err)
{
    if (r->nrows > SCHEMA_MAX_COLUMNS)
        return TARN_ERR(err, TARN_EINVAL, "%zu columns; a table holds at most %d", r->nrows,
                        SCHEMA_MAX_COLUMNS);
    for (size_t i = 0; i < r->nrows; i++) {
        const char *name = r->cells[i * r->ncols], *type = r->cells[i * r->ncols + 1];
        if (!name || !type)
            continue;
        if (schema_find(s, name) >= 0)
            return TARN_ERR(err, TARN_EINVAL, "column %s appears twice", name);
        if (schema_add(s, name, type, true, 0))
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    if (!s->n)
        return TARN_ERR(err, TARN_EINVAL, "no columns found");
    return 0;
}

static int infer_parquet(classify_result_t *out, engine_conn_t *c, const infer_ctx_t *x,
                         arena_t *a, tarn_err_t *err)
{
    engine_rows_t r;
    char *sql = arena_sprintf(a, "DESCRIBE SELECT * FROM read_parquet(%s, hive_partitioning=false)", x->path);
    int rc = sql ? engine_query(c, sql, SCHEMA_MAX_COLUMNS + 1, &r, a, err)
                 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc || (rc = columns_from_describe(&out->schema, &r, err)))
        return rc;
    sql = arena_sprintf(a, "SELECT num_rows FROM parquet_file_metadata(%s)", x->path);
    if (!sql)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (!(rc = engine_query(c, sql, 1, &r, a, err)) && r.nrows && r.cells[0])
        out->rows = strtoll(r.cells[0], NULL, 10);
    out->options = json_pack("{s:s}", "compression", "none");
    return rc;
}

static int infer_json(classify_result_t *out, engine_conn_t *c, const infer_ctx_t *x,
                      const char *layout, arena_t *a, tarn_err_t *err)
{
    engine_rows_t r;
    char *sql = arena_sprintf(a,
                              "DESCRIBE SELECT * FROM read_json(%s, format='%s', "
                              "compression='%s', sample_size=%d, hive_partitioning=false)",
                              x->path, layout,
                              /* the JSON reader spells "none" differently */
                              strcmp(x->compression, "none") ? x->compression : "uncompressed",
                              SAMPLE_ROWS);
    int rc = sql ? engine_query(c, sql, SCHEMA_MAX_COLUMNS + 1, &r, a, err)
                 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc || (rc = columns_from_describe(&out->schema, &r, err)))
        return rc;
    out->options = json_pack("{s:s, s:s}", "compression", x->compression, "layout", layout);
    return 0;
}

/* An object first is JSON Lines, or else one JSON document spread over lines (GeoJSON,
 * API dumps), which the JSON reader takes as "unstructured". */
static int infer_jsonl(classify_result_t *out, engine_conn_t *c, const infer_ctx_t *x,
                       arena_t *a, tarn_err_t *err)
{
    int rc = infer_json(out, c, x, "newline_delimited", a, err);
    if (rc != TARN_EINVAL)
        return rc;
    tarn_err_t second = {0};
    schema_free(&out->schema);
    if (infer_json(out, c, x, "unstructured", a, &second))
        return rc; /* the JSON Lines reason says more about a broken file */
    out->format = "json";
    return 0;
}

static int infer_json_array(classify_result_t *out, engine_conn_t *c, const infer_ctx_t *x,
                            arena_t *a, tarn_err_t *err)
{
    return infer_json(out, c, x, "array", a, err);
}

static int infer_delimited(classify_result_t *out, engine_conn_t *c, const infer_ctx_t *x,
                           const char *delim, arena_t *a, tarn_err_t *err)
{
    engine_rows_t r;
    char *sql = arena_sprintf(a,
                              "SELECT Delimiter, Quote, Escape, HasHeader, SkipRows, "
                              "to_json(Columns)::VARCHAR, DateFormat, TimestampFormat"
                              " FROM sniff_csv(%s, compression='%s', "
                              "encoding='%s', sample_size=%d%s)",
                              x->path, x->compression, x->encoding, SAMPLE_ROWS,
                              delim ? ", delim=E'\\t'" : "");
    int rc = sql ? engine_query(c, sql, 1, &r, a, err)
                 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
    if (rc)
        return rc;
    if (r.nrows != 1 || r.ncols != 8 || !r.cells[5])
        return TARN_ERR(err, TARN_EINVAL, "the CSV sniffer found no dialect");
    json_error_t je;
    json_t *cols = json_loads(r.cells[5], 0, &je);
    size_t n = json_array_size(cols);
    if (n > SCHEMA_MAX_COLUMNS)
        rc = TARN_ERR(err, TARN_EINVAL, "%zu columns; a table holds at most %d", n,
                      SCHEMA_MAX_COLUMNS);
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *col = json_array_get(cols, i);
        const char *name = json_string_value(json_object_get(col, "name"));
        const char *type = json_string_value(json_object_get(col, "type"));
        if (!name || !type)
            rc = TARN_ERR(err, TARN_EINVAL, "the CSV sniffer returned a column without a type");
        else if (schema_find(&out->schema, name) >= 0)
            rc = TARN_ERR(err, TARN_EINVAL, "column %s appears twice in the header", name);
        else if (schema_add(&out->schema, name, type, true, 0))
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    json_decref(cols);
    if (rc)
        return rc;
    if (!out->schema.n)
        return TARN_ERR(err, TARN_EINVAL, "no columns found");
    /* The sniffer spells "no quote" and "no escape" as "(empty)". */
    for (int i = 1; i <= 2; i++)
        if (!r.cells[i] || !strcmp(r.cells[i], "(empty)"))
            r.cells[i] = "";
    out->options = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:s}", "compression",
                             x->compression, "delimiter", r.cells[0] ? r.cells[0] : ",", "quote",
                             r.cells[1], "escape", r.cells[2],
                             "header", r.cells[3] && !strcmp(r.cells[3], "true"), "skip",
                             (json_int_t)(r.cells[4] ? strtoll(r.cells[4], NULL, 10) : 0),
                             "encoding", x->encoding);
    /* The formats the sniffer read dates and timestamps with (empty: ISO 8601), so a
     * reader given these types and formats needs no sniffing of its own. */
    if (out->options) {
        json_object_set_new(out->options, "dateformat", json_string(r.cells[6] ? r.cells[6] : ""));
        json_object_set_new(out->options, "timestampformat",
                            json_string(r.cells[7] ? r.cells[7] : ""));
    }
    return out->options ? 0 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
}

static int infer_tsv(classify_result_t *out, engine_conn_t *c, const infer_ctx_t *x, arena_t *a,
                     tarn_err_t *err)
{
    return infer_delimited(out, c, x, "\t", a, err);
}

static int infer_csv(classify_result_t *out, engine_conn_t *c, const infer_ctx_t *x, arena_t *a,
                     tarn_err_t *err)
{
    return infer_delimited(out, c, x, NULL, a, err);
}

/* Priority order: magic bytes first, then the text layouts from most to least specific. */
static const classifier_t classifiers[] = {
    {"parquet", true, match_parquet, infer_parquet},
    {"json", false, match_json_array, infer_json_array},
    {"jsonl", false, match_jsonl, infer_jsonl},
    {"tsv", false, match_tsv, infer_tsv},
    {"csv", false, match_csv, infer_csv},
};
#define NCLASSIFIERS (sizeof classifiers / sizeof *classifiers)

static const classifier_t *find_classifier(const uint8_t *p, size_t n, bool compressed)
{
    for (size_t i = 0; i < NCLASSIFIERS; i++)
        if ((!compressed || !classifiers[i].binary) && classifiers[i].match(p, n))
            return &classifiers[i];
    return NULL;
}

const char *classify_match(const uint8_t *head, size_t n, const char **why)
{
    const classifier_t *c = n ? find_classifier(head, n, false) : NULL;
    if (!c && why)
        *why = n ? "binary content: not CSV, TSV, JSON, JSON Lines or Parquet" : "empty file";
    return c ? c->name : NULL;
}

/* ---- reading the head ---- */

/* Decompresses up to cap bytes of a gzip stream; a truncated head is fine. */
static size_t gunzip_head(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    z_stream z = {0};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return 0;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int r = inflate(&z, Z_SYNC_FLUSH);
    size_t got = (r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR) ? cap - z.avail_out : 0;
    inflateEnd(&z);
    return got;
}

static size_t unzstd_head(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    ZSTD_DStream *d = ZSTD_createDStream();
    if (!d)
        return 0;
    ZSTD_inBuffer ib = {in, n, 0};
    ZSTD_outBuffer ob = {out, cap, 0};
    while (ib.pos < ib.size && ob.pos < ob.size)
        if (ZSTD_isError(ZSTD_decompressStream(d, &ob, &ib)))
            break;
    ZSTD_freeDStream(d);
    return ob.pos;
}

static bool valid_utf8(const uint8_t *p, size_t n, bool truncated)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len)
            return false;
        if (i + len > n)
            return truncated; /* a character cut by the end of the head */
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

int classify_file(classify_result_t *out, engine_conn_t *c, const char *path, arena_t *a,
                  tarn_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->rows = -1;
    if (strpbrk(path, "*?[{"))
        return TARN_ERR(err, TARN_EINVAL,
                        "the key contains a glob character (* ? [ {), which SQL readers take as "
                        "a pattern; rename the object");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TARN_ERR(err, errno == ENOENT ? TARN_ENOTFOUND : TARN_EIO, "open: %s",
                        strerror(errno));
    struct stat st = {0};
    uint8_t *raw = malloc(HEAD_BYTES), *plain = NULL;
    ssize_t got = raw && !fstat(fd, &st) ? pread(fd, raw, HEAD_BYTES, 0) : -1;
    uint8_t tail[4] = {0};
    bool tail_ok = st.st_size >= 12 && pread(fd, tail, 4, st.st_size - 4) == 4 &&
                   !memcmp(tail, "PAR1", 4);
    close(fd);
    int rc = 0;
    if (got < 0) {
        rc = raw ? TARN_ERR(err, TARN_EIO, "read: %s", strerror(errno))
                 : TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    if (got == 0) {
        rc = TARN_ERR(err, TARN_EINVAL, "empty file");
        goto done;
    }
    const uint8_t *head = raw;
    size_t n = (size_t)got;
    infer_ctx_t x = {.compression = "none", .encoding = "utf-8"};
    if (n >= 2 && raw[0] == 0x1f && raw[1] == 0x8b)
        x.compression = "gzip";
    else if (n >= 4 && !memcmp(raw, "\x28\xb5\x2f\xfd", 4))
        x.compression = "zstd";
    bool compressed = strcmp(x.compression, "none") != 0;
    if (compressed) {
        if (!(plain = malloc(HEAD_BYTES))) {
            rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
            goto done;
        }
        n = !strcmp(x.compression, "gzip") ? gunzip_head(raw, n, plain, HEAD_BYTES)
                                           : unzstd_head(raw, n, plain, HEAD_BYTES);
        head = plain;
        if (!n) {
            rc = TARN_ERR(err, TARN_EINVAL, "%s data that does not decompress (or is empty)",
                          x.compression);
            goto done;
        }
    }
    const classifier_t *cl = find_classifier(head, n, compressed);
    if (!cl) {
        const void *nul = memchr(head, 0, n);
        rc = TARN_ERR(err, TARN_EINVAL,
                      "not a recognized format (CSV, TSV, JSON, JSON Lines or Parquet): binary "
                      "content (a NUL byte at offset %zu)",
                      nul ? (size_t)((const uint8_t *)nul - head) : (size_t)0);
        goto done;
    }
    if (cl->binary && !tail_ok) {
        rc = TARN_ERR(err, TARN_EINVAL, "starts like Parquet but has no Parquet footer "
                                        "(truncated or not Parquet)");
        goto done;
    }
    if (!cl->binary) {
        if (is_utf16(head, n))
            x.encoding = "utf-16";
        else if (!valid_utf8(head, n, n == HEAD_BYTES || compressed))
            x.encoding = "latin-1";
    }
    if (!(x.path = engine_quote(a, path))) {
        rc = TARN_ERR(err, TARN_ENOMEM, "out of memory");
        goto done;
    }
    out->format = cl->name;
    rc = cl->infer(out, c, &x, a, err);
    if (rc == TARN_EINVAL) {
        /* Name the format the file looked like, so the reason reads on its own. */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        TARN_ERR(err, TARN_EINVAL, "looks like %s%s%s but does not read as one: %s", cl->name,
                 compressed ? " inside " : "", compressed ? x.compression : "", msg);
    }
done:
    free(raw);
    free(plain);
    return rc;
}

void classify_result_free(classify_result_t *r)
{
    json_decref(r->options);
    schema_free(&r->schema);
    memset(r, 0, sizeof *r);
}
