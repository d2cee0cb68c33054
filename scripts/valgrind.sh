#!/usr/bin/env bash
# Runs the uthread and engine test binaries under valgrind memcheck: no invalid reads or
# writes, no use of uninitialised values, no definite leaks. See RELIABILITY.md.
#
#   scripts/valgrind.sh                 # every uthread and engine test binary
#   scripts/valgrind.sh uthread         # one package
#   scripts/valgrind.sh engine storm    # one package, test binaries whose name has "storm"
#
# Environment:
#   VALGRIND_LOG_DIR   where each binary's valgrind log goes (default target/valgrind)
#   VALGRIND_JOBS      test binaries run at once (default 2: one per core here)
#   VALGRIND_STRATEGIES stack strategies to run every uthread binary with (default
#                      "dedicated copying": each binary twice, the second time with
#                      UTHREAD_TEST_STACKS=copying, which the suite's own schedulers
#                      honour through the unsafe opt-in in tests/support; engine binaries
#                      run once, their copying tests choose it themselves)
#
# uthread registers every stack it maps with valgrind (corosensei's
# ValgrindStackRegistration, in uthread/src/sys/stack.rs), so switching between tasklet
# stacks is not taken for stack smashing. The test binaries are built with uthread's
# `valgrind` feature, which tells memcheck what stack copying does to a shared stack
# (uthread/src/sys/valgrind.rs: client requests, no-ops on hardware). No suppressions.
#
# What is skipped, and why (each is covered by the normal `cargo test` run):
#   - overflow.rs: its tests re-run the binary in a child process that overflows a
#     stack on purpose and dies of SIGSEGV at the guard page; valgrind reports that
#     (deliberate) invalid write and the child's death. Run it natively.
#   - million_tasklets.rs, million_copying.rs, scale.rs: a million tasklets and the
#     32,000-stack limit
#     take hours under valgrind's ~50x slowdown; they exercise the same code paths as
#     the drop-storm tests, which do run (with a smaller N, see below).
#   - uthread's unit test a_fiber_dropped_while_its_stack_is_busy_leaks_rather_than_corrupts
#     leaks on purpose: it checks that a copying fiber dropped from its own shared stack
#     is abandoned (its frames leaked) instead of being unwound onto someone else's
#     frames. Its leak is the expected outcome, so it is skipped here.
# Tests that need real time (wall clock sleeps, cross-thread wake-ups) are slowed down,
# not wrong; the hang guards scale with UTHREAD_TEST_TIME_SCALE.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=${1:-"uthread engine"}
filter=${2:-}
log_dir=${VALGRIND_LOG_DIR:-target/valgrind}
jobs=${VALGRIND_JOBS:-2}
strategies=${VALGRIND_STRATEGIES:-"dedicated copying"}
mkdir -p "$log_dir"

command -v valgrind >/dev/null || {
  echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
  exit 2
}

# Smaller workloads where a test reads them from the environment, and more patience.
export UTHREAD_DROP_STORM_N=${UTHREAD_DROP_STORM_N:-600}
export ENGINE_STORM_SCALE=${ENGINE_STORM_SCALE:-10}
export UTHREAD_TEST_TIME_SCALE=${UTHREAD_TEST_TIME_SCALE:-40}
export PROPTEST_CASES=${PROPTEST_CASES:-8}
export RUST_BACKTRACE=0

# Extra arguments for the test binary `$1` (tests to skip in it).
binary_args() {
  case "$1" in
    uthread) echo "--skip a_fiber_dropped_while_its_stack_is_busy_leaks_rather_than_corrupts" ;;
    *) echo "" ;;
  esac
}

skip_binary() {
  case "$1" in
    overflow | million_tasklets | million_copying | scale) return 0 ;;
    *) return 1 ;;
  esac
}

pkg_args=()
for p in $packages; do pkg_args+=(-p "$p"); done
echo "==> building the test binaries of: $packages"
binaries=$(cargo test "${pkg_args[@]}" --features uthread/valgrind --no-run \
  --message-format=json 2>/dev/null |
  jq -r 'select(.reason == "compiler-artifact" and .profile.test == true and .executable != null)
         | "\(.target.name) \(.executable) \(.package_id)"')

start=$(date +%s)
list=()
while read -r name exe package; do
  [ -n "$name" ] || continue
  if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then continue; fi
  if skip_binary "$name"; then
    echo "--- skip $name (see the header of this script)"
    continue
  fi
  case "$package" in
    */uthread#*) for strategy in $strategies; do list+=("$name $exe $strategy"); done ;;
    *) list+=("$name $exe dedicated") ;;
  esac
done <<<"$binaries"

run_one() {
  local name=$1 exe=$2 strategy=$3 log
  log="$log_dir/$name.$strategy.log"
  local t0 rc=0
  t0=$(date +%s)
  UTHREAD_TEST_STACKS=$strategy valgrind --tool=memcheck --error-exitcode=97 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --track-origins=no --log-file="$log" \
    "$exe" --test-threads=1 -q $(binary_args "$name") >"$log.out" 2>&1 || rc=$?
  local secs=$(($(date +%s) - t0))
  local summary
  summary=$(grep -E "ERROR SUMMARY|definitely lost" "$log" | sed 's/^==[0-9]*== //' | tr '\n' ' ')
  local passed
  passed=$(grep -E "^test result:" "$log.out" | tail -1 || true)
  if [ "$rc" -eq 0 ]; then
    echo "ok   $name [$strategy] (${secs}s) $passed | $summary"
  else
    echo "FAIL $name [$strategy] (${secs}s, status $rc) $passed | $summary (see $log, $log.out)"
  fi
  return "$rc"
}
export -f run_one binary_args
export log_dir

echo "==> ${#list[@]} runs of test binaries under valgrind, $jobs at a time; logs in $log_dir"
status=0
printf '%s\n' "${list[@]}" |
  xargs -P "$jobs" -L 1 bash -c 'run_one "$0" "$1" "$2"' >"$log_dir/summary.txt" || status=$?
sort "$log_dir/summary.txt"
failed=$(grep -c '^FAIL' "$log_dir/summary.txt" || true)
passed=$(grep -c '^ok' "$log_dir/summary.txt" || true)
echo "==> valgrind: $passed binaries clean, $failed failed, in $(($(date +%s) - start)) s"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
