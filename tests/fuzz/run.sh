#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default
# 60). A crash leaves its input in build-fuzz/ and fails the run.
set -eu
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
OUT=build-fuzz
mkdir -p "$OUT"
CFLAGS="-std=c17 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
UTIL="src/util/err.c src/util/buf.c src/util/hash.c src/util/timeutil.c"
clang $CFLAGS -o "$OUT/fuzz_sigv4" tests/fuzz/fuzz_sigv4.c src/govern/sigv4.c \
    src/govern/sigv4_chunked.c $UTIL -lcrypto -lz -lpthread
clang $CFLAGS -o "$OUT/fuzz_keys" tests/fuzz/fuzz_keys.c src/storage/keys.c $UTIL \
    -lcrypto -lz -lpthread
clang $CFLAGS -o "$OUT/fuzz_catalog" tests/fuzz/fuzz_catalog.c src/catalog/schema.c \
    src/catalog/hive.c src/util/arena.c $UTIL -ljansson -lcrypto -lz -lpthread
clang $CFLAGS -o "$OUT/fuzz_pgwire" tests/fuzz/fuzz_pgwire.c src/server/pgmsg.c src/server/pgsql.c \
    src/consume/pgtype.c src/govern/scram.c src/govern/grants_sql.c src/util/arena.c $UTIL -ljansson -lcrypto -lz -lpthread -lm
clang $CFLAGS -o "$OUT/fuzz_stream" tests/fuzz/fuzz_stream.c src/ingest/stream_config.c \
    src/ingest/stream_template.c src/ingest/stream_jq.c src/ingest/stream_jq_check.c \
    src/ingest/plugins.c src/util/config_map.c src/util/units.c $UTIL -ljansson -ljq \
    -lcrypto -lz -lpthread -lm
clang $CFLAGS -o "$OUT/fuzz_pipeline" tests/fuzz/fuzz_pipeline.c src/process/pipeline_spec.c \
    src/process/cron.c $UTIL -lyaml -lcrypto -lz -lpthread
for t in fuzz_sigv4 fuzz_keys fuzz_catalog fuzz_pgwire fuzz_stream fuzz_pipeline; do
    mkdir -p "$OUT/corpus-$t"
    (cd "$OUT" && "./$t" -max_total_time="$SECONDS_EACH" -max_len=4096 "corpus-$t")
done
