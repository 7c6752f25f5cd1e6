//! Debouncing `watch` changes: an editor's save, a `git checkout` or a
//! build writes many files within moments; the service restarts once,
//! when its files have been quiet for its `debounce`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A restart the changes asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    /// The service.
    pub service: String,
    /// The first file that changed (relative to the service's `dir`).
    pub first: PathBuf,
    /// How many files changed (a file written twice is one).
    pub files: usize,
}

#[derive(Debug)]
struct Pending {
    first: PathBuf,
    files: std::collections::BTreeSet<PathBuf>,
    quiet_from: Instant,
    quiet: Duration,
}

/// Changes per service, until each has been quiet long enough.
#[derive(Debug, Default)]
pub struct Debouncer {
    pending: BTreeMap<String, Pending>,
}

impl Debouncer {
    /// A file of `service` changed at `now`; it restarts once nothing
    /// more changed for `quiet`.
    pub fn note(&mut self, service: &str, path: PathBuf, quiet: Duration, now: Instant) {
        let p = self
            .pending
            .entry(service.to_string())
            .or_insert_with(|| Pending {
                first: path.clone(),
                files: std::collections::BTreeSet::new(),
                quiet_from: now,
                quiet,
            });
        p.files.insert(path);
        p.quiet_from = now;
    }

    /// When the next service is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.quiet_from + p.quiet).min()
    }

    /// The services quiet long enough at `now`, taken out.
    pub fn take_due(&mut self, now: Instant) -> Vec<Due> {
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.quiet_from + p.quiet)
            .map(|(s, _)| s.clone())
            .collect();
        due.into_iter()
            .filter_map(|service| {
                let p = self.pending.remove(&service)?;
                Some(Due {
                    service,
                    files: p.files.len(),
                    first: p.first,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_changes_is_one_restart_after_the_quiet_time() {
        let t = Instant::now();
        let q = Duration::from_millis(500);
        let mut d = Debouncer::default();
        d.note("api", "src/a.py".into(), q, t);
        d.note("api", "src/b.py".into(), q, t + Duration::from_millis(300));
        d.note("api", "src/a.py".into(), q, t + Duration::from_millis(300));
        assert!(
            d.take_due(t + Duration::from_millis(600)).is_empty(),
            "still busy"
        );
        assert_eq!(d.next_due(), Some(t + Duration::from_millis(800)));
        assert_eq!(
            d.take_due(t + Duration::from_millis(800)),
            [Due {
                service: "api".into(),
                first: "src/a.py".into(),
                files: 2
            }]
        );
        assert_eq!(d.next_due(), None);
    }

    #[test]
    fn services_are_debounced_apart() {
        let t = Instant::now();
        let mut d = Debouncer::default();
        d.note("api", "a.py".into(), Duration::from_millis(100), t);
        d.note("web", "b.js".into(), Duration::from_secs(1), t);
        let due = d.take_due(t + Duration::from_millis(100));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].service, "api");
    }
}
