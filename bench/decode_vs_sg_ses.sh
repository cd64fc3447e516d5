#!/usr/bin/env bash
# `ucamctl enc decode` against `sg_ses --inhex` on the Areca ARC-8028 capture, and process start
# alone (docs/performance.md, issue 11). Wall time per process: the median of 15 runs after 3
# warm-ups, the commands alternating; a run is a batch of 20 processes started from this shell,
# output to /dev/null. Usage: bench/decode_vs_sg_ses.sh [BUILD_DIR] (default build/release).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
ucamctl=$build/cli/ucamctl
hex=$(mktemp --suffix=.hex)
trap 'rm -f "$hex"' EXIT
cat ../shared/conformance/ses-real/areca-arc8028-p0{1,2,7,a}.hex >"$hex"

commands=(
  "sg_ses --inhex=$hex --status --join"
  "$ucamctl enc decode $hex"
  "$ucamctl enc decode --json $hex"
  "sg_ses --version"
  "$ucamctl --version"
  "/bin/true"
)
batch=20
warmups=3
runs=15

# Microseconds per process for one batch of command $1.
batch_us() {
  local start end i
  start=$(date +%s%N)
  for ((i = 0; i < batch; i++)); do
    $1 >/dev/null 2>&1 || true
  done
  end=$(date +%s%N)
  echo $(((end - start) / batch / 1000))
}

declare -a samples
for ((r = 0; r < warmups + runs; r++)); do
  for c in "${!commands[@]}"; do
    us=$(batch_us "${commands[$c]}")
    if ((r >= warmups)); then
      samples[c]+="$us "
    fi
  done
done

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in "${!commands[@]}"; do
  median=$(tr ' ' '\n' <<<"${samples[c]}" | grep . | sort -n | sed -n "$(((runs + 1) / 2))p")
  awk -v us="$median" -v cmd="${commands[$c]//$hex/areca.hex}" \
    'BEGIN { printf "%8.2f ms  %s\n", us / 1000, cmd }'
done
