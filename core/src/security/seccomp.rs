//! Seccomp: an OCI `linux.seccomp` profile compiled to a BPF program in the parent (with
//! libseccomp), loaded by the child with the raw seccomp(2) syscall as its last step before exec
//! (or before dropping privileges when no_new_privileges is off, as runc does).
//!
//! Also Docker's default profile (its allow-list semantics), generated for a capability set, for
//! the ad-hoc mode and the bindings' defaults.

use std::io::{Read, Seek};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::Mutex;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};

use crate::error::{Error, Result};

/// A compiled filter: BPF instructions and the flags for seccomp(SECCOMP_SET_MODE_FILTER).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub filter: Vec<libc::sock_filter>,
    pub flags: libc::c_uint,
}

fn serde_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> ScmpAction {
    match a {
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32),
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16),
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    }
}

fn compare(op: LinuxSeccompOperator, value: u64, value_two: Option<u64>, index: usize) -> ScmpArgCompare {
    let (op, datum) = match op {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, value),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        // OCI: value is the mask, valueTwo the value to compare with.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0)),
    };
    ScmpArgCompare::new(index as u32, op, datum)
}

fn seccomp_err(field: &str, what: impl std::fmt::Display) -> impl Fn(libseccomp::error::SeccompError) -> Error + '_ {
    let what = what.to_string();
    move |e| Error::invalid(field, &what, e.to_string())
}

fn filter_flags(profile: &LinuxSeccomp) -> Result<libc::c_uint> {
    let mut flags = 0;
    for f in profile.flags().iter().flatten() {
        flags |= match serde_name(f).as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => 1,
            "SECCOMP_FILTER_FLAG_LOG" => 2,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => 4,
            other => return Err(Error::invalid("linux.seccomp.flags", other, "unknown flag")),
        };
    }
    Ok(flags)
}

/// [`compile`] behind two caches keyed by the profile's full JSON text: one in this process (a
/// library host compiles Docker's profile once, not per container), and one on disk in
/// `cache_dir`, so a one-shot command skips libseccomp's several milliseconds too. A disk entry
/// is one file, `<hash>.bpf`: the profile text it was compiled from, then the program; it is used
/// only when that text is byte-for-byte the same, and only when the directory and the file are
/// owned by this user and writable by nobody else (security/trust.rs): a filter another user
/// could have replaced is never loaded.
pub fn compile_cached(profile: &LinuxSeccomp, cache_dir: Option<&Path>) -> Result<Compiled> {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};
    static MEMORY: Mutex<Vec<(String, Compiled)>> = Mutex::new(Vec::new());
    let key = serde_json::to_string(profile).map_err(|e| Error::invalid("linux.seccomp", "(profile)", e.to_string()))?;
    if let Some((_, c)) = MEMORY.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|(k, _)| *k == key) {
        return Ok(c.clone());
    }
    let flags = filter_flags(profile)?;
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    let name = format!("{:016x}.bpf", hasher.finish());
    // An untrusted directory is neither read nor written: the filter is compiled here.
    let dir = cache_dir.and_then(|d| crate::security::trust::open_private_dir(d).ok());
    let from_disk = dir.as_ref().and_then(|dir| {
        let mut f = crate::security::trust::open_private_file(dir, &name, MAX_ENTRY).ok()?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).ok()?;
        let filter = decode_entry(&bytes, &key)?;
        Some(Compiled { filter, flags })
    });
    let compiled = match from_disk {
        Some(c) => c,
        None => {
            let c = compile(profile)?;
            if let (Some(fd), Some(path)) = (&dir, cache_dir) {
                // Best effort: a cache that cannot be written only costs time.
                let _ = crate::security::trust::write_private_file(fd, &name, &encode_entry(&key, &c.filter));
                crate::state::cache::trim(path, ".bpf", crate::state::cache::SECCOMP_ENTRIES);
            }
            c
        }
    };
    let mut memory = MEMORY.lock().unwrap_or_else(|p| p.into_inner());
    if memory.len() >= 16 {
        memory.remove(0);
    }
    memory.push((key, compiled.clone()));
    Ok(compiled)
}

/// The largest cache entry read back (a profile text and at most 4096 instructions fit easily).
const MAX_ENTRY: u64 = 4 << 20;

/// A cache entry: the key's length (u64, little-endian), the key, the program (8 bytes each).
fn encode_entry(key: &str, filter: &[libc::sock_filter]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + key.len() + filter.len() * 8);
    bytes.extend_from_slice(&(key.len() as u64).to_le_bytes());
    bytes.extend_from_slice(key.as_bytes());
    for f in filter {
        bytes.extend_from_slice(&f.code.to_ne_bytes());
        bytes.extend_from_slice(&[f.jt, f.jf]);
        bytes.extend_from_slice(&f.k.to_ne_bytes());
    }
    bytes
}

/// The program of a cache entry, if it was compiled from exactly `key`.
fn decode_entry(bytes: &[u8], key: &str) -> Option<Vec<libc::sock_filter>> {
    let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let end = 8usize.checked_add(usize::try_from(len).ok()?)?;
    if bytes.get(8..end)? != key.as_bytes() {
        return None;
    }
    decode(&bytes[end..])
}

/// BPF instructions from their in-memory bytes (8 each); None if empty or truncated.
fn decode(program: &[u8]) -> Option<Vec<libc::sock_filter>> {
    let size = std::mem::size_of::<libc::sock_filter>();
    if program.is_empty() || program.len() % size != 0 {
        return None;
    }
    Some(
        program
            .chunks_exact(size)
            .map(|c| libc::sock_filter { code: u16::from_ne_bytes([c[0], c[1]]), jt: c[2], jf: c[3], k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]) })
            .collect(),
    )
}

/// Where a profile that uses SCMP_ACT_NOTIFY sends its listener: the filter is loaded with
/// SECCOMP_FILTER_FLAG_NEW_LISTENER and the runtime sends the notify fd to the unix socket at
/// `path`, with the container's state and `metadata` (runc's protocol: one message, the JSON of
/// the runtime spec's ContainerProcessState, the fd as SCM_RIGHTS, named "seccompFd").
#[derive(Debug, Clone)]
pub struct Listener {
    pub path: std::path::PathBuf,
    pub metadata: Option<String>,
}

/// Syscalls the container's setup makes between loading a filter and handing its listener over
/// (the report pipe's write, the wait for the runtime's go): a notification there would wait for
/// a listener that has not got its fd yet.
const NOT_NOTIFIABLE: &[&str] = &["write", "read"];

/// The profile's listener: None when nothing in it notifies. Errors (as runc's) when something
/// does and `listenerPath` is missing, when the default action notifies, or when a syscall the
/// setup itself needs before the listener has its fd does.
pub fn listener(profile: &LinuxSeccomp) -> Result<Option<Listener>> {
    let notify = LinuxSeccompAction::ScmpActNotify;
    if profile.default_action() == notify {
        return Err(Error::invalid(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY",
            "the default action cannot notify (the runtime's own setup syscalls would wait for the listener); notify on chosen syscalls",
        ));
    }
    let mut uses = false;
    for (i, rule) in profile.syscalls().iter().flatten().enumerate() {
        if rule.action() != notify {
            continue;
        }
        uses = true;
        if let Some(name) = rule.names().iter().find(|n| NOT_NOTIFIABLE.contains(&n.as_str())) {
            return Err(Error::invalid(
                format!("linux.seccomp.syscalls[{i}].names"),
                name,
                "SCMP_ACT_NOTIFY cannot be used for read or write: the runtime makes them after loading the filter, before the listener has its fd",
            ));
        }
    }
    if !uses {
        return Ok(None);
    }
    match profile.listener_path() {
        Some(path) if path.is_absolute() => Ok(Some(Listener { path: path.clone(), metadata: profile.listener_metadata().clone().filter(|m| !m.is_empty()) })),
        Some(path) => Err(Error::invalid("linux.seccomp.listenerPath", path.display(), "must be an absolute path")),
        None => {
            Err(Error::invalid("linux.seccomp.listenerPath", "null", "SCMP_ACT_NOTIFY needs a listenerPath (the unix socket the listener's fd is sent to)"))
        }
    }
}

/// Takes the listener fd `child_fd` out of the process behind `pidfd` (pidfd_getfd) and sends it
/// to `listener.path` with `message` (id and pid filled in): what the runtime does when the
/// child reports SECCOMP_LISTENER.
pub(crate) fn hand_over(
    listener: &Listener,
    message: &oci_spec::runtime::ContainerProcessState,
    id: &str,
    pid: i32,
    pidfd: std::os::fd::BorrowedFd<'_>,
    child_fd: i32,
) -> Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    const SYS_PIDFD_GETFD: libc::c_long = 438;
    // SAFETY: plain syscall; on success a new fd (close-on-exec) that we own.
    let r = unsafe { libc::syscall(SYS_PIDFD_GETFD, pidfd.as_raw_fd(), child_fd, 0) };
    if r < 0 {
        return Err(Error::Sys { op: "take the seccomp listener fd from the container (pidfd_getfd)".into(), errno: nix::errno::Errno::last() });
    }
    // SAFETY: fresh fd from pidfd_getfd.
    let notify = unsafe { OwnedFd::from_raw_fd(r as i32) };
    let mut message = message.clone();
    message.set_pid(pid);
    message.state_mut().set_id(id.to_string());
    message.state_mut().set_pid(Some(pid));
    let text = serde_json::to_vec(&message).map_err(|e| Error::invalid("linux.seccomp", "listener message", e.to_string()))?;
    let path = &listener.path;
    let sock = UnixStream::connect(path).map_err(Error::io("connect to the seccomp listener", path))?;
    let iov = [std::io::IoSlice::new(&text)];
    let fds = [notify.as_raw_fd()];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
    loop {
        match nix::sys::socket::sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, nix::sys::socket::MsgFlags::MSG_NOSIGNAL, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::Sys { op: format!("send the seccomp listener fd to {}", path.display()), errno: e }),
            Ok(n) if n < text.len() => {
                return Err(Error::Sys { op: format!("send the seccomp listener fd to {} (short write)", path.display()), errno: nix::errno::Errno::EMSGSIZE })
            }
            Ok(_) => return Ok(()),
        }
    }
}

/// Compiles an OCI seccomp profile. Unknown syscall names and architectures are errors; a name
/// that exists only on another architecture (e.g. `chown32` on x86_64) is fine.
pub fn compile(profile: &LinuxSeccomp) -> Result<Compiled> {
    let default = action(profile.default_action(), profile.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).map_err(seccomp_err("linux.seccomp.defaultAction", serde_name(&profile.default_action())))?;
    // The runtime sets no_new_privs itself when the spec asks for it.
    ctx.set_ctl_nnp(false).map_err(seccomp_err("linux.seccomp", "nnp"))?;
    for arch in profile.architectures().iter().flatten() {
        let name = serde_name(arch);
        let a: ScmpArch = name.parse().map_err(|_| Error::invalid("linux.seccomp.architectures", &name, "unknown architecture"))?;
        if !ctx.is_arch_present(a).unwrap_or(false) {
            ctx.add_arch(a).map_err(seccomp_err("linux.seccomp.architectures", &name))?;
        }
    }
    for (i, rule) in profile.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(rule.action(), rule.errno_ret());
        if act == default {
            continue; // libseccomp refuses rules that repeat the default action; they change nothing.
        }
        let args = rule.args().as_deref().unwrap_or(&[]);
        for a in args {
            if a.index() > 5 {
                return Err(Error::invalid(format!("{field}.args[].index"), a.index(), "syscalls have 6 arguments (0-5)"));
            }
        }
        let cmps: Vec<ScmpArgCompare> = args.iter().map(|a| compare(a.op(), a.value(), a.value_two(), a.index())).collect();
        // runc's rule: comparisons on distinct arguments are ANDed in one rule; several on the
        // same argument become one rule each (ORed).
        let mut indexes: Vec<usize> = args.iter().map(|a| a.index()).collect();
        indexes.sort_unstable();
        let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
        for name in rule.names() {
            let sys = ScmpSyscall::from_name(name).map_err(|_| Error::invalid(format!("{field}.names"), name, "unknown system call"))?;
            let added = if cmps.is_empty() {
                ctx.add_rule(act, sys)
            } else if repeated {
                cmps.iter().try_for_each(|c| ctx.add_rule_conditional(act, sys, &[*c]).map(|_| ())).map(|_| &mut ctx)
            } else {
                ctx.add_rule_conditional(act, sys, &cmps)
            };
            added.map_err(seccomp_err(&format!("{field}.names"), name))?;
        }
    }
    Ok(Compiled { filter: export(&ctx)?, flags: filter_flags(profile)? })
}

fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>> {
    // SAFETY: memfd_create with a static name; on success we own the fd.
    let fd = unsafe { libc::memfd_create(c"rcontainer-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::Sys { op: "memfd_create for the seccomp filter".into(), errno: nix::errno::Errno::last() });
    }
    // SAFETY: fresh fd from memfd_create.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    ctx.export_bpf(file.as_fd()).map_err(|e| Error::invalid("linux.seccomp", "(profile)", format!("export BPF: {e}")))?;
    let mut bytes = Vec::new();
    file.rewind().and_then(|_| file.read_to_end(&mut bytes)).map_err(Error::io("read", "seccomp BPF"))?;
    decode(&bytes).ok_or_else(|| Error::invalid("linux.seccomp", "(profile)", "libseccomp exported an empty or truncated filter"))
}

/// Syscalls Docker's default profile allows to everyone.
const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "arch_prctl",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "modify_ldt",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// Syscalls Docker allows only with a capability (by capability number).
const BY_CAPABILITY: &[(u32, &[&str])] = &[
    (
        21,
        &[
            // CAP_SYS_ADMIN
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "name_to_handle_at",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    (22, &["reboot"]),                                                                                    // CAP_SYS_BOOT
    (18, &["chroot"]),                                                                                    // CAP_SYS_CHROOT
    (16, &["delete_module", "init_module", "finit_module"]),                                              // CAP_SYS_MODULE
    (20, &["acct"]),                                                                                      // CAP_SYS_PACCT
    (19, &["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"]), // CAP_SYS_PTRACE
    (17, &["iopl", "ioperm"]),                                                                            // CAP_SYS_RAWIO
    (25, &["settimeofday", "stime", "clock_settime", "clock_settime64"]),                                 // CAP_SYS_TIME
    (26, &["vhangup"]),                                                                                   // CAP_SYS_TTY_CONFIG
    (23, &["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),                        // CAP_SYS_NICE
    (34, &["syslog"]),                                                                                    // CAP_SYSLOG
    (39, &["bpf"]),                                                                                       // CAP_BPF
    (38, &["perf_event_open"]),                                                                           // CAP_PERFMON
];

/// Docker's default seccomp profile for a container whose bounding set is `caps` (bit N =
/// capability N): deny with EPERM by default; allow the common syscalls; allow the privileged
/// ones only with their capability; without CAP_SYS_ADMIN, `clone` may not create namespaces
/// and `clone3` fails with ENOSYS (so libc falls back to clone); `personality` only with the
/// harmless personas; `socket` for every family but AF_VSOCK.
pub fn docker_default(caps: u64) -> LinuxSeccomp {
    let has = |cap: u32| caps & (1u64 << cap) != 0;
    let mut allowed: Vec<&str> = ALLOWED.to_vec();
    // ptrace is safe for everyone since kernel 4.8 (seccomp is re-checked after a tracer's changes).
    allowed.extend(["kcmp", "process_vm_readv", "process_vm_writev", "ptrace"]);
    for (cap, names) in BY_CAPABILITY {
        if has(*cap) {
            allowed.extend_from_slice(names);
        }
    }
    allowed.sort_unstable();
    allowed.dedup();
    let mut rules = vec![serde_json::json!({ "names": allowed, "action": "SCMP_ACT_ALLOW" })];
    rules.push(serde_json::json!({
        "names": ["personality"], "action": "SCMP_ACT_ALLOW",
        "args": [{ "index": 0, "value": 0, "op": "SCMP_CMP_EQ" }, { "index": 0, "value": 8, "op": "SCMP_CMP_EQ" },
                 { "index": 0, "value": 131072, "op": "SCMP_CMP_EQ" }, { "index": 0, "value": 131080, "op": "SCMP_CMP_EQ" },
                 { "index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ" }]
    }));
    rules.push(serde_json::json!({
        "names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 0, "value": 40, "op": "SCMP_CMP_NE" }]
    }));
    if !has(21) {
        let ns_flags: u64 = (libc::CLONE_NEWNS
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUSER
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWCGROUP) as u64;
        rules.push(serde_json::json!({
            "names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{ "index": 0, "value": ns_flags, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }]
        }));
        rules.push(serde_json::json!({ "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS }));
    }
    let profile = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    });
    // The profile is built from constants; a unit test checks that it parses and compiles.
    serde_json::from_value(profile).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_default_compiles() {
        let p = docker_default(0);
        assert!(p.syscalls().as_ref().is_some_and(|s| s.len() >= 4));
        let c = compile(&p).expect("compiles");
        assert!(c.filter.len() > 100, "{} instructions", c.filter.len());
        let admin = docker_default(1 << 21);
        assert!(admin.syscalls().iter().flatten().any(|r| r.names().iter().any(|n| n == "mount")));
    }

    #[test]
    fn disk_cache_returns_the_same_filter_and_ignores_a_different_profile() {
        let base = tempfile::tempdir().expect("tempdir");
        let dir = base.path().join("cache");
        let p = docker_default(1 << 21);
        let fresh = compile(&p).expect("compile");
        let first = compile_cached(&p, Some(&dir)).expect("cached");
        assert_eq!(first.filter.len(), fresh.filter.len());
        let entries: Vec<_> = std::fs::read_dir(&dir).expect("cache dir").flatten().collect();
        assert_eq!(entries.len(), 1, "one .bpf entry: {entries:?}");
        let bytes = std::fs::read(entries[0].path()).expect("entry");
        let key = serde_json::to_string(&p).expect("key");
        assert_eq!(decode_entry(&bytes, &key).expect("decodes").len(), fresh.filter.len());
        assert!(decode_entry(&bytes, "{}").is_none(), "another profile's text must not match");
        // A different profile gets its own entry and its own program.
        let other = docker_default(0);
        let again = compile_cached(&other, Some(&dir)).expect("other profile");
        assert_ne!(again.filter.len(), first.filter.len());
    }

    #[test]
    fn a_cache_entry_another_user_could_write_is_never_read() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().expect("tempdir");
        let dir = base.path().join("cache");
        // A profile no other test compiles (the in-process cache must not answer for the disk).
        let mut p = docker_default(0);
        p.set_default_errno_ret(Some(libc::EACCES as u32));
        // A forged entry: the right key, an allow-all program (BPF_RET | BPF_K, SECCOMP_RET_ALLOW).
        let key = serde_json::to_string(&p).expect("key");
        let allow_all = [libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000 }];
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&key, &mut hasher);
        let name = format!("{:016x}.bpf", std::hash::Hasher::finish(&hasher));
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join(&name), encode_entry(&key, &allow_all)).expect("forge");
        std::fs::set_permissions(dir.join(&name), std::fs::Permissions::from_mode(0o666)).expect("chmod");
        // World-writable directory: not trusted.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(crate::security::trust::open_private_dir(&dir).is_err());
        // A private directory, but an entry others may write: not trusted, so compiled afresh.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let got = compile_cached(&p, Some(&dir)).expect("compile");
        assert!(got.filter.len() > 1, "the forged allow-all program was loaded from the cache");
        // The checks are what refused it: the same entry, private, is trusted.
        std::fs::write(dir.join(&name), encode_entry(&key, &allow_all)).expect("forge again");
        std::fs::set_permissions(dir.join(&name), std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let d = crate::security::trust::open_private_dir(&dir).expect("private dir");
        assert!(crate::security::trust::open_private_file(&d, &name, MAX_ENTRY).is_ok());
    }

    #[test]
    fn unknown_names_and_actions_are_named() {
        let bad: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir", "no_such_syscall"], "action": "SCMP_ACT_ERRNO" }]
        }))
        .expect("parses");
        let e = compile(&bad).expect_err("unknown syscall").to_string();
        assert!(e.contains("no_such_syscall") && e.contains("linux.seccomp.syscalls[0]"), "{e}");
        let r: std::result::Result<LinuxSeccomp, _> = serde_json::from_value(serde_json::json!({ "defaultAction": "SCMP_ACT_FLY" }));
        assert!(r.expect_err("unknown action").to_string().contains("SCMP_ACT_FLY"));
    }
}
