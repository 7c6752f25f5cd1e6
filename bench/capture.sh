#!/usr/bin/env bash
# Measures output capture (not a test: it prints figures for
# docs/benchmarks.md). Usage: bench/capture.sh [MB]
# A child writes MB (default 200) megabytes of 100-byte lines as fast as
# `yes | head` can; backstop captures them. Reported: lines lost (must be
# 0), capture throughput (first to last record time), backstop's CPU time
# against the child's, and the same with rotation (100 MB files, gzip).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN="$PWD/target/release/backstop"
MB=${1:-200}
LINES=$((MB * 10000))
work=$(mktemp -d /tmp/backstop-bench.XXXXXX)
cleanup() { for d in "$work"/*/; do "$BIN" -c "$d/backstop.toml" down >/dev/null 2>&1 || true; done; rm -rf "$work"; }
trap cleanup EXIT
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

YES="yes \$(printf 'x%.0s' {1..98}) | head -n $LINES"
PY="python3 -c 'import sys; w = sys.stdout.write; [w(\\\"line %07d %s\\\\n\\\" % (i, 86 * \\\"x\\\")) for i in range($LINES)]'"

run() { # name, logs table, producer
  local dir="$work/${1//[^a-z]/_}"
  mkdir "$dir"
  cat > "$dir/backstop.toml" <<TOML
[services.firehose]
command = ["bash", "-c", "$3; times > cpu.txt; touch done; exec sleep 100000"]
restart = "never"
logs = $2
TOML
  "$BIN" -c "$dir/backstop.toml" up -d >/dev/null
  local pid; pid=$(cat "$dir/.backstop/daemon.pid")
  local t1=0 # the daemon's whole life: start-up is a few ticks
  until [ -e "$dir/done" ]; do sleep 0.1; done
  # Wait for the writer (and the compressor) to finish.
  local got=0
  for _ in $(seq 1 600); do
    got=$("$BIN" -c "$dir/backstop.toml" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"][0]["output"]["lines"])')
    [ "$got" -ge "$LINES" ] && break; sleep 0.1
  done
  sleep 1
  while ls "$dir/.backstop/logs/" | grep -qE '\.log\.[0-9T.]+Z$'; do sleep 0.2; done
  local t2; t2=$(ticks "$pid")
  python3 - "$dir" "$LINES" "$MB" "$((t2 - t1))" "$hz" "$1" <<'PY'
import glob, gzip, os, sys, datetime
d, lines, mb, ticks, hz, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
logs = os.path.join(d, ".backstop/logs")
segs = sorted(p for p in glob.glob(logs + "/firehose.log.*"))
count, first, last, markers = 0, None, None, 0
def scan(f):
    global count, first, last, markers
    for raw in f:
        if b"[backstop]" in raw: markers += 1; continue
        count += 1
        t = raw[:24]
        if first is None: first = t
        last = t
for p in segs:
    with (gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")) as f: scan(f)
with open(logs + "/firehose.log", "rb") as f: scan(f)
parse = lambda t: datetime.datetime.strptime(t.decode(), "%Y-%m-%dT%H:%M:%S.%fZ")
secs = (parse(last) - parse(first)).total_seconds()
child = sum(float(x.rstrip("s").split("m")[0]) * 60 + float(x.rstrip("s").split("m")[1]) for x in open(os.path.join(d, "cpu.txt")).read().split()[2:4])
print(f"{name}: {count}/{lines} lines ({lines - count} lost, {markers} markers), {len(segs)} rotated files, "
      f"{mb} MB in {secs:.2f} s = {mb / secs:.0f} MB/s; backstop CPU {ticks / hz:.2f} s "
      f"({ticks / hz * 1000 / mb:.1f} ms per MB), child CPU {child:.2f} s")
PY
  "$BIN" -c "$dir/backstop.toml" down >/dev/null
}

run "yes|head" '{ max_size = "10GB" }' "$YES"
run "yes|head, rotated 100MB+gzip" '{ max_size = "100MB", compress = "gzip" }' "$YES"
run "python print loop" '{ max_size = "10GB" }' "$PY"
