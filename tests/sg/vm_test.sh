#!/bin/bash
# ctest sg_vm_scsi_debug and sg_vm_tgt: boots Debian's kernel under QEMU
# (../shared/peers/linux-vm.sh, one boot per scenario) and runs the SG SIM's guest test there:
#   scsi_debug  guest_scsi_debug.sh: the kernel's scsi_debug disks
#   tgt         guest_tgt.sh: tgt in the guest, logged into with the kernel's iSCSI initiator
# Exits 77 (counted as skipped by ctest) when QEMU, the kernel image, linux-vm.sh or a tool the
# scenario needs is missing.
#
#   vm_test.sh SCENARIO GUEST_TEST_BINARY [GTEST_ARGS...]
set -uo pipefail
scenario=$1
bin=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
peers=
for candidate in "$src/../shared/peers" /work/shared/peers; do
  [[ -z $peers && -r $candidate/linux-vm.sh ]] && peers=$(cd "$candidate" && pwd)
done
[[ -n ${UCAM_LINUX_VM:-} || -n $peers ]] || skip "no linux-vm.sh (../shared/peers/linux-vm.sh)"
for tool in qemu-system-x86_64 busybox modprobe cpio; do
  command -v $tool >/dev/null || skip "$tool missing: apt-get install qemu-system-x86 linux-image-amd64 busybox-static kmod cpio"
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || skip "no kernel image in /boot: apt-get install linux-image-amd64"
for tool in lsscsi sg_inq sg_vpd; do
  command -v $tool >/dev/null || skip "$tool missing: apt-get install sg3-utils lsscsi"
done
args=()
case $scenario in
  scsi_debug) ;;
  tgt)
    [[ -r $peers/tgt-changer.sh ]] || skip "no ../shared/peers/tgt-changer.sh"
    for tool in tgtd tgtadm tgtimg iscsi-inq iscsid iscsiadm mtx; do
      command -v $tool >/dev/null || skip "$tool missing: apt-get install tgt libiscsi-bin open-iscsi mtx"
    done
    args=("$peers/tgt-changer.sh")
    ;;
  *) echo "vm_test: unknown scenario $scenario" >&2; exit 2;;
esac

start=$(date +%s)
cd "$(dirname "$bin")"  # Shared read-write with the guest.
bash "$here/vm_run.sh" --timeout "${UCAM_VM_TIMEOUT:-1200}" -- \
  bash "$here/guest_$scenario.sh" "$bin" "${args[@]}" "$@"
rc=$?
echo "vm_test $scenario: boot and run took $(($(date +%s) - start)) s, exit $rc"
exit $rc
