#!/bin/bash
# 4 KiB reads from one scsi_debug disk in the Linux VM (issue 9), all in one boot: ucam (da on
# the SG_IO SIM, bench/sg_bench.cpp) against ioctl(SG_IO) in the same process, sg_dd on the sg
# node and dd (O_DIRECT) on the sd node. Manual (not a ctest); figures go to docs/performance.md.
#
#   bench/sg_vm_bench.sh [BUILD_DIR]     (default build/default; needs ucam_sg_bench built)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build/default}" && pwd)
[[ -x $build/bench/ucam_sg_bench ]] || { echo "build ucam_sg_bench first" >&2; exit 2; }
cd "$build"
exec bash "$src/tests/sg/vm_run.sh" --timeout 1800 -- bash -c '
set -euo pipefail
bench=$1
n=20000   # 4 KiB reads per tool run (80 MB of the 128 MiB disk)
# delay=0: scsi_debug answers at once, so what is measured is the software path.
modprobe scsi_debug dev_size_mb=128 delay=0
for _ in $(seq 1 300); do [[ -e /sys/class/scsi_generic/sg0/device/block ]] && break; sleep 0.1; done
sd=/dev/$(ls /sys/class/scsi_generic/sg0/device/block)
echo "== guest $(uname -r), $(nproc) CPUs; device sg0 = $sd"
per_op() {  # per_op LABEL COMMAND...: runs it, prints microseconds per 4 KiB read
  local label=$1; shift
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
  echo "$label: $(( (t1 - t0) / n / 1000 )).$(( (t1 - t0) / n % 1000 / 100 )) us per read"
}
for round in 1 2 3; do
  per_op "sg_dd bs=512 bpt=8 (SG_IO on /dev/sg0), round $round" \
    sg_dd if=/dev/sg0 of=/dev/null bs=512 bpt=8 count=$((n * 8))
  per_op "dd bs=4k iflag=direct ($sd), round $round" \
    dd if=$sd of=/dev/null bs=4k count=$n iflag=direct
done
UCAM_SG_BENCH_DEVICE=sg0 "$bench" --benchmark_min_time=3 --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true
' sg_vm_bench "$build/bench/ucam_sg_bench"
