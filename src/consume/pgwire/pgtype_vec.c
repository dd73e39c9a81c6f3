/* PostgreSQL's binary format of the engine's typed values (binary result columns),
 * apart from pgtype.c so that the protocol's parsing needs no engine; see pgtype.h. */
#include "consume/pgwire/pgtype.h"
#include "consume/rowenc.h"

#include <stdbool.h>
#include <string.h>

int pgtype_vec_to_binary(const engine_vec_t *v, size_t i, buf_t *out, tarn_err_t *err)
{
    const void *x = v->values;
    switch (v->kind) {
    case ENGINE_KIND_BOOL:
        buf_putc(out, ((const bool *)x)[i] ? 1 : 0);
        return 0;
    case ENGINE_KIND_I8:
        pgtype_put_be(out, (uint64_t)((const int8_t *)x)[i], 2);
        return 0;
    case ENGINE_KIND_U8:
        pgtype_put_be(out, ((const uint8_t *)x)[i], 2);
        return 0;
    case ENGINE_KIND_I16:
        pgtype_put_be(out, (uint64_t)((const int16_t *)x)[i], 2);
        return 0;
    case ENGINE_KIND_U16:
        pgtype_put_be(out, ((const uint16_t *)x)[i], 4);
        return 0;
    case ENGINE_KIND_I32:
        pgtype_put_be(out, (uint64_t)((const int32_t *)x)[i], 4);
        return 0;
    case ENGINE_KIND_U32:
        pgtype_put_be(out, ((const uint32_t *)x)[i], 8);
        return 0;
    case ENGINE_KIND_I64:
        pgtype_put_be(out, (uint64_t)((const int64_t *)x)[i], 8);
        return 0;
    case ENGINE_KIND_F64: {
        uint64_t bits;
        memcpy(&bits, (const double *)x + i, 8);
        pgtype_put_be(out, bits, 8);
        return 0;
    }
    case ENGINE_KIND_TEXT:
    case ENGINE_KIND_BLOB: {
        size_t n;
        const char *s = engine_vec_text(v, i, &n);
        return buf_append(out, s, n) ? TARN_ERR(err, TARN_ENOMEM, "out of memory") : 0;
    }
    case ENGINE_KIND_DATE: {
        /* Both count days; PostgreSQL from 2000 and with INT32_MIN for -infinity. */
        int32_t d = ((const int32_t *)x)[i];
        int64_t pg = d == INT32_MAX    ? INT32_MAX
                     : d == -INT32_MAX ? INT32_MIN
                                       : (int64_t)d - PGTYPE_EPOCH_DAYS;
        pgtype_put_be(out, (uint64_t)pg, 4);
        return 0;
    }
    case ENGINE_KIND_TIME:
        pgtype_put_be(out, (uint64_t)((const int64_t *)x)[i], 8);
        return 0;
    case ENGINE_KIND_TIMESTAMP: {
        int64_t t = ((const int64_t *)x)[i];
        int64_t pg = t == INT64_MAX    ? INT64_MAX
                     : t == -INT64_MAX ? INT64_MIN
                                       : t - (int64_t)PGTYPE_EPOCH_DAYS * 86400000000;
        pgtype_put_be(out, (uint64_t)pg, 8);
        return 0;
    }
    case ENGINE_KIND_UUID: {
        const engine_i128_t *u = (const engine_i128_t *)x + i;
        pgtype_put_be(out, (uint64_t)u->hi ^ (UINT64_C(1) << 63), 8);
        pgtype_put_be(out, u->lo, 8);
        return 0;
    }
    case ENGINE_KIND_U64:
    case ENGINE_KIND_I128:
    case ENGINE_KIND_U128:
    case ENGINE_KIND_DEC16:
    case ENGINE_KIND_DEC32:
    case ENGINE_KIND_DEC64:
    case ENGINE_KIND_DEC128: {
        /* numeric: its base-10,000 digits come from the decimal digits. */
        buf_t digits = BUF_INIT;
        int rc = rowenc_put_value(&digits, v, i, ROWENC_PG);
        rc = rc ? TARN_ERR(err, TARN_ENOMEM, "out of memory")
                : pgtype_text_to_binary(PGTYPE_NUMERIC, digits.data, digits.len, out, err);
        buf_free(&digits);
        return rc;
    }
    default:
        return TARN_ERR_R(err, TARN_EINVAL, FeatureNotSupported,
                          "a column of this type has no binary format here");
    }
}
