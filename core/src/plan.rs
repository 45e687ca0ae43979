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

/// What the child creates when a path inside the root is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    No,
    /// Every missing directory down to the path (mode 0755).
    Dir,
    /// The missing directories above it, then an empty file (a bind mount target for a file).
    File,
}

/// A path inside the container's root filesystem, resolved by the child at the moment it is used,
/// after every earlier mount: openat2 from the root's fd with RESOLVE_IN_ROOT (`..` and absolute
/// symlinks stay inside the root) and RESOLVE_NO_MAGICLINKS (no /proc/self/fd/N jump to a host
/// object), or an equivalent walk (child/resolve.rs). The child then acts through the fd it got,
/// never through the path again.
#[derive(Debug)]
pub(crate) struct InRoot {
    /// Relative to the root; "." for the root itself.
    pub path: CString,
    /// The directory holding it (relative, "." at the top) and its last component: to create
    /// just that when only it is missing (the common case), without walking the whole path.
    pub parent: Option<(CString, CString)>,
    /// Refuse any symlink on the way (procfs and sysfs destinations, as runc does).
    pub no_symlinks: bool,
}

impl InRoot {
    /// `dest`, an absolute path inside the container (`field` names it in errors).
    pub(crate) fn new(field: &str, dest: &Path) -> Result<InRoot> {
        use std::os::unix::ffi::OsStrExt;
        use std::path::Component;
        let mut joined: Vec<u8> = Vec::new();
        let mut parent_len = None;
        let mut last: &[u8] = b"";
        for c in dest.components() {
            let part: &[u8] = match c {
                Component::Normal(s) => s.as_bytes(),
                Component::ParentDir => b"..",
                Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
            };
            parent_len = Some(joined.len());
            if !joined.is_empty() {
                joined.push(b'/');
            }
            joined.extend_from_slice(part);
            last = part;
        }
        let path = if joined.is_empty() { cstr(field, ".")? } else { cstr(field, &joined)? };
        let parent = match parent_len {
            // A last component of ".." is not something to create.
            Some(n) if last != b".." => Some((if n == 0 { cstr(field, ".")? } else { cstr(field, &joined[..n])? }, cstr(field, last)?)),
            _ => None,
        };
        Ok(InRoot { path, parent, no_symlinks: false })
    }

    pub(crate) fn no_symlinks(mut self) -> InRoot {
        self.no_symlinks = true;
        self
    }
}

/// One setup operation executed in the child, with raw syscalls only.
#[derive(Debug)]
pub(crate) enum Op {
    /// Block until the parent has written id maps / placed the child in its cgroup; the fd stays
    /// open when the hooks' sync point needs it again (`keep`).
    WaitParent {
        fd: RawFd,
        keep: bool,
    },
    /// The hooks' sync point: tell the parent (HOOKS on the report pipe), wait for its go.
    HooksSync {
        report_fd: RawFd,
        go_fd: RawFd,
        keep: bool,
    },
    /// Move ourselves into a v1 cgroup: write "0" to its `tasks` file (opened by the parent).
    JoinCgroup {
        fd: RawFd,
    },
    /// setns(2) into a namespace opened by the parent.
    SetNs {
        fd: RawFd,
        nstype: libc::c_int,
    },
    /// An ordinary user's exec into a container with a user and a pid namespace: the runtime may
    /// not join the pid namespace around clone (that needs CAP_SYS_ADMIN in its own user
    /// namespace), so the child joins the user namespace, then the pid namespace, and forks
    /// (CLONE_PARENT: the new process is the runtime's child). The new process goes on with the
    /// plan; this one reports its pid (child::FORKED) and exits.
    JoinUserPidFork {
        user_fd: RawFd,
        pid_fd: RawFd,
        report_fd: RawFd,
    },
    /// unshare(2) namespaces that must be created after joining (a user ns) or after cgroup placement.
    Unshare {
        flags: libc::c_int,
    },
    /// Replace fds 0..3 with the given ones (-1 keeps the inherited fd).
    Stdio {
        fds: [RawFd; 3],
    },
    /// setsid(2): a new session without a controlling terminal, so the container cannot reach
    /// the caller's terminal through TIOCSTI or job control.
    NewSession,
    /// Close each inherited fd 0-2 (`inherited[i]`) that is close-on-exec (the exec would close
    /// it anyway: a host file that landed there after the host closed its stdio must not stay
    /// open during setup), then refuse a directory as fd 0, 1 or 2.
    CheckStdio {
        inherited: [bool; 3],
    },
    /// Close every fd from `first` up except `keep` (sorted, ascending), so the container holds
    /// none of its creator's files, and no host directory can be reached through /proc/self/fd
    /// while its paths are resolved (CVE-2024-21626). Done twice: first thing (keeping every fd
    /// the plan uses: another thread of the host may have opened anything, even the fds of a
    /// container it creates at the same time), and after stdio is set up (keeping only what
    /// the exec stub needs).
    CloseFrom {
        first: libc::c_uint,
        keep: Vec<RawFd>,
    },
    Umask {
        mask: libc::mode_t,
    },
    /// mount(2) on a path the runtime chose, never one the container controls: `/` (propagation)
    /// and the root filesystem itself (bound onto itself, or a copy-on-write overlay mounted on it).
    MountPath {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// Opens the root filesystem (O_PATH, after its self-bind): every [`InRoot`] is resolved from it.
    OpenRoot {
        path: CString,
    },
    /// mount(2) onto a path inside the root, resolved now (and created when missing, as asked).
    /// Without a source and type, a propagation change of the mount there.
    Mount {
        source: Option<CString>,
        dest: InRoot,
        create: Create,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// A tmpfs onto `dest` (created when missing) whose options name no `mode=`: over an
    /// existing directory it gets that directory's permission bits (`mode=` before `data`), as
    /// runc does, so a tmpfs on an image's 0755 /tmp is not world-writable; on a new directory
    /// the tmpfs default (1777).
    MountTmpfs {
        source: CString,
        dest: InRoot,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// A bind mount of the host path `source` onto `dest`, its attributes set before it is
    /// attached: open_tree(OPEN_TREE_CLONE) of the source, mount_setattr on that detached tree
    /// (`rec_*` on every mount of it, then `set`/`clear` (MOUNT_ATTR_*) on its top), then
    /// move_mount onto the fd `dest` resolved to. Nothing is resolved twice. Where the kernel
    /// lacks those calls: mount(2), then the remount on `dest` resolved again and checked to be
    /// the source's directory.
    Bind {
        source: CString,
        dest: InRoot,
        create: Create,
        recursive: bool,
        set: u64,
        clear: u64,
        rec_set: u64,
        rec_clear: u64,
    },
    /// Remount the mount at `dest` with `flags` (MS_REMOUNT|MS_BIND added); on EPERM retries keeping
    /// the flags the kernel locks (nosuid, nodev, noexec, ro of the source).
    BindRemount {
        dest: InRoot,
        flags: libc::c_ulong,
    },
    /// mount_setattr(2) on the mount at `dest` and, when `recursive`, every mount below it.
    SetAttr {
        dest: InRoot,
        set: u64,
        clear: u64,
        recursive: bool,
    },
    /// mknodat in the directory `dir` (created when missing), never following a link; a node
    /// already there must be the same device.
    Mknod {
        dir: InRoot,
        name: CString,
        mode: libc::mode_t,
        dev: libc::dev_t,
    },
    Chown {
        dir: InRoot,
        name: CString,
        uid: libc::uid_t,
        gid: libc::gid_t,
    },
    Symlink {
        dir: InRoot,
        name: CString,
        target: CString,
    },
    /// Opens the container's /dev/null for [`Op::Mask`]; it must be the character device 1:3.
    OpenDevNull,
    /// Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory; absent is fine.
    Mask {
        path: InRoot,
    },
    /// Make a path read-only (bind onto itself + remount ro); absent is fine.
    ReadonlyPath {
        path: InRoot,
    },
    /// Write `data` to a sysctl: an existing regular file of the container's procfs (under
    /// /proc/sys), never whatever an image put at that path.
    WriteSysctl {
        path: InRoot,
        data: Vec<u8>,
    },
    /// pivot_root into the root's fd, detach the old root, close the root's fd.
    PivotRoot,
    /// --no-pivot: move the root's mount onto / and chroot.
    MoveRoot,
    SetHostname {
        name: CString,
    },
    SetDomainname {
        name: CString,
    },
    LoopbackUp {
        ifreq: libc::ifreq,
    },
    DropBounding {
        keep: u64,
        last_cap: u32,
    },
    KeepCaps {
        on: bool,
    },
    SetGroups {
        gids: Vec<libc::gid_t>,
    },
    SetGid {
        gid: libc::gid_t,
    },
    SetUid {
        uid: libc::uid_t,
    },
    Caps {
        effective: u64,
        permitted: u64,
        inheritable: u64,
        ambient: u64,
        last_cap: u32,
    },
    NoNewPrivs,
    /// Load a seccomp BPF filter (seccomp(2), SECCOMP_SET_MODE_FILTER). Only without
    /// no_new_privs; with it, the exec stub loads the filter right before execve.
    /// With `listener` (report fd, go fd): loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER, the
    /// notify fd's number reported (SECCOMP_LISTENER) for the runtime to take (pidfd_getfd) and
    /// send to the listener, then the runtime's go awaited and the child's copy closed.
    Seccomp {
        filter: Vec<libc::sock_filter>,
        flags: libc::c_uint,
        listener: Option<(RawFd, RawFd)>,
    },
    /// chdir to the process's cwd.
    Chdir {
        path: CString,
    },
    /// Check with getcwd that the cwd is inside the root (runc >= 1.1.12 does the same).
    CheckCwd,
    /// A terminal for the container (process.terminal): a new pty from the container's own
    /// devpts (`/dev/ptmx` inside the root), its slave bound onto `/dev/console`, its size set,
    /// owned by the process's user; the master sent over `socket` (runc's console socket: the
    /// name "/dev/ptmx" and the fd, SCM_RIGHTS), then closed here. The slave stays for
    /// [`Op::ConsoleStdio`].
    /// For an exec'd process (`console` None) the slave is not bound onto /dev/console.
    Console {
        ptmx: InRoot,
        console: Option<InRoot>,
        socket: RawFd,
        size: Option<(u16, u16)>,
        owner: (libc::uid_t, libc::gid_t),
    },
    /// The pty slave becomes stdin, stdout, stderr and the controlling terminal.
    ConsoleStdio,
    /// Pick the first executable candidate (PATH search done on prepared paths).
    FindExec,
    /// Open the LSM's exec attribute of this thread (`path`, relative to the container's
    /// procfs, never leaving it) and put it at fd `at` (a number the parent reserved, which the
    /// stub's argv names).
    OpenLsmAttr {
        path: CString,
        at: RawFd,
    },
    /// Unblock every signal and let the report and start fds survive the stub's exec.
    PrepareStub {
        report_fd: RawFd,
        start_fd: RawFd,
    },
    /// execveat the exec stub (child/stub.rs), which reports READY, waits for `start`, and execs
    /// the command.
    ExecStub {
        fd: RawFd,
    },
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
    /// The exec fifo, opened read-write: the stub blocks reading it until `start` writes.
    pub start_fd: RawFd,
    pub stdio: [Option<RawFd>; 3],
    /// Where the pty master goes when process.terminal is set (a connected unix socket).
    pub console_socket: Option<RawFd>,
    /// Where compiled seccomp filters are cached.
    pub seccomp_cache: Option<PathBuf>,
    /// v1 cgroup `tasks` files to write "0" to (the init joins its cgroups itself).
    pub cgroup_tasks: Vec<(PathBuf, RawFd)>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    /// A process exec'd into a running container: it joins the container's namespaces (the spec
    /// names them all by path) and sets up no root filesystem, hostname or network.
    pub exec: bool,
    /// The file to execute when it is not `process.args[0]` (a hook: its `path`, with `args[0]`
    /// as argv[0]).
    pub exec_path: Option<PathBuf>,
}

#[cfg(test)]
impl PlanInputs {
    /// Inputs for building a plan in a test: every pipe and fifo the child would get is `fd`
    /// (e.g. /dev/null), nothing else.
    pub(crate) fn for_tests(fd: RawFd) -> PlanInputs {
        PlanInputs {
            seccomp_cache: None,
            cgroup_tasks: Vec::new(),
            report_fd: fd,
            go_fd: fd,
            start_fd: fd,
            stdio: [None, None, None],
            console_socket: None,
            preserve_fds: 0,
            no_pivot: false,
            exec: false,
            exec_path: None,
        }
    }
}

/// Everything the child needs, computed before clone. Owns every CString and fd it points to.
pub struct Plan {
    pub(crate) steps: Vec<Step>,
    /// Namespaces created by clone3 itself.
    pub(crate) clone_flags: u64,
    /// uid_map / gid_map contents, written by the parent after clone.
    pub(crate) uid_map: Option<String>,
    pub(crate) gid_map: Option<String>,
    /// Who writes them (an ordinary user needs setgroups denied, or newuidmap/newgidmap).
    pub(crate) map_writer: crate::rootless::MapWriter,
    pub(crate) oom_score_adj: Option<i32>,
    /// (resource, limit, description), applied by the parent with prlimit(2).
    pub(crate) rlimits: Vec<(libc::c_int, libc::rlimit, String)>,
    /// A pid namespace to join: entered by the parent thread around clone3.
    pub(crate) pid_ns: Option<OwnedFd>,
    /// Namespace fds the SetNs steps use; kept open until the child is cloned.
    pub(crate) _ns_fds: Vec<OwnedFd>,
    pub(crate) exec_candidates: Vec<CString>,
    /// `/dev/null` inside the root: the source of masked paths (never through a symlink).
    pub(crate) dev_null: InRoot,
    /// What the stub's late failures are about: (exec, LSM label, seccomp).
    pub(crate) exec_what: String,
    /// The stub's argv, one per exec candidate: [candidate, report fd, start fd, LSM fd or "-",
    /// label, the command's argv..., NULL].
    pub(crate) stub_argvs: Vec<Vec<*const c_char>>,
    /// Where the seccomp listener's fd goes, and the state sent with it (the runtime spec's
    /// ContainerProcessState without the pid and id, which the spawn fills in).
    pub(crate) seccomp_listener: Option<(crate::security::seccomp::Listener, oci_spec::runtime::ContainerProcessState)>,
    _strings: Vec<CString>,
    _argv: Vec<CString>,
    _envp: Vec<CString>,
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

        // The seccomp filter first: with no_new_privs the exec stub carries it (loaded right
        // before execve), so the stub's memfd is made with it.
        let nnp = process.no_new_privileges() == Some(true);
        let seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
            Some(profile) => Some(crate::security::seccomp::compile_cached(profile, inputs.seccomp_cache.as_deref())?),
            None => None,
        };
        if let Some(c) = &seccomp {
            // The kernel's limit (BPF_MAXINSNS); the stub passes the length as 16 bits.
            if c.filter.len() > 4096 {
                return Err(Error::invalid("linux.seccomp", format!("{} BPF instructions", c.filter.len()), "the kernel loads at most 4096"));
            }
        }
        // A profile that notifies: the child loads it (the stub cannot hand a listener over).
        let listener = match linux.and_then(|l| l.seccomp().as_ref()) {
            Some(profile) => crate::security::seccomp::listener(profile)?,
            None => None,
        };
        let (stub_seccomp, mut child_seccomp) = if nnp && listener.is_none() { (seccomp, None) } else { (None, seccomp) };
        let stub = crate::child::stub::memfd(stub_seccomp.as_ref().map(|c| (c.filter.as_slice(), c.flags)))?;
        let lsm = crate::security::lsm::exec_label(spec)?;
        let lsm_fd = match &lsm {
            // A number the child will put the attribute's fd at: reserved by a duplicate here.
            Some(_) => Some(crate::sys::dup_cloexec(&stub).map_err(Error::sys("dup (LSM fd placeholder)"))?),
            None => None,
        };

        // Every preserved fd must be open (runc passes each as a file): a count that runs past the
        // caller's fds would otherwise keep whatever else is open, or wrap around.
        let first_free = 3u32
            .checked_add(inputs.preserve_fds)
            .filter(|n| *n <= 1 << 20)
            .ok_or_else(|| Error::invalid("preserve_fds", inputs.preserve_fds, "more fds than a process can have"))?;
        for fd in 3..first_free {
            // SAFETY: F_GETFD only reads the fd's flags.
            if unsafe { libc::fcntl(fd as i32, libc::F_GETFD) } < 0 {
                return Err(Error::invalid("preserve_fds", inputs.preserve_fds, format!("fd {fd} is not open (fds 3 to {} are passed)", first_free - 1)));
            }
        }
        let lsm_raw = lsm_fd.as_ref().map_or(-1, |f| f.as_raw_fd());
        let early_close = steps.len();
        // (its keep list is filled in below, once every fd the plan uses is known)
        push(&mut steps, Op::CloseFrom { first: first_free, keep: Vec::new() }, "close file descriptors the runtime did not give".into());
        let hooks_sync = !inputs.exec && crate::hooks::any_at_create(config.hooks().as_ref());
        push(&mut steps, Op::WaitParent { fd: inputs.go_fd, keep: hooks_sync || listener.is_some() }, "wait for the runtime".into());
        for (path, fd) in &inputs.cgroup_tasks {
            push(&mut steps, Op::JoinCgroup { fd: *fd }, format!("join cgroup {}", path.parent().unwrap_or(path).display()));
        }

        // Namespaces: new ones by clone3 flags, existing ones by setns (user first).
        let mut clone_flags: u64 = 0;
        let mut ns_fds = Vec::new();
        let mut pid_ns = None;
        let mut joins = Vec::new();
        let joins_user = spec.namespaces().iter().any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_some());
        // An ordinary user joins a pid namespace from inside the container's user namespace
        // (Op::JoinUserPidFork), not around clone.
        let fork_into_pid = joins_user && crate::rootless::is_rootless();
        let mut pid_join_fd = None;
        let mut unshare_after_join = 0;
        let mut unshare_after_parent = 0;
        for ns in spec.namespaces() {
            let flag = ns_flag(ns.typ());
            match ns.path() {
                Some(path) => {
                    let fd = nix::fcntl::open(path.as_path(), nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                        .and_then(crate::sys::not_stdio)
                        .map_err(|e| Error::invalid(format!("linux.namespaces[{}].path", ns.typ()), path.display(), crate::error::ErrnoText(e).to_string()))?;
                    if ns.typ() == LinuxNamespaceType::Pid && fork_into_pid {
                        pid_join_fd = Some(fd.as_raw_fd());
                        ns_fds.push(fd);
                    } else if ns.typ() == LinuxNamespaceType::Pid {
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
        if let Some(pid_fd) = pid_join_fd {
            if let Some(i) = joins.iter().position(|(t, ..)| *t == LinuxNamespaceType::User) {
                let (_, user_fd, _, path) = joins.remove(i);
                push(
                    &mut steps,
                    Op::JoinUserPidFork { user_fd, pid_fd, report_fd: inputs.report_fd },
                    format!("join user namespace {} and the pid namespace, then fork into it", path.display()),
                );
            }
        }
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
        push(&mut steps, Op::NewSession, "setsid".into());
        push(
            &mut steps,
            Op::CheckStdio { inherited: inputs.stdio.map(|f| f.is_none()) },
            "stdio: a directory as stdin, stdout or stderr would lead out of the container".into(),
        );
        // From here on the child holds no fd of the parent's but the report pipe, the exec fifo
        // (a fifo, not its directory) and the stub's memfd: nothing that leads to a host
        // directory (the namespace fds were used above).
        let keep = |fds: &[RawFd]| {
            let mut v: Vec<RawFd> = fds.iter().copied().filter(|fd| *fd >= 0).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let mut used = vec![inputs.go_fd, inputs.report_fd, inputs.start_fd, stub.as_raw_fd(), lsm_raw];
        used.extend(inputs.cgroup_tasks.iter().map(|(_, fd)| *fd));
        used.extend(ns_fds.iter().map(|f| f.as_raw_fd()));
        used.extend(inputs.stdio.iter().flatten());
        used.extend(inputs.console_socket);
        steps[early_close].op = Op::CloseFrom { first: first_free, keep: keep(&used) };
        push(
            &mut steps,
            Op::CloseFrom {
                first: first_free,
                keep: keep(&[
                    inputs.report_fd,
                    inputs.start_fd,
                    stub.as_raw_fd(),
                    lsm_raw,
                    inputs.console_socket.unwrap_or(-1),
                    if hooks_sync || listener.is_some() { inputs.go_fd } else { -1 },
                ]),
            },
            "close inherited file descriptors".into(),
        );
        // Modes of created dirs and devices are exact; the process's umask is set at the end.
        push(&mut steps, Op::Umask { mask: 0 }, "umask".into());

        // Root filesystem: mounts, /dev, masked and read-only paths, pivot_root.
        // (root of a user namespace, as under rootless podman, cannot mknod either)
        let user_ns = spec.has_namespace(LinuxNamespaceType::User) || crate::rootless::in_user_namespace();
        let console = match (process.terminal() == Some(true), inputs.console_socket) {
            (false, _) => None,
            (true, Some(socket)) => {
                let size = process.console_size().as_ref().map(|b| (b.height().min(u16::MAX as u64) as u16, b.width().min(u16::MAX as u64) as u16));
                Some(Op::Console {
                    ptmx: InRoot::new("/dev/ptmx", Path::new("/dev/ptmx"))?,
                    console: if inputs.exec { None } else { Some(InRoot::new("/dev/console", Path::new("/dev/console"))?) },
                    socket,
                    size,
                    owner: (process.user().uid(), process.user().gid()),
                })
            }
            (true, None) => return Err(Error::invalid("process.terminal", "true", "a terminal needs a console socket to send its pty master to")),
        };
        if inputs.exec {
            // Already in the container's mount namespace (setns put us at its root): only a
            // terminal to make, from the container's own /dev/ptmx.
            if let Some(op) = console {
                push(&mut steps, Op::OpenRoot { path: cstr("/", "/")? }, "open the container's root".into());
                push(&mut steps, op, "set up the terminal (a new pty from the container's /dev/ptmx, sent to the console socket)".into());
                push(&mut steps, Op::ConsoleStdio, "make the terminal the stdio and controlling terminal".into());
            }
        } else {
            let sync = hooks_sync.then_some(Op::HooksSync { report_fd: inputs.report_fd, go_fd: inputs.go_fd, keep: listener.is_some() });
            // Without a cgroup namespace, a cgroup mount shows the container's own directories
            // (v1: <root>/<hierarchy>/<path>/tasks are the files the init joins).
            let own_cgroups: Option<Vec<(String, PathBuf)>> = (!spec.has_namespace(LinuxNamespaceType::Cgroup)).then(|| {
                let root = Path::new(crate::cgroups::CGROUP_ROOT);
                inputs
                    .cgroup_tasks
                    .iter()
                    .filter_map(|(tasks, _)| {
                        let dir = tasks.parent()?;
                        let hierarchy = dir.strip_prefix(root).ok()?.components().next()?.as_os_str().to_str()?.to_string();
                        Some((hierarchy, dir.to_path_buf()))
                    })
                    .collect()
            });
            rootfs::plan_rootfs(spec, user_ns, inputs.no_pivot, own_cgroups.as_deref(), console, sync, &mut steps)?;
        }

        if let Some(name) = config.hostname().as_deref().filter(|h| !h.is_empty() && !inputs.exec) {
            push(&mut steps, Op::SetHostname { name: cstr("hostname", name)? }, format!("sethostname {name:?}"));
        }
        if let Some(name) = config.domainname().as_deref().filter(|h| !h.is_empty() && !inputs.exec) {
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
            .map(|r| {
                (
                    rlimit_resource(r.typ()),
                    libc::rlimit { rlim_cur: r.soft(), rlim_max: r.hard() },
                    format!("setrlimit {} soft={} hard={}", r.typ(), r.soft(), r.hard()),
                )
            })
            .collect();

        // Identity and privileges (runc's order: bounding set, keep caps, user, caps).
        if let Some(c) = child_seccomp.take() {
            // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it before dropping
            // privileges (runc's order); the filter then also applies to the remaining setup.
            let sync = listener.as_ref().map(|_| (inputs.report_fd, inputs.go_fd));
            let what = match &listener {
                Some(l) => format!("load the seccomp filter (linux.seccomp) with a listener for {}", l.path.display()),
                None => "load the seccomp filter (linux.seccomp)".into(),
            };
            push(&mut steps, Op::Seccomp { filter: c.filter, flags: c.flags, listener: sync }, what);
        }
        let caps = crate::security::caps::CapSets::from_spec(process.capabilities().as_ref())?;
        let last_cap = crate::security::caps::last_cap();
        if let Some(c) = &caps {
            push(&mut steps, Op::DropBounding { keep: c.bounding, last_cap }, "drop capabilities from the bounding set".into());
            push(&mut steps, Op::KeepCaps { on: true }, "prctl(PR_SET_KEEPCAPS)".into());
        }
        let user = process.user();
        let gids: Vec<libc::gid_t> = user.additional_gids().clone().unwrap_or_default();
        let new_user_ns = spec.creates_namespace(LinuxNamespaceType::User);
        let map_writer = match linux {
            Some(l) if new_user_ns => crate::rootless::map_writer(l.uid_mappings().as_deref().unwrap_or(&[]), l.gid_mappings().as_deref().unwrap_or(&[])),
            _ => crate::rootless::MapWriter::Direct,
        };
        let setgroups_allowed =
            (!user_ns || linux.and_then(|l| l.gid_mappings().as_ref()).is_some()) && map_writer != crate::rootless::MapWriter::DenySetgroups;
        if map_writer == crate::rootless::MapWriter::DenySetgroups && !gids.is_empty() {
            return Err(Error::invalid(
                "process.user.additionalGids",
                format!("{gids:?}"),
                "an ordinary user's namespace that maps only their own gid cannot have supplementary groups (setgroups is denied); \
                 newgidmap (package uidmap) with an /etc/subgid range for the user allows them",
            ));
        }
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
        push(&mut steps, Op::CheckCwd, format!("cwd {} leads outside the container's root", cwd.display()));

        // The command: argv, envp and the exec candidates (PATH search on prepared strings).
        let args = process.args().as_deref().unwrap_or(&[]);
        let argv: Vec<CString> = args.iter().map(|a| cstr("process.args", a)).collect::<Result<_>>()?;
        let env = process.env().as_deref().unwrap_or(&[]);
        let envp: Vec<CString> = env.iter().map(|e| cstr("process.env", e)).collect::<Result<_>>()?;
        let arg0 = &args[0];
        let exec_candidates: Vec<CString> = if let Some(path) = &inputs.exec_path {
            vec![cpath("hook path", path)?]
        } else if arg0.contains('/') {
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
        if let (Some((path, _, what)), Some(at)) = (&lsm, &lsm_fd) {
            push(&mut steps, Op::OpenLsmAttr { path: path.clone(), at: at.as_raw_fd() }, what.clone());
        }
        push(&mut steps, Op::PrepareStub { report_fd: inputs.report_fd, start_fd: inputs.start_fd }, "prepare the exec stub's fds".into());
        push(&mut steps, Op::ExecStub { fd: stub.as_raw_fd() }, "execute the exec stub (a sealed memfd)".into());

        // The stub's argv for each candidate: [candidate, report, start, LSM fd or "-", label,
        // argv..., NULL].
        let strings = vec![
            cstr("report fd", inputs.report_fd.to_string())?,
            cstr("start fd", inputs.start_fd.to_string())?,
            cstr("LSM fd", if lsm_raw >= 0 { lsm_raw.to_string() } else { "-".into() })?,
            lsm.as_ref().map_or_else(|| cstr("label", ""), |(_, label, _)| Ok(label.clone()))?,
        ];
        let stub_argvs = exec_candidates
            .iter()
            .map(|c| {
                std::iter::once(c.as_ptr())
                    .chain(strings.iter().map(|s| s.as_ptr()))
                    .chain(argv.iter().map(|a| a.as_ptr()))
                    .chain(std::iter::once(std::ptr::null()))
                    .collect()
            })
            .collect();
        let envp_ptrs = envp.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();

        let maps = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
            m.filter(|_| spec.namespaces().iter().any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none()))
                .map(|m| m.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect::<String>())
        };
        let mut fds = ns_fds;
        fds.push(stub);
        fds.extend(lsm_fd);
        Ok(Plan {
            steps,
            clone_flags,
            uid_map: maps(linux.and_then(|l| l.uid_mappings().as_ref())),
            gid_map: maps(linux.and_then(|l| l.gid_mappings().as_ref())),
            map_writer,
            oom_score_adj: process.oom_score_adj(),
            rlimits,
            pid_ns,
            _ns_fds: fds,
            exec_candidates,
            dev_null: InRoot::new("/dev/null", Path::new("/dev/null"))?.no_symlinks(),
            exec_what,
            stub_argvs,
            seccomp_listener: listener.map(|l| {
                let mut state = oci_spec::runtime::State::default();
                state.set_version(config.version().clone());
                state.set_status(if inputs.exec { oci_spec::runtime::ContainerState::Running } else { oci_spec::runtime::ContainerState::Creating });
                state.set_bundle(spec.bundle().to_path_buf());
                state.set_annotations(config.annotations().clone());
                let mut message = oci_spec::runtime::ContainerProcessState::default();
                message.set_version(config.version().clone());
                message.set_fds(vec![oci_spec::runtime::SECCOMP_FD_NAME.to_string()]);
                message.set_metadata(l.metadata.clone());
                message.set_state(state);
                (l, message)
            }),
            _strings: strings,
            _argv: argv,
            _envp: envp,
            envp_ptrs,
        })
    }

    /// The description of step `i` (for an error the child reported), or of a late failure the
    /// exec stub reported.
    pub(crate) fn what(&self, i: u32) -> String {
        late_what(i, &self.exec_what).unwrap_or_else(|| self.steps.get(i as usize).map(|s| s.what.clone()).unwrap_or_else(|| "container setup".into()))
    }
}

/// What a failure the exec stub reported is about (None: not one of the stub's).
pub(crate) fn late_what(step: u32, exec_what: &str) -> Option<String> {
    use crate::child::stub;
    match step {
        stub::EXEC_FAILED => Some(exec_what.to_string()),
        stub::SECCOMP_FAILED => Some("load the seccomp filter (linux.seccomp)".into()),
        stub::LSM_FAILED => Some("set the LSM exec label".into()),
        _ => None,
    }
}
