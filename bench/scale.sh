#!/usr/bin/env bash
# backstop with many services (not a test: it prints figures for
# docs/benchmarks.md). Usage: bench/scale.sh [N]   (default 1000)
# N `sleep` services that exit at once on SIGTERM:
#   1. `up -d` until every one runs;
#   2. `status`, `/metrics` and `/health` over the socket (median of 5);
#   3. the daemon's RSS;
#   4. `down` until the daemon has exited.
# BIN=/path/to/backstop measures that build.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN="$PWD/target/release/backstop"
fi
work=$(mktemp -d /tmp/backstop-scale.XXXXXX)
cleanup() { "$BIN" -c "$work/backstop.toml" down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
for i in $(seq 1 "$n"); do printf '[services.s%d]\ncommand = ["sleep", "100000"]\n' "$i"; done > "$work/backstop.toml"

now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

t0=$(now)
"$BIN" -c "$work/backstop.toml" up -d >/dev/null
t1=$(now)
echo "up -d, $n services, until every one runs: $(ms "$t0" "$t1") ms"
daemon=$(cat "$work/.backstop/daemon.pid")
sock="$work/.backstop/backstop.sock"

for what in status metrics health; do
  for _ in 1 2 3 4 5; do
    a=$(now)
    case $what in
      status) "$BIN" -c "$work/backstop.toml" status >/dev/null ;;
      metrics) curl -s --unix-socket "$sock" http://localhost/metrics >/dev/null ;;
      health) curl -s --unix-socket "$sock" http://localhost/health >/dev/null ;;
    esac
    b=$(now)
    ms "$a" "$b"; echo
  done | median | sed "s/^/$what, median of 5: /; s/$/ ms/"
done
echo "daemon RSS with $n services: $(awk '/VmRSS/{print $2" kB"}' "/proc/$daemon/status")"

t0=$(now)
"$BIN" -c "$work/backstop.toml" down >/dev/null
# Gone once it has exited: a zombie waits for whoever adopted it (init).
running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
while running "$daemon"; do sleep 0.01; done
t1=$(now)
echo "down, $n services, until the daemon exited: $(ms "$t0" "$t1") ms"

# The floor, in the same run: bash starting N sleeps, then SIGTERMing and
# reaping them (no supervision, no logs, no cgroups).
t0=$(now)
pids=()
for _ in $(seq 1 "$n"); do sleep 100000 & pids+=($!); done
t1=$(now)
kill -TERM "${pids[@]}"
wait 2>/dev/null || true
t2=$(now)
echo "floor: bash starts $n sleeps in $(ms "$t0" "$t1") ms, SIGTERMs and reaps them in $(ms "$t1" "$t2") ms"
