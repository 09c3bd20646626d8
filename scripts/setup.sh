#!/usr/bin/env bash
# basin set-up: idempotent, quick when nothing changed. Installs what is missing (libtorch,
# an optimized BLAS, the PyTorch peer used by tests and benchmarks, npm packages), builds the
# native addon when its sources changed, and compiles the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "basin setup: $*" >&2; }

can_apt() {
  command -v apt-get >/dev/null 2>&1 || return 1
  [ "$(id -u)" = 0 ] && return 0
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null
}
apt_install() {
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if [ ! -f /tmp/.basin-apt-updated ]; then $sudo apt-get update -qq >&2 && touch /tmp/.basin-apt-updated; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# 1. libtorch: LIBTORCH, then the system install, then a Python torch package.
if [ "$(node native/torch-paths.cjs json)" = "null" ]; then
  if can_apt; then
    say "libtorch not found; installing Debian libtorch-dev and libopenblas0-pthread (a few minutes)"
    apt_install libtorch-dev libopenblas0-pthread
  else
    say "libtorch not found and apt-get is not usable here. Install one of:"
    say "  - Debian/Ubuntu: sudo apt-get install libtorch-dev libopenblas0-pthread"
    say "  - or unpack libtorch from pytorch.org and export LIBTORCH=/path/to/libtorch"
    say "  - or pip install torch (basin then builds against the Python package)"
    exit 1
  fi
fi

# 2. With Debian's libtorch, make sure OpenBLAS (not reference BLAS, ~40x slower) is installed.
if [ -z "${LIBTORCH:-}" ] && [ -f /usr/include/torch/csrc/api/include/torch/version.h ] && ! have_pkg libopenblas0-pthread; then
  if can_apt; then say "installing libopenblas0-pthread (optimized BLAS)"; apt_install libopenblas0-pthread
  else say "WARNING: libopenblas0-pthread is missing; matmuls will use reference BLAS (~40x slower)"; fi
fi

# 3. The PyTorch peer (Debian python3-torch) that tests and benchmarks compare against.
if ! /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then
  if can_apt; then say "installing python3-torch (the PyTorch reference for tests and benchmarks)"; apt_install python3-torch
  else say "WARNING: /usr/bin/python3 has no torch; tests that compare with PyTorch will be skipped"; fi
fi

# 4. Chromium, for the tests that open reports in a real browser.
if ! command -v chromium >/dev/null 2>&1; then
  if can_apt; then say "installing chromium (report tests open reports in a headless browser)"; apt_install chromium
  else say "WARNING: no chromium; the report browser tests will be skipped"; fi
fi

# 5. npm packages.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# 6. The native addon, rebuilt when its sources change.
addon=build/Release/basin.node
if [ ! -f "$addon" ] || [ native/basin.cc -nt "$addon" ] || [ binding.gyp -nt "$addon" ] || [ native/torch-paths.cjs -nt "$addon" ]; then
  say "building the native addon against $(node native/torch-paths.cjs json | sed 's/.*"how":"\([^"]*\)".*/\1/') (about 20 s)"
  npx node-gyp rebuild -j 2 --loglevel=error >/tmp/basin-node-gyp.log 2>&1 || { cat /tmp/basin-node-gyp.log >&2; say "native build failed (log above)"; exit 1; }
fi

# 7. TypeScript (incremental). Compiled files whose source was moved or deleted are removed
#    first: tsc never deletes outputs, and a stale dist/test/*.test.js would still run.
if [ -d dist ]; then
  find dist/src dist/test dist/bench -name '*.js' 2>/dev/null | while read -r js; do
    ts="${js#dist/}"; ts="${ts%.js}.ts"
    [ -f "$ts" ] || rm -f "$js" "${js%.js}.d.ts" "$js.map"
  done
fi
npx tsc -p tsconfig.json
