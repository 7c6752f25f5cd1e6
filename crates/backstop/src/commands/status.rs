//! `backstop status`: what runs, as the daemon sees it.

use std::path::Path;

use backstop_api::{ClientError, ServiceState, StatusReport};

use crate::context::{client, client_error, color_stdout};
use crate::exit::{CmdResult, Code, Exit};
use crate::render;

pub(crate) fn run(config: &Path, only: &[String], json: bool) -> CmdResult {
    let client = client(config);
    show(&client, Some(config), only, json, |e| {
        client_error(config, e)
    })
}

/// `status --remote URL`: another host's daemon, over its TCP API.
pub(crate) fn remote(
    url: &str,
    token_file: Option<&Path>,
    only: &[String],
    json: bool,
) -> CmdResult {
    let token = token_file
        .map(|f| {
            std::fs::read_to_string(f)
                .map(|t| t.trim().to_string())
                .map_err(|e| {
                    Exit::new(
                        Code::Usage,
                        format!("cannot read the token from {}: {e}", f.display()),
                    )
                })
        })
        .transpose()?;
    let client = backstop_api::Client::remote(url, token).map_err(|e| Exit::new(Code::Usage, e))?;
    let had_token = token_file.is_some();
    show(&client, None, only, json, |e| match e {
        ClientError::NoDaemon { .. } => Exit::new(
            Code::NoDaemon,
            format!(
                "nothing answers at {url}: is backstop running there with `[daemon] listen` on that address?"
            ),
        ),
        ClientError::Refused { status: 401, .. } => Exit::new(
            Code::Failed,
            if had_token {
                format!(
                    "{url} refused the token: it must be the content of that host's `[daemon] token_file`"
                )
            } else {
                format!(
                    "{url} needs its API token: pass --token-file FILE (the content of that host's `[daemon] token_file`)"
                )
            },
        ),
        ClientError::Refused {
            status: 403,
            message,
        } => Exit::new(Code::Failed, format!("{url}: {message}")),
        ClientError::Refused { message, .. } => {
            Exit::new(Code::Failed, format!("{url}: {message}"))
        }
        other @ ClientError::Transport { .. } => Exit::new(Code::Failed, other.to_string()),
    })
}

/// Prints the status `client` answers; `config` (the local one) adds the
/// configured limits beside a named service's usage.
fn show(
    client: &backstop_api::Client,
    config: Option<&Path>,
    only: &[String],
    json: bool,
    on_error: impl Fn(ClientError) -> Exit,
) -> CmdResult {
    let report: StatusReport = super::runtime()
        .block_on(async {
            let mut report: StatusReport = client.get("/api/v1/services").await?;
            if !only.is_empty() {
                // Named services get the detailed view, with their exit history.
                let mut detailed = Vec::new();
                for name in only {
                    detailed.push(client.get(&format!("/api/v1/services/{name}")).await?);
                }
                report.services = detailed;
            }
            Ok(report)
        })
        .map_err(|e| match e {
            ClientError::Refused {
                status: 404,
                message,
            } => Exit::new(Code::Usage, message),
            other => on_error(other),
        })?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("UNWRAP: plain data serialises")
        );
    } else {
        print!("{}", render::status_table(&report.services, color_stdout()));
        if only.is_empty() && !report.checks.is_empty() {
            print_checks("checks", &report.checks);
        }
        if only.is_empty() && !report.jobs.is_empty() {
            print_jobs(&report.jobs);
        }
        for s in report
            .services
            .iter()
            .filter(|s| !only.is_empty() && !s.checks.is_empty())
        {
            print_checks(&format!("checks of {}", s.name), &s.checks);
        }
        for s in report
            .services
            .iter()
            .take(if only.is_empty() { 0 } else { usize::MAX })
        {
            let o = &s.output;
            println!(
                "\noutput of {}: {} lines, {} errors ({} in the last minute)",
                s.name, o.lines, o.errors, o.errors_last_minute
            );
            if let Some(e) = &o.last_error {
                println!("  last error at {}: {}", e.at, e.line);
            }
        }
        if !only.is_empty() {
            if let Some(config) = config {
                print_limits(config, &report);
            }
            println!("\nprocesses tracked by: {}", report.daemon.tracking);
        }
        for s in report.services.iter().filter(|s| !s.exits.is_empty()) {
            println!("\nexits of {} (oldest first):", s.name);
            for e in &s.exits {
                println!(
                    "  {}  {:<12} after {}",
                    e.at,
                    e.describe(),
                    render::duration(e.uptime_s as u64)
                );
            }
        }
    }
    let failing = report.services.iter().any(|s| {
        matches!(
            s.state,
            ServiceState::Failed | ServiceState::CrashLoop | ServiceState::StartupTimeout
        )
    });
    if failing {
        return Err(Exit::new(Code::Failed, String::new()));
    }
    Ok(())
}

/// One line per scheduled job: its last result and next run (`backstop
/// jobs` has the table).
fn print_jobs(jobs: &[backstop_api::JobStatus]) {
    println!("\njobs:");
    for j in jobs {
        let last = j.last_run.as_ref().map_or_else(
            || "not run yet".to_string(),
            |r| format!("last {} ({}) at {}", r.result.as_str(), r.ended, r.started),
        );
        let now = if j.state.is_active() || j.state == ServiceState::Pending {
            format!("{}, ", j.state)
        } else {
            String::new()
        };
        let missed = if j.missed { " MISSED" } else { "" };
        println!(
            "  {:<16} {now}{last}; next {}{missed}",
            j.name,
            j.next_run.as_deref().unwrap_or("never")
        );
    }
}

fn print_checks(title: &str, checks: &[backstop_api::CheckResult]) {
    println!("\n{title}:");
    for c in checks {
        println!(
            "  {:<16} {:<8} {}",
            c.name,
            c.state,
            c.detail.as_deref().unwrap_or("no result yet")
        );
    }
}

/// `limits of api: memory 21.5 MB now · warn 400.0 MB · max 480.0 MB …`:
/// each named service's `limits` beside its usage.
fn print_limits(config: &Path, report: &StatusReport) {
    use std::fmt::Write as _;
    let Ok(loaded) = backstop_config::load(config) else {
        return; // the daemon's view was shown; `validate` says what is wrong
    };
    for s in &report.services {
        let Some(service) = loaded.config.service(&s.name) else {
            continue;
        };
        let l = &service.limits;
        let mut parts = Vec::new();
        if l.memory_warn.is_some() || l.memory_max.is_some() {
            let now = s.rss_bytes.map_or_else(
                || "not running".to_string(),
                |b| format!("{} now", render::bytes(b)),
            );
            let mut memory = format!("memory {now}");
            if let Some(w) = l.memory_warn {
                let _ = write!(memory, ", degraded above {}", render::bytes(w));
            }
            if let Some(m) = l.memory_max {
                let _ = write!(memory, ", restarted above {}", render::bytes(m));
            }
            parts.push(memory);
        }
        if let Some(w) = l.cpu_warn {
            let held = l.cpu_for.unwrap_or(std::time::Duration::from_secs(60));
            parts.push(format!(
                "cpu degraded above {w}% for {}",
                humantime::format_duration(held)
            ));
        }
        if let Some(n) = l.nofile {
            parts.push(format!("nofile {n}"));
        }
        let kernel: Vec<String> = [
            l.cpu_max.map(|c| format!("cpu_max {c}%")),
            l.pids_max.map(|p| format!("pids_max {p}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !kernel.is_empty() {
            let cgroup = report.daemon.tracking.starts_with("cgroup");
            parts.push(if cgroup {
                format!(
                    "{} held by the kernel ({})",
                    kernel.join(", "),
                    report.daemon.tracking
                )
            } else {
                format!(
                    "{} not enforced: {} (kernel limits need a cgroup per service)",
                    kernel.join(", "),
                    report.daemon.tracking
                )
            });
        }
        if l.memory_max.is_some() && report.daemon.tracking.starts_with("cgroup") {
            parts.push(
                "memory_max is also the cgroup's hard limit: the kernel holds it".to_string(),
            );
        }
        if !parts.is_empty() {
            println!(
                "
limits of {}:\n  {}",
                s.name,
                parts.join("\n  ")
            );
        }
    }
}
