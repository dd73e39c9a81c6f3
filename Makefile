# Thin wrapper over Meson for the README commands.
BUILD ?= build
DATA ?= tarn-data

.PHONY: all bootstrap run test asan fuzz bench clean

all: bootstrap
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=debugoptimized -Dwerror=true
	ninja -C $(BUILD)

bootstrap:
	@sh scripts/bootstrap.sh

run: all
	@sh scripts/run.sh $(BUILD)/tarn $(DATA)

test: all
	meson test -C $(BUILD) --print-errorlogs
	TARN_BIN=$(abspath $(BUILD))/tarn /usr/bin/python3 -m pytest -q tests/e2e

asan: bootstrap
	@[ -f build-asan/build.ninja ] || CC=clang meson setup build-asan --buildtype=debug \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    meson test -C build-asan --print-errorlogs
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    TARN_BIN=$(abspath build-asan)/tarn /usr/bin/python3 -m pytest -q tests/e2e

fuzz: bootstrap
	sh tests/fuzz/run.sh 60

bench: all
	/usr/bin/python3 bench/s3_throughput.py --tarn $(BUILD)/tarn
	/usr/bin/python3 bench/crawl.py --tarn $(BUILD)/tarn --baseline $(BUILD)/crawl_baseline
	/usr/bin/python3 bench/promote.py --tarn $(BUILD)/tarn
	/usr/bin/python3 bench/authz.py --tarn $(BUILD)/tarn --checker $(BUILD)/authz_check
	/usr/bin/python3 bench/sql.py --tarn $(BUILD)/tarn --baseline $(BUILD)/sql_baseline
	/usr/bin/python3 bench/stream.py --tarn $(BUILD)/tarn
	/usr/bin/python3 bench/pipeline.py --tarn $(BUILD)/tarn --baseline $(BUILD)/pipeline_baseline

clean:
	rm -rf $(BUILD) build-asan build-fuzz
