//! The v1 driver (v1 hosts and hybrid hosts): a directory in every mounted v1 hierarchy.
//!
//! cgroups-rs is used for reading accounting (memory, cpuacct) and the freezer. Limits are
//! written as plain files here because cgroups-rs falls short for them: its memory `apply`
//! writes memory.limit_in_bytes before memory.memsw.limit_in_bytes unconditionally (the kernel
//! refuses one of the two orders depending on the current values), its errors lose the file and
//! value that our errors must name, its Resources cannot say "leave this field alone", and its
//! create cannot tell which directories it made (needed to remove exactly those).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cgroups_rs::fs::cpuacct::CpuAcctController;
use cgroups_rs::fs::freezer::FreezerController;
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::FreezerState;
use oci_spec::runtime::LinuxResources;

use super::driver::{make_dirs, read_file, remove_tree, wait_until, write_file, write_limit, ControlFiles, OwnCgroup, Placement, CGROUP_ROOT};
use super::stats::{keyed, limit_value, Stats};
use crate::error::{Error, Result};

const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub(crate) struct V1 {
    /// (hierarchy dir name under /sys/fs/cgroup, the container's directory in it).
    pub dirs: Vec<(String, PathBuf)>,
    pub created: Vec<PathBuf>,
}

/// The controllers (and `name=` of named hierarchies) of a hierarchy, from its mount options.
fn controllers_of(hierarchy: &str) -> BTreeSet<String> {
    let opts = super::host().v1.iter().find(|h| h.dir == hierarchy).map(|h| h.options.clone()).unwrap_or_else(|| hierarchy.to_string());
    opts.split(',')
        .filter(|o| {
            !o.is_empty() && !matches!(*o, "none" | "xattr" | "noprefix" | "clone_children" | "cpuset_v2_mode" | "rw" | "ro") && !o.starts_with("release_agent")
        })
        .map(String::from)
        .collect()
}

impl V1 {
    /// With `dry`, nothing is made (see `make_dirs`).
    pub(crate) fn create(placement: &Placement, own: &[OwnCgroup], dry: bool) -> Result<V1> {
        let hierarchies = &super::host().v1;
        if hierarchies.is_empty() {
            return Err(Error::Unsupported("no cgroup v1 hierarchy is mounted under /sys/fs/cgroup".into()));
        }
        let mut v = V1 { dirs: Vec::new(), created: Vec::new() };
        for h in hierarchies {
            let mount = Path::new(CGROUP_ROOT).join(&h.dir);
            let ctrls = controllers_of(&h.dir);
            let own_path = own
                .iter()
                .find(|o| o.controllers == ctrls)
                .or_else(|| own.iter().find(|o| !o.controllers.is_disjoint(&ctrls)))
                .map(|o| o.path.clone())
                .unwrap_or_default();
            let own_path = own_path.strip_prefix(&h.root).map(Path::to_path_buf).unwrap_or(own_path);
            let dir = placement.dir(&mount, &own_path);
            let first_new = v.created.len();
            let made = make_dirs(&mount, &dir, &mut v.created, dry);
            v.dirs.push((h.dir.clone(), dir));
            let made = made.and_then(|()| {
                if ctrls.contains("cpuset") && !dry {
                    // A new cpuset cgroup starts with empty cpus/mems and refuses tasks until
                    // they are set: copy them down from the parent, top-down.
                    for d in &v.created[first_new..] {
                        copy_cpuset_from_parent(d)?;
                    }
                }
                Ok(())
            });
            if let Err(e) = made {
                for d in v.created.iter().rev() {
                    let _ = remove_tree(d);
                }
                return Err(e);
            }
        }
        Ok(v)
    }

    /// The container's directory of the hierarchy holding `controller`.
    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs.iter().find(|(h, _)| controllers_of(h).contains(controller)).map(|(_, d)| d.as_path())
    }

    fn need(&self, controller: &str, field: &str) -> Result<&Path> {
        self.dir(controller).ok_or_else(|| Error::Unsupported(format!("{field}: the {controller} cgroup controller is not mounted on this host")))
    }

    pub(crate) fn apply(&self, r: &LinuxResources) -> Result<()> {
        const F: &str = "linux.resources";
        if let Some(m) = r.memory() {
            let limit = m.limit().filter(|v| *v != 0);
            // As runc: unlimited memory with swap unsaid means unlimited memory+swap too.
            let swap = m.swap().filter(|v| *v != 0).or(if limit == Some(-1) { Some(-1) } else { None });
            if limit.is_some() || swap.is_some() || m.reservation().is_some() || m.swappiness().is_some() || m.disable_oom_killer().is_some() {
                let dir = self.need("memory", &format!("{F}.memory"))?;
                set_memory_and_swap(dir, limit, swap)?;
                if let Some(v) = m.reservation().filter(|v| *v != 0) {
                    write_limit(dir, "memory.soft_limit_in_bytes", &v.to_string(), &format!("{F}.memory.reservation"))?;
                }
                if let Some(v) = m.swappiness() {
                    write_limit(dir, "memory.swappiness", &v.to_string(), &format!("{F}.memory.swappiness"))?;
                }
                if let Some(v) = m.disable_oom_killer() {
                    write_limit(dir, "memory.oom_control", if v { "1" } else { "0" }, &format!("{F}.memory.disableOOMKiller"))?;
                }
                // kernel / kernelTCP (kmem) are ignored as runc does: obsolete since Linux 5.4.
            }
        }
        if let Some(c) = r.cpu() {
            let wants_cpu = c.shares().is_some_and(|v| v != 0)
                || c.quota().is_some_and(|v| v != 0)
                || c.period().is_some_and(|v| v != 0)
                || c.realtime_runtime().is_some()
                || c.realtime_period().is_some_and(|v| v != 0)
                || c.idle().is_some()
                || c.burst().is_some();
            if wants_cpu {
                let dir = self.need("cpu", &format!("{F}.cpu"))?;
                if let Some(v) = c.shares().filter(|v| *v != 0) {
                    write_limit(dir, "cpu.shares", &v.to_string(), &format!("{F}.cpu.shares"))?;
                }
                let period = c.period().filter(|v| *v != 0);
                let quota = c.quota().filter(|v| *v != 0);
                if let Some(p) = period {
                    // A new period can break the quota/period ratio against the parent; runc
                    // then writes the quota first and retries.
                    if let Err(e) = write_limit(dir, "cpu.cfs_period_us", &p.to_string(), &format!("{F}.cpu.period")) {
                        let Some(q) = quota else { return Err(e) };
                        write_limit(dir, "cpu.cfs_quota_us", &q.to_string(), &format!("{F}.cpu.quota"))?;
                        write_limit(dir, "cpu.cfs_period_us", &p.to_string(), &format!("{F}.cpu.period"))?;
                    }
                }
                if let Some(q) = quota {
                    write_limit(dir, "cpu.cfs_quota_us", &q.to_string(), &format!("{F}.cpu.quota"))?;
                }
                if let Some(b) = c.burst() {
                    write_limit(dir, "cpu.cfs_burst_us", &b.to_string(), &format!("{F}.cpu.burst"))?;
                }
                if let Some(p) = c.realtime_period().filter(|v| *v != 0) {
                    write_limit(dir, "cpu.rt_period_us", &p.to_string(), &format!("{F}.cpu.realtimePeriod"))?;
                }
                if let Some(rt) = c.realtime_runtime() {
                    write_limit(dir, "cpu.rt_runtime_us", &rt.to_string(), &format!("{F}.cpu.realtimeRuntime"))?;
                }
                if let Some(i) = c.idle() {
                    write_limit(dir, "cpu.idle", &i.to_string(), &format!("{F}.cpu.idle"))?;
                }
            }
            for (name, file, value) in [("cpus", "cpuset.cpus", c.cpus()), ("mems", "cpuset.mems", c.mems())] {
                if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                    let field = format!("{F}.cpu.{name}");
                    write_limit(self.need("cpuset", &field)?, file, v, &field)?;
                }
            }
        }
        if let Some(p) = r.pids() {
            let field = format!("{F}.pids.limit");
            let v = if p.limit() > 0 { p.limit().to_string() } else { "max".to_string() };
            write_limit(self.need("pids", &field)?, "pids.max", &v, &field)?;
        }
        if let Some(b) = r.block_io() {
            let field = format!("{F}.blockIO");
            let has_any = b.weight().is_some_and(|w| w != 0)
                || b.leaf_weight().is_some_and(|w| w != 0)
                || [
                    b.weight_device().as_ref().map(Vec::len),
                    b.throttle_read_bps_device().as_ref().map(Vec::len),
                    b.throttle_write_bps_device().as_ref().map(Vec::len),
                    b.throttle_read_iops_device().as_ref().map(Vec::len),
                    b.throttle_write_iops_device().as_ref().map(Vec::len),
                ]
                .into_iter()
                .any(|n| n.unwrap_or(0) > 0);
            if has_any {
                let dir = self.need("blkio", &field)?;
                // Kernels with only BFQ (no CFQ, 5.0+) have blkio.bfq.* instead of blkio.weight.
                let weight_file = if dir.join("blkio.weight").exists() { "blkio.weight" } else { "blkio.bfq.weight" };
                if let Some(w) = b.weight().filter(|w| *w != 0) {
                    write_limit(dir, weight_file, &w.to_string(), &format!("{field}.weight"))?;
                }
                if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
                    write_limit(dir, "blkio.leaf_weight", &w.to_string(), &format!("{field}.leafWeight"))?;
                }
                for (i, d) in b.weight_device().iter().flatten().enumerate() {
                    if let Some(w) = d.weight().filter(|w| *w != 0) {
                        write_limit(dir, &format!("{weight_file}_device"), &format!("{}:{} {w}", d.major(), d.minor()), &format!("{field}.weightDevice[{i}]"))?;
                    }
                    if let Some(w) = d.leaf_weight().filter(|w| *w != 0) {
                        write_limit(dir, "blkio.leaf_weight_device", &format!("{}:{} {w}", d.major(), d.minor()), &format!("{field}.weightDevice[{i}]"))?;
                    }
                }
                for (name, file, list) in [
                    ("throttleReadBpsDevice", "blkio.throttle.read_bps_device", b.throttle_read_bps_device()),
                    ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device", b.throttle_write_bps_device()),
                    ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device", b.throttle_read_iops_device()),
                    ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", b.throttle_write_iops_device()),
                ] {
                    for (i, d) in list.iter().flatten().enumerate() {
                        write_limit(dir, file, &format!("{}:{} {}", d.major(), d.minor(), d.rate()), &format!("{field}.{name}[{i}]"))?;
                    }
                }
            }
        }
        for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
            let field = format!("{F}.hugepageLimits[{i}]");
            // On hybrid hosts hugetlb may live only in the unified tree; v1 limits need it in v1.
            let dir = self.need("hugetlb", &field)?;
            write_limit(dir, &format!("hugetlb.{}.limit_in_bytes", h.page_size()), &h.limit().to_string(), &field)?;
        }
        if let Some(n) = r.network() {
            if let Some(id) = n.class_id() {
                let field = format!("{F}.network.classID");
                write_limit(self.need("net_cls", &field)?, "net_cls.classid", &id.to_string(), &field)?;
            }
            for (i, p) in n.priorities().iter().flatten().enumerate() {
                let field = format!("{F}.network.priorities[{i}]");
                write_limit(self.need("net_prio", &field)?, "net_prio.ifpriomap", &format!("{} {}", p.name(), p.priority()), &field)?;
            }
        }
        if let Some(devs) = r.devices() {
            // v1 device controller: start from "deny all", then the rules in order (the OCI
            // list is ordered; later rules win), as the kernel's own semantics allow.
            if let Some(dir) = self.dir("devices") {
                // One open file per control file: the kernel takes each write(2) as one rule.
                let mut files = ControlFiles::new(dir);
                files.write("devices.deny", "a")?;
                // Fifo rules are skipped, as runc does: the controller knows only a, b and c
                // (the kernel never asks it about fifos); `u` (unbuffered char) is `c`.
                use oci_spec::runtime::LinuxDeviceType as T;
                for d in devs.iter().filter(|d| d.typ() != Some(T::P)) {
                    let typ = match d.typ() {
                        Some(T::U) => "c".to_string(),
                        t => t.map(|t| t.as_str().to_string()).unwrap_or_else(|| "a".into()),
                    };
                    let num = |n: Option<i64>| n.filter(|n| *n >= 0).map(|n| n.to_string()).unwrap_or_else(|| "*".into());
                    let access = d.access().as_deref().filter(|a| !a.is_empty()).unwrap_or("rwm");
                    let rule = format!("{typ} {}:{} {access}", num(d.major()), num(d.minor()));
                    files.write(if d.allow() { "devices.allow" } else { "devices.deny" }, &rule)?;
                }
            }
        }
        if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(Error::Unsupported(format!("{F}.unified: needs a cgroup v2 host (this host uses the v1 controllers)")));
        }
        Ok(())
    }

    pub(crate) fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        if let Some(dir) = self.dir("memory") {
            let m = MemController::new(dir.to_path_buf(), dir.to_path_buf(), false).memory_stat();
            s.memory_usage = m.usage_in_bytes;
            s.memory_peak = m.max_usage_in_bytes;
            s.memory_limit = limit_value(&m.limit_in_bytes.to_string());
            s.oom_kills = self.oom_kill_count();
        }
        if let Some(dir) = self.dir("cpuacct") {
            let c = CpuAcctController::new(dir.to_path_buf(), dir.to_path_buf()).cpuacct();
            s.cpu_usage_ns = c.usage;
            s.cpu_user_ns = c.usage_user;
            s.cpu_system_ns = c.usage_sys;
            if s.cpu_user_ns == 0 && s.cpu_system_ns == 0 {
                // Older kernels lack cpuacct.usage_user/_sys: cpuacct.stat is in USER_HZ ticks.
                let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100).max(1);
                s.cpu_user_ns = keyed(&c.stat, "user").unwrap_or(0) * 1_000_000_000 / hz;
                s.cpu_system_ns = keyed(&c.stat, "system").unwrap_or(0) * 1_000_000_000 / hz;
            }
        }
        if let Some(dir) = self.dir("pids") {
            s.pids_current = read_file(dir, "pids.current")?.trim().parse().unwrap_or(0);
            s.pids_limit = limit_value(&read_file(dir, "pids.max")?);
        }
        Ok(s)
    }

    fn freezer(&self) -> Result<FreezerController> {
        let dir = self.dir("freezer").ok_or_else(|| Error::Unsupported("pause: the freezer cgroup controller is not mounted on this host".into()))?;
        Ok(FreezerController::new(dir.to_path_buf(), dir.to_path_buf(), false))
    }

    pub(crate) fn freeze(&self) -> Result<()> {
        let f = self.freezer()?;
        let err = |e: cgroups_rs::fs::error::Error| Error::Sys { op: format!("freeze cgroup: {e}"), errno: nix::errno::Errno::EIO };
        f.freeze().map_err(err)?;
        // FREEZING can stall while a task is in an uninterruptible sleep; writing FROZEN again
        // makes the kernel retry (runc does the same).
        let frozen = wait_until(
            FREEZE_TIMEOUT,
            || matches!(f.state(), Ok(FreezerState::Frozen)),
            || {
                let _ = f.freeze();
            },
        );
        if !frozen {
            let _ = f.thaw();
            return Err(Error::Timeout(FREEZE_TIMEOUT));
        }
        Ok(())
    }

    pub(crate) fn thaw(&self) -> Result<()> {
        let f = self.freezer()?;
        f.thaw().map_err(|e| Error::Sys { op: format!("thaw cgroup: {e}"), errno: nix::errno::Errno::EIO })?;
        if !wait_until(
            FREEZE_TIMEOUT,
            || matches!(f.state(), Ok(FreezerState::Thawed)),
            || {
                let _ = f.thaw();
            },
        ) {
            return Err(Error::Timeout(FREEZE_TIMEOUT));
        }
        Ok(())
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.freezer().map(|f| matches!(f.state(), Ok(FreezerState::Frozen))).unwrap_or(false)
    }

    pub(crate) fn oom_kill_count(&self) -> u64 {
        self.dir("memory").and_then(|d| std::fs::read_to_string(d.join("memory.oom_control")).ok()).and_then(|t| keyed(&t, "oom_kill")).unwrap_or(0)
    }
}

fn copy_cpuset_from_parent(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else { return Ok(()) };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if read_file(dir, file)?.trim().is_empty() {
            write_file(dir, file, read_file(parent, file)?.trim())?;
        }
    }
    Ok(())
}

fn read_i64(dir: &Path, file: &str) -> Result<i64> {
    let t = read_file(dir, file)?;
    // Unlimited reads as 9223372036854771712 (fits i64); be lenient about anything bigger.
    Ok(t.trim().parse::<i64>().unwrap_or(i64::MAX))
}

/// memory.limit_in_bytes and memory.memsw.limit_in_bytes in the order the kernel accepts:
/// memsw must stay >= memory at every moment, so raising memsw goes first and lowering it last.
fn set_memory_and_swap(dir: &Path, limit: Option<i64>, swap: Option<i64>) -> Result<()> {
    const F: &str = "linux.resources.memory";
    let memsw = "memory.memsw.limit_in_bytes";
    let has_memsw = dir.join(memsw).exists();
    let swap = match swap {
        Some(s) if !has_memsw => {
            if s == -1 || Some(s) == limit {
                None // nothing to do without swap accounting
            } else {
                return Err(Error::Unsupported(format!("{F}.swap = {s}: this kernel has no swap accounting ({memsw} is missing; boot with swapaccount=1)")));
            }
        }
        s => s,
    };
    let write_mem = |v: i64| {
        write_limit(dir, "memory.limit_in_bytes", &v.to_string(), &format!("{F}.limit")).map_err(|e| match e {
            Error::Sys { op, errno: nix::errno::Errno::EINVAL } if has_memsw => Error::Sys {
                op: format!(
                    "{op} (the memory limit must not exceed the memory+swap limit {}; set linux.resources.memory.swap too)",
                    read_i64(dir, memsw).unwrap_or(-1)
                ),
                errno: nix::errno::Errno::EINVAL,
            },
            e => e,
        })
    };
    let write_swap = |v: i64| write_limit(dir, memsw, &v.to_string(), &format!("{F}.swap"));
    match (limit, swap) {
        (Some(l), Some(s)) => {
            let current = read_i64(dir, memsw)?;
            if s == -1 || current < s {
                write_swap(s)?;
                write_mem(l)
            } else {
                write_mem(l)?;
                write_swap(s)
            }
        }
        (Some(l), None) => write_mem(l),
        (None, Some(s)) => write_swap(s),
        (None, None) => Ok(()),
    }
}
