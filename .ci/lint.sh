#!/bin/sh
# `make lint`: cppcheck and clang-tidy over the C sources (c/, c/sim/, agent/, fuzz/).
# Exits non-zero on any finding that is not suppressed, with a reason, in
# .ci/cppcheck-suppressions or .ci/clang-tidy-suppressions (checks that are off everywhere
# are listed in .clang-tidy). LINT_CFLAGS: the compile flags (the Makefile passes its own).
#
#   sh .ci/lint.sh                   # both tools
#   LINT_TOOLS=cppcheck sh .ci/lint.sh
set -u
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 1
cd "$here/.." || exit 1

tools=${LINT_TOOLS:-cppcheck clang-tidy}
flags=${LINT_CFLAGS:-"-std=c11 -D_GNU_SOURCE -pthread -Wall -Wextra $(pkg-config --cflags luajit libmicrohttpd libpq libcurl openssl expat libjwt 2>/dev/null)"}
srcs=$(ls c/*.c c/sim/*.c agent/*.c fuzz/*.c 2>/dev/null)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/b3lint.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

for tool in $tools; do
case "$tool" in
cppcheck)
    echo "lint: cppcheck $(cppcheck --version | sed 's/^Cppcheck //')"
    # shellcheck disable=SC2086 # the source list is split on purpose
    cppcheck --enable=warning,style,performance,portability --library=posix --std=c11 \
        -D_GNU_SOURCE --inline-suppr --suppressions-list=.ci/cppcheck-suppressions \
        --quiet -j2 -Ic -Iagent --error-exitcode=1 \
        --template='{file}:{line}:{column}: {severity}: {message} [{id}]' $srcs \
        >"$tmp/cppcheck.out" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ] || [ -s "$tmp/cppcheck.out" ]; then
        cat "$tmp/cppcheck.out"
        echo "lint: cppcheck: $(grep -c '\]$' "$tmp/cppcheck.out") finding(s) (exit $rc)"
        status=1
    else
        echo "lint: cppcheck: clean"
    fi
    ;;
clang-tidy)
    echo "lint: $(clang-tidy --version | grep -i 'version' | head -n 1 | sed 's/^ *//')"
    # one file per process, two at a time; the .clang-tidy file gives the checks
    # shellcheck disable=SC2086
    printf '%s\n' $srcs | xargs -P 2 -I '{}' sh -c \
        'clang-tidy --quiet "$1" -- $2 -Ic -Iagent >"$3/$(echo "$1" | tr / _).tidy" 2>&1' \
        sh '{}' "$flags" "$tmp"
    # findings are "path:line:col: warning|error: text [check]"; drop the reviewed ones
    cat "$tmp"/*.tidy | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' |
        sed "s|^$PWD/||" | sort -u >"$tmp/tidy.all"
    : >"$tmp/tidy.left"
    while IFS= read -r line; do
        file=${line%%:*}
        check=$(printf '%s\n' "$line" | sed -n 's/.*\[\([^]]*\)\]$/\1/p')
        keep=1
        while read -r glob chk _; do
            case "$glob" in ''|'#'*) continue ;; esac
            # shellcheck disable=SC2254 # the glob is a pattern on purpose
            case "$file" in $glob) ;; *) continue ;; esac
            case ",$check," in *",$chk,"*) keep=0; break ;; esac
        done <.ci/clang-tidy-suppressions
        [ "$keep" = 1 ] && printf '%s\n' "$line" >>"$tmp/tidy.left"
    done <"$tmp/tidy.all"
    total=$(wc -l <"$tmp/tidy.all")
    left=$(wc -l <"$tmp/tidy.left")
    if [ "$left" -gt 0 ]; then
        cat "$tmp/tidy.left"
        echo "lint: clang-tidy: $left finding(s) ($((total - left)) suppressed in .ci/clang-tidy-suppressions)"
        status=1
    else
        echo "lint: clang-tidy: clean ($total suppressed in .ci/clang-tidy-suppressions)"
    fi
    ;;
*)
    echo "lint: unknown tool $tool" >&2
    status=1 ;;
esac
done
exit "$status"
