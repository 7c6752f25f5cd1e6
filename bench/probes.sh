#!/usr/bin/env bash
# What HTTP health checks cost the daemon (not a test: it prints figures for
# docs/benchmarks.md). Usage: bench/probes.sh [N] [SECONDS]
# N checks (default 1000; `[checks.NAME]`, beside one idle service), each
# an `http` check every second against one
# local Node.js server that answers `{"status": "ok"}` and counts what it
# answers; after 5 s of settling, SECONDS (default 30) are measured: the
# requests the server answered per second and the daemon's CPU (clock ticks
# from /proc/PID/stat) as a share of one core.
# BIN=/path/to/backstop measures that build.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
SECS=${2:-30}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN="$PWD/target/release/backstop"
fi
command -v node >/dev/null || { echo "needs node (the HTTP server the checks ask)" >&2; exit 2; }
work=$(mktemp -d /tmp/backstop-probes.XXXXXX)
server=
cleanup() {
  "$BIN" -c "$work/backstop.toml" down >/dev/null 2>&1 || true
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# The server: every answer counted; the count written on SIGUSR1.
cat > "$work/server.js" <<'JS'
const http = require('http');
let answered = 0;
const server = http.createServer((req, res) => {
  answered++;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"status": "ok"}');
});
server.listen(0, '127.0.0.1', () => {
  require('fs').writeFileSync(process.argv[2], String(server.address().port));
});
process.on('SIGUSR1', () => require('fs').writeFileSync(process.argv[3], String(answered)));
JS
node "$work/server.js" "$work/port" "$work/count" &
server=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")

{
  printf '[services.idle]\ncommand = ["sleep", "100000"]\n\n'
  for i in $(seq 1 "$N"); do
    printf '[checks.c%d]\nhttp = "http://127.0.0.1:%s/health"\ninterval = "1s"\n\n' "$i" "$port"
  done
} > "$work/backstop.toml"
"$BIN" -c "$work/backstop.toml" up -d >/dev/null
pid=$(cat "$work/.backstop/daemon.pid")
sleep 5 # settling: the first run of each check, not measured

count() { rm -f "$work/count"; kill -USR1 "$server"; for _ in $(seq 1 100); do [ -s "$work/count" ] && break; sleep 0.02; done; cat "$work/count"; }
r0=$(count); t0=$(ticks "$pid"); s0=$EPOCHREALTIME
sleep "$SECS"
r1=$(count); t1=$(ticks "$pid"); s1=$EPOCHREALTIME
awk -v r=$((r1 - r0)) -v t=$((t1 - t0)) -v hz="$hz" -v a="$s0" -v b="$s1" -v n="$N" 'BEGIN {
  secs = b - a
  printf "%d http checks every second: %.0f requests/s answered, daemon CPU %.1f %% of one core (%d ticks in %.1f s)\n",
    n, r / secs, 100 * t / hz / secs, t, secs }'
echo "daemon $(grep VmRSS "/proc/$pid/status" | tr -s ' \t' ' ')"
