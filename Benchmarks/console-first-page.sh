#!/usr/bin/env bash
# How soon the approver console's first page is usable from a local broker: `airlock dev` (a release build), one
# person signed in through the dev sign-in page, then the Ask page (/console: the catalog the policy could grant
# them) with its style sheet and script, fetched as a browser does on one kept-alive connection, N times.
#
#   swift build -c release --product airlock
#   bash Benchmarks/console-first-page.sh [.build/release/airlock] [requests, default 200]
#
# Prints the first (cold) load, then p50, p95 and max of the rest: the sum of the three responses' total times
# (curl's time_total: connect, request, the whole body).
set -euo pipefail
cd "$(dirname "$0")/.."
airlock="${1:-.build/release/airlock}"
requests="${2:-200}"
[ -x "$airlock" ] || { echo "no $airlock: swift build -c release --product airlock" >&2; exit 1; }

work="$(mktemp -d)"
dev_pid=""
cleanup() {
    if [ -n "$dev_pid" ] && kill -0 "$dev_pid" 2>/dev/null; then
        kill -INT "$dev_pid"
        wait "$dev_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$airlock" dev --port "$port" --json >"$work/banner" 2>"$work/dev.log" &
dev_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 900); do
    curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
    kill -0 "$dev_pid" 2>/dev/null || { cat "$work/dev.log" >&2; exit 1; }
    sleep 0.1
done

# Sign in as a browser would: the console sends us to the dev issuer's page, we answer its form, the callback
# starts a session (cookies in the jar).
jar="$work/cookies"
authorize="$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' "$base/console/signin")"
query="${authorize#*\?}"
callback="$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' \
    --data "$query&user=alice&groups=sre&mfa=1" "$base/v1/dev/authorize")"
curl -sS -c "$jar" -b "$jar" -o /dev/null "$callback"
grep -q airlock_session "$jar" || { echo "sign-in failed" >&2; exit 1; }

page() {
    curl -sS -b "$jar" -o /dev/null -o /dev/null -o /dev/null -w '%{time_total}\n' \
        "$base/console" "$base/console/assets/console.css" "$base/console/assets/console.js" |
        awk '{ sum += $1 } END { printf "%.2f\n", sum * 1000 }'
}

first="$(page)"
for _ in $(seq 1 "$requests"); do page; done | sort -n >"$work/times"
count="$(wc -l <"$work/times")"
at() { sed -n "$(( ($1 * count + 99) / 100 ))p" "$work/times"; }
echo "console first page (Ask: HTML, CSS, JS), $count loads after a cold one, airlock dev on 127.0.0.1:"
echo "cold ${first} ms; p50 $(at 50) ms, p95 $(at 95) ms, max $(tail -1 "$work/times") ms"
