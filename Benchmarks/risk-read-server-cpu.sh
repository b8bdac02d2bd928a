#!/usr/bin/env bash
# The risk baseline read as PostgreSQL runs it, without the broker: server CPU and latency per call.
#
#   .build/release/airlock bench risk --requests 1000 --hold 900 &   # prints the bench database's URL
#   bash Benchmarks/risk-read-server-cpu.sh 'postgres://...' [calls, default 5000]
#
# Runs `pgbench -M prepared` with one client: first `SELECT 1`, then `airlock_risk_baseline(...)` for random
# principals, resources and networks of the bench's data. The server's CPU is read from the postmaster's
# children's times (/proc, so the cluster must run on this machine): CPU time is steadier than latency on a noisy
# machine. Needs pgbench (PATH or /usr/lib/postgresql/*/bin).
set -euo pipefail
url=${1:?usage: risk-read-server-cpu.sh DATABASE_URL [calls]}
calls=${2:-5000}
pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)
[ -x "$pgbench" ] || { echo "pgbench not found" >&2; exit 1; }
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1)
data=$("$psql" "$url" -Atc "SHOW data_directory")
postmaster=$(head -1 "$data/postmaster.pid" 2>/dev/null) && [ -r /proc/"$postmaster"/stat ] \
    || { echo "the cluster must run on this machine (no $data/postmaster.pid)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo 'SELECT 1;' > "$work/select1.sql"
cat > "$work/read.sql" <<'SQL'
\set p random(0, 9999)
\set r random(0, 19)
\set n random(0, 5)
SELECT * FROM airlock_risk_baseline('bench-' || :p, 'res-' || :r, now() - interval '10 minutes', now() - interval '30 days', now(), 'readonly', now() - interval '90 days', '10.' || (:p % 250) || '.' || :n || '.7', ARRAY['team-' || (:p / 50)], 30);
SQL
ticks() { awk '{print $14 + $15 + $16 + $17}' /proc/"$postmaster"/stat; }
hz=$(getconf CLK_TCK)
for script in select1 read; do
    before=$(ticks)
    "$pgbench" -n -M prepared -c 1 -t "$calls" -f "$work/$script.sql" "$url" > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
    sleep 0.3  # the backend has exited and been reaped
    after=$(ticks)
    latency=$(awk '/latency average/ {print $4}' "$work/out")
    echo "$script: server CPU $(( (after - before) * 1000000 / hz / calls )) µs per call, latency average $latency ms ($calls calls)"
done
