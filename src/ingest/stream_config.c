/* A delivery stream's configuration: the CreateDeliveryStream request, checked by the
 * stream plugin's config map (keys, types, defaults), then for what the map cannot say
 * (the bucket ARN, templates and the keys they need, which processor takes which
 * parameter). What tarn does not support is refused naming the field rather than ignored. */
#include "ingest/stream.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the map ---- */

static const char *const stream_types[] = {"DirectPut", NULL};
static const char *const compressions[] = {"UNCOMPRESSED", "GZIP", "ZSTD", NULL};
static const char *const processor_types[] = {"SQL", "MetadataExtraction",
                                              "AppendDelimiterToRecord", NULL};
static const char *const parameter_names[] = {"Query", "MetadataExtractionQuery",
                                              "JsonParsingEngine", "Delimiter", NULL};
static const char *const parquet_compressions[] = {"SNAPPY", "GZIP", "UNCOMPRESSED", NULL};
static const char *const writer_versions[] = {"V1", "V2", NULL};
static const char *const no_encryption[] = {"NoEncryption", NULL};
static const char *const backup_modes[] = {"Disabled", NULL};
static const char *const time_zones[] = {"UTC", NULL};
static const char *const latest[] = {"LATEST", NULL};

static const config_entry_t buffering[] = {
    {.name = "SizeInMBs", .type = CONFIG_INT, .def = "5", .min = 1, .max = 128,
     .help = "MiB of records gathered before a file is delivered"},
    {.name = "IntervalInSeconds", .type = CONFIG_INT, .def = "300", .min = 0, .max = 900,
     .help = "age of the oldest record at which a file is delivered anyway"},
    {0}};

static const config_entry_t parameters[] = {
    {.name = "ParameterName", .type = CONFIG_ENUM, .values = parameter_names, .required = true,
     .help = "Query for SQL; MetadataExtractionQuery and JsonParsingEngine (JQ-1.6) for "
             "MetadataExtraction; Delimiter (\\n)"},
    {.name = "ParameterValue", .type = CONFIG_STRING, .required = true},
    {0}};

static const config_entry_t processors[] = {
    {.name = "Type", .type = CONFIG_ENUM, .values = processor_types, .required = true,
     .help = "SQL runs one SELECT over each batch's records (the relation `records`); "
             "MetadataExtraction takes partition keys from each record with a JQ query "
             "that yields an object, like {region: .region, day: .ts | strftime(\"%d\")}"},
    {.name = "Parameters", .type = CONFIG_MAPS, .def = "[]", .fields = parameters},
    {0}};

static const config_entry_t processing[] = {
    {.name = "Enabled", .type = CONFIG_BOOL, .def = "false"},
    {.name = "Processors", .type = CONFIG_MAPS, .def = "[]", .fields = processors},
    {0}};

static const config_entry_t retry[] = {
    {.name = "DurationInSeconds", .type = CONFIG_INT, .min = 0, .max = 7200},
    {0}};

static const config_entry_t partitioning[] = {
    {.name = "Enabled", .type = CONFIG_BOOL, .def = "false",
     .help = "partition by keys from a MetadataExtraction processor"},
    {.name = "RetryOptions", .type = CONFIG_MAP, .fields = retry,
     .help = "accepted; tarn retries a failed delivery until it succeeds"},
    {0}};

static const config_entry_t schema[] = {
    {.name = "DatabaseName", .type = CONFIG_STRING,
     .help = "'db' in the destination's zone, or 'zone.db'"},
    {.name = "TableName", .type = CONFIG_STRING, .help = "a table of the catalog"},
    {.name = "VersionId", .type = CONFIG_ENUM, .values = latest, .def = "LATEST"},
    {.name = "RoleARN", .type = CONFIG_STRING},
    {.name = "CatalogId", .type = CONFIG_STRING},
    {.name = "Region", .type = CONFIG_STRING},
    {0}};

static const config_entry_t deserializer[] = {
    {.name = "OpenXJsonSerDe", .type = CONFIG_MAP},
    {.name = "HiveJsonSerDe", .type = CONFIG_MAP},
    {0}};

static const config_entry_t input_format[] = {
    {.name = "Deserializer", .type = CONFIG_MAP, .fields = deserializer},
    {0}};

static const config_entry_t parquet_serde[] = {
    {.name = "Compression", .type = CONFIG_ENUM, .values = parquet_compressions,
     .def = "SNAPPY"},
    {.name = "BlockSizeBytes", .type = CONFIG_INT},
    {.name = "PageSizeBytes", .type = CONFIG_INT},
    {.name = "EnableDictionaryCompression", .type = CONFIG_BOOL},
    {.name = "MaxPaddingBytes", .type = CONFIG_INT},
    {.name = "WriterVersion", .type = CONFIG_ENUM, .values = writer_versions},
    {0}};

static const config_entry_t serializer[] = {
    {.name = "ParquetSerDe", .type = CONFIG_MAP, .fields = parquet_serde},
    {0}};

static const config_entry_t output_format[] = {
    {.name = "Serializer", .type = CONFIG_MAP, .fields = serializer},
    {0}};

static const config_entry_t conversion[] = {
    {.name = "Enabled", .type = CONFIG_BOOL, .def = "true"},
    {.name = "SchemaConfiguration", .type = CONFIG_MAP, .fields = schema,
     .help = "the catalog table whose columns the Parquet files have (required)"},
    {.name = "InputFormatConfiguration", .type = CONFIG_MAP, .fields = input_format},
    {.name = "OutputFormatConfiguration", .type = CONFIG_MAP, .fields = output_format},
    {0}};

static const config_entry_t encryption[] = {
    {.name = "NoEncryptionConfig", .type = CONFIG_ENUM, .values = no_encryption},
    {0}};

static const config_entry_t logging[] = {
    {.name = "Enabled", .type = CONFIG_BOOL, .def = "false",
     .help = "must stay false: tarn logs to its own log and /metrics"},
    {.name = "LogGroupName", .type = CONFIG_STRING},
    {.name = "LogStreamName", .type = CONFIG_STRING},
    {0}};

static const config_entry_t destination[] = {
    {.name = "BucketARN", .type = CONFIG_STRING, .required = true,
     .help = "arn:aws:s3:::ZONE (or a bucket): where files land; not quarantine"},
    {.name = "Prefix", .type = CONFIG_STRING, .def = "",
     .help = "key template: text, !{timestamp:yyyy-MM-dd} (UTC arrival time), "
             "!{partitionKeyFromQuery:KEY}, !{firehose:random-string}"},
    {.name = "ErrorOutputPrefix", .type = CONFIG_STRING, .def = "",
     .help = "where failed records go in quarantine; may use "
             "!{firehose:error-output-type} and timestamps; required when Prefix has "
             "expressions"},
    {.name = "BufferingHints", .type = CONFIG_MAP, .def = "{}", .fields = buffering},
    {.name = "CompressionFormat", .type = CONFIG_ENUM, .values = compressions,
     .def = "UNCOMPRESSED"},
    {.name = "FileExtension", .type = CONFIG_STRING,
     .help = "replaces the default (.gz, .zst, .parquet or none)"},
    {.name = "ProcessingConfiguration", .type = CONFIG_MAP, .fields = processing},
    {.name = "DynamicPartitioningConfiguration", .type = CONFIG_MAP, .fields = partitioning},
    {.name = "DataFormatConversionConfiguration", .type = CONFIG_MAP, .fields = conversion,
     .help = "converts records to Parquet with a catalog table's columns; CompressionFormat "
             "must then be UNCOMPRESSED"},
    {.name = "RoleARN", .type = CONFIG_STRING, .help = "accepted and not used"},
    {.name = "EncryptionConfiguration", .type = CONFIG_MAP, .fields = encryption},
    {.name = "CloudWatchLoggingOptions", .type = CONFIG_MAP, .fields = logging},
    {.name = "S3BackupMode", .type = CONFIG_ENUM, .values = backup_modes, .def = "Disabled"},
    {.name = "CustomTimeZone", .type = CONFIG_ENUM, .values = time_zones, .def = "UTC"},
    {0}};

static const config_entry_t tag[] = {
    {.name = "Key", .type = CONFIG_STRING, .required = true},
    {.name = "Value", .type = CONFIG_STRING},
    {0}};

static const config_entry_t request[] = {
    {.name = "DeliveryStreamName", .type = CONFIG_STRING, .required = true,
     .help = "1 to 64 letters, digits, '_', '.' or '-'"},
    {.name = "DeliveryStreamType", .type = CONFIG_ENUM, .values = stream_types,
     .def = "DirectPut"},
    {.name = "ExtendedS3DestinationConfiguration", .type = CONFIG_MAP, .required = true,
     .fields = destination, .help = "where and how records are delivered"},
    {.name = "Tags", .type = CONFIG_MAPS, .fields = tag},
    {0}};

const ingest_plugin_t stream_plugin = {
    .name = "stream",
    .description = "records pushed through the Firehose API, delivered in files",
    .config = request,
};

/* ---- what the map cannot say ---- */

static int bad(tarn_err_t *err, const char *fmt, const char *a, const char *b)
{
    return TARN_ERR_R(err, TARN_EINVAL, InvalidArgument, fmt, a ? a : "", b ? b : "");
}

static const char *str_at(const json_t *o, const char *path)
{
    return json_string_value(config_map_get(o, path));
}

static bool on(const json_t *o, const char *path)
{
    return json_is_true(config_map_get(o, path));
}

static int parse_processor(stream_config_t *c, const json_t *p, tarn_err_t *err)
{
    const char *type = str_at(p, "Type");
    bool meta = !strcmp(type, "MetadataExtraction"), sql = !strcmp(type, "SQL");
    if ((sql && c->transform) || (meta && c->jq))
        return bad(err, "ProcessingConfiguration.Processors may hold one %s processor%s", type,
                   NULL);
    size_t j;
    json_t *pp;
    json_array_foreach(json_object_get(p, "Parameters"), j, pp)
    {
        const char *name = str_at(pp, "ParameterName"), *val = str_at(pp, "ParameterValue");
        int rc;
        if (meta && !strcmp(name, "MetadataExtractionQuery")) {
            stream_jq_free(c->jq);
            c->jq = NULL;
            if ((rc = stream_jq_compile(&c->jq, val, err)))
                return rc;
        } else if (meta && !strcmp(name, "JsonParsingEngine")) {
            if (strcmp(val, "JQ-1.6"))
                return bad(err, "JsonParsingEngine '%s' is not supported (JQ-1.6)%s", val, NULL);
        } else if (sql && !strcmp(name, "Query")) {
            free(c->transform);
            if (!(c->transform = strdup(val)))
                return TARN_ERR(err, TARN_ENOMEM, "out of memory");
        } else if (strcmp(name, "Delimiter") || strcmp(val, "\\n")) {
            return bad(err, "the processor parameter %s is not supported for %s", name, type);
        }
    }
    if (meta && !c->jq)
        return bad(err, "MetadataExtraction needs a MetadataExtractionQuery%s%s", NULL, NULL);
    if (sql && (!c->transform || !*c->transform))
        return bad(err, "the SQL processor needs a Query (ParameterName \"Query\")%s%s", NULL,
                   NULL);
    return 0;
}

static int parse_conversion(stream_config_t *c, const json_t *dc, tarn_err_t *err)
{
    const char *W = "ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration";
    if (!on(dc, "Enabled"))
        return 0;
    if (!json_object_get(dc, "SchemaConfiguration"))
        return bad(err, "%s.SchemaConfiguration is required%s", W, NULL);
    const char *dbn = str_at(dc, "SchemaConfiguration.DatabaseName");
    const char *tn = str_at(dc, "SchemaConfiguration.TableName");
    if (!dbn || !tn || !*dbn || !*tn)
        return bad(err, "SchemaConfiguration needs DatabaseName and TableName (a table of the "
                        "catalog: DatabaseName 'db' in the destination's zone, or 'zone.db')%s%s",
                   NULL, NULL);
    const char *dot = strchr(dbn, '.');
    const char *comp = str_at(dc, "OutputFormatConfiguration.Serializer.ParquetSerDe."
                                  "Compression");
    c->schema_zone = dot ? strndup(dbn, (size_t)(dot - dbn)) : strdup(c->bucket);
    c->schema_db = strdup(dot ? dot + 1 : dbn);
    c->schema_table = strdup(tn);
    c->parquet_compression = !comp || !strcmp(comp, "SNAPPY") ? strdup("snappy")
                             : !strcmp(comp, "GZIP")          ? strdup("gzip")
                                                              : strdup("uncompressed");
    if (!c->schema_zone || !c->schema_db || !c->schema_table || !c->parquet_compression)
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
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

/* The templates, and what they need from the rest of the configuration. */
static int check_templates(stream_config_t *c, tarn_err_t *err)
{
    const char *W = "ExtendedS3DestinationConfiguration";
    bool uses_keys, time_;
    int rc;
    if ((rc = stream_template_check(c->prefix, TEMPLATE_PREFIX, &uses_keys, &time_, err)) ||
        (rc = stream_template_check(c->error_prefix, TEMPLATE_ERROR_PREFIX, NULL, NULL, err)))
        return rc;
    if (strstr(c->prefix, "!{") && !*c->error_prefix)
        return bad(err, "%s.ErrorOutputPrefix is required when Prefix has expressions%s", W,
                   NULL);
    if (uses_keys && !c->partitioning)
        return bad(err, "Prefix uses partitionKeyFromQuery but DynamicPartitioningConfiguration "
                        "is not enabled%s%s", NULL, NULL);
    if (c->partitioning && !c->jq)
        return bad(err, "DynamicPartitioningConfiguration needs a MetadataExtraction processor "
                        "in ProcessingConfiguration%s%s", NULL, NULL);
    if (c->partitioning && !uses_keys)
        return bad(err, "with dynamic partitioning, Prefix must use "
                        "!{partitionKeyFromQuery:...}%s%s", NULL, NULL);
    /* Keys the query's text fixes can be checked now; others only record by record. */
    const stream_jq_names_t *names = c->partitioning ? stream_jq_names(c->jq) : NULL;
    for (const char *p = c->prefix; names && names->known &&
                                    (p = strstr(p, "!{partitionKeyFromQuery:"));
         p++) {
        const char *k = p + strlen("!{partitionKeyFromQuery:");
        size_t len = strcspn(k, "}");
        size_t i;
        for (i = 0; i < names->n; i++)
            if (strlen(names->names[i]) == len && !memcmp(names->names[i], k, len))
                break;
        if (i == names->n) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(len < 100 ? len : 100), k);
            return bad(err, "Prefix uses the partition key '%s', which "
                            "MetadataExtractionQuery does not define%s", name, NULL);
        }
    }
    return 0;
}

static int parse_dest(stream_config_t *c, const json_t *d, tarn_err_t *err)
{
    const char *W = "ExtendedS3DestinationConfiguration";
    const char *arn = str_at(d, "BucketARN");
    int rc;
    if (strncmp(arn, "arn:aws:s3:::", 13) || !arn[13] || strchr(arn + 13, '/') ||
        strlen(arn + 13) >= sizeof c->bucket)
        return bad(err, "%s.BucketARN must name a zone or bucket: arn:aws:s3:::raw%s", W, NULL);
    snprintf(c->bucket, sizeof c->bucket, "%s", arn + 13);
    if (!strcmp(c->bucket, "quarantine"))
        return bad(err, "%s.BucketARN cannot be the quarantine zone%s", W, NULL);
    if (!(c->prefix = strdup(str_at(d, "Prefix"))) ||
        !(c->error_prefix = strdup(str_at(d, "ErrorOutputPrefix"))))
        return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    c->buffer_bytes = (uint64_t)json_integer_value(config_map_get(d, "BufferingHints.SizeInMBs"))
                      << 20;
    c->interval_s = (int)json_integer_value(config_map_get(d, "BufferingHints.IntervalInSeconds"));
    const char *comp = str_at(d, "CompressionFormat");
    c->compression = !strcmp(comp, "GZIP")   ? STREAM_COMPRESS_GZIP
                     : !strcmp(comp, "ZSTD") ? STREAM_COMPRESS_ZSTD
                                             : STREAM_COMPRESS_NONE;
    if (on(d, "CloudWatchLoggingOptions.Enabled"))
        return bad(err, "%s.CloudWatchLoggingOptions cannot be enabled: tarn logs to its own "
                        "log and /metrics%s", W, NULL);
    const char *ext = str_at(d, "FileExtension");
    if (ext) {
        if (*ext != '.' || strchr(ext, '/') || strlen(ext) > 128)
            return bad(err, "%s.FileExtension must start with '.' and hold no '/'%s", W, NULL);
        if (!(c->extension = strdup(ext)))
            return TARN_ERR(err, TARN_ENOMEM, "out of memory");
    }
    if (on(d, "ProcessingConfiguration.Enabled")) {
        size_t i;
        json_t *p;
        json_array_foreach(config_map_get(d, "ProcessingConfiguration.Processors"), i, p)
            if ((rc = parse_processor(c, p, err)))
                return rc;
    }
    c->partitioning = on(d, "DynamicPartitioningConfiguration.Enabled");
    json_t *dc = json_object_get(d, "DataFormatConversionConfiguration");
    if (dc && (rc = parse_conversion(c, dc, err)))
        return rc;
    if (c->parquet && c->compression != STREAM_COMPRESS_NONE)
        return bad(err, "%s.CompressionFormat must be UNCOMPRESSED when data format conversion "
                        "is enabled (Parquet compresses inside the file)%s", W, NULL);
    return check_templates(c, err);
}

int stream_config_parse(stream_config_t *out, const json_t *req, tarn_err_t *err)
{
    *out = (stream_config_t){0};
    /* The name first: a request is known by it, whatever else is wrong. */
    const char *name = json_string_value(json_object_get(req, "DeliveryStreamName"));
    if (name && !valid_name(name))
        return bad(err, "DeliveryStreamName must be 1 to 64 letters, digits, '_', '.' or '-'%s%s",
                   NULL, NULL);
    json_t *cfg = NULL;
    int rc = ingest_plugin_configure(&cfg, &stream_plugin, req, err);
    if (rc)
        return rc;
    snprintf(out->name, sizeof out->name, "%s", str_at(cfg, "DeliveryStreamName"));
    if ((rc = parse_dest(out, json_object_get(cfg, "ExtendedS3DestinationConfiguration"), err)))
        stream_config_free(out);
    json_decref(cfg);
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
    stream_jq_free(c->jq);
    free(c->transform);
    *c = (stream_config_t){0};
}
