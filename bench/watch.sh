#!/usr/bin/env bash
# What watching costs (not a test: it prints figures for docs/benchmarks.md).
# Usage: bench/watch.sh [SECONDS]   (default 60)
# On 10 idle services, each for SECONDS:
#   1. the daemon alone (the floor);
#   2. `backstop top` open in a tmux terminal: top's CPU, and the daemon's;
#   3. the peer habit it replaces, `watch -n 1 backstop status`: the same;
#   4. one dashboard connected (the /api/v1/stream a browser reads): the daemon's.
# CPU is in clock ticks (USER_HZ, 100 a second) from /proc/PID/stat, so
# 100 ticks in 60 s is 1.7 % of one core. BIN=/path/to/backstop measures
# that build.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN="$PWD/target/release/backstop"
fi
command -v tmux >/dev/null || { echo "needs tmux" >&2; exit 1; }
work=$(mktemp -d /tmp/backstop-watch.XXXXXX)
sock="bench-watch-$$"
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  "$BIN" -c "$work/backstop.toml" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# Ticks of a process and its reaped children (for `watch`, whose work is
# done by the `backstop status` it starts).
tree_ticks() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
  printf '[daemon]\nlisten = "127.0.0.1:%d"\ntoken_file = "token"\n\n' "$port"
  for i in $(seq 0 9); do printf '[services.s%d]\ncommand = "sleep 100000"\n\n' "$i"; done
} > "$work/backstop.toml"
"$BIN" -c "$work/backstop.toml" up -d >/dev/null
daemon=$(cat "$work/.backstop/daemon.pid")
sleep 2

d1=$(ticks "$daemon"); sleep "$secs"; d2=$(ticks "$daemon")
echo "daemon alone, 10 services, ${secs} s: $((d2 - d1)) ticks"

tmux -L "$sock" new-session -d -s top -x 80 -y 24 "$BIN -c $work/backstop.toml top"
sleep 2
top=$(tmux -L "$sock" list-panes -t top -F '#{pane_pid}')
t1=$(ticks "$top"); d1=$(ticks "$daemon"); sleep "$secs"; t2=$(ticks "$top"); d2=$(ticks "$daemon")
echo "backstop top open, ${secs} s: top $((t2 - t1)) ticks, daemon $((d2 - d1)) ticks, top RSS $(awk '/VmRSS/{print $2" kB"}' "/proc/$top/status")"
tmux -L "$sock" kill-server

if command -v watch >/dev/null; then
  tmux -L "$sock" new-session -d -s w -x 80 -y 24 "watch -n 1 $BIN -c $work/backstop.toml status"
  sleep 2
  w=$(tmux -L "$sock" list-panes -t w -F '#{pane_pid}')
  w1=$(tree_ticks "$w"); d1=$(ticks "$daemon"); sleep "$secs"; w2=$(tree_ticks "$w"); d2=$(ticks "$daemon")
  echo "watch -n 1 backstop status, ${secs} s: watch and its children $((w2 - w1)) ticks, daemon $((d2 - d1)) ticks"
  tmux -L "$sock" kill-server
fi

curl -sN "http://127.0.0.1:$port/api/v1/stream" -H "Authorization: Bearer $(cat "$work/token")" >/dev/null &
reader=$!
sleep 2
d1=$(ticks "$daemon"); sleep "$secs"; d2=$(ticks "$daemon")
kill "$reader"; wait "$reader" 2>/dev/null || true
echo "one dashboard stream open, ${secs} s: daemon $((d2 - d1)) ticks, daemon RSS $(awk '/VmRSS/{print $2" kB"}' "/proc/$daemon/status")"
