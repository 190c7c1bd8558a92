#!/bin/sh
# make bench: the join redirect (every user's hot path) and the polled calls, measured with
# wrk against a real b3scaled, Postgres and simulated nodes, next to a baseline measured in
# the same run: nginx answering a static 302 on the same machine. Then the "hung node" run:
# join latency for a meeting on a healthy node while the other node hangs under ~20
# getMeetingInfo/s, next to the same load without the hang (goal: p99 within 2x).
#   DURATION=10 CONNECTIONS=32 WORKERS=8 sh bench/run.sh
#   HANG_BREAKER_FAILURES=1000 HANG_MAX_INFLIGHT=1000 HANG_RATE=20: the hung-node daemon's
#   breaker and bulkhead (high: loop isolation alone) and the getMeetingInfo rate
set -u
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd) || exit 1
cd "$root" || exit 1
duration=${DURATION:-10}
conns=${CONNECTIONS:-32}
workers=${WORKERS:-8}
secret=bench-frontend-secret

. bench/lib.sh

bench_db

for n in 1 2; do
    p=$(port)
    build/bbbsim --listen "127.0.0.1:$p" --secret "node-$n" --name "bench$n" --quiet 2>/dev/null &
    pids="$pids $!"
    waitfor "http://127.0.0.1:$p/sim/health"
    psql -qX "$db" -c "INSERT INTO backends (host, secret) VALUES ('http://127.0.0.1:$p/bigbluebutton/api/', 'node-$n')"
    last_node=$p
    eval "node_$n=\$p"
done
psql -qX "$db" -c "INSERT INTO frontends (key, secret) VALUES ('bench', '$secret')"
# 10,000 recordings of the bench frontend in 1,000 meetings, two formats and three meta keys
# each, for getRecordings' page (and 10,000 of another frontend, which must not slow it)
psql -qX "$db" -c "INSERT INTO frontends (key, secret) VALUES ('bench-other', '$secret')"
psql -qX "$db" -c "INSERT INTO recordings (frontend_id, record_id, meeting_id, internal_meeting_id,
   name, start_time, end_time, participants, metadata)
   SELECT f.id, f.key || '-rec-' || i, 'room-' || (i % 1000), f.key || '-rec-' || i, 'Room ' || i,
          1700000000000 + i * 1000, 1700000600000 + i * 1000, 5,
          jsonb_build_object('meetingName', 'Room ' || i, 'gl-listed', 'true', 'course', 'c' || (i % 50))
   FROM frontends f, generate_series(1, 10000) i WHERE f.key IN ('bench', 'bench-other')" >/dev/null
psql -qX "$db" -c "INSERT INTO recording_formats (recording_id, format, url, url_path, length_ms, size)
   SELECT r.id, fm, 'https://node/playback/' || fm || '/2.3/' || r.record_id,
          '/playback/' || fm || '/2.3/' || r.record_id, 600000, 1000000
   FROM recordings r, unnest(ARRAY['presentation', 'video']) fm" >/dev/null
psql -qX "$db" -c "VACUUM ANALYZE" >/dev/null  # autovacuum's steady state: index-only counts

dport=$(port)
B3SCALE_DB_URL=$db B3SCALE_LISTEN_HTTP=127.0.0.1:$dport B3SCALE_WORKERS=$workers \
    B3SCALE_LOG_LEVEL=error build/b3scaled 2>"$tmp/b3scaled.log" &
pids="$pids $!"
waitfor "http://127.0.0.1:$dport/healthz"
api="http://127.0.0.1:$dport/bbb/bench/api"
curl -s "$api/create?$(sign create 'name=Bench&meetingID=bench-room' "$secret")" | grep -q SUCCESS ||
    { echo "bench: create failed" >&2; exit 1; }

bench_nginx "http://127.0.0.1:$last_node/bigbluebutton/api/join?static=1"

echo "b3scale bench: ${duration}s per run, $conns connections, $workers workers, $(nproc) cores"
header
run "nginx static 302 (baseline)" "http://127.0.0.1:$nport/" nginx
run "b3scaled join (302)" "$api/join?$(sign join 'fullName=Bench+User&meetingID=bench-room&role=VIEWER' "$secret")" join
run "b3scaled isMeetingRunning" "$api/isMeetingRunning?$(sign isMeetingRunning 'meetingID=bench-room' "$secret")" running
run "b3scaled getMeetingInfo" "$api/getMeetingInfo?$(sign getMeetingInfo 'meetingID=bench-room' "$secret")" info
run "b3scaled API index" "$api" index
run "getRecordings, 1 page (10k recordings)" "$api/getRecordings?$(sign getRecordings 'offset=5000&limit=25' "$secret")" recs
run "getRecordings, one meeting" "$api/getRecordings?$(sign getRecordings 'meetingID=room-42' "$secret")" recm
awk -v j="$rps_join" -v n="$rps_nginx" 'BEGIN { if (n > 0) printf "join redirect: %.0f%% of the nginx baseline\n", 100 * j / n }'
# getMeetingInfo for one meeting is shared (one node call, reused for B3SCALE_INFO_CACHE_MS)
awk -v i="$rps_info" -v j="$rps_join" -v p="$(tomillis "$p99_join")" -v c="$conns" 'BEGIN {
    if (j > 0) printf "getMeetingInfo (shared answers): %.0f%% of the join rate, goal >= 50%% %s\n", 100 * i / j, (i >= j / 2) ? "PASS" : "MISS"
    printf "join p99: %.2f ms at %d connections, goal <= 2 ms %s\n", p, c, (p <= 2) ? "PASS" : "MISS" }'
awk -v p="$(tomillis "$p99_recs")" 'BEGIN {
    printf "getRecordings page p99: %.2f ms, goal <= 20 ms %s\n", p, (p <= 20) ? "PASS" : "MISS" }'

# --- hung node: joins for a meeting on node 1 while node 2 hangs under getMeetingInfo load ---
# A daemon of its own, so the breaker and bulkhead settings are explicit (the defaults, 5
# consecutive timeouts and 64 calls in flight per node, fail calls to a hung node fast; high
# values measure the event loop's isolation alone). Both phases run against it.
hang_breaker=${HANG_BREAKER_FAILURES:-1000}
hang_inflight=${HANG_MAX_INFLIGHT:-1000}
hang_rate=${HANG_RATE:-20}
hport=$(port)
B3SCALE_DB_URL=$db B3SCALE_LISTEN_HTTP=127.0.0.1:$hport B3SCALE_WORKERS=$workers \
    B3SCALE_NODE_BREAKER_FAILURES=$hang_breaker B3SCALE_NODE_MAX_INFLIGHT=$hang_inflight \
    B3SCALE_LOG_LEVEL=error build/b3scaled 2>"$tmp/b3scaled-hang.log" &
pids="$pids $!"
waitfor "http://127.0.0.1:$hport/healthz"
hapi="http://127.0.0.1:$hport/bbb/bench/api"

on_node() { curl -s "http://127.0.0.1:$1/sim/meetings" | grep -q "\"meetingID\":\"bench~$2\""; }
ok_m="" hung_m="" i=0
while [ -z "$ok_m" ] || [ -z "$hung_m" ]; do
    i=$((i+1))
    [ $i -gt 20 ] && { echo "bench: could not place a meeting on each node" >&2; exit 1; }
    curl -s "$hapi/create?$(sign create "name=Hang&meetingID=hang-$i" "$secret")" | grep -q SUCCESS ||
        { echo "bench: create hang-$i failed" >&2; exit 1; }
    if on_node "$node_1" "hang-$i"; then
        [ -n "$ok_m" ] || ok_m=hang-$i
    elif on_node "$node_2" "hang-$i"; then
        [ -n "$hung_m" ] || hung_m=hang-$i
    fi
done

# Open-loop load (a request every 1/RATE s whatever the answers, one connection each, from
# 127.0.0.2 so it does not share wrk's per-IP connection budget) for SECS seconds, half a
# second more for the last answers, then one summary line.
cat >"$tmp/load.lua" <<'LUA'
local socket = require("socket")
local port, path, rate, secs = tonumber(arg[1]), arg[2], tonumber(arg[3]), tonumber(arg[4])
local req = "GET " .. path .. " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
local live, lat = {}, {}
local sent, answered, success, failed = 0, 0, 0, 0
local start = socket.gettime()
local due, stop = start, start + secs
local function done(s, c, now, ok)
    s:close()
    live[s] = nil
    if not ok then failed = failed + 1 return end
    local body = table.concat(c.buf)
    if not body:match("^HTTP/1%.%d %d%d%d") then failed = failed + 1 return end
    answered = answered + 1
    lat[#lat + 1] = (now - c.t) * 1000
    if body:find("<returncode>SUCCESS</returncode>", 1, true) then success = success + 1 end
end
while next(live) or socket.gettime() < stop do
    local now = socket.gettime()
    if now >= stop + 0.5 then break end -- answers get half a second after the last request
    while due <= now and now < stop do
        local s = socket.tcp()
        s:settimeout(0)
        s:bind("127.0.0.2", 0)
        s:connect("127.0.0.1", port)
        live[s] = { t = due, buf = {} }
        sent = sent + 1
        due = due + 1 / rate
    end
    local r, w = {}, {}
    for s, c in pairs(live) do
        if c.wrote then r[#r + 1] = s else w[#w + 1] = s end
    end
    local wake = now < stop and math.min(due, stop) or stop + 0.5
    local rr, ww = socket.select(r, w, math.max(0, wake - socket.gettime()))
    now = socket.gettime()
    for _, s in ipairs(ww) do
        local c = live[s]
        if c and not c.wrote then
            if s:send(req) then c.wrote = true else done(s, c, now, false) end
        end
    end
    for _, s in ipairs(rr) do
        local c = live[s]
        if c then
            local d, err, part = s:receive(65536)
            d = d or part
            if d and #d > 0 then c.buf[#c.buf + 1] = d end
            if err == "closed" then done(s, c, now, true)
            elseif err and err ~= "timeout" then done(s, c, now, false) end
        end
    end
end
local waiting = 0
for s in pairs(live) do s:close() waiting = waiting + 1 end
table.sort(lat)
local function q(p) return #lat > 0 and string.format("%.1f ms", lat[math.max(1, math.ceil(#lat * p))]) or "-" end
print(string.format("sent %d, answered %d (%d SUCCESS), p50 %s, p99 %s, errors %d, no answer yet %d",
    sent, answered, success, q(0.5), q(0.99), failed, waiting))
LUA

info_path="/bbb/bench/api/getMeetingInfo?$(sign getMeetingInfo "meetingID=$hung_m" "$secret")"
join_url="$hapi/join?$(sign join "fullName=Bench+User&meetingID=$ok_m&role=VIEWER" "$secret")"
phase() {  # NAME KEY: the join run with the getMeetingInfo load around it
    luajit "$tmp/load.lua" "$hport" "$info_path" "$hang_rate" "$((duration + 1))" >"$tmp/load.out" 2>&1 &
    loadpid=$!
    sleep 1
    run "$1" "$join_url" "$2"
    wait "$loadpid"
    loadpid=""
    eval "load_$2=\$(cat \"\$tmp/load.out\")"
}

echo
echo "hung node: join for $ok_m (bench1) while ~$hang_rate getMeetingInfo/s go to $hung_m (bench2);"
echo "  that daemon: B3SCALE_NODE_BREAKER_FAILURES=$hang_breaker B3SCALE_NODE_MAX_INFLIGHT=$hang_inflight;"
echo "  load average $(cut -d' ' -f1-3 /proc/loadavg) (p99 is noisy on a shared machine)"
header
phase "b3scaled join, no fault" calm
curl -s -o /dev/null -X POST "http://127.0.0.1:$node_2/sim/mode?fail=hang" ||
    { echo "bench: cannot hang bench2" >&2; exit 1; }
phase "b3scaled join, other node hung" hung
curl -s -o /dev/null -X POST "http://127.0.0.1:$node_2/sim/mode?fail=none"
echo "getMeetingInfo load, no fault:   $load_calm"
echo "getMeetingInfo load, node hung:  $load_hung"
a50=$(tomillis "$p50_calm") a99=$(tomillis "$p99_calm") h50=$(tomillis "$p50_hung") h99=$(tomillis "$p99_hung")
awk -v a50="$a50" -v a99="$a99" -v h50="$h50" -v h99="$h99" 'BEGIN {
    r = a99 > 0 ? h99 / a99 : 0
    printf "hung node: join p50 %.2f ms p99 %.2f ms (no fault: p50 %.2f ms p99 %.2f ms) ratio %.2fx, goal <= 2x %s\n",
        h50, h99, a50, a99, r, (a99 > 0 && r <= 2) ? "PASS" : "MISS" }'
