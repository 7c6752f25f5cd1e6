//! Who holds a TCP port: /proc/net/tcp{,6} gives the listening socket's
//! inode, `/proc/<pid>/fd` gives the process that has it open.

use std::collections::HashSet;

use procfs::net::TcpState;

/// A process that listens on a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortHolder {
    /// Its pid.
    pub pid: i32,
    /// Its command line.
    pub cmdline: String,
}

impl std::fmt::Display for PortHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.cmdline.is_empty() {
            write!(f, "pid {}", self.pid)
        } else {
            write!(f, "pid {} ({})", self.pid, self.cmdline)
        }
    }
}

/// Inodes of sockets listening on `port` (any address, IPv4 or IPv6).
fn listening_inodes(port: u16) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for table in [procfs::net::tcp(), procfs::net::tcp6()]
        .into_iter()
        .flatten()
    {
        inodes.extend(
            table
                .iter()
                .filter(|e| e.state == TcpState::Listen && e.local_address.port() == port)
                .map(|e| e.inode),
        );
    }
    inodes.remove(&0);
    inodes
}

/// True when some socket listens on `port`.
pub fn is_listening(port: u16) -> bool {
    !listening_inodes(port).is_empty()
}

/// The processes that hold a listening socket on `port`.
///
/// Empty when the port is free. When the port is taken but no holder can be
/// seen (another user's process while not root, another network namespace),
/// the socket is reported with pid 0.
pub fn holders(port: u16) -> Vec<PortHolder> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    if let Ok(all) = procfs::process::all_processes() {
        for process in all.flatten() {
            let Ok(fds) = process.fd() else { continue };
            let holds = fds.flatten().any(|fd| {
                matches!(fd.target, procfs::process::FDTarget::Socket(inode) if inodes.contains(&inode))
            });
            if holds {
                found.push(PortHolder {
                    pid: process.pid,
                    cmdline: process.cmdline().map(|a| a.join(" ")).unwrap_or_default(),
                });
            }
        }
    }
    if found.is_empty() {
        found.push(PortHolder {
            pid: 0,
            cmdline: String::new(),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_process_as_holder() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(is_listening(port));
        let holders = holders(port);
        assert_eq!(holders.len(), 1);
        assert_eq!(holders[0].pid, std::process::id() as i32);
        drop(listener);
        assert!(holders_after_close(port));
    }

    fn holders_after_close(port: u16) -> bool {
        holders(port).is_empty()
    }
}
