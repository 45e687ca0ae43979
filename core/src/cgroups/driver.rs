//! [`Cgroup`]: one container's cgroup, on whichever layout the host has.
//!
//! Two drivers sit behind it: [`super::v1`] (v1 hosts and hybrid hosts: every mounted v1
//! hierarchy gets a directory; limits go to the v1 controllers, as cgroups-rs and runc treat
//! hybrid) and [`super::v2`] (one directory in the unified tree). This file holds what both share:
//! placement, directory creation and removal, process lists, kill-all, and the record that
//! state.json stores.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use super::resources::validate_resources;
use super::stats::Stats;
use super::{host, v1, v2, Layout};
use crate::error::{Error, Result};

/// Where cgroup hierarchies are mounted.
pub(crate) const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One container's cgroup: a directory in every v1 hierarchy (v1 and hybrid hosts) or one
/// directory in the unified hierarchy (v2 hosts). Dropping it does nothing: call
/// [`Cgroup::destroy`].
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub(crate) inner: Inner,
}

#[derive(Debug, Clone)]
pub(crate) enum Inner {
    V1(v1::V1),
    V2(v2::V2),
}

/// What state.json stores so that another process can find (and remove) the cgroup.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CgroupRecord {
    /// 1: v1 driver (v1 and hybrid hosts); 2: unified hierarchy.
    pub version: u8,
    /// The container's directory per hierarchy, absolute. Keys are the hierarchy's directory
    /// name under /sys/fs/cgroup on v1 (`memory`, `cpu,cpuacct`, `systemd`); the one key on v2
    /// is `""`.
    pub dirs: BTreeMap<String, PathBuf>,
    /// Directories this runtime created (parents before children); destroy removes exactly
    /// these. A cgroupsPath that already existed is joined, never removed.
    pub created: Vec<PathBuf>,
}

impl Cgroup {
    /// Creates the container's cgroup and applies `resources` (validated first: nothing is
    /// created when they are invalid).
    ///
    /// Placement, as runc: an absolute `cgroups_path` is used as given, relative to each
    /// hierarchy's root; a relative one nests under the calling process's own cgroup (per
    /// hierarchy on v1, read from /proc/self/cgroup); none or empty means
    /// `<own cgroup>/rcontainer-<id>`. On error everything created is removed again.
    pub fn create(id: &str, cgroups_path: Option<&Path>, resources: Option<&LinuxResources>) -> Result<Cgroup> {
        if let Some(r) = resources {
            validate_resources(r)?;
        }
        let inner = Self::layout(id, cgroups_path, false)?;
        let cg = Cgroup { inner };
        if let Some(r) = resources {
            if let Err(e) = cg.apply(r) {
                let _ = cg.destroy();
                return Err(e);
            }
        }
        Ok(cg)
    }

    /// What [`Cgroup::create`] would make, made of nothing: its directories, and as `created`
    /// those that do not exist now. Written to the state before the cgroup is created, so that
    /// a runtime killed in between leaves a record `delete` can remove it by.
    pub fn plan(id: &str, cgroups_path: Option<&Path>) -> Result<CgroupRecord> {
        Ok(Cgroup { inner: Self::layout(id, cgroups_path, true)? }.record())
    }

    fn layout(id: &str, cgroups_path: Option<&Path>, dry: bool) -> Result<Inner> {
        let placement = Placement::new(id, cgroups_path)?;
        let own = std::fs::read_to_string("/proc/self/cgroup").map_err(Error::io("read", "/proc/self/cgroup"))?;
        let own = parse_proc_cgroup(&own);
        Ok(match host().layout {
            Layout::V2 => Inner::V2(v2::V2::create(&placement, &own, dry)?),
            Layout::V1 | Layout::Hybrid => Inner::V1(v1::V1::create(&placement, &own, dry)?),
        })
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        match &self.inner {
            Inner::V1(c) => c.apply(r),
            Inner::V2(c) => c.apply(r),
        }
    }

    /// Moves process `pid` (all its threads) into the cgroup: cgroup.procs of every hierarchy
    /// (v1) or of the directory (v2).
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        for dir in self.dirs() {
            write_file(dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// v1 only: each hierarchy's `tasks` file opened for writing, so the container's init can
    /// move itself by writing "0" (its own, single thread). Unlike the parent writing the pid to
    /// cgroup.procs, that skips the write lock on the thread-group rwsem and the RCU grace period
    /// it waits for (about 10 ms per container start on this kernel). Empty on v2.
    pub fn v1_self_join_fds(&self) -> Result<Vec<(PathBuf, OwnedFd)>> {
        let Inner::V1(c) = &self.inner else { return Ok(Vec::new()) };
        c.dirs
            .iter()
            .map(|(_, d)| {
                let path = d.join("tasks");
                nix::fcntl::open(&path, nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                    .and_then(crate::sys::not_stdio)
                    .map(|fd| (path.clone(), fd))
                    .map_err(|e| Error::Sys { op: format!("open {}", path.display()), errno: e })
            })
            .collect()
    }

    /// v2 only: an `O_PATH | O_DIRECTORY` fd of the cgroup directory, for clone3's
    /// `CLONE_INTO_CGROUP`. None on v1 and hybrid hosts (use [`Cgroup::add_pid`]).
    pub fn v2_dir_fd(&self) -> Option<OwnedFd> {
        match &self.inner {
            // Above 2 (sys::not_stdio): the child would take an fd at 0-2 for its stdio.
            Inner::V2(c) => nix::fcntl::open(
                &c.dir,
                nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .and_then(crate::sys::not_stdio)
            .ok(),
            Inner::V1(_) => None,
        }
    }

    /// Changes limits live. Only the fields present in `r` are changed; `r` is validated
    /// first. Device rules are set once, at create, and kept (as `runc update` does): callers
    /// such as containerd send the container's whole resources, devices included, and rules
    /// given alone would replace "deny all but the standard devices".
    pub fn update(&self, r: &LinuxResources) -> Result<()> {
        validate_resources(r)?;
        let mut r = r.clone();
        r.set_devices(None);
        self.apply(&r)
    }

    /// Memory, cpu, pids and OOM accounting now.
    pub fn stats(&self) -> Result<Stats> {
        match &self.inner {
            Inner::V1(c) => c.stats(),
            Inner::V2(c) => c.stats(),
        }
    }

    /// Freezes every process (v1 freezer, v2 cgroup.freeze) and waits until the kernel reports
    /// the cgroup frozen.
    pub fn freeze(&self) -> Result<()> {
        match &self.inner {
            Inner::V1(c) => c.freeze(),
            Inner::V2(c) => c.freeze(),
        }
    }

    /// Lets frozen processes run again.
    pub fn thaw(&self) -> Result<()> {
        match &self.inner {
            Inner::V1(c) => c.thaw(),
            Inner::V2(c) => c.thaw(),
        }
    }

    /// Whether the cgroup is frozen (v1 freezer.state FROZEN, v2 cgroup.events `frozen 1`).
    pub fn is_frozen(&self) -> bool {
        match &self.inner {
            Inner::V1(c) => c.is_frozen(),
            Inner::V2(c) => c.is_frozen(),
        }
    }

    /// Sends `signal` to every process in the cgroup. On v2 with SIGKILL this is cgroup.kill
    /// when the kernel has it (5.14+); otherwise the cgroup is frozen, every pid in cgroup.procs
    /// signalled, and thawed again (unless it was frozen before), as runc does, so that no
    /// process forks out of reach meanwhile.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if let Inner::V2(c) = &self.inner {
            if signal == libc::SIGKILL && c.dir.join("cgroup.kill").exists() {
                return write_file(&c.dir, "cgroup.kill", "1");
            }
        }
        let was_frozen = self.is_frozen();
        let froze = !was_frozen && self.freeze().is_ok();
        let mut result = Ok(());
        for pid in self.procs() {
            // SAFETY: plain kill(2).
            if unsafe { libc::kill(pid, signal) } < 0 {
                let e = Errno::last();
                if e != Errno::ESRCH && result.is_ok() {
                    result = Err(Error::Sys { op: format!("kill({pid}, {signal}) (kill all in cgroup)"), errno: e });
                }
            }
        }
        if froze {
            let _ = self.thaw();
        }
        result
    }

    /// OOM kills so far (v1 memory.oom_control `oom_kill`, v2 memory.events `oom_kill`); 0 when
    /// unknown.
    pub fn oom_kill_count(&self) -> u64 {
        match &self.inner {
            Inner::V1(c) => c.oom_kill_count(),
            Inner::V2(c) => c.oom_kill_count(),
        }
    }

    /// Kills what is left (when this runtime created the directory), then removes every
    /// directory it created (with any sub-cgroups the container made), retrying EBUSY for a
    /// while. Missing directories are fine: calling it twice, or from another process after
    /// [`Cgroup::from_record`], works.
    pub fn destroy(&self) -> Result<()> {
        let created: BTreeSet<&Path> = self.created().iter().map(PathBuf::as_path).collect();
        let leaves: Vec<&Path> = self.dirs().filter(|d| created.contains(d)).collect();
        // Usually nothing is left (a pid namespace dies with its init): try the rmdirs first, and
        // look for processes to kill only when one says busy.
        let mut busy = false;
        for d in &leaves {
            if let Err(e) = std::fs::remove_dir(d) {
                busy |= e.raw_os_error() == Some(libc::EBUSY);
            }
        }
        if busy && !self.procs().is_empty() {
            let _ = self.kill_all(libc::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(5);
            while !self.procs().is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let mut result = Ok(());
        for dir in self.created().iter().rev() {
            let r = if leaves.contains(&dir.as_path()) {
                remove_tree(dir)
            } else {
                // A parent this runtime created (absolute or nested cgroupsPath): remove it if
                // nothing else lives there now.
                match std::fs::remove_dir(dir) {
                    Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::ENOTEMPTY | libc::ENOENT)) => Ok(()),
                    r => r.map_err(Error::io("remove cgroup", dir)),
                }
            };
            if result.is_ok() {
                result = r;
            }
        }
        result
    }

    /// The record to store in state.json.
    pub fn record(&self) -> CgroupRecord {
        match &self.inner {
            Inner::V1(c) => CgroupRecord { version: 1, dirs: c.dirs.iter().cloned().collect(), created: c.created.clone() },
            Inner::V2(c) => CgroupRecord { version: 2, dirs: [(String::new(), c.dir.clone())].into_iter().collect(), created: c.created.clone() },
        }
    }

    /// The cgroup a record describes (from another process). Nothing is checked or created.
    pub fn from_record(r: &CgroupRecord) -> Cgroup {
        let inner = if r.version == 2 {
            Inner::V2(v2::V2 { dir: r.dirs.values().next().cloned().unwrap_or_else(|| PathBuf::from(CGROUP_ROOT)), created: r.created.clone() })
        } else {
            Inner::V1(v1::V1 { dirs: r.dirs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), created: r.created.clone() })
        };
        Cgroup { inner }
    }

    /// Every directory this cgroup owns (created and will remove), parents before children.
    #[cfg(test)]
    pub(crate) fn paths(&self) -> Vec<PathBuf> {
        self.created().to_vec()
    }

    /// The container's directory in every hierarchy (one on v2).
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        let v: Vec<&Path> = match &self.inner {
            Inner::V1(c) => c.dirs.iter().map(|(_, d)| d.as_path()).collect(),
            Inner::V2(c) => vec![c.dir.as_path()],
        };
        v.into_iter()
    }

    /// The pids in the cgroup (union over hierarchies on v1), in the caller's pid namespace.
    pub fn procs(&self) -> Vec<i32> {
        let mut set = BTreeSet::new();
        for dir in self.dirs() {
            if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                set.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        set.into_iter().collect()
    }

    fn created(&self) -> &[PathBuf] {
        match &self.inner {
            Inner::V1(c) => &c.created,
            Inner::V2(c) => &c.created,
        }
    }
}

/// Where the container's cgroup goes, relative to a hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Relative to the hierarchy root (an absolute cgroupsPath).
    Root(PathBuf),
    /// Relative to the calling process's own cgroup in that hierarchy.
    Own(PathBuf),
}

impl Placement {
    pub(crate) fn new(id: &str, path: Option<&Path>) -> Result<Placement> {
        let path = path.filter(|p| !p.as_os_str().is_empty());
        let Some(path) = path else {
            return Ok(Placement::Own(PathBuf::from(format!("rcontainer-{id}"))));
        };
        let mut rel = PathBuf::new();
        for c in path.components() {
            match c {
                Component::RootDir => {}
                Component::Normal(n) => rel.push(n),
                Component::CurDir => {}
                _ => return Err(Error::invalid("linux.cgroupsPath", path.display(), "must not contain '..'")),
            }
        }
        if rel.as_os_str().is_empty() {
            return Err(Error::invalid("linux.cgroupsPath", path.display(), "names the root cgroup; a container needs a cgroup of its own"));
        }
        Ok(if path.is_absolute() { Placement::Root(rel) } else { Placement::Own(rel) })
    }

    /// The container's directory in a hierarchy mounted at `mount`, given the caller's own
    /// cgroup there (relative to the mount).
    pub(crate) fn dir(&self, mount: &Path, own: &Path) -> PathBuf {
        match self {
            Placement::Root(rel) => mount.join(rel),
            Placement::Own(rel) => mount.join(own).join(rel),
        }
    }
}

/// One line of /proc/<pid>/cgroup: controllers (empty for the v2 line, `name=systemd` for
/// named hierarchies) and the path relative to the hierarchy's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnCgroup {
    pub controllers: BTreeSet<String>,
    pub path: PathBuf,
}

pub(crate) fn parse_proc_cgroup(text: &str) -> Vec<OwnCgroup> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, ctrl, path) = (it.next()?, it.next()?, it.next()?);
            let controllers = ctrl.split(',').filter(|c| !c.is_empty()).map(String::from).collect();
            let path = PathBuf::from(path.trim().trim_start_matches('/'));
            Some(OwnCgroup { controllers, path })
        })
        .collect()
}

/// Creates `leaf` and any missing parents below `base` one by one, recording the ones made.
/// With `dry`, nothing is made: `created` gets the directories that do not exist now (what a
/// later real call would make; [`Cgroup::plan`]).
pub(crate) fn make_dirs(base: &Path, leaf: &Path, created: &mut Vec<PathBuf>, dry: bool) -> Result<()> {
    let rel = leaf.strip_prefix(base).unwrap_or(leaf);
    let mut cur = base.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        if dry {
            if !cur.exists() && !created.contains(&cur) {
                created.push(cur.clone());
            }
            continue;
        }
        match std::fs::create_dir(&cur) {
            Ok(()) => created.push(cur.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::Io { op: "create cgroup", path: cur, source: e }),
        }
    }
    Ok(())
}

/// Removes a cgroup directory and the sub-cgroups inside it, deepest first; retries EBUSY
/// (processes still exiting) for up to 2 s; a missing directory is fine. The directory is only
/// listed when rmdir says it is busy (a leaf, the common case, costs one rmdir).
pub(crate) fn remove_tree(dir: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut delay = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                // Sub-cgroups make a cgroup busy as its processes do: remove those first.
                let mut had_children = false;
                if let Ok(entries) = std::fs::read_dir(dir) {
                    for e in entries.flatten() {
                        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                            had_children = true;
                            remove_tree(&e.path())?;
                        }
                    }
                }
                if !had_children {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(50));
                }
            }
            Err(e) => return Err(Error::Io { op: "remove cgroup", path: dir.to_path_buf(), source: e }),
        }
    }
}

/// Control files of one cgroup kept open across writes, for files that take one item per
/// write(2) (v1 device rules): one open per file instead of one per item.
pub(crate) struct ControlFiles<'a> {
    dir: &'a Path,
    open: Vec<(&'static str, std::fs::File)>,
}

impl<'a> ControlFiles<'a> {
    pub(crate) fn new(dir: &'a Path) -> ControlFiles<'a> {
        ControlFiles { dir, open: Vec::new() }
    }

    /// Writes `value` to `file` in one write(2); the error names the file and the value.
    pub(crate) fn write(&mut self, file: &'static str, value: &str) -> Result<()> {
        use std::io::Write;
        let path = || self.dir.join(file);
        let err = |e: std::io::Error| write_error(&path(), value, e);
        let idx = match self.open.iter().position(|(f, _)| *f == file) {
            Some(i) => i,
            None => {
                let f = std::fs::OpenOptions::new().write(true).open(path()).map_err(err)?;
                self.open.push((file, f));
                self.open.len() - 1
            }
        };
        let n = self.open[idx].1.write(value.as_bytes()).map_err(err)?;
        if n != value.len() {
            return Err(err(std::io::Error::from_raw_os_error(libc::EIO)));
        }
        Ok(())
    }
}

/// The error of a failed control-file write: names the file and the value.
fn write_error(path: &Path, value: &str, e: std::io::Error) -> Error {
    Error::Sys { op: format!("write {value:?} to {}", path.display()), errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)) }
}

/// Writes one control file; the error names the file and the value.
pub(crate) fn write_file(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|e| write_error(&path, value, e))
}

/// Writes a control file for the OCI field `field`; a missing file means the kernel (or the
/// host's cgroup setup) lacks the feature, reported as Unsupported naming the field.
pub(crate) fn write_limit(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    // Opened without O_CREAT: a missing control file is ENOENT, not a new file. O_TRUNC as runc
    // opens them (the kernel ignores it; a fixture file then holds exactly what was written).
    let path = dir.join(file);
    let written = std::fs::OpenOptions::new().write(true).truncate(true).open(&path).and_then(|mut f| std::io::Write::write_all(&mut f, value.as_bytes()));
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::Unsupported(format!("{field} = {value}: {} does not exist (the kernel or the host's cgroup setup lacks it)", path.display())))
        }
        Err(e) => Err(write_error(&path, value, e)),
    }
}

pub(crate) fn read_file(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|e| Error::Io { op: "read", path, source: e })
}

/// Polls `done` until it holds or `timeout` passes; `retry` runs every 100 ms meanwhile.
pub(crate) fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool, mut retry: impl FnMut()) -> bool {
    let start = Instant::now();
    let mut last_retry = start;
    let mut delay = Duration::from_micros(200);
    loop {
        if done() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        if last_retry.elapsed() >= Duration::from_millis(100) {
            retry();
            last_retry = Instant::now();
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_placement() {
        assert_eq!(Placement::new("c1", None).expect("p"), Placement::Own("rcontainer-c1".into()));
        assert_eq!(Placement::new("c1", Some(Path::new(""))).expect("p"), Placement::Own("rcontainer-c1".into()));
        assert_eq!(Placement::new("c1", Some(Path::new("/a/b"))).expect("p"), Placement::Root("a/b".into()));
        assert_eq!(Placement::new("c1", Some(Path::new("a/b"))).expect("p"), Placement::Own("a/b".into()));
        assert!(Placement::new("c1", Some(Path::new("/a/../b"))).is_err());
        assert!(Placement::new("c1", Some(Path::new("/"))).is_err());
        let own = Placement::Own("x".into());
        assert_eq!(own.dir(Path::new("/sys/fs/cgroup/memory"), Path::new("user/1")), PathBuf::from("/sys/fs/cgroup/memory/user/1/x"));
        assert_eq!(own.dir(Path::new("/sys/fs/cgroup/cpu"), Path::new("")), PathBuf::from("/sys/fs/cgroup/cpu/x"));
        let root = Placement::Root("r/x".into());
        assert_eq!(root.dir(Path::new("/sys/fs/cgroup"), Path::new("user/1")), PathBuf::from("/sys/fs/cgroup/r/x"));
    }

    #[test]
    fn cgroups_proc_self_cgroup() {
        let text = "9:name=systemd:/\n4:memory:/process_api/00c3\n2:cpu,cpuacct:/a:b\n0::/\n";
        let v = parse_proc_cgroup(text);
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].controllers, ["name=systemd".to_string()].into_iter().collect());
        assert_eq!(v[1].path, PathBuf::from("process_api/00c3"));
        assert_eq!(v[2].controllers.len(), 2);
        assert_eq!(v[2].path, PathBuf::from("a:b"));
        assert!(v[3].controllers.is_empty());
        assert_eq!(v[3].path, PathBuf::from(""));
    }

    #[test]
    fn cgroups_record_roundtrip() {
        let r = CgroupRecord {
            version: 1,
            dirs: [("memory".to_string(), PathBuf::from("/sys/fs/cgroup/memory/rcontainer-x"))].into_iter().collect(),
            created: vec![PathBuf::from("/sys/fs/cgroup/memory/rcontainer-x")],
        };
        let json = serde_json::to_string(&r).expect("json");
        let back: CgroupRecord = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, r);
        assert_eq!(Cgroup::from_record(&back).record(), r);
        assert_eq!(Cgroup::from_record(&back).paths(), r.created);
    }
}
