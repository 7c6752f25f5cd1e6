#!/usr/bin/env bash
# Measures `backstop diagnose` over large logs (not a test: it prints
# figures for docs/benchmarks.md). Usage: bench/diagnose.sh [MB]
# Two layouts of MB (default 100) megabytes of a crashing service's log:
#   current:  all of it in the current file (diagnose reads its end);
#   rotated:  a few lines in the current file, the rest in a gzipped
#             segment that must be streamed to reach 2000 lines.
# No daemon runs: the state comes from the files, as after a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
BIN="$PWD/target/release/backstop"
MB=${1:-100}
work=$(mktemp -d /tmp/backstop-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

make_log() { # path, megabytes, then the service's last words
  python3 - "$1" "$2" <<'PY'
import datetime, sys
path, mb = sys.argv[1], int(sys.argv[2])
t = datetime.datetime(2026, 11, 30, tzinfo=datetime.timezone.utc)
step = datetime.timedelta(milliseconds=1)
line = "INFO request handled " + "x" * 60
with open(path, "w") as f:
    n, size = 0, 0
    while size < mb * 1_000_000:
        stamp = (t + n * step).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        rec = f"{stamp} stdout {line} {n}\n"
        f.write(rec)
        size += len(rec)
        n += 1
    for i, text in enumerate(["Traceback (most recent call last):",
                              '  File "/srv/app/main.py", line 3, in <module>',
                              "ModuleNotFoundError: No module named 'backend'"]):
        stamp = (t + (n + i) * step).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        f.write(f"{stamp} stderr {text}\n")
PY
}

setup() { # name
  local dir="$work/$1"
  mkdir -p "$dir/.backstop/logs"
  cat > "$dir/backstop.toml" <<TOML
[services.api]
command = "python3 -c 'import backend'"
TOML
  echo "$dir"
}

measure() { # dir, label
  local dir=$1 label=$2 best=999 out
  for _ in 1 2 3 4 5; do
    local start end
    start=$(date +%s.%N)
    out=$("$BIN" -c "$dir/backstop.toml" diagnose api -q 2>&1 || true)
    end=$(date +%s.%N)
    best=$(python3 -c "print(min($best, $end - $start))")
  done
  local size; size=$(du -sh "$dir/.backstop/logs" | cut -f1)
  printf '%-8s logs %-5s best of 5: %.3f s   verdict: %s\n' "$label" "$size" "$best" "$(head -1 <<<"$out")"
}

d=$(setup current)
make_log "$d/.backstop/logs/api.log" "$MB"
measure "$d" current

d=$(setup rotated)
make_log "$d/.backstop/logs/api.log.20261130T235959.000Z" "$MB"
gzip "$d/.backstop/logs/api.log.20261130T235959.000Z"
printf '2026-12-01T00:00:00.000Z stderr %s\n' "Traceback (most recent call last):" \
  "ModuleNotFoundError: No module named 'backend'" > "$d/.backstop/logs/api.log"
measure "$d" rotated
