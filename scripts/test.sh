#!/usr/bin/env bash
# The whole test suite of one preset (default: "default"): set up, build, run ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-default}
bash scripts/setup.sh
bash scripts/build.sh "$preset"
ctest --preset "$preset"
