#!/bin/sh
# Regenerates the seed corpora in fuzz/corpus/<target>/ from the project's fixtures
# (spec/fixtures, ../shared/fixtures) and a few hand-written inputs. The result is committed;
# run this only to refresh it. Needs sha1sum (coreutils) and awk.
set -eu
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"
c=fuzz/corpus
shared=../shared/fixtures
rm -rf "$c"
mkdir -p "$c/query" "$c/xml" "$c/agent_redis" "$c/jwt" "$c/log" "$c/agent_props"

# --- query: "<call>\n<raw query>"; two carry a valid sha1 checksum under fuzz_query's secret
seed() { printf '%s\n%s' "$2" "$3" >"$c/query/$1"; }
signed() { # name call query
    sum=$(printf '%s%s%s' "$2" "$3" "frontend-secret" | sha1sum | cut -d' ' -f1)
    seed "$1" "$2" "$3&checksum=$sum"
}
signed create-signed create 'name=Demo+Meeting&meetingID=demo-room&record=false&attendeePW=ap&moderatorPW=mp'
signed join-signed join 'fullName=Demo%20User&meetingID=demo-room&role=MODERATOR&redirect=true'
seed getMeetingInfo getMeetingInfo 'meetingID=room%2F1&checksum=0123456789abcdef0123456789abcdef01234567'
seed duplicate-checksum isMeetingRunning 'meetingID=a&checksum=00&checksum=11'
seed bad-escapes end 'meetingID=%zz%4&password=%E2%82%AC+x&&=&checksum='
seed sha256-upper getRecordings 'meetingID=a,b&state=published&checksum=ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789'
seed no-call '' 'meetingID=x'

# --- xml: the BBB answers recorded from real nodes, and two with namespaced IDs
for f in "$shared"/bbb-responses/*.xml; do cp "$f" "$c/xml/"; done
sed 's|<meetingID>\([^<]*\)</meetingID>|<meetingID>fe~\1</meetingID>|' \
    "$shared/bbb-responses/getMeetingsSuccess.xml" >"$c/xml/getMeetings-namespaced.xml"
sed 's|<parentMeetingID>\([^<]*\)</parentMeetingID>|<parentMeetingID>fe~\1</parentMeetingID>|; s|<meetingID>\([^<]*\)</meetingID>|<meetingID>other~\1</meetingID>|' \
    "$shared/bbb-responses/getMeetingInfoSuccess-breakout.xml" >"$c/xml/getMeetingInfo-breakout-namespaced.xml"

# --- agent_redis: the recorded akka-apps traffic as Redis sends it (RESP): one seed per
# message name (first of each, at most 4 KiB), the subscription's answer, and a whole meeting
LC_ALL=C awk -v dir="$c/agent_redis" '
    function bulk(s) { return "$" length(s) "\r\n" s "\r\n" }
    function pmsg(pat, ch, m) { return "*4\r\n" bulk("pmessage") bulk(pat) bulk(ch) bulk(m) }
    $0 == "pmessage" {
        getline pat; getline ch; getline m
        if (!match(m, /"name":"[A-Za-z]+"/)) next
        n = substr(m, RSTART + 8, RLENGTH - 9)
        if (length(m) <= 4096 && !(n in seen)) {
            seen[n] = 1
            printf "%s", pmsg(pat, ch, m) > (dir "/" n)
            close(dir "/" n)
        }
        if (n ~ /^(Meeting|UserJoined|UserLeft|Breakout)/)
            meeting = meeting pmsg(pat, ch, m)
    }
    END {
        f = dir "/subscribed-then-meeting"
        printf "*3\r\n$10\r\npsubscribe\r\n$24\r\n*akka-apps-redis-channel\r\n:1\r\n%s", meeting > f
    }' spec/fixtures/bbb/bbb_msg_dump.rds
printf '*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\n{}\r\n-ERR unknown\r\n+OK\r\n:12\r\n$-1\r\n*-1\r\n' \
    >"$c/agent_redis/other-replies"

# --- jwt: first byte even = a raw Authorization header; odd = "<header>\n<claims>", signed
printf '\000Bearer eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiJ9.c2ln' >"$c/jwt/raw-bad-signature"
printf '\000bearer   eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' >"$c/jwt/raw-alg-none"
printf '\001{"alg":"HS384","typ":"JWT"}\n{"sub":"admin","scope":"b3scale:admin","exp":4102444800}' >"$c/jwt/signed-admin"
printf '\001{"alg":"HS384","typ":"JWT"}\n{"sub":"node1","scope":"b3scale:node b3scale:x","b3s_noexp":true}' >"$c/jwt/signed-noexp"
printf '\001{"alg":"HS384"}\n{"sub":"a","exp":1.5e9,"nbf":"0"}' >"$c/jwt/signed-bad-dates"
printf '\001{"alg":"HS256"}\n{"sub":"a","exp":4102444800}' >"$c/jwt/signed-hs256-header"

# --- log: "format\0subsys\0value\0value..." (fuzz_log.c: the format takes the slots
# S I S Z D S L U S P I S I S D S in this order)
printf 'event=start call=%%s n=%%d\000bbb\000create\000fe1\000connection refused' >"$c/log/plain"
printf 'event=x a="%%s" n=%%5d b=%%-8.3s size=%%zu load=%%.2f free text %%s\000db\000a"b\\c\000k=v x="y z" \000\001\002\n\t\000e' >"$c/log/quotes-controls"
printf 'error="%%s %%i" %%s%%zu x=%%g%%s y=%%ld%%u%%s p=%%p w=%%*s%%%%\000api\000error="unterminated\000key= =x\000caf\303\251 \377\000\000z' >"$c/log/odd-pairs"

# --- agent_props: the node configuration recorded from a real node, and edge cases
cp "$shared/bbb-web.properties" "$c/agent_props/bbb-web.properties"
printf 'a=${b}\nb=${a}\nsecuritySalt=x\\\n  y\\u0041\\\n' >"$c/agent_props/cycle-continuation"
printf '! comment\\\nredisHost = h\\:1\nredisPort:${redisHost}${missing}\n' >"$c/agent_props/separators"
# references that fan out 8 ways over 10 levels (a libFuzzer timeout before the budget)
{ echo 'redisHost=${k0}'; i=0; while [ $i -lt 10 ]; do
    printf 'k%d=' $i; j=0; while [ $j -lt 8 ]; do printf '${k%d}' $((i + 1)); j=$((j + 1)); done
    echo; i=$((i + 1)); done; echo 'k10=y'; } >"$c/agent_props/fanout"

du -sh "$c"/*
