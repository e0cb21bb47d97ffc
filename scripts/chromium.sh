#!/usr/bin/env bash
# Headless Chromium (Debian's `chromium` package) and playwright-core to drive it, for the
# tests that open the generated docs site (tests/integration/docs.rs). Chromium installs once
# into the system; playwright-core (no browser of its own) once into $STRATA_CACHE.
#
#   eval "$(scripts/chromium.sh)"   # exports STRATA_TEST_CHROMIUM and STRATA_TEST_NODE_PATH
#
# Only the export line goes to stdout (it is eval'd); everything else goes to stderr.
set -euo pipefail

cache=${STRATA_CACHE:-$HOME/.cache/strata}
dir=$cache/node-playwright
# Pinned: the API the page tests use (launch with executablePath, console events).
spec=${PLAYWRIGHT_SPEC:-playwright-core@1.57.0}
mkdir -p "$cache"

exec 9>"$cache/chromium.lock"
flock -w 600 9
if [[ ! -x /usr/bin/chromium ]]; then
  echo "chromium: installing Debian's chromium" >&2
  sudo=""
  [[ $(id -u) != 0 ]] && sudo=sudo
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
fi
# The .ok marker is written last, so an interrupted install is redone rather than half-used.
if [[ ! -f $dir/.ok || $(cat "$dir/.ok") != "$spec" ]]; then
  echo "chromium: installing $spec into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "$spec" >&2)
  echo "$spec" >"$dir/.ok"
fi
echo "export STRATA_TEST_CHROMIUM=/usr/bin/chromium STRATA_TEST_NODE_PATH=$dir/node_modules"
