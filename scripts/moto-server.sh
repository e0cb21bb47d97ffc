#!/usr/bin/env bash
# A local moto server (AWS API mock) for the Athena/Glue/S3 adapter tests; no real AWS is reachable.
#
#   eval "$(scripts/moto-server.sh start)"   # exports STRATA_TEST_AWS_ENDPOINT=http://127.0.0.1:PORT
#                                             # and STRATA_TEST_AWS_PYTHON (the venv's python)
#   scripts/moto-server.sh stop
#
# start is idempotent: a server already running is reused. $MOTO_PORT picks the port (else a free
# one). moto lives in its own virtualenv under $STRATA_CACHE so the system Python stays untouched.
# Only the export line goes to stdout (it is eval'd); everything else goes to stderr.
set -euo pipefail

cache=${STRATA_CACHE:-$HOME/.cache/strata}
venv=$cache/venv-moto
state=$cache/moto
# Pinned: moto's Athena/state-manager behaviour (which the tests rely on) changes between releases.
# AWS's MSK IAM signer (Python) goes in the same virtualenv: the tests compare Strata's MSK IAM
# tokens with the ones it makes.
spec=${MOTO_SPEC:-moto[server]==5.2.5 aws-msk-iam-sasl-signer-python==1.0.2}
mkdir -p "$state"

log() { echo "moto-server: $*" >&2; }

# Our server is running if the pid file names a live moto_server (a reused pid is not ours).
running() {
  local pid
  pid=$(cat "$state/pid" 2>/dev/null) || return 1
  grep -qa moto_server "/proc/$pid/cmdline" 2>/dev/null
}

answers() { curl -fsS -o /dev/null --max-time 1 "$1/moto-api/data.json" 2>/dev/null; }

start() {
  # Serialise concurrent starts (parallel test runs); fd 9 is closed for the server below so the
  # lock is released when this script exits.
  exec 9>"$state/lock"
  flock -w 300 9
  if running && answers "$(cat "$state/url")"; then
    echo "export STRATA_TEST_AWS_ENDPOINT=$(cat "$state/url") STRATA_TEST_AWS_PYTHON=$venv/bin/python"
    return
  fi
  # The .ok marker is written last, so an interrupted install is redone rather than half-used.
  if [[ ! -f $venv/.ok || $(cat "$venv/.ok") != "$spec" ]]; then
    log "installing $spec into $venv"
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    local reqs
    read -ra reqs <<<"$spec" # a list of requirements; read does not glob moto[server]
    "$venv/bin/pip" install -q "${reqs[@]}" >&2
    echo "$spec" >"$venv/.ok"
  fi
  local port=${MOTO_PORT:-$("$venv/bin/python" -c \
    'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  local url=http://127.0.0.1:$port
  # nohup + redirected stdio: the server outlives this script and `eval "$(...)"` does not hang
  # waiting for the server's stdout to close.
  nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" </dev/null >"$state/server.log" 2>&1 9>&- &
  local pid=$!
  for _ in $(seq 100); do # bounded: 100 x 0.2 s
    if answers "$url"; then
      echo "$pid" >"$state/pid"
      echo "$url" >"$state/url"
      log "pid $pid on $url (log: $state/server.log)"
      echo "export STRATA_TEST_AWS_ENDPOINT=$url STRATA_TEST_AWS_PYTHON=$venv/bin/python"
      return
    fi
    kill -0 "$pid" 2>/dev/null || break # died early, e.g. port in use
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  log "moto_server did not answer on $url; its log:"
  tail -n 20 "$state/server.log" >&2
  exit 1
}

stop() {
  if running; then
    local pid
    pid=$(cat "$state/pid")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped pid $pid"
  fi
  rm -f "$state/pid" "$state/url"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
