/* libFuzzer target: the S3 request-body XML parser (DeleteObjects' <Delete>,
 * CompleteMultipartUpload's document) on arbitrary bytes, with a callback that checks what
 * it is told (paths under the root, starts and ends balanced, text only at an end) and
 * stops the parse at an input-chosen element; and every text that XML can carry, written
 * with s3_xml_elem, reads back unchanged. */
#include "server/errors.h"
#include "server/s3/s3_xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* s3_xml.c also answers errors, which the parser never does: nothing here calls these. */
const char *errors_describe(req_t *r, int code, err_map_t *m)
{
    (void)r, (void)code, (void)m;
    abort();
}
void req_respond_bytes(req_t *r, int status, const char *content_type, const void *p, size_t n)
{
    (void)r, (void)status, (void)content_type, (void)p, (void)n;
    abort();
}
void req_respond_buf(req_t *r, int status, const char *content_type, buf_t *b)
{
    (void)r, (void)status, (void)content_type, (void)b;
    abort();
}

typedef struct {
    const char *root;
    size_t depth, calls, stop_at;
    int set_err; /* a stopping callback records its own error (as handlers do) */
    tarn_err_t *err;
    const char *want; /* the roundtrip: the text the Key element must carry */
    int seen;
} check_t;

static size_t depth_of(const char *path)
{
    size_t d = 1;
    for (; *path; path++)
        d += *path == '/';
    return d;
}

static int on_elem(void *ctx, const char *path, const char *text)
{
    check_t *c = ctx;
    size_t n = strlen(c->root);
    if (strncmp(path, c->root, n) || (path[n] && path[n] != '/'))
        abort(); /* every path starts at the root */
    if (!text) {
        if (depth_of(path) != ++c->depth)
            abort();
    } else {
        if (depth_of(path) != c->depth--)
            abort();
        if (c->want && !strcmp(path, "Delete/Object/Key")) {
            if (strcmp(text, c->want))
                abort(); /* what s3_xml_elem wrote is what the parser reads */
            c->seen = 1;
        }
    }
    if (++c->calls == c->stop_at)
        return c->set_err ? TARN_ERR_R(c->err, TARN_EINVAL, MalformedXML, "stopped") : 1;
    return 0;
}

/* Whether s is text XML 1.0 can carry: UTF-8 of Char (no C0 controls but tab, newline and
 * carriage return, no surrogates, no U+FFFE/FFFF). */
static int xml_text(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        if (!len || i + len > n)
            return 0;
        uint32_t cp = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE ||
            cp == 0xFFFF || (cp < 0x20 && cp != 0x9 && cp != 0xA && cp != 0xD))
            return 0;
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const roots[] = {"Delete", "CompleteMultipartUpload"};
    tarn_err_t err = {0};
    check_t c = {
        .root = roots[data[0] & 1], .stop_at = data[0] >> 2, .set_err = data[0] & 2, .err = &err};
    const char *body = (const char *)data + 1;
    int rc = s3_xml_parse(body, size - 1, c.root, on_elem, &c, &err);
    if (!rc && (c.depth || !c.calls))
        abort(); /* a whole document: the root opened and everything closed */
    if (rc && (err.code != rc || err.reason != TARN_R_MalformedXML))
        abort();

    if (!memchr(body, '\0', size - 1) && xml_text((const unsigned char *)body, size - 1)) {
        char *text = malloc(size);
        memcpy(text, body, size - 1);
        text[size - 1] = '\0';
        buf_t doc = BUF_INIT;
        buf_puts(&doc, S3_XML_HEAD "<Delete xmlns=\"" S3_XMLNS "\"><Object>");
        s3_xml_elem(&doc, "Key", text);
        buf_puts(&doc, "</Object></Delete>");
        check_t rt = {.root = "Delete", .want = text, .err = &err};
        if (s3_xml_parse(doc.data, doc.len, "Delete", on_elem, &rt, &err) || !rt.seen)
            abort();
        buf_free(&doc);
        free(text);
    }
    return 0;
}
