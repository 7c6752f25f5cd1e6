//! The daemon: thin composition of the supervisor, the control API and the
//! state directory.
//!
//! Start-up order matters: take the lock (one daemon per config), stop
//! leftovers of a previous daemon that was killed, bind the socket (0600),
//! then start services. Shut-down is the reverse, and removes the socket.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use backstop_config::Config;
use backstop_supervisor::output::Echo;
use backstop_supervisor::terminal::TerminalWriter;
use backstop_supervisor::{Options, Supervisor, leftovers};
use nix::fcntl::{Flock, FlockArg};
use tokio::net::UnixListener;
use tokio::sync::mpsc;

use crate::context::StatePaths;
use crate::exit::{Code, Exit};

/// How the daemon shows what happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `up` in a terminal: service output and events on the terminal.
    Foreground { color: bool },
    /// `up -d`: events to daemon.log, output only to log files.
    Detached,
}

/// Creates the state directory and its `logs/` (mode 0700), or makes an
/// existing one private: it holds the control socket, the event history
/// and the services' output. A directory that belongs to another user is
/// refused: whoever owns it could replace what backstop reads there.
pub(crate) fn prepare_state_dir(paths: &StatePaths) -> Result<(), Exit> {
    let me = nix::unistd::Uid::effective().as_raw();
    for dir in [&paths.dir, &paths.logs()] {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                Exit::new(
                    Code::Failed,
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
        let meta = std::fs::metadata(dir)
            .map_err(|e| Exit::new(Code::Failed, format!("cannot read {}: {e}", dir.display())))?;
        if meta.uid() != me {
            return Err(Exit::new(
                Code::Failed,
                format!(
                    "{} belongs to uid {}, not to you (uid {me}): backstop keeps its control socket, history and logs there. Use a state directory of your own (`[daemon] state_dir`), or `chown` it",
                    dir.display(),
                    meta.uid()
                ),
            ));
        }
        restrict(dir, meta.permissions().mode(), 0o700)?;
    }
    // Files an older backstop (or another umask) created open to others.
    let logs = std::fs::read_dir(paths.logs())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path());
    let top = [
        "events.db",
        "events.db-wal",
        "events.db-shm",
        "state.json",
        "daemon.log",
        "daemon.pid",
    ]
    .map(|name| paths.dir.join(name));
    for path in top.into_iter().chain(logs) {
        if let Ok(meta) = std::fs::symlink_metadata(&path)
            && meta.is_file()
        {
            restrict(&path, meta.permissions().mode(), 0o600)?;
        }
    }
    Ok(())
}

/// Takes away from `path` every permission bit beyond `allowed`.
fn restrict(path: &Path, mode: u32, allowed: u32) -> Result<(), Exit> {
    let mode = mode & 0o7777;
    if mode & !allowed == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & allowed)).map_err(|e| {
        Exit::new(
            Code::Failed,
            format!(
                "{} is mode {mode:o}, open to other users, and cannot be restricted to {allowed:o}: {e}",
                path.display()
            ),
        )
    })
}

/// Takes the daemon lock: `daemon.pid`, locked with `flock` for as long as
/// the daemon lives (the kernel releases it even on SIGKILL).
pub(crate) fn lock(paths: &StatePaths, config: &Path) -> Result<Flock<File>, Exit> {
    let path = paths.pid_file();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Exit::new(Code::Failed, format!("cannot open {}: {e}", path.display())))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut locked) => {
            locked.set_len(0).ok();
            let _ = writeln!(&mut *locked, "{}", std::process::id());
            Ok(locked)
        }
        // Only "would block" means another daemon holds it.
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            Err(Exit::new(
                Code::Failed,
                format!(
                    "backstop is already running for {} (pid {}).\nUse `backstop status`, or `backstop down` to stop it.",
                    config.display(),
                    pid.trim()
                ),
            ))
        }
        Err((_, errno)) => Err(Exit::new(
            Code::Failed,
            format!("cannot lock {}: {}", path.display(), errno.desc()),
        )),
    }
}

/// `dashboard: URL`, and where its token is, when the API is on TCP.
pub(crate) fn dashboard_line(daemon: &backstop_config::DaemonConfig) -> Option<String> {
    let url = backstop_api::dashboard::url(daemon.listen?);
    Some(match &daemon.token {
        Some(backstop_config::TokenSource::File(path)) => {
            format!(
                "dashboard: {url} (to act from it, its token: {})",
                path.display()
            )
        }
        Some(backstop_config::TokenSource::Env(var)) => {
            format!("dashboard: {url} (to act from it, the token in ${var})")
        }
        None => format!("dashboard: {url} (read-only: no token_file in [daemon])"),
    })
}

/// A `token_file` that does not exist yet is created, 0600, with 32
/// random bytes in hex (as `openssl rand -hex 32`): a dashboard works on
/// first start, and the token is in a file only its owner reads, never
/// printed. Returns what to tell the user when it wrote one.
fn new_token_file(path: &std::path::Path) -> Result<Option<String>, Exit> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        return Ok(None);
    }
    let failed = |e: std::io::Error| {
        Exit::new(
            Code::Failed,
            format!("cannot write a new API token to {}: {e}", path.display()),
        )
    };
    let mut random = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(failed)?;
    let hex = random.iter().fold(String::new(), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file,
        // Written by someone else in between: theirs is the token.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(failed(e)),
    };
    writeln!(file, "{hex}").map_err(failed)?;
    Ok(Some(format!(
        "wrote a new API token to {} (0600): the dashboard and `curl -H \"Authorization: Bearer $(cat {})\"` use it",
        path.display(),
        path.display()
    )))
}

/// Binds the TCP API, with its token read now: a configured token that
/// cannot be read stops the start, rather than serve without it.
async fn bind_tcp(
    addr: std::net::SocketAddr,
    source: Option<&backstop_config::TokenSource>,
) -> Result<(tokio::net::TcpListener, Option<String>), Exit> {
    let token = match source {
        None => None,
        Some(backstop_config::TokenSource::File(path)) => {
            if let Some(made) = new_token_file(path)? {
                tracing::warn!("{made}");
                eprintln!("backstop: {made}");
            }
            let text = std::fs::read_to_string(path).map_err(|e| {
                Exit::new(
                    Code::Failed,
                    format!("cannot read the API token from {}: {e}", path.display()),
                )
            })?;
            if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
                tracing::warn!(
                    "{} is readable by other users; `chmod 600` it",
                    path.display()
                );
            }
            Some(text.trim().to_string())
        }
        Some(backstop_config::TokenSource::Env(var)) => Some(
            std::env::var(var)
                .map_err(|_| {
                    Exit::new(
                        Code::Failed,
                        format!(
                            "the API token variable {var} is not set in backstop's environment"
                        ),
                    )
                })?
                .trim()
                .to_string(),
        ),
    };
    if token.as_ref().is_some_and(String::is_empty) {
        return Err(Exit::new(
            Code::Failed,
            "the API token is empty: write a long random string (for example `openssl rand -hex 32`)",
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Exit::new(Code::Failed, format!("cannot listen on {addr}: {e}")))?;
    Ok((listener, token))
}

fn bind_socket(paths: &StatePaths) -> Result<UnixListener, Exit> {
    let socket = paths.socket();
    // We hold the lock, so a socket file left here is stale.
    let _ = std::fs::remove_file(&socket);
    // A path too long for a socket address is bound through its directory.
    let address = backstop_api::socket_path::address(&socket).map_err(|e| {
        Exit::new(
            Code::Failed,
            format!("cannot open the directory of {}: {e}", socket.display()),
        )
    })?;
    // Created 0600 from the start: no window in which others may connect.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(&address.path);
    nix::sys::stat::umask(old);
    let listener = bound.map_err(|e| {
        Exit::new(
            Code::Failed,
            format!("cannot listen on {}: {e}", socket.display()),
        )
    })?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        Exit::new(
            Code::Failed,
            format!("cannot restrict {}: {e}", socket.display()),
        )
    })?;
    Ok(listener)
}

/// Runs the daemon until every service is stopped.
pub(crate) async fn run(
    config: Config,
    services: Vec<String>,
    mode: Mode,
    paths: StatePaths,
) -> Result<(), Exit> {
    let result = supervise(config, services, mode, paths).await;
    // Whatever ended the daemon, what it had to say reaches the terminal
    // (or daemon.log) before the process exits.
    TerminalWriter::global().drain(std::time::Duration::from_secs(2));
    result
}

async fn supervise(
    config: Config,
    services: Vec<String>,
    mode: Mode,
    paths: StatePaths,
) -> Result<(), Exit> {
    let _lock = lock(&paths, &config.path)?;
    // `backstop ls` finds it while it runs.
    let _registered = crate::registry::register(&config.path, &paths.dir);
    if let Some(backstop_config::TokenSource::Env(var)) = &config.daemon.token {
        backstop_supervisor::spawn::withhold_from_children(var);
    }
    crate::memory::share_one_arena();
    let say = move |line: &str| print_line(mode, line);
    // What a killed daemon left behind is stopped first; it becomes
    // `leftover` events once the history records (and shows) them.
    let mut cleanup = leftovers::stop_previous_instance(&config).await;
    cleanup.extend(leftovers::stop_cgroup_leftovers(&config).await);
    cleanup.extend(leftovers::stop_helper_leftovers(&config).await);
    let listener = bind_socket(&paths)?;
    let dashboard = dashboard_line(&config.daemon);
    let tcp = match config.daemon.listen {
        Some(addr) => Some(bind_tcp(addr, config.daemon.token.as_ref()).await?),
        None => None,
    };
    let echo = match mode {
        Mode::Foreground { color } => Echo::Terminal { color },
        Mode::Detached => Echo::None,
    };
    let config_events = config.events;
    let latency = backstop_api::metrics::ProbeLatency::default();
    let config_alerts = config.alerts.clone();
    let config_path = config.path.clone();
    let remediate = config.remediate.clone();
    // The dashboard's charts: kept only when there is a dashboard (TCP).
    let usage = backstop_api::usage::UsageHistory::new();
    let supervisor = Supervisor::new(
        config,
        &Options {
            echo,
            services,
            probe_latency: latency.clone(),
            usage_history: tcp.is_some().then(|| usage.clone()),
        },
    )
    .map_err(|e| {
        Exit::new(
            Code::Failed,
            format!("cannot start the log writer thread: {e}"),
        )
    })?;
    let events = supervisor.subscribe();
    tokio::spawn(show_events(events, mode));
    let events_db = paths.dir.join("events.db");
    match backstop_store::Store::open(&events_db) {
        Ok(store) => {
            let retention = backstop_store::Retention {
                max_age: config_events.max_age,
                max_events: config_events.max_events,
            };
            if let Err(e) =
                backstop_store::Recorder::start(store, supervisor.subscribe(), retention)
            {
                say(&format!("event history off: cannot start its thread: {e}"));
            }
        }
        // Supervision matters more than history: go on without it.
        Err(e) => say(&format!("event history off: {e}")),
    }
    for line in cleanup {
        supervisor.publisher().publish(backstop_api::Event::now(
            None,
            backstop_api::EventKind::Leftover,
            line,
        ));
    }
    // Events recorded before a secret was known (or by an older backstop)
    // are redacted on the way out too.
    let bus = supervisor.publisher();
    let source: backstop_api::EventSource = std::sync::Arc::new(move |filter| {
        let mut events = crate::commands::events::query(&events_db, &filter)?;
        for e in &mut events {
            e.message = bus.redact(&e.message);
        }
        Ok(events)
    });

    let (control_tx, control_rx) = mpsc::channel(64);
    tokio::spawn(crate::auto_diagnose::run(
        config_path.clone(),
        supervisor.subscribe(),
        supervisor.publisher(),
        supervisor.probe_reaper(),
        control_tx.clone(),
    ));
    tokio::spawn(crate::alerts::run(
        config_alerts,
        paths.dir.clone(),
        control_tx.clone(),
        supervisor.subscribe(),
        supervisor.publisher(),
        supervisor.probe_reaper(),
    ));
    let counters = std::sync::Arc::new(backstop_api::metrics::EventCounters::default());
    let (fix_tx, fix_rx) = mpsc::channel(16);
    tokio::spawn(crate::fix::run(
        config_path.clone(),
        fix_rx,
        control_tx.clone(),
        supervisor.publisher(),
        supervisor.probe_reaper(),
        counters.clone(),
    ));
    tokio::spawn(crate::fix::remediate::run(
        remediate,
        crate::fix::remediate::Wiring {
            config_path: config_path.clone(),
            events: supervisor.subscribe(),
            fix: fix_tx.clone(),
            control: control_tx.clone(),
            bus: supervisor.publisher(),
            reaper: supervisor.probe_reaper(),
        },
    ));
    let (diagnose_tx, diagnose_rx) = mpsc::channel(16);
    tokio::spawn(crate::auto_diagnose::on_request(
        config_path.clone(),
        diagnose_rx,
        supervisor.probe_reaper(),
        supervisor.publisher(),
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn({
        let (counters, mut events) = (counters.clone(), supervisor.subscribe());
        async move {
            while let Some(e) = events.recv().await {
                counters.count(&e.kind);
            }
        }
    });
    let state = backstop_api::AppState {
        control: control_tx,
        events: source,
        counters,
        latency,
        fix: fix_tx,
        diagnose: diagnose_tx,
        bus: supervisor.publisher(),
        usage,
        logs: crate::log_tail::source(config_path.clone()),
    };
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.changed().await;
    };
    let server = tokio::spawn({
        let (state, shutdown) = (state.clone(), stopped(stop_rx.clone()));
        async move {
            if let Err(e) = backstop_api::serve_unix(listener, state, shutdown).await {
                tracing::error!("the control API stopped: {e}");
            }
        }
    });
    let tcp_server = tcp.map(|(listener, token)| {
        let shutdown = stopped(stop_rx);
        tokio::spawn(async move {
            if let Err(e) = backstop_api::serve_tcp(listener, state, token, shutdown).await {
                tracing::error!("the TCP API stopped: {e}");
            }
        })
    });
    say(&format!(
        "backstop {} started (pid {})",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    ));
    if let Some(line) = dashboard {
        say(&line);
    }
    // Once start-up is over (config parsed, leftovers handled, the first
    // services spawned), what an idle daemon keeps resident should be what
    // it runs: a one-off, a second after the start.
    tokio::spawn(async {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        crate::memory::drop_startup_code();
        crate::memory::return_free_heap();
        // An API request or a restart faults code in again; a minute later,
        // if the resident size grew noticeably, drop it again.
        let resident = backstop_api::metrics::own_rss;
        let mut after_drop = resident();
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            if resident() > after_drop + 256 * 1024 {
                crate::memory::drop_startup_code();
                crate::memory::return_free_heap();
                after_drop = resident();
            }
        }
    });
    let result = supervisor.run(control_rx).await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    if let Some(t) = tcp_server {
        let _ = t.await;
    }
    let _ = std::fs::remove_file(paths.socket());
    let _ = std::fs::remove_file(paths.pid_file());
    say("every service is stopped; backstop exits");
    result.map_err(|e| Exit::new(Code::Failed, format!("supervision failed: {e}")))
}

/// Queues one daemon message for stderr (the terminal, or `daemon.log`).
/// Never blocks and never panics: a terminal that does not read, or a slow
/// disk under `daemon.log`, must not hold up supervision.
fn print_line(mode: Mode, line: &str) {
    let mut out = Vec::with_capacity(line.len() + 32);
    let _ = match mode {
        Mode::Foreground { color: true } => writeln!(out, "\x1b[2mbackstop |\x1b[0m {line}"),
        Mode::Foreground { color: false } => writeln!(out, "backstop | {line}"),
        Mode::Detached => {
            let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now());
            writeln!(out, "{stamp} {line}")
        }
    };
    TerminalWriter::global().stderr(out);
}

async fn show_events(mut events: backstop_api::Subscription, mode: Mode) {
    while let Some(event) = events.recv().await {
        print_line(mode, &event.message);
    }
}
