#!/usr/bin/env bash
# Regenerates the SES seeds fuzz/corpus/ses/emu-seed<N>-all.bin (corpus/ses_render is a link to
# corpus/ses) from the emulated enclosures of fuzz/ses-seeds.json: every SES element type
# 00h-19h, at most 16 elements per enclosure (ses_render_fuzz renders no more), EIIOE 0 and 1.
# Each seed is the enclosure's Configuration, Enclosure Status, Threshold In, Element Descriptor
# and Additional Element Status pages back to back, read with RECEIVE DIAGNOSTIC RESULTS through
# `ucamctl --emulate ... cmd`.
#
# Usage: fuzz/ses-seeds.sh [UCAMCTL]     default build/release/cli/ucamctl
set -euo pipefail

cd "$(dirname "$0")/.."
ucamctl=${1:-build/release/cli/ucamctl}
scenario=fuzz/ses-seeds.json
for n in 0 1 2 3; do
  out=$(mktemp)
  for page in 01 02 05 07 0a; do
    # Enclosure n is target 8 + n; the reply's data_in is hex.
    "$ucamctl" --emulate "$scenario" --json cmd "0:$((8 + n)):0" --cdb "1c 01 $page 10 00 00" \
      --in 4096 | python3 -c '
import json, sys
reply = json.load(sys.stdin)
if reply["scsi_status"] != 0:
    sys.exit(f"page {sys.argv[1]}: {reply}")
sys.stdout.buffer.write(bytes.fromhex(reply["data_in"]))' "$page" >>"$out"
  done
  mv "$out" "fuzz/corpus/ses/emu-seed$n-all.bin"
  chmod 644 "fuzz/corpus/ses/emu-seed$n-all.bin"
done
echo "ses-seeds: wrote fuzz/corpus/ses/emu-seed0..3-all.bin"
