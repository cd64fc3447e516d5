#!/usr/bin/env bash
# The main job: set up, build, start ucamd on the emulated enclosure topology, and drive it with
# ucamctl as a client (then stop it cleanly).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh default
ucamd=build/default/daemon/ucamd
ucamctl=build/default/cli/ucamctl
work=$(mktemp -d /tmp/ucam-demo.XXXXXX)
socket=$work/ucamd.sock
export UCAM_SOCKET=$socket
"$ucamd" --socket "$socket" --emulate builtin:default --metrics-listen 127.0.0.1:0 \
  2>"$work/ucamd.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null || true; wait $daemon 2>/dev/null || true; rm -rf "$work"' EXIT
# Ready when the socket answers (ucamd also tells systemd READY=1 under Type=notify).
for _ in $(seq 1 300); do
  "$ucamctl" status >/dev/null 2>&1 && break
  kill -0 $daemon 2>/dev/null || { cat "$work/ucamd.log"; exit 1; }
  sleep 0.1
done
run() { echo; echo "\$ ucamctl $*"; "$ucamctl" "$@"; }
run status
run devlist -v
run inquiry pass0
run tur 0:1:0
run cmd pass0 --cdb "25 00 00 00 00 00 00 00 00 00" --in 8
run enc list
run enc show
run enc locate pass9 on
run enc locate "Slot 01" on
run enc fault ses0:3 on
run enc status
echo; echo "# A disk is pulled from slot 0 while 'ucamctl events' watches:"
"$ucamctl" events --count 3 --timeout 10 &
events=$!
for _ in $(seq 1 100); do
  "$ucamctl" --json status | grep -q '"subscribed": true' && break
  sleep 0.05
done
run emu pull-disk jbod4 0
wait $events || true
run enc show
run emu insert-disk jbod4 0 1:4:0
run enc show
metrics=$("$ucamctl" --json status | sed -n 's/.*"metrics_listen": "\(.*\)".*/\1/p')
echo; echo "\$ curl http://$metrics/metrics | grep enclosure"
curl -s "http://$metrics/metrics" | grep -E '^ucam_enclosure_(temperature|fan)' || true
run enc decode examples/ses-testjbod4.hex
echo; echo "# The same commands without a daemon, in-process:"
run --emulate builtin:jbod-24 enc list

echo; echo "# Unmodified Linux tools on ucam's sg nodes, through libucam-sg.so (docs/preload.md):"
preload=$(pwd)/build/default/preload/libucam-sg.so
echo; echo "\$ LD_PRELOAD=libucam-sg.so sg_inq /dev/ucam/sg0"
LD_PRELOAD=$preload sg_inq /dev/ucam/sg0 || true

echo; echo "# A 1,000-slot tape library (emulated media changer), chio- and mtx-style:"
run --emulate builtin:library-1000 ch params
run --emulate builtin:library-1000 ch status drive
