/* A delivery stream's configuration: the ExtendedS3DestinationConfiguration of a
 * CreateDeliveryStream request, checked field by field; what tarn does not support is
 * refused naming the field rather than ignored. */
#include "ingest/stream.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration ---- */

static int bad(tarn_err_t *err, const char *fmt, const char *a, const char *b)
{
    return TARN_ERR_R(err, TARN_EINVAL, "InvalidArgument", fmt, a ? a : "", b ? b : "");
}

/* Refuses keys of o not in allowed (NULL-terminated), naming the field. */
static int only_keys(const json_t *o, const char *where, const char *const *allowed,
                     tarn_err_t *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return bad(err, "%s must be an object%s", where, NULL);
    json_object_foreach((json_t *)o, k, v)
    {
        size_t i;
        for (i = 0; allowed[i]; i++)
            if (!strcmp(allowed[i], k))
                break;
        if (!allowed[i]) {
            char full[256];
            snprintf(full, sizeof full, "%s.%s", where, k);
            return bad(err, "%s is not supported by tarn%s", full, NULL);
        }
    }
    return 0;
}

static const char *str_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* An optional boolean Enabled (default def). */
static int enabled_of(const json_t *o, const char *where, bool def, bool *out, tarn_err_t *err)
{
    json_t *e = json_object_get(o, "Enabled");
    if (!e) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(e))
        return bad(err, "%s.Enabled must be true or false%s", where, NULL);
    *out = json_is_true(e);
    return 0;
}

static int parse_processing(stream_config_t *c, const json_t *pc, tarn_err_t *err)
{
    static const char *const keys[] = {"Enabled", "Processors", NULL};
    const char *where = "ExtendedS3DestinationConfiguration.ProcessingConfiguration";
    bool on = false;
    int rc = only_keys(pc, where, keys, err);
    if (rc || (rc = enabled_of(pc, where, false, &on, err)) || !on)
        return rc;
    json_t *procs = json_object_get(pc, "Processors");
    size_t i;
    json_t *p;
    json_array_foreach(procs, i, p)
    {
        static const char *const pkeys[] = {"Type", "Parameters", NULL};
        if ((rc = only_keys(p, "ProcessingConfiguration.Processors[]", pkeys, err)))
            return rc;
        const char *type = str_of(p, "Type");
        json_t *params = json_object_get(p, "Parameters");
        bool meta = type && !strcmp(type, "MetadataExtraction");
        bool sql = type && !strcmp(type, "SQL");
        if (!type || (!meta && !sql && strcmp(type, "AppendDelimiterToRecord")))
            return bad(err, "ProcessingConfiguration.Processors[].Type '%s' is not supported "
                            "(supported: SQL, MetadataExtraction, AppendDelimiterToRecord)%s",
                       type ? type : "", NULL);
        if (sql && c->transform)
            return bad(err, "ProcessingConfiguration.Processors may hold one SQL processor%s%s",
                       NULL, NULL);
        size_t j;
        json_t *pp;
        json_array_foreach(params, j, pp)
        {
            const char *name = str_of(pp, "ParameterName"), *val = str_of(pp, "ParameterValue");
            if (!name || !val)
                return bad(err, "Processors[].Parameters[] need ParameterName and "
                                "ParameterValue%s%s", NULL, NULL);
            if (meta && !strcmp(name, "MetadataExtractionQuery")) {
                stream_jq_free(&c->jq);
                if ((rc = stream_jq_parse(&c->jq, val, err)))
                    return rc;
            } else if (meta && !strcmp(name, "JsonParsingEngine")) {
                if (strcmp(val, "JQ-1.6"))
                    return bad(err, "JsonParsingEngine '%s' is not supported (JQ-1.6)%s", val,
                               NULL);
            } else if (sql && !strcmp(name, "Query")) {
                free(c->transform);
                if (!(c->transform = strdup(val)))
                    return TARN_ERR(err, TARN_ENOMEM, "out of memory");
            } else if (!strcmp(name, "Delimiter") && !strcmp(val, "\\n")) {
                continue;
            } else {
                return bad(err, "the processor parameter %s is not supported for %s", name, type);
            }
        }
        if (c->jq.n > 16)
            return bad(err, "MetadataExtractionQuery may define at most 16 keys%s%s", NULL, NULL);
        if (meta && !c->jq.n)
            return bad(err, "MetadataExtraction needs a MetadataExtractionQuery%s%s", NULL, NULL);
        if (sql && (!c->transform || !*c->transform))
            return bad(err, "the SQL processor needs a Query (ParameterName \"Query\")%s%s",
                       NULL, NULL);
    }
    return 0;
}

static int parse_conversion(stream_config_t *c, const json_t *dc, tarn_err_t *err)
{
    static const char *const keys[] = {"Enabled", "SchemaConfiguration",
                                       "InputFormatConfiguration", "OutputFormatConfiguration",
                                       NULL};
    const char *where = "ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration";
    bool on = false;
    int rc = only_keys(dc, where, keys, err);
    if (rc || (rc = enabled_of(dc, where, true, &on, err)) || !on)
        return rc;
    json_t *sc = json_object_get(dc, "SchemaConfiguration");
    static const char *const skeys[] = {"RoleARN", "CatalogId", "DatabaseName", "TableName",
                                        "Region", "VersionId", NULL};
    if (!sc)
        return bad(err, "%s.SchemaConfiguration is required%s", where, NULL);
    if ((rc = only_keys(sc, "DataFormatConversionConfiguration.SchemaConfiguration", skeys, err)))
        return rc;
    const char *dbn = str_of(sc, "DatabaseName"), *tn = str_of(sc, "TableName");
    const char *ver = str_of(sc, "VersionId");
    if (!dbn || !tn || !*dbn || !*tn)
        return bad(err, "SchemaConfiguration needs DatabaseName and TableName (a table of the "
                        "catalog: DatabaseName 'db' in the destination's zone, or 'zone.db')%s%s",
                   NULL, NULL);
    if (ver && strcmp(ver, "LATEST"))
        return bad(err, "SchemaConfiguration.VersionId '%s' is not supported (LATEST)%s", ver,
                   NULL);
    const char *dot = strchr(dbn, '.');
    c->schema_zone = dot ? strndup(dbn, (size_t)(dot - dbn)) : strdup(c->bucket);
    c->schema_db = strdup(dot ? dot + 1 : dbn);
    c->schema_table = strdup(tn);
    json_t *in = json_object_get(dc, "InputFormatConfiguration");
    if (in) {
        json_t *de = json_object_get(in, "Deserializer");
        static const char *const ik[] = {"Deserializer", NULL};
        static const char *const dk[] = {"OpenXJsonSerDe", "HiveJsonSerDe", NULL};
        if ((rc = only_keys(in, "DataFormatConversionConfiguration.InputFormatConfiguration",
                            ik, err)) ||
            (de && (rc = only_keys(de, "InputFormatConfiguration.Deserializer", dk, err))))
            return rc;
    }
    c->parquet_compression = strdup("snappy");
    json_t *out = json_object_get(dc, "OutputFormatConfiguration");
    if (out) {
        static const char *const ok[] = {"Serializer", NULL};
        static const char *const sk[] = {"ParquetSerDe", NULL};
        static const char *const pk[] = {"Compression", "BlockSizeBytes", "PageSizeBytes",
                                         "EnableDictionaryCompression", "MaxPaddingBytes",
                                         "WriterVersion", NULL};
        json_t *ser = json_object_get(out, "Serializer");
        json_t *pq = json_object_get(ser, "ParquetSerDe");
        if ((rc = only_keys(out, "DataFormatConversionConfiguration.OutputFormatConfiguration",
                            ok, err)) ||
            (ser && (rc = only_keys(ser, "OutputFormatConfiguration.Serializer", sk, err))) ||
            (pq && (rc = only_keys(pq, "Serializer.ParquetSerDe", pk, err))))
            return rc;
        const char *comp = str_of(pq, "Compression");
        if (comp) {
            free(c->parquet_compression);
            if (!strcmp(comp, "SNAPPY"))
                c->parquet_compression = strdup("snappy");
            else if (!strcmp(comp, "GZIP"))
                c->parquet_compression = strdup("gzip");
            else if (!strcmp(comp, "UNCOMPRESSED"))
                c->parquet_compression = strdup("uncompressed");
            else
                return bad(err, "ParquetSerDe.Compression '%s' is not supported (SNAPPY, GZIP, "
                                "UNCOMPRESSED)%s", comp, NULL);
        }
    }
    c->parquet = true;
    return 0;
}

static bool valid_name(const char *n)
{
    size_t len = strlen(n);
    if (!len || len > STREAM_NAME_MAX)
        return false;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
            return false;
    return true;
}

static int parse_dest(stream_config_t *c, const json_t *d, tarn_err_t *err)
{
    static const char *const keys[] = {
        "RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints",
        "CompressionFormat", "EncryptionConfiguration", "CloudWatchLoggingOptions",
        "ProcessingConfiguration", "S3BackupMode", "DataFormatConversionConfiguration",
        "DynamicPartitioningConfiguration", "FileExtension", "CustomTimeZone", NULL};
    const char *W = "ExtendedS3DestinationConfiguration";
    int rc = only_keys(d, W, keys, err);
    if (rc)
        return rc;
    const char *arn = str_of(d, "BucketARN");
    if (!arn || strncmp(arn, "arn:aws:s3:::", 13) || !arn[13] || strchr(arn + 13, '/') ||
        strlen(arn + 13) >= sizeof c->bucket)
        return bad(err, "%s.BucketARN must name a zone or bucket: arn:aws:s3:::raw%s", W, NULL);
    snprintf(c->bucket, sizeof c->bucket, "%s", arn + 13);
    if (!strcmp(c->bucket, "quarantine"))
        return bad(err, "%s.BucketARN cannot be the quarantine zone%s", W, NULL);
    const char *prefix = str_of(d, "Prefix"), *eprefix = str_of(d, "ErrorOutputPrefix");
    c->prefix = strdup(prefix ? prefix : "");
    c->error_prefix = strdup(eprefix ? eprefix : "");
    json_t *bh = json_object_get(d, "BufferingHints");
    json_int_t mb = 5, secs = 300;
    if (bh) {
        static const char *const bk[] = {"SizeInMBs", "IntervalInSeconds", NULL};
        if ((rc = only_keys(bh, "ExtendedS3DestinationConfiguration.BufferingHints", bk, err)))
            return rc;
        json_t *v;
        if ((v = json_object_get(bh, "SizeInMBs")))
            mb = json_is_integer(v) ? json_integer_value(v) : -1;
        if ((v = json_object_get(bh, "IntervalInSeconds")))
            secs = json_is_integer(v) ? json_integer_value(v) : -1;
    }
    if (mb < 1 || mb > 128)
        return bad(err, "BufferingHints.SizeInMBs must be between 1 and 128%s%s", NULL, NULL);
    if (secs < 0 || secs > 900)
        return bad(err, "BufferingHints.IntervalInSeconds must be between 0 and 900%s%s", NULL,
                   NULL);
    c->buffer_bytes = (uint64_t)mb << 20;
    c->interval_s = (int)secs;
    const char *comp = str_of(d, "CompressionFormat");
    if (!comp || !strcmp(comp, "UNCOMPRESSED"))
        c->compression = STREAM_COMPRESS_NONE;
    else if (!strcmp(comp, "GZIP"))
        c->compression = STREAM_COMPRESS_GZIP;
    else if (!strcmp(comp, "ZSTD"))
        c->compression = STREAM_COMPRESS_ZSTD;
    else
        return bad(err, "CompressionFormat '%s' is not supported (UNCOMPRESSED, GZIP, ZSTD)%s",
                   comp, NULL);
    json_t *enc = json_object_get(d, "EncryptionConfiguration");
    if (enc) {
        static const char *const ek[] = {"NoEncryptionConfig", NULL};
        if ((rc = only_keys(enc, "ExtendedS3DestinationConfiguration.EncryptionConfiguration",
                            ek, err)))
            return rc;
    }
    json_t *cw = json_object_get(d, "CloudWatchLoggingOptions");
    bool on = false;
    if (cw && ((rc = enabled_of(cw, "CloudWatchLoggingOptions", false, &on, err)) || on))
        return rc ? rc
                  : bad(err, "%s.CloudWatchLoggingOptions cannot be enabled: tarn logs to its "
                             "own log and /metrics%s", W, NULL);
    const char *backup = str_of(d, "S3BackupMode");
    if (backup && strcmp(backup, "Disabled"))
        return bad(err, "%s.S3BackupMode '%s' is not supported (Disabled)", W, backup);
    const char *tz = str_of(d, "CustomTimeZone");
    if (tz && strcmp(tz, "UTC"))
        return bad(err, "%s.CustomTimeZone '%s' is not supported (UTC)", W, tz);
    const char *ext = str_of(d, "FileExtension");
    if (ext) {
        if (*ext != '.' || strchr(ext, '/') || strlen(ext) > 128)
            return bad(err, "%s.FileExtension must start with '.' and hold no '/'%s", W, NULL);
        c->extension = strdup(ext);
    }
    json_t *pc = json_object_get(d, "ProcessingConfiguration");
    if (pc && (rc = parse_processing(c, pc, err)))
        return rc;
    json_t *dp = json_object_get(d, "DynamicPartitioningConfiguration");
    if (dp) {
        static const char *const dk[] = {"Enabled", "RetryOptions", NULL};
        if ((rc = only_keys(dp, "ExtendedS3DestinationConfiguration."
                                "DynamicPartitioningConfiguration", dk, err)) ||
            (rc = enabled_of(dp, "DynamicPartitioningConfiguration", false, &c->partitioning,
                             err)))
            return rc;
    }
    json_t *dc = json_object_get(d, "DataFormatConversionConfiguration");
    if (dc && (rc = parse_conversion(c, dc, err)))
        return rc;
    if (c->parquet && c->compression != STREAM_COMPRESS_NONE)
        return bad(err, "%s.CompressionFormat must be UNCOMPRESSED when data format conversion "
                        "is enabled (Parquet compresses inside the file)%s", W, NULL);
    /* The templates, and what they need from the rest of the configuration. */
    bool uses_keys, time_;
    if ((rc = stream_template_check(c->prefix, TEMPLATE_PREFIX, &uses_keys, &time_, err)) ||
        (rc = stream_template_check(c->error_prefix, TEMPLATE_ERROR_PREFIX, NULL, NULL, err)))
        return rc;
    if (strstr(c->prefix, "!{") && !*c->error_prefix)
        return bad(err, "%s.ErrorOutputPrefix is required when Prefix has expressions%s", W,
                   NULL);
    if (uses_keys && !c->partitioning)
        return bad(err, "Prefix uses partitionKeyFromQuery but DynamicPartitioningConfiguration "
                        "is not enabled%s%s", NULL, NULL);
    if (c->partitioning && !c->jq.n)
        return bad(err, "DynamicPartitioningConfiguration needs a MetadataExtraction processor "
                        "in ProcessingConfiguration%s%s", NULL, NULL);
    if (c->partitioning && !uses_keys)
        return bad(err, "with dynamic partitioning, Prefix must use "
                        "!{partitionKeyFromQuery:...}%s%s", NULL, NULL);
    for (const char *p = c->prefix; (p = strstr(p, "!{partitionKeyFromQuery:")); p++) {
        const char *k = p + strlen("!{partitionKeyFromQuery:");
        size_t len = strcspn(k, "}");
        size_t i;
        for (i = 0; i < c->jq.n; i++)
            if (strlen(c->jq.keys[i].name) == len && !memcmp(c->jq.keys[i].name, k, len))
                break;
        if (i == c->jq.n) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(len < 100 ? len : 100), k);
            return bad(err, "Prefix uses the partition key '%s', which "
                            "MetadataExtractionQuery does not define%s", name, NULL);
        }
    }
    return 0;
}

int stream_config_parse(stream_config_t *out, const json_t *req, tarn_err_t *err)
{
    static const char *const keys[] = {"DeliveryStreamName", "DeliveryStreamType",
                                       "ExtendedS3DestinationConfiguration", "Tags", NULL};
    *out = (stream_config_t){0};
    int rc = only_keys(req, "CreateDeliveryStreamInput", keys, err);
    if (rc)
        return rc;
    const char *name = str_of(req, "DeliveryStreamName");
    if (!name || !valid_name(name))
        return bad(err, "DeliveryStreamName must be 1 to 64 letters, digits, '_', '.' or "
                        "'-'%s%s", NULL, NULL);
    snprintf(out->name, sizeof out->name, "%s", name);
    const char *type = str_of(req, "DeliveryStreamType");
    if (type && strcmp(type, "DirectPut"))
        return bad(err, "DeliveryStreamType '%s' is not supported (DirectPut)%s", type, NULL);
    json_t *d = json_object_get(req, "ExtendedS3DestinationConfiguration");
    if (!d)
        return bad(err, "ExtendedS3DestinationConfiguration is required (tarn delivers to its "
                        "zones)%s%s", NULL, NULL);
    if ((rc = parse_dest(out, d, err)))
        stream_config_free(out);
    return rc;
}

void stream_config_free(stream_config_t *c)
{
    if (!c)
        return;
    free(c->prefix);
    free(c->error_prefix);
    free(c->extension);
    free(c->parquet_compression);
    free(c->schema_zone);
    free(c->schema_db);
    free(c->schema_table);
    stream_jq_free(&c->jq);
    free(c->transform);
    *c = (stream_config_t){0};
}

