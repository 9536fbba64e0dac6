#!/usr/bin/env bash
# Runs LocalStack (DynamoDB, SQS, EventBridge, CloudFormation; no Lambda) on the host, without Docker.
# Usage: infra/local/localstack.sh start|stop|status|wait     (port: LOCALSTACK_PORT, default 4566)
# Needs infra/local/install.sh first. Log: .local/localstack.log, pid: .local/localstack.pid
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="$REPO/.local"
PORT="${LOCALSTACK_PORT:-4566}"
URL="http://127.0.0.1:$PORT"
VENV="$LOCAL/venv-localstack"
FS_MAIN="$LOCAL/localstack-fs"
if [ "$PORT" = 4566 ]; then
  SUFFIX=""
else
  # Another port is another instance with its own pid, log and state (sharing the installed jars).
  SUFFIX="-$PORT"
fi
PIDFILE="$LOCAL/localstack$SUFFIX.pid"
LOGFILE="$LOCAL/localstack$SUFFIX.log"
FS="$LOCAL/localstack-fs$SUFFIX"
WAIT_SECONDS="${LOCALSTACK_WAIT_SECONDS:-60}"

log() { printf '[localstack] %s\n' "$*"; }
die() { printf '[localstack] ERROR: %s\n' "$*" >&2; exit 1; }

healthy() {
  # "running" or "available" for the services we use means the gateway is up.
  curl -fsS --max-time 2 "$URL/_localstack/health" 2>/dev/null | grep -q '"dynamodb"'
}

pid_alive() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

wait_healthy() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  while [ $SECONDS -lt $deadline ]; do
    if healthy; then return 0; fi
    if [ -f "$PIDFILE" ] && ! pid_alive; then
      log "process exited; last log lines:"; tail -n 30 "$LOGFILE" >&2 || true
      return 1
    fi
    sleep 0.3
  done
  log "not healthy after ${WAIT_SECONDS}s at $URL; last log lines:"; tail -n 30 "$LOGFILE" >&2 || true
  return 1
}

start() {
  if healthy; then
    log "already running and healthy at $URL (pid $(cat "$PIDFILE" 2>/dev/null || echo '?'))"
    return 0
  fi
  [ -x "$VENV/bin/python" ] || die "$VENV missing: run bash infra/local/install.sh"
  [ -f "$FS_MAIN/var/lib/localstack/lib/dynamodb-local/2/DynamoDBLocal.jar" ] || die "$FS_MAIN not laid out: run bash infra/local/install.sh"
  if [ "$FS" != "$FS_MAIN" ] && [ ! -e "$FS/var/lib/localstack/lib" ]; then
    mkdir -p "$FS/var/lib/localstack"
    ln -sfn "$FS_MAIN/var/lib/localstack/lib" "$FS/var/lib/localstack/lib"
  fi
  if pid_alive; then
    die "pid $(cat "$PIDFILE") is alive but $URL is not healthy; run: $0 stop"
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT is taken by another program (set LOCALSTACK_PORT)"
  fi
  mkdir -p "$LOCAL/xdg-cache" "$FS/tmp"
  log "starting on $URL (log: $LOGFILE)"
  local t0=$SECONDS
  # setsid: own process group, so stop can end LocalStack and its DynamoDB Local JVM together.
  (
    cd "$LOCAL"
    export GATEWAY_LISTEN="127.0.0.1:$PORT" \
      LOCALSTACK_HOST="127.0.0.1:$PORT" \
      FILESYSTEM_ROOT="$FS" \
      XDG_CACHE_HOME="$LOCAL/xdg-cache" \
      OVERRIDE_IN_DOCKER=0 \
      DISABLE_EVENTS=1 \
      SKIP_SSL_CERT_DOWNLOAD=1 \
      DNS_ADDRESS=0 \
      SQS_ENDPOINT_STRATEGY=path \
      EAGER_SERVICE_LOADING="${EAGER_SERVICE_LOADING:-0}" \
      DEBUG="${LOCALSTACK_DEBUG:-0}"
    # Optional: restrict the services, e.g. LOCALSTACK_SERVICES=dynamodb,sqs,events,cloudformation,s3
    if [ -n "${LOCALSTACK_SERVICES:-}" ]; then export SERVICES="$LOCALSTACK_SERVICES"; fi
    unset AWS_ENDPOINT_URL
    exec setsid nohup "$VENV/bin/python" -m localstack.runtime.main >"$LOGFILE" 2>&1 </dev/null
  ) &
  echo $! > "$PIDFILE"
  if wait_healthy; then
    log "healthy in $((SECONDS - t0)) s (pid $(cat "$PIDFILE"))"
  else
    stop || true
    die "failed to start"
  fi
}

descendants() { # pid -> all descendant pids (LocalStack starts DynamoDB Local in its own session)
  local c
  for c in $(pgrep -P "$1" 2>/dev/null || true); do echo "$c"; descendants "$c"; done
}

stop() {
  if ! pid_alive; then
    rm -f "$PIDFILE"
    if healthy; then die "something else is answering on $URL (not started by this script)"; fi
    log "not running"
    return 0
  fi
  local pid kids p i alive
  pid="$(cat "$PIDFILE")"
  kids="$(descendants "$pid" | tr '\n' ' ')"
  log "stopping pid $pid${kids:+ and children $kids}"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 75); do
    alive=""
    for p in $pid $kids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.2
  done
  if [ -n "$alive" ]; then
    log "still alive after 15 s:$alive; sending KILL"
    for p in $alive; do kill -KILL "$p" 2>/dev/null || true; done
  fi
  rm -f "$PIDFILE"
  log "stopped"
}

status() {
  if healthy; then
    log "running at $URL (pid $(cat "$PIDFILE" 2>/dev/null || echo '?'))"
    curl -fsS --max-time 2 "$URL/_localstack/health"; echo
  elif pid_alive; then
    log "pid $(cat "$PIDFILE") alive but not healthy at $URL"; return 1
  else
    log "not running"; return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  wait) wait_healthy && log "healthy at $URL" ;;
  restart) stop; start ;;
  *) echo "usage: $0 start|stop|status|wait|restart" >&2; exit 2 ;;
esac
