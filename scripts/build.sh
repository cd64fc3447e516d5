#!/usr/bin/env bash
# Configures and builds one preset (default: "default"), with ccache shared across clones.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-default}
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
