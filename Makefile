# cobranca — local development and tests. Everything installs itself into .local/ (gitignored).
#   make dev    run cobranca locally: LocalStack + the functions behind http://127.0.0.1:3000
#   make test   the whole test suite (unit, store conformance on LocalStack, end-to-end, browser, schemathesis, template lint)
#   make bench  cold starts, tick cost at 1,000,000 charges, domain throughput, AWS cost per 1,000 charges
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
STACK ?= cobranca-local
PORT ?= 3000
ENV_FILE := .local/stack-$(STACK).env
TOOLS := $(CURDIR)/.local/venv-tools/bin
# Loads the stack's resource names and LocalStack endpoint into a recipe's environment.
WITH_STACK := set -a; . $(ENV_FILE); set +a;

# The reliability suite at length (issue #8): crashes at every step, 10 % failing AWS calls over many seeds,
# duplicates, races, the dead-letter queue; prints one table and fails unless nothing is lost or duplicated.
# `make test` runs the same suite with 3 rounds.
CHAOS_ROUNDS ?= 25

.PHONY: fmt chaos dev test test-deps browser-deps bench install localstack deploy-local build lint lambda-build stop clean fuzz fuzz-ci

install:
	bash infra/local/install.sh

localstack: install
	bash infra/local/localstack.sh start

deploy-local: localstack
	bash infra/local/deploy.sh $(STACK)

build:
	cargo build --workspace --bins

dev: deploy-local build
	$(WITH_STACK) COBRANCA_WEBHOOK_ALLOW_LOCAL=true exec target/debug/local-runner serve --port $(PORT) --demo true

# The régua simulation moves its stack's tick watermark 120 days ahead, so it gets a stack of its own.
test: deploy-local build test-deps
	bash infra/local/deploy.sh cobranca-sim
	$(WITH_STACK) COBRANCA_REQUIRE_AWS=1 COBRANCA_REQUIRE_BROWSER=1 COBRANCA_SIM_TABLE="$$(. .local/stack-cobranca-sim.env; echo $$COBRANCA_TABLE)" \
	  bash infra/test.sh

# What the tests drive that is not Rust: the browser test's Chromium and playwright-core, and the webhook
# receiver that verifies our deliveries with the npm standardwebhooks library.
test-deps: browser-deps
	if ! cmp -s tests/receiver/package-lock.json tests/receiver/node_modules/.package-lock.json; then \
	  (cd tests/receiver && npm ci --no-audit --no-fund --silent); fi

# Fuzzing (cargo-fuzz, libFuzzer): every target in fuzz/ for FUZZ_SECONDS each, from the committed seed corpus;
# fails on any crash, leaving the input in fuzz/artifacts/. fuzz-ci is CI's time box.
FUZZ_SECONDS ?= 60
fuzz:
	bash infra/fuzz.sh $(FUZZ_SECONDS)

fuzz-ci:
	FUZZ_DEV=1 bash infra/fuzz.sh 10

# Performance and cost figures (issue #9), printed as one table and kept in test-output/bench/report.md.
# Release builds of every function and of an empty lambda_runtime function, the arm64 zips, then infra/bench/run.sh.
bench: deploy-local lambda-build
	cargo build --release --bins -p create-charge -p payment-webhook -p ruler-tick -p send-notification \
	  -p register-payment -p pay-page -p deliver-webhooks -p empty-function -p local-runner
	bash infra/bench/run.sh

# Debian's Chromium (apt, as root) and playwright-core for the browser test of the payer's page.
browser-deps:
	if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser-deps: install Debian's chromium (sudo apt-get install chromium)" >&2; exit 1; fi; fi
	if ! cmp -s tests/browser/package-lock.json tests/browser/node_modules/.package-lock.json; then \
	  (cd tests/browser && npm ci --no-audit --no-fund --silent); fi

lint: install
	bash infra/lint.sh
	cargo fmt --all --check
	cargo fmt --manifest-path fuzz/Cargo.toml --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all
	cargo fmt --manifest-path fuzz/Cargo.toml

# The Lambda artefacts as AWS runs them (Graviton, provided.al2023), zipped per function.
# rust-std for aarch64 comes from the Rust distribution server, not a package registry: where it cannot be had,
# the same build is made for x86_64 and says so, rather than failing the whole run.
lambda-build: install
	if rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu; then \
	  arch=--arm64; else echo "WARNING: aarch64 target unavailable here; building x86_64 Lambda artefacts instead"; arch=--x86-64; fi; \
	PATH="$(TOOLS):$$PATH" cargo lambda build --release $$arch --output-format zip \
	  -p create-charge -p payment-webhook -p ruler-tick -p send-notification -p register-payment -p pay-page \
	  -p deliver-webhooks -p empty-function
	@for f in create-charge payment-webhook ruler-tick send-notification register-payment pay-page deliver-webhooks empty-function; do \
	  ls -l target/lambda/$$f/bootstrap.zip; done

stop:
	bash infra/local/localstack.sh stop

clean: stop
	rm -rf .local target

chaos:
	@mkdir -p test-output
	@echo "| scenario                                                   |  runs | expected |   seen | lost | duplicated | faults | resent |"
	@echo "|------------------------------------------------------------|-------|----------|--------|------|------------|--------|--------|"
	@status=0; COBRANCA_CHAOS_ROUNDS=$(CHAOS_ROUNDS) cargo test -q -p cobranca --test chaos -- --nocapture --test-threads 1 >test-output/chaos.log 2>&1 || status=$$?; \
	  grep -oE '\| [^|]+( \| +[0-9]+){7} \|' test-output/chaos.log || true; \
	  if [ $$status -ne 0 ]; then tail -40 test-output/chaos.log; exit $$status; fi
