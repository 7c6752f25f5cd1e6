//! `watch`: the supervisor's side. The file watcher ([`crate::watch`])
//! runs as a task of its own, rebuilt on every config change; a burst of
//! changes restarts the service once, and starts it again if it had
//! failed (a fix saved while it crash-looped), but a service stopped by
//! hand stays stopped.

use backstop_api::{EventKind, ServiceState};
use tokio::time::Instant;

use crate::machine::Input;
use crate::rules::watch::Due;

use super::{Internal, Supervisor};

impl Supervisor {
    /// (Re)starts watching the files of the services that have `watch`.
    pub(super) fn rewatch(&mut self) {
        if let Some(task) = self.watching.take() {
            task.abort();
        }
        let mut watched = Vec::new();
        for s in &self.services {
            let Some(w) = &s.config.watch else { continue };
            match crate::watch::Watched::new(&s.config.name, &s.config.dir, w) {
                Ok(w) => watched.push(w),
                Err(e) => tracing::error!("{}: watch patterns do not compile: {e}", s.config.name),
            }
        }
        let tx = self.internal_tx.clone();
        match crate::watch::spawn(watched, move |news| {
            let _ = tx.send(match news {
                crate::watch::News::Due(due) => Internal::FilesChanged(due),
                crate::watch::News::Trouble(why) => Internal::WatchTrouble(why),
            });
        }) {
            Ok(task) => self.watching = task,
            Err(e) => self.event(
                None,
                EventKind::Watch,
                format!("files cannot be watched ({e}); `watch` is off"),
            ),
        }
    }

    /// Changes may be missed: the operator hears of it.
    pub(super) fn watch_trouble(&mut self, why: &str) {
        self.event(None, EventKind::Watch, format!("watch: {why}"));
    }

    /// A debounced burst of changes of `due.service`'s files.
    pub(super) fn files_changed(&mut self, due: &Due, now: Instant) {
        let Some(i) = self.index(&due.service) else {
            return;
        };
        if self.shutting_down || self.services[i].removed {
            return;
        }
        let more = match due.files {
            1 => String::new(),
            2 => " (and 1 more file)".to_string(),
            n => format!(" (and {} more files)", n - 1),
        };
        let state = self.services[i].state();
        let (input, doing) = match state {
            ServiceState::Stopped | ServiceState::Stopping => return,
            ServiceState::Failed | ServiceState::CrashLoop | ServiceState::Exited => {
                (Input::Start, "starting it again")
            }
            _ => (Input::Restart, "restarting"),
        };
        let name = due.service.clone();
        self.event(
            Some(&name),
            EventKind::Watch,
            format!("{name}: {} changed{more}; {doing}", due.first.display()),
        );
        self.feed(i, input, now);
    }
}
