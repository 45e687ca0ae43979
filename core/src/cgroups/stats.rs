//! What `stats` reports, and parsers for the cgroup files it comes from.

use serde::Serialize;

/// A snapshot of one container's cgroup accounting.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes charged now (v1 memory.usage_in_bytes, v2 memory.current).
    pub memory_usage: u64,
    /// Highest charge seen (v1 memory.max_usage_in_bytes, v2 memory.peak; 0 if the kernel lacks it).
    pub memory_peak: u64,
    /// The memory limit in force; None when unlimited.
    pub memory_limit: Option<u64>,
    /// CPU time used, all cpus, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// User-mode part of `cpu_usage_ns`.
    pub cpu_user_ns: u64,
    /// Kernel-mode part of `cpu_usage_ns`.
    pub cpu_system_ns: u64,
    /// Processes (v1/v2 pids.current: tasks) in the cgroup now.
    pub pids_current: u64,
    /// pids.max; None when unlimited.
    pub pids_limit: Option<u64>,
    /// How many processes the OOM killer ended in this cgroup.
    pub oom_kills: u64,
}

/// The value of `key` in a flat-keyed file (`key value` lines: memory.events, cpu.stat,
/// cgroup.events, memory.oom_control).
pub(crate) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next().and_then(|v| v.parse().ok())).flatten()
    })
}

/// A limit file's value: `max` (v2) or a v1 "unlimited" number (>= 2^62, e.g.
/// 9223372036854771712) mean None.
pub(crate) fn limit_value(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        return None;
    }
    match t.parse::<i64>() {
        Ok(v) if (0..(1i64 << 62)).contains(&v) => Some(v as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_keyed_files() {
        let events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(keyed(events, "oom_kill"), Some(2));
        assert_eq!(keyed(events, "oom"), Some(3));
        assert_eq!(keyed(events, "nope"), None);
        let oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n";
        assert_eq!(keyed(oom_control, "oom_kill"), Some(7));
        let cpu = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n";
        assert_eq!(keyed(cpu, "user_usec"), Some(1000));
        assert_eq!(keyed("populated 1\nfrozen 0\n", "frozen"), Some(0));
    }

    #[test]
    fn cgroups_limit_values() {
        assert_eq!(limit_value("max\n"), None);
        assert_eq!(limit_value("9223372036854771712\n"), None);
        assert_eq!(limit_value("33554432\n"), Some(33_554_432));
        assert_eq!(limit_value("-1"), None);
        assert_eq!(limit_value("garbage"), None);
    }
}
