//! Thin wrappers over the few Linux system calls that neither libc's nor nix's safe API covers.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// `struct clone_args` of clone3(2).
#[repr(C)]
#[derive(Default)]
pub(crate) struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

pub(crate) const CLONE_PIDFD: u64 = 0x1000;
pub(crate) const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
pub(crate) const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Fork-style clone3: returns 0 in the child, the child's pid in the parent.
///
/// # Safety
/// In the child only async-signal-safe work may follow (see DESIGN.md, "The child").
pub(crate) unsafe fn clone3(args: &mut CloneArgs) -> Result<libc::pid_t, Errno> {
    // SAFETY: args is a valid clone_args of the size we pass; no CLONE_VM, so the child gets its
    // own copy of the address space and returns here like fork().
    let r = unsafe { libc::syscall(libc::SYS_clone3, args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as libc::pid_t)
    }
}

/// Fork-style clone(2) with CLONE_PIDFD, for when clone3 is refused with ENOSYS (valgrind, or a
/// seccomp profile of an outer container). `flags` must not hold CLONE_NEWTIME (0x80, the exit
/// signal byte in clone(2)) nor clone3-only flags.
///
/// # Safety
/// As [`clone3`].
pub(crate) unsafe fn clone_legacy(flags: u64, pidfd: &mut libc::c_int) -> Result<libc::pid_t, Errno> {
    // SAFETY: no CLONE_VM and a NULL stack: the child continues on a copy of this stack, as after
    // fork(). With CLONE_PIDFD the pidfd is stored through the parent_tid argument.
    let r = unsafe { libc::syscall(libc::SYS_clone, flags | CLONE_PIDFD | libc::SIGCHLD as u64, 0usize, pidfd as *mut libc::c_int, 0usize, 0usize) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as libc::pid_t)
    }
}

pub(crate) fn pidfd_open(pid: libc::pid_t) -> Result<OwnedFd, Errno> {
    // SAFETY: plain syscall; on success returns a new fd we own.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        Err(Errno::last())
    } else {
        // SAFETY: r is a fresh fd.
        Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
    }
}

/// Signals the process behind `pidfd`. Where pidfd_send_signal is missing (ENOSYS: valgrind, old
/// kernels) falls back to kill(`pid`): still safe for our own unreaped child, whose pid cannot be
/// reused, and the same race runc accepts for others.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, pid: libc::pid_t, sig: i32) -> Result<(), Errno> {
    // SAFETY: plain syscall with a valid fd.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), sig, std::ptr::null::<libc::siginfo_t>(), 0) };
    if r == 0 {
        return Ok(());
    }
    match Errno::last() {
        // SAFETY: plain kill(2).
        Errno::ENOSYS if pid > 0 => match unsafe { libc::kill(pid, sig) } {
            0 => Ok(()),
            _ => Err(Errno::last()),
        },
        e => Err(e),
    }
}

/// Polls one fd for `events`; `timeout_ms` < 0 waits forever. Returns whether it became ready.
pub(crate) fn poll_one(fd: RawFd, events: i16, timeout_ms: i32) -> Result<bool, Errno> {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        return Ok(r > 0);
    }
}

/// Polls a pidfd until its process ends (true) or `deadline` passes (false; None: no deadline).
pub(crate) fn pidfd_wait_until(fd: RawFd, deadline: Option<std::time::Instant>) -> Result<bool, Errno> {
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => i32::try_from(d.saturating_duration_since(std::time::Instant::now()).as_millis()).unwrap_or(i32::MAX),
        };
        if poll_one(fd, libc::POLLIN, ms)? {
            return Ok(true);
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Ok(false);
        }
    }
}

/// How a reaped child ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
}

/// waitid(P_PIDFD, WEXITED); with `nohang`, returns None while the child runs.
pub(crate) fn waitid_pidfd(pidfd: BorrowedFd<'_>, nohang: bool) -> Result<Option<Exit>, Errno> {
    const P_PIDFD: libc::idtype_t = 3;
    loop {
        // SAFETY: siginfo_t is plain data; zeroed is a valid initial value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | if nohang { libc::WNOHANG } else { 0 };
        // SAFETY: valid pointers; pidfd is a valid fd.
        let r = unsafe { libc::waitid(P_PIDFD, pidfd.as_raw_fd() as libc::id_t, &mut info, flags) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        // SAFETY: waitid filled info (or left it zeroed with WNOHANG).
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        return Ok(Some(match info.si_code {
            libc::CLD_EXITED => Exit::Code(status),
            _ => Exit::Signal(status),
        }));
    }
}

/// A pipe whose both ends are close-on-exec (and above 2: see [`not_stdio`]).
pub(crate) fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd), Errno> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok((not_stdio(r)?, not_stdio(w)?))
}

/// `fd`, moved above 2 if it is 0, 1 or 2 (close-on-exec). In a host that runs with its stdio
/// closed (a daemon), new fds come out as 0-2, and the child's Stdio step would replace any fd
/// of the Plan that sits there (the report pipe, a namespace, a cgroup file) with the
/// container's stdio.
pub(crate) fn not_stdio(fd: OwnedFd) -> Result<OwnedFd, Errno> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: fcntl on a valid fd; the duplicate is a fresh fd we own.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(Errno::last());
    }
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// A close-on-exec duplicate of `fd`, above 2.
pub(crate) fn dup_cloexec(fd: &impl AsRawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: fcntl on a valid fd; the duplicate is a fresh fd we own.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(Errno::last());
    }
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// A stack for a CLONE_VM child: anonymous memory with a guard page at the bottom.
pub(crate) struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

// SAFETY: a plain mapping, only unmapped on drop; never accessed by the parent.
unsafe impl Send for ChildStack {}
unsafe impl Sync for ChildStack {}

impl ChildStack {
    pub(crate) fn new(len: usize) -> Result<ChildStack, Errno> {
        // SAFETY: a fresh anonymous private mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the lowest page of our own mapping becomes the guard.
        if unsafe { libc::mprotect(base, 4096, libc::PROT_NONE) } < 0 {
            return Err(Errno::last());
        }
        Ok(stack)
    }

    pub(crate) fn base(&self) -> *mut libc::c_void {
        self.base
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: our own mapping, which no running code uses any more (see spawn.rs).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// The child's entry point for [`clone3_raw`]: runs on the new stack and never returns.
pub(crate) type ChildEntry = extern "C" fn(arg: *mut libc::c_void) -> !;

/// Whether [`clone3_raw`] exists on this architecture.
pub(crate) const HAS_CLONE3_VM: bool = cfg!(target_arch = "x86_64");

/// clone3 for a child that runs `entry(arg)` on the stack `args` names (`args.stack`,
/// `args.stack_size`), for CLONE_VM children, posix_spawn-style. Returns the child's pid (with
/// CLONE_VFORK: once the child has exec'd or exited).
///
/// # Safety
/// `args` points to a valid clone_args. With CLONE_VM, `entry` must use only raw system calls
/// (child.rs's rules, plus: it writes no memory but its own stack, since that memory is the
/// parent's), and everything it reads through `arg` and the stack must stay mapped until the
/// child has exec'd or exited.
pub(crate) unsafe fn clone3_raw(args: *mut CloneArgs, entry: ChildEntry, arg: *mut libc::c_void) -> Result<libc::pid_t, Errno> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: the caller's contract.
        let r = unsafe { clone3_trampoline(args, std::mem::size_of::<CloneArgs>(), entry, arg) };
        if r < 0 {
            Err(Errno::from_raw(-r as i32))
        } else {
            Ok(r as libc::pid_t)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (args, entry, arg);
        Err(Errno::ENOSYS)
    }
}

/// clone3 in assembly, because the child cannot return into the caller's frames: it starts on
/// its own stack (the kernel points the stack pointer at stack + stack_size), calls
/// `entry(arg)` and never returns. The parent gets clone3's result (pid, or -errno).
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
unsafe extern "C" fn clone3_trampoline(args: *mut CloneArgs, size: usize, entry: ChildEntry, arg: *mut libc::c_void) -> isize {
    // rdi = args, rsi = size, rdx = entry, rcx = arg. r8/r9 survive the syscall (only rcx and r11
    // are clobbered) and are copied into the child with every other register.
    std::arch::naked_asm!(
        "mov r8, rdx",
        "mov r9, rcx",
        "mov eax, 435", // SYS_clone3
        "syscall",
        "test rax, rax",
        "jnz 2f",
        // Child: a fresh 16-byte-aligned stack; no frame to return to.
        "xor ebp, ebp",
        "mov rdi, r9",
        "call r8",
        "ud2",
        "2:",
        "ret",
    )
}

/// write(2) that cannot raise SIGPIPE in the host: SIGPIPE is blocked on this thread around the
/// write, and a SIGPIPE it raised is taken off the pending set again (a library must not change
/// the host's signal dispositions). EPIPE comes back as an error.
pub(crate) fn write_no_sigpipe(fd: RawFd, buf: &[u8]) -> Result<usize, Errno> {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    let mut pipe = SigSet::empty();
    pipe.add(Signal::SIGPIPE);
    let mut old = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&pipe), Some(&mut old))?;
    let was_pending = {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigpending fills the set; sigismember reads it.
        unsafe { libc::sigpending(set.as_mut_ptr()) == 0 && libc::sigismember(set.as_ptr(), libc::SIGPIPE) == 1 }
    };
    let r = loop {
        // SAFETY: write from a live buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) };
        if n >= 0 {
            break Ok(n as usize);
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => break Err(e),
        }
    };
    if r == Err(Errno::EPIPE) && !was_pending {
        let ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: sigtimedwait on a valid set with a zero timeout: takes our SIGPIPE, if pending.
        unsafe { libc::sigtimedwait(pipe.as_ref(), std::ptr::null_mut(), &ts) };
    }
    if !old.contains(Signal::SIGPIPE) {
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&pipe), None);
    }
    r
}

/// Receives one fd sent with SCM_RIGHTS on a unix socket (the payload is ignored); the fd is
/// close-on-exec.
pub(crate) fn recv_fd(sock: RawFd) -> Result<OwnedFd, Errno> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            r => break r?,
        }
    };
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: a fresh fd the kernel installed for us.
                return not_stdio(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(Errno::EBADMSG)
}

/// TIOCSWINSZ on a terminal fd.
pub(crate) fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> Result<(), Errno> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: ioctl with a pointer to a live winsize.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}
