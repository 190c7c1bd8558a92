#!/bin/sh
# The test runner behind `make test` (called after the build): starts a private PostgreSQL,
# runs every spec under LuaJIT with busted (TAP output, shown as it runs), stops everything
# and ends with one line: `N passed, N failed`. Exit 0 only when nothing failed and
# something passed.
#
#   sh spec/support/run.sh                 # all specs under spec/
#   sh spec/support/run.sh spec/unit/x_spec.lua ...   # only these (busted arguments)
#
# Environment given to specs: B3SCALE_TEST_PG_URL (server URL, database postgres),
# B3SCALE_TEST_PG_DIR, B3SCALE_TEST_TMP (scratch dir), B3SCALE_TEST_PIDFILE (helpers.lua
# records children there; leftovers are killed here), B3SCALE_ROOT.
# B3SCALE_KEEP_TMP=1 keeps the scratch directory (logs) instead of removing it.
#
# Sanitized runs (`make test SANITIZE=1`, `make tsan`): B3SCALE_BUILD names the build directory
# the specs run against (default build) and B3SCALE_SANITIZE its kind (1|address or thread).
# The specs reach binaries both through B3SCALE_ROOT/build (helpers.lua) and through a path
# relative to the working directory (./build/libb3scale.so in spec/support/ffi.lua), so for
# another build directory busted runs in a shadow root: symlinks to every entry of the checkout,
# with build -> B3SCALE_BUILD. The sanitizer runtime is preloaded into busted only (the FFI
# specs dlopen the instrumented library into an uninstrumented luajit; a helper drops
# LD_PRELOAD again, so programs the specs start do not inherit it). Every sanitizer report
# (written to files through log_path) is one failure, shown at the end.
set -u

root=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd) || exit 1
cd "$root" || exit 1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/b3test.XXXXXX") || { echo "run.sh: mktemp failed" >&2; echo "0 passed, 1 failed"; exit 1; }
chmod 0755 "$tmp"   # the postgres user (when we are root) must traverse it
pgdir="$tmp/pg"
pidfile="$tmp/children.pids"
out="$tmp/busted.out"
: >"$pidfile"
: >"$out"

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    trap '' INT TERM HUP
    if [ -s "$pidfile" ]; then
        while read -r pid; do
            [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
        done <"$pidfile"
        sleep 0.2
        while read -r pid; do
            [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        done <"$pidfile"
    fi
    sh "$root/spec/support/pg.sh" stop "$pgdir" >/dev/null 2>&1
    if [ "${B3SCALE_KEEP_TMP:-}" = 1 ]; then
        echo "run.sh: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
rc=0
sandir=   # set below for sanitized runs: where the sanitizers write their reports
trap cleanup EXIT
trap 'trap "" INT TERM HUP; echo "run.sh: interrupted" >&2; finish 1' INT TERM HUP

# counts the TAP lines in $out, prints the closing line and exits
# (exit 0 only when nothing failed and something passed); $1 = 1 when interrupted
finish() {
    sanitizer_reports
    # shellcheck disable=SC2046 # four numbers, split on purpose
    set -- "$1" $(awk '
        /^ok [0-9]+ - # SKIP/ { s++; next }
        /^ok [0-9]+/          { p++; next }
        /^not ok /            { f++; next }
        /^1\.\.[0-9]+[ \t]*$/ { plan = 1 }
        END { print p + 0, f + 0, s + 0, plan + 0 }' "$out" 2>/dev/null || echo 0 0 0 0)
    interrupted=$1 passed=$2 failed=$3 skipped=$4 plan=$5
    if [ "$interrupted" = 1 ]; then
        failed=$((failed + 1))
    elif [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
        echo "run.sh: no test ran (busted status $rc)" >&2
        failed=1
    elif [ "$failed" -eq 0 ] && { [ "$rc" -ne 0 ] || [ "$plan" -eq 0 ]; }; then
        echo "run.sh: busted exited with status $rc before finishing" >&2
        failed=1                          # crashed part-way / error not shown as a test
    fi
    [ "$skipped" -gt 0 ] && echo "($skipped pending)"
    echo "$passed passed, $failed failed"
    if [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then exit 0; fi
    [ "$interrupted" = 1 ] && exit 130
    exit 1
}

# one "not ok" per sanitizer report (a file per process, one SUMMARY line per report), with
# the report itself as TAP comments
sanitizer_reports() {
    [ -n "$sandir" ] && [ -d "$sandir" ] || return 0
    # UBSan in an ASan build (gcc) ignores log_path and writes to stderr: look for its
    # "file:line:col: runtime error: ..." lines in busted's output and the processes' logs
    grep -rlE '^[^ ]+:[0-9]+:[0-9]+: runtime error: ' "$tmp" --exclude-dir=pg \
        --exclude-dir=root --exclude-dir=sanitizer 2>/dev/null | while read -r f; do
        grep -E '^[^ ]+:[0-9]+:[0-9]+: runtime error: ' "$f" |
            sed "s|^|not ok - UndefinedBehaviorSanitizer in ${f##*/}: |" | tee -a "$out"
        grep -A 16 -E '^[^ ]+:[0-9]+:[0-9]+: runtime error: ' "$f" | sed 's/^/# /' | tee -a "$out"
    done
    for f in "$sandir"/*; do
        [ -f "$f" ] || continue
        grep '^SUMMARY: ' "$f" | sed "s|^SUMMARY: |not ok - sanitizer report in ${f##*/}: |" | tee -a "$out"
        grep -q '^SUMMARY: ' "$f" || echo "not ok - sanitizer output in ${f##*/}" | tee -a "$out"
        sed 's/^/# /' "$f" | tee -a "$out"
        if [ -n "${B3SCALE_SANITIZER_LOGS:-}" ]; then   # keep a copy (make tsan's summary)
            mkdir -p "$B3SCALE_SANITIZER_LOGS" && cp "$f" "$B3SCALE_SANITIZER_LOGS/"
        fi
    done
}

build=${B3SCALE_BUILD:-build}
case "$build" in /*) builddir=$build ;; *) builddir=$root/$build ;; esac
san=${B3SCALE_SANITIZE:-}
preload=
specroot=$root
if [ "$builddir" != "$root/build" ]; then
    for b in b3scaled bbbsim b3scaleagent libb3scale.so; do
        if [ ! -e "$builddir/$b" ]; then
            echo "not ok - $builddir/$b is missing (build it first)" | tee -a "$out"
            finish 0
        fi
    done
    specroot=$tmp/root
    mkdir "$specroot" || exit 1
    for e in "$root"/* "$root"/.[!.]*; do
        name=${e##*/}
        [ -e "$e" ] && [ "$name" != build ] && ln -s "$e" "$specroot/$name"
    done
    ln -s "$builddir" "$specroot/build"
fi
case "$san" in
    "") ;;
    1|address)
        sandir=$tmp/sanitizer
        # leaks too: quiet on this code (LuaJIT allocates outside malloc, libcurl's and
        # libpq's globals stay reachable); ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
        # turns it off
        ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}:log_path=$sandir/asan"
        UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}:log_path=$sandir/ubsan"
        export ASAN_OPTIONS UBSAN_OPTIONS
        preload=$(gcc -print-file-name=libasan.so) ;;
    thread)
        sandir=$tmp/sanitizer
        TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1}:log_path=$sandir/tsan"
        export TSAN_OPTIONS
        preload=$(gcc -print-file-name=libtsan.so) ;;
    *)
        echo "not ok - B3SCALE_SANITIZE=$san: use 1, address or thread" | tee -a "$out"
        finish 0 ;;
esac
host_asan=${ASAN_OPTIONS:-}
if [ -n "$sandir" ]; then
    mkdir -p "$sandir"
    printf 'require("posix.stdlib").setenv("LD_PRELOAD", nil)\n' >"$tmp/unpreload.lua"
    if [ "$san" != thread ]; then
        # No leak check in busted itself: LeakSanitizer's exit-time scan of the luajit host
        # (whose memory is mostly LuaJIT's own mmap arenas) crashed once in CI ("Tracer caught
        # signal 11") after all 565 specs had passed. The programs the specs start keep it:
        # the helper gives them the options back.
        host_asan="$ASAN_OPTIONS:detect_leaks=0"
        printf 'require("posix.stdlib").setenv("ASAN_OPTIONS", os.getenv("B3SCALE_CHILD_ASAN_OPTIONS"))\n' \
            >>"$tmp/unpreload.lua"
        export B3SCALE_CHILD_ASAN_OPTIONS="$ASAN_OPTIONS"
    fi
fi

if ! url=$(sh "$root/spec/support/pg.sh" start "$pgdir"); then
    echo "run.sh: could not start PostgreSQL" >&2
    echo "not ok - PostgreSQL for the specs did not start" >>"$out"
    finish 0
fi
export B3SCALE_TEST_PG_URL="$url"
export B3SCALE_TEST_PG_DIR="$pgdir"
export B3SCALE_TEST_TMP="$tmp"
export B3SCALE_TEST_PIDFILE="$pidfile"
export B3SCALE_ROOT="$specroot"
cd "$specroot" || exit 1

if [ $# -eq 0 ]; then set -- spec; fi

# Collect the spec files and compile each first: busted's TAP handler itself crashes on a
# file with a syntax error, which would hide every other result. Such a file is reported
# as one failure and left out of the busted run.
good=
for arg in "$@"; do
    if [ -d "$arg" ]; then
        files=$(find -H "$arg" -type f -name '*_spec.lua' | LC_ALL=C sort)
    else
        files=$arg
    fi
    for f in $files; do
        if err=$(SPEC_FILE="$f" luajit -e 'local f, e = loadfile(os.getenv("SPEC_FILE")) if not f then io.stderr:write(e) os.exit(1) end' 2>&1); then
            good="$good $f"
        else
            printf 'not ok - %s does not compile\n# %s\n' "$f" "$err" | tee -a "$out"
        fi
    done
done

if [ -n "$good" ]; then
    # busted's exit status survives the pipe through a file
    # shellcheck disable=SC2086 # the file list is split on purpose (spec paths have no spaces)
    if [ -n "$preload" ]; then
        # shellcheck disable=SC2086
        # luajit runs busted itself (--ignore-lua: no re-exec through /bin/sh, which the
        # preloaded TSan runtime crashes)
        { ASAN_OPTIONS=$host_asan LD_PRELOAD=$preload luajit "$(command -v busted)" --ignore-lua --helper="$tmp/unpreload.lua" \
            -o TAP --verbose $good 2>&1
          echo "$?" >"$tmp/busted.rc"; } </dev/null | tee -a "$out"
    else
        # shellcheck disable=SC2086
        { busted --lua=luajit -o TAP --verbose $good 2>&1; echo "$?" >"$tmp/busted.rc"; } </dev/null | tee -a "$out"
    fi
    rc=$(cat "$tmp/busted.rc" 2>/dev/null) || rc=
    [ -n "$rc" ] || rc=255
fi

finish 0
