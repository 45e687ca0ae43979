//! clone3 and the parent's half of the parent/child protocol:
//!
//! 1. parent: pipes (report: child → parent; go: parent → child), block signals, clone3.
//! 2. child: non-dumpable, default signal handlers, waits for "go" (child.rs).
//! 3. parent: writes uid/gid maps and oom_score_adj, runs the caller's hook (cgroup placement),
//!    sends "go".
//! 4. child: runs the plan up to exec, reports READY (or the failing step and errno), blocks on
//!    the exec fifo until `start`.

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
    let (go_r, go_w) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(Error::sys("socketpair"))?;
    Ok(Pipes { report_r, report_w, go_r, go_w })
}

/// A child that reported READY.
pub(crate) struct Spawned {
    pub pid: libc::pid_t,
    pub pidfd: OwnedFd,
    /// Read end of the report pipe: EOF once the child has exec'd, or an error record.
    pub report: OwnedFd,
}

/// Reads one report record; None on EOF.
pub(crate) fn read_report(fd: RawFd) -> Result<Option<Report>> {
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

/// Describes how a reaped child ended.
pub(crate) fn describe_exit(e: Option<sys::Exit>) -> String {
    match e {
        Some(sys::Exit::Code(c)) => format!("exit status {c}"),
        Some(sys::Exit::Signal(s)) => format!("killed by signal {s}"),
        None => "still running".into(),
    }
}

fn kill_and_reap(pidfd: &OwnedFd, pid: libc::pid_t) {
    let _ = sys::pidfd_send_signal(pidfd.as_fd(), pid, libc::SIGKILL);
    let _ = sys::waitid_pidfd(pidfd.as_fd(), false);
}

fn write_proc(pid: libc::pid_t, file: &str, text: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text).map_err(Error::io("write", path))
}

/// Clones the container's init and drives it to READY. `hook` runs in the parent after the id
/// maps are written and before the child continues (cgroup placement goes there).
/// With `cgroup_fd` (v2), the child is born inside that cgroup (CLONE_INTO_CGROUP); `hook`'s
/// second argument says whether that happened (when clone3 is unavailable it did not, and the
/// hook must move the child itself).
pub(crate) fn spawn(id: &str, plan: &Plan, pipes: Pipes, cgroup_fd: Option<RawFd>, hook: impl FnOnce(libc::pid_t, bool) -> Result<()>) -> Result<Spawned> {
    let Pipes { report_r, report_w, go_r, go_w } = pipes;
    let window = CLONE_WINDOW.lock().unwrap_or_else(|p| p.into_inner());

    let mut pidfd: RawFd = -1;
    let mut args = sys::CloneArgs {
        flags: plan.clone_flags | sys::CLONE_PIDFD,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= sys::CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }

    // Block every signal around clone so no host handler runs in the child before it resets them.
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), Some(&mut old)).map_err(Error::sys("block signals"))?;
    let mut restore_pidns = None;
    if let Some(ns) = &plan.pid_ns {
        let own = std::fs::File::open("/proc/thread-self/ns/pid_for_children").map_err(Error::io("open", "/proc/thread-self/ns/pid_for_children"));
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
                let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
                return Err(e);
            }
        }
    }

    // SAFETY: fork-style clone3; the child only runs child::run (raw syscalls on the plan).
    let mut cloned = unsafe { sys::clone3(&mut args) };
    let mut placed_by_clone = cgroup_fd.is_some();
    const CLONE_NEWTIME: u64 = 0x80;
    if cloned == Err(Errno::ENOSYS) && plan.clone_flags & CLONE_NEWTIME == 0 {
        placed_by_clone = false;
        // SAFETY: as above, with clone(2).
        cloned = unsafe { sys::clone_legacy(plan.clone_flags, &mut pidfd) };
    }
    if let Ok(0) = cloned {
        // SAFETY: in the child; closes the parent's ends and runs the plan. Never returns.
        unsafe {
            libc::close(report_r.as_raw_fd());
            libc::close(go_w.as_raw_fd());
            child::run(plan, report_w.as_raw_fd());
        }
    }

    if let Some(own) = restore_pidns {
        // SAFETY: re-entering our own active pid namespace is always allowed.
        unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWPID) };
    }
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    drop(report_w);
    drop(go_r);
    drop(window);

    let pid = cloned.map_err(|e| Error::Sys { op: format!("clone3 (container {id:?}, namespace flags {:#x})", plan.clone_flags), errno: e })?;
    // SAFETY: CLONE_PIDFD filled in a fresh fd.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };

    let parent_setup = || -> Result<()> {
        if let Some(m) = &plan.uid_map {
            write_proc(pid, "uid_map", m)?;
        }
        if let Some(m) = &plan.gid_map {
            write_proc(pid, "gid_map", m)?;
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
        // SAFETY: one byte to a valid socket, without SIGPIPE.
        if unsafe { libc::send(go_w.as_raw_fd(), b"g".as_ptr() as *const libc::c_void, 1, libc::MSG_NOSIGNAL) } != 1 {
            return Err(Error::Sys { op: "signal container init".into(), errno: Errno::last() });
        }
        Ok(())
    };
    if let Err(e) = parent_setup() {
        // A child that died on its own explains the failure better than our side of it.
        if let Ok(Some(exit)) = sys::waitid_pidfd(pidfd.as_fd(), true) {
            return Err(Error::SetupDied { id: id.to_string(), how: describe_exit(Some(exit)) });
        }
        kill_and_reap(&pidfd, pid);
        return Err(e);
    }
    drop(go_w);

    match read_report(report_r.as_raw_fd()) {
        Ok(Some(r)) if r.step == READY => Ok(Spawned { pid, pidfd, report: report_r }),
        Ok(Some(r)) => {
            let _ = sys::waitid_pidfd(pidfd.as_fd(), false);
            Err(Error::Setup { what: plan.what(r.step as usize).to_string(), errno: Errno::from_raw(r.errno) })
        }
        Ok(None) => {
            let how = describe_exit(sys::waitid_pidfd(pidfd.as_fd(), false).ok().flatten());
            Err(Error::SetupDied { id: id.to_string(), how })
        }
        Err(e) => {
            kill_and_reap(&pidfd, pid);
            Err(e)
        }
    }
}
