# The two commands that matter: `make demo` (run the job on the sample mirror) and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
SAMPLE := sample/mirror
DEMO_DB := sample/offexchange.sqlite

.PHONY: demo sample test test-rust lint bench clean

## Runs the main job on the bundled synthetic mirror into the embedded SQLite store.
demo: sample
	FINRA_BASE_URL=file://$(CURDIR)/$(SAMPLE) $(CARGO) run -q --release -p offx -- \
		enrich --date 2024-04-01 --store sqlite:$(DEMO_DB)
	@echo "daily_features rows in $(DEMO_DB): $$(FINRA_BASE_URL= $(CARGO) run -q --release -p offx -- enrich --date 2024-04-01 --store sqlite:$(DEMO_DB) --format csv -q | tail -n +2 | wc -l)"

## Writes the deterministic sample mirror (weeks of 2024-03-25 and 2024-04-01).
sample:
	@rm -rf $(SAMPLE)
	$(CARGO) run -q --release -p offx-synth -- --out $(SAMPLE) --sample

## Every check CI runs: formatting, clippy, and all tests.
test: lint test-rust

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

## Benchmarks (numbers, not pass/fail).
bench:
	$(CARGO) bench -p offexchange --bench parse

clean:
	rm -rf sample target
