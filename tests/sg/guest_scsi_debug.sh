#!/bin/bash
# Runs inside the Linux VM (see vm_test.sh): loads scsi_debug with two targets of two disk
# LUNs on each of two hosts, waits for their sg nodes, then runs the guest test binary given as
# $1 (its oracles: sysfs, lsscsi, sg_inq, sg_vpd, dd).
set -euo pipefail
bin=$1
shift
modprobe scsi_debug num_tgts=2 max_luns=2 dev_size_mb=16
d=/sys/bus/pseudo/drivers/scsi_debug
wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || { echo "guest: timed out waiting for: $*"; return 1; }
    sleep 0.1
  done
}
# A second host (scsi_debug's ptype is global and read at every INQUIRY, so a host of tapes
# beside disks would answer INQUIRY as whatever ptype is now: both hosts hold disks).
echo 1 > $d/add_host
sg_nodes_at_least() { (($(ls /sys/class/scsi_generic | wc -l) >= $1)); }
wait_for 60 sg_nodes_at_least 8
echo "== guest: $(uname -r), devices:"
lsscsi -g
UCAM_SG_VM=scsi_debug exec "$bin" --gtest_color=no --gtest_filter='SgKernel.*' "$@"
