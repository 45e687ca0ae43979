//! The child between clone and execve: it walks the Plan's steps with raw system calls on data the
//! parent prepared. No allocation, no formatting, no locks, no panics (DESIGN.md, "The child").
//! A failure is sent to the parent as a fixed-size record (step index, errno) on the report pipe.

use std::ffi::CStr;

use crate::plan::{Op, Plan};

/// The record the child writes on the report pipe.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Report {
    pub step: u32,
    pub errno: i32,
}

/// `step` value meaning "setup done, waiting for start".
pub(crate) const READY: u32 = u32::MAX;
/// Exit code of a child that failed during setup (after reporting).
const SETUP_FAILED: i32 = 127;

#[inline]
fn errno() -> i32 {
    // SAFETY: errno location is thread-local and always valid.
    unsafe { *libc::__errno_location() }
}

#[inline]
fn check(r: libc::c_int) -> Result<(), i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

#[inline]
fn check_exists_ok(r: libc::c_int) -> Result<(), i32> {
    if r < 0 && errno() != libc::EEXIST {
        Err(errno())
    } else {
        Ok(())
    }
}

fn opt_ptr(s: &Option<std::ffi::CString>) -> *const libc::c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

unsafe fn write_report(fd: i32, step: u32, errno: i32) {
    let r = Report { step, errno };
    // SAFETY: r is plain data of the size written.
    unsafe { libc::write(fd, &r as *const Report as *const libc::c_void, std::mem::size_of::<Report>()) };
}

/// The kernel's `struct statfs` (64-bit): libc's hides `f_flags`.
#[repr(C)]
struct KernelStatfs {
    f_type: libc::c_long,
    f_bsize: libc::c_long,
    f_blocks: u64,
    f_bfree: u64,
    f_bavail: u64,
    f_files: u64,
    f_ffree: u64,
    f_fsid: [libc::c_int; 2],
    f_namelen: libc::c_long,
    f_frsize: libc::c_long,
    f_flags: libc::c_long,
    f_spare: [libc::c_long; 4],
}

/// Resets every signal disposition to default (a host's handlers must not run in the child).
unsafe fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; invalid signal numbers just fail.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Runs the plan; never returns. `report_fd` is the child's end of the report pipe.
///
/// # Safety
/// Must only be called in the child right after clone3, with a Plan built by the parent.
pub(crate) unsafe fn run(plan: &Plan, report_fd: i32) -> ! {
    // SAFETY: raw syscalls on valid arguments throughout; see each step.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        reset_signals();
        let mut chosen = 0usize;
        for (i, step) in plan.steps.iter().enumerate() {
            if let Err(e) = exec_step(plan, &step.op, &mut chosen) {
                write_report(report_fd, i as u32, e);
                libc::_exit(SETUP_FAILED);
            }
        }
        libc::_exit(SETUP_FAILED)
    }
}

unsafe fn exec_step(plan: &Plan, op: &Op, chosen: &mut usize) -> Result<(), i32> {
    // SAFETY (whole function): every pointer comes from a CString or array owned by `plan`, which
    // lives in this (copied) address space until exec.
    unsafe {
        match op {
            Op::WaitParent { fd } => {
                let mut b = 0u8;
                loop {
                    let r = libc::read(*fd, &mut b as *mut u8 as *mut libc::c_void, 1);
                    if r == 1 {
                        libc::close(*fd);
                        return Ok(());
                    }
                    if r == 0 {
                        // The parent went away: nothing to report to.
                        libc::_exit(SETUP_FAILED);
                    }
                    if errno() != libc::EINTR {
                        return Err(errno());
                    }
                }
            }
            Op::JoinCgroup { fd } => {
                let r = libc::write(*fd, b"0".as_ptr() as *const libc::c_void, 1);
                let e = errno();
                libc::close(*fd);
                if r < 0 {
                    Err(e)
                } else {
                    Ok(())
                }
            }
            Op::SetNs { fd, nstype } => check(libc::setns(*fd, *nstype)),
            Op::Unshare { flags } => check(libc::unshare(*flags)),
            Op::Stdio { fds } => {
                let mut tmp = [-1; 3];
                for (i, fd) in fds.iter().enumerate() {
                    if *fd >= 0 {
                        tmp[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10);
                        if tmp[i] < 0 {
                            return Err(errno());
                        }
                    }
                }
                for (i, fd) in tmp.iter().enumerate() {
                    if *fd >= 0 {
                        check(libc::dup2(*fd, i as i32))?;
                        libc::close(*fd);
                    }
                }
                Ok(())
            }
            Op::Umask { mask } => {
                libc::umask(*mask);
                Ok(())
            }
            Op::Mount { source, target, fstype, flags, data } => check(libc::mount(
                opt_ptr(source),
                target.as_ptr(),
                opt_ptr(fstype),
                *flags,
                data.as_ref().map_or(std::ptr::null(), |d| d.as_ptr() as *const libc::c_void),
            )),
            Op::BindRemount { target, flags } => {
                let base = libc::MS_REMOUNT | libc::MS_BIND;
                let r = libc::mount(std::ptr::null(), target.as_ptr(), std::ptr::null(), base | *flags, std::ptr::null());
                if r == 0 {
                    return Ok(());
                }
                if errno() != libc::EPERM {
                    return Err(errno());
                }
                // Keep the flags the kernel locks on this mount (from another user namespace).
                // statfs(2), not statvfs(3): glibc's statvfs may read /proc/mounts.
                let mut st: KernelStatfs = std::mem::zeroed();
                check(libc::syscall(libc::SYS_statfs, target.as_ptr(), &mut st as *mut KernelStatfs) as libc::c_int)?;
                let locked = st.f_flags as libc::c_ulong
                    & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY | libc::MS_NOATIME | libc::MS_NODIRATIME | libc::MS_RELATIME);
                check(libc::mount(std::ptr::null(), target.as_ptr(), std::ptr::null(), base | *flags | locked, std::ptr::null()))
            }
            Op::Mkdir { path, mode } => check_exists_ok(libc::mkdir(path.as_ptr(), *mode)),
            Op::Touch { path } => {
                let fd = libc::open(path.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0o644);
                if fd < 0 {
                    // A directory or device already there is fine to bind over.
                    return if errno() == libc::EISDIR || errno() == libc::EEXIST { Ok(()) } else { Err(errno()) };
                }
                libc::close(fd);
                Ok(())
            }
            Op::Mknod { path, mode, dev } => check_exists_ok(libc::mknod(path.as_ptr(), *mode, *dev)),
            Op::Chown { path, uid, gid } => check(libc::chown(path.as_ptr(), *uid, *gid)),
            Op::Symlink { target, link } => check_exists_ok(libc::symlink(target.as_ptr(), link.as_ptr())),
            Op::Chdir { path } => check(libc::chdir(path.as_ptr())),
            Op::PivotRoot => {
                let dot = c".".as_ptr();
                check(libc::syscall(libc::SYS_pivot_root, dot, dot) as libc::c_int)?;
                check(libc::umount2(dot, libc::MNT_DETACH))?;
                check(libc::chdir(c"/".as_ptr()))
            }
            Op::MoveRoot => {
                check(libc::mount(c".".as_ptr(), c"/".as_ptr(), std::ptr::null(), libc::MS_MOVE, std::ptr::null()))?;
                check(libc::chroot(c".".as_ptr()))?;
                check(libc::chdir(c"/".as_ptr()))
            }
            Op::Mask { path } => {
                let r = libc::mount(c"/dev/null".as_ptr(), path.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null());
                if r == 0 {
                    return Ok(());
                }
                match errno() {
                    libc::ENOENT => Ok(()),
                    libc::ENOTDIR => check(libc::mount(
                        c"tmpfs".as_ptr(),
                        path.as_ptr(),
                        c"tmpfs".as_ptr(),
                        libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        c"size=0,mode=555".as_ptr() as *const libc::c_void,
                    )),
                    e => Err(e),
                }
            }
            Op::ReadonlyPath { path } => {
                let r = libc::mount(path.as_ptr(), path.as_ptr(), std::ptr::null(), libc::MS_BIND | libc::MS_REC, std::ptr::null());
                if r < 0 {
                    return if errno() == libc::ENOENT { Ok(()) } else { Err(errno()) };
                }
                let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
                let r = libc::mount(std::ptr::null(), path.as_ptr(), std::ptr::null(), flags, std::ptr::null());
                if r < 0 && errno() == libc::EPERM {
                    return check(libc::mount(std::ptr::null(), path.as_ptr(), std::ptr::null(), libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY, std::ptr::null()));
                }
                check(r)
            }
            Op::SetHostname { name } => check(libc::sethostname(name.as_ptr(), name.as_bytes().len())),
            Op::SetDomainname { name } => check(libc::setdomainname(name.as_ptr(), name.as_bytes().len())),
            Op::LoopbackUp { ifreq } => {
                let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
                if s < 0 {
                    return Err(errno());
                }
                let r = libc::ioctl(s, libc::SIOCSIFFLAGS, ifreq as *const libc::ifreq);
                let e = errno();
                libc::close(s);
                if r < 0 {
                    Err(e)
                } else {
                    Ok(())
                }
            }
            Op::WriteFile { path, data } => {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC | libc::O_TRUNC);
                if fd < 0 {
                    return Err(errno());
                }
                let r = libc::write(fd, data.as_ptr() as *const libc::c_void, data.len());
                let e = errno();
                libc::close(fd);
                if r < 0 {
                    Err(e)
                } else {
                    Ok(())
                }
            }
            Op::DropBounding { keep, last_cap } => {
                for cap in 0..=*last_cap {
                    if keep & (1u64 << cap) == 0 {
                        let r = libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0);
                        if r < 0 && errno() != libc::EINVAL {
                            return Err(errno());
                        }
                    }
                }
                Ok(())
            }
            Op::KeepCaps { on } => check(libc::prctl(libc::PR_SET_KEEPCAPS, *on as libc::c_ulong, 0, 0, 0)),
            // Raw syscalls, not glibc's wrappers: those broadcast the change to every thread glibc
            // believes exists (the parent's, copied by clone) and wait for them: a hang here.
            Op::SetGroups { gids } => check(libc::syscall(libc::SYS_setgroups, gids.len(), gids.as_ptr()) as libc::c_int),
            Op::SetGid { gid } => check(libc::syscall(libc::SYS_setresgid, *gid, *gid, *gid) as libc::c_int),
            Op::SetUid { uid } => check(libc::syscall(libc::SYS_setresuid, *uid, *uid, *uid) as libc::c_int),
            Op::Caps { effective, permitted, inheritable, ambient, last_cap } => {
                #[repr(C)]
                struct Header {
                    version: u32,
                    pid: i32,
                }
                #[repr(C)]
                #[derive(Clone, Copy)]
                struct Data {
                    effective: u32,
                    permitted: u32,
                    inheritable: u32,
                }
                const VERSION_3: u32 = 0x2008_0522;
                let hdr = Header { version: VERSION_3, pid: 0 };
                let split = |m: u64, i: usize| (m >> (32 * i)) as u32;
                let data = [0, 1].map(|i| Data { effective: split(*effective, i), permitted: split(*permitted, i), inheritable: split(*inheritable, i) });
                check(libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) as libc::c_int)?;
                check(libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0))?;
                for cap in 0..=*last_cap {
                    if ambient & (1u64 << cap) != 0 {
                        // Like runc: an ambient cap outside permitted+inheritable is skipped, not fatal.
                        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap as libc::c_ulong, 0, 0);
                    }
                }
                Ok(())
            }
            Op::NoNewPrivs => check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)),
            Op::Seccomp { filter, flags } => {
                let prog = libc::sock_fprog { len: filter.len() as libc::c_ushort, filter: filter.as_ptr() as *mut libc::sock_filter };
                const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
                check(libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, *flags, &prog as *const libc::sock_fprog) as libc::c_int)
            }
            Op::FindExec => {
                let mut last = libc::ENOENT;
                for (i, c) in plan.exec_candidates.iter().enumerate() {
                    let mut st: libc::stat = std::mem::zeroed();
                    if libc::stat(c.as_ptr(), &mut st) < 0 {
                        if errno() != libc::ENOENT && errno() != libc::ENOTDIR {
                            last = errno();
                        }
                        continue;
                    }
                    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                        last = libc::EACCES;
                        continue;
                    }
                    if libc::access(c.as_ptr(), libc::X_OK) < 0 {
                        last = errno();
                        continue;
                    }
                    *chosen = i;
                    return Ok(());
                }
                Err(last)
            }
            Op::Ready { fd } => {
                write_report(*fd, crate::child::READY, 0);
                Ok(())
            }
            Op::WaitStart { dirfd, name } => {
                let fd = loop {
                    let fd = libc::openat(*dirfd, name.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd >= 0 {
                        break fd;
                    }
                    if errno() != libc::EINTR {
                        return Err(errno());
                    }
                };
                libc::close(*dirfd);
                let b = b"0";
                let r = libc::write(fd, b.as_ptr() as *const libc::c_void, 1);
                if r < 0 {
                    return Err(errno());
                }
                libc::close(fd);
                Ok(())
            }
            Op::CloseFrom { first, keep } => {
                // close_range over the gaps between the fds to keep.
                let mut keep = *keep;
                keep.sort_unstable();
                let mut from = *first;
                for k in keep {
                    if k < 0 || (k as libc::c_uint) < from {
                        continue;
                    }
                    if k as libc::c_uint > from {
                        check(libc::syscall(libc::SYS_close_range, from, k as libc::c_uint - 1, 0) as libc::c_int)?;
                    }
                    from = k as libc::c_uint + 1;
                }
                check(libc::syscall(libc::SYS_close_range, from, libc::c_uint::MAX, 0) as libc::c_int)
            }
            Op::Exec => {
                let empty: libc::sigset_t = {
                    let mut s: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut s);
                    s
                };
                libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                let path: &CStr = match plan.exec_candidates.get(*chosen) {
                    Some(p) => p,
                    None => return Err(libc::ENOENT),
                };
                libc::execve(path.as_ptr(), plan.argv_ptrs.as_ptr(), plan.envp_ptrs.as_ptr());
                Err(errno())
            }
        }
    }
}
