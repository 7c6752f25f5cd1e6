//! The actions of playbook steps: each says what it does, acts (or, in a
//! dry run, says what it would do), and reports what it found.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backstop_api::{Control, Event, EventKind, Health, ServiceAction, ServiceState, ServiceStatus};
use backstop_config::Action;
use backstop_supervisor::rules::port::Kinship;
use backstop_supervisor::{leftovers, ports, procs, spawn, tree};

use super::{Context, Outcome};

/// How often a waiting step looks at the service.
const POLL: Duration = Duration::from_millis(100);

/// One line for the event written before the step acts.
pub(super) fn describe(action: &Action) -> String {
    match action {
        Action::FreePort { force: true } => "free-port (any holder, force = true)".to_string(),
        Action::ClearCache { paths } => format!("clear-cache {}", paths.join(" ")),
        Action::RotateLogs { above: Some(b) } => {
            format!("rotate-logs above {}", crate::render::bytes(*b))
        }
        Action::Verify { window } => format!("verify for {}", humantime::format_duration(*window)),
        Action::Exec { command } => format!("exec `sh -c {command:?}` (a shell runs)"),
        Action::Notify { message } => format!("notify: {message}"),
        other => other.name().to_string(),
    }
}

/// Runs `action` (or plans it, in a dry run): `Ok` when it did what it
/// should, `Err` with why not.
pub(super) async fn run(
    ctx: &Context,
    action: &Action,
    timeout: Duration,
) -> Result<Outcome, Outcome> {
    let deadline = Instant::now() + timeout.saturating_sub(Duration::from_millis(200));
    match action {
        Action::Stop => control(ctx, ServiceAction::Stop, deadline).await,
        Action::Start => control(ctx, ServiceAction::Start, deadline).await,
        Action::Restart => control(ctx, ServiceAction::Restart, deadline).await,
        Action::KillLeftovers => kill_leftovers(ctx).await,
        Action::FreePort { force } => free_port(ctx, *force).await,
        Action::ClearCache { paths } => clear_cache(ctx, paths).await,
        Action::RotateLogs { above } => rotate_logs(ctx, above.unwrap_or(0)).await,
        Action::WaitHealthy => wait_healthy(ctx, deadline).await,
        Action::Verify { window } => verify(ctx, *window).await,
        Action::Exec { command } => exec(ctx, command, timeout).await,
        Action::Notify { message } => {
            if !ctx.dry_run {
                let name = &ctx.service.name;
                ctx.bus.publish(Event::now(
                    Some(name),
                    EventKind::Notify,
                    format!("{name}: {message}"),
                ));
            }
            let to = if ctx.config.alerts.sinks.is_empty() {
                "recorded as a notify event (no alert sinks are configured)"
            } else {
                "sent through the alert sinks"
            };
            Ok(Outcome::said(format!("{to}: {message}")))
        }
        Action::Diagnose => diagnose(ctx).await,
        Action::RestartDependencies => restart_dependencies(ctx, deadline).await,
    }
}

async fn status(ctx: &Context) -> Result<ServiceStatus, Outcome> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    let asked = ctx
        .control
        .send(Control::Service {
            name: ctx.service.name.clone(),
            reply,
        })
        .await;
    match (asked, rx.await) {
        (Ok(()), Ok(Some(status))) => Ok(status),
        _ => Err(Outcome::said("the daemon is shutting down")),
    }
}

fn state_line(s: &ServiceStatus) -> String {
    match &s.detail {
        Some(d) => format!("{} is {} ({d})", s.name, s.state),
        None => format!("{} is {}", s.name, s.state),
    }
}

/// Start, stop or restart, and wait for the result.
async fn control(
    ctx: &Context,
    action: ServiceAction,
    deadline: Instant,
) -> Result<Outcome, Outcome> {
    let before = status(ctx).await?;
    if ctx.dry_run {
        return Ok(Outcome::said(format!(
            "would {} {} (now {})",
            action.as_str(),
            before.name,
            before.state
        )));
    }
    let (reply, rx) = tokio::sync::oneshot::channel();
    let _ = ctx
        .control
        .send(Control::Act {
            name: ctx.service.name.clone(),
            action,
            reply,
        })
        .await;
    match rx.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(Outcome::said(e.to_string())),
        Err(_) => return Err(Outcome::said("the daemon is shutting down")),
    }
    loop {
        let s = status(ctx).await?;
        let settled = match action {
            ServiceAction::Stop => !s.state.is_active() && s.state != ServiceState::Pending,
            // Started: it has a process (readiness is `wait-healthy`'s).
            _ => {
                matches!(
                    s.state,
                    ServiceState::Running | ServiceState::StartupTimeout
                ) || (s.state == ServiceState::Starting && s.pid.is_some() && s.pid != before.pid)
                    || matches!(s.state, ServiceState::Failed | ServiceState::CrashLoop)
            }
        };
        if settled {
            let good = match action {
                ServiceAction::Stop => true,
                _ => !matches!(s.state, ServiceState::Failed | ServiceState::CrashLoop),
            };
            let line = state_line(&s);
            return if good {
                Ok(Outcome::said(line))
            } else {
                Err(Outcome::said(line))
            };
        }
        if Instant::now() >= deadline {
            return Err(Outcome::said(format!(
                "still not settled: {}",
                state_line(&s)
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The pids of the service's running tree (never leftovers).
async fn current_tree(ctx: &Context) -> Result<HashSet<i32>, Outcome> {
    let s = status(ctx).await?;
    let Some(pid) = s.pid else {
        return Ok(HashSet::new());
    };
    Ok(blocking(move || procs::tree(&[pid as i32]).iter().map(|p| p.pid).collect()).await)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("UNWRAP: the closures given here do not panic")
}

fn shown(found: &[(i32, String)]) -> Vec<String> {
    found
        .iter()
        .map(|(pid, cmd)| format!("pid {pid}: {cmd}"))
        .collect()
}

async fn stop(ctx: &Context, pids: Vec<i32>) -> Vec<i32> {
    let stop = &ctx.service.stop;
    tree::stop_foreign(pids, Vec::new(), stop.signal.number, stop.timeout).await
}

async fn kill_leftovers(ctx: &Context) -> Result<Outcome, Outcome> {
    let current = current_tree(ctx).await?;
    let (name, state_dir) = (
        ctx.service.name.clone(),
        ctx.config.daemon.state_dir.clone(),
    );
    let found = blocking(move || leftovers::of_service(&name, &state_dir, &current)).await;
    if found.is_empty() {
        return Ok(Outcome::said("no leftover process"));
    }
    let lines = shown(&found);
    if ctx.dry_run {
        return Ok(
            Outcome::said(format!("would stop {} leftover process(es)", found.len()))
                .with_lines(lines),
        );
    }
    let survivors = stop(ctx, found.iter().map(|(p, _)| *p).collect()).await;
    if survivors.is_empty() {
        Ok(
            Outcome::said(format!("stopped {} leftover process(es)", found.len()))
                .with_lines(lines),
        )
    } else {
        Err(Outcome::said(format!("processes {survivors:?} survived SIGKILL")).with_lines(lines))
    }
}

/// The service's port: its `port`, else one its command line names
/// (`--port 8000`, `:8000`, `http.server 8000`) that something listens on.
fn port_of(service: &backstop_config::ServiceConfig) -> Option<u16> {
    service.port.or_else(|| {
        service
            .command
            .iter()
            .filter_map(|w| w.rsplit([':', '=']).next()?.parse::<u16>().ok())
            .find(|p| *p >= 1024 && ports::is_listening(*p))
    })
}

async fn free_port(ctx: &Context, force: bool) -> Result<Outcome, Outcome> {
    let service = ctx.service.clone();
    let Some(port) = blocking(move || port_of(&service)).await else {
        return Err(Outcome::said(format!(
            "service `{}` declares no `port`, and its command line names none that is held",
            ctx.service.name
        )));
    };
    let current = current_tree(ctx).await?;
    let (service, state_dir) = (ctx.service.clone(), ctx.config.daemon.state_dir.clone());
    let holders = blocking(move || {
        ports::holders(port)
            .into_iter()
            .filter(|h| !current.contains(&h.pid))
            .map(|h| {
                let kin = leftovers::kinship(h.pid, &service, &state_dir);
                (h, kin)
            })
            .collect::<Vec<_>>()
    })
    .await;
    if holders.is_empty() {
        return Ok(Outcome::said(format!("port {port} is free")));
    }
    let lines: Vec<String> = holders
        .iter()
        .map(|(h, kin)| {
            let whose = match kin {
                Kinship::Leftover => "a leftover of this service".to_string(),
                Kinship::HandStarted { root } if *root == h.pid => {
                    "this service's command, started outside backstop".to_string()
                }
                Kinship::HandStarted { root } => format!(
                    "a child of pid {root} ({}), this service's command started outside backstop",
                    procs::cmdline(*root)
                ),
                Kinship::Stranger => "not part of this service".to_string(),
            };
            format!("{h}: {whose}")
        })
        .collect();
    if let Some((stranger, _)) = holders
        .iter()
        .find(|(h, kin)| *kin == Kinship::Stranger && (!force || h.pid == 0))
    {
        return Err(Outcome::said(format!(
            "port {port} is held by {stranger}, which is not part of service `{}`: left alone (a step with `force = true` stops it)",
            ctx.service.name
        ))
        .with_lines(lines));
    }
    // A copy started by hand is stopped from its top, with its workers.
    let mut pids: Vec<i32> = holders
        .iter()
        .map(|(h, kin)| match kin {
            Kinship::HandStarted { root } => *root,
            _ => h.pid,
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    if ctx.dry_run {
        return Ok(
            Outcome::said(format!("would stop the holder(s) of port {port}: {pids:?}"))
                .with_lines(lines),
        );
    }
    let survivors = stop(ctx, pids.clone()).await;
    if survivors.is_empty() {
        Ok(
            Outcome::said(format!("stopped the holder(s) of port {port}: {pids:?}"))
                .with_lines(lines),
        )
    } else {
        Err(Outcome::said(format!(
            "processes {survivors:?} survived SIGKILL and still hold port {port}"
        ))
        .with_lines(lines))
    }
}

/// What matches `globs` under `dir`, found without following a symlink
/// (so nothing outside `dir` can match): each path with its size in bytes.
fn cache_matches(dir: &Path, globs: &[String]) -> Result<Vec<(PathBuf, u64)>, String> {
    let mut set = globset::GlobSetBuilder::new();
    for g in globs {
        set.add(globset::Glob::new(g).map_err(|e| format!("invalid glob `{g}`: {e}"))?);
    }
    let set = set.build().map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            let rel = path.strip_prefix(dir).unwrap_or(&path);
            if set.is_match(rel) {
                found.push((path.clone(), size_of(&path, &meta)));
            } else if meta.is_dir() {
                todo.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn size_of(path: &Path, meta: &std::fs::Metadata) -> u64 {
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).ok()?;
            Some(if m.file_type().is_symlink() {
                0
            } else {
                size_of(&p, &m)
            })
        })
        .sum()
}

async fn clear_cache(ctx: &Context, globs: &[String]) -> Result<Outcome, Outcome> {
    let (dir, globs) = (ctx.service.dir.clone(), globs.to_vec());
    let dry_run = ctx.dry_run;
    blocking(move || {
        let found = cache_matches(&dir, &globs).map_err(Outcome::said)?;
        let bytes: u64 = found.iter().map(|(_, b)| b).sum();
        let lines: Vec<String> = found
            .iter()
            .map(|(p, b)| format!("{} ({b} bytes)", p.display()))
            .collect();
        let what = format!(
            "{} path(s), {bytes} bytes, under {}",
            found.len(),
            dir.display()
        );
        if dry_run {
            return Ok(Outcome::said(format!("would delete {what}")).with_lines(lines));
        }
        let mut errors = Vec::new();
        for (path, _) in &found {
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            };
            if let Err(e) = removed {
                errors.push(format!("{}: {e}", path.display()));
            }
        }
        if errors.is_empty() {
            Ok(Outcome::said(format!("deleted {what}")).with_lines(lines))
        } else {
            Err(Outcome::said(format!(
                "could not delete everything: {}",
                errors.join("; ")
            ))
            .with_lines(lines))
        }
    })
    .await
}

async fn rotate_logs(ctx: &Context, above: u64) -> Result<Outcome, Outcome> {
    let logs = ctx.config.daemon.state_dir.join("logs");
    let name = ctx.service.name.clone();
    if ctx.dry_run {
        let lines: Vec<String> = [backstop_logs::Family::Main, backstop_logs::Family::Stderr]
            .into_iter()
            .map(|f| backstop_logs::files::current_path(&logs, &name, f))
            .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m.len())))
            .filter(|(_, len)| *len > above && *len > 0)
            .map(|(p, len)| format!("{} ({len} bytes)", p.display()))
            .collect();
        return Ok(
            Outcome::said(format!("would rotate {} log file(s)", lines.len())).with_lines(lines),
        );
    }
    let (reply, rx) = std::sync::mpsc::channel();
    let _ = ctx
        .control
        .send(Control::RotateLogs {
            service: name,
            above,
            reply,
        })
        .await;
    let rotated = blocking(move || rx.recv_timeout(Duration::from_secs(30))).await;
    match rotated {
        Ok(paths) => {
            let lines: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            Ok(Outcome::said(format!("rotated {} log file(s)", lines.len())).with_lines(lines))
        }
        Err(_) => Err(Outcome::said("the log writer did not answer within 30 s")),
    }
}

/// Healthy enough to go on: running (or starting with its checks passing)
/// and no check failing.
fn healthy(s: &ServiceStatus) -> bool {
    s.state == ServiceState::Running && s.health != Health::Unhealthy
}

fn failing_check(s: &ServiceStatus) -> Option<String> {
    s.checks
        .iter()
        .find(|c| c.state == "failing" || c.passed == Some(false))
        .map(|c| {
            format!(
                "check {} fails: {}",
                c.name,
                c.detail.as_deref().unwrap_or("")
            )
        })
}

async fn wait_healthy(ctx: &Context, deadline: Instant) -> Result<Outcome, Outcome> {
    if ctx.dry_run {
        return Ok(Outcome::said(
            "would wait until it runs and its checks pass",
        ));
    }
    loop {
        let s = status(ctx).await?;
        if healthy(&s) {
            let health = match s.health {
                Health::Unknown => "it has no health checks",
                other => other.as_str(),
            };
            return Ok(Outcome::said(format!("{} is running: {health}", s.name)));
        }
        if matches!(
            s.state,
            ServiceState::Failed | ServiceState::CrashLoop | ServiceState::Stopped
        ) {
            return Err(Outcome::said(state_line(&s)));
        }
        if Instant::now() >= deadline {
            let why = failing_check(&s).unwrap_or_else(|| state_line(&s));
            return Err(Outcome::said(format!("not healthy in time: {why}")));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn verify(ctx: &Context, window: Duration) -> Result<Outcome, Outcome> {
    if ctx.dry_run {
        return Ok(Outcome::said(format!(
            "would watch it for {}: running, checks passing, no restart",
            humantime::format_duration(window)
        )));
    }
    let first = status(ctx).await?;
    let end = Instant::now() + window;
    loop {
        let s = status(ctx).await?;
        let why = if s.state != ServiceState::Running {
            Some(state_line(&s))
        } else if s.pid != first.pid || s.restarts > first.restarts {
            Some(format!("it restarted (pid {:?} → {:?})", first.pid, s.pid))
        } else if s.health == Health::Unhealthy {
            failing_check(&s).or_else(|| Some("it is unhealthy".to_string()))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Outcome::said(format!("verification failed: {why}")));
        }
        if Instant::now() >= end {
            return Ok(Outcome::said(format!(
                "verified: running, {}, no restart for {}",
                s.health.as_str(),
                humantime::format_duration(window)
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn exec(ctx: &Context, command: &str, timeout: Duration) -> Result<Outcome, Outcome> {
    let plan = spawn::prepare(&ctx.service, &ctx.config.daemon.state_dir)
        .map_err(|e| Outcome::said(format!("cannot prepare the service's environment: {e}")))?;
    let user = ctx.service.user.as_deref().unwrap_or("backstop's user");
    if ctx.dry_run {
        return Ok(Outcome::said(format!(
            "would run `sh -c {command:?}` as {user} in {} (a shell runs)",
            ctx.service.dir.display()
        )));
    }
    let words = ["/bin/sh".to_string(), "-c".to_string(), command.to_string()];
    let context = plan.probe_context(Some(ctx.reaper.clone()));
    // Its own limit ends first, so that it kills the command (and says
    // so) before the step's timeout drops it.
    let limit = timeout.saturating_sub(Duration::from_millis(500));
    match backstop_probe::output(&words, &context, None, limit).await {
        Ok(out) => {
            let said = Outcome::said(out.ended()).with_lines(out.lines());
            if out.code == Some(0) {
                Ok(said)
            } else {
                Err(said)
            }
        }
        Err(e) => Err(Outcome::said(e)),
    }
}

async fn status_of(ctx: &Context, name: &str) -> Option<ServiceStatus> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    ctx.control
        .send(Control::Service {
            name: name.to_string(),
            reply,
        })
        .await
        .ok()?;
    rx.await.ok().flatten()
}

/// The services it depends on that are not up and healthy.
async fn dependencies_down(ctx: &Context) -> Vec<ServiceStatus> {
    let mut down = Vec::new();
    for dep in &ctx.service.depends_on {
        if let Some(s) = status_of(ctx, &dep.service).await
            && s.state != ServiceState::Exited
            && !healthy(&s)
        {
            down.push(s);
        }
    }
    down
}

async fn restart_dependencies(ctx: &Context, deadline: Instant) -> Result<Outcome, Outcome> {
    let down = dependencies_down(ctx).await;
    if down.is_empty() {
        return Ok(Outcome::said(
            "every service it depends on is up and healthy",
        ));
    }
    let lines: Vec<String> = down.iter().map(state_line).collect();
    let names: Vec<String> = down.iter().map(|s| s.name.clone()).collect();
    if ctx.dry_run {
        return Ok(Outcome::said(format!("would restart {}", names.join(", "))).with_lines(lines));
    }
    for s in &down {
        let action = if s.state.is_active() {
            ServiceAction::Restart
        } else {
            ServiceAction::Start
        };
        let (reply, rx) = tokio::sync::oneshot::channel();
        let _ = ctx
            .control
            .send(Control::Act {
                name: s.name.clone(),
                action,
                reply,
            })
            .await;
        if let Ok(Err(e)) = rx.await {
            return Err(Outcome::said(e.to_string()).with_lines(lines));
        }
    }
    loop {
        let still = dependencies_down(ctx).await;
        if still.is_empty() {
            return Ok(
                Outcome::said(format!("restarted {}: healthy", names.join(", "))).with_lines(lines),
            );
        }
        if Instant::now() >= deadline {
            let why: Vec<String> = still
                .iter()
                .map(|s| failing_check(s).unwrap_or_else(|| state_line(s)))
                .collect();
            return Err(
                Outcome::said(format!("not healthy in time: {}", why.join("; "))).with_lines(lines),
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn diagnose(ctx: &Context) -> Result<Outcome, Outcome> {
    if ctx.dry_run {
        return Ok(Outcome::said("would write a diagnostic bundle"));
    }
    let event =
        crate::auto_diagnose::diagnose(&ctx.config_path, &ctx.service.name, ctx.reaper.clone())
            .await;
    let said = Outcome::said(event.message.clone());
    ctx.bus.publish(event.clone());
    if event.kind == EventKind::Diagnosed {
        Ok(said)
    } else {
        Err(said)
    }
}
