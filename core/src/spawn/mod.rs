//! clone3 and the parent's half of the parent/child protocol:
//!
//! 1. parent: pipes (report: child → parent; go: parent → child), clone3: with CLONE_VM and a
//!    stack of its own where the architecture allows and nobody but the host can see the child
//!    (spawn/vm.rs), fork-style otherwise (here).
//! 2. child: non-dumpable, default signal handlers, waits for "go" (child.rs).
//! 3. parent: writes uid/gid maps, rlimits and oom_score_adj, runs the caller's hook (cgroup
//!    placement), sends "go".
//! 4. child: runs the plan, then execs the exec stub (child/stub.rs), which reports READY and
//!    blocks on the exec fifo until `start`. A failing step reports (step, errno) instead.
//!
//! When `spawn` returns, the child no longer runs on the host's memory nor holds anything of the
//! host: it is the stub, with its root, namespaces and credentials set.

mod vm;

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};

use crate::child::{self, Report, READY};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::sys;

/// Held from pipe creation until the parent has closed the child's pipe ends, so that a clone
/// on another thread never inherits them (that would delay the EOF `start` waits for).
static CLONE_WINDOW: Mutex<()> = Mutex::new(());

const CLONE_NEWTIME: u64 = 0x80;

/// The four pipe ends of one spawn.
pub(crate) struct Pipes {
    pub report_r: OwnedFd,
    pub report_w: OwnedFd,
    pub go_r: OwnedFd,
    pub go_w: OwnedFd,
}

pub(crate) fn pipes() -> Result<Pipes> {
    let (report_r, report_w) = sys::pipe_cloexec().map_err(Error::sys("pipe"))?;
    // A socket pair, not a pipe, so the parent's "go" can be sent with MSG_NOSIGNAL: a child
    // that died early must not raise SIGPIPE in a host that does not ignore it.
    let (go_r, go_w) =
        nix::sys::socket::socketpair(nix::sys::socket::AddressFamily::Unix, nix::sys::socket::SockType::Stream, None, nix::sys::socket::SockFlag::SOCK_CLOEXEC)
            .map_err(Error::sys("socketpair"))?;
    let (go_r, go_w) = (sys::not_stdio(go_r).map_err(Error::sys("socketpair"))?, sys::not_stdio(go_w).map_err(Error::sys("socketpair"))?);
    Ok(Pipes { report_r, report_w, go_r, go_w })
}

/// A child that reported READY: the exec stub, waiting for `start`.
pub(crate) struct Spawned {
    pub pid: libc::pid_t,
    pub pidfd: OwnedFd,
    /// Read end of the report pipe: EOF once the command has exec'd, or a late error record.
    pub report: OwnedFd,
}

/// Reads one record as it came (CHILD_LEFT included); None on EOF.
fn read_record(fd: RawFd) -> Result<Option<Report>> {
    let mut rec = Report { step: 0, errno: 0 };
    loop {
        // SAFETY: reading into a plain-data struct of exactly that size.
        let n = unsafe { libc::read(fd, &mut rec as *mut Report as *mut libc::c_void, std::mem::size_of::<Report>()) };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(Error::Sys { op: "read from container init".into(), errno: e });
        }
        return Ok(if n as usize == std::mem::size_of::<Report>() { Some(rec) } else { None });
    }
}

/// Reads the next record that says something about the container (READY, a failed step); None
/// on EOF. The CLONE_VM helper's CHILD_LEFT only says the child left the host's memory.
pub(crate) fn read_report(fd: RawFd) -> Result<Option<Report>> {
    loop {
        match read_record(fd)? {
            Some(r) if r.step == child::CHILD_LEFT => continue,
            other => return Ok(other),
        }
    }
}

/// One "go" byte to the child, without SIGPIPE.
fn go(go_w: &OwnedFd) -> Result<()> {
    // SAFETY: one byte to a valid socket, without SIGPIPE.
    if unsafe { libc::send(go_w.as_raw_fd(), b"g".as_ptr() as *const libc::c_void, 1, libc::MSG_NOSIGNAL) } != 1 {
        return Err(Error::Sys { op: "signal container init".into(), errno: Errno::last() });
    }
    Ok(())
}

/// Describes how a reaped child ended.
pub(crate) fn describe_exit(e: Option<sys::Exit>) -> String {
    match e {
        Some(sys::Exit::Code(c)) => format!("exit status {c}"),
        Some(sys::Exit::Signal(s)) => format!("killed by signal {s}"),
        None => "still running".into(),
    }
}

/// Kills and reaps the child; how it ended, when it was reaped.
fn kill_and_wait(pidfd: &OwnedFd, pid: libc::pid_t) -> Option<sys::Exit> {
    let _ = sys::pidfd_send_signal(pidfd.as_fd(), pid, libc::SIGKILL);
    sys::waitid_pidfd(pidfd.as_fd(), false).ok().flatten()
}

fn write_proc(pid: libc::pid_t, file: &str, text: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text).map_err(Error::io("write", path))
}

/// Where the Plan lives during a spawn: in this function, or shared with a CLONE_VM child.
#[allow(clippy::large_enum_variant)] // one, on the stack, for the length of a spawn
enum Home {
    Own(Plan),
    Shared(Box<vm::VmChild>),
}

impl Home {
    fn plan(&self) -> &Plan {
        match self {
            Home::Own(p) => p,
            Home::Shared(vm) => &vm.plan,
        }
    }

    /// The child has exec'd the stub, exited, or was killed and reaped: the memory it ran on is
    /// ours again.
    fn child_gone(self) {
        if let Home::Shared(vm) = self {
            vm.release();
        }
    }
}

/// Fork-style clone: clone3, or clone(2) where clone3 is refused. The child has its own copy of
/// the address space. A pid namespace to join is entered by this thread around the clone.
fn clone_fork(plan: &Plan, flags: u64, cgroup: u64, pid_ns: Option<&OwnedFd>, report_w: RawFd, parent_ends: [RawFd; 2]) -> Result<(libc::pid_t, RawFd, bool)> {
    let mut pidfd: RawFd = -1;
    let mut placed_by_clone = cgroup != 0;
    let mut args = sys::CloneArgs { flags, pidfd: &mut pidfd as *mut RawFd as u64, exit_signal: libc::SIGCHLD as u64, cgroup, ..Default::default() };
    // Block every signal around clone so no host handler runs in the child before it resets them.
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), Some(&mut old)).map_err(Error::sys("block signals"))?;
    let restore_mask = |old: &SigSet| {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(old), None);
    };
    let mut restore_pidns = None;
    if let Some(ns) = pid_ns {
        let own = nix::fcntl::open(
            "/proc/thread-self/ns/pid_for_children",
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .and_then(sys::not_stdio)
        .map_err(Error::sys("open /proc/thread-self/ns/pid_for_children"));
        let joined = own.and_then(|own| {
            // SAFETY: setns on valid fds; affects only this thread's pid_for_children.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWPID) } < 0 {
                return Err(Error::Sys { op: "join pid namespace (linux.namespaces[pid].path)".into(), errno: Errno::last() });
            }
            Ok(own)
        });
        match joined {
            Ok(own) => restore_pidns = Some(own),
            Err(e) => {
                restore_mask(&old);
                return Err(e);
            }
        }
    }
    // SAFETY: fork-style clone3; the child only runs child::run (raw syscalls on the plan).
    let mut cloned = unsafe { sys::clone3(&mut args) };
    if cloned == Err(Errno::ENOSYS) && plan.clone_flags & CLONE_NEWTIME == 0 {
        placed_by_clone = false;
        // SAFETY: as above, with clone(2), fork-style.
        cloned = unsafe { sys::clone_legacy(plan.clone_flags, &mut pidfd) };
    }
    if let Ok(0) = cloned {
        // In the child, on its copy of the plan. SAFETY: right after clone. Never returns.
        unsafe { child::run(plan, report_w, parent_ends) }
    }
    if let Some(own) = restore_pidns {
        // SAFETY: re-entering our own active pid namespace is always allowed.
        unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWPID) };
    }
    restore_mask(&old);
    let pid = cloned.map_err(|e| Error::Sys { op: format!("clone3 (namespace flags {flags:#x})"), errno: e })?;
    Ok((pid, pidfd, placed_by_clone))
}

/// Clones the container's init and drives it to READY (the exec stub waiting for `start`).
/// `hook` runs in the parent after the id maps are written and before the child continues (cgroup
/// placement goes there). With `cgroup_fd` (v2), the child is born inside that cgroup
/// (CLONE_INTO_CGROUP); `hook`'s second argument says whether that happened (when clone3 is
/// unavailable it did not, and the hook must move the child itself).
/// `at_hooks` runs when the child reaches the hooks' sync point (before pivot_root; only when the
/// plan has one): the OCI hooks of create; an error kills the child and fails the spawn.
pub(crate) fn spawn(
    id: &str,
    mut plan: Plan,
    pipes: Pipes,
    cgroup_fd: Option<RawFd>,
    hook: impl FnOnce(libc::pid_t, bool) -> Result<()>,
    mut at_hooks: impl FnMut(libc::pid_t) -> Result<()>,
) -> Result<Spawned> {
    let Pipes { report_r, report_w, go_r, go_w } = pipes;
    // Namespace fds, the stub's memfd: used around clone3 and inherited by the child (the Plan's
    // steps carry their numbers). Closed when this function returns.
    let (pid_ns, _fds) = plan.take_fds();
    let window = CLONE_WINDOW.lock().unwrap_or_else(|p| p.into_inner());

    let mut flags = plan.clone_flags | sys::CLONE_PIDFD;
    let mut cgroup = 0;
    if let Some(fd) = cgroup_fd {
        flags |= sys::CLONE_INTO_CGROUP;
        cgroup = fd as u64;
    }
    let parent_ends = [report_r.as_raw_fd(), go_w.as_raw_fd()];

    // CLONE_VM only where nobody but the host can see the child before it execs: in a new pid
    // namespace of its own (not a joined one, where a neighbour could reach the host's memory
    // through /proc/<pid>/mem). The kernel refuses CLONE_VM with a new time namespace.
    // Nor for an ordinary user's child, which stays dumpable until its id maps are written.
    let private = plan.clone_flags & libc::CLONE_NEWPID as u64 != 0 && pid_ns.is_none() && plan.map_writer == crate::rootless::MapWriter::Direct;
    let mut vm_ids = None;
    let home = if sys::HAS_CLONE3_VM && private && plan.clone_flags & CLONE_NEWTIME == 0 {
        match vm::clone(plan, flags, cgroup, report_r.as_raw_fd(), report_w.as_raw_fd(), go_w.as_raw_fd()) {
            vm::Outcome::Cloned(vm) => {
                vm_ids = Some(vm.child_ids());
                Home::Shared(vm)
            }
            vm::Outcome::Fallback(plan) => Home::Own(plan),
            vm::Outcome::Died(how) => return Err(Error::SetupDied { id: id.to_string(), how: describe_exit(how) }),
            vm::Outcome::Failed(e) => return Err(e),
        }
    } else {
        Home::Own(plan)
    };
    let (pid, pidfd, placed_by_clone) = match vm_ids {
        Some((pid, fd)) => (pid, fd, cgroup_fd.is_some()),
        None => match clone_fork(home.plan(), flags, cgroup, pid_ns.as_ref(), report_w.as_raw_fd(), parent_ends) {
            Ok(r) => r,
            Err(e) => {
                home.child_gone();
                return Err(e);
            }
        },
    };
    drop(report_w);
    drop(go_r);
    drop(window);
    // SAFETY: CLONE_PIDFD filled in a fresh fd.
    let mut pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let mut pid = pid;
    let plan = home.plan();

    let parent_setup = || -> Result<()> {
        use crate::rootless::MapWriter;
        if let Some(m) = &plan.uid_map {
            match plan.map_writer {
                MapWriter::Helpers => crate::rootless::run_map_helper("newuidmap", pid, m)?,
                _ => write_proc(pid, "uid_map", m)?,
            }
        }
        if let Some(m) = &plan.gid_map {
            match plan.map_writer {
                MapWriter::Helpers => crate::rootless::run_map_helper("newgidmap", pid, m)?,
                MapWriter::DenySetgroups => {
                    write_proc(pid, "setgroups", "deny")?;
                    write_proc(pid, "gid_map", m)?;
                }
                MapWriter::Direct => write_proc(pid, "gid_map", m)?,
            }
        }
        for (resource, limit, what) in &plan.rlimits {
            // SAFETY: prlimit on our own child with a valid rlimit.
            if unsafe { libc::prlimit(pid, *resource as _, limit, std::ptr::null_mut()) } < 0 {
                return Err(Error::Sys { op: what.clone(), errno: Errno::last() });
            }
        }
        if let Some(adj) = plan.oom_score_adj {
            write_proc(pid, "oom_score_adj", &adj.to_string())?;
        }
        hook(pid, placed_by_clone)?;
        go(&go_w)
    };
    if let Err(e) = parent_setup() {
        // A child that died on its own explains the failure better than our side of it.
        let err = match sys::waitid_pidfd(pidfd.as_fd(), true) {
            Ok(Some(exit)) => Error::SetupDied { id: id.to_string(), how: describe_exit(Some(exit)) },
            _ => {
                kill_and_wait(&pidfd, pid);
                e
            }
        };
        home.child_gone();
        return Err(err);
    }

    let result = loop {
        match read_report(report_r.as_raw_fd()) {
            Ok(Some(r)) if r.step == READY => break Ok(()),
            // The hooks' sync point: run them, then let the child go on.
            Ok(Some(r)) if r.step == child::HOOKS => {
                if let Err(e) = at_hooks(pid).and_then(|()| go(&go_w)) {
                    kill_and_wait(&pidfd, pid);
                    break Err(e);
                }
            }
            // An ordinary user's exec forked into the pid namespace (Op::JoinUserPidFork): the
            // new process, our child too, goes on; the one we cloned exits.
            Ok(Some(r)) if r.step == child::FORKED => {
                let _ = sys::waitid_pidfd(pidfd.as_fd(), false);
                match sys::pidfd_open(r.errno) {
                    Ok(fd) => {
                        pid = r.errno;
                        pidfd = fd;
                    }
                    Err(e) => {
                        // SAFETY: our own unreaped child (CLONE_PARENT): the pid cannot be reused.
                        unsafe { libc::kill(r.errno, libc::SIGKILL) };
                        break Err(Error::Sys { op: "pidfd_open of the process forked into the pid namespace".into(), errno: e });
                    }
                }
            }
            // A seccomp filter with a listener is loaded: its fd goes to the listener.
            Ok(Some(r)) if r.step == child::SECCOMP_LISTENER => {
                let sent = match &home.plan().seccomp_listener {
                    Some((listener, message)) => crate::security::seccomp::hand_over(listener, message, id, pid, pidfd.as_fd(), r.errno),
                    None => Err(Error::Sys { op: "seccomp listener reported without one in the plan".into(), errno: Errno::EPROTO }),
                };
                if let Err(e) = sent.and_then(|()| go(&go_w)) {
                    kill_and_wait(&pidfd, pid);
                    break Err(e);
                }
            }
            Ok(Some(r)) => {
                let what = home.plan().what(r.step);
                let _ = sys::waitid_pidfd(pidfd.as_fd(), false);
                break Err(Error::Setup { what, errno: Errno::from_raw(r.errno) });
            }
            Ok(None) => {
                let exit = sys::waitid_pidfd(pidfd.as_fd(), false).ok().flatten();
                break Err(Error::SetupDied { id: id.to_string(), how: describe_exit(exit) });
            }
            Err(e) => {
                kill_and_wait(&pidfd, pid);
                break Err(e);
            }
        }
    };
    drop(go_w);
    // READY comes from the stub: the child has exec'd it and left our memory; on every other
    // path it has exited or been killed.
    home.child_gone();
    result.map(|()| Spawned { pid, pidfd, report: report_r })
}
