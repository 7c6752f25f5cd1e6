//! errno: the one vocabulary every runtime shares. A failure says
//! `ECONNREFUSED`, `[Errno 111]`, `errno: -111`, `os error 111` or
//! "Connection refused" depending on who prints it; each is the same fault.

use std::sync::LazyLock;

use regex::Regex;

/// The faults of the table, by their errno name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    /// EADDRINUSE (98).
    AddrInUse,
    /// ECONNREFUSED (111).
    ConnRefused,
    /// ETIMEDOUT (110), or a client's own connect timeout.
    TimedOut,
    /// ECONNRESET (104), EPIPE.
    ConnReset,
    /// EHOSTUNREACH (113), ENETUNREACH (101).
    Unreachable,
    /// A name that does not resolve: ENOTFOUND, EAI_NONAME, EAI_AGAIN (-2, -3).
    NoSuchHost,
    /// EACCES (13), EPERM (1).
    Access,
    /// ENOENT (2).
    NoEntry,
    /// EMFILE (24), ENFILE (23).
    TooManyFiles,
    /// EAGAIN (11) on fork or thread creation.
    NoProcesses,
    /// ENOSPC (28), EDQUOT.
    NoSpace,
    /// ENOMEM (12).
    NoMemory,
}

impl Errno {
    /// The name to show.
    pub fn name(self) -> &'static str {
        match self {
            Self::AddrInUse => "EADDRINUSE",
            Self::ConnRefused => "ECONNREFUSED",
            Self::TimedOut => "ETIMEDOUT",
            Self::ConnReset => "ECONNRESET",
            Self::Unreachable => "EHOSTUNREACH",
            Self::NoSuchHost => "ENOTFOUND",
            Self::Access => "EACCES",
            Self::NoEntry => "ENOENT",
            Self::TooManyFiles => "EMFILE",
            Self::NoProcesses => "EAGAIN",
            Self::NoSpace => "ENOSPC",
            Self::NoMemory => "ENOMEM",
        }
    }

    fn of_name(name: &str) -> Option<Self> {
        Some(match name {
            "EADDRINUSE" => Self::AddrInUse,
            "ECONNREFUSED" => Self::ConnRefused,
            "ETIMEDOUT" | "ESOCKETTIMEDOUT" | "ECONNABORTED" => Self::TimedOut,
            "ECONNRESET" | "EPIPE" => Self::ConnReset,
            "EHOSTUNREACH" | "ENETUNREACH" | "EHOSTDOWN" => Self::Unreachable,
            "ENOTFOUND" | "EAI_NONAME" | "EAI_AGAIN" | "EAI_FAIL" | "EAI_NODATA" => {
                Self::NoSuchHost
            }
            "EACCES" | "EPERM" => Self::Access,
            "ENOENT" => Self::NoEntry,
            "EMFILE" | "ENFILE" => Self::TooManyFiles,
            "ENOSPC" | "EDQUOT" => Self::NoSpace,
            "ENOMEM" => Self::NoMemory,
            _ => return None,
        })
    }

    /// The fault of errno number `n` (its sign ignored), if the table has it.
    pub fn of_number(n: i64) -> Option<Self> {
        Some(match n.abs() {
            98 => Self::AddrInUse,
            111 => Self::ConnRefused,
            110 => Self::TimedOut,
            104 | 32 => Self::ConnReset,
            113 | 101 => Self::Unreachable,
            13 | 1 => Self::Access,
            24 | 23 => Self::TooManyFiles,
            28 | 122 => Self::NoSpace,
            12 => Self::NoMemory,
            _ => return None,
        })
    }
}

/// The phrasings of libc's `strerror` and of the resolvers, and what they are.
const PHRASES: &[(&str, Errno)] = &[
    ("address already in use", Errno::AddrInUse),
    ("address in use", Errno::AddrInUse),
    ("port is already in use", Errno::AddrInUse),
    // EventMachine: `no acceptor (port is in use or requires root privileges)`.
    ("port is in use", Errno::AddrInUse),
    ("connection in use", Errno::AddrInUse),
    ("not free on", Errno::AddrInUse),
    ("port is already bound", Errno::AddrInUse),
    ("is already bound", Errno::AddrInUse),
    ("is in use by another program", Errno::AddrInUse),
    ("connection refused", Errno::ConnRefused),
    ("connect call failed", Errno::ConnRefused),
    ("connection timed out", Errno::TimedOut),
    ("timed out", Errno::TimedOut),
    ("timeout expired", Errno::TimedOut),
    ("i/o timeout", Errno::TimedOut),
    ("deadline exceeded", Errno::TimedOut),
    ("timeout exceeded", Errno::TimedOut),
    // Excon, Faraday: `read timeout reached` (its cause, a non-blocking
    // read's EAGAIN, is no process limit).
    ("timeout reached", Errno::TimedOut),
    // A device or peer that took the connection and never acknowledged
    // (`no ack from printer within 3000ms`).
    ("no ack", Errno::TimedOut),
    // timeout(1)'s status: the command it ran did not end in time.
    ("status 124", Errno::TimedOut),
    ("exit code 124", Errno::TimedOut),
    ("connection reset", Errno::ConnReset),
    // httpx/h11: the server closed the connection instead of answering.
    ("disconnected without sending", Errno::ConnReset),
    ("broken pipe", Errno::ConnReset),
    ("no route to host", Errno::Unreachable),
    ("network is unreachable", Errno::Unreachable),
    ("name or service not known", Errno::NoSuchHost),
    ("temporary failure in name resolution", Errno::NoSuchHost),
    ("nodename nor servname provided", Errno::NoSuchHost),
    ("no such host", Errno::NoSuchHost),
    ("could not translate host name", Errno::NoSuchHost),
    ("unknownhostexception", Errno::NoSuchHost),
    ("getaddrinfo", Errno::NoSuchHost),
    ("name does not resolve", Errno::NoSuchHost),
    // Ruby's Resolv (`no address for smtp.corp.invalid`); a program's own
    // `config.example.invalid unresolvable`.
    ("no address for", Errno::NoSuchHost),
    ("unresolvable", Errno::NoSuchHost),
    // libcurl's CURLE_COULDNT_RESOLVE_HOST (6), in PHP's curl, pycurl, curl(1).
    ("could not resolve host", Errno::NoSuchHost),
    ("couldn't resolve host", Errno::NoSuchHost),
    ("no address associated with hostname", Errno::NoSuchHost),
    // IO::Socket::INET's resolver failure (Perl).
    ("bad hostname", Errno::NoSuchHost),
    ("permission denied", Errno::Access),
    ("operation not permitted", Errno::Access),
    ("too many open files", Errno::TooManyFiles),
    ("resource temporarily unavailable", Errno::NoProcesses),
    ("cannot fork", Errno::NoProcesses),
    ("unable to create native thread", Errno::NoProcesses),
    ("unable to create new native thread", Errno::NoProcesses),
    ("can't start new thread", Errno::NoProcesses),
    ("can't create new thread", Errno::NoProcesses),
    ("failed to create new os thread", Errno::NoProcesses),
    ("newosproc", Errno::NoProcesses),
    ("no space left on device", Errno::NoSpace),
    ("disk is full", Errno::NoSpace),
    ("disk full", Errno::NoSpace),
    ("disk quota exceeded", Errno::NoSpace),
    // tar's short write: the device took part of a block.
    ("wrote only", Errno::NoSpace),
    ("cannot allocate memory", Errno::NoMemory),
    ("no such file or directory", Errno::NoEntry),
];

static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(E[A-Z]{2,}|EAI_[A-Z]+)\b").expect("UNWRAP: a constant pattern")
});
static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\[Errno (-?\d+)\]|os error (-?\d+)|errno:? ?(-?\d+)|Error (-?\d+) connecting")
        .expect("UNWRAP: a constant pattern")
});

/// The errno `text` names, by name, by number or by its words; the most
/// specific form wins.
pub fn find(text: &str) -> Option<Errno> {
    if let Some(e) = NAMED
        .captures_iter(text)
        .find_map(|c| Errno::of_name(&c[1]))
    {
        return Some(e);
    }
    if let Some(e) = NUMBERED.captures_iter(text).find_map(|c| {
        (1..=4)
            .find_map(|g| c.get(g))
            .and_then(|m| m.as_str().parse().ok())
            .and_then(Errno::of_number)
    }) {
        return Some(e);
    }
    let lower = text.to_ascii_lowercase();
    PHRASES
        .iter()
        .find(|(p, _)| lower.contains(p))
        .map(|(_, e)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fault_many_phrasings() {
        for text in [
            "connect ECONNREFUSED 127.0.0.1:5432",
            "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 5432)",
            "dial tcp 127.0.0.1:6390: connect: connection refused",
            "Connection refused (os error 111)",
            "Error 111 connecting to localhost:6379. Connection refused.",
        ] {
            assert_eq!(find(text), Some(Errno::ConnRefused), "{text}");
        }
        assert_eq!(
            find("getaddrinfo ENOTFOUND orders-db.invalid"),
            Some(Errno::NoSuchHost)
        );
        assert_eq!(
            find("socket.gaierror: [Errno -2] Name or service not known"),
            Some(Errno::NoSuchHost)
        );
        assert_eq!(
            find("OSError: [Errno 24] Too many open files"),
            Some(Errno::TooManyFiles)
        );
        assert_eq!(find("nothing here"), None);
    }
}
