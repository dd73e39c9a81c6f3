/* Setting values as PostgreSQL normalises them before it applies a SET or a startup
 * parameter: encoding names with case and everything but letters and digits ignored
 * ('utf-8', UNICODE, "Utf8" are UTF8), DateStyle's list of words ("iso,dmy" is "ISO,
 * DMY"), enumerations without case, booleans in any of their spellings (on, true, yes,
 * 1 are "on"). Pure functions: no session state. */
#ifndef TARN_CONSUME_PGWIRE_PGSETTING_H
#define TARN_CONSUME_PGWIRE_PGSETTING_H

#include "util/err.h"

#include <stddef.h>

/* PostgreSQL's name of the encoding called name ("UTF8", "LATIN1", "SQL_ASCII"), or NULL
 * when PostgreSQL knows no encoding by that name. */
const char *pgsetting_encoding(const char *name);

/* Normalises value (not NULL, not DEFAULT) of setting name (lowercase) into out (size
 * n); current is the setting's present value (DateStyle keeps what a new value leaves
 * out). A value PostgreSQL would refuse is TARN_EINVAL with reason InvalidParameterValue
 * and PostgreSQL's message ('invalid value for parameter "client_encoding": "foo"'), as
 * is a value PostgreSQL takes but tarn cannot honour (an encoding other than UTF-8 or
 * SQL_ASCII, a DateStyle other than ISO), saying why. Settings with no rule are copied
 * as they are (one pair of single quotes removed). */
int pgsetting_normalize(const char *name, const char *value, const char *current, char *out,
                        size_t n, tarn_err_t *err);

#endif
