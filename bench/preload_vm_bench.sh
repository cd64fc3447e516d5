#!/bin/bash
# Per-command overhead of libucam-sg.so (issue 10) in the Linux VM, all in one boot: the same
# unmodified sg3_utils binaries on the kernel's sg node (/dev/sgM, ioctl(SG_IO) straight into
# the kernel) and, under LD_PRELOAD, on ucamd's sg node of the same device (/dev/ucam/sgN: a
# JSON-RPC round trip to ucamd, which runs the command on the SG_IO SIM, i.e. on the same
# /dev/sgM). Three set-ups:
#   scsi_debug delay=0   the kernel's in-memory disk, answering at once: the software path only
#   tgt (iSCSI)          tgt's disk in the guest, through the kernel's iSCSI initiator: a device
#                        with a network round trip of its own
#   builtin:jbod-24      ucamd's emulated JBOD: sg_ses --join on its SES device, and sg_turs on
#                        one of its disks. No kernel counterpart: neither scsi_debug nor tgt
#                        emulates an SES device, so Linux has no enclosure here to compare with.
# Measured: sg_turs -n N (one process, one open, N TEST UNIT READYs: the per-command cost) and
# N separate runs of sg_inq / sg_ses --join (process start, open, a few commands, close: what a
# script calling the tools pays). Manual (not a ctest, not run by .ci/run); figures go to
# docs/performance.md.
#
#   [UCAM_BENCH_TURS=2000] [UCAM_BENCH_RUNS=50] bench/preload_vm_bench.sh [BUILD_DIR]
#                                           (default build/default; needs ucamd, ucamctl and
#                                            libucam-sg.so built, sg3-utils in the root fs)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build/default}" && pwd)
for f in daemon/ucamd cli/ucamctl preload/libucam-sg.so; do
  [[ -e $build/$f ]] || { echo "build $f first" >&2; exit 2; }
done
peers=
for candidate in "$src/../shared/peers" /work/shared/peers; do
  [[ -z $peers && -r $candidate/tgt-changer.sh ]] && peers=$(cd "$candidate" && pwd)
done
cd "$build"
exec bash "$src/tests/sg/vm_run.sh" --timeout 2400 -- bash -c '
set -euo pipefail
build=$1 tgt=$2
ucamd=$build/daemon/ucamd ucamctl=$build/cli/ucamctl preload=$build/preload/libucam-sg.so
turs=${UCAM_BENCH_TURS:-2000} runs=${UCAM_BENCH_RUNS:-50}
echo "== guest $(uname -r), $(nproc) CPUs, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || { echo "timed out waiting for: $*" >&2; return 1; }
    sleep 0.1
  done
}
# us LABEL N COMMAND...: runs COMMAND once, prints microseconds per unit of N.
us() {
  local label=$1 n=$2; shift 2
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "  $label: FAILED ($*)"; return; }
  t1=$(date +%s%N)
  printf "  %-48s %8d.%d us\n" "$label" $(( (t1 - t0) / n / 1000 )) $(( (t1 - t0) / n % 1000 / 100 ))
}
repeat() {  # repeat N COMMAND...
  local n=$1; shift
  for ((i = 0; i < n; i++)); do "$@" || return; done
}
with_ucam() { LD_PRELOAD=$preload UCAM_SOCKET=$socket "$@"; }
socket= daemon=
start_ucamd() {  # start_ucamd SOCKET ARGS...: ucamd in the background until it answers
  socket=$1; shift
  "$ucamd" --socket "$socket" --log-level warning "$@" &
  daemon=$!
  wait_for 120 "$ucamctl" --socket "$socket" status >/dev/null 2>&1
}
stop_ucamd() { kill "$daemon"; wait "$daemon" || true; }
ucam_node() {  # ucam_node PERIPH: the sgN node of the device that has PERIPH (da0, ses0)
  "$ucamctl" --socket "$socket" --json devlist |
    jq -r --arg p "$1" ".[] | select(.periphs | index(\$p)) | .periphs[] | select(startswith(\"sg\"))"
}
compare() {  # compare KERNEL_SG: the kernel node and ucamd (--sg) on the same device
  local kernel=$1 ours=/dev/ucam/$(ucam_node da0)
  echo "  kernel $kernel, ucam $ours"
  for round in 1 2 3; do
    us "sg_turs -n $turs, kernel, round $round" $turs sg_turs -n $turs $kernel
    us "sg_turs -n $turs, ucam preload, round $round" $turs with_ucam sg_turs -n $turs $ours
  done
  for round in 1 2 3; do
    us "$runs x sg_inq (per run), kernel, round $round" $runs repeat $runs sg_inq $kernel
    us "$runs x sg_inq (per run), ucam preload, round $round" $runs \
      repeat $runs with_ucam sg_inq $ours
  done
  us "$runs x sg_inq (per run), no preload: /bin/true" $runs repeat $runs /bin/true
}

echo "== scsi_debug delay=0"
modprobe scsi_debug dev_size_mb=16 delay=0
wait_for 60 test -e /sys/class/scsi_generic/sg0/device/block
start_ucamd /tmp/ucamd-sd.sock --sg=scsi_debug
compare /dev/sg0
stop_ucamd
modprobe -r scsi_debug

if [[ -r $tgt ]] && command -v tgtd iscsid >/dev/null; then
  echo "== tgt disk over the kernel iSCSI initiator"
  export TGT_WORKDIR=/tmp/tgt
  eval "$(bash "$tgt" start)"
  mkdir -p /run/lock/iscsi
  iscsid
  wait_for 60 iscsiadm -m discovery -t st -p 127.0.0.1:3260 >/dev/null
  iscsiadm -m node -T "$TGT_IQN" -p 127.0.0.1:3260 --login >/dev/null
  disk_sg() { for d in /sys/class/scsi_generic/*; do
      [[ $(cat $d/device/type) == 0 ]] && { echo /dev/${d##*/}; return 0; }; done; return 1; }
  wait_for 60 disk_sg >/dev/null
  start_ucamd /tmp/ucamd-tgt.sock --sg=iscsi_tcp
  compare "$(disk_sg)"
  stop_ucamd
else
  echo "== tgt: skipped (no tgt-changer.sh or tgtd/iscsid)"
fi

echo "== ucamd --emulate builtin:jbod-24 (no kernel counterpart: no SES device under Linux here)"
start_ucamd /tmp/ucamd-jbod.sock --emulate builtin:jbod-24
ses=/dev/ucam/$(ucam_node ses0) disk=/dev/ucam/$(ucam_node da0)
echo "  ses $ses, disk $disk"
for round in 1 2 3; do
  us "sg_turs -n $turs on an emulated disk, round $round" $turs with_ucam sg_turs -n $turs $disk
done
for round in 1 2 3; do
  us "$runs x sg_ses --join (per run), round $round" $runs repeat $runs with_ucam sg_ses --join $ses
done
with_ucam sg_ses --join $ses | head -n 4
stop_ucamd
' preload_vm_bench "$build" "$peers/tgt-changer.sh"
