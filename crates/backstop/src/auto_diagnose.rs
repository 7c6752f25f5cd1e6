//! Automatic diagnosis: when a service enters `crash-loop` or
//! `startup-timeout`, the daemon writes a bundle and records the verdict as
//! a `diagnosed` event (which the alerts attach to the incident).
//!
//! The diagnosis runs as a child process, `backstop diagnose SERVICE
//! --event`, not inside the daemon: collecting reads logs and /proc, runs
//! every check and the preflight commands, and none of that may stall
//! supervision or grow the daemon's resident memory. The child is reaped
//! through the [`ProbeReaper`], like every process the daemon spawns that
//! is not a service.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use backstop_api::Event;
use backstop_probe::{ExecContext, ProbeReaper};
use tokio::sync::broadcast;

/// A diagnosis that takes longer is abandoned (and said so).
const TIMEOUT: Duration = Duration::from_secs(90);

/// The event kinds that start a diagnosis.
const TRIGGERS: &[&str] = &["crash-loop", "startup-timeout"];

/// Runs until the event bus closes.
pub(crate) async fn run(
    config: PathBuf,
    mut events: broadcast::Receiver<Event>,
    bus: broadcast::Sender<Event>,
    reaper: ProbeReaper,
) {
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut running: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(e) if TRIGGERS.contains(&e.kind.as_str()) => {
                    let Some(service) = e.service else { continue };
                    if !running.insert(service.clone()) {
                        continue; // one at a time per service
                    }
                    let (config, bus, reaper, done) = (config.clone(), bus.clone(), reaper.clone(), done_tx.clone());
                    tokio::spawn(async move {
                        let event = diagnose(&config, &service, reaper).await;
                        let _ = bus.send(event);
                        let _ = done.send(service);
                    });
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            Some(service) = done_rx.recv() => {
                running.remove(&service);
            }
        }
    }
}

async fn diagnose(config: &std::path::Path, service: &str, reaper: ProbeReaper) -> Event {
    // The daemon's own binary, even if the file was replaced since it started.
    let command: Vec<String> = [
        "/proc/self/exe",
        "-c",
        &config.display().to_string(),
        "diagnose",
        service,
        "--quiet",
        "--event",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    env.insert("BACKSTOP_LOG".into(), "error".into());
    env.insert("NO_COLOR".into(), "1".into());
    let ctx = ExecContext {
        dir: config.parent().map(PathBuf::from).unwrap_or_default(),
        env,
        ids: None,
        reaper: Some(reaper),
    };
    let result = backstop_probe::run_with_input(&command, &ctx, Vec::new(), TIMEOUT).await;
    let (kind, message) = match result {
        // `diagnose` exits 1 when it found a fault: its line is the verdict.
        Ok(said) | Err(said) if said.starts_with("exit 0: ") || said.starts_with("exit 1: ") => {
            ("diagnosed", said["exit 0: ".len()..].to_string())
        }
        Ok(said) | Err(said) => (
            "diagnose-failed",
            format!("{service}: the automatic diagnosis failed: {said}"),
        ),
    };
    Event {
        at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        service: Some(service.to_string()),
        kind: kind.to_string(),
        message,
    }
}
