"""A worker that calls the backend's /health every few seconds."""

import json
import os
import signal
import sys
import time
import urllib.request

URL = os.environ.get("API_URL", "http://127.0.0.1:8000/health")
INTERVAL = float(os.environ.get("INTERVAL", "5"))

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"worker started; polling {URL} every {INTERVAL}s", flush=True)
while True:
    try:
        with urllib.request.urlopen(URL, timeout=2) as response:
            status = json.load(response).get("status")
        print(f"backend says: {status}", flush=True)
    except OSError as err:
        print(f"ERROR backend unreachable: {err}", file=sys.stderr, flush=True)
    time.sleep(INTERVAL)
