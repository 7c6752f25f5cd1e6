//! Spawn gating on a service's declared `port`.
//!
//! Before a service with a `port` starts, whoever listens there decides:
//! nobody, and it starts; only leftovers of this same service (recognised
//! by the `BACKSTOP_SERVICE` and `BACKSTOP_STATE_DIR` of their environment),
//! and they are stopped first, the start resuming once they are gone;
//! anybody else, and the start fails naming the holder, instead of a crash
//! loop on "address already in use". A copy of the service's own command
//! started by hand is not stopped at a start either (nobody asked), but the
//! refusal says what it is and how to free it (`backstop fix SERVICE
//! free-port`).

/// A process listening on the port, as the runtime found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Its pid; 0 when the socket is there but its owner cannot be seen.
    pub pid: i32,
    /// How it shows in a message: `pid 42 (python3 app.py)`.
    pub shown: String,
    /// What it is to the service.
    pub kin: Kinship,
}

impl Holder {
    /// A leftover of this very service.
    pub fn ours(&self) -> bool {
        self.kin == Kinship::Leftover
    }
}

/// What a process (holding a service's port) is to that service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kinship {
    /// Started by backstop for this service (its environment says so): an
    /// earlier run, or a process that escaped from it.
    Leftover,
    /// The service's own command line, run in the service's directory, but
    /// not by backstop (by hand, by an old script): `root` is the topmost
    /// process of that copy.
    HandStarted {
        /// The process to stop with its descendants.
        root: i32,
    },
    /// Anything else: never stopped without `force`.
    Stranger,
}

/// What to do before the start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// The port is free: start.
    Open,
    /// Stop these leftovers of the service, then start.
    Clear {
        /// The leftovers' pids.
        pids: Vec<i32>,
        /// For the operator: what is being stopped.
        detail: String,
    },
    /// Do not start: the port belongs to someone else.
    Refuse(String),
}

/// Decides the start of `service` on `port` given its `holders`.
pub fn gate(service: &str, port: u16, holders: &[Holder]) -> Gate {
    if holders.is_empty() {
        return Gate::Open;
    }
    if let Some(other) = holders.iter().find(|h| !h.ours()) {
        return Gate::Refuse(if other.pid == 0 {
            format!(
                "port {port} is already in use by a process backstop cannot see (another user or network namespace)"
            )
        } else if let Kinship::HandStarted { .. } = other.kin {
            format!(
                "port {port} is already in use by {}: the command of service `{service}`, started outside backstop; stop it, or run `backstop fix {service} free-port`",
                other.shown
            )
        } else {
            format!(
                "port {port} is already in use by {}, which is not part of service `{service}`",
                other.shown
            )
        });
    }
    Gate::Clear {
        pids: holders.iter().map(|h| h.pid).collect(),
        detail: format!(
            "stopping a leftover instance holding port {port}: {}",
            holders
                .iter()
                .map(|h| h.shown.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: i32, ours: bool) -> Holder {
        Holder {
            pid,
            shown: format!("pid {pid} (python3 app.py)"),
            kin: if ours {
                Kinship::Leftover
            } else {
                Kinship::Stranger
            },
        }
    }

    #[test]
    fn a_free_port_opens() {
        assert_eq!(gate("api", 8000, &[]), Gate::Open);
    }

    #[test]
    fn leftovers_of_the_service_are_cleared_all_of_them() {
        assert_eq!(
            gate("api", 8000, &[holder(10, true), holder(11, true)]),
            Gate::Clear {
                pids: vec![10, 11],
                detail: "stopping a leftover instance holding port 8000: pid 10 (python3 app.py), pid 11 (python3 app.py)".into()
            }
        );
    }

    #[test]
    fn one_stranger_refuses_even_beside_leftovers() {
        let Gate::Refuse(reason) = gate("api", 8000, &[holder(10, true), holder(99, false)]) else {
            panic!("a stranger's port is not cleared");
        };
        assert_eq!(
            reason,
            "port 8000 is already in use by pid 99 (python3 app.py), which is not part of service `api`"
        );
        let hidden = Holder {
            pid: 0,
            shown: String::new(),
            kin: Kinship::Stranger,
        };
        assert!(
            matches!(gate("api", 8000, &[hidden]), Gate::Refuse(r) if r.contains("cannot see"))
        );
    }

    #[test]
    fn a_copy_started_by_hand_is_refused_with_the_way_out() {
        let copy = Holder {
            pid: 42,
            shown: "pid 42 (python3 app.py)".into(),
            kin: Kinship::HandStarted { root: 42 },
        };
        assert_eq!(
            gate("api", 8000, &[copy]),
            Gate::Refuse("port 8000 is already in use by pid 42 (python3 app.py): the command of service `api`, started outside backstop; stop it, or run `backstop fix api free-port`".into())
        );
    }
}
