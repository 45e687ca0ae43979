//! The CLONE_VM clone: the container's init runs on the host's own memory (no page-table copy,
//! so a host holding gigabytes starts containers as fast as a small one) until it execs the exec
//! stub, at the end of `create`.
//!
//! Used only when nobody but the host can see the child during that time: it is born into a new
//! pid namespace of its own (spawn/mod.rs decides). A neighbour in a joined pid namespace with
//! CAP_SYS_PTRACE could otherwise read and write the host's memory through /proc/<pid>/mem.
//!
//! The child is cloned with CLONE_VFORK from a helper thread of its own: the vfork flag keeps a
//! child that shares the host's memory from hurting the host: until it execs, the OOM killer
//! never picks it (killing it would kill every process sharing that memory, the host included),
//! and its oom_score_adj stays its own. vfork makes the cloning thread sleep until the child has
//! exec'd or exited: hence a thread of its own, which then reports CHILD_LEFT and exits.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use nix::errno::Errno;

use crate::child;
use crate::plan::Plan;
use crate::sys;

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
pub(super) struct VmChild {
    pub(super) plan: Plan,
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
    helper_alive: AtomicI32,
    _non_dumpable: NonDumpable,
}

impl VmChild {
    /// The child's pid and pidfd, as the kernel wrote them during clone3 (0 and -1 before).
    pub(super) fn child_ids(&self) -> (libc::pid_t, RawFd) {
        (self.tid.load(Ordering::Acquire), self.pidfd.load(Ordering::Acquire))
    }

    /// Kills and reaps the child the kernel made, if it made one (taking its pidfd): how it ended.
    fn kill_child(&self) -> Option<sys::Exit> {
        let (pid, fd) = self.child_ids();
        if pid <= 0 || fd < 0 {
            return None;
        }
        // SAFETY: CLONE_PIDFD filled in a fresh fd, which nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        super::kill_and_wait(&fd, pid)
    }

    /// Waits until the helper thread has exited: call only once the child has exec'd or exited
    /// (the helper exits right after), or was never made.
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

    /// Frees the memory the child ran on, once the helper is gone (see [`VmChild::wait_helper`]).
    pub(super) fn release(self: Box<VmChild>) {
        self.wait_helper();
    }

    /// The plan back, once the helper is gone (no child was made).
    fn into_plan(self: Box<VmChild>) -> Plan {
        self.wait_helper();
        let VmChild { plan, .. } = *self;
        plan
    }
}

extern "C" fn vm_child_entry(arg: *mut libc::c_void) -> ! {
    // SAFETY: arg is the VmChild that the parent keeps mapped and unchanged until this child has
    // exec'd or exited (VmChild::release); the kernel wrote tid/pidfd before this child ran.
    let c = unsafe { &*(arg as *const VmChild) };
    child::write_report(c.report_w, child::HELLO, 0);
    // SAFETY: in the child right after clone3, with the parent's Plan.
    unsafe { child::run(&c.plan, c.report_w, c.parent_ends) }
}

/// The helper thread: raw system calls only, like the child, because it is a thread libc does
/// not know of, running on the TLS of the thread that made it.
extern "C" fn helper_entry(arg: *mut libc::c_void) -> ! {
    // SAFETY: arg is the VmChild, kept mapped until this thread has exited (release).
    let vm = unsafe { &*(arg as *const VmChild) };
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

/// Starts the helper thread that clones the child. The thread is made with clone3 directly, not
/// pthread_create, so that libc does not know of it: glibc's setuid/setgid/setgroups signal every
/// thread they know and wait for each to answer, and a thread asleep in the kernel's vfork wait
/// would hang them. It is born with every signal blocked (no host handler may run on it).
/// Returns false when it could not be made.
fn start_helper(vm: &mut VmChild, report_w: RawFd) -> bool {
    // The helper writes through its own copy of the report pipe, so that the caller can close
    // its copy as soon as the child exists (EOF must come from the child and the helper alone).
    // SAFETY: fcntl on a valid fd; the duplicate is ours.
    let helper_w = unsafe { libc::fcntl(report_w, libc::F_DUPFD_CLOEXEC, 3) };
    if helper_w < 0 {
        return false;
    }
    vm.helper_w = helper_w;
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
    // system calls only and exits; the VmChild stays mapped until release() says it is gone.
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

/// How a CLONE_VM clone went.
#[allow(clippy::large_enum_variant)] // one, on the stack, for the length of a spawn
pub(super) enum Outcome {
    /// The child exists and said HELLO: it runs on the VmChild's memory until it execs.
    Cloned(Box<VmChild>),
    /// CLONE_VM is not possible here (no stack, no helper, or clone3 refused it with ENOSYS or
    /// EINVAL): clone fork-style with the plan given back.
    Fallback(Plan),
    /// The child died before it said HELLO: how it ended.
    Died(Option<sys::Exit>),
    Failed(crate::error::Error),
}

/// Clones the child with CLONE_VM | CLONE_VFORK from a helper thread. `flags` and `cgroup` are
/// those of the fork-style clone3.
pub(super) fn clone(plan: Plan, flags: u64, cgroup: u64, report_r: RawFd, report_w: RawFd, go_w: RawFd) -> Outcome {
    let Some((stack, helper_stack)) = sys::ChildStack::new(CHILD_STACK).ok().zip(sys::ChildStack::new(HELPER_STACK).ok()) else {
        return Outcome::Fallback(plan);
    };
    let mut vm = Box::new(VmChild {
        plan,
        report_w,
        parent_ends: [report_r, go_w],
        stack,
        args: sys::CloneArgs {
            flags: flags | (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | sys::CLONE_PARENT_SETTID,
            exit_signal: libc::SIGCHLD as u64,
            cgroup,
            ..Default::default()
        },
        tid: AtomicI32::new(0),
        pidfd: AtomicI32::new(-1),
        helper_stack,
        helper_w: -1,
        helper_alive: AtomicI32::new(0),
        _non_dumpable: NonDumpable::hold(),
    });
    if !start_helper(&mut vm, report_w) {
        return Outcome::Fallback(vm.plan);
    }
    // The first record: HELLO from the child, or why the helper could not clone.
    match super::read_record(report_r) {
        Ok(Some(r)) if r.step == child::HELLO => Outcome::Cloned(vm),
        // ENOSYS (valgrind, a seccomp profile) or EINVAL (e.g. the host itself is in a new time
        // namespace): the fork-style clone may still work.
        Ok(Some(r)) if r.step == child::CLONE_FAILED && matches!(Errno::from_raw(r.errno), Errno::ENOSYS | Errno::EINVAL) => Outcome::Fallback(vm.into_plan()),
        Ok(Some(r)) if r.step == child::CLONE_FAILED => {
            vm.release();
            Outcome::Failed(crate::error::Error::Sys { op: format!("clone3 (namespace flags {flags:#x})"), errno: Errno::from_raw(r.errno) })
        }
        // The child died before HELLO (CHILD_LEFT): the helper reported after clone3 returned, so
        // the kernel has filled in its pid and pidfd; reap it.
        Ok(Some(r)) if r.step == child::CHILD_LEFT => {
            let how = vm.kill_child();
            vm.release();
            Outcome::Died(how)
        }
        other => {
            vm.kill_child();
            vm.release();
            Outcome::Failed(match other {
                Err(e) => e,
                Ok(r) => crate::error::Error::Sys { op: format!("clone container init: unexpected first report {r:?}"), errno: Errno::EPROTO },
            })
        }
    }
}
