# The two commands that matter: `make demo` (run the job on the sample mirror) and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
SAMPLE := sample/mirror
DEMO_DB := sample/offexchange.sqlite

.PHONY: demo sample test test-rust lint bench clean

# Where cargo puts its builds.
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
# The sample generator: the debug build `cargo test` makes (the Python tests need the sample);
# `make demo` passes its optimized one.
SYNTH ?= $(CARGO) run -q -p offx-synth --

## Runs the main job on the bundled synthetic mirror into the embedded SQLite store. The generator
## and offx are built in one cargo invocation, so they share one optimized build of the engine
## (built apart, each would resolve its own feature set and compile the dependencies again).
demo:
	$(CARGO) build -q --release -p offx -p offx-synth
	$(MAKE) --no-print-directory sample SYNTH=$(TARGET_DIR)/release/offx-synth
	FINRA_BASE_URL=file://$(CURDIR)/$(SAMPLE) $(TARGET_DIR)/release/offx \
		enrich --date 2024-04-01 --store sqlite:$(DEMO_DB)
	@python3 -c "import sqlite3; n, d = sqlite3.connect('$(DEMO_DB)').execute('SELECT count(*), max(trade_date) FROM daily_features').fetchone(); print(f'daily_features in $(DEMO_DB): {n} rows, latest trade_date {d}')"

## Writes the deterministic sample mirror (weeks of 2024-03-25 and 2024-04-01).
sample:
	@rm -rf $(SAMPLE)
	$(SYNTH) --out $(SAMPLE) --sample

## Every check CI runs: formatting, clippy, and all tests.
test: lint test-rust test-python

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

## Benchmarks (numbers, not pass/fail).
bench:
	$(CARGO) bench -p offx-bench
	$(CARGO) bench -p offexchange --bench store

clean:
	rm -rf sample target

## Python: the offexchange wheel (PyO3, abi3) in .venv, the Prefect flows, and their tests.
VENV := .venv
PY := $(VENV)/bin/python
WHEELS := target/wheels/offexchange-py

.PHONY: py-install test-python py-demo

# The venv and the pinned tools of requirements-dev.txt (again whenever that file changes).
$(VENV)/.requirements: requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

## Builds the wheel with maturin and installs it into .venv.
py-install: $(VENV)/.requirements
	rm -rf $(WHEELS)
	$(PY) -m maturin build --release -i $(PY) -o $(WHEELS)
	$(PY) -m pip install -q --disable-pip-version-check --force-reinstall --no-deps $(WHEELS)/offexchange-*.whl

## pytest (binding; flows on threads and on a local 2-worker Dask cluster; a real Prefect server end
## to end: deploy, worker, served deployments) and mypy (package, stubs, flows).
test-python: py-install
	test -d $(SAMPLE)/regsho || $(MAKE) sample
	$(CARGO) build -q -p offx
	OFFX_BIN=$(CURDIR)/target/debug/offx PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 $(PY) -m pytest tests/python -q --durations=5
	$(PY) -m mypy

## The flow's first seed command on the sample mirror (Prefect starts a temporary server).
py-demo: py-install
	test -d $(SAMPLE)/regsho || $(MAKE) sample
	FINRA_BASE_URL=file://$(CURDIR)/$(SAMPLE) PREFECT_SERVER_ANALYTICS_ENABLED=false \
		$(PY) -c "from datetime import date; from flows.compute_offexchange_features import compute_offexchange_features; print(compute_offexchange_features(date(2024, 4, 1), persist=False))"

## Fuzzing (cargo-fuzz, nightly): seeds the corpora, then a 60 s smoke run of each parser target.
FUZZ_TARGETS := regsho ats_zip ats_json short_interest
FUZZ_SECONDS ?= 60

.PHONY: fuzz
fuzz:
	./fuzz/seed.sh
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		$(CARGO) +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536 || exit 1; \
	done
