//! `backstop fix SERVICE PLAYBOOK [--dry-run]`: run a remediation playbook
//! in the daemon and show each step, its outcome and what it found.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use backstop_api::{ClientError, FixReport, FixRequest, ServiceStatus, StepOutcome};

use crate::cli::FixArgs;
use crate::context::{client, client_error, known_services, load_config};
use crate::exit::{CmdResult, Code, Exit};

pub(crate) fn run(config_path: &Path, args: &FixArgs, json: bool) -> CmdResult {
    let config = load_config(config_path)?.config;
    known_services(&config, [&args.service])?;
    let playbook = match args.playbook.clone() {
        Some(p) => p,
        None => match propose(config_path, &config, args)? {
            Some(p) => p,
            // Healthy: nothing failed, nothing to do.
            None => return Ok(()),
        },
    };
    let playbook = &playbook;
    if config.playbook(playbook).is_none() {
        return Err(Exit::new(
            Code::Usage,
            format!(
                "no playbook named `{playbook}`; the playbooks are: {}",
                config.playbook_names().join(", ")
            ),
        ));
    }
    let client = client(config_path);
    let request = FixRequest {
        playbook: playbook.clone(),
        dry_run: args.dry_run,
    };
    let path = format!("/api/v1/services/{}/fix", args.service);
    let show_progress = !json && !args.dry_run && std::io::stderr().is_terminal();
    let status_path = format!("/api/v1/services/{}", args.service);
    let report: FixReport = super::runtime()
        .block_on(async {
            let fix = client.post_json(&path, &request);
            tokio::pin!(fix);
            let mut said = String::new();
            loop {
                tokio::select! {
                    done = &mut fix => break done,
                    () = tokio::time::sleep(Duration::from_millis(250)), if show_progress => {
                        if let Ok(s) = client.get::<ServiceStatus>(&status_path).await
                            && let Some(doing) = s.fixing
                            && doing != said
                        {
                            eprintln!("  … {doing}");
                            said = doing;
                        }
                    }
                }
            }
        })
        .map_err(|e| match e {
            ClientError::Refused { message, .. } => Exit::new(Code::Failed, message),
            other => client_error(config_path, other),
        })?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("UNWRAP: plain data serialises")
        );
    } else {
        print!("{}", render(&report));
    }
    if report.ok {
        Ok(())
    } else {
        Err(Exit::new(Code::Failed, String::new()))
    }
}

/// Without a playbook: diagnose, show the verdict and the playbook that
/// fixes it, and go on only with `--yes` or a yes typed on a terminal;
/// `None` when the service is healthy.
fn propose(
    config_path: &Path,
    config: &backstop_config::Config,
    args: &FixArgs,
) -> Result<Option<String>, Exit> {
    let show_progress = std::io::stderr().is_terminal();
    let progress = |service: &str, step: &str| {
        if show_progress {
            eprint!("\r\x1b[2Kdiagnosing {service}: {step}…");
        }
    };
    let reports = super::diagnose::collect(
        config_path,
        config,
        Some(&args.service),
        config.daemon.state_dir.join("diagnostics"),
        false,
        &progress,
    );
    if show_progress {
        eprint!("\r\x1b[2K");
    }
    let Some(report) = reports.into_iter().next() else {
        return Err(Exit::new(
            Code::Failed,
            "the diagnosis found nothing to say",
        ));
    };
    print!("{}", super::diagnose::text(&report));
    if report.healthy {
        println!("{} is healthy: nothing to fix", args.service);
        return Ok(None);
    }
    let cause = report.causes.first();
    let Some(playbook) = cause.and_then(|c| c.remedy.playbook.clone()) else {
        let manual = cause
            .and_then(|c| c.remedy.manual.clone())
            .unwrap_or_else(|| "read the bundle's 01-summary.md".to_string());
        return Err(Exit::new(
            Code::Failed,
            format!("no playbook fixes this by itself; by hand: {manual}"),
        ));
    };
    // A dry run changes nothing: no question needed.
    if args.yes || args.dry_run {
        return Ok(Some(playbook));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Exit::new(
            Code::Failed,
            format!(
                "proposed: `backstop fix {} {playbook}`; add --yes to run it without a question",
                args.service
            ),
        ));
    }
    eprint!("run {playbook} on {}? [y/N] ", args.service);
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(Some(playbook))
    } else {
        Err(Exit::new(Code::Failed, "nothing done"))
    }
}

fn render(report: &FixReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let what = if report.dry_run {
        " (dry run: nothing changed)"
    } else {
        ""
    };
    let _ = writeln!(out, "{}: {}{what}", report.service, report.playbook);
    for s in &report.steps {
        let outcome = match s.outcome {
            StepOutcome::Done => "done",
            StepOutcome::Failed => "FAILED",
            StepOutcome::Skipped => "skipped",
            StepOutcome::Planned => "plan",
        };
        let took = if report.dry_run {
            String::new()
        } else {
            format!("{:.1}s", s.duration_ms as f64 / 1000.0)
        };
        let _ = writeln!(
            out,
            "  {:>2}. {:<15} {:<7} {:>6}  {}",
            s.number, s.action, outcome, took, s.detail
        );
        for line in &s.lines {
            let _ = writeln!(out, "        {line}");
        }
    }
    let verdict = if report.dry_run {
        "planned".to_string()
    } else if report.ok {
        "every step passed".to_string()
    } else {
        report
            .steps
            .iter()
            .find(|s| s.outcome == StepOutcome::Failed)
            .map_or_else(
                || "failed".to_string(),
                |s| format!("FAILED at step {} ({}): {}", s.number, s.action, s.detail),
            )
    };
    let _ = writeln!(out, "{verdict}");
    if let Some(file) = &report.report_file {
        let _ = writeln!(out, "report: {file}");
    }
    out
}
