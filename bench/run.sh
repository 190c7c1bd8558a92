#!/bin/sh
# make bench: the join redirect (every user's hot path) and the polled calls, measured with
# wrk against a real b3scaled, Postgres and simulated nodes, next to a baseline measured in
# the same run: nginx answering a static 302 on the same machine.
#   DURATION=10 CONNECTIONS=32 WORKERS=8 sh bench/run.sh
set -u
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd) || exit 1
cd "$root" || exit 1
duration=${DURATION:-10}
conns=${CONNECTIONS:-32}
workers=${WORKERS:-8}
secret=bench-frontend-secret

tmp=$(mktemp -d /tmp/b3bench.XXXXXX) || exit 1
chmod 0755 "$tmp"
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null
    sh spec/support/pg.sh stop "$tmp/pg" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port() { luajit -e 'local s=require("socket").bind("127.0.0.1",0) local _,p=s:getsockname() s:close() print(p)'; }
waitfor() { i=0; until curl -s -o /dev/null "$1"; do i=$((i+1)); [ $i -gt 100 ] && { echo "bench: $1 did not come up" >&2; exit 1; }; sleep 0.05; done; }
sign() { printf '%s&checksum=%s' "$2" "$(printf '%s%s%s' "$1" "$2" "$3" | sha256sum | cut -d' ' -f1)"; }

url=$(sh spec/support/pg.sh start "$tmp/pg") || exit 1
psql -qX "$url" -c "CREATE DATABASE bench" || exit 1
db=${url%/postgres}/bench
B3SCALE_DB_URL=$db build/b3scaled migrate >/dev/null 2>&1 || { echo "bench: migrate failed" >&2; exit 1; }

for n in 1 2; do
    p=$(port)
    build/bbbsim --listen "127.0.0.1:$p" --secret "node-$n" --name "bench$n" --quiet 2>/dev/null &
    pids="$pids $!"
    waitfor "http://127.0.0.1:$p/sim/health"
    psql -qX "$db" -c "INSERT INTO backends (host, secret) VALUES ('http://127.0.0.1:$p/bigbluebutton/api/', 'node-$n')"
    last_node=$p
done
psql -qX "$db" -c "INSERT INTO frontends (key, secret) VALUES ('bench', '$secret')"

dport=$(port)
B3SCALE_DB_URL=$db B3SCALE_LISTEN_HTTP=127.0.0.1:$dport B3SCALE_WORKERS=$workers \
    B3SCALE_LOG_LEVEL=error build/b3scaled 2>"$tmp/b3scaled.log" &
pids="$pids $!"
waitfor "http://127.0.0.1:$dport/healthz"
api="http://127.0.0.1:$dport/bbb/bench/api"
curl -s "$api/create?$(sign create 'name=Bench&meetingID=bench-room' "$secret")" | grep -q SUCCESS ||
    { echo "bench: create failed" >&2; exit 1; }

nport=$(port)
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx; fastcgi_temp_path $tmp/nginx;
    uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;
    server {
        listen 127.0.0.1:$nport;
        location / { return 302 http://127.0.0.1:$last_node/bigbluebutton/api/join?static=1; }
    }
}
CONF
nginx -c "$tmp/nginx.conf" -e "$tmp/nginx/error.log" || { echo "bench: nginx did not start" >&2; exit 1; }
waitfor "http://127.0.0.1:$nport/"

run() {  # NAME URL
    out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency "$2" 2>&1)
    rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')
    p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
    bad=$(printf '%s\n' "$out" | awk '/Non-2xx or 3xx/ {print $5}')
    printf '%-34s %12s %10s %10s %8s\n' "$1" "$rps" "$p50" "$p99" "${bad:-0}"
    eval "rps_$3=\$rps"
}

echo "b3scale bench: ${duration}s per run, $conns connections, $workers workers, $(nproc) cores"
printf '%-34s %12s %10s %10s %8s\n' "what" "req/s" "p50" "p99" "errors"
run "nginx static 302 (baseline)" "http://127.0.0.1:$nport/" nginx
run "b3scaled join (302)" "$api/join?$(sign join 'fullName=Bench+User&meetingID=bench-room&role=VIEWER' "$secret")" join
run "b3scaled isMeetingRunning" "$api/isMeetingRunning?$(sign isMeetingRunning 'meetingID=bench-room' "$secret")" running
run "b3scaled getMeetingInfo" "$api/getMeetingInfo?$(sign getMeetingInfo 'meetingID=bench-room' "$secret")" info
run "b3scaled API index" "$api" index
awk -v j="$rps_join" -v n="$rps_nginx" 'BEGIN { if (n > 0) printf "join redirect: %.0f%% of the nginx baseline\n", 100 * j / n }'
