//! Spawn gating on a service's declared `port`.
//!
//! Before a service with a `port` starts, whoever listens there decides:
//! nobody, and it starts; only leftovers of this same service (recognised
//! by the `BACKSTOP_SERVICE` and `BACKSTOP_STATE_DIR` of their environment),
//! and they are stopped first, the start resuming once they are gone;
//! anybody else, and the start fails naming the holder, instead of a crash
//! loop on "address already in use".

/// A process listening on the port, as the runtime found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Its pid; 0 when the socket is there but its owner cannot be seen.
    pub pid: i32,
    /// How it shows in a message: `pid 42 (python3 app.py)`.
    pub shown: String,
    /// A leftover of this very service.
    pub ours: bool,
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
    if let Some(other) = holders.iter().find(|h| !h.ours) {
        return Gate::Refuse(if other.pid == 0 {
            format!(
                "port {port} is already in use by a process backstop cannot see (another user or network namespace)"
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
            ours,
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
            ours: false,
        };
        assert!(
            matches!(gate("api", 8000, &[hidden]), Gate::Refuse(r) if r.contains("cannot see"))
        );
    }
}
