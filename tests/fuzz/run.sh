#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan, stopping at the first undefined
# behaviour) and runs each for SECONDS (default 60), starting from its saved seeds in
# tests/fuzz/corpus/<target>/ (read only: what a run learns stays in
# build-fuzz/corpus-<target>/) and its dictionary tests/fuzz/<target>.dict if there is one.
# A crash, leak, assert or slow input leaves its input in build-fuzz/ and fails the run,
# once every target had its turn.
#   tests/fuzz/run.sh [SECONDS [TARGET...]]
set -eu
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
ALL="fuzz_sigv4 fuzz_keys fuzz_catalog fuzz_pgwire fuzz_stream fuzz_pipeline fuzz_s3_xml
fuzz_http fuzz_stream_config"
TARGETS=${*:-$ALL}
OUT=build-fuzz
mkdir -p "$OUT"
CFLAGS="-std=c17 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
UTIL="src/util/err.c src/util/buf.c src/util/hash.c src/util/timeutil.c"

# build TARGET SOURCES-AND-LIBRARIES...: tests/fuzz/TARGET.c with what it tests.
build() {
    t=$1
    shift
    case " $(echo $TARGETS) " in *" $t "*) ;; *) return 0 ;; esac
    clang $CFLAGS -o "$OUT/$t" "tests/fuzz/$t.c" "$@"
}
build fuzz_sigv4 src/govern/sigv4.c src/govern/sigv4_chunked.c $UTIL -lcrypto -lz -lpthread
build fuzz_keys src/storage/keys.c $UTIL -lcrypto -lz -lpthread
build fuzz_catalog src/catalog/schema.c src/catalog/hive.c src/util/arena.c $UTIL \
    -ljansson -lcrypto -lz -lpthread
build fuzz_pgwire src/consume/pgwire/pgmsg.c src/consume/pgwire/pgsql.c src/consume/pgwire/pglex.c \
    src/consume/pgwire/pgtype.c src/consume/pgwire/pgtype_param.c src/consume/pgwire/pgarray.c \
    src/consume/pgwire/pgsetting.c \
    src/govern/scram.c \
    src/govern/grants_sql.c src/util/arena.c $UTIL -ljansson -lpg_query -lcrypto -lz -lpthread -lm
STREAM="src/ingest/stream_config.c src/ingest/stream_template.c src/ingest/stream_jq.c
src/ingest/stream_jq_check.c src/ingest/plugins.c tests/fuzz/plugin_stubs.c src/util/config_map.c
src/util/units.c src/util/worker.c"
build fuzz_stream $STREAM $UTIL -ljansson -ljq -lcrypto -lz -lpthread -lm
build fuzz_pipeline src/process/pipeline_spec.c src/util/cron.c $UTIL \
    -lyaml -lcrypto -lz -lpthread
build fuzz_s3_xml src/server/s3/s3_xml.c $UTIL -lexpat -ljansson -lcrypto -lz -lpthread
build fuzz_http src/server/http_parse.c src/govern/sigv4.c src/util/arena.c $UTIL \
    -lcrypto -lz -lpthread
build fuzz_stream_config $STREAM $UTIL -ljansson -ljq -lcrypto -lz -lpthread -lm

failed=""
for t in $TARGETS; do
    mkdir -p "$OUT/corpus-$t"
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    if "$OUT/$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="$OUT/$t-" $dict "$OUT/corpus-$t" \
        "tests/fuzz/corpus/$t" >"$OUT/$t.log" 2>&1; then
        echo "fuzz: $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/$t.log" |
            grep -o '[0-9]*$') runs, nothing found"
    else
        failed="$failed $t"
        tail -n 60 "$OUT/$t.log" >&2
        echo "fuzz: $t FAILED (log: $OUT/$t.log; input: $OUT/$t-*)" >&2
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed" >&2
    exit 1
fi
