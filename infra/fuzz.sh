#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer): builds every target in fuzz/ and runs each for N seconds (default 60),
# starting from the seed corpus in fuzz/corpus/<target>/ (read-only: what a run discovers goes to a scratch
# directory, so the committed corpus stays small). Prints one line per target — runs executed, seconds, corpus
# size, crashes — and exits non-zero if any target crashed, leaving the crashing input in fuzz/artifacts/<target>/.
#
#   bash infra/fuzz.sh [SECONDS] [TARGET...]
#
# cargo-fuzz installs itself into .local/cargo-fuzz. It needs a nightly compiler: the installed nightly toolchain
# if there is one, else the stable one with RUSTC_BOOTSTRAP=1 (what a clean machine with only stable has).
# Targets are built without a sanitizer (safe Rust: panics, overflow checks and debug assertions are the oracle)
# and in release mode with debug assertions, which cargo-fuzz does by default.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-60}
shift || true
FUZZ_LOCAL=$ROOT/.local/cargo-fuzz
export CARGO_TERM_COLOR=never

step_start=$SECONDS
if [ ! -x "$FUZZ_LOCAL/bin/cargo-fuzz" ]; then
  echo "fuzz: installing cargo-fuzz into .local/cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet --root "$FUZZ_LOCAL"
fi
install_seconds=$((SECONDS - step_start))
export PATH="$FUZZ_LOCAL/bin:$PATH"

# Which compiler: a nightly toolchain if rustup has one, else stable made to accept nightly flags.
if rustup run nightly rustc --version >/dev/null 2>&1; then
  export RUSTUP_TOOLCHAIN=nightly
  toolchain="nightly ($(rustc --version))"
else
  export RUSTC_BOOTSTRAP=1
  toolchain="$(rustc --version) with RUSTC_BOOTSTRAP=1"
fi

cd "$ROOT/fuzz"
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi

step_start=$SECONDS
echo "fuzz: building ${#targets[@]} targets with $toolchain"
# FUZZ_DEV=1 (CI's time box) builds the targets unoptimised: minutes less to build, fewer runs per second.
profile=()
[ "${FUZZ_DEV:-0}" = 1 ] && profile=(--dev)
cargo fuzz build --sanitizer none "${profile[@]}"
build_seconds=$((SECONDS - step_start))

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
crashed=()
rows=()
for target in "${targets[@]}"; do
  corpus=$scratch/$target
  mkdir -p "$corpus" "artifacts/$target"
  log=$scratch/$target.log
  start=$SECONDS
  status=0
  # New inputs go to the scratch directory (the first one named); the seeds are only read.
  cargo fuzz run --sanitizer none "${profile[@]}" "$target" "$corpus" "corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  took=$((SECONDS - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
  corpus_size=$(( $(find "$corpus" -type f | wc -l) + $(find "corpus/$target" -type f | wc -l) ))
  crashes=0
  if [ "$status" -ne 0 ]; then
    crashes=1
    crashed+=("$target")
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "fuzz: $target FAILED (exit $status):" >&2
    grep -m1 -A2 -E 'panicked at|ERROR: libFuzzer' "$log" >&2 || true
    echo "fuzz: the end of its output:" >&2
    grep -v -E '^#[0-9]+|^INFO:|^stat::|^ +[0-9]+: |^ +at ' "$log" | tail -30 >&2
    echo "fuzz: $target crashing input: ${artifact:-see the output above}" >&2
    [ -n "$artifact" ] && echo "fuzz: reproduce with: (cd fuzz && cargo fuzz run --sanitizer none $target $artifact)" >&2
  fi
  rows+=("$(printf '%-20s %12s %8s %12s %8s' "$target" "${runs:-?}" "$took" "$corpus_size" "$crashes")")
done

echo
echo "fuzz: cargo-fuzz install ${install_seconds}s, build ${build_seconds}s, ${SECONDS_PER_TARGET}s per target"
printf '%-20s %12s %8s %12s %8s\n' target runs seconds corpus crashes
printf '%s\n' "${rows[@]}"
if [ ${#crashed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${crashed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, 0 crashes"
