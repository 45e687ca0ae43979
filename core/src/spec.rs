//! The configuration: an OCI runtime spec (`config.json`, oci-spec's model) plus the bundle directory
//! it is relative to, a builder whose defaults are those of `runc spec` (with `terminal: false`), and
//! validation that runs before anything is created. Every validation error names the field and value.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{self as oci, LinuxIdMapping, LinuxNamespace, LinuxNamespaceType};

use crate::error::{Error, Result};

/// `runc spec` output (runc 1.1), with `terminal: false`. The builder starts from this.
pub const RUNC_DEFAULT_CONFIG: &str = r#"{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": [ "sh" ],
    "env": [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
    },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "runc",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" ] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": [ "nosuid", "noexec", "nodev" ] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [ "nosuid", "noexec", "nodev", "ro" ] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": [ "nosuid", "noexec", "nodev", "relatime", "ro" ] }
  ],
  "linux": {
    "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
    "namespaces": [ { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" },
                    { "type": "mount" }, { "type": "cgroup" } ],
    "maskedPaths": [ "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                     "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                     "/proc/scsi", "/sys/devices/virtual/powercap" ],
    "readonlyPaths": [ "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" ]
  }
}"#;

/// A container configuration: the OCI runtime spec and the bundle directory that relative paths in
/// it (root.path, bind sources) are resolved against.
#[derive(Debug, Clone)]
pub struct Spec {
    config: oci::Spec,
    bundle: PathBuf,
}

/// The most any file the runtime parses may hold (config.json, process.json, state.json, a
/// resources or seccomp file): they are small, and one that never ends (a symlink to /dev/zero)
/// must not exhaust memory.
pub const MAX_PARSED_FILE: u64 = 16 << 20;

/// Reads a file the runtime parses: a regular file (a fifo, device or directory is an error, not
/// a read that blocks or never ends) of at most [`MAX_PARSED_FILE`] bytes, as UTF-8.
pub fn read_bounded(path: &Path) -> Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |reason: &str| Error::io("read", path)(std::io::Error::new(std::io::ErrorKind::InvalidInput, reason.to_string()));
    // O_NONBLOCK: opening a fifo for reading must not wait for a writer.
    let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(Error::io("read", path))?;
    if !f.metadata().map_err(Error::io("read", path))?.is_file() {
        return Err(fail("not a regular file"));
    }
    let mut text = String::new();
    f.take(MAX_PARSED_FILE + 1).read_to_string(&mut text).map_err(Error::io("read", path))?;
    if text.len() as u64 > MAX_PARSED_FILE {
        return Err(fail(&format!("larger than {MAX_PARSED_FILE} bytes")));
    }
    Ok(text)
}

fn parse_config(text: &str, source_name: &str) -> Result<oci::Spec> {
    serde_json::from_str(text).map_err(|e| Error::ConfigParse { source_name: source_name.to_string(), reason: e.to_string() })
}

impl Spec {
    /// Reads `<bundle>/config.json`.
    pub fn from_bundle(bundle: impl AsRef<Path>) -> Result<Spec> {
        let bundle = std::path::absolute(bundle.as_ref()).map_err(Error::io("resolve", bundle.as_ref()))?;
        let path = bundle.join("config.json");
        let text = read_bounded(&path)?;
        let config = parse_config(&text, &path.display().to_string())?;
        Ok(Spec { config, bundle })
    }

    /// Parses OCI config JSON text; relative paths in it resolve against `bundle`.
    pub fn from_json(text: &str, bundle: impl AsRef<Path>) -> Result<Spec> {
        let bundle = std::path::absolute(bundle.as_ref()).map_err(Error::io("resolve", bundle.as_ref()))?;
        Ok(Spec { config: parse_config(text, "(json text)")?, bundle })
    }

    /// [`Spec::from_json`], naming `source` in errors.
    pub(crate) fn from_json_named(text: &str, bundle: impl AsRef<Path>, source: &str) -> Result<Spec> {
        let bundle = std::path::absolute(bundle.as_ref()).map_err(Error::io("resolve", bundle.as_ref()))?;
        Ok(Spec { config: parse_config(text, source)?, bundle })
    }

    /// The spec `runc spec` writes (with `terminal: false`), for the bundle directory `bundle`.
    pub fn runc_default(bundle: impl AsRef<Path>) -> Spec {
        // The template is a constant checked by a unit test, so parsing it cannot fail at run time.
        let config = parse_config(RUNC_DEFAULT_CONFIG, "default").unwrap_or_default();
        Spec { config, bundle: bundle.as_ref().to_path_buf() }
    }

    /// runc's `spec --rootless`: the default config for an ordinary user. The caller's uid and
    /// gid are root in a user namespace of its own (one id each, as runc writes), devpts loses
    /// `gid=5` (not mapped) and the cgroup device rules go (an ordinary user has no device
    /// controller to write). Unlike runc it keeps a network namespace of its own (only `lo`).
    pub fn runc_rootless(bundle: impl AsRef<Path>) -> Spec {
        let mut spec = Spec::runc_default(bundle);
        let own = |id: u32| oci_spec::runtime::LinuxIdMappingBuilder::default().container_id(0u32).host_id(id).size(1u32).build().unwrap_or_default();
        let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        if let Some(mounts) = spec.config.mounts_mut() {
            for m in mounts.iter_mut().filter(|m| m.typ().as_deref() == Some("devpts")) {
                let options = m.options().clone().unwrap_or_default().into_iter().filter(|o| !o.starts_with("gid=")).collect();
                m.set_options(Some(options));
            }
        }
        if let Some(linux) = spec.config.linux_mut() {
            linux.set_resources(None);
            linux.set_uid_mappings(Some(vec![own(uid)]));
            linux.set_gid_mappings(Some(vec![own(gid)]));
            let mut namespaces = linux.namespaces().clone().unwrap_or_default();
            namespaces.push(oci_spec::runtime::LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::User).build().unwrap_or_default());
            linux.set_namespaces(Some(namespaces));
        }
        spec
    }

    pub fn config(&self) -> &oci::Spec {
        &self.config
    }
    pub fn config_mut(&mut self) -> &mut oci::Spec {
        &mut self.config
    }
    pub fn bundle(&self) -> &Path {
        &self.bundle
    }

    /// The config as pretty JSON (what `rcontainer spec` writes).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.config).unwrap_or_default()
    }

    /// The root filesystem path, resolved against the bundle.
    pub fn rootfs(&self) -> Result<PathBuf> {
        let root = self.config.root().as_ref().ok_or_else(|| Error::invalid("root", "null", "a root filesystem is required"))?;
        Ok(self.bundle.join(root.path()))
    }

    pub(crate) fn namespaces(&self) -> &[LinuxNamespace] {
        self.config.linux().as_ref().and_then(|l| l.namespaces().as_deref()).unwrap_or(&[])
    }

    /// Whether the spec asks for (a new or joined) namespace of type `t`.
    pub fn has_namespace(&self, t: LinuxNamespaceType) -> bool {
        self.namespaces().iter().any(|n| n.typ() == t)
    }

    /// Whether the spec makes a new namespace of type `t` (not one joined by path: what is set in
    /// a joined namespace, e.g. a hostname, changes it for whoever else is in it).
    pub fn creates_namespace(&self, t: LinuxNamespaceType) -> bool {
        self.namespaces().iter().any(|n| n.typ() == t && n.path().is_none())
    }

    /// Checks everything that can be checked before anything is created.
    pub fn validate(&self) -> Result<()> {
        let c = &self.config;
        if c.version().is_empty() || !c.version().starts_with("1.") {
            return Err(Error::invalid("ociVersion", format!("{:?}", c.version()), "expected a 1.x OCI runtime spec version"));
        }
        let rootfs = self.rootfs()?;
        match std::fs::metadata(&rootfs) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(Error::invalid("root.path", rootfs.display(), "not a directory")),
            Err(e) => return Err(Error::invalid("root.path", rootfs.display(), e.to_string())),
        }
        let process = c.process().as_ref().ok_or_else(|| Error::invalid("process", "null", "a process is required"))?;
        validate_process(process)?;
        self.root_overlay()?;
        let mut types = HashSet::new();
        for ns in self.namespaces() {
            if !types.insert(ns.typ()) {
                return Err(Error::invalid("linux.namespaces", ns.typ(), "namespace type listed twice"));
            }
            if let Some(p) = ns.path() {
                if !p.is_absolute() {
                    return Err(Error::invalid(format!("linux.namespaces[{}].path", ns.typ()), p.display(), "must be an absolute path"));
                }
                if ns.typ() == LinuxNamespaceType::Time {
                    return Err(Error::Unsupported(format!("joining a time namespace ({}) is not supported", p.display())));
                }
                if let Err(e) = std::fs::metadata(p) {
                    return Err(Error::invalid(format!("linux.namespaces[{}].path", ns.typ()), p.display(), e.to_string()));
                }
            }
        }
        if types.contains(&LinuxNamespaceType::Time) && !Path::new("/proc/self/ns/time").exists() {
            return Err(Error::invalid("linux.namespaces", "time", "this kernel has no time namespaces"));
        }
        let new_ns = |t| self.namespaces().iter().any(|n| n.typ() == t && n.path().is_none());
        if c.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !types.contains(&LinuxNamespaceType::Uts) {
            return Err(Error::invalid("hostname", c.hostname().as_deref().unwrap_or(""), "setting a hostname needs a uts namespace"));
        }
        if let Some(h) = c.hostname() {
            if h.len() > 64 || h.contains('\0') {
                return Err(Error::invalid("hostname", h, "at most 64 bytes, no NUL"));
            }
        }
        if !types.contains(&LinuxNamespaceType::Mount) && !c.mounts().as_deref().unwrap_or(&[]).is_empty() {
            return Err(Error::invalid("mounts", "(non-empty)", "mounts need a mount namespace of the container's own: without one they would be made in the host's and outlive the container (runc leaves them there); add {\"type\": \"mount\"} to linux.namespaces"));
        }
        if !types.contains(&LinuxNamespaceType::Mount) {
            return Err(Error::invalid("linux.namespaces", "(no mount)", "rcontainer needs a mount namespace to enter the root filesystem"));
        }
        for (i, m) in c.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
            if !m.destination().is_absolute() {
                return Err(Error::invalid(format!("mounts[{i}].destination"), m.destination().display(), "must be an absolute path"));
            }
        }

        let linux = c.linux().as_ref();
        let uid_maps = linux.and_then(|l| l.uid_mappings().as_deref()).unwrap_or(&[]);
        let gid_maps = linux.and_then(|l| l.gid_mappings().as_deref()).unwrap_or(&[]);
        if new_ns(LinuxNamespaceType::User) {
            if uid_maps.is_empty() || gid_maps.is_empty() {
                return Err(Error::invalid("linux.uidMappings", "[]", "a new user namespace needs uid and gid mappings"));
            }
        } else if !uid_maps.is_empty() || !gid_maps.is_empty() {
            return Err(Error::invalid(
                "linux.uidMappings",
                format_maps(uid_maps),
                "mappings need a new user namespace (linux.namespaces type user without path)",
            ));
        }
        validate_maps("linux.uidMappings", uid_maps)?;
        validate_maps("linux.gidMappings", gid_maps)?;
        if new_ns(LinuxNamespaceType::User) {
            let user = process.user();
            if !maps_contain(uid_maps, user.uid()) {
                return Err(Error::invalid("process.user.uid", user.uid(), "not mapped by linux.uidMappings"));
            }
            if !maps_contain(gid_maps, user.gid()) {
                return Err(Error::invalid("process.user.gid", user.gid(), "not mapped by linux.gidMappings"));
            }
        }
        if new_ns(LinuxNamespaceType::User) {
            check_reachable(&rootfs, uid_maps, gid_maps)?;
        }
        if let Some(offsets) = linux.and_then(|l| l.time_offsets().as_ref()) {
            if !offsets.is_empty() {
                return Err(Error::Unsupported("linux.timeOffsets are not supported yet".into()));
            }
        }
        Ok(())
    }
}

/// Checks a process (the container's, or one to exec): a command, an absolute cwd, KEY=VALUE
/// environment, sane rlimits.
pub(crate) fn validate_process(process: &oci::Process) -> Result<()> {
    let args = process.args().as_deref().unwrap_or(&[]);
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::invalid("process.args", format!("{args:?}"), "the command must not be empty"));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::invalid("process.cwd", process.cwd().display(), "must be an absolute path"));
    }
    for e in process.env().as_deref().unwrap_or(&[]) {
        if !e.contains('=') || e.starts_with('=') || e.contains('\0') {
            return Err(Error::invalid("process.env", format!("{e:?}"), "entries must look like KEY=VALUE"));
        }
    }
    let mut seen = HashSet::new();
    for r in process.rlimits().as_deref().unwrap_or(&[]) {
        if r.soft() > r.hard() {
            return Err(Error::invalid(
                format!("process.rlimits[{}]", r.typ()),
                format!("soft {} > hard {}", r.soft(), r.hard()),
                "soft limit above hard limit",
            ));
        }
        if !seen.insert(r.typ().to_string()) {
            return Err(Error::invalid("process.rlimits", r.typ(), "listed twice"));
        }
    }
    Ok(())
}

fn host_id(maps: &[LinuxIdMapping], id: u32) -> Option<u32> {
    maps.iter().find(|m| id >= m.container_id() && (id as u64) < m.container_id() as u64 + m.size() as u64).map(|m| m.host_id() + (id - m.container_id()))
}

/// In a new user namespace the container's root works as its mapped host uid: every directory
/// above the rootfs must be searchable by it, or the first mount fails with a bare EACCES.
fn check_reachable(rootfs: &Path, uid_maps: &[LinuxIdMapping], gid_maps: &[LinuxIdMapping]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (Some(uid), Some(gid)) = (host_id(uid_maps, 0), host_id(gid_maps, 0)) else { return Ok(()) };
    let Ok(canonical) = std::fs::canonicalize(rootfs) else { return Ok(()) };
    for dir in canonical.ancestors().skip(1) {
        let Ok(m) = std::fs::metadata(dir) else { continue };
        let mode = m.mode();
        let searchable = if m.uid() == uid {
            mode & 0o100 != 0
        } else if m.gid() == gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !searchable {
            return Err(Error::invalid(
                "root.path",
                rootfs.display(),
                format!("not reachable by uid {uid}, the user namespace's root: {} (mode {:o}, owner {}) cannot be searched by it; make it searchable (chmod o+x) or move the rootfs", dir.display(), mode & 0o7777, m.uid()),
            ));
        }
    }
    Ok(())
}

fn format_maps(maps: &[LinuxIdMapping]) -> String {
    maps.iter().map(|m| format!("{}:{}:{}", m.container_id(), m.host_id(), m.size())).collect::<Vec<_>>().join(",")
}

fn maps_contain(maps: &[LinuxIdMapping], id: u32) -> bool {
    maps.iter().any(|m| id >= m.container_id() && (id as u64) < m.container_id() as u64 + m.size() as u64)
}

fn validate_maps(field: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    if maps.len() > 340 {
        return Err(Error::invalid(field, format!("{} entries", maps.len()), "the kernel accepts at most 340 lines"));
    }
    for (i, m) in maps.iter().enumerate() {
        let shown = format!("{}:{}:{}", m.container_id(), m.host_id(), m.size());
        if m.size() == 0 {
            return Err(Error::invalid(format!("{field}[{i}]"), shown, "size must be at least 1"));
        }
        if m.container_id() as u64 + m.size() as u64 > u32::MAX as u64 || m.host_id() as u64 + m.size() as u64 > u32::MAX as u64 {
            return Err(Error::invalid(format!("{field}[{i}]"), shown, "range overflows 32-bit ids"));
        }
        for (j, o) in maps.iter().enumerate().take(i) {
            let overlap = |a: u32, b: u32| (a as u64) < b as u64 + o.size() as u64 && (b as u64) < a as u64 + m.size() as u64;
            if overlap(m.container_id(), o.container_id()) || overlap(m.host_id(), o.host_id()) {
                return Err(Error::invalid(format!("{field}[{i}]"), shown, format!("overlaps {field}[{j}]")));
            }
        }
    }
    Ok(())
}

/// Parses `CONTAINER:HOST:SIZE` (the ad-hoc `--uid-map` syntax).
pub fn parse_id_map(field: &str, text: &str) -> Result<LinuxIdMapping> {
    let parts: Vec<&str> = text.split(':').collect();
    let nums: Option<Vec<u32>> = parts.iter().map(|p| p.trim().parse().ok()).collect();
    match nums.as_deref() {
        Some([c, h, n]) => {
            Ok(oci::LinuxIdMappingBuilder::default().container_id(*c).host_id(*h).size(*n).build().map_err(|e| Error::invalid(field, text, e.to_string()))?)
        }
        _ => Err(Error::invalid(field, text, "expected CONTAINER_ID:HOST_ID:SIZE, e.g. 0:100000:65536")),
    }
}

/// Parses a size such as `32M`, `1g`, `512k`, `1.5G` or `4096` (bytes; suffixes are binary, as
/// Docker's `--memory`).
pub fn parse_size(field: &str, text: &str) -> Result<u64> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let lower = lower.strip_suffix("ib").or_else(|| lower.strip_suffix('b')).unwrap_or(&lower);
    let (num, mult) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1u64 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        _ => (lower, 1),
    };
    let bad = || Error::invalid(field, text, "expected a size such as 32M, 1G or a number of bytes");
    let value: f64 = num.trim().parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 || value * mult as f64 > i64::MAX as f64 {
        return Err(bad());
    }
    Ok((value * mult as f64).round() as u64)
}

/// A limit as given on a command line: a size (see [`parse_size`]) or `-1` for unlimited.
pub fn parse_limit(field: &str, text: &str) -> Result<i64> {
    if text.trim() == "-1" {
        return Ok(-1);
    }
    parse_size(field, text).map(|n| n as i64)
}

/// Parses a namespace type name as used in config.json (`pid`, `network`, `mount`, ...).
pub fn parse_namespace_type(name: &str) -> Result<LinuxNamespaceType> {
    LinuxNamespaceType::try_from(name).map_err(|_| {
        Error::invalid("linux.namespaces[].type", name, "unknown namespace type (expected one of pid, network, mount, ipc, uts, user, cgroup, time)")
    })
}

/// The common cgroup limits, in the units people use; turned into OCI `linux.resources` for a
/// spec ([`SpecBuilder::limits`]) or a live change ([`crate::Container::limit`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Memory limit, bytes.
    pub memory: Option<i64>,
    /// Memory + swap limit, bytes (-1: unlimited swap).
    pub memory_swap: Option<i64>,
    /// Memory soft limit (reservation), bytes.
    pub memory_reservation: Option<i64>,
    /// CPUs as a fraction (`docker --cpus`): sets quota and a 100 ms period.
    pub cpus: Option<f64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes.
    pub pids: Option<i64>,
}

impl Limits {
    /// Sets the fields given here in `r`, leaving the others as they are.
    pub fn apply_to(&self, r: &mut oci::LinuxResources) {
        if self.memory.is_some() || self.memory_swap.is_some() || self.memory_reservation.is_some() {
            let m = r.memory_mut().get_or_insert_with(Default::default);
            if let Some(v) = self.memory {
                m.set_limit(Some(v));
            }
            if let Some(v) = self.memory_swap {
                m.set_swap(Some(v));
            }
            if let Some(v) = self.memory_reservation {
                m.set_reservation(Some(v));
            }
        }
        let cpu_set = self.cpus.is_some()
            || self.cpu_shares.is_some()
            || self.cpu_quota.is_some()
            || self.cpu_period.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some();
        if cpu_set {
            let c = r.cpu_mut().get_or_insert_with(Default::default);
            if let Some(cpus) = self.cpus {
                let period = self.cpu_period.unwrap_or(100_000);
                c.set_period(Some(period));
                c.set_quota(Some((cpus * period as f64).round() as i64));
            }
            if let Some(v) = self.cpu_shares {
                c.set_shares(Some(v));
            }
            if let Some(v) = self.cpu_quota {
                c.set_quota(Some(v));
            }
            if let Some(v) = self.cpu_period {
                c.set_period(Some(v));
            }
            if let Some(v) = &self.cpuset_cpus {
                c.set_cpus(Some(v.clone()));
            }
            if let Some(v) = &self.cpuset_mems {
                c.set_mems(Some(v.clone()));
            }
        }
        if let Some(v) = self.pids {
            let mut p = oci::LinuxPids::default();
            p.set_limit(v);
            r.set_pids(Some(p));
        }
    }

    /// These limits alone, as OCI resources.
    pub fn to_resources(&self) -> oci::LinuxResources {
        let mut r = oci::LinuxResources::default();
        r.set_devices(None);
        self.apply_to(&mut r);
        r
    }
}

/// Builds a [`Spec`] in code. Starts from `runc spec`'s defaults (with `terminal: false`).
#[derive(Debug, Clone)]
pub struct SpecBuilder {
    spec: Spec,
    /// Generate Docker's default seccomp profile for the final capability set at build().
    docker_seccomp: bool,
}

impl SpecBuilder {
    /// A builder for a container that runs `args` (argv; args[0] is looked up in PATH).
    pub fn new<S: Into<String>>(args: impl IntoIterator<Item = S>) -> SpecBuilder {
        let mut spec = Spec::runc_default(".");
        if let Some(p) = spec.config.process_mut() {
            p.set_args(Some(args.into_iter().map(Into::into).collect()));
        }
        SpecBuilder { spec, docker_seccomp: false }
    }

    /// Starts from an existing spec (e.g. a whole OCI config given as JSON).
    pub fn from_spec(spec: Spec) -> SpecBuilder {
        SpecBuilder { spec, docker_seccomp: false }
    }

    fn process(&mut self) -> &mut oci::Process {
        self.spec.config.process_mut().get_or_insert_with(Default::default)
    }

    fn linux(&mut self) -> &mut oci::Linux {
        self.spec.config.linux_mut().get_or_insert_with(Default::default)
    }

    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.process().set_args(Some(args.into_iter().map(Into::into).collect()));
        self
    }

    /// The root filesystem directory (absolute, or relative to the bundle).
    pub fn rootfs(mut self, path: impl Into<PathBuf>) -> Self {
        let readonly = self.spec.config.root().as_ref().and_then(|r| r.readonly());
        let mut root = oci::Root::default();
        root.set_path(path.into());
        root.set_readonly(readonly);
        self.spec.config.set_root(Some(root));
        self
    }

    /// Sets an annotation (OCI `annotations`).
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.config.annotations_mut().get_or_insert_with(Default::default).insert(key.into(), value.into());
        self
    }

    /// A copy-on-write root (see [`crate::RootOverlay`]): the overlay is mounted on `mount_point`
    /// (an empty directory), which becomes root.path.
    pub fn root_overlay(self, mount_point: impl Into<PathBuf>, overlay: &crate::RootOverlay) -> Self {
        let json = serde_json::to_string(overlay).unwrap_or_default();
        self.rootfs(mount_point).annotation(crate::ROOT_OVERLAY_ANNOTATION, json)
    }

    pub fn readonly_root(mut self, readonly: bool) -> Self {
        if let Some(r) = self.spec.config.root_mut() {
            r.set_readonly(Some(readonly));
        }
        self
    }

    pub fn bundle(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spec.bundle = dir.into();
        self
    }

    pub fn hostname(mut self, name: impl Into<String>) -> Self {
        self.spec.config.set_hostname(Some(name.into()));
        self
    }

    /// The hostname of a container `id` that was given none: the id, in a uts namespace of its
    /// own only. A joined one (e.g. the host's, by path) gets none at all, not even the
    /// template's "runc": that namespace's name is its owner's.
    pub fn default_hostname(mut self, id: &str) -> Self {
        let own_uts = self.spec.creates_namespace(LinuxNamespaceType::Uts);
        self.spec.config.set_hostname(own_uts.then(|| id.to_string()));
        self
    }

    /// Sets (or replaces) `KEY=VALUE` in the environment.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        let env = self.process().env_mut().get_or_insert_with(Vec::new);
        let prefix = format!("{key}=");
        env.retain(|e| !e.starts_with(&prefix));
        env.push(format!("{key}={value}"));
        self
    }

    /// Gives the container a terminal of its own (a new pty; `process.terminal`), of `size`
    /// (rows, columns) when given.
    pub fn terminal(mut self, on: bool, size: Option<(u16, u16)>) -> Self {
        self.process().set_terminal(Some(on));
        let size = size.and_then(|(rows, cols)| oci::BoxBuilder::default().height(rows as u64).width(cols as u64).build().ok());
        self.process().set_console_size(size);
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.process().set_cwd(dir.into());
        self
    }

    pub fn user(mut self, uid: u32, gid: u32) -> Self {
        let user = self.process().user_mut();
        user.set_uid(uid);
        user.set_gid(gid);
        self
    }

    pub fn additional_gids(mut self, gids: Vec<u32>) -> Self {
        self.process().user_mut().set_additional_gids(Some(gids));
        self
    }

    /// Replaces the namespace list with new namespaces of these types.
    pub fn namespaces(mut self, types: &[LinuxNamespaceType]) -> Self {
        let list = types
            .iter()
            .map(|t| {
                let mut ns = LinuxNamespace::default();
                ns.set_typ(*t);
                ns
            })
            .collect();
        self.linux().set_namespaces(Some(list));
        self
    }

    /// Adds (or, if present, removes) a namespace of type `t`; with `path`, joins that namespace.
    pub fn namespace(mut self, t: LinuxNamespaceType, enabled: bool, path: Option<PathBuf>) -> Self {
        let list = self.linux().namespaces_mut().get_or_insert_with(Vec::new);
        list.retain(|n| n.typ() != t);
        if enabled {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(t);
            ns.set_path(path);
            list.push(ns);
        }
        self
    }

    /// Adds a user namespace with these maps.
    pub fn id_maps(mut self, uid_maps: Vec<LinuxIdMapping>, gid_maps: Vec<LinuxIdMapping>) -> Self {
        let linux = self.linux();
        linux.set_uid_mappings(Some(uid_maps));
        linux.set_gid_mappings(Some(gid_maps));
        self.namespace(LinuxNamespaceType::User, true, None)
    }

    pub fn mount(mut self, mount: oci::Mount) -> Self {
        self.spec.config.mounts_mut().get_or_insert_with(Vec::new).push(mount);
        self
    }

    /// A mount given as the bindings take one (Python's dict, Node's object): see [`mount_from_json`].
    pub fn mount_json(self, field: &str, description: &serde_json::Value) -> Result<Self> {
        Ok(self.mount(mount_from_json(field, description)?))
    }

    /// A bind mount of host `source` at `destination`, read-only when `readonly`.
    pub fn bind(self, source: impl Into<PathBuf>, destination: impl Into<PathBuf>, readonly: bool) -> Self {
        let mut options = vec!["rbind".to_string()];
        if readonly {
            options.push("ro".to_string());
        }
        let mut m = oci::Mount::default();
        m.set_destination(destination.into());
        m.set_typ(Some("bind".into()));
        m.set_source(Some(source.into()));
        m.set_options(Some(options));
        self.mount(m)
    }

    /// Sets (or replaces) an rlimit; `name` is e.g. `RLIMIT_NOFILE` or `nofile`.
    pub fn rlimit(mut self, name: &str, soft: u64, hard: u64) -> Result<Self> {
        let full = if name.to_ascii_uppercase().starts_with("RLIMIT_") { name.to_ascii_uppercase() } else { format!("RLIMIT_{}", name.to_ascii_uppercase()) };
        let typ: oci::PosixRlimitType =
            serde_json::from_value(serde_json::Value::String(full.clone())).map_err(|_| Error::invalid("process.rlimits[].type", name, "unknown rlimit"))?;
        let limit =
            oci::PosixRlimitBuilder::default().typ(typ).soft(soft).hard(hard).build().map_err(|e| Error::invalid("process.rlimits", name, e.to_string()))?;
        let mut list = self.process().rlimits().clone().unwrap_or_default();
        list.retain(|r| r.typ() != typ);
        list.push(limit);
        self.process().set_rlimits(Some(list));
        Ok(self)
    }

    fn resources(&mut self) -> &mut oci::LinuxResources {
        self.linux().resources_mut().get_or_insert_with(Default::default)
    }

    /// Applies every limit set in `limits` to `linux.resources`.
    pub fn limits(mut self, limits: &Limits) -> Self {
        limits.apply_to(self.resources());
        self
    }

    /// Memory limit in bytes (`linux.resources.memory.limit`).
    pub fn memory(self, bytes: i64) -> Self {
        self.limits(&Limits { memory: Some(bytes), ..Default::default() })
    }

    /// Memory + swap limit in bytes (`linux.resources.memory.swap`, as runc's --memory-swap).
    pub fn memory_swap(self, bytes: i64) -> Self {
        self.limits(&Limits { memory_swap: Some(bytes), ..Default::default() })
    }

    /// CPU limit in CPUs (0.5 = half a CPU): quota over a 100 ms period, as `docker --cpus`.
    pub fn cpus(self, cpus: f64) -> Self {
        self.limits(&Limits { cpus: Some(cpus), ..Default::default() })
    }

    /// CPUs the container may run on, e.g. `0-1` or `0,2`.
    pub fn cpuset_cpus(self, cpus: &str) -> Self {
        self.limits(&Limits { cpuset_cpus: Some(cpus.to_string()), ..Default::default() })
    }

    /// Maximum number of processes (`linux.resources.pids.limit`).
    pub fn pids(self, limit: i64) -> Self {
        self.limits(&Limits { pids: Some(limit), ..Default::default() })
    }

    /// Where the container's cgroup goes (`linux.cgroupsPath`): absolute, or relative to the
    /// caller's own cgroup.
    pub fn cgroups_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.linux().set_cgroups_path(Some(path.into()));
        self
    }

    pub fn no_new_privileges(mut self, on: bool) -> Self {
        self.process().set_no_new_privileges(Some(on));
        self
    }

    /// Uses the embedded default root: a read-only view of the host's /usr, /bin, /sbin, /lib*,
    /// /etc with a fresh /proc, /dev, /tmp and /run (see [`crate::rootfs::default_root`]). Its
    /// skeleton lives in this user's cache directory ([`crate::state::cache`]), never in a state
    /// root; `_state_root` (where the container's state will go) is not used any more and is
    /// kept so that callers need not change.
    pub fn default_root(mut self, _state_root: &Path) -> Result<Self> {
        let cache = crate::state::cache::default_dir();
        let (dir, mounts) = crate::rootfs::default_root::prepare(&cache)?;
        self.spec.config.set_mounts(Some(mounts));
        let mut masked = self.linux().masked_paths().clone().unwrap_or_default();
        for secret in crate::rootfs::default_root::host_secrets()? {
            if !masked.contains(&secret) {
                masked.push(secret);
            }
        }
        self.linux().set_masked_paths(Some(masked));
        self = self.rootfs(dir).readonly_root(true);
        Ok(self)
    }

    /// Docker's security defaults (the ad-hoc mode's and the bindings'): its capability set,
    /// no_new_privileges, and its default seccomp profile (generated at [`SpecBuilder::build`]
    /// for the final capabilities, so `cap_add("SYS_ADMIN")` also allows mount, as in Docker).
    pub fn docker_defaults(mut self) -> Self {
        let caps = crate::security::caps::uniform(crate::security::caps::DOCKER_DEFAULT).unwrap_or_default();
        self.process().set_capabilities(Some(caps));
        self.process().set_no_new_privileges(Some(true));
        self.docker_seccomp = true;
        self
    }

    fn cap_names(&mut self) -> Vec<String> {
        let bounding = self.process().capabilities().as_ref().and_then(|c| c.bounding().clone()).unwrap_or_default();
        bounding.iter().filter_map(|c| serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_string))).collect()
    }

    /// Sets the capabilities (bounding, effective, permitted) to exactly `names`.
    pub fn capabilities<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self> {
        let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        let caps = crate::security::caps::uniform(&names)?;
        self.process().set_capabilities(Some(caps));
        Ok(self)
    }

    /// Adds a capability (`NET_ADMIN`, `CAP_NET_ADMIN`; `ALL` for every one).
    pub fn cap_add(mut self, name: &str) -> Result<Self> {
        let mut names = self.cap_names();
        if name.eq_ignore_ascii_case("all") {
            // Every capability this process has (Docker's ALL): one it lacks could not be granted.
            let own = crate::security::caps::own_bounding();
            names = crate::security::caps::NAMES.iter().enumerate().filter(|(i, _)| own & (1u64 << i) != 0).map(|(_, s)| s.to_string()).collect();
        } else {
            let n = crate::security::caps::number(name)? as usize;
            names.push(crate::security::caps::NAMES[n].to_string());
        }
        self.capabilities(&names)
    }

    /// Removes a capability (`ALL` drops every one).
    pub fn cap_drop(mut self, name: &str) -> Result<Self> {
        let mut names = self.cap_names();
        if name.eq_ignore_ascii_case("all") {
            names.clear();
        } else {
            let n = crate::security::caps::number(name)? as usize;
            names.retain(|c| c != crate::security::caps::NAMES[n]);
        }
        self.capabilities(&names)
    }

    /// Uses this seccomp profile; `None` means unconfined (no filter at all).
    pub fn seccomp(mut self, profile: Option<oci::LinuxSeccomp>) -> Self {
        self.docker_seccomp = false;
        self.linux().set_seccomp(profile);
        self
    }

    /// The spec being built, for changes no setter makes (crate-internal).
    pub(crate) fn spec_mut(&mut self) -> &mut Spec {
        &mut self.spec
    }

    /// Docker's default seccomp profile (generated at [`SpecBuilder::build`] for the final
    /// capabilities), unless the spec has a profile of its own.
    pub(crate) fn docker_seccomp_unless_set(mut self) -> Self {
        if self.spec.config.linux().as_ref().and_then(|l| l.seccomp().as_ref()).is_none() {
            self.docker_seccomp = true;
        }
        self
    }

    pub fn build(mut self) -> Spec {
        if self.docker_seccomp {
            let names = self.cap_names();
            let mask = names.iter().filter_map(|n| crate::security::caps::number(n).ok()).fold(0u64, |m, n| m | 1 << n);
            self.linux().set_seccomp(Some(crate::security::seccomp::docker_default(mask)));
        }
        self.spec
    }
}

/// The keys a mount description may have (see [`mount_from_json`]).
pub const MOUNT_KEYS: &[&str] = &["destination", "target", "source", "type", "options", "readonly"];

/// A mount as the bindings describe one (a JSON object; `field` names it in errors, e.g.
/// `mounts[2]`): `destination` (or `target`), `source`, `type` (default "bind": `source` is then
/// a host path, made absolute, and the bind recursive unless `options` say "bind"), `options`
/// (mount(8)'s, e.g. "ro", "nosuid") and `readonly` (adds "ro"). Any other key is refused,
/// naming it: a misspelt `readonly` must not give a writable mount.
pub fn mount_from_json(field: &str, v: &serde_json::Value) -> Result<oci::Mount> {
    use serde_json::Value;
    let show = |v: &Value| v.to_string();
    let m = v.as_object().ok_or_else(|| Error::invalid(field, show(v), "a mount is an object {destination, source?, type?, options?, readonly?}"))?;
    if let Some(k) = m.keys().find(|k| !MOUNT_KEYS.contains(&k.as_str())) {
        return Err(Error::invalid(format!("{field}.{k}"), show(&m[k.as_str()]), format!("unknown key of a mount (known: {})", MOUNT_KEYS.join(", "))));
    }
    let string = |k: &str| -> Result<Option<String>> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(o) => Err(Error::invalid(format!("{field}.{k}"), show(o), "must be a string")),
        }
    };
    let destination = match (string("destination")?, string("target")?) {
        (Some(_), Some(_)) => return Err(Error::invalid(field, show(v), "give destination or target, not both")),
        (Some(d), None) | (None, Some(d)) => d,
        (None, None) => return Err(Error::invalid(format!("{field}.destination"), show(v), "is required")),
    };
    let typ = string("type")?.unwrap_or_else(|| "bind".into());
    let source = string("source")?;
    let readonly = match m.get("readonly") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(o) => return Err(Error::invalid(format!("{field}.readonly"), show(o), "must be true or false")),
    };
    let mut options = match m.get("options") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|o| o.as_str().map(str::to_string).ok_or_else(|| Error::invalid(format!("{field}.options"), show(o), "must be a list of strings")))
            .collect::<Result<Vec<_>>>()?,
        Some(o) => return Err(Error::invalid(format!("{field}.options"), show(o), "must be a list of strings")),
    };
    if readonly && !options.iter().any(|o| o == "ro") {
        options.push("ro".into());
    }
    let mut mnt = oci::Mount::default();
    mnt.set_destination(PathBuf::from(&destination));
    if typ == "bind" {
        let src = source.ok_or_else(|| Error::invalid(format!("{field}.source"), show(v), "is required for a bind mount (a host path)"))?;
        let abs = std::path::absolute(&src).map_err(|e| Error::invalid(format!("{field}.source"), &src, e.to_string()))?;
        if !options.iter().any(|o| o == "bind" || o == "rbind") {
            options.insert(0, "rbind".into());
        }
        mnt.set_source(Some(abs));
    } else {
        mnt.set_source(Some(PathBuf::from(source.unwrap_or_else(|| typ.clone()))));
    }
    mnt.set_typ(Some(typ));
    mnt.set_options(Some(options));
    Ok(mnt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_default_parses_and_matches_runc() {
        let config: oci::Spec = serde_json::from_str(RUNC_DEFAULT_CONFIG).expect("template parses");
        assert_eq!(config.hostname().as_deref(), Some("runc"));
        assert_eq!(config.process().as_ref().and_then(|p| p.terminal()), Some(false));
        assert_eq!(config.mounts().as_ref().map(|m| m.len()), Some(7));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("m", "32M").expect("32M"), 32 << 20);
        assert_eq!(parse_size("m", "1g").expect("1g"), 1 << 30);
        assert_eq!(parse_size("m", "512KiB").expect("512KiB"), 512 << 10);
        assert_eq!(parse_size("m", "4096").expect("bytes"), 4096);
        assert_eq!(parse_size("m", "1.5k").expect("1.5k"), 1536);
        for bad in ["", "x", "-1M", "12Q"] {
            assert!(parse_size("--memory", bad).expect_err(bad).to_string().contains("--memory"));
        }
    }

    #[test]
    fn id_map_parsing() {
        let m = parse_id_map("--uid-map", "0:1000:1").expect("valid");
        assert_eq!((m.container_id(), m.host_id(), m.size()), (0, 1000, 1));
        let e = parse_id_map("--uid-map", "0:x").expect_err("invalid");
        assert!(e.to_string().contains("0:x"), "{e}");
    }

    #[test]
    fn validation_names_field_and_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("rootfs")).expect("mkdir");
        let ok = SpecBuilder::new(["true"]).bundle(dir.path()).build();
        ok.validate().expect("default spec is valid");

        let missing = SpecBuilder::new(["true"]).bundle(dir.path()).rootfs("nope").build();
        let e = missing.validate().expect_err("missing rootfs").to_string();
        assert!(e.contains("root.path") && e.contains("nope"), "{e}");

        let empty = SpecBuilder::new(Vec::<String>::new()).bundle(dir.path()).build();
        assert!(empty.validate().expect_err("empty args").to_string().contains("process.args"));

        let overlap = SpecBuilder::new(["true"])
            .bundle(dir.path())
            .id_maps(
                vec![parse_id_map("u", "0:1000:10").expect("map"), parse_id_map("u", "5:2000:10").expect("map")],
                vec![parse_id_map("g", "0:1000:10").expect("map")],
            )
            .build();
        let e = overlap.validate().expect_err("overlap").to_string();
        assert!(e.contains("linux.uidMappings[1]") && e.contains("5:2000:10"), "{e}");

        let e = parse_namespace_type("bogus").expect_err("bogus").to_string();
        assert!(e.contains("bogus"), "{e}");

        let mut no_uts = SpecBuilder::new(["true"]).bundle(dir.path()).build();
        no_uts.config_mut().linux_mut().as_mut().expect("linux").namespaces_mut().as_mut().expect("ns").retain(|n| n.typ() != LinuxNamespaceType::Uts);
        assert!(no_uts.validate().expect_err("hostname without uts").to_string().contains("uts"));

        let bad_json = Spec::from_json("{\"ociVersion\": \"1.0.2\", \"linux\": {\"namespaces\": [{\"type\": \"bogus\"}]}}", dir.path());
        let e = bad_json.expect_err("unknown namespace").to_string();
        assert!(e.contains("bogus"), "{e}");
    }
}
