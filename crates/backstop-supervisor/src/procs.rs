//! Reading the process table from /proc.
//!
//! The supervisor needs three facts the kernel does not push to it: which
//! processes belong to a service (its process group, the descendants of its
//! main process, and orphans that moved out of both), how much memory they
//! use, and whether a recorded pid is still the process it was (pids are
//! reused; the start time in `/proc/<pid>/stat` tells them apart).

use std::collections::{HashMap, HashSet};

/// The facts about one process that supervision needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    /// Process id.
    pub pid: i32,
    /// Parent process id.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// Start time in clock ticks since boot: with the pid, a unique identity.
    pub start_time: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
    /// CPU time used so far (user + system), in clock ticks.
    pub cpu_ticks: u64,
    /// Already dead, waiting to be reaped.
    pub zombie: bool,
}

fn info(process: &procfs::process::Process) -> Option<ProcInfo> {
    let stat = process.stat().ok()?;
    Some(ProcInfo {
        pid: stat.pid,
        ppid: stat.ppid,
        pgrp: stat.pgrp,
        session: stat.session,
        start_time: stat.starttime,
        rss_pages: stat.rss,
        cpu_ticks: stat.utime + stat.stime,
        zombie: stat.state == 'Z' || stat.state == 'X',
    })
}

/// Every process visible now. Processes that vanish while being read are skipped.
pub fn snapshot() -> Vec<ProcInfo> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(Result::ok)
        .filter_map(|p| info(&p))
        .collect()
}

/// The facts about one pid, if it exists.
pub fn lookup(pid: i32) -> Option<ProcInfo> {
    procfs::process::Process::new(pid)
        .ok()
        .and_then(|p| info(&p))
}

/// The command line of `pid`, joined with spaces (empty if unreadable).
pub fn cmdline(pid: i32) -> String {
    procfs::process::Process::new(pid)
        .and_then(|p| p.cmdline())
        .map(|args| args.join(" "))
        .unwrap_or_default()
}

/// The value of environment variable `key` in `pid`, if readable.
pub fn environ_var(pid: i32, key: &str) -> Option<String> {
    let env = procfs::process::Process::new(pid).ok()?.environ().ok()?;
    env.get(std::ffi::OsStr::new(key))
        .map(|v| v.to_string_lossy().into_owned())
}

/// The whole environment of `pid` (`None` when it is gone or not ours to read).
pub fn environ(pid: i32) -> Option<std::collections::BTreeMap<String, String>> {
    let env = procfs::process::Process::new(pid).ok()?.environ().ok()?;
    Some(
        env.into_iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect(),
    )
}

/// The pids whose parent is this process (any of its threads).
///
/// As a child subreaper, backstop becomes the parent of every orphan of its
/// services; this is how they are found without scanning all of /proc.
pub fn own_children() -> Vec<i32> {
    children(std::process::id() as i32)
}

/// The children of `pid` (of any of its threads), from
/// `/proc/<pid>/task/<tid>/children`: no scan of the whole process table.
pub fn children(pid: i32) -> Vec<i32> {
    let mut children = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return children;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            children.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    children
}

/// The live processes of the trees under `roots` (the roots included),
/// found by walking down from them: the cost grows with the trees, not
/// with the number of processes on the host.
pub fn tree(roots: &[i32]) -> Vec<ProcInfo> {
    let mut seen: HashSet<i32> = HashSet::new();
    let mut out = Vec::new();
    let mut todo: Vec<i32> = roots.to_vec();
    while let Some(pid) = todo.pop() {
        if !seen.insert(pid) {
            continue;
        }
        let Some(info) = lookup(pid) else { continue };
        if !info.zombie {
            out.push(info);
        }
        todo.extend(children(pid));
    }
    out
}

/// Clock ticks per second (`CLK_TCK`), the unit of [`ProcInfo::cpu_ticks`].
pub fn ticks_per_second() -> u64 {
    procfs::ticks_per_second()
}

/// Page size in bytes.
pub fn page_size() -> u64 {
    procfs::page_size()
}

/// Live (non-zombie) processes in `roots`' trees or in process group `pgid`.
///
/// `roots` are pids whose descendants belong to the service (its main
/// process, its orphans); a process group catches members whose parent
/// already died.
pub fn members(table: &[ProcInfo], roots: &[i32], pgid: Option<i32>) -> Vec<ProcInfo> {
    let mut children: HashMap<i32, Vec<usize>> = HashMap::new();
    for (i, p) in table.iter().enumerate() {
        children.entry(p.ppid).or_default().push(i);
    }
    let mut seen: HashSet<i32> = HashSet::new();
    let mut out = Vec::new();
    let mut todo: Vec<i32> = roots.to_vec();
    if let Some(pgid) = pgid {
        todo.extend(table.iter().filter(|p| p.pgrp == pgid).map(|p| p.pid));
    }
    let by_pid: HashMap<i32, usize> = table.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
    while let Some(pid) = todo.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Some(&i) = by_pid.get(&pid) {
            if !table[i].zombie {
                out.push(table[i]);
            }
            if let Some(kids) = children.get(&pid) {
                todo.extend(kids.iter().map(|&k| table[k].pid));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, pgrp: i32) -> ProcInfo {
        ProcInfo {
            pid,
            ppid,
            pgrp,
            session: pgrp,
            start_time: 0,
            rss_pages: 1,
            cpu_ticks: 0,
            zombie: false,
        }
    }

    #[test]
    fn members_follow_tree_and_group() {
        let table = vec![
            p(1, 0, 1),
            p(10, 1, 10),  // main
            p(11, 10, 10), // worker
            p(12, 10, 12), // setsid child
            p(13, 12, 12), // its child
            p(20, 1, 10),  // orphan still in the group
            p(30, 1, 30),  // unrelated
        ];
        let mut pids: Vec<i32> = members(&table, &[10], Some(10))
            .iter()
            .map(|p| p.pid)
            .collect();
        pids.sort_unstable();
        assert_eq!(pids, vec![10, 11, 12, 13, 20]);
    }

    #[test]
    fn zombies_are_not_members() {
        let mut z = p(11, 10, 10);
        z.zombie = true;
        let table = vec![p(10, 1, 10), z];
        assert_eq!(members(&table, &[10], Some(10)).len(), 1);
    }

    #[test]
    fn the_tree_of_a_real_process_holds_its_descendants_only() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 1000 & sleep 1000 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let shell = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let found = loop {
            let found = tree(&[shell]);
            if found.len() == 3 || std::time::Instant::now() > deadline {
                break found;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(shell),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found.iter().filter(|p| p.ppid == shell).count(), 2);
        assert!(tree(&[i32::MAX]).is_empty());
    }

    #[test]
    fn reads_this_process() {
        let me = lookup(std::process::id() as i32).expect("own /proc entry");
        assert_eq!(me.pid, std::process::id() as i32);
        assert!(me.start_time > 0);
        assert!(!cmdline(me.pid).is_empty());
    }
}
