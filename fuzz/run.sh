#!/bin/sh
# Runs libFuzzer targets (called by `make fuzz` after the build): each target for FUZZ_SECONDS
# (default 60) on a working corpus in build/fuzz/corpus/<name>, seeded from fuzz/corpus/<name>
# (which is only read), with fuzz/<name>.dict when there is one. A crash, leak, timeout or
# out-of-memory input is written to fuzz/crashes/<name>-<kind>-<sha1> and fails the run.
# Ends with one line per target (executions, cov, ft, corpus) and `N passed, N failed`.
#
#   sh fuzz/run.sh query xml          # FUZZ_SECONDS=600 sh fuzz/run.sh ... for longer runs
set -u

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd) || exit 1
cd "$root" || exit 1
secs=${FUZZ_SECONDS:-60}
work=build/fuzz
[ $# -gt 0 ] || set -- query xml agent_redis jwt log agent_props

mkdir -p fuzz/crashes "$work/logs"
passed=0 failed=0 summary=
for t in "$@"; do
    bin=$work/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing (make fuzz-build)" >&2
        failed=$((failed + 1)); summary="$summary
  $t: not built"
        continue
    fi
    mkdir -p "$work/corpus/$t"
    set -- "$work/corpus/$t"
    [ -d "fuzz/corpus/$t" ] && set -- "$@" "fuzz/corpus/$t"
    dict=
    [ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict"
    log=$work/logs/$t.log
    echo "fuzz: $t for ${secs}s (log: $log)"
    # -rss_limit_mb: the targets parse at most a few KiB per input; 2 GiB means a real blow-up
    # shellcheck disable=SC2086 # $dict is empty or one word
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}" \
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="fuzz/crashes/$t-" $dict "$@" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    files=$(find "$work/corpus/$t" -type f | wc -l)
    line="$t: ${execs:-?} execs in ${secs}s, cov ${cov:-?}, ft ${ft:-?}, corpus $files files"
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok - fuzz $line"
    else
        failed=$((failed + 1))
        echo "not ok - fuzz $line: exit $rc"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written|.*runtime error)' "$log" | head -n 20 | sed 's/^/# /'
        line="$line, FAILED (exit $rc; see $log)"
    fi
    summary="$summary
  $line"
done
echo "fuzz summary:$summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
