//! `backstop diagnose [SERVICE]`: the root cause first, with its evidence
//! and fix, and a redacted bundle of everything looked at. Works with or
//! without a daemon; changes nothing.

use std::io::IsTerminal;
use std::path::Path;

use backstop_api::{ClientError, ServiceStatus, StatusReport};
use backstop_diagnose::Report;

use crate::cli::DiagnoseArgs;
use crate::context::{client, known_services, load_config};
use crate::diagnose;
use crate::exit::{CmdResult, Code, Exit};

pub(crate) fn run(config_path: &Path, args: &DiagnoseArgs, json: bool) -> CmdResult {
    let loaded = load_config(config_path)?;
    let config = &loaded.config;
    if let Some(name) = &args.service {
        known_services(config, [name])?;
    }
    let show_progress = !json && !args.quiet && std::io::stderr().is_terminal();
    let progress = |service: &str, step: &str| {
        if show_progress {
            eprint!("\r\x1b[2Kdiagnosing {service}: {step}…");
        }
    };
    let out_dir = args.out.clone().map_or_else(
        || config.daemon.state_dir.join("diagnostics"),
        |d| std::path::absolute(&d).unwrap_or(d),
    );
    let reports = collect(
        config_path,
        config,
        args.service.as_deref(),
        out_dir,
        args.archive,
        &progress,
    );
    if show_progress {
        eprint!("\r\x1b[2K");
    }
    if args.event {
        for r in &reports {
            match &r.bundle {
                Some(bundle) => println!("{} (bundle: {bundle})", r.verdict()),
                None => println!("{} (no bundle: {})", r.verdict(), r.warnings.join("; ")),
            }
        }
    } else if json {
        let text = match (&args.service, reports.as_slice()) {
            (Some(_), [one]) => serde_json::to_string_pretty(one),
            _ => serde_json::to_string_pretty(&reports),
        };
        println!("{}", text.expect("UNWRAP: plain data serialises"));
    } else if reports.is_empty() {
        println!(
            "every service is healthy; nothing to diagnose (name one to write a bundle anyway: `backstop diagnose SERVICE`)"
        );
    } else {
        for (n, r) in reports.iter().enumerate() {
            if n > 0 {
                println!();
            }
            print!("{}", text(r));
        }
    }
    // Exit 1 when something is wrong; a service stopped on purpose, with
    // nothing against it, is not.
    if reports.iter().all(|r| r.healthy || r.at_rest()) {
        Ok(())
    } else {
        Err(Exit::new(Code::Failed, String::new()))
    }
}

/// Diagnoses `service`, or every service that is not healthy: bundles
/// under `out_dir`, with the daemon's view when one runs.
pub(crate) fn collect(
    config_path: &Path,
    config: &backstop_config::Config,
    service: Option<&str>,
    out_dir: std::path::PathBuf,
    archive: bool,
    progress: &(dyn Fn(&str, &str) + Sync),
) -> Vec<Report> {
    let client = client(config_path);
    super::runtime().block_on(async {
        let report: Option<StatusReport> = match client.get("/api/v1/services").await {
            Ok(r) => Some(r),
            Err(ClientError::NoDaemon { .. }) => None,
            Err(e) => {
                tracing::warn!("the daemon did not answer ({e}); diagnosing from the files");
                None
            }
        };
        // Jobs by name only (`diagnose job:backup`): between runs they are at rest.
        let all: Vec<String> = config.supervised().map(|s| s.name.clone()).collect();
        let names = match service {
            Some(n) => vec![n.to_string()],
            None => diagnose::unhealthy(report.as_ref(), &config.daemon.state_dir, &all),
        };
        let daemon = report.is_some();
        let run = diagnose::Run {
            config,
            out_dir,
            archive,
            progress,
        };
        let mut reports = Vec::new();
        for name in names {
            let Some(service) = config.service(&name) else {
                continue;
            };
            let live: Option<ServiceStatus> = if daemon {
                client.get(&format!("/api/v1/services/{name}")).await.ok()
            } else {
                None
            };
            reports.push(diagnose::diagnose(&run, service, live).await);
        }
        reports
    })
}

/// The verdict first, then its evidence, its fix, other candidates, the bundle.
pub(crate) fn text(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{}", r.verdict());
    if let Some(c) = r.causes.first() {
        for e in &c.evidence {
            let _ = writeln!(out, "  {:<22} {}", e.place(), e.text);
        }
        if let Some(p) = &c.remedy.playbook {
            let _ = writeln!(out, "  fix: backstop fix {} {p}", r.service);
        }
        if let Some(m) = &c.remedy.manual {
            let _ = writeln!(out, "  fix: {m}");
        }
        for other in &r.causes[1..] {
            let _ = writeln!(
                out,
                "  also possible: {} ({:.2}): {}",
                other.id, other.confidence, other.summary
            );
        }
    }
    for w in &r.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    if let Some(b) = &r.bundle {
        let _ = writeln!(out, "  bundle: {b}/ (01-summary.md first)");
    }
    if let Some(a) = &r.archive {
        let _ = writeln!(out, "  archive: {a}");
    }
    out
}
