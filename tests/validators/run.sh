#!/usr/bin/env bash
# Runs cobranca's generated Pix BR Codes and boleto linhas through validators we did not write.
# The venv and node_modules live outside the repo, in $VALIDATORS_HOME.
#
#   GEN='cargo run -q -p cobranca --example gen --' tests/validators/run.sh [count]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."  # the repository root, where `cargo run -p cobranca` works
home="${VALIDATORS_HOME:-/tmp/cobranca-validators}"
count="${1:-2000}"
gen="${GEN:-cargo run -q -p cobranca --example gen --}"

mkdir -p "$home"
if [ ! -x "$home/venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$home/venv/requirements.installed"; then
  python3 -m venv "$home/venv"
  "$home/venv/bin/pip" install -q -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$home/venv/requirements.installed"
fi
cp "$here/package.json" "$here/package-lock.json" "$here/check.mjs" "$here/check_pix.py" "$here/summarise.py" "$here/corrupt.py" "$here/check_itf.py" "$here/check_qr.py" "$home/"
if [ ! -d "$home/node_modules" ] || ! cmp -s "$here/package-lock.json" "$home/node_modules/.package-lock.json.copy"; then
  (cd "$home" && npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.package-lock.json.copy)
fi

out="$home/run"
mkdir -p "$out"
$gen pix "$count" > "$out/pix.txt"
$gen pix "$count" --expected > "$out/pix.expected.jsonl"
$gen boleto "$count" > "$out/boleto.txt"
$gen boleto "$count" --expected > "$out/boleto.expected.jsonl"
$gen itf "$count" > "$out/itf.txt"
$gen qr "$count" > "$out/qr.txt"

"$home/venv/bin/python" "$home/check_pix.py" < "$out/pix.txt" > "$out/pix.stark.jsonl"
(cd "$home" && node check.mjs pix < "$out/pix.txt" > "$out/pix.brutils.jsonl")
(cd "$home" && node check.mjs boleto < "$out/boleto.txt" > "$out/boleto.brutils.jsonl")

status=0
"$home/venv/bin/python" "$home/summarise.py" pix "$out/pix.expected.jsonl" "$out/pix.stark.jsonl" "$out/pix.brutils.jsonl" || status=1
"$home/venv/bin/python" "$home/summarise.py" boleto "$out/boleto.expected.jsonl" "$out/boleto.brutils.jsonl" || status=1
itf_ok=$("$home/venv/bin/python" "$home/check_itf.py" < "$out/itf.txt" | grep -c '"ok": true' || true)
echo "itf-25: zxing-cpp decoded $itf_ok/$count SVG barcodes to the same 44 digits"
[ "$itf_ok" = "$count" ] || status=1
qr_ok=$("$home/venv/bin/python" "$home/check_qr.py" < "$out/qr.txt" | grep -c '"ok": true' || true)
echo "pix qr png: zxing-cpp decoded $qr_ok/$count PNG QR codes to the same BR Code"
[ "$qr_ok" = "$count" ] || status=1

# The validators must also say no: one changed character per line.
py="$home/venv/bin/python"
"$py" "$home/corrupt.py" pix < "$out/pix.txt" > "$out/pix.corrupt.txt"
"$py" "$home/corrupt.py" boleto < "$out/boleto.txt" > "$out/boleto.corrupt.txt"
stark_rejects=$("$py" "$home/check_pix.py" < "$out/pix.corrupt.txt" | grep -c '"ok": false' || true)
brutils_pix_rejects=$(cd "$home" && node check.mjs pix < "$out/pix.corrupt.txt" | grep -c '"ok":false' || true)
boleto_corrupt=$(cd "$home" && node check.mjs boleto < "$out/boleto.corrupt.txt")
brutils_boleto_rejects=$(grep -c '"ok":false' <<< "$boleto_corrupt" || true)
bbv_rejects=$(grep -c '"bbv_ok":false' <<< "$boleto_corrupt" || true)
echo "corrupted pix: starkbank-brcode rejected $stark_rejects/$count, @brazilian-utils rejected $brutils_pix_rejects/$count"
echo "corrupted boleto: @brazilian-utils rejected $brutils_boleto_rejects/$count, boleto-brasileiro-validator rejected $bbv_rejects/$count"
echo "  (a changed digit in the value/factor can slip past the FEBRABAN mod-11 DV when it is 1; see pay::boleto)"
exit $status
