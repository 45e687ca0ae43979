//! clone3 and the parent's half of the parent/child protocol:
//!
//! 1. parent: pipes (report: child → parent; go: parent → child), block signals, clone3: with
//!    CLONE_VM and a stack of its own where the architecture allows (no copy of the parent's page
//!    tables: a host holding gigabytes starts containers as fast as a small one), fork-style
//!    otherwise.
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

/// Size of a CLONE_VM child's stack (the child's frames are small and never recurse).
const CHILD_STACK: usize = 256 * 1024;

/// The parent's dumpable flag while CLONE_VM children run on its memory: (children, saved flag).
static NON_DUMPABLE: Mutex<(usize, libc::c_int)> = Mutex::new((0, 0));

/// While held, the process is non-dumpable. PR_SET_DUMPABLE belongs to the address space, which a
/// CLONE_VM child shares: marking the child non-dumpable until exec (DESIGN.md: /proc/<pid>/exe
/// must not lead a container to the host's binary) marks the parent too. The last holder to go
/// restores the flag the process had (1 only: 2, "suid dumpable", cannot be set back and stays 0).
struct NonDumpable(());

impl NonDumpable {
    fn hold() -> NonDumpable {
        let mut g = NON_DUMPABLE.lock().unwrap_or_else(|p| p.into_inner());
        if g.0 == 0 {
            // SAFETY: prctl with plain integer arguments.
            g.1 = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
            // SAFETY: as above.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        }
        g.0 += 1;
        NonDumpable(())
    }
}

impl Drop for NonDumpable {
    fn drop(&mut self) {
        let mut g = NON_DUMPABLE.lock().unwrap_or_else(|p| p.into_inner());
        g.0 -= 1;
        if g.0 == 0 && g.1 == 1 {
            // SAFETY: prctl with plain integer arguments.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
        }
    }
}

/// What a CLONE_VM child reads from its parent's memory until it execs.
struct VmChild {
    plan: Plan,
    report_w: RawFd,
    /// The parent's pipe ends, which the child closes in its own fd table.
    parent_ends: [RawFd; 2],
    stack: sys::ChildStack,
    _non_dumpable: NonDumpable,
}

extern "C" fn vm_child_entry(arg: *mut libc::c_void) -> ! {
    // SAFETY: arg is the VmChild that the parent keeps mapped and unchanged until this child has
    // exec'd or been reaped (SharedWithChild).
    let c = unsafe { &*(arg as *const VmChild) };
    // SAFETY: in the child right after clone3, with the parent's Plan.
    unsafe { child::run(&c.plan, c.report_w, c.parent_ends) }
}

/// The memory a CLONE_VM child runs on until exec: its Plan and its stack (and, through them, the
/// parent's non-dumpable hold). [`SharedWithChild::release`] frees it once the child has exec'd
/// (EOF on the report pipe: the kernel closes close-on-exec fds only after switching to the new
/// address space) or has been reaped. Dropped without that, it is leaked on purpose: a created
/// container whose handle is gone still waits for `start` on this memory; the process then stays
/// non-dumpable.
pub(crate) struct SharedWithChild(Option<Box<VmChild>>);

impl SharedWithChild {
    pub(crate) fn release(mut self) {
        drop(self.0.take());
    }
}

impl Drop for SharedWithChild {
    fn drop(&mut self) {
        if let Some(vm) = self.0.take() {
            std::mem::forget(vm);
        }
    }
}

impl std::fmt::Debug for SharedWithChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedWithChild")
    }
}

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
    /// Set when the child runs on this process's memory (CLONE_VM) until it execs.
    pub shared: Option<SharedWithChild>,
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

/// Kills and reaps the child; whether it was reaped.
fn kill_and_reap(pidfd: &OwnedFd, pid: libc::pid_t) -> bool {
    let _ = sys::pidfd_send_signal(pidfd.as_fd(), pid, libc::SIGKILL);
    matches!(sys::waitid_pidfd(pidfd.as_fd(), false), Ok(Some(_)))
}

fn write_proc(pid: libc::pid_t, file: &str, text: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text).map_err(Error::io("write", path))
}

/// Where the Plan lives during a spawn: in this function, or shared with a CLONE_VM child.
#[allow(clippy::large_enum_variant)] // one, on the stack, for the length of a spawn
enum Home {
    Own(Plan),
    Shared(Box<VmChild>),
}

impl Home {
    fn plan(&self) -> &Plan {
        match self {
            Home::Own(p) => p,
            Home::Shared(vm) => &vm.plan,
        }
    }

    /// The child is gone (reaped) or never existed: free what it might have used. Leaked
    /// instead when that is not known.
    fn child_gone(self, known: bool) {
        if let Home::Shared(vm) = self {
            let shared = SharedWithChild(Some(vm));
            if known {
                shared.release();
            }
        }
    }
}

/// Clones the container's init and drives it to READY. `hook` runs in the parent after the id
/// maps are written and before the child continues (cgroup placement goes there).
/// With `cgroup_fd` (v2), the child is born inside that cgroup (CLONE_INTO_CGROUP); `hook`'s
/// second argument says whether that happened (when clone3 is unavailable it did not, and the
/// hook must move the child itself).
pub(crate) fn spawn(id: &str, mut plan: Plan, pipes: Pipes, cgroup_fd: Option<RawFd>, hook: impl FnOnce(libc::pid_t, bool) -> Result<()>) -> Result<Spawned> {
    let Pipes { report_r, report_w, go_r, go_w } = pipes;
    // Namespace fds are used by this thread around clone3 and inherited by the child: the Plan's
    // steps only carry their numbers. Closed when this function returns.
    let (pid_ns, _ns_fds) = plan.take_fds();
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
    const CLONE_NEWTIME: u64 = 0x80;
    // CLONE_VM: the kernel refuses it with a new time namespace (its vvar page is per address space).
    let home = match sys::HAS_CLONE3_VM && plan.clone_flags & CLONE_NEWTIME == 0 {
        true => match sys::ChildStack::new(CHILD_STACK) {
            Ok(stack) => Home::Shared(Box::new(VmChild {
                plan,
                report_w: report_w.as_raw_fd(),
                parent_ends: [report_r.as_raw_fd(), go_w.as_raw_fd()],
                stack,
                _non_dumpable: NonDumpable::hold(),
            })),
            Err(e) => return Err(Error::Sys { op: format!("map a stack for container {id:?}'s init"), errno: e }),
        },
        false => Home::Own(plan),
    };

    // Block every signal around clone so no host handler runs in the child before it resets them.
    let mut old = SigSet::empty();
    if let Err(e) = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), Some(&mut old)) {
        home.child_gone(true);
        return Err(Error::sys("block signals")(e));
    }
    let mut restore_pidns = None;
    if let Some(ns) = &pid_ns {
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
                home.child_gone(true);
                return Err(e);
            }
        }
    }

    let mut cloned = match &home {
        Home::Shared(vm) => {
            let mut vm_args = sys::CloneArgs { flags: args.flags | libc::CLONE_VM as u64, ..args };
            let arg = &**vm as *const VmChild as *mut libc::c_void;
            // SAFETY: vm_child_entry follows child.rs's rules (raw syscalls, writes only its own
            // stack); the VmChild it reads stays alive and unchanged until the child has exec'd
            // or been reaped (SharedWithChild).
            unsafe { sys::clone3_vm(&mut vm_args, &vm.stack, vm_child_entry, arg) }
        }
        // SAFETY: fork-style clone3; the child only runs child::run (raw syscalls on the plan).
        Home::Own(_) => unsafe { sys::clone3(&mut args) },
    };
    // Unless a child now runs on the VmChild, the Plan goes back to this function.
    let home = match home {
        Home::Shared(vm) if cloned.is_err() => Home::Own(vm.plan),
        h => h,
    };
    let mut placed_by_clone = cgroup_fd.is_some();
    if cloned == Err(Errno::ENOSYS) && home.plan().clone_flags & CLONE_NEWTIME == 0 {
        placed_by_clone = false;
        // SAFETY: as above, with clone(2), fork-style.
        cloned = unsafe { sys::clone_legacy(home.plan().clone_flags, &mut pidfd) };
    }
    if let Ok(0) = cloned {
        // Only a fork-style clone returns here in the child (a CLONE_VM child starts in
        // vm_child_entry). SAFETY: in the child, on its copy of the plan. Never returns.
        unsafe { child::run(home.plan(), report_w.as_raw_fd(), [report_r.as_raw_fd(), go_w.as_raw_fd()]) }
    }

    if let Some(own) = restore_pidns {
        // SAFETY: re-entering our own active pid namespace is always allowed.
        unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWPID) };
    }
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    drop(report_w);
    drop(go_r);
    drop(window);

    let pid = match cloned {
        Ok(pid) => pid,
        Err(e) => {
            let flags = home.plan().clone_flags;
            home.child_gone(true);
            return Err(Error::Sys { op: format!("clone3 (container {id:?}, namespace flags {flags:#x})"), errno: e });
        }
    };
    // SAFETY: CLONE_PIDFD filled in a fresh fd.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let plan = home.plan();

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
            home.child_gone(true);
            return Err(Error::SetupDied { id: id.to_string(), how: describe_exit(Some(exit)) });
        }
        home.child_gone(kill_and_reap(&pidfd, pid));
        return Err(e);
    }
    drop(go_w);

    match read_report(report_r.as_raw_fd()) {
        Ok(Some(r)) if r.step == READY => {
            let shared = match home {
                Home::Shared(vm) => Some(SharedWithChild(Some(vm))),
                Home::Own(_) => None,
            };
            Ok(Spawned { pid, pidfd, report: report_r, shared })
        }
        Ok(Some(r)) => {
            let what = plan.what(r.step as usize).to_string();
            let reaped = matches!(sys::waitid_pidfd(pidfd.as_fd(), false), Ok(Some(_)));
            home.child_gone(reaped);
            Err(Error::Setup { what, errno: Errno::from_raw(r.errno) })
        }
        Ok(None) => {
            let exit = sys::waitid_pidfd(pidfd.as_fd(), false).ok().flatten();
            home.child_gone(exit.is_some());
            Err(Error::SetupDied { id: id.to_string(), how: describe_exit(exit) })
        }
        Err(e) => {
            home.child_gone(kill_and_reap(&pidfd, pid));
            Err(e)
        }
    }
}
