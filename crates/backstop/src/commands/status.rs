//! `backstop status`: what runs, as the daemon sees it.

use std::path::Path;

use backstop_api::{ClientError, ServiceState, StatusReport};

use crate::context::{client, client_error, color_stdout};
use crate::exit::{CmdResult, Code, Exit};
use crate::render;

pub(crate) fn run(config: &Path, only: &[String], json: bool) -> CmdResult {
    let client = client(config);
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
            other => client_error(config, other),
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
