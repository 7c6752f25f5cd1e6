//! Error signatures: the error lines of a log tail grouped by their shape
//! (every run of digits folded to `N`, so ports, pids and counts do not
//! split a group), with counts and when each was first and last seen.

use std::collections::HashMap;
use std::time::SystemTime;

use backstop_logs::{Entry, ErrorDetector, ErrorPatterns};

/// One group of alike error lines.
#[derive(Debug)]
pub(crate) struct Signature {
    pub(crate) example: String,
    pub(crate) count: usize,
    pub(crate) first: Option<SystemTime>,
    pub(crate) last: Option<SystemTime>,
}

/// `Error 111 connecting to localhost:6379` → `Error N connecting to localhost:N`.
fn shape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_number = false;
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// The error incidents of `entries` (the first line of each), grouped,
/// most frequent first.
pub(crate) fn signatures(entries: &[Entry], patterns: &ErrorPatterns) -> Vec<Signature> {
    let base = std::time::Instant::now();
    let t0 = entries.first().map_or(SystemTime::UNIX_EPOCH, |e| e.order);
    let mut detector = ErrorDetector::default();
    let mut groups: HashMap<String, Signature> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut line = Vec::new();
    for e in entries {
        line.clear();
        line.extend_from_slice(&e.text);
        line.push(b'\n');
        // The detector groups by arrival time; the record's time stands in.
        let now = base + e.order.duration_since(t0).unwrap_or_default();
        let mut hit = None;
        detector.scan(patterns, &line, now, |l| {
            hit = Some(String::from_utf8_lossy(l).into_owned());
        });
        let Some(text) = hit else { continue };
        let key = shape(&text);
        let g = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Signature {
                example: text.clone(),
                count: 0,
                first: e.at,
                last: e.at,
            }
        });
        g.count += 1;
        g.last = e.at;
        g.example = text;
    }
    let mut out: Vec<Signature> = order
        .into_iter()
        .filter_map(|k| groups.remove(&k))
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.count));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_fold() {
        assert_eq!(
            super::shape("Error 111 connecting to localhost:6379."),
            "Error N connecting to localhost:N."
        );
    }
}
