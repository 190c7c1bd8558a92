#!/bin/sh
# Installs the Debian packages listed in .ci/packages that are not installed yet.
# Quiet when everything is present. Works as root (CI) and as a normal user (via sudo).
set -u

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd) || exit 1
list="${PACKAGES_FILE:-$here/packages}"   # PACKAGES_FILE: another list (make bench)
[ -r "$list" ] || { echo "deps.sh: cannot read $list" >&2; exit 1; }

missing=
while IFS= read -r pkg || [ -n "$pkg" ]; do
    pkg=$(printf '%s' "$pkg" | sed 's/#.*//; s/^[[:space:]]*//; s/[[:space:]]*$//')
    [ -n "$pkg" ] || continue
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
    case "$status" in
        *" ok installed") ;;
        *) missing="$missing $pkg" ;;
    esac
done < "$list"

[ -z "$missing" ] && exit 0

echo "deps.sh: installing missing packages:$missing"

if [ "$(id -u)" -eq 0 ]; then
    run() { env DEBIAN_FRONTEND=noninteractive "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    run() { sudo env DEBIAN_FRONTEND=noninteractive "$@"; }
else
    echo "deps.sh: not root and sudo is not available; install as root:" >&2
    echo "    apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi

if ! run apt-get update; then
    echo "deps.sh: apt-get update failed" >&2
    exit 1
fi
# shellcheck disable=SC2086 # word splitting of the package list is intended
if ! run apt-get install -y --no-install-recommends $missing; then
    echo "deps.sh: apt-get install failed for:$missing" >&2
    exit 1
fi
echo "deps.sh: installed:$missing"
