#!/usr/bin/env bash
# How soon /health says 503 after a service is SIGKILLed (not a test: it
# prints figures for docs/benchmarks.md). Usage: bench/health503.sh [KILLS]
# One `sleep` service; a Python client kills its main process and asks
# /health on the control socket, back to back, until the answer is 503;
# the service is then restarted by hand and the next kill waits for 200.
# BIN=/path/to/backstop measures that build.
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS=${1:-5}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN="$PWD/target/release/backstop"
fi
work=$(mktemp -d /tmp/backstop-503.XXXXXX)
cleanup() { "$BIN" -c "$work/backstop.toml" down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
printf '[services.api]\ncommand = ["sleep", "100000"]\nrestart = { backoff_initial = "5s" }\n' > "$work/backstop.toml"
"$BIN" -c "$work/backstop.toml" up -d >/dev/null
python3 - "$BIN" "$work" "$KILLS" <<'PY'
import json, os, signal, socket, subprocess, sys, time
bin_, work, kills = sys.argv[1], sys.argv[2], int(sys.argv[3])
config, sock = f"{work}/backstop.toml", f"{work}/.backstop/backstop.sock"

def health():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: backstop\r\nConnection: close\r\n\r\n")
    first = s.recv(64)
    s.close()
    return first[9:12]

took = []
for _ in range(kills):
    deadline = time.monotonic() + 30
    while health() != b"200":
        if time.monotonic() > deadline:
            sys.exit("the service never became healthy")
        time.sleep(0.05)
    status = subprocess.run([bin_, "-c", config, "status", "--json"], capture_output=True, text=True, check=True)
    pid = json.loads(status.stdout)["services"][0]["pid"]
    start = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    while health() != b"503":
        pass
    took.append((time.monotonic() - start) * 1000)
    subprocess.run([bin_, "-c", config, "restart", "api"], capture_output=True, check=True)
print("SIGKILL -> /health 503, ms:", ", ".join(f"{t:.2f}" for t in took))
PY
