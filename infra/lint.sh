#!/usr/bin/env bash
# Lints template.yaml with cfn-lint and `sam validate --lint` (offline). Needs infra/local/install.sh first.
# Exit code is non-zero on any error.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$REPO/.local/venv-tools"
[ -x "$TOOLS/bin/cfn-lint" ] && [ -x "$TOOLS/bin/sam" ] || {
  echo "[lint] ERROR: $TOOLS missing: run bash infra/local/install.sh" >&2; exit 1; }

export SAM_CLI_TELEMETRY=0
# sam validate wants a region and credentials-free is fine; keep it off any real endpoint/profile.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
unset AWS_PROFILE

cd "$REPO"
rc=0
echo "[lint] cfn-lint $("$TOOLS/bin/cfn-lint" --version | awk '{print $NF}') template.yaml"
"$TOOLS/bin/cfn-lint" template.yaml || rc=1
echo "[lint] sam validate --lint"
"$TOOLS/bin/sam" validate --lint --region us-east-1 --template-file template.yaml || rc=1
if [ $rc -eq 0 ]; then echo "[lint] ok"; else echo "[lint] FAILED" >&2; fi
exit $rc
