//! The event history: `.backstop/events.db`.
//!
//! # Theory of operation
//! Every event of the daemon's bus (starts, exits, restarts, state and
//! health changes, threshold breaches, lost log output, …) is recorded by
//! a [`Recorder`] thread in a SQLite database in WAL mode. A committed
//! transaction is in the WAL file before `COMMIT` returns, so a SIGKILL of
//! the daemon loses nothing that was recorded and corrupts nothing
//! (`synchronous = NORMAL`: only a power cut may lose the last commits).
//! The schema carries its version in `PRAGMA user_version`; [`MIGRATIONS`]
//! take any older file to the current one, and a file from a newer backstop
//! is refused rather than misread. Retention keeps at most `max_events`
//! events and none older than `max_age`.
//!
//! Readers (`backstop events`, the API, diagnose) open the file themselves,
//! with or without a daemon.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backstop_api::{Event, EventKind};
use rusqlite::{Connection, OpenFlags, params};

/// Schema migrations: entry `i` takes a file from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &["
    CREATE TABLE events (
        id      INTEGER PRIMARY KEY,
        at_ms   INTEGER NOT NULL,
        service TEXT,
        kind    TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX events_at ON events (at_ms);
    CREATE INDEX events_service_at ON events (service, at_ms);
"];

/// What can go wrong with the event database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error("{path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file cannot be created.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was written by a newer backstop.
    #[error(
        "{path} has schema version {found}, newer than this backstop knows ({known}); use the newer backstop, or move the file away to start a new history"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
}

/// How much history is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this are deleted.
    pub max_age: Duration,
    /// At most this many events are kept (the newest).
    pub max_events: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(30 * 86_400),
            max_events: 100_000,
        }
    }
}

/// Which events to read.
#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    /// Only this service's.
    pub service: Option<String>,
    /// Only at or after this time.
    pub since: Option<SystemTime>,
    /// Only these kinds (any, when empty).
    pub kinds: Vec<String>,
    /// At most this many (the newest).
    pub limit: Option<usize>,
}

/// An open event database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The file opened (device, inode): a file deleted or replaced under
    /// the daemon is noticed, not written into unseen.
    identity: Option<(u64, u64)>,
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Store {
    /// Opens (creating if needed) and migrates the database for writing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        // SQLite gives the -wal and -shm files the mode of the database:
        // create it 0600 first, so none of them is ever readable by others.
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(|source| StoreError::Create {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -256; PRAGMA busy_timeout = 2000;",
        )
        .map_err(err)?;
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
            identity: identity(path),
        };
        store.migrate()?;
        Ok(store)
    }

    /// A store in memory (when no file can be made): recording goes on,
    /// unseen, rather than stopping the recorder.
    fn open_in_memory(path: &Path) -> Self {
        let conn = Connection::open_in_memory().expect("UNWRAP: SQLite opens a memory database");
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
            identity: None,
        };
        let _ = store.migrate();
        store
    }

    /// Whether the file this store writes is no longer at its path
    /// (deleted, or replaced by another file): what it records then would
    /// be seen by no reader.
    pub fn gone(&self) -> bool {
        self.identity.is_some() && identity(&self.path) != self.identity
    }

    /// Whether the file at its path no longer starts as a SQLite database
    /// does (overwritten under the daemon). SQLite would not notice: in WAL
    /// mode it writes the log and its cache, and readers would fail.
    pub fn damaged(&self) -> bool {
        use std::io::Read as _;
        let mut head = [0u8; 16];
        std::fs::File::open(&self.path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|()| &head != b"SQLite format 3\0")
    }

    /// Opens an existing database for reading only.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.execute_batch("PRAGMA busy_timeout = 2000;")
            .map_err(err)?;
        let store = Self {
            conn,
            path: path.to_path_buf(),
            identity: None,
        };
        let version = store.version()?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: MIGRATIONS.len() as i64,
            });
        }
        Ok(store)
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sqlite(e))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version = self.version()?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
            tx.execute_batch(sql)
                .and_then(|()| tx.pragma_update(None, "user_version", i as i64 + 1))
                .and_then(|()| tx.commit())
                .map_err(|e| StoreError::Sqlite {
                    path: self.path.clone(),
                    source: e,
                })?;
        }
        Ok(())
    }

    /// Records `events` in one transaction.
    pub fn insert(&mut self, events: &[Event]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO events (at_ms, service, kind, message) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for e in events {
                insert
                    .execute(params![millis(e.at), e.service, e.kind.as_str(), e.message])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Applies `retention`; returns how many events were deleted.
    pub fn prune(&mut self, retention: Retention, now: SystemTime) -> Result<usize, StoreError> {
        let oldest = millis(now) - retention.max_age.as_millis() as i64;
        let by_age = self
            .conn
            .execute("DELETE FROM events WHERE at_ms < ?1", params![oldest])
            .map_err(|e| self.sqlite(e))?;
        let by_count = self
            .conn
            .execute(
                "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                params![retention.max_events as i64],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(by_age + by_count)
    }

    /// The events `query` selects, oldest first.
    pub fn query(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let mut sql = String::from("SELECT at_ms, service, kind, message FROM events WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(s) = &query.service {
            args.push(s.clone().into());
            let _ = write!(sql, " AND service = ?{}", args.len());
        }
        if let Some(since) = query.since {
            args.push(millis(since).into());
            let _ = write!(sql, " AND at_ms >= ?{}", args.len());
        }
        if !query.kinds.is_empty() {
            let mut marks = Vec::new();
            for k in &query.kinds {
                args.push(k.clone().into());
                marks.push(format!("?{}", args.len()));
            }
            let _ = write!(sql, " AND kind IN ({})", marks.join(", "));
        }
        sql.push_str(" ORDER BY id DESC");
        if let Some(n) = query.limit {
            args.push((n as i64).into());
            let _ = write!(sql, " LIMIT ?{}", args.len());
        }
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                let at_ms: i64 = r.get(0)?;
                let at = UNIX_EPOCH + Duration::from_millis(at_ms.max(0) as u64);
                let kind: String = r.get(2)?;
                Ok(Event {
                    at,
                    service: r.get(1)?,
                    kind: EventKind::parse(&kind),
                    message: r.get(3)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        let mut out: Vec<Event> = rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))?;
        out.reverse();
        Ok(out)
    }
}

/// Records the daemon's events on its own thread, so that a slow disk never
/// delays supervision.
pub struct Recorder;

impl Recorder {
    /// Starts recording `events` into `store` until the bus closes.
    pub fn start(
        mut store: Store,
        mut events: backstop_api::Subscription,
        retention: Retention,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("events".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut pruned = std::time::Instant::now();
                if let Err(e) = store.prune(retention, SystemTime::now()) {
                    tracing::warn!("event history: {e}");
                }
                while let Some(first) = events.blocking_recv() {
                    let mut batch = vec![first];
                    // Whatever else is waiting goes in the same transaction.
                    while batch.len() < 512 {
                        match events.try_recv() {
                            Some(e) => batch.push(e),
                            None => break,
                        }
                    }
                    if store.gone() {
                        store = start_again(store, "was deleted or replaced while the daemon ran");
                    } else if store.damaged() {
                        store = start_again(store, "was overwritten while the daemon ran");
                    }
                    if let Err(e) = store.insert(&batch) {
                        // A file damaged under the daemon: kept aside, a new
                        // history started, and this batch recorded there.
                        if e.is_damage() {
                            store = start_again(store, &format!("cannot be written ({e})"));
                            if let Err(e) = store.insert(&batch) {
                                tracing::warn!(
                                    "event history: {} events not recorded: {e}",
                                    batch.len()
                                );
                            }
                        } else {
                            tracing::warn!(
                                "event history: {} events not recorded: {e}",
                                batch.len()
                            );
                        }
                    }
                    if pruned.elapsed() > Duration::from_secs(3600) {
                        pruned = std::time::Instant::now();
                        if let Err(e) = store.prune(retention, SystemTime::now()) {
                            tracing::warn!("event history: {e}");
                        }
                    }
                }
            })
    }
}

/// A new history in place of `store`'s file, which was deleted, replaced
/// or damaged (a damaged one is kept aside as `events.db.damaged-<ms>`);
/// its first event says why. The old store is kept when the new file
/// cannot be made.
fn start_again(store: Store, why: &str) -> Store {
    let path = store.path.clone();
    let mut kept = String::new();
    if path.exists() && !store.gone() {
        let aside = path.with_extension(format!("db.damaged-{}", millis(SystemTime::now())));
        if std::fs::rename(&path, &aside).is_ok() {
            kept = format!("; the damaged file is kept as {}", aside.display());
        }
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = path.clone().into_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    drop(store);
    match Store::open(&path) {
        Ok(mut new) => {
            let message = format!(
                "the event history {} {why}: a new one starts here, events before it are in the old file only{kept}",
                path.display()
            );
            tracing::warn!("{message}");
            let _ = new.insert(&[Event::now(None, EventKind::HistoryReset, message)]);
            new
        }
        Err(e) => {
            tracing::warn!("event history: cannot start a new {}: {e}", path.display());
            // Nothing better: keep writing where we can (a reader will not
            // see it, but the daemon goes on).
            Store::open_in_memory(&path)
        }
    }
}

impl StoreError {
    /// The file is damaged or not a database (rather than busy or full).
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            Self::Sqlite {
                source: rusqlite::Error::SqliteFailure(f, _),
                ..
            } if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            )
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: &str, service: Option<&str>, kind: &str) -> Event {
        Event {
            at: humantime::parse_rfc3339(at).unwrap(),
            service: service.map(str::to_string),
            kind: EventKind::parse(kind),
            message: format!("{kind} happened"),
        }
    }

    #[test]
    fn records_queries_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let mut store = Store::open(&path).unwrap();
        store
            .insert(&[
                event("2026-11-22T10:00:00.000Z", Some("api"), "spawned"),
                event("2026-11-22T10:00:01.000Z", Some("worker"), "spawned"),
                event("2026-11-22T10:00:02.000Z", Some("api"), "exited"),
                event("2026-11-22T10:00:03.000Z", None, "reload"),
            ])
            .unwrap();
        let reader = Store::open_read_only(&path).unwrap();
        let kinds = |q: EventQuery| -> Vec<String> {
            reader
                .query(&q)
                .unwrap()
                .into_iter()
                .map(|e| e.kind.as_str().to_string())
                .collect()
        };
        assert_eq!(
            kinds(EventQuery::default()),
            ["spawned", "spawned", "exited", "reload"]
        );
        assert_eq!(
            kinds(EventQuery {
                service: Some("api".into()),
                ..EventQuery::default()
            }),
            ["spawned", "exited"]
        );
        assert_eq!(
            kinds(EventQuery {
                since: Some(humantime::parse_rfc3339("2026-11-22T10:00:02Z").unwrap()),
                ..EventQuery::default()
            }),
            ["exited", "reload"]
        );
        assert_eq!(
            kinds(EventQuery {
                kinds: vec!["reload".into(), "exited".into()],
                limit: Some(1),
                ..EventQuery::default()
            }),
            ["reload"]
        );
        let all = reader.query(&EventQuery::default()).unwrap();
        assert_eq!(
            backstop_api::rfc3339::format(all[0].at),
            "2026-11-22T10:00:00.000Z"
        );
        assert_eq!(all[0].message, "spawned happened");

        let now = humantime::parse_rfc3339("2026-11-22T10:00:03.500Z").unwrap();
        let deleted = store
            .prune(
                Retention {
                    max_age: Duration::from_secs(2),
                    max_events: 1,
                },
                now,
            )
            .unwrap();
        assert_eq!(deleted, 3);
        assert_eq!(kinds(EventQuery::default()), ["reload"]);
    }

    #[test]
    fn migrates_once_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        drop(Store::open(&path).unwrap());
        drop(Store::open(&path).unwrap()); // already current: nothing to do
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Store::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("schema version 99, newer than this backstop knows (1)"),
            "{err}"
        );
    }
}
