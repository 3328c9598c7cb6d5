#!/usr/bin/env bash
# The README's test command: installs what it needs, builds, runs the whole suite.
#   JOULIE_SANITIZE=0   skip the ASan+UBSan pass (default: run it)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

build=${JOULIE_BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build"
meson test -C "$build" --print-errorlogs --num-processes 2
