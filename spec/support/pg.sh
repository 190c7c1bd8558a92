#!/bin/sh
# A private, throw-away PostgreSQL cluster for tests and the demo.
#
#   pg.sh start DIR        initdb DIR/pgdata if absent, start on a free 127.0.0.1 port and the
#                          unix socket dir DIR/sock; prints the URL and writes it to DIR/url
#   pg.sh stop DIR         stop it (fast); does nothing when it is not running
#   pg.sh createdb DIR N   create database N (no error when it exists); prints its URL
#   pg.sh url DIR          print the URL of the running cluster
#
# As root the cluster runs as the `postgres` system user (initdb refuses root): DIR is
# chowned to postgres and must be reachable by it. As any other user it runs directly.
# PG_BINDIR overrides where initdb/pg_ctl are looked up.
set -u

die() { echo "pg.sh: $*" >&2; exit 1; }

usage() { die "usage: pg.sh start|stop|url DIR | pg.sh createdb DIR NAME"; }

find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
    p=$(command -v initdb 2>/dev/null) && { dirname "$p"; return; }
    die "initdb not found (install the postgresql package or set PG_BINDIR)"
}

if [ "$(id -u)" -eq 0 ]; then
    AS_ROOT=1
    getent passwd postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user (install postgresql)"
    RUNUSER=$(command -v runuser 2>/dev/null) || RUNUSER=
    for r in /usr/sbin/runuser /sbin/runuser; do [ -n "$RUNUSER" ] || { [ -x "$r" ] && RUNUSER=$r; }; done
    [ -n "$RUNUSER" ] || die "running as root but runuser (util-linux) is not available"
    asdb() { "$RUNUSER" -u postgres -- "$@"; }
else
    AS_ROOT=0
    asdb() { "$@"; }
fi

free_port() {
    p=$(luajit -e 'local s=assert(require("socket").bind("127.0.0.1",0)); local _,p=s:getsockname(); s:close(); print(p)' 2>/dev/null) \
        && [ -n "$p" ] && { echo "$p"; return 0; }
    # fallback: probe ports from a random base with ss
    base=$(( ( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000 ) + 30000 ))
    i=0
    while [ $i -lt 200 ]; do
        p=$((base + i))
        if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then echo "$p"; return 0; fi
        i=$((i + 1))
    done
    return 1
}

is_running() {  # DIR
    [ -f "$1/pgdata/postmaster.pid" ] && asdb "$BIN/pg_ctl" -D "$1/pgdata" status >/dev/null 2>&1
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage
BIN=$(find_bindir)

case "$cmd" in
start)
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(CDPATH='' cd -- "$dir" && pwd) || die "cannot enter $dir"
    if is_running "$dir" && [ -s "$dir/url" ]; then
        cat "$dir/url"; exit 0
    fi
    if [ "$AS_ROOT" = 1 ]; then
        chown postgres "$dir" || die "cannot chown $dir to postgres"
        chmod 0700 "$dir"
        asdb test -w "$dir" ||
            die "$dir is not reachable by the postgres user: make its parent directories traversable (chmod o+x) or use a directory under /tmp"
    fi
    asdb mkdir -p "$dir/sock" || die "cannot create $dir/sock"
    if [ ! -f "$dir/pgdata/PG_VERSION" ]; then
        rm -rf "$dir/pgdata"
        asdb "$BIN/initdb" -D "$dir/pgdata" -A trust -U postgres -E UTF8 --locale=C \
            --no-sync --no-instructions >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; die "initdb failed (log above, also in $dir/initdb.log)"; }
        cat >>"$dir/pgdata/postgresql.conf" <<CONF

# --- pg.sh: private test cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 32MB
log_min_messages = warning
CONF
    fi
    tries=0
    while :; do
        tries=$((tries + 1))
        # PG_PORT pins the port, so a spec can stop and restart "the same" database
        port=${PG_PORT:-$(free_port)} || die "no free TCP port found"
        if asdb "$BIN/pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -w -t 30 \
                -o "-p $port" start >/dev/null 2>&1; then
            break
        fi
        if [ $tries -ge 3 ]; then
            tail -n 20 "$dir/postgres.log" >&2 2>/dev/null
            die "pg_ctl start failed (log: $dir/postgres.log)"
        fi
    done
    url="postgresql://postgres@127.0.0.1:$port/postgres"
    printf '%s\n' "$url" >"$dir/url"
    chmod 0644 "$dir/url"
    echo "$url"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    if [ -f "$dir/pgdata/postmaster.pid" ]; then
        asdb "$BIN/pg_ctl" -D "$dir/pgdata" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            { is_running "$dir" && die "pg_ctl stop failed for $dir/pgdata"; }
    fi
    rm -f "$dir/url"
    exit 0
    ;;
url)
    is_running "$dir" && [ -s "$dir/url" ] || die "no cluster running in $dir"
    cat "$dir/url"
    ;;
createdb)
    name=${3:-}; [ -n "$name" ] || usage
    is_running "$dir" && [ -s "$dir/url" ] || die "no cluster running in $dir"
    url=$(cat "$dir/url")
    lit=$(printf '%s' "$name" | sed "s/'/''/g")
    ident=$(printf '%s' "$name" | sed 's/"/""/g')
    exists=$(psql -X -q -A -t -v ON_ERROR_STOP=1 "$url" -c "SELECT 1 FROM pg_database WHERE datname = '$lit'") ||
        die "cannot query $url"
    if [ "$exists" != 1 ]; then
        psql -X -q -v ON_ERROR_STOP=1 "$url" -c "CREATE DATABASE \"$ident\"" >/dev/null ||
            die "CREATE DATABASE $name failed"
    fi
    # print the database URL (names outside [A-Za-z0-9_-] need percent-encoding: not done here)
    echo "${url%/postgres}/$name"
    ;;
*) usage ;;
esac
