# The two commands a newcomer needs: `make dev` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test venv build lint unit integration browser cfn-lint bench fuzz clean

## make dev: the whole system on 127.0.0.1 (moto :4566, functions :9000, admin page :8080, ADE simulator :4567)
dev: venv build
	$(VPY) infra/stack.py dev

## make test: everything CI checks, from a fresh machine
test: venv lint unit integration browser cfn-lint

venv: $(STAMP)
$(STAMP): infra/requirements.txt
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

build:
	cargo build --workspace --all-targets
	cargo test --workspace --no-run --quiet

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(PYTHON) infra/check_docs.py
	# shared's modules are layers: each imports only those lib.rs (or aws/mod.rs) lists above it.
	$(PYTHON) infra/check_layers.py
	node_modules/.bin/biome ci --colors=off

# The ADE tests make server tokens with openssl, as ABM does (Debian base has it; a slim image may not).
OPENSSL ?= /usr/bin/openssl
unit: venv $(OPENSSL)
	cargo test --workspace --exclude integration-tests
	# The emulator's speed fixes answer as stock moto does; its behaviour fixes as AWS does, where stock moto does not.
	cd infra && ../$(VPY) -m unittest discover -s emulator/tests -t .
	# Apple's device-assignment API as the local stack serves it: Apple's checks, limits and errors.
	cd infra && ../$(VPY) -m unittest discover -s ade_simulator/tests -t .
	# The local stack picks its ports below the ephemeral range, so no outbound connection takes one first.
	cd infra && ../$(VPY) -m unittest test_check_layers test_free_port

# Integration tests run against a stack of their own on free ports, stopped afterwards.
# Selected with --workspace --test NAME (not -p): the workspace-wide feature set is
# the one already compiled; -p would resolve another and rebuild the SDK.
INTEGRATION_TESTS := $(patsubst tests/tests/%.rs,--test %,$(wildcard tests/tests/*.rs))
integration: venv build
	# The expiry test runs the sweep itself: the schedule's own runs would race it.
	# Admission runs in 4 processes, so that concurrent requests overlap as on Lambda.
	STACK_SCHEDULE_SECONDS=3600 $(VPY) infra/stack.py run --faults --instances admission=4 -- cargo test --workspace $(INTEGRATION_TESTS) -- --test-threads=4
	# make dev's own stop: within 5 s of a signal every process it started is gone and every port free.
	cd infra && ../$(VPY) -m unittest test_stack_stop

## make fuzz: the admission gate's invariants over FUZZ_CASES random sequences of operations (make unit
## runs 2,000); a failure prints the minimal sequence that breaks one (docs/security.md, Admission).
FUZZ_CASES ?= 100000
fuzz:
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --workspace --test invariants -- --nocapture

## make bench: throughput, memory and latency figures (not part of make test)
bench: venv
	cargo build --release --workspace --all-targets
	$(VPY) infra/bench.py

cfn-lint: venv
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/openapi-spec-validator openapi.yaml
	# IaC security scan; each skipped rule and its reason are in .checkov.yaml.
	$(VENV)/bin/checkov --config-file .checkov.yaml

# Browser tests: Debian's Chromium (apt, only if missing) driven by playwright-core (npm, pinned by
# package-lock.json); the browser itself is never downloaded. Screenshots: tests/browser/artifacts/.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NODE_STAMP := tests/browser/node_modules/.installed
# SEED_DEVICES devices are imported first (the scale test's table; the other scenarios run beside them).
SEED_DEVICES ?= 100000
browser: venv build $(CHROMIUM) $(NODE_STAMP)
	CHROMIUM=$(CHROMIUM) SEED_DEVICES=$(SEED_DEVICES) $(VPY) infra/stack.py run -- \
		bash -c '$(VPY) infra/seed.py $(SEED_DEVICES) && node --test --test-concurrency=1 tests/browser/admin.test.mjs'

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

$(OPENSSL):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl

$(NODE_STAMP): tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The page's JavaScript (static/js/) and the browser tests: Biome (npm, pinned by the root
# package-lock.json; rules in biome.json) checks format and lint, writing nothing.
# `node_modules/.bin/biome check --write` applies its fixes.
BIOME_STAMP := node_modules/.installed
lint: $(BIOME_STAMP)
$(BIOME_STAMP): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf .dev
