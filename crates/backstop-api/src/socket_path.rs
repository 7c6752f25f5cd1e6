//! Unix socket addresses of any length.
//!
//! A unix socket address holds at most 107 bytes of path (`sun_path`), so a
//! project checked out deep in a home directory could not have its control
//! socket at `.backstop/backstop.sock`. A longer path is reached through
//! the directory instead: its parent is opened (`O_PATH`) and the socket is
//! bound or connected as `/proc/self/fd/<fd>/backstop.sock`, which the
//! kernel resolves like any path. The socket file is where it always is;
//! only the address used to reach it is short.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The longest path a `sockaddr_un` holds (its 108 bytes, less the NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// An address that reaches the socket at a path, and what keeps it valid.
#[derive(Debug)]
pub struct SocketAddress {
    /// What to bind or connect to.
    pub path: PathBuf,
    /// The open directory a long path goes through; valid while held.
    _dir: Option<OwnedFd>,
}

/// The address of the socket file at `path`, however long `path` is.
pub fn address(path: &Path) -> std::io::Result<SocketAddress> {
    if path.as_os_str().len() <= MAX_SOCKET_PATH {
        return Ok(SocketAddress {
            path: path.to_path_buf(),
            _dir: None,
        });
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a socket path names a file",
        )
    })?;
    let dir = nix::fcntl::open(
        parent.unwrap_or(Path::new(".")),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let short = Path::new("/proc/self/fd")
        .join(dir.as_raw_fd().to_string())
        .join(name);
    Ok(SocketAddress {
        path: short,
        _dir: Some(dir),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_deeper_than_a_sockaddr_holds_binds_and_connects() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("backstop.sock");
        assert!(path.as_os_str().len() > MAX_SOCKET_PATH);
        let at = address(&path).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(&at.path).unwrap();
        assert!(path.exists(), "the socket file is where it belongs");
        let to = address(&path).unwrap();
        std::os::unix::net::UnixStream::connect(&to.path).unwrap();
        drop(listener);
        let short = root.path().join("s.sock");
        assert_eq!(address(&short).unwrap().path, short);
    }
}
