//! Signal names accepted in the config (`stop.signal`).

use crate::model::StopSignal;

/// Accepted names (without `SIG`) and their Linux numbers.
pub(crate) const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ABRT", 6),
    ("KILL", 9),
    ("USR1", 10),
    ("USR2", 12),
    ("ALRM", 14),
    ("TERM", 15),
    ("WINCH", 28),
];

/// Parses `TERM`, `SIGTERM` or `term`.
pub(crate) fn parse(text: &str) -> Option<StopSignal> {
    let upper = text.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    NAMES
        .iter()
        .find(|(n, _)| *n == bare)
        .map(|(name, number)| StopSignal {
            name,
            number: *number,
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn accepts_common_spellings() {
        assert_eq!(super::parse("TERM").map(|s| s.number), Some(15));
        assert_eq!(super::parse("SIGINT").map(|s| s.number), Some(2));
        assert_eq!(super::parse("quit").map(|s| s.name), Some("QUIT"));
        assert!(super::parse("TERMINATE").is_none());
    }
}
