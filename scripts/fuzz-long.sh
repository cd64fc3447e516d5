#!/usr/bin/env bash
# Long fuzzing run: every libFuzzer target (or the ones named) for a fixed number of executions,
# the figure docs/performance.md ("Fuzzing") records.
#
# Usage: scripts/fuzz-long.sh [TARGET...] [--runs N] [--max-time S] [--jobs J] [--split K]
#                             [--build DIR]
#   TARGET      a target name, with or without _fuzz (sense, sense_fuzz); default: every
#               *_fuzz executable in the build directory
#   --runs      executions per target (libFuzzer -runs=); default 10000000
#   --max-time  also stop each target after S seconds (-max_total_time=), for measuring
#               exec/s; a target stopped by it is not a failure
#   --jobs      targets run at once; default: the number of cores (nproc)
#   --split     run each target as K independent processes of N/K executions each (own scratch
#               corpus, own log), their counts summed: one slow target on K cores; default 1
#   --build     the fuzz build directory; default build/fuzz (cmake --preset fuzz; this script
#               builds the targets first with cmake --build --preset fuzz --target fuzzers)
#
# Each target starts from its seed corpus (fuzz/corpus/<name>) and a scratch corpus in a temp
# directory, with -max_len=4096. Prints one line per target: executions, wall and CPU seconds,
# executions per wall and per CPU second, and crashes; a crash leaves its input in the log
# directory (printed at the end). ASan records no allocation stacks (malloc_context_size=0,
# which made ses_render_fuzz 23 % faster); for them, run a saved crash input again with
# ASAN_OPTIONS=malloc_context_size=30, or set ASAN_OPTIONS for the whole run. Exits 1 if any
# target crashed or stopped short of N executions, 2 on a usage error.
#
# Examples: scripts/fuzz-long.sh                  every target to 10^7
#           scripts/fuzz-long.sh sense mode --runs 1000000
#           scripts/fuzz-long.sh --max-time 60    exec/s of each target over a minute
#           scripts/fuzz-long.sh ses_render --split 2   one target on two cores
set -euo pipefail

cd "$(dirname "$0")/.."
runs=10000000
max_time=0
jobs=$(nproc)
split=1
build=build/fuzz
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --max-time) max_time=${2:?--max-time needs seconds}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    --split) split=${2:?--split needs a number}; shift 2 ;;
    --build) build=${2:?--build needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz-long: unknown option $1" >&2; exit 2 ;;
    *) targets+=("${1%_fuzz}"); shift ;;
  esac
done
if ! [[ "$runs" =~ ^[0-9]+$ && "$max_time" =~ ^[0-9]+$ && "$jobs" =~ ^[1-9][0-9]*$ &&
        "$split" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz-long: --runs, --max-time, --jobs and --split take numbers" >&2
  exit 2
fi

if [[ "$build" == build/fuzz ]]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz --target fuzzers -j2 >/dev/null
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  for exe in "$build"/fuzz/*_fuzz; do
    targets+=("$(basename "$exe" _fuzz)")
  done
fi
for t in "${targets[@]}"; do
  if [[ ! -x "$build/fuzz/${t}_fuzz" || ! -d "fuzz/corpus/$t" ]]; then
    echo "fuzz-long: no target $t (want $build/fuzz/${t}_fuzz and fuzz/corpus/$t)" >&2
    exit 2
  fi
done

logs=$(mktemp -d /tmp/fuzz-long.XXXXXX)
export ASAN_OPTIONS="malloc_context_size=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
echo "fuzz-long: ${#targets[@]} target(s), $runs runs each ($split process(es) per target)," \
  "$jobs at a time; logs in $logs"

# One process of a target: libFuzzer's final stats give the executions; its exit status says
# whether it crashed (a crash, leak, timeout or failed check stops the run with a nonzero status).
# Writes $logs/<name>.log, .time (wall, user, sys) and, on a crash, .crashed.
run_process() {
  local t=$1 name=$2 n=$3 work="$logs/$2.corpus" status=0
  mkdir -p "$work"
  /usr/bin/time -f '%e %U %S' -o "$logs/$name.time" \
    "$build/fuzz/${t}_fuzz" -runs="$n" -max_total_time="$max_time" -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$logs/$name-" "$work" "fuzz/corpus/$t" \
    >"$logs/$name.log" 2>&1 || status=$?
  rm -rf "$work"
  # 72: libFuzzer was interrupted (SIGINT): stopped short, not a crash.
  if [[ $status -ne 0 && $status -ne 72 ]]; then
    touch "$logs/$name.crashed"
  fi
}

# One target, as $split processes: executions and CPU summed, wall the longest.
run_one() {
  local t=$1 i names=()
  if [[ $split -eq 1 ]]; then
    names=("$t")
  else
    for ((i = 1; i <= split; i++)); do names+=("$t.$i"); done
  fi
  for ((i = 0; i < split; i++)); do
    # The first process takes the remainder of N/K.
    run_process "$t" "${names[i]}" $((runs / split + (i == 0 ? runs % split : 0))) &
  done
  wait
  local execs=0 crashes=0 name e
  for name in "${names[@]}"; do
    e=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$name.log" | tail -n 1)
    execs=$((execs + ${e:-0}))
    [[ ! -e "$logs/$name.crashed" ]] || crashes=$((crashes + 1))
  done
  # The last line of each time file (time adds "Command exited with non-zero status N" above).
  for name in "${names[@]}"; do tail -n 1 "$logs/$name.time"; done |
    awk -v t="$t" -v n="$execs" -v c="$crashes" '{
      wall = ($1 > wall ? $1 : wall); cpu += $2 + $3
    } END {
      printf "%-20s %12d execs %8.1f s %8.1f s CPU %9.0f exec/s %9.0f exec/CPU-s  crashes %d\n",
             t, n, wall, cpu, n / (wall > 0 ? wall : 0.01), n / (cpu > 0 ? cpu : 0.01), c
    }'
  if [[ $crashes -ne 0 || ($execs -lt $runs && $max_time -eq 0) ]]; then
    echo "fuzz-long: $t crashed or stopped short: see $logs/$t*.log" >&2
    touch "$logs/$t.failed"
  fi
}

for t in "${targets[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do
    wait -n || true
  done
  run_one "$t" &
done
wait
echo "fuzz-long: done ($(date -u +%Y-%m-%dT%H:%MZ)); logs in $logs"
! compgen -G "$logs/*.failed" >/dev/null
