/* libFuzzer target: what the PostgreSQL edge parses from a client on arbitrary bytes —
 * message framing and field reads, statement splitting and classification, SET / SHOW /
 * COPY / DECLARE / FETCH / CLOSE parsing, parameter values in text and binary for every
 * type (arrays too: text literals and binary arrays), setting values as PostgreSQL
 * normalises them, parameter casts, and text-to-binary conversion of result values —
 * plus a SCRAM exchange and the GRANT / REVOKE statement parser. */
#include "consume/pgwire/pgsetting.h"
#include "consume/pgwire/pgtype.h"
#include "govern/grants_sql.h"
#include "govern/scram.h"
#include "consume/pgwire/pgmsg.h"
#include "consume/pgwire/pgsql.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t oids[] = {0,    16,   17,   19,   20,   21,   23,   25,
                                26,   114,  700,  701,  705,  1042, 1043, 1082,
                                1083, 1114, 1184, 1186, 1266, 1700, 2950, 99999,
                                1000, 1001, 1005, 1007, 1009, 1016, 1022, 1182,
                                1185, 1231, 2951, 199};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    tarn_err_t err = {0};
    arena_t *a = arena_create();
    for (int startup = 0; startup < 2; startup++) {
        pgmsg_t m;
        size_t off = 0;
        ssize_t n;
        while ((n = pgmsg_frame(s + off, size - off, startup, &m, &err)) > 0) {
            pgmsg_reader_t r;
            pgmsg_reader_init(&r, &m);
            pgmsg_get_str(&r);
            pgmsg_get_i16(&r);
            pgmsg_get_bytes(&r, (size_t)(uint16_t)pgmsg_get_i32(&r));
            pgmsg_get_u8(&r);
            off += (size_t)n;
        }
    }
    pgsql_stmt_t *stmts = NULL;
    size_t nstmts = 0;
    tarn_err_t split_err = {0};
    pgsql_split(s, &stmts, &nstmts, &split_err);
    for (size_t i = 0; i < nstmts; i++) {
        const char *stmt = stmts[i].sql;
        size_t len = stmts[i].len;
        const char *name, *value, *query;
        pgsql_copy_t c;
        long count;
        bool binary;
        pgsql_classify(stmt, len);
        pgsql_parse_set(stmt, len, &name, &value, a, &err);
        pgsql_parse_show(stmt, len, &name, a, &err);
        pgsql_parse_copy(stmt, len, &c, a, &err);
        pgsql_parse_declare(stmt, len, &name, &query, &binary, a, &err);
        pgsql_parse_fetch(stmt, len, &name, &count, a, &err);
        pgsql_parse_close(stmt, len, &name, a, &err);
        int np = pgsql_count_params(stmt, len);
        uint32_t casts[8];
        pgsql_param_casts(stmt, len, casts, np < 8 ? np : 8);
    }
    free(stmts);
    for (size_t i = 0; i < sizeof oids / sizeof *oids; i++) {
        buf_t b = BUF_INIT;
        pgtype_text_to_binary(oids[i], s, size, &b, &err);
        buf_free(&b);
        for (int fmt = 0; fmt < 2; fmt++) {
            json_t *v = NULL;
            if (!pgtype_param_to_json(oids[i], fmt, s, size, &v, &err))
                json_decref(v);
        }
    }
    pgtype_of(s);
    pgtype_param_oid(s);
    static const char *const settings[] = {"client_encoding", "datestyle", "intervalstyle",
                                           "standard_conforming_strings", "application_name"};
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++) {
        char norm[64];
        pgsetting_normalize(settings[i], s, "ISO, MDY", norm, sizeof norm, &err);
    }
    grant_statement_t gs;
    if (!grants_parse(s, &gs, &err))
        grants_statement_free(&gs);
    scram_t sc;
    buf_t out = BUF_INIT;
    if (!scram_start(&sc,
                     "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
                     "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                     "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
                     s, size, NULL, &out, &err)) {
        buf_reset(&out);
        scram_finish(&sc, s, size, &out, &err);
        scram_done(&sc);
    }
    buf_free(&out);
    arena_free(a);
    free(s);
    return 0;
}
