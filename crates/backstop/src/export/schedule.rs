//! A job's schedule as the other engines write it: systemd's `OnCalendar=`
//! (a `.timer`) and a Kubernetes `CronJob`'s `schedule`.
//!
//! Cron's five (or six, seconds first) fields map to systemd's
//! `DOW YYYY-MM-DD HH:MM:SS` field by field: lists stay lists, `a-b`
//! becomes `a..b`, `*/n` becomes `0/n` (`1/n` for days and months), names
//! become numbers or `Mon`…`Sun`. What has no equivalent (`L`, `W`, `#`,
//! a range with a step, a day of month *and* a day of week, which cron
//! joins with OR and systemd with AND) is refused with the reason, for the
//! export's warning.

use backstop_config::{JobSpec, Schedule};

/// How a job's schedule is written for systemd: `OnCalendar=` (with the
/// zone), or an interval from the timer's start.
pub(crate) enum Timer {
    /// `OnCalendar=` value.
    Calendar(String),
    /// `OnActiveSec=` and `OnUnitActiveSec=` value (systemd time span).
    Every(std::time::Duration),
}

/// The systemd timer of `spec`, or why it cannot be written.
pub(crate) fn systemd(spec: &JobSpec) -> Result<Timer, String> {
    match &spec.schedule {
        Schedule::Every(d) => Ok(Timer::Every(*d)),
        Schedule::Cron {
            expression,
            zone_name,
            ..
        } => {
            let calendar = calendar(expression)?;
            Ok(Timer::Calendar(match zone_name {
                Some(zone) => format!("{calendar} {zone}"),
                None => calendar,
            }))
        }
    }
}

/// The `CronJob` schedule (five fields) and time zone of `spec`.
pub(crate) fn kubernetes(spec: &JobSpec) -> Result<(String, Option<String>), String> {
    match &spec.schedule {
        Schedule::Cron {
            expression,
            zone_name,
            ..
        } => {
            let fields: Vec<&str> = expression.split_whitespace().collect();
            match fields.len() {
                5 => Ok((fields.join(" "), zone_name.clone())),
                6 if fields[0] == "0" => Ok((fields[1..].join(" "), zone_name.clone())),
                6 => Err(format!(
                    "`{expression}` runs on seconds; a CronJob runs at most once a minute"
                )),
                _ => Err(format!("`{expression}` has no five-field cron form")),
            }
        }
        Schedule::Every(d) => {
            let secs = d.as_secs();
            let (m, h) = (secs / 60, secs / 3600);
            if secs % 60 != 0 || secs == 0 {
                Err(format!("every {secs}s is not a whole number of minutes"))
            } else if m < 60 && 60 % m == 0 {
                Ok((format!("*/{m} * * * *"), None))
            } else if secs % 3600 == 0 && h < 24 && 24 % h == 0 {
                Ok((format!("0 */{h} * * *"), None))
            } else if secs == 86_400 {
                Ok(("0 0 * * *".to_string(), None))
            } else {
                Err(format!(
                    "every {} has no cron form (it does not divide an hour or a day)",
                    humantime::format_duration(*d)
                ))
            }
        }
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const SYSTEMD_DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// `OnCalendar=` for a cron expression (without its zone).
fn calendar(expression: &str) -> Result<String, String> {
    let mut fields: Vec<&str> = expression.split_whitespace().collect();
    let aliases = [
        ("@yearly", "yearly"),
        ("@annually", "yearly"),
        ("@monthly", "monthly"),
        ("@weekly", "weekly"),
        ("@daily", "daily"),
        ("@midnight", "daily"),
        ("@hourly", "hourly"),
    ];
    if let [one] = fields.as_slice()
        && let Some((_, word)) = aliases.iter().find(|(a, _)| a == one)
    {
        return Ok((*word).to_string());
    }
    if fields.len() == 5 {
        fields.insert(0, "0");
    }
    let [sec, min, hour, dom, month, dow] = fields.as_slice() else {
        return Err(format!("`{expression}` does not have five or six fields"));
    };
    let restricted = |f: &str| f != "*" && f != "?";
    if restricted(dom) && restricted(dow) {
        return Err(format!(
            "`{expression}` names a day of month and a day of week: cron runs on either, systemd only on both"
        ));
    }
    let time = format!(
        "{}:{}:{}",
        field(hour, 0, &[])?,
        field(min, 0, &[])?,
        field(sec, 0, &[])?
    );
    let date = format!("*-{}-{}", field(month, 1, &MONTHS)?, field(dom, 1, &[])?);
    let days = if restricted(dow) {
        format!("{} ", weekdays(dow)?)
    } else {
        String::new()
    };
    Ok(format!("{days}{date} {time}"))
}

/// One numeric field: `*`, `5`, `1,15`, `1-5` → `1..5`, `*/15` → `0/15`.
fn field(f: &str, first: u32, names: &[&str]) -> Result<String, String> {
    if f == "*" || f == "?" {
        return Ok("*".to_string());
    }
    let number = |v: &str| -> Result<String, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
            return Ok((i + 1).to_string());
        }
        v.parse::<u32>()
            .map(|n| n.to_string())
            .map_err(|_| format!("`{f}` has no systemd equivalent"))
    };
    f.split(',')
        .map(|part| {
            if let Some(step) = part.strip_prefix("*/") {
                Ok(format!("{first}/{}", number(step)?))
            } else if let Some((a, b)) = part.split_once('-') {
                if b.contains('/') {
                    return Err(format!(
                        "`{part}` (a range with a step) has no systemd equivalent"
                    ));
                }
                Ok(format!("{}..{}", number(a)?, number(b)?))
            } else if let Some((a, step)) = part.split_once('/') {
                Ok(format!("{}/{}", number(a)?, number(step)?))
            } else {
                number(part)
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|parts| parts.join(","))
}

/// The day-of-week field: `1-5` → `Mon..Fri`, `SUN,WED` → `Sun,Wed`.
fn weekdays(f: &str) -> Result<String, String> {
    let day = |v: &str| -> Result<&str, String> {
        let i = DAYS
            .iter()
            .position(|d| d.eq_ignore_ascii_case(v))
            .or_else(|| v.parse::<usize>().ok().map(|n| n % 7))
            .filter(|i| *i < 7)
            .ok_or_else(|| format!("`{f}` has no systemd equivalent"))?;
        Ok(SYSTEMD_DAYS[i])
    };
    f.split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) if !b.contains('/') => Ok(format!("{}..{}", day(a)?, day(b)?)),
            Some(_) => Err(format!("`{part}` has no systemd equivalent")),
            None => day(part).map(str::to_string),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|parts| parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_fields_become_systemd_calendar_fields() {
        for (cron, want) in [
            ("0 2 * * *", "*-*-* 2:0:0"),
            ("*/15 * * * *", "*-*-* *:0/15:0"),
            ("30 3 * * SUN", "Sun *-*-* 3:30:0"),
            ("0 9 * * 1-5", "Mon..Fri *-*-* 9:0:0"),
            ("0 4 1 * *", "*-*-1 4:0:0"),
            ("0 0 1 JAN,JUL *", "*-1,7-1 0:0:0"),
            ("*/10 * * * * *", "*-*-* *:*:0/10"),
            ("@daily", "daily"),
        ] {
            assert_eq!(calendar(cron).as_deref(), Ok(want), "{cron}");
        }
        assert!(calendar("0 0 1 * MON").unwrap_err().contains("either"));
        assert!(calendar("0 0 L * *").is_err());
        assert!(calendar("0 1-5/2 * * *").is_err());
    }

    #[test]
    fn intervals_become_cron_where_they_divide_an_hour_or_a_day() {
        let every = |s: u64| JobSpec {
            schedule: Schedule::Every(std::time::Duration::from_secs(s)),
            timeout: None,
            concurrency: backstop_config::Concurrency::Skip,
            missed_after: std::time::Duration::from_secs(60),
        };
        assert_eq!(kubernetes(&every(900)).unwrap().0, "*/15 * * * *");
        assert_eq!(kubernetes(&every(6 * 3600)).unwrap().0, "0 */6 * * *");
        assert_eq!(kubernetes(&every(86_400)).unwrap().0, "0 0 * * *");
        assert!(kubernetes(&every(7 * 60 * 60)).is_err());
        assert!(kubernetes(&every(30)).is_err());
    }
}
