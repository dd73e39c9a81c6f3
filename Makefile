# Thin wrapper over Meson for the README commands.
BUILD ?= build
DATA ?= tarn-data
PREFIX ?= /usr/local
# Warnings are errors in `make test` and CI, not when a user builds to run.
WERROR ?= false
# make fuzz: seconds per target, and which targets (all when empty).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: all bootstrap bootstrap-test run test asan fuzz bench install uninstall clean

all: bootstrap
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=debugoptimized \
	    --prefix=$(PREFIX) -Dwerror=$(WERROR)
	@meson configure $(BUILD) -Dwerror=$(WERROR) -Dprefix=$(PREFIX)
	ninja -C $(BUILD)

bootstrap:
	@sh scripts/bootstrap.sh run

bootstrap-test:
	@sh scripts/bootstrap.sh test

run: all
	@sh scripts/run.sh $(BUILD)/tarn $(DATA)

test: bootstrap-test
	@# A build folder set up by `make run` before the test tools were there: look again.
	@[ ! -f $(BUILD)/build.ninja ] || grep -q test_store $(BUILD)/build.ninja || \
	    meson setup --reconfigure $(BUILD) >/dev/null
	@$(MAKE) --no-print-directory all WERROR=true
	meson test -C $(BUILD) --print-errorlogs
	TARN_BIN=$(abspath $(BUILD))/tarn /usr/bin/python3 -m pytest -q tests/e2e

# <PREFIX>/bin/tarn with its libduckdb.so in <PREFIX>/lib/tarn, the docs and an example
# systemd unit in <PREFIX>/share/doc/tarn. DESTDIR stages the files elsewhere.
install: all
	meson install -C $(BUILD) --no-rebuild $(if $(DESTDIR),--destdir $(DESTDIR))

uninstall:
	ninja -C $(BUILD) uninstall

asan: bootstrap-test
	@[ -f build-asan/build.ninja ] || CC=clang meson setup build-asan --buildtype=debug \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    meson test -C build-asan --print-errorlogs
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    TARN_BIN=$(abspath build-asan)/tarn /usr/bin/python3 -m pytest -q tests/e2e

fuzz: bootstrap-test
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: bootstrap-test all
	/usr/bin/python3 bench/s3_throughput.py --tarn $(BUILD)/tarn
	/usr/bin/python3 bench/crawl.py --tarn $(BUILD)/tarn --baseline $(BUILD)/crawl_baseline
	/usr/bin/python3 bench/promote.py --tarn $(BUILD)/tarn
	/usr/bin/python3 bench/authz.py --tarn $(BUILD)/tarn --checker $(BUILD)/authz_check
	/usr/bin/python3 bench/sql.py --tarn $(BUILD)/tarn --baseline $(BUILD)/sql_baseline
	/usr/bin/python3 bench/stream.py --tarn $(BUILD)/tarn
	/usr/bin/python3 bench/pipeline.py --tarn $(BUILD)/tarn --baseline $(BUILD)/pipeline_baseline

clean:
	rm -rf $(BUILD) build-asan build-fuzz
