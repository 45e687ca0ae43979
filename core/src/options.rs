//! The options of an ad-hoc container, once: `rcontainer run [flags] -- CMD`, the Python and
//! Node packages' `create`/`run`, as plain data with its validation and its conversion to a spec.
//! Each front end only maps its own types (flags, keyword arguments, a JavaScript object) onto
//! [`Options`] and names its fields in errors its own way ([`Naming`]); what an option means,
//! which values it takes, the defaults (the embedded root, the hostname, the network, Docker's
//! security defaults) and the order they are applied in live here.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{self as oci, LinuxIdMapping, LinuxNamespaceType, Mount};

use crate::error::{Error, Result};
use crate::spec::{parse_limit, Limits, Spec, SpecBuilder};

/// How a front end spells an option in its errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Naming {
    /// `memory_swap` (Python, Rust).
    #[default]
    Snake,
    /// `--memory-swap` (the command line).
    Flag,
    /// `options.memorySwap` (Node).
    Camel,
}

impl Naming {
    /// The name of the option `snake` (its snake_case name) in this front end.
    pub fn name(self, snake: &str) -> String {
        match self {
            Naming::Snake => snake.to_string(),
            Naming::Flag => format!("--{}", snake.replace('_', "-")),
            Naming::Camel => {
                let mut out = String::from("options.");
                let mut upper = false;
                for c in snake.chars() {
                    if c == '_' {
                        upper = true;
                    } else if upper {
                        out.extend(c.to_uppercase());
                        upper = false;
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    fn invalid(self, snake: &str, value: impl std::fmt::Display, reason: impl Into<String>) -> Error {
        Error::invalid(self.name(snake), value, reason)
    }
}

/// The container's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// A network namespace of its own with only `lo` (the default).
    Private,
    /// The host's network namespace.
    Host,
    /// The network namespace at this path (e.g. /var/run/netns/NAME).
    Join(PathBuf),
}

impl Network {
    /// "none" (a private namespace), "host", or an absolute path to join.
    pub fn parse(naming: Naming, text: &str) -> Result<Network> {
        match text {
            "none" => Ok(Network::Private),
            "host" => Ok(Network::Host),
            p if p.starts_with('/') => Ok(Network::Join(PathBuf::from(p))),
            other => Err(naming.invalid(
                "network",
                format!("{other:?}"),
                "expected \"none\" (a private network namespace with only lo), \"host\" or the path of a network namespace to join",
            )),
        }
    }
}

/// The seccomp profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Seccomp {
    /// Docker's default profile (or the given spec's own).
    #[default]
    Default,
    /// None at all.
    Unconfined,
    /// This OCI profile.
    Profile(Box<oci::LinuxSeccomp>),
}

/// The options of an ad-hoc container. `Default` is a container of `args` with every default:
/// the embedded default root, hostname = the id, a private network with only `lo`, Docker's
/// capabilities, no_new_privileges and seccomp profile, no limits.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The command and its arguments (required unless `spec` has them).
    pub args: Option<Vec<String>>,
    /// A whole OCI config that the other options change. With one, Docker's defaults are not
    /// applied (the config says what it wants) and its root, hostname and namespaces stay unless
    /// an option here says otherwise.
    pub spec: Option<Spec>,
    /// Where relative paths of a config built here resolve (default: the current directory).
    pub bundle: Option<PathBuf>,
    /// The root filesystem directory (None: the spec's, else the embedded default root).
    pub rootfs: Option<PathBuf>,
    /// A copy-on-write root instead (its mount point, and the overlay: what `rcontainer-image`
    /// prepares from an image); read-only when the overlay has no upper directory.
    pub root_overlay: Option<(PathBuf, crate::RootOverlay)>,
    /// None: the container id when there is a uts namespace (and the spec gives none).
    pub hostname: Option<String>,
    /// Variables set in (or replaced in) the environment.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// (uid, gid).
    pub user: Option<(u32, u32)>,
    /// `USER[:GROUP]` with names, as `docker run -u`: looked up in the container's /etc/passwd
    /// and /etc/group (rootfs::passwd); wins over `user`.
    pub user_name: Option<String>,
    /// The namespaces, replacing the default set: (type, a path to join or None for a new one).
    pub namespaces: Option<Vec<(LinuxNamespaceType, Option<PathBuf>)>>,
    /// Changes to the set: (type, on, a path to join).
    pub namespace_changes: Vec<(LinuxNamespaceType, bool, Option<PathBuf>)>,
    /// A user namespace's uid mappings; gid mappings default to the same.
    pub uid_map: Vec<LinuxIdMapping>,
    pub gid_map: Vec<LinuxIdMapping>,
    pub mounts: Vec<Mount>,
    /// None: a private network, unless the spec says otherwise.
    pub network: Option<Network>,
    pub limits: Limits,
    pub cgroups_path: Option<PathBuf>,
    /// A terminal of its own, of this size (rows, columns) when given.
    pub terminal: Option<Option<(u16, u16)>>,
    /// Capabilities dropped from, then added to, Docker's set (`ALL` for all).
    pub cap_drop: Vec<String>,
    pub cap_add: Vec<String>,
    pub seccomp: Seccomp,
    pub no_new_privileges: Option<bool>,
    /// The sandbox preset for code you do not trust ([`SANDBOX`]): the options above that are
    /// given still win.
    pub sandbox: bool,
    /// How errors name the options.
    pub naming: Naming,
}

/// What [`Options::sandbox`] sets where the options do not say otherwise: nobody's uid and gid
/// (65534), no capabilities at all, no_new_privileges, Docker's seccomp profile (also over a
/// given spec without one), a read-only root (writable: tmpfs only, /tmp bounded to 64 MiB, the
/// default root's /dev/shm and /run), a network namespace with only `lo`, and limits of 256 MiB
/// of memory (no swap), one CPU and 64 processes. A user name the image maps to uid or gid 0 is
/// refused under it.
pub struct SandboxPreset {
    pub user: (u32, u32),
    pub memory: i64,
    pub cpus: f64,
    pub pids: i64,
    pub tmp_size: &'static str,
}

/// The sandbox preset's values.
pub const SANDBOX: SandboxPreset = SandboxPreset { user: (65534, 65534), memory: 256 << 20, cpus: 1.0, pids: 64, tmp_size: "64m" };

/// `UID` or `UID:GID` (numbers; GID defaults to UID), as `--user` and the bindings' string form.
pub fn parse_user(naming: Naming, text: &str) -> Result<(u32, u32)> {
    let bad = || naming.invalid("user", format!("{text:?}"), "expected UID or UID:GID (numbers)");
    match text.split_once(':') {
        Some((u, g)) => Ok((u.trim().parse().map_err(|_| bad())?, g.trim().parse().map_err(|_| bad())?)),
        None => {
            let u = text.trim().parse().map_err(|_| bad())?;
            Ok((u, u))
        }
    }
}

/// `KEY=VALUE` (KEY non-empty).
pub fn parse_env_entry(naming: Naming, text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(naming.invalid("env", format!("{text:?}"), "expected KEY=VALUE")),
    }
}

/// A memory or memory+swap limit in bytes: positive, or -1 for no limit.
pub fn limit_bytes(naming: Naming, option: &str, n: i64) -> Result<i64> {
    if n > 0 || n == -1 {
        Ok(n)
    } else {
        Err(naming.invalid(option, n, "must be a positive number of bytes, a size such as \"32M\", or -1 (no limit)"))
    }
}

/// The same from text: a size such as `32M`, a number of bytes, or `-1`.
pub fn limit_text(naming: Naming, option: &str, text: &str) -> Result<i64> {
    let n = parse_limit(&naming.name(option), text)?;
    limit_bytes(naming, option, n).map_err(|_| naming.invalid(option, text, "must be a positive size such as \"32M\", a number of bytes, or -1 (no limit)"))
}

/// The limits' values, for a new container or a live change: memory and memory+swap positive
/// or -1 (no limit), swap not below memory, cpus a positive number, pids positive or -1.
pub fn validate_limits(n: Naming, l: &Limits) -> Result<()> {
    if let Some(m) = l.memory {
        limit_bytes(n, "memory", m)?;
    }
    if let Some(s) = l.memory_swap {
        limit_bytes(n, "memory_swap", s)?;
    }
    if let (Some(m), Some(s)) = (l.memory, l.memory_swap) {
        if m > 0 && s > 0 && s < m {
            return Err(n.invalid("memory_swap", s, format!("is memory plus swap: it must not be below {} ({m})", n.name("memory"))));
        }
    }
    if let Some(c) = l.cpus {
        if !(c.is_finite() && c > 0.0 && c < 1e6) {
            return Err(n.invalid("cpus", c, "must be a positive number of CPUs (0.5 = half a CPU)"));
        }
    }
    if let Some(p) = l.pids {
        if !(p > 0 || p == -1) {
            return Err(n.invalid("pids", p, "must be a positive number of processes or -1 (no limit)"));
        }
    }
    Ok(())
}

impl Options {
    /// Options for `args` with every default.
    pub fn new(args: impl IntoIterator<Item = impl Into<String>>) -> Options {
        Options { args: Some(args.into_iter().map(Into::into).collect()), ..Options::default() }
    }

    /// Checks the values (the shapes are the front end's): env names, limits.
    pub fn validate(&self) -> Result<()> {
        let n = self.naming;
        for (k, _) in &self.env {
            if k.is_empty() || k.contains('=') {
                return Err(n.invalid("env", format!("{k:?}"), "variable names must be non-empty and contain no '='"));
            }
        }
        validate_limits(n, &self.limits)?;
        if let Some(args) = &self.args {
            if !args.first().is_some_and(|a| !a.is_empty()) {
                return Err(n.invalid("args", format!("{args:?}"), "must not be empty (the command to run)"));
            }
        } else if self.spec.is_none() {
            return Err(n.invalid("args", "none", "is required (the command and its arguments)"));
        }
        Ok(())
    }

    /// The spec of the container `id` (state root `state_root`, where the default root's
    /// skeleton is cached).
    pub fn to_spec(&self, id: &str, state_root: &Path) -> Result<Spec> {
        if self.sandbox {
            return self.with_sandbox_defaults().to_spec_inner(id, state_root);
        }
        self.to_spec_inner(id, state_root)
    }

    /// These options with the sandbox preset filled in where they say nothing (`sandbox` stays
    /// set: to_spec_inner adds the rest of the preset, the file system and the checks).
    fn with_sandbox_defaults(&self) -> Options {
        let mut o = self.clone();
        if o.user_name.is_none() {
            // An ordinary user whose namespace maps only their own id: they are the container's
            // root (unprivileged on the host, and with no capabilities under the preset).
            let maps = if o.uid_map.is_empty() && crate::rootless::is_rootless() { crate::rootless::default_id_maps().0 } else { o.uid_map.clone() };
            let nobody_mapped = maps.is_empty() || maps.iter().any(|m| (m.container_id()..m.container_id().saturating_add(m.size())).contains(&SANDBOX.user.0));
            o.user.get_or_insert(if nobody_mapped { SANDBOX.user } else { (0, 0) });
        }
        // A private network unless the options say something of the network namespace.
        let says_network = o.namespace_changes.iter().any(|(t, _, _)| *t == LinuxNamespaceType::Network)
            || o.namespaces.as_ref().is_some_and(|l| l.iter().any(|(t, _)| *t == LinuxNamespaceType::Network));
        if !says_network {
            o.network.get_or_insert(Network::Private);
        }
        let l = &mut o.limits;
        l.memory.get_or_insert(SANDBOX.memory);
        if l.memory_swap.is_none() && l.memory.is_some_and(|m| m > 0) {
            l.memory_swap = l.memory; // no swap: memory plus swap = memory
        }
        l.cpus.get_or_insert(SANDBOX.cpus);
        l.pids.get_or_insert(SANDBOX.pids);
        o.cap_drop.insert(0, "ALL".into());
        o.no_new_privileges.get_or_insert(true);
        o
    }

    fn to_spec_inner(&self, id: &str, state_root: &Path) -> Result<Spec> {
        self.validate()?;
        let sandbox = self.sandbox;
        let n = self.naming;
        let from_spec = self.spec.is_some();
        let mut b = match &self.spec {
            Some(spec) => {
                let mut b = SpecBuilder::from_spec(spec.clone());
                if let Some(args) = &self.args {
                    b = b.args(args.iter().cloned());
                }
                b
            }
            None => {
                let b = SpecBuilder::new(self.args.clone().unwrap_or_default());
                match &self.bundle {
                    Some(dir) => b.bundle(dir),
                    None => b,
                }
            }
        };
        let spec_root = from_spec && b.clone().build().config().root().is_some();
        b = match (&self.rootfs, &self.root_overlay) {
            (_, Some((mount_point, overlay))) => b.root_overlay(mount_point, overlay).readonly_root(overlay.upper.is_none()),
            (Some(dir), None) => {
                let abs = std::path::absolute(dir).map_err(|e| n.invalid("rootfs", dir.display(), e.to_string()))?;
                b.rootfs(abs).readonly_root(false)
            }
            (None, None) if spec_root => b,
            (None, None) => {
                // The default root replaces the mount list: a given spec's own mounts follow it.
                let own = if from_spec { b.clone().build().config().mounts().clone().unwrap_or_default() } else { Vec::new() };
                let mut b = b.default_root(state_root)?;
                for m in own {
                    b = b.mount(m);
                }
                b
            }
        };
        if let Some(list) = &self.namespaces {
            b = b.namespaces(&[]);
            for (t, path) in list {
                b = b.namespace(*t, true, path.clone());
            }
        }
        for (t, on, path) in &self.namespace_changes {
            b = b.namespace(*t, *on, path.clone());
        }
        let has_ns = |b: &SpecBuilder, t: LinuxNamespaceType| b.clone().build().has_namespace(t);
        match &self.network {
            // A given config keeps its network unless asked.
            None if from_spec => {}
            // A network namespace of its own: a new one, unless the namespaces already give one.
            None | Some(Network::Private) => {
                if !has_ns(&b, LinuxNamespaceType::Network) {
                    b = b.namespace(LinuxNamespaceType::Network, true, None);
                }
            }
            Some(Network::Host) => b = b.namespace(LinuxNamespaceType::Network, false, None),
            Some(Network::Join(path)) => b = b.namespace(LinuxNamespaceType::Network, true, Some(path.clone())),
        }
        match &self.hostname {
            Some(h) => b = b.hostname(h.clone()),
            None if !from_spec => b = b.default_hostname(id),
            None => {}
        }
        for (k, v) in &self.env {
            b = b.env(k, v);
        }
        if let Some(cwd) = &self.cwd {
            b = b.cwd(cwd.clone());
        }
        if let Some((uid, gid)) = self.user {
            b = b.user(uid, gid);
        }
        if !self.uid_map.is_empty() || !self.gid_map.is_empty() {
            let uids = if self.uid_map.is_empty() { self.gid_map.clone() } else { self.uid_map.clone() };
            let gids = if self.gid_map.is_empty() { uids.clone() } else { self.gid_map.clone() };
            b = b.id_maps(uids, gids);
        } else if crate::rootless::is_rootless() && !has_ns(&b, LinuxNamespaceType::User) {
            // An ordinary user's container: a user namespace where the caller is root (rootless.rs).
            let (uids, gids) = crate::rootless::default_id_maps();
            b = b.id_maps(uids, gids);
        }
        for m in &self.mounts {
            b = b.mount(m.clone());
        }
        if let Some(text) = &self.user_name {
            // Now that the root and the mounts are known: the files the container will see.
            let (uid, gid) = crate::rootfs::passwd::lookup_user(&b.clone().build(), &n.name("user"), text)?;
            if sandbox && (uid == 0 || gid == 0) {
                // The image's passwd chose root: the sandbox never runs as root on its say-so.
                return Err(n.invalid(
                    "user",
                    format!("{text:?}"),
                    "names uid or gid 0 in the image's /etc/passwd or /etc/group: the sandbox does not run as root (give 0 as a number to mean it)",
                ));
            }
            b = b.user(uid, gid);
        }
        if self.limits != Limits::default() {
            b = b.limits(&self.limits);
        }
        if let Some(path) = &self.cgroups_path {
            b = b.cgroups_path(path.clone());
        }
        if let Some(size) = self.terminal {
            b = b.terminal(true, size);
        }
        if !from_spec {
            // Docker's capability set, no_new_privileges and its default seccomp profile.
            b = b.docker_defaults();
        }
        // Docker's order: drops first, then adds (so cap_drop ALL, cap_add X keeps only X).
        for c in &self.cap_drop {
            b = b.cap_drop(c).map_err(|e| n.invalid("cap_drop", c, e.to_string()))?;
        }
        for c in &self.cap_add {
            b = b.cap_add(c).map_err(|e| n.invalid("cap_add", c, e.to_string()))?;
        }
        match &self.seccomp {
            Seccomp::Default => {}
            Seccomp::Unconfined => b = b.seccomp(None),
            Seccomp::Profile(p) => b = b.seccomp(Some((**p).clone())),
        }
        if let Some(on) = self.no_new_privileges {
            b = b.no_new_privileges(on);
        }
        if sandbox {
            // Docker's seccomp profile also over a given spec without one (unless asked otherwise).
            if self.seccomp == Seccomp::Default {
                b = b.docker_seccomp_unless_set();
            }
            let callers_tmp = self.mounts.iter().any(|m| m.destination() == Path::new("/tmp"));
            return Ok(read_only_with_bounded_tmp(b, callers_tmp).build());
        }
        Ok(b.build())
    }
}

/// The sandbox's file system: a read-only root whose only writable places are tmpfs, /tmp
/// bounded to [`SandboxPreset::tmp_size`] (the default root's own /tmp gets the bound, a root
/// without one gets a tmpfs there; with `callers_tmp` the caller mounted /tmp and it stays theirs).
fn read_only_with_bounded_tmp(b: SpecBuilder, callers_tmp: bool) -> SpecBuilder {
    let mut b = b.readonly_root(true);
    if callers_tmp {
        return b;
    }
    let size = format!("size={}", SANDBOX.tmp_size);
    let mounts = b.spec_mut().config_mut().mounts_mut().get_or_insert_with(Vec::new);
    let tmp_at = mounts.iter().position(|m| m.destination() == Path::new("/tmp"));
    match tmp_at.map(|i| &mut mounts[i]) {
        Some(tmp) if tmp.typ().as_deref() == Some("tmpfs") => {
            let mut options: Vec<String> = tmp.options().clone().unwrap_or_default().into_iter().filter(|o| !o.starts_with("size=")).collect();
            options.push(size);
            tmp.set_options(Some(options));
        }
        None => {
            let mut tmp = Mount::default();
            tmp.set_destination(PathBuf::from("/tmp"));
            tmp.set_typ(Some("tmpfs".into()));
            tmp.set_source(Some(PathBuf::from("tmpfs")));
            tmp.set_options(Some(vec!["nosuid".into(), "nodev".into(), "mode=1777".into(), size]));
            mounts.push(tmp);
        }
        Some(_) => {}
    }
    b
}

impl SpecBuilder {
    /// The sandbox preset ([`SANDBOX`]) on this spec, now: nobody's uid and gid, no
    /// capabilities, no_new_privileges, a network namespace of its own, the limits, a read-only
    /// root with a bounded /tmp. What is set after it wins (the C ABI's
    /// rcontainer_spec_set_sandbox; [`Options::sandbox`] applies the same to its options).
    pub fn sandbox(self) -> Result<SpecBuilder> {
        let mut b = self.user(SANDBOX.user.0, SANDBOX.user.1);
        if !b.clone().build().has_namespace(LinuxNamespaceType::Network) {
            b = b.namespace(LinuxNamespaceType::Network, true, None);
        }
        let limits =
            Limits { memory: Some(SANDBOX.memory), memory_swap: Some(SANDBOX.memory), cpus: Some(SANDBOX.cpus), pids: Some(SANDBOX.pids), ..Limits::default() };
        b = b.limits(&limits).cap_drop("ALL")?.no_new_privileges(true).docker_seccomp_unless_set();
        Ok(read_only_with_bounded_tmp(b, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_per_front_end() {
        assert_eq!(Naming::Snake.name("memory_swap"), "memory_swap");
        assert_eq!(Naming::Flag.name("memory_swap"), "--memory-swap");
        assert_eq!(Naming::Camel.name("memory_swap"), "options.memorySwap");
        assert_eq!(Naming::Camel.name("pids"), "options.pids");
    }

    #[test]
    fn the_same_bad_value_is_refused_by_every_front_end_naming_its_option() {
        for (naming, name) in [(Naming::Snake, "pids"), (Naming::Flag, "--pids"), (Naming::Camel, "options.pids")] {
            let mut o = Options::new(["true"]);
            o.naming = naming;
            o.limits.pids = Some(0);
            let e = o.validate().expect_err("pids 0").to_string();
            assert!(e.contains(&format!("{name} = 0")), "{e}");
            o.limits.pids = Some(-1);
            o.validate().expect("pids -1 is no limit");
        }
        let mut o = Options::new(["true"]);
        o.limits.memory = Some(64 << 20);
        o.limits.memory_swap = Some(32 << 20);
        assert!(o.validate().expect_err("swap below memory").to_string().contains("memory_swap"));
        o.limits.memory_swap = Some(-1);
        o.validate().expect("unlimited swap");
        o.env = vec![("A=B".into(), "c".into())];
        assert!(o.validate().is_err());
        assert!(Options::default().validate().is_err(), "no args and no spec");
        assert_eq!(parse_user(Naming::Flag, "1000:100").expect("user"), (1000, 100));
        assert_eq!(parse_user(Naming::Flag, "7").expect("user"), (7, 7));
        assert!(parse_user(Naming::Camel, "nobody").expect_err("a name").to_string().contains("options.user"));
        assert!(limit_text(Naming::Flag, "memory", "0").is_err());
        assert_eq!(limit_text(Naming::Flag, "memory", "-1").expect("-1"), -1);
        assert_eq!(limit_text(Naming::Flag, "memory", "32M").expect("32M"), 32 << 20);
    }

    #[test]
    fn the_sandbox_always_has_a_seccomp_filter_and_never_takes_root_from_the_image() {
        // The C ABI's preset over runc's template (which has no seccomp section).
        let spec = SpecBuilder::new(["sh"]).sandbox().expect("sandbox").build();
        assert!(spec.config().linux().as_ref().and_then(|l| l.seccomp().as_ref()).is_some(), "no seccomp filter under the preset");
        // Options with a whole spec (Docker's defaults are not applied to one) and the preset.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("rootfs/etc")).expect("rootfs");
        std::fs::write(dir.path().join("rootfs/etc/passwd"), "app:x:0:0::/:/bin/sh\nuser:x:1000:1000::/:/bin/sh\n").expect("passwd");
        let mut o = Options { spec: Some(SpecBuilder::new(["sh"]).rootfs(dir.path().join("rootfs")).build()), sandbox: true, ..Options::default() };
        let spec = o.to_spec("sbx", dir.path()).expect("spec");
        assert!(spec.config().linux().as_ref().and_then(|l| l.seccomp().as_ref()).is_some(), "a given spec lost the preset's filter");
        // A name the image maps to root is refused under the preset; another is fine; a number is the caller's.
        o.user_name = Some("app".into());
        let e = o.to_spec("sbx", dir.path()).expect_err("root by name").to_string();
        assert!(e.contains("the sandbox does not run as root"), "{e}");
        o.user_name = Some("user".into());
        let spec = o.to_spec("sbx", dir.path()).expect("user");
        assert_eq!(spec.config().process().as_ref().map(|p| p.user().uid()), Some(1000));
        // Asked for explicitly, unconfined stays unconfined.
        o.user_name = None;
        o.seccomp = Seccomp::Unconfined;
        let spec = o.to_spec("sbx", dir.path()).expect("unconfined");
        assert!(spec.config().linux().as_ref().and_then(|l| l.seccomp().as_ref()).is_none());
    }

    #[test]
    fn no_hostname_is_set_in_a_joined_uts_namespace() {
        // Joining the host's uts namespace must not rename the host to the container id.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("rootfs")).expect("rootfs");
        let mut o = Options::new(["sh"]);
        o.rootfs = Some(dir.path().join("rootfs"));
        o.namespace_changes = vec![(LinuxNamespaceType::Uts, true, Some(PathBuf::from("/proc/self/ns/uts")))];
        let spec = o.to_spec("box-2", dir.path()).expect("spec");
        assert_eq!(spec.config().hostname().as_deref(), None, "a hostname would be set in the joined namespace");
        o.namespace_changes.clear();
        assert_eq!(o.to_spec("box-2", dir.path()).expect("spec").config().hostname().as_deref(), Some("box-2"));
    }

    #[test]
    fn defaults_hostname_network_and_docker_security() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("rootfs")).expect("rootfs");
        let mut o = Options::new(["sh"]);
        o.rootfs = Some(dir.path().join("rootfs"));
        let spec = o.to_spec("box-1", dir.path()).expect("spec");
        let c = spec.config();
        assert_eq!(c.hostname().as_deref(), Some("box-1"));
        assert!(spec.has_namespace(LinuxNamespaceType::Network));
        assert_eq!(c.process().as_ref().and_then(|p| p.no_new_privileges()), Some(true));
        assert!(c.linux().as_ref().and_then(|l| l.seccomp().as_ref()).is_some(), "Docker's seccomp profile");
        o.network = Some(Network::Host);
        o.seccomp = Seccomp::Unconfined;
        o.no_new_privileges = Some(false);
        let spec = o.to_spec("box-1", dir.path()).expect("spec");
        assert!(!spec.has_namespace(LinuxNamespaceType::Network));
        assert!(spec.config().linux().as_ref().and_then(|l| l.seccomp().as_ref()).is_none());
        assert_eq!(spec.config().process().as_ref().and_then(|p| p.no_new_privileges()), Some(false));
    }
}
