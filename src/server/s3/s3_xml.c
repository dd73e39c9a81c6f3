/* S3 XML documents: errors and request-body parsing; see s3_xml.h. */
#include "server/errors.h"
#include "server/s3/s3_xml.h"

#include <expat.h>
#include <stdio.h>
#include <string.h>

void s3_xml_elem(buf_t *b, const char *name, const char *text)
{
    buf_printf(b, "<%s>", name);
    buf_put_xml(b, text ? text : "");
    buf_printf(b, "</%s>", name);
}

void s3_xml_elem_u64(buf_t *b, const char *name, unsigned long long v)
{
    buf_printf(b, "<%s>%llu</%s>", name, v, name);
}

int s3_xml_error(req_t *r, int code)
{
    err_map_t m;
    const char *msg = errors_describe(r, code, &m);
    if (!strcmp(r->method, "HEAD") || m.status == 304) {
        req_respond_bytes(r, m.status, NULL, "", 0);
        return 0;
    }
    buf_t b = BUF_INIT;
    buf_puts(&b, S3_XML_HEAD "<Error>");
    s3_xml_elem(&b, "Code", m.code);
    s3_xml_elem(&b, "Message", msg);
    if (r->key)
        s3_xml_elem(&b, "Key", r->key);
    if (r->bucket)
        s3_xml_elem(&b, "BucketName", r->bucket);
    s3_xml_elem(&b, "Resource", r->path ? r->path : r->raw_path);
    s3_xml_elem(&b, "RequestId", r->id);
    buf_puts(&b, "</Error>");
    req_respond_buf(r, m.status, "application/xml", &b);
    return 0;
}

typedef struct {
    XML_Parser p;
    const char *root;
    s3_xml_cb cb;
    void *ctx;
    buf_t path;
    buf_t text;
    size_t depth;
    int stopped;
    int bad_root;
} parse_t;

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    parse_t *ps = ud;
    if (ps->stopped || ps->bad_root)
        return;
    /* Namespaced names arrive as "uri|local" (see XML_ParserCreateNS); keep the local part. */
    const char *local = strrchr(name, '|');
    local = local ? local + 1 : name;
    if (ps->depth == 0 && strcmp(local, ps->root)) {
        ps->bad_root = 1;
        XML_StopParser(ps->p, XML_FALSE);
        return;
    }
    if (ps->depth)
        buf_putc(&ps->path, '/');
    buf_puts(&ps->path, local);
    ps->depth++;
    buf_reset(&ps->text);
    if (ps->cb(ps->ctx, ps->path.data, NULL)) {
        ps->stopped = 1;
        XML_StopParser(ps->p, XML_FALSE);
    }
}

static void on_end(void *ud, const XML_Char *name)
{
    (void)name;
    parse_t *ps = ud;
    /* After XML_StopParser expat may still report the end of an empty element
     * ("<Wrong/>"): nothing of a stopped parse reaches the callback. */
    if (ps->stopped || ps->bad_root || ps->depth == 0)
        return;
    if (ps->cb(ps->ctx, ps->path.data, ps->text.data ? ps->text.data : "")) {
        ps->stopped = 1;
        XML_StopParser(ps->p, XML_FALSE);
        return;
    }
    buf_reset(&ps->text);
    char *slash = strrchr(ps->path.data, '/');
    if (slash) {
        ps->path.len = (size_t)(slash - ps->path.data);
        *slash = '\0';
    } else {
        buf_reset(&ps->path);
    }
    ps->depth--;
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    parse_t *ps = ud;
    if (ps->stopped || ps->bad_root)
        return;
    buf_append(&ps->text, s, (size_t)len);
}

int s3_xml_parse(const char *body, size_t n, const char *root, s3_xml_cb cb, void *ctx,
                 tarn_err_t *err)
{
    parse_t ps = {.root = root, .cb = cb, .ctx = ctx};
    ps.p = XML_ParserCreateNS("UTF-8", '|');
    if (!ps.p)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    XML_SetUserData(ps.p, &ps);
    XML_SetElementHandler(ps.p, on_start, on_end);
    XML_SetCharacterDataHandler(ps.p, on_text);
    int rc = 0;
    if (n == 0) {
        rc = TARN_ERR_R(err, TARN_EINVAL, MalformedXML,
                        "the XML you provided was empty; expected a <%s> document", root);
    } else if (XML_Parse(ps.p, body, (int)n, XML_TRUE) != XML_STATUS_OK) {
        if (ps.bad_root)
            rc = TARN_ERR_R(err, TARN_EINVAL, MalformedXML,
                            "the XML you provided does not have <%s> as its root element", root);
        else if (ps.stopped)
            rc = err && err->code ? err->code
                                  : TARN_ERR_R(err, TARN_EINVAL, MalformedXML, "invalid document");
        else
            rc = TARN_ERR_R(err, TARN_EINVAL, MalformedXML,
                            "the XML you provided was not well-formed: %s at line %lu, column %lu",
                            XML_ErrorString(XML_GetErrorCode(ps.p)),
                            (unsigned long)XML_GetCurrentLineNumber(ps.p),
                            (unsigned long)XML_GetCurrentColumnNumber(ps.p));
    }
    XML_ParserFree(ps.p);
    buf_free(&ps.path);
    buf_free(&ps.text);
    return rc;
}
