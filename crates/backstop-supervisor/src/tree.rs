//! Signalling a service's whole process tree, and stopping processes that
//! are not backstop's children (leftovers of a previous daemon, a stale
//! instance holding a port).

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::time::Instant;

use crate::procs::{self, ProcInfo};

/// How often a stop of foreign processes checks whether they are gone.
/// Only used where no SIGCHLD can tell us (the processes are not ours).
const FOREIGN_POLL: Duration = Duration::from_millis(20);

fn send(pid: i32, signal: i32) {
    if let Ok(sig) = Signal::try_from(signal) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// True when process group `pgid` still has a member (zombies included).
pub fn group_alive(pgid: i32) -> bool {
    kill(Pid::from_raw(-pgid), None) != Err(Errno::ESRCH)
}

/// Sends `signal` to process group `pgid` and to every live member of the
/// tree (descendants of `roots` that left the group included).
pub fn signal_all(table: &[ProcInfo], roots: &[i32], pgid: Option<i32>, signal: i32) {
    if let (Some(pgid), Ok(sig)) = (pgid, Signal::try_from(signal)) {
        let _ = kill(Pid::from_raw(-pgid), sig);
    }
    for p in procs::members(table, roots, pgid) {
        if Some(p.pgrp) != pgid {
            send(p.pid, signal);
        }
    }
}

/// Sends `signal` to one process.
pub fn signal_one(pid: i32, signal: i32) {
    send(pid, signal);
}

/// Stops processes that backstop cannot reap: the stop signal to their
/// groups and trees, a wait of up to `timeout`, then `SIGKILL` and up to 5 s
/// more. Returns the pids still alive at the end (normally none).
pub async fn stop_foreign(
    roots: Vec<i32>,
    groups: Vec<i32>,
    signal: i32,
    timeout: Duration,
) -> Vec<i32> {
    let alive = |roots: &[i32], groups: &[i32]| -> Vec<ProcInfo> {
        let table = procs::snapshot();
        let mut all: Vec<ProcInfo> = Vec::new();
        for g in groups {
            all.extend(procs::members(&table, roots, Some(*g)));
        }
        if groups.is_empty() {
            all.extend(procs::members(&table, roots, None));
        }
        all.sort_by_key(|p| p.pid);
        all.dedup_by_key(|p| p.pid);
        all
    };
    for (sig, wait) in [(signal, timeout), (libc::SIGKILL, Duration::from_secs(5))] {
        let members = alive(&roots, &groups);
        if members.is_empty() {
            return Vec::new();
        }
        for g in &groups {
            if let Ok(s) = Signal::try_from(sig) {
                let _ = kill(Pid::from_raw(-*g), s);
            }
        }
        for p in &members {
            send(p.pid, sig);
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if alive(&roots, &groups).is_empty() {
                return Vec::new();
            }
            tokio::time::sleep(FOREIGN_POLL).await;
        }
    }
    alive(&roots, &groups).iter().map(|p| p.pid).collect()
}
