#!/usr/bin/env bash
# backstop side by side with its peers (not a test: it prints figures for
# docs/benchmarks.md). Usage: bench/peers.sh [SCENARIO...] [N]
#   SCENARIO: idle scale restart burst stop (default: all five, in that order)
#   N: how many services the scale scenario runs (default 1000)
# The peers, installed by this script into a scratch directory outside the
# repo (reused by later runs; versions pinned below):
#   Horust (Rust, crates.io), supervisord (Python, PyPI `supervisor`),
#   PM2 (Node, npm `pm2`).
# A peer that fails to install is reported as "not installed: why" and
# left out. Every scenario runs backstop first, then each peer, in the same
# run, so the ratios compare figures taken minutes apart on one machine:
#   idle     10 `sleep` services: the manager's RSS and threads, and its CPU
#            ticks over 10 s of idling;
#   scale    N `sleep` services: start until all N run, the manager's RSS
#            then, one status query, stop until the N children and the
#            manager are gone; the floor is bash starting and killing N sleeps;
#   restart  one service running /bin/true, restarted at once forever:
#            restarts per second, ms per restart, the manager's CPU; the floor
#            is a bare bash loop running /bin/true;
#   burst    one child writing 200 MB of 100-byte lines as fast as it can:
#            time until the manager's log file holds every line, the
#            manager's CPU meanwhile, lines lost; the floor is the same child
#            with a shell redirect to a file;
#   stop     a shell that ignores SIGTERM with two `sleep` grandchildren:
#            the stop's wall time and how many of the three processes are
#            left once the manager is gone.
# Each line of the output is one figure: `figure  tool=value …  ratio(backstop/peer)=…`.
# The timed figures are medians of REPS runs (default 3); each run's values
# are printed on `#` lines before the table line.
# Environment:
#   BIN=/path/to/backstop   measure that build (default: cargo build --release)
#   BACKSTOP_PEERS_DIR      where the peers are installed
#                           (default ${XDG_CACHE_HOME:-~/.cache}/backstop-peers)
#   REPS=3                  repetitions of the timed figures
#   SKIP="pm2 horust"       leave these peers out
#   BURST_MB=200            size of the log burst
# Loopback only; nothing is written to the repo. Only processes this script
# started are signalled: managers by the pid they report (checked against
# the run's directory in their command line), children by a number unique
# to this run that every service carries in its argv.
set -euo pipefail
cd "$(dirname "$0")/.."

HORUST_VERSION=${HORUST_VERSION:-0.1.14}
SUPERVISOR_VERSION=${SUPERVISOR_VERSION:-4.3.0}
PM2_VERSION=${PM2_VERSION:-7.0.4}

PEERS=${BACKSTOP_PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/backstop-peers}
REPS=${REPS:-3}
SKIP=${SKIP:-}
BURST_BYTES=$(( ${BURST_MB:-200} * 1000000 ))
BURST_LINES=$(( BURST_BYTES / 100 ))
DEADLINE=120   # seconds a manager gets to start N services, or to stop them
T=(timeout "$DEADLINE")   # bounds every start and stop command
ALL_SCENARIOS="idle scale restart burst stop"

n=1000
scenarios=()
for a in "$@"; do
  case $a in
    idle | scale | restart | burst | stop) scenarios+=("$a") ;;
    *[!0-9]* | '') echo "usage: bench/peers.sh [idle|scale|restart|burst|stop]... [N]" >&2; exit 2 ;;
    *) n=$a ;;
  esac
done
[ ${#scenarios[@]} -gt 0 ] || read -r -a scenarios <<< "$ALL_SCENARIOS"

if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN="$PWD/target/release/backstop"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # the same descriptor limit for every manager

# Every service's argv carries MARK (as `sleep MARK`), so that whatever a
# manager leaves behind can be found, counted and killed by pid.
MARK=$((424200000 + $$))
MARK_RE="${MARK:0:1}[${MARK:1:1}]${MARK:2}"   # matches MARK, but not grep's own argv
SLEEP=$(command -v sleep)
DATE=$(command -v date)
TRUE=/bin/true
X99=$(printf 'x%.0s' {1..99})                 # a line of the burst: 99 x and a newline

work=$(mktemp -d /tmp/backstop-peers.XXXXXX)
mkdir -p "$PEERS"

say() { echo "# $*" >&2; }
now() { echo "$EPOCHREALTIME"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
isnum() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
positive() { isnum "$1" && [[ $1 =~ [1-9] ]]; }

# ---------------------------------------------------------------- /proc ----

# alive PID: the process exists and is not a zombie (a zombie has exited; it
# only waits for whoever adopted it to reap it).
alive() {
  local s
  read -r s 2>/dev/null < "/proc/$1/stat" || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}
# count_alive PID...: how many of them are alive.
count_alive() { local p c=0; for p in "$@"; do if alive "$p"; then c=$((c + 1)); fi; done; echo "$c"; }
# ticks PID...: user + system CPU ticks (100 a second), summed.
ticks() {
  local p s f t=0
  for p in "$@"; do
    read -r s 2>/dev/null < "/proc/$p/stat" || continue
    read -r -a f <<< "${s##*) }"
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
# rss_threads PID...: summed VmRSS (kB) and thread count.
rss_threads() {
  local p k v r=0 t=0
  for p in "$@"; do
    [ -r "/proc/$p/status" ] || continue
    while read -r k v _; do
      case $k in VmRSS:) r=$((r + v)) ;; Threads:) t=$((t + v)) ;; esac
    done < "/proc/$p/status"
  done
  echo "$r $t"
}
# children PID: the pids of its children.
children() { cat /proc/"$1"/task/*/children 2>/dev/null || true; }
# running_sleeps PID: how many of its children run `sleep` (exec done, not zombies).
running_sleeps() {
  local k s c=0
  for k in $(children "$1"); do
    read -r s 2>/dev/null < "/proc/$k/stat" || continue
    case $s in *" (sleep) S "* | *" (sleep) R "* | *" (sleep) D "*) c=$((c + 1)) ;; esac
  done
  echo "$c"
}
# marked: the pids of live processes whose argv holds this run's MARK.
marked() {
  local f p
  for f in $(grep -l -a -e "$MARK_RE" /proc/[0-9]*/cmdline 2>/dev/null || true); do
    p=${f#/proc/}; p=${p%/cmdline}
    if alive "$p"; then echo "$p"; fi
  done
}
kill_marked() {
  local p
  for p in $(marked); do kill -KILL "$p" 2>/dev/null || true; done
}
# wait_for SECONDS COMMAND...: poll COMMAND every 50 ms until it succeeds;
# fails after SECONDS.
wait_for() {
  local end=$(( ${EPOCHREALTIME%.*} + $1 ))
  shift
  until "$@"; do
    [ "${EPOCHREALTIME%.*}" -lt "$end" ] || return 1
    sleep 0.05
  done
}
gone() { ! alive "$1"; }
# left_of T0: the seconds left of DEADLINE since T0 (at least 1).
left_of() { local l=$(( DEADLINE - ${EPOCHREALTIME%.*} + ${1%.*} )); echo $(( l > 0 ? l : 1 )); }
sleeps_at_least() { [ "$(running_sleeps "$1")" -ge "$2" ]; }
marked_at_least() { [ "$(marked | wc -l)" -ge "$1" ]; }
none_alive() { [ "$(count_alive "$@")" -eq 0 ]; }

# ------------------------------------------------------------- installs ----
# Each install_* sets the tool's command variables and prints its version,
# or fails with the reason on stdout.

HORUST=$PEERS/horust/bin/horust
SUPERVISORD=$PEERS/supervisor/bin/supervisord
SUPERVISORCTL=$PEERS/supervisor/bin/supervisorctl
PM2=$PEERS/pm2/node_modules/.bin/pm2

last_line() { grep -v '^[[:space:]]*$' "$1" | tail -n 1 | cut -c 1-160; }

install_horust() {
  local log=$PEERS/horust-install.log
  if ! grep -qs "^\"horust $HORUST_VERSION " "$PEERS/horust/.crates.toml" || [ ! -x "$HORUST" ]; then
    command -v cargo >/dev/null || { echo "cargo not found"; return 1; }
    say "installing horust $HORUST_VERSION (cargo install, one job; a few minutes)"
    # From $PEERS, so that no .cargo/config.toml of the repo applies.
    (cd "$PEERS" && export CARGO_BUILD_JOBS=1 CARGO_TARGET_DIR="$PEERS/horust-target" &&
      { nice cargo install horust --version "=$HORUST_VERSION" --locked --root "$PEERS/horust" ||
        nice cargo install horust --version "=$HORUST_VERSION" --root "$PEERS/horust"; }) > "$log" 2>&1 ||
      { echo "cargo install failed: $(last_line "$log")"; return 1; }
  fi
  echo "horust $HORUST_VERSION"
}
install_supervisord() {
  local log=$PEERS/supervisor-install.log
  if [ "$("$SUPERVISORD" --version 2>/dev/null)" != "$SUPERVISOR_VERSION" ]; then
    command -v python3 >/dev/null || { echo "python3 not found"; return 1; }
    say "installing supervisor $SUPERVISOR_VERSION (venv + pip)"
    { python3 -m venv "$PEERS/supervisor" && "$PEERS/supervisor/bin/pip" install -q "supervisor==$SUPERVISOR_VERSION"; } > "$log" 2>&1 ||
      { echo "pip install failed: $(last_line "$log")"; return 1; }
  fi
  echo "supervisord $("$SUPERVISORD" --version) ($("$PEERS/supervisor/bin/python" --version))"
}
install_pm2() {
  local log=$PEERS/pm2-install.log pkg=$PEERS/pm2/node_modules/pm2/package.json
  command -v node >/dev/null || { echo "node not found"; return 1; }
  if [ "$(node -p "require('$pkg').version" 2>/dev/null)" != "$PM2_VERSION" ]; then
    command -v npm >/dev/null || { echo "npm not found"; return 1; }
    say "installing pm2 $PM2_VERSION (npm)"
    npm install --prefix "$PEERS/pm2" --no-audit --no-fund "pm2@$PM2_VERSION" > "$log" 2>&1 ||
      { echo "npm install failed: $(last_line "$log")"; return 1; }
  fi
  echo "pm2 $PM2_VERSION (node $(node --version))"
}

# ------------------------------------------------------------- adapters ----
# For each tool: config_TOOL DIR PROFILE [N] writes its config for one of
# the profiles below, start_TOOL DIR starts it and sets MGR (the manager's
# pid), stop_TOOL DIR runs its stop command (it may return before the
# manager has exited), status_TOOL DIR runs its status query, restarts_TOOL
# DIR prints how many restarts (or exits) it has counted so far, and
# logfile_TOOL DIR names the file the profile `burst` writes to.
# Profiles, the same commands for every tool:
#   sleeps N  services s1…sN, each `sleep MARK`, everything else default;
#   flap      one service `svc`, /bin/true, restarted at once, forever;
#   burst     one service `svc` running burst_sh, logged to a file that is
#             never rotated (`burst_raw`: backstop without timestamps;
#             `burst_pipe`: Horust copying through a pipe, see below);
#   tree      one service `svc` running tree_sh, stop grace 5 s.

# The burst child waits for DIR/go (so the manager's start-up is not timed),
# notes the time in DIR/t0, writes BURST_BYTES of 100-byte lines, then
# sleeps (so nothing restarts it). `yes` is silenced: Horust and supervisord
# leave SIGPIPE ignored in their children, so there `yes` would report the
# broken pipe into the log instead of dying quietly.
burst_sh() { echo "touch $1/ready; until [ -e $1/go ]; do sleep 0.05; done; $DATE +%s.%N > $1/t0; yes $X99 2>/dev/null | head -c $BURST_BYTES; touch $1/written; exec $SLEEP $MARK"; }
# The stop child: two grandchildren, then a shell that ignores SIGTERM
# (the trap comes after them, so that they do not inherit the ignoring).
tree_sh() { echo "$SLEEP $MARK & $SLEEP $MARK & trap '' TERM; wait"; }
# A string as a TOML basic string or JSON string.
qstr() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }

MGR=

# backstop: one daemon (`up -d` returns once every service runs).
config_backstop() {
  local d=$1 f=$1/backstop.toml i
  case $2 in
    sleeps) for i in $(seq 1 "$3"); do printf '[services.s%d]\ncommand = ["%s", "%s"]\n' "$i" "$SLEEP" "$MARK"; done > "$f" ;;
    flap) printf '[services.svc]\ncommand = "%s"\nrestart = { backoff_initial = "0s", max_restarts = 999999, window = "1h" }\n' "$TRUE" > "$f" ;;
    burst | burst_raw)
      local raw=; [ "$2" = burst_raw ] && raw=', format = "raw"'
      printf '[services.svc]\ncommand = ["/bin/sh", "-c", %s]\nlogs = { max_size = "10GB"%s }\n' "$(qstr "$(burst_sh "$d")")" "$raw" > "$f" ;;
    tree) printf '[services.svc]\ncommand = ["/bin/sh", "-c", %s]\nstop = { timeout = "5s" }\n' "$(qstr "$(tree_sh)")" > "$f" ;;
  esac
}
start_backstop() { "${T[@]}" "$BIN" -c "$1/backstop.toml" up -d > "$1/up.out" 2>&1 || true; MGR=$(cat "$1/.backstop/daemon.pid"); }
stop_backstop() { "${T[@]}" "$BIN" -c "$1/backstop.toml" down >/dev/null 2>&1 || true; }
status_backstop() { "$BIN" -c "$1/backstop.toml" status >/dev/null; }
restarts_backstop() { "$BIN" -c "$1/backstop.toml" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"][0]["restarts"])'; }
logfile_backstop() { echo "$1/.backstop/logs/svc.log"; }

# Horust: runs in the foreground (this script backgrounds it), one service
# file each, stopped by SIGTERM; no status command for all services
# (horustctl asks about one). `stdout = FILE` hands the child the file
# itself (no capture: the child writes it, as the floor does);
# `stdout-rotate-size` makes Horust copy the output through a pipe instead:
# that is the profile burst_pipe.
config_horust() {
  local d=$1 s=$1/services i
  mkdir -p "$s"
  case $2 in
    sleeps) for i in $(seq 1 "$3"); do printf 'command = "%s %s"\n' "$SLEEP" "$MARK" > "$s/s$i.toml"; done ;;
    flap) printf 'command = "%s"\n[restart]\nstrategy = "always"\nbackoff = "0s"\n' "$TRUE" > "$s/svc.toml" ;;
    burst | burst_pipe)
      local rot=; [ "$2" = burst_pipe ] && rot='stdout-rotate-size = "100 GB"'
      printf 'command = %s\nstdout = "%s"\nstderr = "STDOUT"\n%s\n' "$(qstr "/bin/sh -c \"$(burst_sh "$d")\"")" "$d/out.log" "$rot" > "$s/svc.toml" ;;
    tree) printf 'command = %s\n[termination]\nwait = "5s"\n' "$(qstr "/bin/sh -c \"$(tree_sh)\"")" > "$s/svc.toml" ;;
  esac
}
start_horust() {
  # info level only where the exits are counted (it logs one line per exit).
  local level=error; [ -e "$1/services/svc.toml" ] && grep -q always "$1/services/svc.toml" && level=info
  HORUST_LOG=$level "$HORUST" --services-path "$1/services" --uds-folder-path "$1/uds" \
    --config-path "$1/horust.toml" > "$1/horust.log" 2>&1 &
  MGR=$!
}
stop_horust() { kill -TERM "$(cat "$1/mgr.pid")" 2>/dev/null || true; }
status_horust() { return 2; }
restarts_horust() { grep -c 'successfully exited' "$1/horust.log" || true; }
logfile_horust() { echo "$1/out.log"; }

# supervisord: daemonizes; supervisorctl talks to it over a unix socket.
config_supervisord() {
  local d=$1 f=$1/supervisord.conf i
  mkdir -p "$d/logs"
  cat > "$f" <<INI
[unix_http_server]
file=$d/supervisor.sock
[supervisord]
logfile=$d/supervisord.log
pidfile=$d/supervisord.pid
childlogdir=$d/logs
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$d/supervisor.sock
INI
  case $2 in
    sleeps) for i in $(seq 1 "$3"); do printf '[program:s%d]\ncommand=%s %s\n' "$i" "$SLEEP" "$MARK"; done >> "$f" ;;
    flap) printf '[program:svc]\ncommand=%s\nstartsecs=0\nautorestart=true\nstartretries=1000000000\n' "$TRUE" >> "$f" ;;
    burst) # supervisord expands %(name)s in its values: % is written %%
      local c; c=$(burst_sh "$d")
      printf '[program:svc]\ncommand=/bin/sh -c "%s"\nredirect_stderr=true\nstdout_logfile=%s\nstdout_logfile_maxbytes=0\n' "${c//%/%%}" "$d/out.log" >> "$f" ;;
    tree) printf '[program:svc]\ncommand=/bin/sh -c "%s"\nstopwaitsecs=5\n' "$(tree_sh)" >> "$f" ;;
  esac
}
start_supervisord() {
  "${T[@]}" "$SUPERVISORD" -c "$1/supervisord.conf"
  wait_for 30 test -s "$1/supervisord.pid"
  MGR=$(cat "$1/supervisord.pid")
}
stop_supervisord() { "${T[@]}" "$SUPERVISORCTL" -c "$1/supervisord.conf" shutdown >/dev/null 2>&1 || true; }
status_supervisord() { "$SUPERVISORCTL" -c "$1/supervisord.conf" status >/dev/null || true; }  # exit 3 unless all RUNNING
restarts_supervisord() { grep -c "spawned: 'svc'" "$1/supervisord.log" || true; }
logfile_supervisord() { echo "$1/out.log"; }

# PM2: a God daemon under PM2_HOME (a fresh one per run, in the run's
# directory); `pm2 kill` stops the apps and the daemon.
pm2_() { PM2_HOME="$1/pm2home" "$PM2" "${@:2}"; }
config_pm2() {
  local d=$1 i sep=
  {
    echo '{"apps": ['
    case $2 in
      sleeps) for i in $(seq 1 "$3"); do
          printf '%s{"name": "s%d", "script": "%s", "args": ["%s"], "interpreter": "none", "cwd": "%s"}\n' "$sep" "$i" "$SLEEP" "$MARK" "$d"; sep=,
        done ;;
      flap) printf '{"name": "svc", "script": "%s", "interpreter": "none", "cwd": "%s", "autorestart": true, "restart_delay": 0, "min_uptime": 0, "max_restarts": 1000000000}\n' "$TRUE" "$d" ;;
      burst) printf '{"name": "svc", "script": "/bin/sh", "args": ["-c", %s], "interpreter": "none", "cwd": "%s", "out_file": "%s", "error_file": "%s"}\n' \
          "$(qstr "$(burst_sh "$d")")" "$d" "$d/out.log" "$d/err.log" ;;
      tree) printf '{"name": "svc", "script": "/bin/sh", "args": ["-c", %s], "interpreter": "none", "cwd": "%s", "kill_timeout": 5000}\n' "$(qstr "$(tree_sh)")" "$d" ;;
    esac
    echo ']}'
  } > "$d/ecosystem.json"
}
start_pm2() { "${T[@]}" env PM2_HOME="$1/pm2home" "$PM2" start "$1/ecosystem.json" >/dev/null 2>&1 || true; MGR=$(cat "$1/pm2home/pm2.pid"); }
stop_pm2() { "${T[@]}" env PM2_HOME="$1/pm2home" "$PM2" kill >/dev/null 2>&1 || true; }
status_pm2() { pm2_ "$1" jlist >/dev/null; }
restarts_pm2() { pm2_ "$1" jlist | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pm2_env"]["restart_time"])'; }
logfile_pm2() { echo "$1/out.log"; }

# ------------------------------------------------------- runs, cleanup ----

# new_run TOOL NAME: a fresh directory for one run of TOOL, in RUN.
runs=()
RUN=
new_run() { RUN=$(mktemp -d "$work/$2-$1.XXXX"); runs+=("$1 $RUN"); }
# start TOOL DIR: start the manager, remember its pid for the clean-up.
start() { MGR=; "start_$1" "$2"; echo "$MGR" > "$2/mgr.pid"; }
# finish TOOL DIR: stop the manager if it still runs (its stop command, then
# SIGKILL to its pid if its command line names this run's directory), then
# kill whatever carries MARK.
finish() {
  local pid c
  pid=$(cat "$2/mgr.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && alive "$pid"; then
    "stop_$1" "$2" || true
    wait_for 30 gone "$pid" || true
    c=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" || true)
    if alive "$pid" && [[ $c == *"$2"* ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  kill_marked
  wait_for 10 marked_none || true
  [ "$1" = horust ] && [ -n "$pid" ] && { wait "$pid" 2>/dev/null || true; }
  [ -n "${KEEP:-}" ] || rm -rf "$2"
}
marked_none() { [ -z "$(marked)" ]; }
cleanup() {
  local r
  trap - EXIT INT TERM
  for r in "${runs[@]}"; do
    [ -d "${r#* }" ] && finish "${r%% *}" "${r#* }"
  done
  kill_marked
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- results ----
# R["figure tool"] = value; report FIGURE prints its line, with the ratio
# of backstop's value to each other column's where both are numbers above 0.
declare -A R
COLUMNS_ORDER="backstop backstop_raw horust horust_pipe supervisord pm2 floor"
put() { R["$1 $2"]=$3; }
# put_median FIGURE TOOL VALUE...: the median, or the first non-number
# (a timeout) if any run had one.
put_median() {
  local fig=$1 tool=$2 v
  shift 2
  for v in "$@"; do isnum "$v" || { put "$fig" "$tool" "$v"; return; }; done
  put "$fig" "$tool" "$(printf '%s\n' "$@" | median)"
}
report() {
  local fig=$1 line c b v w
  line=$(printf '%-20s' "$fig")
  for c in $COLUMNS_ORDER; do
    [ -n "${R["$fig $c"]+x}" ] && line+="  $c=${R["$fig $c"]}"
  done
  for b in backstop backstop_raw; do
    v=${R["$fig $b"]-}
    positive "$v" || continue
    for c in $COLUMNS_ORDER; do
      [[ $c == backstop* ]] && continue
      w=${R["$fig $c"]-}
      if positive "$w"; then
        line+="  ratio($b/$c)=$(awk -v v="$v" -v w="$w" 'BEGIN { printf "%.3g", v / w }')"
      fi
    done
  done
  echo "$line"
}

# ------------------------------------------------------------ scenarios ----

# idle: 10 `sleep` services; once they run and the manager had 2 s to
# settle, its CPU ticks over 10 s, then its RSS and threads.
idle_one() {
  local tool=$1 d t1 t2 rt
  new_run "$tool" idle; d=$RUN
  "config_$tool" "$d" sleeps 10
  start "$tool" "$d"
  if ! wait_for 60 sleeps_at_least "$MGR" 10; then
    put idle.rss_kb "$tool" "timeout"; finish "$tool" "$d"; return
  fi
  sleep 2
  t1=$(ticks "$MGR"); sleep 10; t2=$(ticks "$MGR")
  read -r -a rt <<< "$(rss_threads "$MGR")"
  say "idle $tool: pid $MGR, other children of the manager: $(( $(children "$MGR" | wc -w) - 10 ))"
  put idle.rss_kb "$tool" "${rt[0]}"
  put idle.threads "$tool" "${rt[1]}"
  put idle.cpu_ticks_10s "$tool" "$((t2 - t1))"
  finish "$tool" "$d"
}
scenario_idle() {
  local t
  for t in "${tools[@]}"; do idle_one "$t"; done
  report idle.rss_kb; report idle.threads; report idle.cpu_ticks_10s
}

# scale: N `sleep` services. start_ms: from the start command until all N
# sleeps run (children of the manager that exec'd sleep); rss_kb: the
# manager's then; status_ms: one status query (median of 5); stop_ms: from
# the stop command until the N children and the manager are gone; left:
# processes of the services still alive after that.
scale_one() {
  local tool=$1 d t0 t1 a b i k kids
  local -a st=() ss=() rs=() sp=() lf=() q
  for i in $(seq 1 "$REPS"); do
    new_run "$tool" scale; d=$RUN
    "config_$tool" "$d" sleeps "$n"
    t0=$(now)
    start "$tool" "$d"
    if wait_for "$(left_of "$t0")" sleeps_at_least "$MGR" "$n"; then
      t1=$(now); st+=("$(ms "$t0" "$t1")")
    else
      st+=("timeout(${DEADLINE}s:$(running_sleeps "$MGR")/$n)")
    fi
    rs+=("$(rss_threads "$MGR" | cut -d' ' -f1)")
    q=()
    for _ in 1 2 3 4 5; do
      a=$(now)
      "status_$tool" "$d" || { q=(n/a); break; }
      b=$(now); q+=("$(ms "$a" "$b")")
    done
    ss+=("$(printf '%s\n' "${q[@]}" | median)")
    read -r -a kids <<< "$(children "$MGR" | tr '\n' ' ')"
    t0=$(now)
    "stop_$tool" "$d"
    if wait_for "$(left_of "$t0")" none_alive "$MGR" "${kids[@]}"; then
      t1=$(now); sp+=("$(ms "$t0" "$t1")")
    else
      sp+=("timeout(${DEADLINE}s:$(count_alive "${kids[@]}")/${#kids[@]})")
    fi
    k=$(marked | wc -l); lf+=("$k")
    say "scale $tool N=$n run $i: start ${st[-1]} ms, rss ${rs[-1]} kB, status ${ss[-1]}$(isnum "${ss[-1]}" && echo " ms"), stop ${sp[-1]} ms, left $k"
    finish "$tool" "$d"
  done
  put_median scale.start_ms "$tool" "${st[@]}"
  put_median scale.rss_kb "$tool" "${rs[@]}"
  put_median scale.status_ms "$tool" "${ss[@]}"
  put_median scale.stop_ms "$tool" "${sp[@]}"
  put_median scale.left "$tool" "${lf[@]}"
}
# The floor: bash starting N sleeps (`&`), then SIGTERMing and reaping them.
scale_floor() {
  local i t0 t1 t2 pids
  local -a st=() sp=()
  for i in $(seq 1 "$REPS"); do
    pids=()
    t0=$(now)
    for _ in $(seq 1 "$n"); do "$SLEEP" "$MARK" & pids+=($!); done
    t1=$(now)
    kill -TERM "${pids[@]}"
    wait "${pids[@]}" 2>/dev/null || true
    t2=$(now)
    st+=("$(ms "$t0" "$t1")"); sp+=("$(ms "$t1" "$t2")")
  done
  put_median scale.start_ms floor "${st[@]}"
  put_median scale.stop_ms floor "${sp[@]}"
}
scenario_scale() {
  local t
  for t in "${tools[@]}"; do scale_one "$t"; done
  scale_floor
  report scale.start_ms; report scale.rss_kb; report scale.status_ms; report scale.stop_ms; report scale.left
}

# restart: a service running /bin/true, restarted at once. After 1 s of
# warm-up, REPS windows of 5 s: restarts per second (the tool's own count:
# backstop's and PM2's restart counters, supervisord's `spawned:` log
# lines, Horust's exit log lines), ms per restart, the manager's CPU ticks
# in the window.
restart_one() {
  local tool=$1 d i r1 r2 a b c1 c2 rate
  local -a ps=() pm=() pt=()
  new_run "$tool" restart; d=$RUN
  "config_$tool" "$d" flap
  start "$tool" "$d"
  sleep 1
  for i in $(seq 1 "$REPS"); do
    r1=$("restarts_$tool" "$d"); a=$(now); c1=$(ticks "$MGR")
    sleep 5
    c2=$(ticks "$MGR"); r2=$("restarts_$tool" "$d"); b=$(now)
    rate=$(awk -v r=$((r2 - r1)) -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", r / (b - a) }')
    ps+=("$rate"); pt+=("$((c2 - c1))")
    pm+=("$(awk -v r="$rate" 'BEGIN { if (r > 0) printf "%.3f", 1000 / r; else print "none" }')")
    say "restart $tool window $i: $((r2 - r1)) restarts in $(ms "$a" "$b") ms, manager $((c2 - c1)) ticks"
  done
  put_median restart.per_s "$tool" "${ps[@]}"
  put_median restart.ms "$tool" "${pm[@]}"
  put_median restart.mgr_ticks_5s "$tool" "${pt[@]}"
  finish "$tool" "$d"
}
# The floor: a bare bash loop running /bin/true for 5 s.
restart_floor() {
  local i c
  local -a ps=() pm=()
  for i in $(seq 1 "$REPS"); do
    # shellcheck disable=SC2016 # expanded by the inner bash
    c=$(timeout 5 bash -c 'n=0; trap "echo \$n; exit 0" TERM; while :; do '"$TRUE"'; n=$((n+1)); done' 2>/dev/null || true)
    ps+=("$(awk -v c="$c" 'BEGIN { printf "%.1f", c / 5 }')")
    pm+=("$(awk -v c="$c" 'BEGIN { printf "%.3f", 5000 / c }')")
  done
  put_median restart.per_s floor "${ps[@]}"
  put_median restart.ms floor "${pm[@]}"
}
scenario_restart() {
  local t
  for t in "${tools[@]}"; do restart_one "$t"; done
  restart_floor
  report restart.per_s; report restart.ms; report restart.mgr_ticks_5s
}

# burst: once the child is up and waiting, DIR/go starts it writing
# BURST_BYTES; ms: from its first byte (the time it noted) until the log
# file holds every line (its size
# reaches BURST_LINES lines, each with the prefix the first line has, if
# any) or, if lines went missing, until it stopped growing; mgr_ticks: the
# manager's CPU meanwhile; lost: lines not in the file.
burst_wait() { # LOGFILE DIR: wait for the file to be complete; prints the end time
  local f=$1 d=$2 size last=-1 changed want=0 pre end
  changed=$(now); end=$(( ${EPOCHREALTIME%.*} + 600 ))
  while [ "${EPOCHREALTIME%.*}" -lt "$end" ]; do
    size=$(stat -c %s "$f" 2>/dev/null || echo 0)
    if [ "$want" = 0 ] && [ "$size" -gt 0 ]; then
      pre=$(head -c 4096 "$f" | grep -a -m 1 -F "$X99" | wc -c || true)
      [ "$pre" -gt 0 ] && want=$(( BURST_LINES * pre ))
    fi
    [ "$size" != "$last" ] && { last=$size; changed=$(now); }
    [ "$want" -gt 0 ] && [ "$size" -ge "$want" ] && { echo "$changed"; return; }
    if [ -e "$d/written" ] && [ "$(ms "$changed" "$(now)")" -gt 2000 ]; then echo "$changed"; return; fi
    sleep 0.05
  done
  echo timeout
}
burst_one() { # TOOL PROFILE COLUMN
  local tool=$1 prof=$2 col=$3 d i t0 t1 c1 c2 f got
  local -a ms_=() tk=() lo=()
  for i in $(seq 1 "$REPS"); do
    new_run "$tool" burst; d=$RUN
    if [ "$tool" = floor ]; then
      /bin/sh -c "$(burst_sh "$d")" > "$d/out.log" 2>&1 &
      MGR=; echo $! > "$d/floor.pid"; f=$d/out.log
    else
      "config_$tool" "$d" "$prof"
      start "$tool" "$d"; f=$("logfile_$tool" "$d")
    fi
    wait_for 60 test -e "$d/ready" || { ms_+=(timeout); continue; }
    c1=$(ticks ${MGR:+"$MGR"})
    touch "$d/go"
    t1=$(burst_wait "$f" "$d")
    c2=$(ticks ${MGR:+"$MGR"})
    t0=$(cat "$d/t0")
    if [ "$t1" = timeout ]; then ms_+=("timeout(600s)"); else ms_+=("$(ms "$t0" "$t1")"); fi
    tk+=("$((c2 - c1))")
    got=$(grep -c -a -F "$X99" "$f" || true)
    lo+=("$((BURST_LINES - got))")
    say "burst $col run $i: ${ms_[-1]} ms, manager ${tk[-1]} ticks, $(stat -c %s "$f") bytes in the file, $((BURST_LINES - got)) lines lost"
    if [ "$tool" = floor ]; then
      kill -KILL "$(cat "$d/floor.pid")" 2>/dev/null || true; wait "$(cat "$d/floor.pid")" 2>/dev/null || true
      rm -rf "$d"
    else
      finish "$tool" "$d"
    fi
  done
  put_median burst.ms "$col" "${ms_[@]}"
  [ "$tool" = floor ] || put_median burst.mgr_ticks "$col" "${tk[@]}"
  put_median burst.lost "$col" "${lo[@]}"
}
scenario_burst() {
  local t
  for t in "${tools[@]}"; do
    case $t in
      backstop) burst_one backstop burst backstop; burst_one backstop burst_raw backstop_raw ;;
      horust) burst_one horust burst horust; burst_one horust burst_pipe horust_pipe ;;
      *) burst_one "$t" burst "$t" ;;
    esac
  done
  burst_one floor - floor
  report burst.ms; report burst.mgr_ticks; report burst.lost
}

# stop: a shell ignoring SIGTERM with two `sleep` grandchildren, a 5 s stop
# grace for every tool, each tool's default of what gets the signal and
# which signal (backstop: SIGTERM to the whole tree; Horust, supervisord:
# SIGTERM to the shell only; PM2: SIGINT to the tree, which the sleeps of a
# non-interactive shell ignore, then SIGKILL to the tree at the grace). ms:
# from the stop command until the manager is gone; left: how many of the
# three are alive 0.2 s after that (then killed by pid).
stop_one() {
  local tool=$1 d i t0 t1 k
  local -a sp=() lf=()
  for i in $(seq 1 "$REPS"); do
    new_run "$tool" stop; d=$RUN
    "config_$tool" "$d" tree
    start "$tool" "$d"
    wait_for 30 marked_at_least 3 || say "stop $tool: the tree did not come up"
    t0=$(now)
    "stop_$tool" "$d"
    if wait_for 60 gone "$MGR"; then t1=$(now); sp+=("$(ms "$t0" "$t1")"); else sp+=("timeout(60s)"); fi
    sleep 0.2
    k=$(marked | wc -l); lf+=("$k")
    say "stop $tool run $i: ${sp[-1]} ms, left: $k ($(marked | tr '\n' ' '))"
    finish "$tool" "$d"
  done
  put_median stop.ms "$tool" "${sp[@]}"
  put_median stop.left "$tool" "${lf[@]}"
}
scenario_stop() {
  local t
  for t in "${tools[@]}"; do stop_one "$t"; done
  report stop.ms; report stop.left
}

# ----------------------------------------------------------------- main ----

echo "# bench/peers.sh $(date -u +%FT%TZ): scenarios ${scenarios[*]}, N=$n, REPS=$REPS, burst $((BURST_BYTES / 1000000)) MB"
echo "# machine: $(nproc) cores ($(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr), /tmp on $(df -T /tmp | awk 'NR == 2 { print $2 }'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# backstop: $("$BIN" --version) ($BIN, built $(date -r "$BIN" -u +%FT%TZ))"
tools=(backstop)
for t in horust supervisord pm2; do
  if [[ " $SKIP " == *" $t "* ]]; then echo "# $t: skipped (SKIP)"; continue; fi
  if v=$("install_$t"); then echo "# $t: $v"; tools+=("$t"); else echo "# $t: not installed: $v"; fi
done
echo "# peers installed under $PEERS"
start_all=$(now)
for s in "${scenarios[@]}"; do
  say "scenario $s"
  "scenario_$s"
done
echo "# done in $(( $(ms "$start_all" "$(now)") / 1000 )) s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
