#!/bin/bash
# Runs inside the Linux VM (see vm_test.sh): starts tgt (../shared/peers/tgt-changer.sh: a disk,
# two tape drives and a media changer behind one iSCSI target on 127.0.0.1), logs the kernel's
# initiator into it, waits for the sg nodes, then runs the guest test binary ($1, SgTgt tests:
# ucam on the kernel's devices and on its own iSCSI session, beside mtx and sg3_utils).
#
#   guest_tgt.sh GUEST_TEST_BINARY TGT_CHANGER_SH [GTEST_ARGS...]
set -euo pipefail
bin=$1
tgt=$2
shift 2
wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || { echo "guest: timed out waiting for: $*"; return 1; }
    sleep 0.2
  done
}
modprobe st
export TGT_WORKDIR=/tmp/tgt
eval "$(bash "$tgt" start)"
export TGT_IQN  # The SgTgt tests log in to it with the iSCSI SIM too.
mkdir -p /run/lock/iscsi
iscsid
wait_for 60 iscsiadm -m discovery -t st -p 127.0.0.1:3260
iscsiadm -m node -T "$TGT_IQN" -p 127.0.0.1:3260 --login
changer_ready() { ls /sys/class/scsi_changer/ 2>/dev/null | grep -q sch; }
wait_for 60 changer_ready
tapes_ready() { (($(ls /sys/class/scsi_tape/ 2>/dev/null | grep -c '^st[0-9]*$') >= 2)); }
wait_for 60 tapes_ready
echo "== guest: $(uname -r), devices:"
lsscsi -g
UCAM_SG_VM=tgt exec "$bin" --gtest_color=no --gtest_filter='SgTgt.*' "$@"
