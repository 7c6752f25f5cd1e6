//! `backstop jobs` (each scheduled job: schedule, last run, result, next
//! run) and `backstop run-job NAME` (one run now, waited for).

use std::path::Path;
use std::time::{Duration, SystemTime};

use backstop_api::{ActionOutcome, ClientError, JobResult, JobStatus, StatusReport};

use crate::context::{client, client_error, load_config};
use crate::exit::{CmdResult, Code, Exit};

/// How often `run-job` asks the daemon again while the run goes on.
const POLL: Duration = Duration::from_millis(100);

/// `backstop jobs`.
pub(crate) fn list(config: &Path, json: bool) -> CmdResult {
    let loaded = load_config(config)?.config;
    let client = client(config);
    let report: Result<StatusReport, ClientError> =
        super::runtime().block_on(client.get("/api/v1/services"));
    let jobs = match report {
        Ok(r) => r.jobs,
        // No daemon: the schedule from the file, nothing run.
        Err(ClientError::NoDaemon { .. }) => {
            if !json {
                eprintln!(
                    "(no daemon running: jobs run only under `backstop up`; showing the file's schedules)"
                );
            }
            loaded
                .jobs()
                .filter_map(|s| {
                    let spec = s.job.as_ref()?;
                    Some(JobStatus {
                        name: s
                            .name
                            .strip_prefix(backstop_config::JOB_PREFIX)
                            .unwrap_or(&s.name)
                            .to_string(),
                        runs_as: s.name.clone(),
                        schedule: spec.schedule.describe(),
                        state: backstop_api::ServiceState::Stopped,
                        pid: None,
                        running_since: None,
                        next_run: spec
                            .schedule
                            .next_after(SystemTime::now())
                            .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                        last_run: None,
                        last_success: None,
                        runs: 0,
                        failures: 0,
                        skipped: 0,
                        queued: false,
                        missed: false,
                    })
                })
                .collect()
        }
        Err(e) => return Err(client_error(config, e)),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&jobs).expect("UNWRAP: plain data serialises")
        );
        return Ok(());
    }
    if jobs.is_empty() {
        println!(
            "no jobs: add a `[jobs.NAME]` table with `command` and `schedule` (docs/recipes.md)"
        );
        return Ok(());
    }
    println!(
        "{:<16} {:<24} {:<10} {:<21} {:<32} NEXT RUN",
        "JOB", "SCHEDULE", "STATE", "LAST RUN", "RESULT"
    );
    for j in &jobs {
        let (last, result) = match &j.last_run {
            Some(r) => (
                r.started.clone(),
                format!(
                    "{} ({}, {})",
                    r.result.as_str(),
                    r.ended,
                    humantime::format_duration(Duration::from_millis(r.duration_ms))
                ),
            ),
            None => ("never".to_string(), "-".to_string()),
        };
        let mut result = result;
        if j.missed {
            result.push_str(" MISSED");
        }
        println!(
            "{:<16} {:<24} {:<10} {:<21} {:<32} {}",
            j.name,
            j.schedule,
            // Between runs its service is at rest: the last result says how it went.
            if j.state.is_active() || j.state == backstop_api::ServiceState::Pending {
                j.state.as_str()
            } else {
                "idle"
            },
            last,
            result,
            j.next_run.as_deref().unwrap_or("never")
        );
    }
    for j in jobs.iter().filter(|j| {
        j.last_run
            .as_ref()
            .is_some_and(|r| r.result == JobResult::Failed)
    }) {
        let r = j.last_run.as_ref().expect("UNWRAP: filtered");
        if !r.output.is_empty() {
            println!("\nlast output of {} (failed run):", j.name);
            for line in &r.output {
                println!("  {line}");
            }
        }
    }
    Ok(())
}

/// `backstop run-job NAME`: starts a run and, unless `no_wait`, waits for
/// it and exits 0 when it succeeded, 1 when it failed.
pub(crate) fn run(config: &Path, name: &str, no_wait: bool, json: bool) -> CmdResult {
    let loaded = load_config(config)?.config;
    let bare = name
        .strip_prefix(backstop_config::JOB_PREFIX)
        .unwrap_or(name);
    let runs_as = backstop_config::job_service_name(bare);
    if loaded.service(&runs_as).is_none() {
        let known: Vec<String> = loaded
            .jobs()
            .map(|s| {
                s.name
                    .trim_start_matches(backstop_config::JOB_PREFIX)
                    .to_string()
            })
            .collect();
        return Err(Exit::new(
            Code::Usage,
            if known.is_empty() {
                format!("no job `{bare}`: the config has no `[jobs.NAME]` tables")
            } else {
                format!("no job `{bare}`; the jobs are: {}", known.join(", "))
            },
        ));
    }
    let client = client(config);
    let outcome = super::runtime().block_on(async {
        let before = job_of(&client, &runs_as).await?;
        let _: ActionOutcome = client
            .post(&format!("/api/v1/services/{runs_as}/start"))
            .await?;
        if no_wait {
            return Ok(None);
        }
        let runs_before = before.as_ref().map_or(0, |j| j.runs);
        loop {
            tokio::time::sleep(POLL).await;
            let Some(now) = job_of(&client, &runs_as).await? else {
                return Ok(None);
            };
            let done = now.runs > runs_before
                && now.running_since.is_none()
                && !now.queued
                && now.last_run.is_some();
            if done {
                return Ok(Some(now));
            }
        }
    });
    let job = outcome.map_err(|e| client_error(config, e))?;
    let Some(job) = job else {
        if !json {
            println!("{runs_as}: run started (`backstop jobs` shows how it ends)");
        }
        return Ok(());
    };
    let run = job.last_run.expect("UNWRAP: waited for it");
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&run).expect("UNWRAP: plain data serialises")
        );
    } else {
        println!(
            "{runs_as}: {} in {} ({})",
            run.result.as_str(),
            humantime::format_duration(Duration::from_millis(run.duration_ms)),
            run.ended
        );
        for line in &run.output {
            println!("  {line}");
        }
    }
    match run.result {
        JobResult::Succeeded => Ok(()),
        JobResult::Failed => Err(Exit::new(Code::Failed, String::new())),
    }
}

async fn job_of(
    client: &backstop_api::Client,
    runs_as: &str,
) -> Result<Option<JobStatus>, ClientError> {
    let report: StatusReport = client.get("/api/v1/services").await?;
    Ok(report.jobs.into_iter().find(|j| j.runs_as == runs_as))
}
