# bench/lib.sh: what bench/run.sh (make bench) and bench/scale.sh (make bench-scale) share,
# sourced from the repository root: a scratch directory cleaned up on exit with everything
# started in it, a private Postgres, free ports, signed BBB URLs, the wrk runner and the nginx
# static-302 baseline.
tmp=$(mktemp -d /tmp/b3bench.XXXXXX) || exit 1
chmod 0755 "$tmp"
pids=""
loadpid=""
cleanup() {
    [ -n "$loadpid" ] && kill "$loadpid" 2>/dev/null
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

# A private Postgres with a migrated database "bench"; sets $db to its URL.
bench_db() {
    url=$(sh spec/support/pg.sh start "$tmp/pg") || exit 1
    psql -qX "$url" -c "CREATE DATABASE bench" || exit 1
    db=${url%/postgres}/bench
    B3SCALE_DB_URL=$db build/b3scaled migrate >/dev/null 2>&1 || { echo "bench: migrate failed" >&2; exit 1; }
}

# nginx answering every request with a static 302 to $1; sets $nport.
bench_nginx() {
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
        location / { return 302 $1; }
    }
}
CONF
    nginx -c "$tmp/nginx.conf" -e "$tmp/nginx/error.log" || { echo "bench: nginx did not start" >&2; exit 1; }
    waitfor "http://127.0.0.1:$nport/"
}

# wrk for $duration seconds over $conns connections: NAME URL KEY prints a table row and sets
# rps_KEY, p50_KEY and p99_KEY.
run() {
    out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency "$2" 2>&1)
    rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')
    p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
    bad=$(printf '%s\n' "$out" | awk '/Non-2xx or 3xx/ {print $5}')
    printf '%-34s %12s %10s %10s %8s\n' "$1" "$rps" "$p50" "$p99" "${bad:-0}"
    eval "rps_$3=\$rps p50_$3=\$p50 p99_$3=\$p99"
}
header() { printf '%-34s %12s %10s %10s %8s\n' "what" "req/s" "p50" "p99" "errors"; }

# wrk's "354.00us", "5.27ms", "1.02s" as milliseconds.
tomillis() { printf '%s\n' "$1" | awk '{ v = $1 + 0
    if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /ms$/) v += 0; else if ($1 ~ /m$/) v *= 60000
    else if ($1 ~ /s$/) v *= 1000
    printf "%.2f", v }'; }
