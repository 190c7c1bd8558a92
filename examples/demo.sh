#!/bin/sh
# `make run`: a complete local b3scale in one command.
#
# Starts a private PostgreSQL (./var/pg), applies the schema, starts two simulated BBB nodes
# (build/bbbsim) that publish recordings of record=true meetings, a Redis and one
# build/b3scaleagent per node (it registers its node, reports it and uploads its recordings),
# and build/b3scaled with recording storage in ./var/recordings; enables the nodes and
# registers a frontend `demo` through the admin API with bin/b3scalectl, and prints the
# frontend's API URL, its secret and ready-to-open signed URLs. Ctrl-C stops everything.
# Logs: ./var/log/*.log.
# The admin API secret (B3SCALE_API_JWT_SECRET) is new on every run and kept in
# ./var/api-jwt-secret, so bin/b3scalectl can be used while the demo runs.
#
#   sh examples/demo.sh            run until Ctrl-C
#   sh examples/demo.sh --once     start, print, create the demo meeting once, record and end a
#                                  meeting until getRecordings lists it, stop (a smoke test)
#
# B3SCALE_LISTEN_HTTP (default 127.0.0.1:42353) sets where b3scaled listens.
set -u

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd) || exit 1
cd "$root" || exit 1

once=0
[ "${1:-}" = "--once" ] && once=1

say() { printf '%s\n' "demo: $*"; }
die() { printf '%s\n' "demo: $*" >&2; exit 1; }

listen=${B3SCALE_LISTEN_HTTP:-127.0.0.1:42353}
host=${listen%:*}
port=${listen##*:}
[ "$host" = "0.0.0.0" ] && host=127.0.0.1
[ "$host" = "*" ] && host=127.0.0.1
[ "$host" = "" ] && host=127.0.0.1

for bin in build/b3scaled build/bbbsim build/b3scaleagent bin/b3scalectl; do
    [ -x "$bin" ] || die "$bin is missing: build first (make all)"
done
for tool in curl psql sha256sum luajit redis-server; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (run: sh .ci/deps.sh)"
done

var="$root/var"
mkdir -p "$var/log" "$var/run" || die "cannot create $var"

# --- where the cluster lives: ./var/pg, unless the postgres user (we are root) cannot reach it
pgdir="$var/pg"
if [ "$(id -u)" -eq 0 ]; then
    chmod o+x "$var" 2>/dev/null
    RUNUSER=$(command -v runuser 2>/dev/null) || RUNUSER=/usr/sbin/runuser
    if ! "$RUNUSER" -u postgres -- test -x "$var" 2>/dev/null; then
        pgdir="${TMPDIR:-/tmp}/b3scale-demo-pg"
        say "$var is not reachable by the postgres user (a parent directory is not traversable);"
        say "using $pgdir for the database instead"
    fi
fi

# --- helpers
random_secret() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

port_free() {  # true when env P names a free port on 127.0.0.1
    luajit -e 'local s = require("socket").bind("127.0.0.1", tonumber(os.getenv("P")))
               if s then s:close() os.exit(0) else os.exit(1) end' 2>/dev/null
}
free_port() {
    luajit -e 'local s = assert(require("socket").bind("127.0.0.1", 0)); local _, p = s:getsockname(); s:close(); print(p)'
}
pick_port() {  # preferred port if free, else any free one
    if P=$1 port_free; then echo "$1"; else free_port; fi
}

# a process recorded in var/run/NAME.pid by an earlier run that is still alive (and is ours)
stop_leftover() {  # NAME PATTERN
    f="$var/run/$1.pid"
    [ -s "$f" ] || return 0
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$2"; then
        say "stopping $1 (pid $pid) left over from an earlier run"
        kill -TERM "$pid" 2>/dev/null
        i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$f"
}

wait_http() {  # URL PID SECONDS: until any HTTP answer with status 200
    i=0
    while [ $i -lt $(($3 * 10)) ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" 2>/dev/null)
        [ "$code" = 200 ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

pids=""
stopping=0
pg_started=0
# shellcheck disable=SC2317 # called from traps
shutdown() {
    [ "$stopping" = 1 ] && return
    stopping=1
    trap '' INT TERM HUP PIPE   # output may go to a pipe that Ctrl-C closed
    echo
    say "stopping..."
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
    for pid in $pids; do
        i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -f "$var/run/b3scaled.pid" "$var/run/bbbsim-1.pid" "$var/run/bbbsim-2.pid" \
        "$var/run/agent-1.pid" "$var/run/agent-2.pid" "$var/run/redis.pid"
    [ -n "$pids" ] && say "stopped b3scaled, the agents, Redis and the simulated nodes"
    if [ "$pg_started" = 1 ] && sh "$root/spec/support/pg.sh" stop "$pgdir" >/dev/null 2>&1; then
        say "stopped PostgreSQL (data kept in $pgdir)"
    fi
    say "done"
}
trap 'shutdown' EXIT
trap 'exit 130' INT TERM HUP

stop_leftover b3scaled build/b3scaled
stop_leftover bbbsim-1 build/bbbsim
stop_leftover bbbsim-2 build/bbbsim
stop_leftover agent-1 build/b3scaleagent
stop_leftover agent-2 build/b3scaleagent
stop_leftover redis redis-server

P=$port port_free || die "$listen is in use: stop what listens there or set B3SCALE_LISTEN_HTTP=127.0.0.1:PORT"

# --- PostgreSQL
say "starting PostgreSQL in $pgdir"
pg_started=1
sh "$root/spec/support/pg.sh" start "$pgdir" >/dev/null || die "PostgreSQL did not start (see $pgdir/postgres.log)"
ln -sf "$pgdir/postgres.log" "$var/log/postgres.log" 2>/dev/null
dburl=$(sh "$root/spec/support/pg.sh" createdb "$pgdir" b3scale) || die "could not create database b3scale"
say "database: $dburl"

# --- schema
if ! B3SCALE_DB_URL=$dburl build/b3scaled migrate >"$var/log/migrate.log" 2>&1; then
    cat "$var/log/migrate.log" >&2
    die "b3scaled migrate failed (log: var/log/migrate.log)"
fi

# --- simulated BBB nodes
n=0
backends=""
for want in 8091 8092; do
    n=$((n + 1))
    sport=$(pick_port "$want")
    ssecret=$(random_secret)
    # a record=true meeting's recording appears here when it ends, as on a BBB node
    mkdir -p "$var/node$n/published" || die "cannot create $var/node$n"
    build/bbbsim --listen "127.0.0.1:$sport" --secret "$ssecret" --name "node$n" \
        --recordings "$var/node$n/published" >"$var/log/bbbsim-$n.log" 2>&1 &
    spid=$!
    pids="$spid $pids"
    echo "$spid" >"$var/run/bbbsim-$n.pid"
    if ! wait_http "http://127.0.0.1:$sport/sim/health" "$spid" 10; then
        tail -n 30 "$var/log/bbbsim-$n.log" >&2
        die "bbbsim node$n did not come up on 127.0.0.1:$sport (log: var/log/bbbsim-$n.log)"
    fi
    api="http://127.0.0.1:$sport/bigbluebutton/api/"
    # registered below through the admin API, once b3scaled runs
    eval "sim_api_$n=\$api sim_secret_$n=\$ssecret sim_pid_$n=\$spid"
done

# --- b3scaled, with a fresh admin API secret (kept in var/ for bin/b3scalectl)
jwtsecret=$(random_secret)$(random_secret)
( umask 077 && printf '%s\n' "$jwtsecret" >"$var/api-jwt-secret" ) || die "cannot write $var/api-jwt-secret"
B3SCALE_DB_URL=$dburl B3SCALE_LISTEN_HTTP=$listen B3SCALE_API_JWT_SECRET=$jwtsecret \
    B3SCALE_RECORDINGS_DIR="$var/recordings" B3SCALE_RECORDINGS_SWEEP_MS=5000 \
    B3SCALE_API_URL="http://$host:$port" B3SCALE_CALLBACK_ALLOWED_NETWORKS=127.0.0.0/8 \
    build/b3scaled >"$var/log/b3scaled.log" 2>&1 &
dpid=$!
pids="$dpid $pids"
echo "$dpid" >"$var/run/b3scaled.pid"
if ! wait_http "http://$host:$port/healthz" "$dpid" 15; then
    tail -n 30 "$var/log/b3scaled.log" >&2
    die "b3scaled did not become healthy on $listen (log: var/log/b3scaled.log)"
fi

# --- registration through the admin API
ctl() {  # bin/b3scalectl against this b3scaled, with a token minted from the demo's secret
    B3SCALE_API_TOKEN='' B3SCALE_API_JWT_SECRET=$jwtsecret "$root/bin/b3scalectl" --api "http://$host:$port" "$@"
}
# --- Redis, the BBB event bus the agents follow (the simulated nodes publish nothing on it)
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    >"$var/log/redis.log" 2>&1 &
rpid=$!
pids="$rpid $pids"
echo "$rpid" >"$var/run/redis.pid"

# --- one agent per node: it registers the node (disabled until enabled below), reports it
# and uploads its recordings
backends=" "
for n in 1 2; do
    eval "api=\$sim_api_$n ssecret=\$sim_secret_$n spid=\$sim_pid_$n"
    # a backend of an earlier run on this address without this run's agent
    ctl delete backend "$api" --force >>"$var/log/b3scalectl.log" 2>&1
    token=$(ctl auth authorize_node_agent --ref "demo-node$n" --expires 12h | sed -n 's/^token: *//p')
    [ -n "$token" ] ||
        die "could not mint the token of node$n's agent"
    BBB_CONFIG=/nonexistent B3SCALE_API_URL="http://$host:$port" B3SCALE_API_ACCESS_TOKEN=$token \
        B3SCALE_AGENT_BBB_API=$api B3SCALE_AGENT_BBB_SECRET=$ssecret \
        B3SCALE_AGENT_REDIS_HOST=127.0.0.1 B3SCALE_AGENT_REDIS_PORT=$rport \
        B3SCALE_AGENT_RECORDINGS_DIR="$var/node$n/published" \
        B3SCALE_AGENT_SPOOL_DIR="$var/node$n/spool" B3SCALE_AGENT_RECORDINGS_SCAN_MS=1000 \
        build/b3scaleagent --register >"$var/log/agent-$n.log" 2>&1 &
    apid=$!
    pids="$apid $pids"
    echo "$apid" >"$var/run/agent-$n.pid"
    i=0
    until ctl enable backend "$api" >>"$var/log/b3scalectl.log" 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$apid" 2>/dev/null; then
            tail -n 20 "$var/log/agent-$n.log" >&2
            die "node$n's agent did not register $api (log: var/log/agent-$n.log)"
        fi
        sleep 0.1
    done
    backends="$backends$api "
    say "node$n: $api (pid $spid, agent pid $apid)"
done
# backends of earlier demo runs on other local ports are gone: drop them
stale=$(ctl show backends 2>>"$var/log/b3scalectl.log" | awk 'NR > 1 { print $1 }')
for b in $stale; do
    case $b in
    http://127.0.0.1:*)
        case $backends in
        *" $b "*) ;;
        *) ctl delete backend "$b" --force >>"$var/log/b3scalectl.log" 2>&1 ;;
        esac ;;
    esac
done

# --- the demo frontend
fsecret=$(random_secret)
ctl set frontend demo --secret "$fsecret" >>"$var/log/b3scalectl.log" 2>&1 ||
    { tail -n 3 "$var/log/b3scalectl.log" >&2; die "could not register the demo frontend (log: var/log/b3scalectl.log)"; }
ctl enable frontend demo >>"$var/log/b3scalectl.log" 2>&1 ||
    die "could not enable the demo frontend (log: var/log/b3scalectl.log)"

sign() {  # CALL QUERY SECRET -> query&checksum=sha256(call query secret)
    printf '%s&checksum=%s' "$2" "$(printf '%s%s%s' "$1" "$2" "$3" | sha256sum | cut -d' ' -f1)"
}
apibase="http://$host:$port/bbb/demo/bigbluebutton/api/"
create_q="name=Demo+Meeting&meetingID=demo-room&record=false"
rec_q="name=Recorded+Lecture&meetingID=demo-lecture&record=true"
join_q="fullName=Demo+User&meetingID=demo-room&role=MODERATOR"
create_url="${apibase}create?$(sign create "$create_q" "$fsecret")"
join_url="${apibase}join?$(sign join "$join_q" "$fsecret")"

# the status page takes an admin token in its URL fragment (never sent to the server)
status_token=$(ctl auth create_access_token --sub demo-status --scopes b3scale:admin --expires 12h) ||
    die "could not mint a token for the status page"

cat <<EOF

b3scale is running (pid $dpid), logs in var/log/

  API URL:  $apibase
  secret:   $fsecret

  1. create the meeting:
     $create_url
  2. join it as moderator (redirects to the node that hosts it):
     $join_url
  3. recordings: a meeting created with record=true is published by its node when it ends,
     uploaded by the node's agent and listed by getRecordings (files in var/recordings/):
     ${apibase}create?$(sign create "$rec_q" "$fsecret")
     ${apibase}end?$(sign end "meetingID=demo-lecture" "$fsecret")
     ${apibase}getRecordings?$(sign getRecordings "meetingID=demo-lecture" "$fsecret")

  admin:    B3SCALE_API_JWT_SECRET=\$(cat var/api-jwt-secret) bin/b3scalectl --api http://$host:$port show backends
  status:   http://$host:$port/status#token=$status_token
  metrics:  http://$host:$port/metrics

Ctrl-C stops b3scaled, the agents, Redis, the simulated nodes and PostgreSQL.
EOF

if [ "$once" = 1 ]; then
    echo
    say "--once: calling create"
    curl -s --max-time 10 "$create_url" || die "create failed"
    echo
    say "--once: recording a meeting, ending it, waiting for getRecordings to list it"
    curl -s --max-time 10 "${apibase}create?$(sign create "$rec_q" "$fsecret")" >/dev/null &&
        curl -s --max-time 10 "${apibase}end?$(sign end "meetingID=demo-lecture" "$fsecret")" >/dev/null ||
        die "create or end of the recorded meeting failed"
    i=0
    until curl -s --max-time 5 "${apibase}getRecordings?$(sign getRecordings "meetingID=demo-lecture" "$fsecret")" |
            grep -q '<recordID>'; do
        i=$((i + 1))
        [ $i -gt 100 ] && die "the recording was not listed within 20 s (logs: var/log/agent-*.log, var/log/b3scaled.log)"
        sleep 0.2
    done
    say "--once: getRecordings lists the recording of demo-lecture"
    exit 0
fi

# wait until Ctrl-C (the trap exits) or until b3scaled ends by itself
wait "$dpid"
st=$?
if [ "$stopping" = 0 ]; then
    say "b3scaled exited by itself (status $st); last lines of var/log/b3scaled.log:"
    tail -n 20 "$var/log/b3scaled.log" >&2
    exit 1
fi
