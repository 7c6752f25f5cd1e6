//! The formats of the cgroup files backstop reads, as pure functions.

/// `key value` lines (`memory.events`, `cgroup.events`, `cpu.stat`,
/// v1 `memory.oom_control`): the value of `key`.
pub fn value_of(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// A limit file (`memory.max`, `pids.max`, v1 `memory.limit_in_bytes`):
/// `None` when unlimited (`max`, or v1's huge page-aligned number).
pub fn limit(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        return None;
    }
    t.parse::<u64>().ok().filter(|n| *n < (1 << 62))
}

/// A `cgroup.procs` file: the pids in it.
pub fn pids(text: &str) -> Vec<i32> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// `cpu.max` of cgroup v2 for a quota in percent of one core.
pub fn cpu_max(percent: f64) -> String {
    let period: u64 = 100_000;
    let quota = ((percent / 100.0) * period as f64).round().max(1000.0) as u64;
    format!("{quota} {period}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_layouts_files() {
        assert_eq!(
            value_of(
                "low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
                "oom_kill"
            ),
            Some(1)
        );
        assert_eq!(
            value_of("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", "oom_kill"),
            Some(2)
        );
        assert_eq!(value_of("populated 0\nfrozen 0\n", "populated"), Some(0));
        assert_eq!(limit("max\n"), None);
        assert_eq!(limit("9223372036854771712\n"), None);
        assert_eq!(limit("67108864\n"), Some(67_108_864));
        assert_eq!(pids("12\n345\n"), [12, 345]);
        assert_eq!(cpu_max(150.0), "150000 100000");
    }
}
