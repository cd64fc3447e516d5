#!/usr/bin/env bash
# scripts/check-layers.sh: clean on the real tree, and catches each kind of violation in a
# scratch tree.
set -euo pipefail
src=$1
checker=$src/scripts/check-layers.sh
bash "$checker" "$src" || { echo "FAIL: the source tree itself breaks the layering"; exit 1; }

scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
expect() {  # expect FILE 'INCLUDE' 'message fragment'
  rm -rf "${scratch:?}"/*; mkdir -p "$scratch/$(dirname "$1")"
  printf '#include "%s"\n' "$2" > "$scratch/$1"
  if out=$(bash "$checker" "$scratch"); then
    echo "FAIL: $1 including $2 was accepted"; exit 1
  fi
  [[ $out == *"$3"* ]] || { echo "FAIL: $1 including $2: '$out' lacks '$3'"; exit 1; }
}
expect scsi/x.cpp cam/ccb.h "layer 'scsi' may not see 'cam'"
expect cam/x.cpp devfs/devfs.h "layer 'cam' may not see 'devfs'"
expect periphs/pass/x.cpp periphs/enc/enc.h "layer 'periphs' may not see 'periphs/enc'"
expect periphs/pass/x.cpp cam/xpt_device.h "XPT internals stay in cam/"
expect periphs/pass/x.cpp cam/xpt_sim.h "periph side of cam/"
expect sims/emu/x.cpp cam/xpt.h "SIM side of cam/"
expect sims/emu/x.cpp sims/sg/sg.h "layer 'sims' may not see 'sims/sg'"
expect stack/x.cpp service/service.h "layer 'stack' may not see 'service'"
expect daemon/x.cpp cli/client.h "layer 'daemon' may not see 'cli'"
# Allowed: a driver's own folder, node, and the periph side of cam/.
rm -rf "${scratch:?}"/*; mkdir -p "$scratch/periphs/da"
printf '#include "periphs/da/da.h"\n#include "periphs/node/node_periph.h"\n#include "cam/xpt_periph.h"\n#include <vector>\n' \
  > "$scratch/periphs/da/x.cpp"
bash "$checker" "$scratch" || { echo "FAIL: allowed includes refused"; exit 1; }
echo "check-layers: 10 cases passed"
