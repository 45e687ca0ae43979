//! Spec → Plan: everything the child needs, computed in the parent before clone: each path as a
//! CString, each flag word, each fd, the argv/envp arrays. The child (child.rs) only walks the list
//! of [`Op`]s, bubblewrap-style, and reports the index of a failing step; the parent turns that
//! index back into the step's description (`what`).

use std::ffi::{c_char, CString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, PosixRlimitType};

use crate::error::{Error, Result};
use crate::rootfs;
use crate::spec::Spec;

/// One setup operation executed in the child, with raw syscalls only.
#[derive(Debug)]
pub(crate) enum Op {
    /// Block until the parent has written id maps / placed the child in its cgroup.
    WaitParent { fd: RawFd },
    /// Move ourselves into a v1 cgroup: write "0" to its `tasks` file (opened by the parent).
    JoinCgroup { fd: RawFd },
    /// setns(2) into a namespace opened by the parent.
    SetNs { fd: RawFd, nstype: libc::c_int },
    /// unshare(2) namespaces that must be created after joining (a user ns) or after cgroup placement.
    Unshare { flags: libc::c_int },
    /// Replace fds 0..3 with the given ones (-1 keeps the inherited fd).
    Stdio { fds: [RawFd; 3] },
    Umask { mask: libc::mode_t },
    Mount { source: Option<CString>, target: CString, fstype: Option<CString>, flags: libc::c_ulong, data: Option<CString> },
    /// Remount a bind mount with `flags` (MS_REMOUNT|MS_BIND added); on EPERM retries keeping the
    /// flags the kernel locks (nosuid, nodev, noexec, ro of the source).
    BindRemount { target: CString, flags: libc::c_ulong },
    Mkdir { path: CString, mode: libc::mode_t },
    /// Create an empty file to bind a file onto (EEXIST is fine).
    Touch { path: CString },
    Mknod { path: CString, mode: libc::mode_t, dev: libc::dev_t },
    Chown { path: CString, uid: libc::uid_t, gid: libc::gid_t },
    Symlink { target: CString, link: CString },
    Chdir { path: CString },
    PivotRoot,
    /// --no-pivot: move the rootfs mount onto / and chroot.
    MoveRoot,
    /// Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory; absent is fine.
    Mask { path: CString },
    /// Make a path read-only (bind onto itself + remount ro); absent is fine.
    ReadonlyPath { path: CString },
    SetHostname { name: CString },
    SetDomainname { name: CString },
    LoopbackUp { ifreq: libc::ifreq },
    WriteFile { path: CString, data: Vec<u8> },
    DropBounding { keep: u64, last_cap: u32 },
    KeepCaps { on: bool },
    SetGroups { gids: Vec<libc::gid_t> },
    SetGid { gid: libc::gid_t },
    SetUid { uid: libc::uid_t },
    Caps { effective: u64, permitted: u64, inheritable: u64, ambient: u64, last_cap: u32 },
    NoNewPrivs,
    /// Load a seccomp BPF filter (seccomp(2), SECCOMP_SET_MODE_FILTER).
    Seccomp { filter: Vec<libc::sock_filter>, flags: libc::c_uint },
    /// Pick the first executable candidate (PATH search done on prepared paths).
    FindExec,
    /// Tell the parent setup is done.
    Ready { fd: RawFd },
    /// Block until `start` opens the exec fifo (found through a dir fd outside the new root).
    WaitStart { dirfd: RawFd, name: CString },
    /// Close every fd from `first` up except `keep` (the report pipe and the state dir), so a
    /// created container holds none of its creator's files while it waits for start.
    CloseFrom { first: libc::c_uint, keep: [RawFd; 2] },
    Exec,
}

/// A step and what it is, for the error message (`mount proc on /proc`, `exec "/bin/sh"`).
#[derive(Debug)]
pub(crate) struct Step {
    pub op: Op,
    pub what: String,
}

/// What the parent passes into plan building besides the spec.
pub(crate) struct PlanInputs {
    /// The child's end of the report pipe and of the go pipe.
    pub report_fd: RawFd,
    pub go_fd: RawFd,
    /// Directory holding exec.fifo.
    pub state_dir_fd: RawFd,
    pub stdio: [Option<RawFd>; 3],
    /// Where compiled seccomp filters are cached (under the state root).
    pub seccomp_cache: Option<PathBuf>,
    /// v1 cgroup `tasks` files to write "0" to (the init joins its cgroups itself).
    pub cgroup_tasks: Vec<(PathBuf, RawFd)>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
}

/// Everything the child needs, computed before clone. Owns every CString and fd it points to.
pub struct Plan {
    pub(crate) steps: Vec<Step>,
    /// Namespaces created by clone3 itself.
    pub(crate) clone_flags: u64,
    /// uid_map / gid_map contents, written by the parent after clone.
    pub(crate) uid_map: Option<String>,
    pub(crate) gid_map: Option<String>,
    pub(crate) oom_score_adj: Option<i32>,
    /// (resource, limit, description), applied by the parent with prlimit(2).
    pub(crate) rlimits: Vec<(libc::c_int, libc::rlimit, String)>,
    /// A pid namespace to join: entered by the parent thread around clone3.
    pub(crate) pid_ns: Option<OwnedFd>,
    /// Namespace fds the SetNs steps use; kept open until the child is cloned.
    pub(crate) _ns_fds: Vec<OwnedFd>,
    pub(crate) exec_candidates: Vec<CString>,
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    pub(crate) argv_ptrs: Vec<*const c_char>,
    pub(crate) envp_ptrs: Vec<*const c_char>,
}

// SAFETY: the raw pointers point into CStrings owned by the same Plan and are only read.
unsafe impl Send for Plan {}

impl Plan {
    /// Takes the namespace fds out (the pid namespace to join, and those the SetNs steps name by
    /// number): they must stay open only until clone, in the parent, while the Plan itself may
    /// have to outlive that (spawn.rs, CLONE_VM).
    pub(crate) fn take_fds(&mut self) -> (Option<OwnedFd>, Vec<OwnedFd>) {
        (self.pid_ns.take(), std::mem::take(&mut self._ns_fds))
    }
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan").field("steps", &self.steps).field("clone_flags", &self.clone_flags).finish_non_exhaustive()
    }
}

pub(crate) fn cstr(field: &str, s: impl AsRef<[u8]>) -> Result<CString> {
    let bytes = s.as_ref();
    CString::new(bytes).map_err(|_| Error::invalid(field, String::from_utf8_lossy(bytes), "contains a NUL byte"))
}

pub(crate) fn cpath(field: &str, p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    cstr(field, p.as_os_str().as_bytes())
}

fn ns_flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => 0x80, // CLONE_NEWTIME
    }
}

fn rlimit_resource(t: PosixRlimitType) -> libc::c_int {
    (match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }) as libc::c_int
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Plan {
    /// Builds the plan for `spec`, which the caller has validated ([`Spec::validate`], run by
    /// `Container::create` before anything exists). Fails with a field-naming error on whatever
    /// only plan building can find out.
    pub(crate) fn build(spec: &Spec, inputs: &PlanInputs) -> Result<Plan> {
        let config = spec.config();
        let process = config.process().as_ref().ok_or_else(|| Error::invalid("process", "null", "a process is required"))?;
        let linux = config.linux().as_ref();
        let mut steps = Vec::with_capacity(64);
        let push = |steps: &mut Vec<Step>, op: Op, what: String| steps.push(Step { op, what });

        push(&mut steps, Op::WaitParent { fd: inputs.go_fd }, "wait for the runtime".into());
        for (path, fd) in &inputs.cgroup_tasks {
            push(&mut steps, Op::JoinCgroup { fd: *fd }, format!("join cgroup {}", path.parent().unwrap_or(path).display()));
        }

        // Namespaces: new ones by clone3 flags, existing ones by setns (user first).
        let mut clone_flags: u64 = 0;
        let mut ns_fds = Vec::new();
        let mut pid_ns = None;
        let mut joins = Vec::new();
        let joins_user = spec.namespaces().iter().any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_some());
        let mut unshare_after_join = 0;
        let mut unshare_after_parent = 0;
        for ns in spec.namespaces() {
            let flag = ns_flag(ns.typ());
            match ns.path() {
                Some(path) => {
                    let fd = nix::fcntl::open(path.as_path(), nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                        .and_then(crate::sys::not_stdio)
                        .map_err(|e| Error::invalid(format!("linux.namespaces[{}].path", ns.typ()), path.display(), crate::error::ErrnoText(e).to_string()))?;
                    if ns.typ() == LinuxNamespaceType::Pid {
                        pid_ns = Some(fd);
                    } else {
                        joins.push((ns.typ(), fd.as_raw_fd(), flag, path.clone()));
                        ns_fds.push(fd);
                    }
                }
                None if ns.typ() == LinuxNamespaceType::Cgroup => unshare_after_parent |= flag,
                None if joins_user && ns.typ() != LinuxNamespaceType::Pid && ns.typ() != LinuxNamespaceType::Time => unshare_after_join |= flag,
                None => clone_flags |= flag as u64,
            }
        }
        joins.sort_by_key(|(t, ..)| *t != LinuxNamespaceType::User);
        for (t, fd, flag, path) in joins {
            push(&mut steps, Op::SetNs { fd, nstype: flag }, format!("join {t} namespace {}", path.display()));
        }
        if spec.has_namespace(LinuxNamespaceType::User) {
            // Our credentials still carry the host uid; become the namespace's root (now mapped).
            push(&mut steps, Op::SetGid { gid: 0 }, "setgid 0 in the user namespace".into());
            push(&mut steps, Op::SetUid { uid: 0 }, "setuid 0 in the user namespace".into());
        }
        if unshare_after_join != 0 {
            push(&mut steps, Op::Unshare { flags: unshare_after_join }, "create namespaces in the joined user namespace".into());
        }
        if unshare_after_parent != 0 {
            push(&mut steps, Op::Unshare { flags: unshare_after_parent }, "create cgroup namespace".into());
        }

        if inputs.stdio.iter().any(Option::is_some) {
            let fds = inputs.stdio.map(|f| f.unwrap_or(-1));
            push(&mut steps, Op::Stdio { fds }, "set up stdio".into());
        }
        // From here on the child needs no fd of the parent's but these two (the namespace fds
        // were used above).
        push(&mut steps, Op::CloseFrom { first: 3 + inputs.preserve_fds, keep: [inputs.report_fd, inputs.state_dir_fd] }, "close inherited file descriptors".into());
        // Modes of created dirs and devices are exact; the process's umask is set at the end.
        push(&mut steps, Op::Umask { mask: 0 }, "umask".into());

        // Root filesystem: mounts, /dev, pivot_root, masked and read-only paths.
        let user_ns = spec.has_namespace(LinuxNamespaceType::User);
        rootfs::plan_rootfs(spec, user_ns, inputs.no_pivot, &mut steps)?;

        if let Some(name) = config.hostname().as_deref().filter(|h| !h.is_empty()) {
            push(&mut steps, Op::SetHostname { name: cstr("hostname", name)? }, format!("sethostname {name:?}"));
        }
        if let Some(name) = config.domainname().as_deref().filter(|h| !h.is_empty()) {
            push(&mut steps, Op::SetDomainname { name: cstr("domainname", name)? }, format!("setdomainname {name:?}"));
        }
        if spec.namespaces().iter().any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none()) {
            // SAFETY: ifreq is plain data.
            let mut ifreq: libc::ifreq = unsafe { std::mem::zeroed() };
            for (d, s) in ifreq.ifr_name.iter_mut().zip(b"lo") {
                *d = *s as c_char;
            }
            ifreq.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as libc::c_short;
            push(&mut steps, Op::LoopbackUp { ifreq }, "bring up the loopback interface lo".into());
        }

        // Rlimits are set by the parent with prlimit(2) while the child waits (one less step in
        // the child, and it works where a setrlimit in the child is intercepted, as under valgrind).
        let rlimits = process
            .rlimits()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|r| (rlimit_resource(r.typ()), libc::rlimit { rlim_cur: r.soft(), rlim_max: r.hard() }, format!("setrlimit {} soft={} hard={}", r.typ(), r.soft(), r.hard())))
            .collect();

        // Identity and privileges (runc's order: bounding set, keep caps, user, caps).
        let nnp = process.no_new_privileges() == Some(true);
        let seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
            Some(profile) => Some(crate::security::seccomp::compile_cached(profile, inputs.seccomp_cache.as_deref())?),
            None => None,
        };
        let mut seccomp_step = seccomp.map(|c| Step { op: Op::Seccomp { filter: c.filter, flags: c.flags }, what: "load the seccomp filter (linux.seccomp)".into() });
        if !nnp {
            // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it before dropping
            // privileges (runc's order); the filter then also applies to the remaining setup.
            steps.extend(seccomp_step.take());
        }
        let caps = crate::security::caps::CapSets::from_spec(process.capabilities().as_ref())?;
        let last_cap = crate::security::caps::last_cap();
        if let Some(c) = &caps {
            push(&mut steps, Op::DropBounding { keep: c.bounding, last_cap }, "drop capabilities from the bounding set".into());
            push(&mut steps, Op::KeepCaps { on: true }, "prctl(PR_SET_KEEPCAPS)".into());
        }
        let user = process.user();
        let gids: Vec<libc::gid_t> = user.additional_gids().clone().unwrap_or_default();
        let setgroups_allowed = !user_ns || linux.and_then(|l| l.gid_mappings().as_ref()).is_some();
        if setgroups_allowed {
            push(&mut steps, Op::SetGroups { gids: gids.clone() }, format!("setgroups {gids:?}"));
        }
        push(&mut steps, Op::SetGid { gid: user.gid() }, format!("setgid {}", user.gid()));
        push(&mut steps, Op::SetUid { uid: user.uid() }, format!("setuid {}", user.uid()));
        if let Some(c) = &caps {
            push(&mut steps, Op::KeepCaps { on: false }, "prctl(PR_SET_KEEPCAPS, 0)".into());
            push(
                &mut steps,
                Op::Caps { effective: c.effective, permitted: c.permitted, inheritable: c.inheritable, ambient: c.ambient, last_cap },
                "set capabilities".into(),
            );
        }
        if nnp {
            push(&mut steps, Op::NoNewPrivs, "prctl(PR_SET_NO_NEW_PRIVS)".into());
        }
        let mask = user.umask().unwrap_or(0o022);
        push(&mut steps, Op::Umask { mask }, format!("umask {mask:o}"));
        let cwd = process.cwd();
        push(&mut steps, Op::Chdir { path: cpath("process.cwd", cwd)? }, format!("chdir to cwd {}", cwd.display()));

        // The command: argv, envp and the exec candidates (PATH search on prepared strings).
        let args = process.args().as_deref().unwrap_or(&[]);
        let argv: Vec<CString> = args.iter().map(|a| cstr("process.args", a)).collect::<Result<_>>()?;
        let env = process.env().as_deref().unwrap_or(&[]);
        let envp: Vec<CString> = env.iter().map(|e| cstr("process.env", e)).collect::<Result<_>>()?;
        let arg0 = &args[0];
        let exec_candidates: Vec<CString> = if arg0.contains('/') {
            vec![cstr("process.args[0]", arg0)?]
        } else {
            let path = env.iter().rev().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
            path.split(':')
                .map(|dir| if dir.is_empty() { "." } else { dir })
                .map(|dir| cstr("process.args[0]", format!("{}/{arg0}", dir.trim_end_matches('/'))))
                .collect::<Result<_>>()?
        };
        let exec_what = if arg0.contains('/') { format!("exec {arg0:?}") } else { format!("exec {arg0:?} (searched $PATH)") };
        push(&mut steps, Op::FindExec, exec_what.clone());
        push(&mut steps, Op::Ready { fd: inputs.report_fd }, "report ready".into());
        push(&mut steps, Op::WaitStart { dirfd: inputs.state_dir_fd, name: cstr("fifo", crate::state::EXEC_FIFO)? }, "wait for start (exec fifo)".into());
        // With no_new_privs the filter is the last thing before exec.
        steps.extend(seccomp_step);
        push(&mut steps, Op::Exec, exec_what);

        let argv_ptrs = argv.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        let envp_ptrs = envp.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();

        let maps = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
            m.filter(|_| spec.namespaces().iter().any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none()))
                .map(|m| m.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect::<String>())
        };
        Ok(Plan {
            steps,
            clone_flags,
            uid_map: maps(linux.and_then(|l| l.uid_mappings().as_ref())),
            gid_map: maps(linux.and_then(|l| l.gid_mappings().as_ref())),
            oom_score_adj: process.oom_score_adj(),
            rlimits,
            pid_ns,
            _ns_fds: ns_fds,
            exec_candidates,
            _argv: argv,
            _envp: envp,
            argv_ptrs,
            envp_ptrs,
        })
    }

    /// The description of step `i` (for an error the child reported).
    pub(crate) fn what(&self, i: usize) -> &str {
        self.steps.get(i).map(|s| s.what.as_str()).unwrap_or("container setup")
    }
}

/// `rootfs` joined with an in-container absolute path, resolving symlinks that exist in the rootfs
/// as if the rootfs were `/` (so a symlink in an image cannot point a mount outside the rootfs).
pub(crate) fn join_in_root(rootfs: &Path, dest: &Path) -> PathBuf {
    use std::path::Component;
    let mut resolved = PathBuf::from("/");
    let mut pending: Vec<std::ffi::OsString> = dest.components().rev().filter_map(|c| match c {
        Component::Normal(s) => Some(s.to_os_string()),
        Component::ParentDir => Some("..".into()),
        _ => None,
    }).collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let host = rootfs.join(candidate.strip_prefix("/").unwrap_or(&candidate));
        match std::fs::read_link(&host) {
            Ok(target) if hops < 255 => {
                hops += 1;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(s) => pending.push(s.to_os_string()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => resolved = candidate,
        }
    }
    rootfs.join(resolved.strip_prefix("/").unwrap_or(&resolved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_in_root_stays_inside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("real")).expect("mkdir");
        std::os::unix::fs::symlink("/real", root.join("abs")).expect("symlink");
        std::os::unix::fs::symlink("../../../../etc", root.join("escape")).expect("symlink");
        assert_eq!(join_in_root(root, Path::new("/abs/x")), root.join("real/x"));
        assert_eq!(join_in_root(root, Path::new("/escape/passwd")), root.join("etc/passwd"));
        assert_eq!(join_in_root(root, Path::new("/a/../b")), root.join("b"));
    }
}
