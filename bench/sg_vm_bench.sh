#!/bin/bash
# 4 KiB reads from one scsi_debug disk in the Linux VM (issue 9), all in one boot: ucam (da on
# the SG_IO SIM, bench/sg_bench.cpp) against ioctl(SG_IO) in the same process, sg_dd on the sg
# node and dd (O_DIRECT) on the sd node, for three scsi_debug set-ups:
#   delay=0                  answers at once; completion deferred to a softirq (one hardware
#                            queue): the software path, with the completion on another thread
#   delay=0 submit_queues=2  answers at once and completes inside write(): no thread hop
#   (module default delay)   one jiffy per command: a device with real latency
# Manual (not a ctest); figures go to docs/performance.md.
#
#   bench/sg_vm_bench.sh [BUILD_DIR]     (default build/default; needs ucam_sg_bench built)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build/default}" && pwd)
[[ -x $build/bench/ucam_sg_bench ]] || { echo "build ucam_sg_bench first" >&2; exit 2; }
cd "$build"
exec bash "$src/tests/sg/vm_run.sh" --timeout 2400 -- bash -c '
set -euo pipefail
bench=$1
echo "== guest $(uname -r), $(nproc) CPUs, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
per_op() {  # per_op N LABEL COMMAND...: runs it, prints microseconds per 4 KiB read
  local n=$1 label=$2; shift 2
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
  echo "  $label: $(( (t1 - t0) / n / 1000 )).$(( (t1 - t0) / n % 1000 / 100 )) us per read"
}
run() {  # run N MIN_TIME MODPROBE_ARGS...
  local n=$1 min_time=$2; shift 2
  modprobe scsi_debug dev_size_mb=128 "$@"
  for _ in $(seq 1 300); do [[ -e /sys/class/scsi_generic/sg0/device/block ]] && break; sleep 0.1; done
  local sd=/dev/$(ls /sys/class/scsi_generic/sg0/device/block)
  echo "== scsi_debug $*: sg0 = $sd"
  for round in 1 2 3; do
    per_op $n "sg_dd bs=512 bpt=8 (SG_IO on /dev/sg0), round $round" \
      sg_dd if=/dev/sg0 of=/dev/null bs=512 bpt=8 count=$((n * 8))
    per_op $n "dd bs=4k iflag=direct ($sd), round $round" \
      dd if=$sd of=/dev/null bs=4k count=$n iflag=direct
  done
  UCAM_SG_BENCH_DEVICE=sg0 "$bench" --benchmark_min_time=$min_time --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true 2>&1 | grep -E "^BM_.*(mean|median)"
  echo "  (every device watched, as without uevents:)"
  UCAM_SG_BENCH_DEVICE=sg0 UCAM_SG_BENCH_WATCH=always "$bench" --benchmark_min_time=$min_time \
    --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_filter="Da.*threads:1" 2>&1 | grep -E "^BM_.*mean"
  modprobe -r scsi_debug
}
run 20000 3 delay=0
run 20000 3 delay=0 submit_queues=2
run 500 2
' sg_vm_bench "$build/bench/ucam_sg_bench"
