#!/usr/bin/env bash
# Installs what ucam needs to build and test on Debian 12 (run as root). Idempotent.
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libexpected-dev
  libiscsi-dev sg3-utils libsystemd-dev libmimalloc-dev curl util-linux
  # The iSCSI SIM dlopen()s libiscsi.so.7 at run time (libiscsi-dev depends on it too).
  libiscsi7
  clang clang-format clang-tidy libclang-rt-14-dev
  # Peers for the interop tests: tgt (iSCSI target on loopback) and a real Linux SCSI stack in
  # a VM (../shared/peers/linux-vm.sh). The kernel package takes minutes to install once.
  tgt libiscsi-bin qemu-system-x86 linux-image-amd64 busybox-static open-iscsi kmod cpio lsscsi
  # Unmodified Linux SCSI tools run on ucam nodes through libucam-sg.so (LD_PRELOAD).
  mtx
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
