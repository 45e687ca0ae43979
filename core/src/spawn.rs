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
use std::sync::atomic::{AtomicI32, Ordering};
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
/// Size of the helper thread's stack (a few small frames).
const HELPER_STACK: usize = 64 * 1024;

/// The parent's dumpable flag while CLONE_VM children run on its memory: (children, the flag to
/// restore, the effective uid and gid when it was saved).
static NON_DUMPABLE: Mutex<(usize, libc::c_int, libc::uid_t, libc::gid_t)> = Mutex::new((0, 0, 0, 0));

/// While held, the process is non-dumpable. PR_SET_DUMPABLE belongs to the address space, which a
/// CLONE_VM child shares: marking the child non-dumpable until exec (DESIGN.md: /proc/<pid>/exe
/// must not lead a container to the host's binary) marks the parent too. The last holder to go
/// restores the flag the process had: 1 only (2, "suid dumpable", cannot be set back and stays
/// 0), and only if the process kept its effective uid and gid meanwhile (a credential change
/// makes the kernel reset the flag on purpose).
struct NonDumpable(());

impl NonDumpable {
    fn hold() -> NonDumpable {
        let mut g = NON_DUMPABLE.lock().unwrap_or_else(|p| p.into_inner());
        if g.0 == 0 {
            // SAFETY: prctl, geteuid and getegid with plain integer arguments.
            unsafe {
                *g = (0, libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0), libc::geteuid(), libc::getegid());
                libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            }
        }
        g.0 += 1;
        NonDumpable(())
    }
}

impl Drop for NonDumpable {
    fn drop(&mut self) {
        let mut g = NON_DUMPABLE.lock().unwrap_or_else(|p| p.into_inner());
        g.0 -= 1;
        // SAFETY: geteuid/getegid cannot fail; prctl with plain integer arguments.
        unsafe {
            if g.0 == 0 && g.1 == 1 && libc::geteuid() == g.2 && libc::getegid() == g.3 {
                libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
            }
        }
    }
}

/// What a CLONE_VM child reads from its parent's memory until it execs, and where the kernel
/// writes its pid and pidfd; plus what the helper thread that clones it reads.
struct VmChild {
    plan: Plan,
    report_w: RawFd,
    /// The parent's pipe ends, which the child closes in its own fd table.
    parent_ends: [RawFd; 2],
    stack: sys::ChildStack,
    args: sys::CloneArgs,
    /// Written by the kernel during clone3 (CLONE_PARENT_SETTID, CLONE_PIDFD), before the child
    /// runs; read once the child said HELLO.
    tid: AtomicI32,
    pidfd: AtomicI32,
    /// The helper thread: its stack, its job, and a word the kernel clears when it has exited
    /// (CLONE_CHILD_CLEARTID): only then may its stack be unmapped.
    helper_stack: sys::ChildStack,
    helper_w: RawFd,
    helper_pid_ns: RawFd,
    helper_alive: AtomicI32,
    _non_dumpable: NonDumpable,
}

impl VmChild {
    /// The child's pid and pidfd, as the kernel wrote them during clone3 (0 and -1 before).
    fn child_ids(&self) -> (libc::pid_t, RawFd) {
        (self.tid.load(Ordering::Acquire), self.pidfd.load(Ordering::Acquire))
    }

    /// Kills and reaps the child the kernel made, if it made one; how it ended.
    fn kill_child(&self) -> Option<sys::Exit> {
        let (pid, fd) = self.child_ids();
        if pid <= 0 || fd < 0 {
            return None;
        }
        // SAFETY: CLONE_PIDFD filled in a fresh fd, which nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        kill_and_wait(&fd, pid)
    }

    /// Waits until the helper thread has exited (it does right after its last report).
    fn wait_helper(&self) {
        loop {
            let v = self.helper_alive.load(Ordering::Acquire);
            if v == 0 {
                return;
            }
            let ts = libc::timespec { tv_sec: 0, tv_nsec: 10_000_000 };
            // SAFETY: futex wait on a live word of ours, with a timeout.
            unsafe { libc::syscall(libc::SYS_futex, self.helper_alive.as_ptr(), libc::FUTEX_WAIT, v, &ts as *const libc::timespec) };
        }
    }
}

extern "C" fn vm_child_entry(arg: *mut libc::c_void) -> ! {
    // SAFETY: arg is the VmChild that the parent keeps mapped and unchanged until this child has
    // exec'd or exited (SharedWithChild); the kernel wrote tid/pidfd before this child ran.
    let c = unsafe { &*(arg as *const VmChild) };
    child::write_report(c.report_w, child::HELLO, 0);
    // SAFETY: in the child right after clone3, with the parent's Plan.
    unsafe { child::run(&c.plan, c.report_w, c.parent_ends) }
}

/// The helper thread (see [`clone_on_helper_thread`]): raw system calls only, like the child,
/// because it is a thread libc does not know of, running on the TLS of the thread that made it.
extern "C" fn helper_entry(arg: *mut libc::c_void) -> ! {
    // SAFETY: arg is the VmChild, kept mapped until this thread has exited (wait_helper).
    let vm = unsafe { &*(arg as *const VmChild) };
    if vm.helper_pid_ns >= 0 {
        if let Err(e) = child::raw::setns(vm.helper_pid_ns, libc::CLONE_NEWPID) {
            child::write_report(vm.helper_w, child::PIDNS_JOIN_FAILED, e);
            child::raw::close(vm.helper_w);
            child::raw::exit_thread();
        }
    }
    let args = &vm.args as *const sys::CloneArgs as *mut sys::CloneArgs;
    // SAFETY: the clone_args of the VmChild; vm_child_entry follows the child's rules.
    let step = match unsafe { sys::clone3_raw(args, vm_child_entry, arg) } {
        Ok(_) => (child::CHILD_LEFT, 0),
        Err(e) => (child::CLONE_FAILED, e as i32),
    };
    child::write_report(vm.helper_w, step.0, step.1);
    child::raw::close(vm.helper_w);
    child::raw::exit_thread()
}

/// Clones the CLONE_VM child with CLONE_VFORK, from a thread of its own. The vfork flag is what
/// keeps a child that shares the host's memory from hurting the host: until it execs, the OOM
/// killer never picks it (killing it would kill every process sharing that memory, the host
/// included; a container's memory limit is hit in its cgroup during setup or exec), and its
/// oom_score_adj stays its own (without vfork the kernel ties it to the host's). vfork makes the
/// cloning thread sleep until the child has exec'd or exited: hence a thread of its own, which
/// then reports CHILD_LEFT on the report pipe and exits.
///
/// That thread is made with clone3 directly, not pthread_create, so that libc does not know of
/// it: glibc's setuid/setgid/setgroups signal every thread they know and wait for each to
/// answer, and a thread asleep in the kernel's vfork wait (from create to start) would hang them.
/// It is born with every signal blocked (no host handler may run on it), and joins `pid_ns` for
/// its children when asked (pid_for_children is per thread). Returns false when it could not be
/// made (the caller then clones fork-style).
fn clone_on_helper_thread(vm: &mut VmChild, report_w: RawFd, pid_ns: Option<RawFd>) -> bool {
    // The helper writes through its own copy of the report pipe, so that the caller can close
    // its copy as soon as the child exists (EOF must come from the child and the helper alone).
    // SAFETY: fcntl on a valid fd; the duplicate is ours.
    let helper_w = unsafe { libc::fcntl(report_w, libc::F_DUPFD_CLOEXEC, 3) };
    if helper_w < 0 {
        return false;
    }
    vm.helper_w = helper_w;
    vm.helper_pid_ns = pid_ns.unwrap_or(-1);
    vm.args.stack = vm.stack.base() as u64;
    vm.args.stack_size = vm.stack.len() as u64;
    vm.args.parent_tid = vm.tid.as_ptr() as u64;
    vm.args.pidfd = vm.pidfd.as_ptr() as u64;
    vm.helper_alive.store(1, Ordering::Release);
    const THREAD: libc::c_int = libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_FILES | libc::CLONE_SIGHAND | libc::CLONE_THREAD | libc::CLONE_SYSVSEM;
    let mut targs = sys::CloneArgs {
        flags: (THREAD | libc::CLONE_CHILD_CLEARTID) as u64,
        child_tid: vm.helper_alive.as_ptr() as u64,
        stack: vm.helper_stack.base() as u64,
        stack_size: vm.helper_stack.len() as u64,
        ..Default::default()
    };
    // Every signal blocked (32 and 33 too, which glibc's sigprocmask leaves alone) while the
    // thread is made: it inherits this mask.
    let all: u64 = !0;
    let mut old: u64 = 0;
    // SAFETY: rt_sigprocmask on this thread with valid 8-byte sets.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &all as *const u64, &mut old as *mut u64, 8usize) };
    // SAFETY: a thread (CLONE_THREAD) on its own stack that runs helper_entry, which uses raw
    // system calls only and exits; the VmChild stays mapped until wait_helper says it is gone.
    let made = unsafe { sys::clone3_raw(&mut targs, helper_entry, vm as *mut VmChild as *mut libc::c_void) };
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &old as *const u64, 0usize, 8usize) };
    if made.is_err() {
        vm.helper_alive.store(0, Ordering::Release);
        // SAFETY: our own fd, which no thread uses.
        unsafe { libc::close(helper_w) };
        return false;
    }
    true
}

/// The memory a CLONE_VM child runs on until exec: its Plan and its stack (and, through them, the
/// parent's non-dumpable hold). [`SharedWithChild::release`] frees it once the child has left it:
/// CHILD_LEFT or EOF on the report pipe (the helper thread's vfork wait ends when the child's
/// exec has released the old address space, or when it exited), or the child reaped. Dropped
/// without that, it is leaked on purpose: a created container whose handle is gone still waits
/// for `start` on this memory; the process then stays non-dumpable.
pub(crate) struct SharedWithChild(Option<Box<VmChild>>);

impl SharedWithChild {
    pub(crate) fn release(mut self) {
        if let Some(vm) = self.0.take() {
            vm.wait_helper();
        }
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
    let (go_r, go_w) = (sys::not_stdio(go_r).map_err(Error::sys("socketpair"))?, sys::not_stdio(go_w).map_err(Error::sys("socketpair"))?);
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
        // CHILD_LEFT (from the CLONE_VM helper thread) means what EOF means: the child has
        // exec'd or exited.
        return Ok(if n as usize == std::mem::size_of::<Report>() && rec.step != child::CHILD_LEFT { Some(rec) } else { None });
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
    kill_and_wait(pidfd, pid).is_some()
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
    Shared(Box<VmChild>),
}

impl Home {
    fn plan(&self) -> &Plan {
        match self {
            Home::Own(p) => p,
            Home::Shared(vm) => &vm.plan,
        }
    }

    /// The child is gone (reaped, or it left our memory) or never existed: free what it might
    /// have used. Leaked instead when that is not known.
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
    // Namespace fds are used around clone3 and inherited by the child: the Plan's steps only
    // carry their numbers. Closed when this function returns.
    let (pid_ns, _ns_fds) = plan.take_fds();
    let window = CLONE_WINDOW.lock().unwrap_or_else(|p| p.into_inner());

    let mut flags = plan.clone_flags | sys::CLONE_PIDFD;
    let mut cgroup = 0;
    if let Some(fd) = cgroup_fd {
        flags |= sys::CLONE_INTO_CGROUP;
        cgroup = fd as u64;
    }
    const CLONE_NEWTIME: u64 = 0x80;
    let clone_failed = |flags: u64, e: Errno| Error::Sys { op: format!("clone3 (container {id:?}, namespace flags {flags:#x})"), errno: e };

    // 1. CLONE_VM|CLONE_VFORK from a helper thread (x86_64; the kernel refuses CLONE_VM with a new
    //    time namespace, whose vvar page is per address space).
    let mut vm_clone: Option<(libc::pid_t, RawFd)> = None;
    let stacks = match sys::HAS_CLONE3_VM && plan.clone_flags & CLONE_NEWTIME == 0 {
        true => sys::ChildStack::new(CHILD_STACK).ok().zip(sys::ChildStack::new(HELPER_STACK).ok()),
        false => None,
    };
    let mut home = Home::Own(plan);
    if let Some((stack, helper_stack)) = stacks {
        if let Home::Own(plan) = home {
            let mut vm = Box::new(VmChild {
                plan,
                report_w: report_w.as_raw_fd(),
                parent_ends: [report_r.as_raw_fd(), go_w.as_raw_fd()],
                stack,
                args: sys::CloneArgs { flags: flags | (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | sys::CLONE_PARENT_SETTID, exit_signal: libc::SIGCHLD as u64, cgroup, ..Default::default() },
                tid: AtomicI32::new(0),
                pidfd: AtomicI32::new(-1),
                helper_stack,
                helper_w: -1,
                helper_pid_ns: -1,
                helper_alive: AtomicI32::new(0),
                _non_dumpable: NonDumpable::hold(),
            });
            let started = clone_on_helper_thread(&mut vm, report_w.as_raw_fd(), pid_ns.as_ref().map(|f| f.as_raw_fd()));
            // The first record: HELLO from the child, or why the helper could not clone.
            let first = if started { Some(read_report(report_r.as_raw_fd())) } else { None };
            home = Home::Shared(vm);
            match first {
                None => {}
                Some(Ok(Some(r))) if r.step == child::HELLO => {
                    if let Home::Shared(vm) = &home {
                        // SAFETY: written by the kernel before the child ran; the child's HELLO,
                        // read through the pipe, orders these reads after those writes.
                        vm_clone = Some(vm.child_ids());
                    }
                }
                Some(Ok(Some(r))) if r.step == child::PIDNS_JOIN_FAILED => {
                    home.child_gone(true);
                    return Err(Error::Sys { op: "join pid namespace (linux.namespaces[pid].path)".into(), errno: Errno::from_raw(r.errno) });
                }
                // ENOSYS (valgrind, a seccomp profile) or EINVAL (e.g. the host itself is in a
                // new time namespace): the fork-style clone below may still work.
                Some(Ok(Some(r))) if r.step == child::CLONE_FAILED && matches!(Errno::from_raw(r.errno), Errno::ENOSYS | Errno::EINVAL) => {}
                Some(Ok(Some(r))) if r.step == child::CLONE_FAILED => {
                    home.child_gone(true);
                    return Err(clone_failed(flags, Errno::from_raw(r.errno)));
                }
                // The child died before HELLO (CHILD_LEFT reads as EOF): the helper reported after
                // clone3 returned, so the kernel has filled in its pid and pidfd; reap it.
                Some(Ok(None)) => {
                    let Home::Shared(vm) = &home else { unreachable!("set above") };
                    let how = describe_exit(vm.kill_child());
                    home.child_gone(true);
                    return Err(Error::SetupDied { id: id.to_string(), how });
                }
                // Anything else first (the child writes HELLO before anything): kill it if it
                // exists; the memory stays, as nothing says the child and helper are done with it.
                Some(other) => {
                    let Home::Shared(vm) = &home else { unreachable!("set above") };
                    vm.kill_child();
                    home.child_gone(false);
                    return Err(match other {
                        Err(e) => e,
                        Ok(r) => Error::Sys { op: format!("start container {id:?}: unexpected first report {r:?}"), errno: Errno::EPROTO },
                    });
                }
            }
            if vm_clone.is_none() {
                // Back to this function for the fork-style clone, once the helper has exited.
                home = match home {
                    Home::Shared(vm) => {
                        vm.wait_helper();
                        Home::Own(vm.plan)
                    }
                    h => h,
                };
            }
        }
    }

    // 2. Otherwise fork-style: clone3, or clone(2) where clone3 is refused.
    let mut placed_by_clone = cgroup_fd.is_some();
    let mut pidfd: RawFd = -1;
    let cloned: std::result::Result<libc::pid_t, Errno> = match vm_clone {
        Some((pid, fd)) => {
            pidfd = fd;
            Ok(pid)
        }
        None => {
            let mut args = sys::CloneArgs { flags, pidfd: &mut pidfd as *mut RawFd as u64, exit_signal: libc::SIGCHLD as u64, cgroup, ..Default::default() };
            // Block every signal around clone so no host handler runs in the child before it
            // resets them.
            let mut old = SigSet::empty();
            if let Err(e) = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), Some(&mut old)) {
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
                        return Err(e);
                    }
                }
            }
            // SAFETY: fork-style clone3; the child only runs child::run (raw syscalls on the plan).
            let mut cloned = unsafe { sys::clone3(&mut args) };
            if cloned == Err(Errno::ENOSYS) && home.plan().clone_flags & CLONE_NEWTIME == 0 {
                placed_by_clone = false;
                // SAFETY: as above, with clone(2), fork-style.
                cloned = unsafe { sys::clone_legacy(home.plan().clone_flags, &mut pidfd) };
            }
            if let Ok(0) = cloned {
                // In the child, on its copy of the plan. SAFETY: right after clone. Never returns.
                unsafe { child::run(home.plan(), report_w.as_raw_fd(), [report_r.as_raw_fd(), go_w.as_raw_fd()]) }
            }
            if let Some(own) = restore_pidns {
                // SAFETY: re-entering our own active pid namespace is always allowed.
                unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWPID) };
            }
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            cloned
        }
    };
    drop(report_w);
    drop(go_r);
    drop(window);

    let pid = match cloned {
        Ok(pid) => pid,
        Err(e) => {
            let flags = home.plan().clone_flags;
            home.child_gone(true);
            return Err(clone_failed(flags, e));
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
