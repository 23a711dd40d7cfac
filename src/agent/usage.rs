//! CPU and memory usage for `kubectl top`: cumulative samples of each container (from the
//! runtime) and of the node (`/proc/stat`, `/proc/meminfo`), turned into rates between two
//! samples (pure), as metrics-server does with the kubelet's summaries.

use std::collections::HashMap;

/// One reading of a container or the node: CPU time used so far and memory in use now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// CPU time used since start, in nanoseconds.
    pub cpu_ns: u64,
    /// Working set in bytes.
    pub memory_bytes: u64,
    /// When it was taken (nanoseconds on a monotonic clock).
    pub at_ns: u64,
}

/// Usage over a window: CPU in nanocores (1e9 = one core), memory in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Average CPU over the window.
    pub cpu_nanocores: u64,
    /// Memory at the end of the window.
    pub memory_bytes: u64,
}

/// The usage between two samples of the same thing; None if they cannot be compared (the
/// counter went back: a restart).
pub fn rate(prev: Sample, now: Sample) -> Option<Usage> {
    let dt = now.at_ns.checked_sub(prev.at_ns).filter(|d| *d > 0)?;
    let used = now.cpu_ns.checked_sub(prev.cpu_ns)?;
    Some(Usage {
        cpu_nanocores: (u128::from(used) * 1_000_000_000 / u128::from(dt)) as u64,
        memory_bytes: now.memory_bytes,
    })
}

/// Keeps the previous sample of everything it is given and turns new ones into rates.
#[derive(Debug, Default)]
pub struct Rates {
    last: HashMap<String, Sample>,
}

impl Rates {
    /// Record `now` for `key`; the usage since the previous sample, if any.
    pub fn update(&mut self, key: &str, now: Sample) -> Option<Usage> {
        let prev = self.last.insert(key.to_string(), now);
        prev.and_then(|p| rate(p, now))
    }

    /// Forget keys not in `keep` (containers that are gone).
    pub fn retain(&mut self, keep: &std::collections::HashSet<String>) {
        self.last.retain(|k, _| keep.contains(k));
    }
}

/// Clock ticks per second for `/proc` times.
fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |t| t as u64)
}

/// Nanoseconds on a monotonic clock (since the first call in this process).
pub fn now_ns() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

/// The node: non-idle CPU time of all CPUs and memory in use (MemTotal − MemAvailable).
pub fn node_sample() -> Option<Sample> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = cpu
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
        .map(|(_, v)| v)
        .sum();
    let mem = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        mem.lines()
            .find_map(|l| l.strip_prefix(name))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()
            .map(|kb| kb * 1024)
    };
    let used = field("MemTotal:")?.saturating_sub(field("MemAvailable:")?);
    Some(Sample {
        cpu_ns: busy * 1_000_000_000 / ticks_per_second(),
        memory_bytes: used,
        at_ns: now_ns(),
    })
}

/// Processes of the session `sid` (a process-runtime container: its shim leads a session),
/// without the leader itself: CPU time and resident memory summed.
pub fn session_sample(sid: i32) -> Sample {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as u64);
    let ticks = ticks_per_second();
    let mut s = Sample {
        at_ns: now_ns(),
        ..Default::default()
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return s;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == sid {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        // After the command: state(0) ppid(1) pgrp(2) session(3) … utime(11) stime(12) … rss(21)
        if f.get(3).and_then(|v| v.parse::<i32>().ok()) != Some(sid) {
            continue;
        }
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        s.cpu_ns += (num(11) + num(12)) * 1_000_000_000 / ticks;
        s.memory_bytes += num(21) * page;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(cpu_ns: u64, at_ns: u64) -> Sample {
        Sample {
            cpu_ns,
            memory_bytes: 7,
            at_ns,
        }
    }

    #[test]
    fn rates_are_cpu_time_over_wall_time() {
        // Half a second of CPU in one second: half a core.
        let u = rate(sample(0, 0), sample(500_000_000, 1_000_000_000)).unwrap();
        assert_eq!(u.cpu_nanocores, 500_000_000);
        assert_eq!(u.memory_bytes, 7);
        // A counter that went back (a restart) or no time passed: no rate.
        assert!(rate(sample(10, 0), sample(5, 10)).is_none());
        assert!(rate(sample(0, 5), sample(1, 5)).is_none());
        let mut r = Rates::default();
        assert!(r.update("a", sample(0, 0)).is_none());
        assert_eq!(
            r.update("a", sample(2_000_000_000, 1_000_000_000))
                .unwrap()
                .cpu_nanocores,
            2_000_000_000
        );
    }

    #[test]
    fn the_node_and_this_session_can_be_read() {
        let n = node_sample().unwrap();
        assert!(n.cpu_ns > 0 && n.memory_bytes > 0);
        // Our own session has at least this test process in it.
        let sid = nix::unistd::getsid(None).unwrap().as_raw();
        let s = session_sample(sid);
        assert!(s.memory_bytes > 0 || sid == std::process::id() as i32);
    }
}
