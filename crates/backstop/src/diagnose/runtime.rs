//! What runs now: the service's state (`02-status.txt`), its process tree
//! (`03-processes.txt`) and who holds its port (`04-ports.txt`).

use std::collections::BTreeSet;

use backstop_config::{Config, ServiceConfig};
use backstop_supervisor::rules::port::Kinship;
use backstop_supervisor::{ports, procs, state_file::StateFile};

use super::bundle::{Bundle, Part};
use super::history;

/// `02-status.txt`: the state, live from the daemon or as last recorded;
/// a fault state's detail is evidence.
pub(super) fn status(b: &mut Bundle, service: &ServiceConfig, view: &history::View) {
    let p = Part::Status;
    b.line(p, format!("service: {}", service.name));
    if let Some(s) = &view.live {
        b.line(p, format!("state: {} (from the running daemon)", s.state));
        b.line(p, format!("health: {}", s.health.as_str()));
        if let Some(pid) = s.pid {
            b.line(p, format!("pid: {pid}"));
        }
        if let Some(up) = s.uptime_s {
            b.line(p, format!("uptime: {}", crate::render::duration(up)));
        }
        b.line(p, format!("restarts: {}", s.restarts));
        if let Some(e) = &s.last_exit {
            b.line(
                p,
                format!(
                    "last exit: {} at {} after {:.1}s",
                    e.describe(),
                    e.at,
                    e.uptime_s
                ),
            );
        }
        if let Some(rss) = s.rss_bytes {
            b.line(p, format!("memory (tree): {}", crate::render::bytes(rss)));
        }
        let o = &s.output;
        b.line(
            p,
            format!(
                "output: {} lines, {} errors ({} in the last minute)",
                o.lines, o.errors, o.errors_last_minute
            ),
        );
        if let Some(e) = &o.last_error {
            b.line(p, format!("last error at {}: {}", e.at, e.line));
        }
    } else {
        b.line(
            p,
            "daemon: not running (this is what events.db last recorded)",
        );
        b.line(
            p,
            format!(
                "state: {}{}",
                view.state,
                view.recorded_at
                    .as_ref()
                    .map_or(String::new(), |a| format!(" (recorded {a})"))
            ),
        );
    }
    if let Some(d) = &view.detail {
        let shown = format!("detail: {d}");
        // Why it failed to start is evidence; a crash loop's detail is
        // backstop's own summary of the restarts, not the service's words.
        if history::is_fault(&view.state) && view.state != "crash-loop" {
            b.evidence(p, None, &shown, d);
        } else {
            b.line(p, shown);
        }
    }
}

/// The main process and its tree; returns the main pid and the tree's pids.
pub(super) fn processes(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    view: &history::View,
) -> (Option<i32>, BTreeSet<i32>) {
    let p = Part::Processes;
    let recorded = StateFile::load(&config.daemon.state_dir.join("state.json"));
    let main = view
        .live
        .as_ref()
        .and_then(|s| s.pid.map(|pid| (pid as i32, pid as i32)))
        .or_else(|| {
            recorded
                .services
                .get(&service.name)
                .filter(|r| {
                    procs::lookup(r.pid).is_some_and(|i| i.start_time == r.start_time && !i.zombie)
                })
                .map(|r| (r.pid, r.pgid))
        });
    let Some((pid, pgid)) = main else {
        b.line(p, "no process of this service is running");
        return (None, BTreeSet::new());
    };
    let table = procs::snapshot();
    let members = procs::members(&table, &[pid], Some(pgid));
    let ticks = procs::ticks_per_second().max(1) as f64;
    let page = procs::page_size();
    b.line(
        p,
        format!(
            "{:>8} {:>8} {:>10} {:>9}  COMMAND",
            "PID", "PPID", "RSS", "CPU"
        ),
    );
    for m in &members {
        let cmdline = procs::cmdline(m.pid);
        learn_cmdline(b, &cmdline);
        b.line(
            p,
            format!(
                "{:>8} {:>8} {:>10} {:>8.1}s  {cmdline}",
                m.pid,
                m.ppid,
                crate::render::bytes(m.rss_pages * page),
                m.cpu_ticks as f64 / ticks,
            ),
        );
    }
    let total: u64 = members.iter().map(|m| m.rss_pages * page).sum();
    b.line(
        p,
        format!(
            "{} processes, {} resident in all",
            members.len(),
            crate::render::bytes(total)
        ),
    );
    (Some(pid), members.iter().map(|m| m.pid).collect())
}

/// `04-ports.txt`: who holds the declared port; a stale instance or a
/// stranger holding it is evidence.
pub(super) fn ports_part(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    view: &history::View,
    members: &BTreeSet<i32>,
) {
    let p = Part::Ports;
    let Some(port) = service.port else {
        b.line(
            p,
            "the service declares no `port` (declare it to have it checked before each start); a port named by an \"address already in use\" error is looked up in the verdict",
        );
        return;
    };
    let holders = ports::holders(port);
    if holders.is_empty() {
        b.line(p, format!("port {port}: free (nothing listens on it)"));
        return;
    }
    for h in holders {
        learn_cmdline(b, &h.cmdline);
        let kin = backstop_supervisor::leftovers::kinship(h.pid, service, &config.daemon.state_dir);
        let ours = members.contains(&h.pid) || kin == Kinship::Leftover;
        if ours && view.live.as_ref().is_some_and(|s| s.state.is_active()) {
            b.line(p, format!("port {port}: held by the service itself, {h}"));
        } else if ours {
            let text = format!(
                "port {port} is already in use by {h}, a stale instance of service `{}`",
                service.name
            );
            b.evidence(p, None, &text, &text);
        } else if let Kinship::HandStarted { root } = kin {
            let text = format!(
                "port {port} is already in use by {h}: the command of service `{}` (pid {root}), started outside backstop",
                service.name
            );
            b.evidence(p, None, &text, &text);
        } else {
            let text = if h.pid == 0 {
                format!(
                    "port {port} is already in use by a process backstop cannot see (another user or network namespace)"
                )
            } else {
                format!(
                    "port {port} is already in use by {h}, which is not part of service `{}`",
                    service.name
                )
            };
            b.evidence(p, None, &text, &text);
        }
    }
}

/// A process's own secret flags (`--password X`) are masked wherever they appear.
fn learn_cmdline(b: &mut Bundle, cmdline: &str) {
    let words: Vec<String> = cmdline.split_whitespace().map(str::to_string).collect();
    b.redactor.learn_command(&words);
}
