#!/usr/bin/env bash
# Measures backstop's supervision costs on this machine (not a test: it
# prints figures for docs/benchmarks.md). Usage: bench/supervise.sh
#   1. idle RSS of the daemon with 10 children, and its CPU over 10 s idle;
#   2. respawn cycle: a service running /bin/true with zero backoff, against
#      a bare bash loop running /bin/true (the floor: fork + exec + exit).
# BIN=/path/to/backstop measures that build instead (for a side-by-side
# run against an older build, as docs/benchmarks.md reports).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN="$PWD/target/release/backstop"
fi
work=$(mktemp -d /tmp/backstop-bench.XXXXXX)
cleanup() { for d in "$work"/*/; do "$BIN" -c "$d/backstop.toml" down >/dev/null 2>&1 || true; done; rm -rf "$work"; }
trap cleanup EXIT

restarts() { "$BIN" -c "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"][0]["restarts"])'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

mkdir "$work/idle"
for i in $(seq 0 9); do printf '[services.s%d]\ncommand = "sleep 100000"\n\n' "$i"; done > "$work/idle/backstop.toml"
"$BIN" -c "$work/idle/backstop.toml" up -d >/dev/null
pid=$(cat "$work/idle/.backstop/daemon.pid")
t1=$(ticks "$pid"); sleep 10; t2=$(ticks "$pid")
echo "idle, 10 children: $(awk '/VmRSS/{print $2" kB"}' "/proc/$pid/status") RSS, $(awk '/Threads/{print $2}' "/proc/$pid/status") thread(s), $((t2 - t1)) CPU ticks in 10 s"
for _ in 1 2 3; do "$BIN" -c "$work/idle/backstop.toml" status >/dev/null; done
sleep 1
echo "idle, 10 children, after 3 status requests: $(awk '/VmRSS/{print $2" kB"}' "/proc/$pid/status") RSS"
sleep 61
echo "idle, 10 children, a minute after the requests: $(awk '/VmRSS/{print $2" kB"}' "/proc/$pid/status") RSS"
"$BIN" -c "$work/idle/backstop.toml" down >/dev/null

mkdir "$work/flap"
cat > "$work/flap/backstop.toml" <<'TOML'
[services.blink]
command = "/bin/true"
restart = { backoff_initial = "0s", max_restarts = 999999, window = "1h" }
TOML
"$BIN" -c "$work/flap/backstop.toml" up -d >/dev/null || true   # a flapping service never "starts"
r1=$(restarts "$work/flap/backstop.toml"); sleep 5; r2=$(restarts "$work/flap/backstop.toml")
echo "respawn cycle under backstop: $(python3 -c "print(round(5000/($r2-$r1), 3))") ms ($((r2 - r1)) restarts in 5 s)"
"$BIN" -c "$work/flap/backstop.toml" down >/dev/null

n=$(timeout 5 bash -c 'n=0; trap "echo \$n > '"$work"'/n; exit 0" TERM; while :; do /bin/true; n=$((n+1)); done' || true; cat "$work/n")
echo "respawn cycle, bare bash loop: $(python3 -c "print(round(5000/$n, 3))") ms ($n runs in 5 s)"
