#!/usr/bin/env bash
# The body of `make test`, once the stacks are deployed and the binaries built: every Rust test, schemathesis,
# the independent validators, the template lint and rustfmt. The 120-day régua simulation (about ten minutes of ticks
# against LocalStack, on its own stack) runs in the background beside everything else instead of after it, so
# the suite's wall time is the longer of the two rather than their sum. Any failure fails the run; every part
# still runs, and its output is printed.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-output
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
SIMULATION=a_hundred_and_twenty_days_of_ticks_send_exactly_what_was_planned

# Build every test binary first (one cargo at a time holds the build directory).
cargo test --workspace --no-run || exit 1
sim_bin=$(cargo test -p cobranca --test simulation --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "simulation":
        print(m["executable"])')
[ -x "$sim_bin" ] || { echo "test: simulation test binary not found" >&2; exit 1; }

started=$SECONDS
(cd shared && "$sim_bin" --exact "$SIMULATION" --nocapture) > test-output/simulation.log 2>&1 &
sim_pid=$!
# CI passes more work to fill the cores the simulation leaves idle (e.g. TEST_ALSO="make fuzz-ci").
also_pid=
if [ -n "${TEST_ALSO:-}" ]; then
  (bash -c "$TEST_ALSO") > test-output/also.log 2>&1 &
  also_pid=$!
fi

failed=()
cargo test --workspace --no-fail-fast -- --skip "$SIMULATION" || failed+=("cargo test")
bash infra/schemathesis.sh || failed+=("schemathesis")
VALIDATORS_HOME=$PWD/.local/validators bash tests/validators/run.sh 2000 || failed+=("validators")
bash infra/lint.sh || failed+=("lint")
{ cargo fmt --all --check && cargo fmt --manifest-path fuzz/Cargo.toml --check; } || failed+=("cargo fmt (run: cargo fmt --all)")

wait "$sim_pid" || failed+=("simulation")
echo "---- régua simulation (background, $((SECONDS - started)) s) ----"
cat test-output/simulation.log
if [ -n "$also_pid" ]; then
  wait "$also_pid" || failed+=("$TEST_ALSO")
  echo "---- $TEST_ALSO (background, $((SECONDS - started)) s) ----"
  tail -40 test-output/also.log
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "test: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test: all passed"
