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
vm=${UCAM_LINUX_VM:-}
for candidate in "$src/../shared/peers/linux-vm.sh" /work/shared/peers/linux-vm.sh; do
  [[ -z $vm && -r $candidate ]] && vm=$candidate
done
skip() { echo "SKIPPED: $*"; exit 77; }
[[ -n $vm ]] || skip "no linux-vm.sh (../shared/peers/linux-vm.sh)"
for tool in qemu-system-x86_64 busybox modprobe cpio; do
  command -v $tool >/dev/null || skip "$tool missing: apt-get install qemu-system-x86 linux-image-amd64 busybox-static kmod cpio"
done
ls /boot/vmlinuz-* >/dev/null 2>&1 || skip "no kernel image in /boot: apt-get install linux-image-amd64"
for tool in lsscsi sg_inq sg_vpd; do
  command -v $tool >/dev/null || skip "$tool missing: apt-get install sg3-utils lsscsi"
done

run=(bash "$vm" --timeout "${UCAM_VM_TIMEOUT:-1200}" -- bash "$here/guest_scsi_debug.sh" "$bin" "$@")
# linux-vm.sh uses KVM whenever /dev/kvm is writable. A /dev/kvm without hardware
# virtualization (no vmx/svm flag: e.g. a PVM host) cannot run Debian's kernel (the guest hangs),
# so hide it from the script and let QEMU emulate (TCG). UCAM_VM_ACCEL=kvm keeps it.
if [[ -w /dev/kvm && ${UCAM_VM_ACCEL:-} != kvm ]] && ! grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then
  if [[ $(id -u) == 0 ]] && command -v unshare >/dev/null; then
    echo "vm_scsi_debug: /dev/kvm without vmx/svm: emulating (TCG)"
    # A read-only regular file over it (a device node would still test writable).
    placeholder=$(mktemp)
    trap 'rm -f "$placeholder"' EXIT
    hide='mount --bind "$0" /dev/kvm && mount -o remount,ro,bind /dev/kvm && exec "$@"'
    run=(unshare -m sh -c "$hide" "$placeholder" "${run[@]}")
  fi
fi
start=$(date +%s)
cd "$(dirname "$bin")"  # Shared read-write with the guest.
"${run[@]}"
rc=$?
echo "vm_scsi_debug: boot and run took $(($(date +%s) - start)) s, exit $rc"
exit $rc
