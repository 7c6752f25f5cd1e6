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
//!
//! A service that crash-loops every night must not fill the disk with
//! bundles: after each automatic diagnosis the daemon keeps the newest
//! [`KEEP`] bundles of that service and removes older ones.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use backstop_api::{Event, EventBus, EventKind, Subscription};
use backstop_probe::{ExecContext, ProbeReaper};

/// A diagnosis that takes longer is abandoned (and said so).
const TIMEOUT: Duration = Duration::from_secs(90);

/// Bundles kept per service under `diagnostics/`.
pub(crate) const KEEP: usize = 20;

/// The event kinds that start a diagnosis.
const TRIGGERS: &[EventKind] = &[EventKind::CrashLoop, EventKind::StartupTimeout];

/// Runs until the event bus closes.
pub(crate) async fn run(
    config: PathBuf,
    mut events: Subscription,
    bus: EventBus,
    reaper: ProbeReaper,
    control: backstop_api::ControlSender,
) {
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut running: HashSet<String> = HashSet::new();
    let start = |service: String, running: &mut HashSet<String>| {
        if !running.insert(service.clone()) {
            return; // one at a time per service
        }
        let (config, bus, reaper, done) =
            (config.clone(), bus.clone(), reaper.clone(), done_tx.clone());
        let control = control.clone();
        tokio::spawn(async move {
            let event = diagnose(&config, &service, reaper).await;
            let bundle = event
                .message
                .rsplit_once("(bundle: ")
                .map(|(_, b)| PathBuf::from(b.trim_end_matches(')')));
            if event.kind == EventKind::Diagnosed {
                let prefix = format!("{service}: ");
                let verdict = event
                    .message
                    .strip_prefix(&prefix)
                    .unwrap_or(&event.message)
                    .to_string();
                // The status holds the verdict before anyone sees the event.
                let (reply, shown) = tokio::sync::oneshot::channel();
                if control
                    .send(backstop_api::Control::Diagnosed {
                        service: service.clone(),
                        verdict,
                        reply,
                    })
                    .await
                    .is_ok()
                {
                    let _ = shown.await;
                }
            }
            bus.publish(event);
            if let Some(dir) = bundle.as_ref().and_then(|b| b.parent()).map(PathBuf::from) {
                let name = service.clone();
                let _ = tokio::task::spawn_blocking(move || prune(&dir, &name, KEEP)).await;
            }
            let _ = done.send(service);
        });
    };
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Some(e) if TRIGGERS.contains(&e.kind) => {
                    if let Some(service) = e.service {
                        start(service, &mut running);
                    }
                }
                // Events were lost: what they would have said is in the
                // state. Every service in a crash loop or a startup timeout
                // without a diagnosis gets one.
                Some(e) if e.kind == EventKind::EventsLost => {
                    for service in undiagnosed(&control).await {
                        start(service, &mut running);
                    }
                }
                Some(_) => {}
                None => return,
            },
            Some(service) = done_rx.recv() => {
                running.remove(&service);
            }
        }
    }
}

/// Services in a state that calls for a diagnosis and that have none.
async fn undiagnosed(control: &backstop_api::ControlSender) -> Vec<String> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    if control
        .send(backstop_api::Control::Brief { reply })
        .await
        .is_err()
    {
        return Vec::new();
    }
    rx.await.map_or_else(
        |_| Vec::new(),
        |report| {
            report
                .services
                .into_iter()
                .filter(|s| {
                    matches!(
                        s.state,
                        backstop_api::ServiceState::CrashLoop
                            | backstop_api::ServiceState::StartupTimeout
                    ) && s.diagnosis.is_none()
                })
                .map(|s| s.name)
                .collect()
        },
    )
}

/// Answers `POST /api/v1/services/{name}/diagnose` until the daemon stops:
/// each request is a `backstop diagnose SERVICE --json` child of its own.
pub(crate) async fn on_request(
    config: PathBuf,
    mut requests: tokio::sync::mpsc::Receiver<backstop_api::DiagnoseCommand>,
    reaper: ProbeReaper,
    bus: EventBus,
) {
    use backstop_api::FixError;
    while let Some(backstop_api::DiagnoseCommand { service, reply }) = requests.recv().await {
        let (config, reaper, bus) = (config.clone(), reaper.clone(), bus.clone());
        tokio::spawn(async move {
            let known = match backstop_config::load(&config) {
                Ok(loaded) => loaded.config.service(&service).is_some(),
                Err(e) => {
                    let _ = reply.send(Err(FixError::Config(bus.redact(&e.render(false)))));
                    return;
                }
            };
            if !known {
                let _ = reply.send(Err(FixError::NoSuchService(service)));
                return;
            }
            let answer = match run_child(&config, &service, "--json", reaper).await {
                Ok(out) if matches!(out.code, Some(0 | 1)) => serde_json::from_slice(&out.stdout)
                    .map_err(|e| FixError::DiagnoseFailed(format!("its output is not JSON: {e}"))),
                Ok(out) => Err(FixError::DiagnoseFailed(format!(
                    "exit {}: {}",
                    out.code
                        .map_or_else(|| "by a signal".to_string(), |c| c.to_string()),
                    bus.redact(String::from_utf8_lossy(&out.stderr).trim())
                ))),
                Err(why) => Err(FixError::DiagnoseFailed(why)),
            };
            let _ = reply.send(answer);
        });
    }
}

/// `backstop diagnose SERVICE --quiet MODE` as a child of the daemon.
async fn run_child(
    config: &std::path::Path,
    service: &str,
    mode: &str,
    reaper: ProbeReaper,
) -> Result<backstop_probe::Output, String> {
    // The daemon's own binary, even if the file was replaced since it started.
    let command: Vec<String> = [
        "/proc/self/exe",
        "-c",
        &config.display().to_string(),
        "diagnose",
        service,
        "--quiet",
        mode,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let mut env = backstop_supervisor::spawn::inherited_environment();
    env.insert("BACKSTOP_LOG".into(), "error".into());
    env.insert("NO_COLOR".into(), "1".into());
    let ctx = ExecContext {
        dir: config.parent().map(PathBuf::from).unwrap_or_default(),
        env,
        ids: None,
        reaper: Some(reaper),
    };
    backstop_probe::output(&command, &ctx, None, TIMEOUT).await
}

pub(crate) async fn diagnose(
    config: &std::path::Path,
    service: &str,
    reaper: ProbeReaper,
) -> Event {
    let result = run_child(config, service, "--event", reaper).await;
    // `diagnose --event` prints the verdict on one line, and exits 0
    // (healthy) or 1 (a fault); anything else is a failure to diagnose.
    let (kind, message) = match result {
        Ok(out) if matches!(out.code, Some(0 | 1)) => {
            let said = String::from_utf8_lossy(&out.stdout);
            (EventKind::Diagnosed, said.trim().to_string())
        }
        Ok(out) => (
            EventKind::DiagnoseFailed,
            format!(
                "{service}: the automatic diagnosis failed (exit {}): {}",
                out.code
                    .map_or_else(|| "by a signal".to_string(), |c| c.to_string()),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
        Err(why) => (
            EventKind::DiagnoseFailed,
            format!("{service}: the automatic diagnosis failed: {why}"),
        ),
    };
    Event::now(Some(service), kind, message)
}

/// Removes all but the newest `keep` bundles of `service` in `dir` (a
/// bundle and its `.tar.gz` count once; names sort by time).
fn prune(dir: &std::path::Path, service: &str, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{service}-");
    let mut bundles: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.strip_prefix(&prefix).is_some_and(is_stamp))
        .collect();
    // By time, then by the `-N` of bundles made in the same second.
    bundles.sort_by_key(|n| {
        let (stamp, same_second) = n
            .rsplit_once("Z-")
            .map_or((n.as_str(), 1), |(s, k)| (s, k.parse::<u32>().unwrap_or(1)));
        (stamp.trim_end_matches('Z').to_string(), same_second)
    });
    let excess = bundles.len().saturating_sub(keep);
    for name in &bundles[..excess] {
        let path = dir.join(name);
        if let Err(e) = std::fs::remove_dir_all(&path) {
            tracing::warn!("cannot remove the old bundle {}: {e}", path.display());
        }
        let _ = std::fs::remove_file(dir.join(format!("{name}.tar.gz")));
    }
}

/// `20261201T100000Z` or `20261201T100000Z-2`: a bundle's time (so that
/// service `api` never claims the bundles of a service `api-2`).
fn is_stamp(rest: &str) -> bool {
    let (stamp, n) = rest
        .split_once("Z-")
        .map_or((rest.strip_suffix('Z'), ""), |(s, n)| (Some(s), n));
    let Some(stamp) = stamp else { return false };
    let b = stamp.as_bytes();
    b.len() == 15
        && b[8] == b'T'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 8 || c.is_ascii_digit())
        && n.bytes().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    #[test]
    fn prune_keeps_the_newest_of_one_service() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "api-20261201T100000Z",
            "api-20261201T110000Z",
            "api-20261201T110000Z-2",
            "api-20261201T110000Z-10",
            "api-20261201T120000Z",
            "api-v2-20261201T090000Z",
            "api-2-20261201T080000Z",
        ] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        std::fs::write(dir.path().join("api-20261201T100000Z.tar.gz"), "").unwrap();
        super::prune(dir.path(), "api", 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "api-2-20261201T080000Z",
                "api-20261201T110000Z-10",
                "api-20261201T120000Z",
                "api-v2-20261201T090000Z"
            ]
        );
    }
}
