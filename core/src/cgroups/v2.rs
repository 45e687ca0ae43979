//! The v2 driver: one directory in the unified hierarchy at /sys/fs/cgroup.
//!
//! Written as plain files rather than through cgroups-rs: its v2 create enables controllers by
//! writing cgroup.subtree_control from the hierarchy root down, unconditionally (also into
//! cgroups this runtime does not own, and failing silently), cannot tell which directories it
//! made, and its Resources cannot express OCI's swap (memory+swap) or "leave cpu.max's period
//! alone"; the files are simple enough to write directly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;

use super::driver::{make_dirs, read_file, remove_tree, wait_until, write_file, write_limit, OwnCgroup, Placement, CGROUP_ROOT};
use super::resources::{blkio_weight_to_io_weight, shares_to_weight, swap_to_v2};
use super::stats::{keyed, limit_value, Stats};
use crate::error::{Error, Result};

const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub(crate) struct V2 {
    pub dir: PathBuf,
    pub created: Vec<PathBuf>,
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// Controllers available in `dir` but not enabled for its children.
fn controllers_missing(dir: &Path) -> Vec<String> {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let enabled: Vec<&str> = enabled.split_whitespace().collect();
    available.split_whitespace().filter(|c| !enabled.contains(c)).map(String::from).collect()
}

/// Enables every available controller in `dir`'s cgroup.subtree_control that is not enabled
/// yet (only writes when something is missing). Failures are left for the limit writes to
/// report: a controller that could not be enabled shows up as a missing file there.
fn enable_controllers(dir: &Path) {
    for c in controllers_missing(dir) {
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
    }
}

impl V2 {
    /// With `dry`, nothing is made or enabled (see `make_dirs`).
    pub(crate) fn create(placement: &Placement, own: &[OwnCgroup], dry: bool) -> Result<V2> {
        let mount = Path::new(CGROUP_ROOT);
        let own_path = own.iter().find(|o| o.controllers.is_empty()).map(|o| o.path.clone()).unwrap_or_default();
        let dir = placement.dir(mount, &own_path);
        // Controllers must be enabled in every ancestor's subtree_control for the leaf to have
        // their files; this touches ancestors only when a controller is missing there.
        let mut ancestors: Vec<&Path> = dir.ancestors().skip(1).take_while(|a| a.starts_with(mount)).collect();
        ancestors.reverse();
        // The no-internal-process rule: a non-root cgroup that has processes cannot enable
        // controllers for its children (the kernel answers EBUSY, and moving a process into a
        // child whose threaded controllers got enabled fails with EOPNOTSUPP). Refuse before
        // touching anything rather than half-enabling controllers in a cgroup we do not own.
        for a in ancestors.iter().filter(|a| **a != mount && a.exists()) {
            let missing = controllers_missing(a);
            let busy = std::fs::read_to_string(a.join("cgroup.procs")).map(|t| !t.trim().is_empty()).unwrap_or(false);
            if !missing.is_empty() && busy {
                return Err(Error::Unsupported(format!(
                    "cgroup v2: cannot create the container's cgroup {} under {}: that cgroup has processes, so the kernel forbids enabling controllers ({}) for its children (no-internal-process rule); give an absolute linux.cgroupsPath, or run the caller in a leaf cgroup of a delegated subtree",
                    dir.display(),
                    a.display(),
                    missing.join(" ")
                )));
            }
        }
        let mut v = V2 { dir: dir.clone(), created: Vec::new() };
        let mut result = Ok(());
        for a in ancestors {
            if !a.exists() {
                result = make_dirs(mount, a, &mut v.created, dry);
                if result.is_err() {
                    break;
                }
            }
            if !dry {
                enable_controllers(a);
            }
        }
        if result.is_ok() {
            result = make_dirs(mount, &dir, &mut v.created, dry);
        }
        if let Err(e) = result {
            for d in v.created.iter().rev() {
                let _ = remove_tree(d);
            }
            return Err(e);
        }
        Ok(v)
    }

    pub(crate) fn apply(&self, r: &LinuxResources) -> Result<()> {
        const F: &str = "linux.resources";
        let dir = self.dir.as_path();
        if let Some(m) = r.memory() {
            let limit = m.limit().filter(|v| *v != 0);
            if let Some(l) = limit {
                write_limit(dir, "memory.max", &max_or(l), &format!("{F}.memory.limit"))?;
            }
            let swap = m.swap().unwrap_or(0);
            if swap != 0 || limit == Some(-1) {
                // swap is OCI's memory+swap total; memory.swap.max is swap alone.
                let effective = match limit {
                    Some(l) => l,
                    None => limit_value(&read_file(dir, "memory.max")?).map(|v| v as i64).unwrap_or(-1),
                };
                let v = swap_to_v2(swap, effective).map_err(|reason| Error::invalid(format!("{F}.memory.swap"), swap, reason))?;
                if let Some(v) = v {
                    if v == -1 && !dir.join("memory.swap.max").exists() {
                        // no swap accounting: unlimited is what we have anyway
                    } else {
                        write_limit(dir, "memory.swap.max", &max_or(v), &format!("{F}.memory.swap"))?;
                    }
                }
            }
            if let Some(v) = m.reservation().filter(|v| *v != 0) {
                write_limit(dir, "memory.low", &max_or(v), &format!("{F}.memory.reservation"))?;
            }
            // swappiness, disableOOMKiller and kmem have no v2 equivalent; runc ignores them too.
        }
        if let Some(c) = r.cpu() {
            if let Some(s) = c.shares().filter(|v| *v != 0) {
                write_limit(dir, "cpu.weight", &shares_to_weight(s).to_string(), &format!("{F}.cpu.shares"))?;
            }
            let quota = c.quota().filter(|v| *v != 0);
            let period = c.period().filter(|v| *v != 0);
            if quota.is_some() || period.is_some() {
                // cpu.max holds both: keep the part the request leaves alone.
                let current = read_file(dir, "cpu.max")?;
                let mut it = current.split_whitespace();
                let (cur_q, cur_p) = (it.next().unwrap_or("max").to_string(), it.next().unwrap_or("100000").to_string());
                let q = quota.map(max_or).unwrap_or(cur_q);
                let p = period.map(|p| p.to_string()).unwrap_or(cur_p);
                write_limit(dir, "cpu.max", &format!("{q} {p}"), &format!("{F}.cpu.quota/period"))?;
            }
            if let Some(b) = c.burst() {
                write_limit(dir, "cpu.max.burst", &b.to_string(), &format!("{F}.cpu.burst"))?;
            }
            if let Some(i) = c.idle() {
                write_limit(dir, "cpu.idle", &i.to_string(), &format!("{F}.cpu.idle"))?;
            }
            if c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0) {
                return Err(Error::Unsupported(format!("{F}.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime cpu controller")));
            }
            for (name, file, value) in [("cpus", "cpuset.cpus", c.cpus()), ("mems", "cpuset.mems", c.mems())] {
                if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                    write_limit(dir, file, v, &format!("{F}.cpu.{name}"))?;
                }
            }
        }
        if let Some(p) = r.pids() {
            let v = if p.limit() > 0 { p.limit().to_string() } else { "max".to_string() };
            write_limit(dir, "pids.max", &v, &format!("{F}.pids.limit"))?;
        }
        if let Some(b) = r.block_io() {
            let field = format!("{F}.blockIO");
            // io.weight needs a scheduler with weights; with BFQ the file is io.bfq.weight
            // (same 1..10000 scale here as runc uses).
            let weight_file = if dir.join("io.weight").exists() { "io.weight" } else { "io.bfq.weight" };
            if let Some(w) = b.weight().filter(|w| *w != 0) {
                write_limit(dir, weight_file, &format!("default {}", blkio_weight_to_io_weight(w)), &format!("{field}.weight"))?;
            }
            if b.leaf_weight().is_some_and(|w| w != 0) {
                return Err(Error::Unsupported(format!("{field}.leafWeight: cgroup v2 has no leaf weight")));
            }
            for (i, d) in b.weight_device().iter().flatten().enumerate() {
                if let Some(w) = d.weight().filter(|w| *w != 0) {
                    write_limit(
                        dir,
                        weight_file,
                        &format!("{}:{} {}", d.major(), d.minor(), blkio_weight_to_io_weight(w)),
                        &format!("{field}.weightDevice[{i}]"),
                    )?;
                }
            }
            for (name, key, list) in [
                ("throttleReadBpsDevice", "rbps", b.throttle_read_bps_device()),
                ("throttleWriteBpsDevice", "wbps", b.throttle_write_bps_device()),
                ("throttleReadIOPSDevice", "riops", b.throttle_read_iops_device()),
                ("throttleWriteIOPSDevice", "wiops", b.throttle_write_iops_device()),
            ] {
                for (i, d) in list.iter().flatten().enumerate() {
                    let rate = if d.rate() == 0 { "max".to_string() } else { d.rate().to_string() };
                    write_limit(dir, "io.max", &format!("{}:{} {key}={rate}", d.major(), d.minor()), &format!("{field}.{name}[{i}]"))?;
                }
            }
        }
        for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
            write_limit(dir, &format!("hugetlb.{}.max", h.page_size()), &max_or(h.limit()), &format!("{F}.hugepageLimits[{i}]"))?;
        }
        if r.network().as_ref().is_some_and(|n| n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty())) {
            return Err(Error::Unsupported(format!("{F}.network: net_cls/net_prio do not exist on cgroup v2")));
        }
        for (k, v) in r.unified().iter().flatten() {
            write_limit(dir, k, v, &format!("{F}.unified.{k}"))?;
        }
        if let Some(devs) = r.devices() {
            super::device_bpf::apply(dir, devs)?;
        }
        Ok(())
    }

    pub(crate) fn stats(&self) -> Result<Stats> {
        let d = self.dir.as_path();
        let opt = |f: &str| std::fs::read_to_string(d.join(f)).ok();
        let mut s = Stats::default();
        if let Some(t) = opt("memory.current") {
            s.memory_usage = t.trim().parse().unwrap_or(0);
        }
        s.memory_peak = opt("memory.peak").and_then(|t| t.trim().parse().ok()).unwrap_or(0);
        s.memory_limit = opt("memory.max").and_then(|t| limit_value(&t));
        let cpu = read_file(d, "cpu.stat")?;
        s.cpu_usage_ns = keyed(&cpu, "usage_usec").unwrap_or(0) * 1000;
        s.cpu_user_ns = keyed(&cpu, "user_usec").unwrap_or(0) * 1000;
        s.cpu_system_ns = keyed(&cpu, "system_usec").unwrap_or(0) * 1000;
        s.pids_current = opt("pids.current").and_then(|t| t.trim().parse().ok()).unwrap_or(0);
        s.pids_limit = opt("pids.max").and_then(|t| limit_value(&t));
        s.oom_kills = self.oom_kill_count();
        Ok(s)
    }

    fn frozen_now(&self) -> Option<bool> {
        std::fs::read_to_string(self.dir.join("cgroup.events")).ok().and_then(|t| keyed(&t, "frozen")).map(|v| v == 1)
    }

    fn set_freeze(&self, on: bool) -> Result<()> {
        if !self.dir.join("cgroup.freeze").exists() {
            return Err(Error::Unsupported("pause: this kernel has no cgroup.freeze (needs Linux 5.2)".into()));
        }
        let v = if on { "1" } else { "0" };
        write_file(&self.dir, "cgroup.freeze", v)?;
        if !wait_until(FREEZE_TIMEOUT, || self.frozen_now() == Some(on), || {}) {
            if on {
                let _ = write_file(&self.dir, "cgroup.freeze", "0");
            }
            return Err(Error::Timeout(FREEZE_TIMEOUT));
        }
        Ok(())
    }

    pub(crate) fn freeze(&self) -> Result<()> {
        self.set_freeze(true)
    }

    pub(crate) fn thaw(&self) -> Result<()> {
        self.set_freeze(false)
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.frozen_now() == Some(true)
    }

    pub(crate) fn oom_kill_count(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("memory.events")).ok().and_then(|t| keyed(&t, "oom_kill")).unwrap_or(0)
    }
}
