#!/bin/bash
# ctest sg_vm_scsi_debug: boots Debian's kernel under QEMU (../shared/peers/linux-vm.sh, one
# boot) and runs the SG SIM's guest test against scsi_debug there (guest_scsi_debug.sh).
# Exits 77 (counted as skipped by ctest) when QEMU, the kernel image or linux-vm.sh is missing.
#
#   vm_scsi_debug.sh GUEST_TEST_BINARY [GTEST_ARGS...]
set -uo pipefail
bin=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
[[ -n ${UCAM_LINUX_VM:-} || -r $src/../shared/peers/linux-vm.sh || -r /work/shared/peers/linux-vm.sh ]] ||
  skip "no linux-vm.sh (../shared/peers/linux-vm.sh)"
for tool in qemu-system-x86_64 busybox modprobe cpio; do
  command -v $tool >/dev/null || skip "$tool missing: apt-get install qemu-system-x86 linux-image-amd64 busybox-static kmod cpio"
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || skip "no kernel image in /boot: apt-get install linux-image-amd64"
for tool in lsscsi sg_inq sg_vpd; do
  command -v $tool >/dev/null || skip "$tool missing: apt-get install sg3-utils lsscsi"
done

run=(bash "$here/vm_run.sh" --timeout "${UCAM_VM_TIMEOUT:-1200}" --
     bash "$here/guest_scsi_debug.sh" "$bin" "$@")
start=$(date +%s)
cd "$(dirname "$bin")"  # Shared read-write with the guest.
"${run[@]}"
rc=$?
echo "vm_scsi_debug: boot and run took $(($(date +%s) - start)) s, exit $rc"
exit $rc
