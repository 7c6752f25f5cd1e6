//! Signalling a service's whole process tree, and stopping processes that
//! are not backstop's children (leftovers of a previous daemon, a stale
//! instance holding a port).

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::HashMap;

use tokio::time::Instant;

use crate::procs;

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

/// Sends `signal` to process group `pgid` (one backstop created: the
/// service's) and to every live process of the trees under `roots` that
/// left the group.
pub fn signal_all(roots: &[i32], pgid: Option<i32>, signal: i32) {
    // The tree is read before anything is signalled: a parent that dies of
    // the signal hands its children to backstop, and the walk from it would
    // no longer find them.
    let members = procs::tree(roots);
    if let (Some(pgid), Ok(sig)) = (pgid, Signal::try_from(signal)) {
        let _ = kill(Pid::from_raw(-pgid), sig);
    }
    for p in members {
        if Some(p.pgrp) != pgid {
            send(p.pid, signal);
        }
    }
}

/// Sends `signal` to one process.
pub fn signal_one(pid: i32, signal: i32) {
    send(pid, signal);
}

/// Stops processes that backstop cannot reap: the stop signal to `roots`
/// and everything below them, a wait of up to `timeout`, then `SIGKILL` and
/// up to 5 s more. Returns the pids still alive at the end (normally none).
///
/// `groups` are process groups backstop itself created (a recorded main
/// process that is still the process it was): only those are signalled as
/// a whole. A process recognised otherwise (by its environment, by the port
/// it holds) may share its group with whatever started it, a shell or a
/// tmux server, so it and its descendants are signalled one by one.
///
/// Processes are followed by identity (pid and start time), and every
/// descendant seen once stays followed when its parent dies first (its
/// workers, reparented elsewhere). Each look walks these trees only,
/// never the whole process table.
pub async fn stop_foreign(
    roots: Vec<i32>,
    groups: Vec<i32>,
    signal: i32,
    timeout: Duration,
) -> Vec<i32> {
    let mut known: HashMap<i32, u64> = roots
        .iter()
        .filter_map(|&pid| procs::lookup(pid).map(|p| (pid, p.start_time)))
        .collect();
    let groups = std::sync::Arc::new(groups);
    for (sig, wait) in [(signal, timeout), (libc::SIGKILL, Duration::from_secs(5))] {
        let (members, groups_left) = look(&mut known, &groups).await;
        if members.is_empty() && groups_left.is_empty() {
            return Vec::new();
        }
        for g in &groups_left {
            if let Ok(s) = Signal::try_from(sig) {
                let _ = kill(Pid::from_raw(-*g), s);
            }
        }
        for p in &members {
            send(*p, sig);
        }
        let deadline = Instant::now() + wait;
        loop {
            let (members, groups_left) = look(&mut known, &groups).await;
            if members.is_empty() && groups_left.is_empty() {
                return Vec::new();
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(FOREIGN_POLL).await;
        }
    }
    let (mut members, groups_left) = look(&mut known, &groups).await;
    // A group with members none of the followed processes explains is
    // reported by its id (the pid its leader had).
    members.extend(groups_left);
    members.sort_unstable();
    members.dedup();
    members
}

/// [`alive`], on a blocking thread: reading /proc can be slow on a loaded host.
async fn look(
    known: &mut HashMap<i32, u64>,
    groups: &std::sync::Arc<Vec<i32>>,
) -> (Vec<i32>, Vec<i32>) {
    let (mut mine, shared) = (known.clone(), groups.clone());
    let looked = tokio::task::spawn_blocking(move || {
        let found = alive(&mut mine, &shared);
        (mine, found)
    })
    .await;
    match looked {
        Ok((mine, found)) => {
            *known = mine;
            found
        }
        // Not run (the runtime is shutting down): assume nothing ended.
        Err(_) => (known.keys().copied().collect(), groups.to_vec()),
    }
}

/// The followed processes still alive (updating what is followed: new
/// descendants join, the dead leave), and the `groups` with members left.
fn alive(known: &mut HashMap<i32, u64>, groups: &[i32]) -> (Vec<i32>, Vec<i32>) {
    let live_roots: Vec<i32> = known
        .iter()
        .filter(|&(&pid, &start)| {
            procs::lookup(pid).is_some_and(|p| p.start_time == start && !p.zombie)
        })
        .map(|(&pid, _)| pid)
        .collect();
    let found = procs::tree(&live_roots);
    known.clear();
    for p in &found {
        known.insert(p.pid, p.start_time);
    }
    let members: Vec<i32> = found.iter().map(|p| p.pid).collect();
    let groups_left: Vec<i32> = groups.iter().copied().filter(|&g| group_alive(g)).collect();
    (members, groups_left)
}
