#!/bin/bash
# Runs a command in the Linux VM of ../shared/peers/linux-vm.sh (one boot), from the current
# directory (which the guest shares read-write). Used by the SG SIM's VM test and benchmark.
#
#   vm_run.sh [LINUX_VM_OPTIONS...] -- COMMAND [ARG...]
#
# linux-vm.sh uses KVM whenever /dev/kvm is writable. A /dev/kvm without hardware
# virtualization (no vmx/svm flag, e.g. a PVM host) cannot run Debian's kernel (the guest
# hangs), so as root this hides it from the script and QEMU emulates (TCG); UCAM_VM_ACCEL=kvm
# keeps it. $UCAM_LINUX_VM overrides where linux-vm.sh is. Exit status: linux-vm.sh's, or 125
# when there is no linux-vm.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
vm=${UCAM_LINUX_VM:-}
for candidate in "$src/../shared/peers/linux-vm.sh" /work/shared/peers/linux-vm.sh; do
  [[ -z $vm && -r $candidate ]] && vm=$candidate
done
[[ -n $vm ]] || { echo "vm_run: no linux-vm.sh (../shared/peers/linux-vm.sh)" >&2; exit 125; }
run=(bash "$vm" "$@")
if [[ -w /dev/kvm && ${UCAM_VM_ACCEL:-} != kvm ]] && ! grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then
  if [[ $(id -u) == 0 ]] && command -v unshare >/dev/null; then
    echo "vm_run: /dev/kvm without vmx/svm: emulating (TCG)" >&2
    # A read-only regular file over it (a device node would still test writable).
    placeholder=$(mktemp)
    trap 'rm -f "$placeholder"' EXIT
    hide='mount --bind "$0" /dev/kvm && mount -o remount,ro,bind /dev/kvm && exec "$@"'
    run=(unshare -m sh -c "$hide" "$placeholder" "${run[@]}")
  fi
fi
"${run[@]}"
