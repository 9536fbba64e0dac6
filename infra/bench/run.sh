#!/usr/bin/env bash
# make bench: every figure of issue #9 in one run, on this machine, printed as one report
# (test-output/bench/report.md). Needs LocalStack running (make deploy-local) and the release builds.
#   1. cold start of each function's release binary beside an empty lambda_runtime function (and zip sizes);
#   2. one tick over a table of BENCH_CHARGES (default 1,000,000) charges, BENCH_DUE (1,000) of them due,
#      on a standalone in-memory DynamoDB Local;
#   3. domain throughput (criterion);
#   4. the AWS cost of BENCH_COST_CHARGES (1,000) charges through a whole life on LocalStack.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=test-output/bench
mkdir -p "$out"
runner=target/release/local-runner
port="${LOCALSTACK_PORT:-4566}"
suffix=""; [ "$port" != 4566 ] && suffix="-$port"

log() { echo "[bench] $*" >&2; }

# 1. Cold starts.
log "cold start (release binaries in target/release, zips in target/lambda)"
set -a; . ".local/stack-cobranca-local$suffix.env"; set +a
"$runner" bench cold-start --bin-dir target/release --zip-dir target/lambda --runs "${BENCH_RUNS:-7}" --out "$out/cold-start.json"

# 2. Tick at scale on its own DynamoDB Local (seeding through LocalStack's proxy is ~10x slower).
ddb_dir=.local/localstack-fs/var/lib/localstack/lib/dynamodb-local/2
ddb_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log "DynamoDB Local (in memory) on port $ddb_port"
(cd "$ddb_dir" && exec java -Xmx12g -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -port "$ddb_port") >"$out/dynamodb-local.log" 2>&1 &
ddb_pid=$!
trap 'kill $ddb_pid 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -s -o /dev/null "http://127.0.0.1:$ddb_port" && break; sleep 0.5; done
"$runner" bench tick-scale --charges "${BENCH_CHARGES:-1000000}" --due "${BENCH_DUE:-1000}" --writers 8 \
  --dynamodb-endpoint "http://127.0.0.1:$ddb_port" --template template.yaml
kill $ddb_pid 2>/dev/null || true

# 3. Domain throughput.
log "criterion benchmarks"
cargo bench -q -p cobranca --bench domain -- --noplot 2>/dev/null | grep -E "time:|thrpt:|^domain/" || true
python3 - "$out/domain.md" <<'PY'
import json, sys, pathlib
rows = [("regua_plan", "schedules evaluated per second per core", 1_000_000), ("amount_due", "amount_due per second", None),
        ("brcode_static", "BR Codes generated per second", None), ("webhook_verify_1kb", "1 kB webhook signatures verified per second", None)]
out = ["| measure | figure | target |", "|---|---|---|"]
for name, label, target in rows:
    est = pathlib.Path(f"target/criterion/domain/{name}/new/estimates.json")
    if not est.exists():
        out.append(f"| {label} | not measured | |"); continue
    ns = json.loads(est.read_text())["mean"]["point_estimate"]
    per_s = 1e9 / ns
    miss = "" if target is None or per_s >= target else " **miss**"
    out.append(f"| {label} | {per_s:,.0f} ({ns:,.0f} ns each){miss} | {'≥ {:,}'.format(target) if target else '–'} |")
pathlib.Path(sys.argv[1]).write_text("\n".join(out) + "\n")
print("\n".join(out))
PY

# 4. Cost model, on a fresh stack (the run moves its tick watermark 12 days ahead).
stack="cobranca-cost$(date +%s)"
log "cost model on stack $stack"
bash infra/local/deploy.sh "$stack" >/dev/null
set -a; . ".local/stack-$stack$suffix.env"; set +a
"$runner" bench cost --charges "${BENCH_COST_CHARGES:-1000}" --bin-dir target/release

{
  echo "# make bench — $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)"
  echo; echo "## Cold start"; echo; cat "$out/cold-start.md"
  echo; echo "## Tick at scale"; echo; cat "$out/tick-scale.md"
  echo; echo "## Domain throughput (one core)"; echo; cat "$out/domain.md"
  echo; echo "## Cost per 1,000 charges"; echo; cat "$out/cost.md"
} > "$out/report.md"
echo; cat "$out/report.md"
