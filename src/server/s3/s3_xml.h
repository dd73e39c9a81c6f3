/* XML for the S3 API: error documents, and a small event parser (over expat) for the
 * request bodies S3 defines (Delete, CompleteMultipartUpload). */
#ifndef TARN_SERVER_S3_S3_XML_H
#define TARN_SERVER_S3_S3_XML_H

#include "server/req.h"
#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>

#define S3_XML_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

/* Called at each element start (text NULL) and end (text = its character data). path is
 * the element's path from the root, e.g. "Delete/Object/Key". Return non-zero to stop. */
typedef int (*s3_xml_cb)(void *ctx, const char *path, const char *text);
/* Parses body; the root element must be `root`. Errors: TARN_EINVAL reason MalformedXML
 * with the parser's message and position. */
int s3_xml_parse(const char *body, size_t n, const char *root, s3_xml_cb cb, void *ctx,
                 tarn_err_t *err);
/* Appends <name>escaped text</name>. */
void s3_xml_elem(buf_t *b, const char *name, const char *text);
void s3_xml_elem_u64(buf_t *b, const char *name, unsigned long long v);
/* Responds with the S3 error document (or, to HEAD, the bare status) for code and r->err. */
int s3_xml_error(req_t *r, int code);

#endif
