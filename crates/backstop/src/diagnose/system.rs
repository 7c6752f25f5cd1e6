//! Facts about the machine: memory, load, disk space where the service
//! works and writes, and the kernel's OOM-killer lines when readable.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use backstop_config::{Config, ServiceConfig};

use super::bundle::{Bundle, Part};
use super::history;

/// Kernel log records read at most (the ring buffer is usually far smaller).
const KMSG_MAX_RECORDS: usize = 100_000;

/// `MemTotal`, `MemAvailable`, `SwapTotal`, `SwapFree` from /proc/meminfo, as lines.
pub(crate) fn memory() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .filter(|l| {
            ["MemTotal:", "MemAvailable:", "SwapTotal:", "SwapFree:"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// `/proc/loadavg` and the number of CPUs.
pub(crate) fn load() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("load average: {} ({cpus} CPUs)", load.trim())
}

/// Full for a writer: under 1 MB or 0.5% left, or no inode left.
fn is_full(u: &backstop_probe::DiskUsage) -> bool {
    u.total_bytes > 0
        && (u.free_bytes < 1_000_000 || u.used_pct >= 99.5 || u.inodes_used_pct >= 99.9)
}

/// Space of the filesystem holding `path` (the nearest existing ancestor).
fn space(path: &Path) -> Option<backstop_probe::DiskUsage> {
    backstop_probe::disk_usage(path.ancestors().find(|p| p.exists())?).ok()
}

/// The absolute paths among `env`'s values (each of a list,
/// `CONFIG_LAYERS=/etc/a.yaml:/srv/b.yaml`) whose filesystem has no space
/// left (what a write failing without an errno meant). `statvfs` may hang
/// on a dead network mount: it runs on a blocking thread, bounded to 2 s.
pub(crate) async fn full_paths(env: &[(String, String)]) -> Vec<String> {
    let mut paths: Vec<String> = env
        .iter()
        .flat_map(|(_, v)| absolute_paths(v))
        .map(str::to_string)
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths.truncate(64);
    if paths.is_empty() {
        return Vec::new();
    }
    let measured = tokio::task::spawn_blocking(move || {
        paths
            .into_iter()
            .filter(|p| space(Path::new(p)).is_some_and(|u| is_full(&u)))
            .collect::<Vec<_>>()
    });
    tokio::time::timeout(std::time::Duration::from_secs(2), measured)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
}

/// The absolute paths a value holds: itself, or every item of a list
/// separated by `:` or `,` when each is one (not a URL, not `host:port`).
fn absolute_paths(value: &str) -> Vec<&str> {
    let items: Vec<&str> = value.trim().split([':', ',']).map(str::trim).collect();
    if items.iter().all(|p| p.starts_with('/') && !p.contains(' ')) {
        items
    } else {
        Vec::new()
    }
}

/// The kernel's OOM-killer lines, from /dev/kmsg without blocking.
/// `Err` says why they cannot be read (not root, a container).
pub(crate) fn oom_lines() -> Result<Vec<String>, String> {
    let mut kmsg = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .map_err(|e| format!("the kernel log is not readable: {e}"))?;
    let mut found = Vec::new();
    let mut record = vec![0u8; 8192];
    for _ in 0..KMSG_MAX_RECORDS {
        // One record per read; EAGAIN at the end, EPIPE when one was overwritten.
        match kmsg.read(&mut record) {
            Ok(0) => break,
            Ok(n) => {
                let text = String::from_utf8_lossy(&record[..n]);
                let message = text.split_once(';').map_or(&*text, |(_, m)| m);
                let message = message.lines().next().unwrap_or("");
                let lower = message.to_ascii_lowercase();
                if lower.contains("out of memory")
                    || lower.contains("oom-kill")
                    || lower.contains("killed process")
                {
                    found.push(message.to_string());
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(format!("reading the kernel log failed: {e}")),
        }
    }
    Ok(found)
}

/// `11-system.txt`; a full filesystem and an OOM kill of the service are evidence.
pub(super) fn system_part(
    b: &mut Bundle,
    config: &Config,
    service: &ServiceConfig,
    view: &history::View,
) {
    let p = Part::System;
    b.line(p, load());
    for l in memory() {
        b.line(p, l);
    }
    b.line(p, "");
    let mut seen = BTreeSet::new();
    for (what, path) in [
        ("working directory", &service.dir),
        ("state directory", &config.daemon.state_dir),
    ] {
        let Some(space) = space(path) else {
            b.line(p, format!("{what} {}: cannot stat", path.display()));
            continue;
        };
        if !seen.insert(path.clone()) {
            continue;
        }
        let line = format!(
            "{what} {}: {:.1}% of {} used, {} free, {:.1}% of inodes used",
            path.display(),
            space.used_pct,
            crate::render::bytes(space.total_bytes),
            crate::render::bytes(space.free_bytes),
            space.inodes_used_pct
        );
        if is_full(&space) {
            let text = format!(
                "filesystem of {} is full: {:.1}% used, {} free",
                path.display(),
                space.used_pct,
                crate::render::bytes(space.free_bytes)
            );
            b.evidence(p, None, &line, &text);
        } else {
            b.line(p, line);
        }
    }
    b.line(p, "");
    // The pids this service had: an OOM kill of one of them is evidence.
    let pids: BTreeSet<String> = view
        .events
        .iter()
        .filter(|e| e.kind == backstop_api::EventKind::Exited)
        .filter_map(|e| {
            e.message
                .split("pid ")
                .nth(1)?
                .split(' ')
                .next()
                .map(str::to_string)
        })
        .collect();
    match oom_lines() {
        Ok(lines) if lines.is_empty() => b.line(p, "kernel log: no OOM-killer lines"),
        Ok(lines) => {
            b.line(p, "kernel OOM-killer lines:");
            for l in lines {
                let ours = pids.iter().any(|pid| {
                    l.contains(&format!("process {pid} "))
                        || l.contains(&format!("pid={pid},"))
                        || l.contains(&format!("pid={pid} "))
                });
                if ours {
                    b.evidence(p, None, &format!("  {l}"), &l);
                } else {
                    b.line(p, format!("  {l}"));
                }
            }
        }
        Err(why) => b.line(p, format!("kernel log: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::absolute_paths;

    #[test]
    fn a_list_of_paths_is_read_item_by_item() {
        assert_eq!(absolute_paths("/var/log/app"), ["/var/log/app"]);
        assert_eq!(
            absolute_paths("/etc/base.yaml:/srv/prod.yaml"),
            ["/etc/base.yaml", "/srv/prod.yaml"]
        );
        assert!(absolute_paths("redis://cache:6379/0").is_empty());
        assert!(absolute_paths("/srv/a, relative/b").is_empty());
        assert!(absolute_paths("my app").is_empty());
    }
}
