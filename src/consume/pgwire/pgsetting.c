/* PostgreSQL's normalisation of setting values (see pgsetting.h): the encoding names of
 * its encnames.c, DateStyle's words as check_datestyle reads them, enumerations and
 * booleans as the GUC machinery parses them. */
#include "consume/pgwire/pgsetting.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Every name PostgreSQL knows an encoding by, in its reduced form (lowercase letters and
 * digits only), and the encoding's own name. */
static const char *const encodings[][2] = {
    {"abc", "WIN1258"},
    {"alt", "WIN866"},
    {"big5", "BIG5"},
    {"euccn", "EUC_CN"},
    {"eucjis2004", "EUC_JIS_2004"},
    {"eucjp", "EUC_JP"},
    {"euckr", "EUC_KR"},
    {"euctw", "EUC_TW"},
    {"gb18030", "GB18030"},
    {"gbk", "GBK"},
    {"iso88591", "LATIN1"},
    {"iso885910", "LATIN6"},
    {"iso885913", "LATIN7"},
    {"iso885914", "LATIN8"},
    {"iso885915", "LATIN9"},
    {"iso885916", "LATIN10"},
    {"iso88592", "LATIN2"},
    {"iso88593", "LATIN3"},
    {"iso88594", "LATIN4"},
    {"iso88595", "ISO_8859_5"},
    {"iso88596", "ISO_8859_6"},
    {"iso88597", "ISO_8859_7"},
    {"iso88598", "ISO_8859_8"},
    {"iso88599", "LATIN5"},
    {"johab", "JOHAB"},
    {"koi8", "KOI8R"},
    {"koi8r", "KOI8R"},
    {"koi8u", "KOI8U"},
    {"latin1", "LATIN1"},
    {"latin10", "LATIN10"},
    {"latin2", "LATIN2"},
    {"latin3", "LATIN3"},
    {"latin4", "LATIN4"},
    {"latin5", "LATIN5"},
    {"latin6", "LATIN6"},
    {"latin7", "LATIN7"},
    {"latin8", "LATIN8"},
    {"latin9", "LATIN9"},
    {"mskanji", "SJIS"},
    {"muleinternal", "MULE_INTERNAL"},
    {"shiftjis", "SJIS"},
    {"shiftjis2004", "SHIFT_JIS_2004"},
    {"sjis", "SJIS"},
    {"sqlascii", "SQL_ASCII"},
    {"tcvn", "WIN1258"},
    {"tcvn5712", "WIN1258"},
    {"uhc", "UHC"},
    {"unicode", "UTF8"},
    {"utf8", "UTF8"},
    {"vscii", "WIN1258"},
    {"win", "WIN1251"},
    {"win1250", "WIN1250"},
    {"win1251", "WIN1251"},
    {"win1252", "WIN1252"},
    {"win1253", "WIN1253"},
    {"win1254", "WIN1254"},
    {"win1255", "WIN1255"},
    {"win1256", "WIN1256"},
    {"win1257", "WIN1257"},
    {"win1258", "WIN1258"},
    {"win866", "WIN866"},
    {"win874", "WIN874"},
    {"win932", "SJIS"},
    {"win936", "GBK"},
    {"win949", "UHC"},
    {"win950", "BIG5"},
    {"windows1250", "WIN1250"},
    {"windows1251", "WIN1251"},
    {"windows1252", "WIN1252"},
    {"windows1253", "WIN1253"},
    {"windows1254", "WIN1254"},
    {"windows1255", "WIN1255"},
    {"windows1256", "WIN1256"},
    {"windows1257", "WIN1257"},
    {"windows1258", "WIN1258"},
    {"windows866", "WIN866"},
    {"windows874", "WIN874"},
    {"windows932", "SJIS"},
    {"windows936", "GBK"},
    {"windows949", "UHC"},
    {"windows950", "BIG5"},
};

const char *pgsetting_encoding(const char *name)
{
    char reduced[32];
    size_t n = 0;
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p))
            continue;
        if (n + 1 == sizeof reduced)
            return NULL;
        reduced[n++] = (char)tolower((unsigned char)*p);
    }
    reduced[n] = '\0';
    for (size_t i = 0; i < sizeof encodings / sizeof *encodings; i++)
        if (!strcmp(encodings[i][0], reduced))
            return encodings[i][1];
    return NULL;
}

static int invalid(tarn_err_t *err, const char *shown, const char *value)
{
    return TARN_ERR_R(err, TARN_EINVAL, InvalidParameterValue,
                      "invalid value for parameter \"%s\": \"%.200s\"", shown, value);
}

/* value without the one pair of single quotes a startup packet may carry, in out. */
static void unquote(const char *value, char *out, size_t n)
{
    size_t len = strlen(value);
    if (len >= 2 && value[0] == '\'' && value[len - 1] == '\'') {
        value++;
        len -= 2;
    }
    snprintf(out, n, "%.*s", (int)len, value);
}

/* DateStyle: an output style (ISO, SQL, Postgres, German) and a field order (DMY/Euro/
 * European, MDY/US/NonEuro/NonEuropean, YMD), in any order, either left as current has it. */
static int datestyle(const char *value, const char *current, char *out, size_t n,
                     tarn_err_t *err)
{
    char style[16] = "", order[8] = "", word[32];
    char cur_style[16] = "ISO", cur_order[8] = "MDY";
    if (current)
        sscanf(current, "%15[^,], %7s", cur_style, cur_order);
    const char *p = value;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p) || *p == '"')
            p++;
        size_t k = 0;
        while (*p && *p != ',' && !isspace((unsigned char)*p) && *p != '"') {
            if (k + 1 < sizeof word)
                word[k++] = *p;
            p++;
        }
        word[k] = '\0';
        if (!k)
            continue;
        const char *s = NULL, *o = NULL;
        if (!strcasecmp(word, "ISO"))
            s = "ISO";
        else if (!strcasecmp(word, "SQL"))
            s = "SQL";
        else if (!strncasecmp(word, "POSTGRES", 8))
            s = "Postgres";
        else if (!strcasecmp(word, "GERMAN"))
            s = "German";
        else if (!strcasecmp(word, "YMD"))
            o = "YMD";
        else if (!strcasecmp(word, "DMY") || !strncasecmp(word, "EURO", 4))
            o = "DMY";
        else if (!strcasecmp(word, "MDY") || !strcasecmp(word, "US") ||
                 !strncasecmp(word, "NONEURO", 7))
            o = "MDY";
        else if (!strcasecmp(word, "DEFAULT"))
            s = "ISO", o = "MDY";
        else
            return TARN_ERR_R(err, TARN_EINVAL, InvalidParameterValue,
                              "invalid value for parameter \"DateStyle\": \"%.200s\"", value);
        if ((s && *style && strcmp(style, s)) || (o && *order && strcmp(order, o)))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidParameterValue,
                              "invalid value for parameter \"DateStyle\": \"%.200s\" "
                              "(conflicting \"datestyle\" specifications)",
                              value);
        if (s)
            snprintf(style, sizeof style, "%s", s);
        if (o)
            snprintf(order, sizeof order, "%s", o);
    }
    if (!*style && !*order)
        return invalid(err, "DateStyle", value);
    if (*style && strcmp(style, "ISO"))
        return TARN_ERR_R(err, TARN_EINVAL, InvalidParameterValue,
                          "DateStyle must be ISO (dates are always written in ISO 8601)");
    /* German without an order means DMY, as PostgreSQL has it. */
    snprintf(out, n, "%s, %s", *style ? style : cur_style,
             *order ? order : !strcmp(style, "German") ? "DMY" : cur_order);
    return 0;
}

/* A boolean in any spelling PostgreSQL's parse_bool takes (a prefix of true, false, yes,
 * no; on or off with at least two letters; 1 or 0), as "on" or "off". */
static const char *boolean(const char *v)
{
    size_t len = strlen(v);
    if (!len)
        return NULL;
    if (!strncasecmp(v, "true", len) || !strncasecmp(v, "yes", len) ||
        (len >= 2 && !strncasecmp(v, "on", len)) || !strcmp(v, "1"))
        return "on";
    if (!strncasecmp(v, "false", len) || !strncasecmp(v, "no", len) ||
        (len >= 2 && !strncasecmp(v, "off", len)) || !strcmp(v, "0"))
        return "off";
    return NULL;
}

int pgsetting_normalize(const char *name, const char *value, const char *current, char *out,
                        size_t n, tarn_err_t *err)
{
    char v[256];
    unquote(value, v, sizeof v);
    static const char *const booleans[] = {"standard_conforming_strings",
                                           "default_transaction_read_only",
                                           "transaction_read_only", "jit", "row_security",
                                           "geqo"};
    static const char *const interval_styles[] = {"postgres", "postgres_verbose",
                                                  "sql_standard", "iso_8601"};
    if (!strcmp(name, "client_encoding")) {
        const char *enc = pgsetting_encoding(v);
        if (!enc)
            return invalid(err, "client_encoding", value);
        /* tarn converts nothing: bytes go out as the engine holds them, UTF-8; SQL_ASCII
         * (no conversion) is as good. */
        if (strcmp(enc, "UTF8") && strcmp(enc, "SQL_ASCII"))
            return TARN_ERR_R(err, TARN_EINVAL, InvalidParameterValue,
                              "invalid value for parameter \"client_encoding\": \"%.200s\" "
                              "(conversion between %s and UTF8 is not supported)",
                              value, enc);
        snprintf(out, n, "%s", enc);
        return 0;
    }
    if (!strcmp(name, "datestyle"))
        return datestyle(v, current, out, n, err);
    if (!strcmp(name, "intervalstyle")) {
        for (size_t i = 0; i < sizeof interval_styles / sizeof *interval_styles; i++)
            if (!strcasecmp(v, interval_styles[i])) {
                snprintf(out, n, "%s", interval_styles[i]);
                return 0;
            }
        return invalid(err, "IntervalStyle", value);
    }
    for (size_t i = 0; i < sizeof booleans / sizeof *booleans; i++)
        if (!strcmp(name, booleans[i])) {
            const char *b = boolean(v);
            if (!b)
                return TARN_ERR_R(err, TARN_EINVAL, InvalidParameterValue,
                                  "parameter \"%s\" requires a Boolean value", name);
            snprintf(out, n, "%s", b);
            return 0;
        }
    snprintf(out, n, "%s", v);
    return 0;
}
