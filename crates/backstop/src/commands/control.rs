//! `start`, `stop`, `restart`, `reload`, `down`: requests to the daemon.
//!
//! By default each waits for the outcome (polling the daemon with a
//! deadline), so scripts can rely on `backstop stop api && …`.

use std::path::Path;
use std::time::Duration;

use backstop_api::{
    ActionOutcome, Client, ClientError, ReloadOutcome, ServiceAction, ServiceState, ServiceStatus,
};
use tokio::time::Instant;

use crate::cli::ServiceArgs;
use crate::context::{client, client_error};
use crate::exit::{CmdResult, Code, Exit};

/// How often a waiting command asks the daemon again.
const POLL: Duration = Duration::from_millis(50);

fn settled(action: ServiceAction, state: ServiceState) -> bool {
    match action {
        ServiceAction::Stop => {
            !state.is_active() && !matches!(state, ServiceState::Pending | ServiceState::Backoff)
        }
        ServiceAction::Start | ServiceAction::Restart => matches!(
            state,
            ServiceState::Running
                | ServiceState::Exited
                | ServiceState::Failed
                | ServiceState::CrashLoop
                | ServiceState::StartupTimeout
                | ServiceState::Stopped
        ),
    }
}

fn wait_budget(config: &Path, names: &[String], action: ServiceAction) -> Duration {
    let stop = backstop_config::load(config)
        .ok()
        .map_or(Duration::from_secs(10), |l| {
            names
                .iter()
                .filter_map(|n| l.config.service(n).map(|s| s.stop.timeout))
                .max()
                .unwrap_or(Duration::from_secs(10))
        });
    match action {
        ServiceAction::Stop => stop + Duration::from_secs(10),
        ServiceAction::Start | ServiceAction::Restart => stop + Duration::from_secs(60),
    }
}

pub(crate) fn act(
    config: &Path,
    action: ServiceAction,
    args: &ServiceArgs,
    json: bool,
) -> CmdResult {
    let loaded = crate::context::load_config(config)?.config;
    let all = ["all".to_string()];
    let names = if args.all {
        &all[..]
    } else {
        &args.services[..]
    };
    let mut services = crate::context::named_services(&loaded, names)?;
    // `all` starts what `up` starts: a `disabled` service only by its name
    // (a stop reaches it too, in case it was started so).
    let everything = names.len() == 1 && names[0] == "all" && loaded.service("all").is_none();
    if everything && action != ServiceAction::Stop {
        services.retain(|n| loaded.service(n).is_none_or(|s| !s.disabled));
    }
    let client = client(config);
    let budget = wait_budget(config, &services, action);
    let finals = super::runtime().block_on(async {
        for name in &services {
            let _: ActionOutcome = client
                .post(&format!("/api/v1/services/{name}/{}", action.as_str()))
                .await
                .map_err(|e| client_error(config, e))?;
        }
        let deadline = Instant::now() + budget;
        let mut finals = Vec::new();
        for name in &services {
            finals.push(
                wait_for(&client, name, action, args.no_wait, deadline)
                    .await
                    .map_err(|e| client_error(config, e))?,
            );
        }
        Ok::<_, Exit>(finals)
    })?;
    if json {
        println!("{}", serde_json::json!({ "services": finals }));
    }
    let mut failed = false;
    for s in &finals {
        if !json {
            println!("{}", outcome_line(s));
        }
        let ok = match action {
            // With --no-wait, the request taken is the success.
            ServiceAction::Stop => args.no_wait || !s.state.is_active(),
            _ => {
                !matches!(
                    s.state,
                    ServiceState::Failed | ServiceState::CrashLoop | ServiceState::StartupTimeout
                ) && !cannot_start(action, s)
                    && (args.no_wait || settled(action, s.state))
            }
        };
        failed |= !ok;
    }
    if failed {
        return Err(Exit::new(Code::Failed, String::new()));
    }
    Ok(())
}

async fn wait_for(
    client: &Client,
    name: &str,
    action: ServiceAction,
    no_wait: bool,
    deadline: Instant,
) -> Result<ServiceStatus, ClientError> {
    use std::io::IsTerminal;
    let started = Instant::now();
    let show = std::io::stderr().is_terminal();
    let mut shown = false;
    let result = loop {
        let s: ServiceStatus = client.get(&format!("/api/v1/services/{name}")).await?;
        if no_wait
            || settled(action, s.state)
            || Instant::now() >= deadline
            || cannot_start(action, &s)
        {
            break s;
        }
        // A wait longer than a moment says what it waits for.
        if show && started.elapsed() > Duration::from_secs(1) {
            let detail = s
                .detail
                .as_deref()
                .map_or(String::new(), |d| format!(": {d}"));
            let restarts = if s.restarts > 0 {
                format!(", {} restarts", s.restarts)
            } else {
                String::new()
            };
            eprint!(
                "\r\x1b[2Kwaiting for {name}, {} {}s{restarts}{detail}",
                s.state,
                started.elapsed().as_secs()
            );
            shown = true;
        }
        tokio::time::sleep(POLL).await;
    };
    if shown {
        eprint!("\r\x1b[2K");
    }
    Ok(result)
}

/// `api: running (pid 42)`, with why when there is more to say.
fn outcome_line(s: &ServiceStatus) -> String {
    let pid = s.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
    let detail = s
        .detail
        .as_ref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    format!("{}: {}{pid}{detail}", s.name, s.state)
}

/// A start that cannot succeed now: the service waits for a dependency
/// that is at rest (failed, in a crash loop, stopped) and will not come up
/// by itself. Waiting out the deadline would only hide that.
fn cannot_start(action: ServiceAction, s: &ServiceStatus) -> bool {
    action != ServiceAction::Stop && waits_in_vain(s)
}

/// `s` is pending on a dependency at rest (failed, in a crash loop,
/// stopped): it will not start by itself.
pub(crate) fn waits_in_vain(s: &ServiceStatus) -> bool {
    s.state == ServiceState::Pending
        && s.detail.as_deref().is_some_and(|d| {
            backstop_supervisor::rules::dependencies::AT_REST
                .iter()
                .any(|rest| d.contains(rest))
        })
}

pub(crate) fn reload(config: &Path, json: bool) -> CmdResult {
    let client = client(config);
    let outcome: ReloadOutcome = super::runtime()
        .block_on(client.post("/api/v1/daemon/reload"))
        .map_err(|e| match e {
            ClientError::Refused { message, .. } => Exit::new(Code::Usage, message),
            other => client_error(config, other),
        })?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcome).expect("UNWRAP: plain data serialises")
        );
    } else {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        println!(
            "reloaded: added {}; removed {}; changed (restarted) {}; updated without a restart {}",
            list(&outcome.added),
            list(&outcome.removed),
            list(&outcome.changed),
            list(&outcome.updated)
        );
    }
    Ok(())
}

/// `backstop scale NAME N`: the daemon runs N copies; waits for the ones
/// added to start, as `start` does.
pub(crate) fn scale(
    config: &Path,
    service: &str,
    instances: u32,
    no_wait: bool,
    json: bool,
) -> CmdResult {
    let loaded = crate::context::load_config(config)?.config;
    if !loaded.declared.iter().any(|s| s.name == service) {
        crate::context::known_services(&loaded, [&service.to_string()])?;
        let group = loaded
            .service(service)
            .and_then(|s| s.instance.as_ref())
            .map_or(service, |i| i.group.as_str());
        return Err(Exit::new(
            Code::Usage,
            format!("`{service}` is one copy of `{group}`: scale `{group}`"),
        ));
    }
    let client = client(config);
    let budget = wait_budget(config, &[service.to_string()], ServiceAction::Start);
    let (outcome, finals) = super::runtime().block_on(async {
        let outcome: ReloadOutcome = client
            .post_json(
                &format!("/api/v1/services/{service}/scale"),
                &backstop_api::ScaleRequest { instances },
            )
            .await
            .map_err(|e| match e {
                ClientError::Refused { message, .. } => Exit::new(Code::Usage, message),
                other => client_error(config, other),
            })?;
        let deadline = Instant::now() + budget;
        let mut finals = Vec::new();
        for name in &outcome.added {
            finals.push(
                wait_for(&client, name, ServiceAction::Start, no_wait, deadline)
                    .await
                    .map_err(|e| client_error(config, e))?,
            );
        }
        Ok::<_, Exit>((outcome, finals))
    })?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "scaled": outcome, "services": finals })
        );
    } else {
        println!("{service}: {instances} instances");
        if !outcome.removed.is_empty() {
            println!("stopped: {}", outcome.removed.join(", "));
        }
        for s in &finals {
            println!("{}", outcome_line(s));
        }
    }
    let failed = finals.iter().any(|s| {
        matches!(
            s.state,
            ServiceState::Failed | ServiceState::CrashLoop | ServiceState::StartupTimeout
        )
    });
    if failed {
        return Err(Exit::new(Code::Failed, String::new()));
    }
    Ok(())
}

pub(crate) fn down(config: &Path) -> CmdResult {
    let client = client(config);
    let budget = backstop_config::load(config)
        .ok()
        .map_or(Duration::from_secs(60), |l| {
            l.config
                .services
                .iter()
                .map(|s| s.stop.timeout + Duration::from_secs(5))
                .sum::<Duration>()
                + Duration::from_secs(10)
        });
    let ran = super::runtime().block_on(async {
        match client.post_empty("/api/v1/daemon/shutdown").await {
            // Down is what was asked, and down it is: nothing to do.
            Err(ClientError::NoDaemon { .. }) => return Ok(false),
            other => other.map_err(|e| client_error(config, e))?,
        }
        let deadline = Instant::now() + budget;
        loop {
            match client.get::<serde_json::Value>("/api/v1/services").await {
                Err(ClientError::NoDaemon { .. }) => return Ok(true),
                _ if Instant::now() >= deadline => {
                    return Err(Exit::new(
                        Code::Failed,
                        format!(
                            "the daemon is still stopping after {}; see `backstop status`",
                            humantime::format_duration(budget)
                        ),
                    ));
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
    })?;
    if ran {
        println!("every service is stopped; the daemon has exited");
    } else {
        println!(
            "nothing to stop: no backstop daemon runs for {}",
            config.display()
        );
    }
    Ok(())
}
