#!/usr/bin/env bash
# The main job: set up, build, and run the demo on the emulated topology.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh default
ucamctl=build/default/cli/ucamctl
run() { echo; echo "\$ ucamctl $*"; "$ucamctl" "$@"; }
run devlist -v
run inquiry pass0
run tur 0:1:0
run cmd pass0 --cdb "25 00 00 00 00 00 00 00 00 00" --in 8
run enc list
run enc show
run enc locate pass9 on
run enc status
run enc decode examples/ses-testjbod4.hex
run --json devlist
