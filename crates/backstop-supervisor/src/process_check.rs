//! The `process` check: memory and CPU of a service's whole process tree.
//!
//! Each sample sums the resident memory of every member of the tree and
//! computes CPU from the change in CPU ticks since the previous sample
//! (matching processes by pid and start time, so a reused pid does not
//! count). Memory above `memory_max` fails the check (and the supervisor
//! restarts the service); above `memory_warn`, CPU above `cpu_warn` for
//! `cpu_for`, or memory growing steadily over `leak_window` passes with a
//! warning (the service is degraded). In cgroup mode the same thresholds
//! judge the cgroup's own totals ([`ProcessSampler::sample_totals`]): the
//! memory the kernel charges it, and its CPU seconds.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::time::Duration;

use backstop_config::ProcessLimits;
use tokio::time::Instant;

use crate::procs::ProcInfo;

/// CPU ticks by (pid, start time): a process identity that survives pid reuse.
type TicksByProcess = HashMap<(i32, u64), u64>;

/// What one sample concluded.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// False when memory is above `memory_max`.
    pub passed: bool,
    /// A warning threshold is crossed.
    pub warning: bool,
    /// One line for the operator.
    pub detail: String,
    /// The resident memory, when above `memory_max`.
    pub over_max: Option<u64>,
}

/// The state kept between samples of one process check.
#[derive(Clone, Debug)]
pub struct ProcessSampler {
    limits: ProcessLimits,
    ticks_per_second: f64,
    previous: Option<(Instant, TicksByProcess)>,
    /// The previous total CPU seconds of a cgroup, and when.
    previous_total: Option<(Instant, f64)>,
    cpu_high_since: Option<Instant>,
    memory: VecDeque<(Instant, u64)>,
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

impl ProcessSampler {
    /// A sampler with no history.
    pub fn new(limits: ProcessLimits, ticks_per_second: u64) -> Self {
        Self {
            limits,
            ticks_per_second: ticks_per_second.max(1) as f64,
            previous: None,
            previous_total: None,
            cpu_high_since: None,
            memory: VecDeque::new(),
        }
    }

    /// Judges the tree `members` (with `page_size`-byte pages) at `now`.
    pub fn sample(&mut self, members: &[ProcInfo], page_size: u64, now: Instant) -> Verdict {
        let rss: u64 = members.iter().map(|p| p.rss_pages * page_size).sum();
        let ticks: HashMap<(i32, u64), u64> = members
            .iter()
            .map(|p| ((p.pid, p.start_time), p.cpu_ticks))
            .collect();
        let cpu = self.previous.as_ref().and_then(|(at, before)| {
            let elapsed = now.saturating_duration_since(*at).as_secs_f64();
            (elapsed > 0.0).then(|| {
                let used: u64 = ticks
                    .iter()
                    .map(|(id, t)| t.saturating_sub(*before.get(id).unwrap_or(t)))
                    .sum();
                used as f64 / self.ticks_per_second / elapsed * 100.0
            })
        });
        self.previous = Some((now, ticks));
        self.judge(rss, cpu, members.len(), now)
    }

    /// Judges a service by its cgroup's own accounting (cgroup mode): the
    /// memory charged to it, its CPU seconds so far, its process count.
    pub fn sample_totals(
        &mut self,
        rss: u64,
        cpu_total: f64,
        processes: usize,
        now: Instant,
    ) -> Verdict {
        let cpu = self.previous_total.and_then(|(at, before)| {
            let elapsed = now.saturating_duration_since(at).as_secs_f64();
            (elapsed > 0.0).then(|| (cpu_total - before).max(0.0) / elapsed * 100.0)
        });
        self.previous_total = Some((now, cpu_total));
        self.judge(rss, cpu, processes, now)
    }

    fn judge(&mut self, rss: u64, cpu: Option<f64>, processes: usize, now: Instant) -> Verdict {
        self.remember(now, rss);
        let mut detail = format!(
            "RSS {} in {} process{}",
            mb(rss),
            processes,
            if processes == 1 { "" } else { "es" }
        );
        if let Some(cpu) = cpu {
            let _ = write!(detail, ", CPU {cpu:.1}%");
        }
        if let Some(max) = self.limits.memory_max
            && rss > max
        {
            return Verdict {
                passed: false,
                warning: false,
                detail: format!("RSS {} above memory_max {}", mb(rss), mb(max)),
                over_max: Some(rss),
            };
        }
        let mut warnings = Vec::new();
        if let Some(warn) = self.limits.memory_warn
            && rss > warn
        {
            warnings.push(format!("above memory_warn {}", mb(warn)));
        }
        if let (Some(limit), Some(cpu)) = (self.limits.cpu_warn, cpu) {
            if cpu > limit {
                let since = *self.cpu_high_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= self.limits.cpu_for {
                    warnings.push(format!(
                        "CPU above {limit}% for {}",
                        humantime::format_duration(Duration::from_secs(
                            now.saturating_duration_since(since).as_secs()
                        ))
                    ));
                }
            } else {
                self.cpu_high_since = None;
            }
        }
        if let Some(leak) = self.leak() {
            warnings.push(leak);
        }
        if !warnings.is_empty() {
            detail = format!("{detail}: {}", warnings.join("; "));
        }
        Verdict {
            passed: true,
            warning: !warnings.is_empty(),
            detail,
            over_max: None,
        }
    }

    fn remember(&mut self, now: Instant, rss: u64) {
        let window = self.limits.leak_window;
        if window.is_zero() {
            return;
        }
        self.memory.push_back((now, rss));
        while self
            .memory
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > window)
        {
            self.memory.pop_front();
        }
    }

    /// A steady rise over (nearly) the whole window: a fitted line that
    /// explains most of the samples (R² ≥ 0.8) and a growth of at least 10%
    /// and 10 MB.
    fn leak(&self) -> Option<String> {
        let window = self.limits.leak_window;
        let (first_t, first) = *self.memory.front()?;
        let (last_t, last) = *self.memory.back()?;
        let span = last_t.saturating_duration_since(first_t);
        if window.is_zero() || self.memory.len() < 10 || span < window.mul_f64(0.9) {
            return None;
        }
        let xs: Vec<f64> = self
            .memory
            .iter()
            .map(|(t, _)| t.saturating_duration_since(first_t).as_secs_f64())
            .collect();
        let ys: Vec<f64> = self.memory.iter().map(|(_, b)| *b as f64).collect();
        let n = xs.len() as f64;
        let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
        let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
        let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
        let syy: f64 = ys.iter().map(|y| (y - my).powi(2)).sum();
        if sxx == 0.0 || syy == 0.0 {
            return None;
        }
        let slope = sxy / sxx;
        let r2 = sxy * sxy / (sxx * syy);
        let grew = last.saturating_sub(first);
        (slope > 0.0 && r2 >= 0.8 && grew as f64 >= first as f64 * 0.1 && grew >= 10_000_000).then(
            || {
                format!(
                    "memory grew steadily from {} to {} over {} (a leak?)",
                    mb(first),
                    mb(last),
                    humantime::format_duration(Duration::from_secs(span.as_secs()))
                )
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ProcessLimits {
        ProcessLimits {
            memory_warn: Some(400_000_000),
            memory_max: Some(480_000_000),
            cpu_warn: Some(80.0),
            cpu_for: Duration::from_secs(60),
            leak_window: Duration::from_secs(600),
        }
    }

    fn proc(pid: i32, rss_bytes: u64, ticks: u64) -> ProcInfo {
        ProcInfo {
            pid,
            ppid: 1,
            pgrp: pid,
            session: pid,
            start_time: 7,
            rss_pages: rss_bytes / 4096,
            cpu_ticks: ticks,
            zombie: false,
        }
    }

    #[test]
    fn memory_thresholds() {
        let t = Instant::now();
        let mut s = ProcessSampler::new(limits(), 100);
        let v = s.sample(&[proc(1, 100_000_000, 0), proc(2, 50_003_968, 0)], 4096, t);
        assert!(v.passed && !v.warning, "{v:?}");
        assert_eq!(v.detail, "RSS 150.0 MB in 2 processes");
        let v = s.sample(
            &[proc(1, 410_000_128, 0)],
            4096,
            t + Duration::from_secs(10),
        );
        assert!(v.passed && v.warning);
        assert_eq!(
            v.detail,
            "RSS 410.0 MB in 1 process, CPU 0.0%: above memory_warn 400.0 MB"
        );
        let v = s.sample(
            &[proc(1, 500_002_816, 0)],
            4096,
            t + Duration::from_secs(20),
        );
        assert!(!v.passed);
        assert_eq!(v.detail, "RSS 500.0 MB above memory_max 480.0 MB");
        assert_eq!(v.over_max, Some(500_002_816));
    }

    /// Cgroup mode: the same thresholds over the cgroup's totals; CPU from
    /// the change of its CPU seconds.
    #[test]
    fn a_cgroup_total_is_judged_like_a_tree() {
        let t = Instant::now();
        let mut s = ProcessSampler::new(limits(), 100);
        let v = s.sample_totals(150_000_000, 10.0, 3, t);
        assert_eq!(v.detail, "RSS 150.0 MB in 3 processes");
        // 90 s of CPU in 100 s: 90%, above cpu_warn, held for cpu_for.
        let v = s.sample_totals(150_000_000, 100.0, 3, t + Duration::from_secs(100));
        assert!(
            v.detail
                .starts_with("RSS 150.0 MB in 3 processes, CPU 90.0%"),
            "{v:?}"
        );
        let v = s.sample_totals(150_000_000, 190.0, 3, t + Duration::from_secs(200));
        assert!(
            v.warning && v.detail.contains("CPU above 80% for 1m 40s"),
            "{v:?}"
        );
        let v = s.sample_totals(500_000_000, 191.0, 3, t + Duration::from_secs(210));
        assert_eq!((v.passed, v.over_max), (false, Some(500_000_000)));
    }

    #[test]
    fn cpu_must_stay_high_for_cpu_for() {
        let t = Instant::now();
        let mut s = ProcessSampler::new(limits(), 100);
        // 100 ticks/s = one full core = 100%.
        let mut ticks = 0;
        let mut warned_at = None;
        for i in 0..=8 {
            let v = s.sample(
                &[proc(1, 1_000_000, ticks)],
                4096,
                t + Duration::from_secs(i * 10),
            );
            if v.warning && warned_at.is_none() {
                warned_at = Some(i * 10);
                assert!(v.detail.ends_with("CPU above 80% for 1m"), "{}", v.detail);
            }
            ticks += 950; // 95% of a core over each 10 s
        }
        // High from the sample at 10 s on; 60 s later it is sustained.
        assert_eq!(warned_at, Some(70));
        // A calm sample (no CPU used since the last one) resets it.
        let v = s.sample(
            &[proc(1, 1_000_000, ticks - 950)],
            4096,
            t + Duration::from_secs(90),
        );
        assert!(!v.warning);
    }

    #[test]
    fn steady_growth_over_the_window_is_a_leak_and_noise_is_not() {
        let t = Instant::now();
        let mut leaky = ProcessSampler::new(limits(), 100);
        let mut noisy = ProcessSampler::new(limits(), 100);
        let mut leak = None;
        let mut noise = false;
        for i in 0..=60u64 {
            let now = t + Duration::from_secs(i * 10);
            let v = leaky.sample(&[proc(1, 100_000_000 + i * 1_000_000, 0)], 4096, now);
            leak = leak.or(v.warning.then_some(v.detail));
            let wobble = if i % 2 == 0 { 30_000_000 } else { 0 };
            noise |= noisy
                .sample(&[proc(1, 100_000_000 + wobble, 0)], 4096, now)
                .warning;
        }
        let leak = leak.expect("a leak is reported");
        assert!(
            leak.contains("memory grew steadily from 100.0 MB to "),
            "{leak}"
        );
        assert!(!noise, "oscillation is not a leak");
    }

    #[test]
    fn a_reused_pid_does_not_count_as_cpu() {
        let t = Instant::now();
        let mut s = ProcessSampler::new(limits(), 100);
        s.sample(&[proc(1, 1, 500)], 1, t);
        let mut reborn = proc(1, 1, 10);
        reborn.start_time = 99;
        let v = s.sample(&[reborn], 1, t + Duration::from_secs(10));
        assert!(v.detail.ends_with("CPU 0.0%"), "{}", v.detail);
    }
}
