#!/usr/bin/env bash
# Checks that every source file includes only what its layer may see (STYLE.md: dependencies
# point down). Run by the build (target check_layers, part of ALL) and by ctest.
#   scripts/check-layers.sh [SOURCE_DIR]
# Exit 0 when clean; 1 with one line per offending include otherwise.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# Layer (folder) -> the include prefixes it may use, its own folder included.
declare -A allowed=(
  [base]="base"
  [scsi]="base scsi"
  [cam]="base scsi cam"
  [devfs]="base devfs"
  [sims]="base scsi cam sims/SELF"
  [periphs]="base scsi cam devfs periphs/node periphs/SELF"
  [stack]="base scsi cam devfs periphs sims stack"
  [service]="base scsi cam devfs periphs sims stack service"
  [daemon]="base scsi cam devfs periphs sims stack service daemon"
  [cli]="base scsi cam devfs periphs sims stack service cli"
  [preload]="base preload"
)
# Headers of cam/ by audience: SIMs see the SIM side, drivers the periph side; the XPT's
# internals (xpt_device.h) never leave cam/.
sim_cam="cam/sim.h cam/xpt_sim.h cam/ccb.h cam/path.h cam/async.h cam/cancel.h cam/device_info.h"
periph_cam="cam/periph.h cam/xpt_periph.h cam/ccb.h cam/path.h cam/async.h cam/cancel.h cam/device_info.h"

bad=0
report() {
  echo "$1: includes \"$2\": $3"
  bad=1
}
while IFS= read -r file; do
  layer=${file%%/*}
  [[ -n ${allowed[$layer]:-} ]] || continue
  self=""
  if [[ $layer == sims || $layer == periphs ]]; then
    self=$(cut -d/ -f2 <<<"$file")
  fi
  while IFS= read -r inc; do
    [[ $inc == */* ]] || continue  # system or same-folder includes
    ok=0
    for prefix in ${allowed[$layer]//SELF/$self}; do
      [[ $inc == "$prefix"/* ]] && ok=1 && break
    done
    if ((!ok)); then
      report "$file" "$inc" "layer '$layer' may not see '${inc%/*}'"
      continue
    fi
    if [[ $inc == cam/xpt_device.h && $layer != cam ]]; then
      report "$file" "$inc" "XPT internals stay in cam/"
    elif [[ $inc == cam/* && $layer == sims && " $sim_cam " != *" $inc "* ]]; then
      report "$file" "$inc" "a SIM sees only the SIM side of cam/ ($sim_cam)"
    elif [[ $inc == cam/* && $layer == periphs && " $periph_cam " != *" $inc "* ]]; then
      report "$file" "$inc" "a driver sees only the periph side of cam/ ($periph_cam)"
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(find base scsi cam devfs sims periphs stack service daemon cli preload \
           \( -name '*.h' -o -name '*.cpp' \) 2>/dev/null | sort)
exit "$bad"
