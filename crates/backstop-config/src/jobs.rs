//! Scheduled jobs (`[jobs.NAME]`): a command run on a schedule — a nightly
//! `pg_dump`, a weekly `VACUUM ANALYZE` — instead of from cron.
//!
//! A job runs like a service (its environment, directory, user, process
//! group, captured output, `depends_on`), under the name `job:NAME`, but
//! never restarts: each run ends, and is recorded. What is particular to a
//! job is here: when it runs ([`Schedule`]), how long a run may take, what
//! happens when a run is due while the last one still runs
//! ([`Concurrency`]), and when its silence means trouble (`missed_after`).

use std::fmt;
use std::time::{Duration, SystemTime};

/// The prefix that sets a job's name apart from services' (`job:backup`):
/// its logs, events and alerts carry it.
pub const JOB_PREFIX: &str = "job:";

/// The `job:NAME` name a job runs under.
pub fn job_service_name(name: &str) -> String {
    format!("{JOB_PREFIX}{name}")
}

/// What makes a service a scheduled job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    /// When it runs.
    pub schedule: Schedule,
    /// A run still going after this is stopped, and counts as failed.
    pub timeout: Option<Duration>,
    /// What a run due while the previous one goes on does.
    pub concurrency: Concurrency,
    /// No successful run for this long after one was due: `job-missed`
    /// (default: twice the period, at least a minute).
    pub missed_after: Duration,
}

/// `concurrency = "skip" | "queue"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    /// The due run is skipped (an event says so): never two runs at once.
    Skip,
    /// The due run starts when the current one ends (one waits at most).
    Queue,
}

impl Concurrency {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Queue => "queue",
        }
    }
}

/// `schedule = "0 2 * * *"` (with `timezone`) or `every = "6h"`.
#[derive(Clone)]
pub enum Schedule {
    /// A cron expression: five fields, or six with seconds first.
    Cron {
        /// As written.
        expression: String,
        /// Parsed (boxed: a parsed pattern is a few hundred bytes).
        cron: Box<croner::Cron>,
        /// The zone its times are in (`timezone`, else the system's).
        zone: jiff::tz::TimeZone,
        /// The zone's name as written, if one was.
        zone_name: Option<String>,
    },
    /// At a fixed interval, the first run one interval after the daemon starts.
    Every(Duration),
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Self::Cron {
                    expression: a,
                    zone_name: za,
                    ..
                },
                Self::Cron {
                    expression: b,
                    zone_name: zb,
                    ..
                },
            ) => a == b && za == zb,
            (Self::Every(a), Self::Every(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Schedule {
    /// Parses a cron expression (five fields, or six with seconds first)
    /// in `zone` (an IANA name such as `Europe/Berlin`; the system's zone
    /// when `None`). The error says what is wrong, for the config message.
    pub fn cron(expression: &str, zone: Option<&str>) -> Result<Self, String> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|e| {
                let said = e.to_string();
                let said = said.strip_prefix("Component error: ").unwrap_or(&said);
                format!(
                    "{}: expected five fields (minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-7), or six with a second 0-59 first",
                    said.trim_end_matches('.')
                )
            })?;
        let tz = match zone {
            Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| {
                format!(
                    "unknown time zone `{name}` (expected a name such as `Europe/Berlin` or `UTC`)"
                )
            })?,
            None => jiff::tz::TimeZone::system(),
        };
        Ok(Self::Cron {
            expression: expression.to_string(),
            cron: Box::new(cron),
            zone: tz,
            zone_name: zone.map(str::to_string),
        })
    }

    /// The first time it is due strictly after `after`; `None` when the
    /// expression never matches again (`0 0 30 2 *`).
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        match self {
            Self::Every(d) => after.checked_add(*d),
            Self::Cron { cron, zone, .. } => {
                let ts = jiff::Timestamp::try_from(after).ok()?;
                let zoned = ts.to_zoned(zone.clone());
                let next = cron.find_next_occurrence(&zoned, false).ok()?;
                Some(SystemTime::from(next.timestamp()))
            }
        }
    }

    /// The time between two runs: the interval, or for cron the gap
    /// between the next two times after `now`.
    pub fn period(&self, now: SystemTime) -> Duration {
        match self {
            Self::Every(d) => *d,
            Self::Cron { .. } => {
                let first = self.next_after(now);
                let second = first.and_then(|f| self.next_after(f));
                match (first, second) {
                    (Some(a), Some(b)) => b.duration_since(a).unwrap_or_default(),
                    _ => Duration::from_secs(86_400),
                }
            }
        }
    }

    /// In words, as `backstop jobs` shows it: `every 6h`, `0 2 * * * (Europe/Berlin)`.
    pub fn describe(&self) -> String {
        match self {
            Self::Every(d) => format!("every {}", humantime::format_duration(*d)),
            Self::Cron {
                expression,
                zone_name,
                ..
            } => match zone_name {
                Some(z) => format!("{expression} ({z})"),
                None => expression.clone(),
            },
        }
    }
}

/// The default `missed_after`: twice the period, at least a minute.
pub fn default_missed_after(schedule: &Schedule, timeout: Option<Duration>) -> Duration {
    let period = schedule.period(SystemTime::now());
    (period * 2 + timeout.unwrap_or_default()).max(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        SystemTime::from(text.parse::<jiff::Timestamp>().unwrap())
    }

    #[test]
    fn cron_with_five_fields_runs_at_its_minute_in_its_zone() {
        let s = Schedule::cron("0 2 * * *", Some("Europe/Berlin")).unwrap();
        // 02:00 in Berlin in winter is 01:00 UTC.
        let next = s.next_after(at("2026-12-03T10:00:00Z")).unwrap();
        assert_eq!(next, at("2026-12-04T01:00:00Z"));
        assert_eq!(
            s.period(at("2026-12-03T10:00:00Z")),
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn an_optional_seconds_field_is_read_first() {
        let s = Schedule::cron("*/10 * * * * *", Some("UTC")).unwrap();
        let next = s.next_after(at("2026-12-03T10:00:03Z")).unwrap();
        assert_eq!(next, at("2026-12-03T10:00:10Z"));
    }

    #[test]
    fn bad_expressions_and_zones_say_what_is_wrong() {
        assert!(Schedule::cron("61 * * * *", None).is_err());
        assert!(Schedule::cron("0 2 * *", None).is_err());
        let e = Schedule::cron("0 2 * * *", Some("Mars/Olympus")).unwrap_err();
        assert!(e.contains("Mars/Olympus"), "{e}");
    }

    #[test]
    fn every_runs_one_interval_later_and_missed_after_defaults_to_two_periods() {
        let s = Schedule::Every(Duration::from_secs(6 * 3600));
        let t = at("2026-12-03T10:00:00Z");
        assert_eq!(s.next_after(t), Some(at("2026-12-03T16:00:00Z")));
        assert_eq!(
            default_missed_after(&s, None),
            Duration::from_secs(12 * 3600)
        );
        let short = Schedule::Every(Duration::from_secs(2));
        assert_eq!(default_missed_after(&short, None), Duration::from_secs(60));
        assert_eq!(s.describe(), "every 6h");
    }
}
