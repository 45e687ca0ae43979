//! The child's system calls, issued directly, never through libc's wrappers.
//!
//! Why not libc: a child cloned with CLONE_VM (spawn.rs) runs on its parent's memory and on the
//! thread-local storage of the parent thread that cloned it. Every libc wrapper writes `errno`
//! there on failure, under the feet of a parent thread that is still running; some wrappers also
//! take locks or talk to other threads (glibc's set*id broadcast). Here a failure comes back as
//! `Err(errno)` and nothing outside the child's own stack is written.
//!
//! On x86_64 the `syscall` instruction is issued inline. Elsewhere the calls go through
//! `libc::syscall` (which does write errno): spawn.rs uses CLONE_VM only on x86_64, so there the
//! child always has its own copy of the address space.

use std::ffi::CStr;

use libc::{c_long, c_uint, c_ulong, c_void};

pub(super) type Res = Result<usize, i32>;

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn sc(nr: c_long, a: [usize; 6]) -> Res {
    let ret: isize;
    // SAFETY: the Linux x86_64 syscall ABI: number in rax, arguments in rdi rsi rdx r10 r8 r9,
    // result in rax; the kernel clobbers rcx and r11 and does not touch the user stack.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2], in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) {
        Err(-ret as i32)
    } else {
        Ok(ret as usize)
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
unsafe fn sc(nr: c_long, a: [usize; 6]) -> Res {
    // SAFETY: as the caller's; only used where the child has its own address space.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r < 0 {
        // SAFETY: errno of this (the child's own) thread.
        Err(unsafe { *libc::__errno_location() })
    } else {
        Ok(r as usize)
    }
}

macro_rules! call {
    ($nr:expr $(, $a:expr)*) => {{
        let mut args = [0usize; 6];
        let vals: &[usize] = &[$($a as usize),*];
        let mut i = 0;
        while i < vals.len() {
            args[i] = vals[i];
            i += 1;
        }
        // SAFETY: callers pass pointers to live, NUL-terminated or correctly sized data.
        unsafe { sc($nr, args) }
    }};
}

fn p(s: &CStr) -> usize {
    s.as_ptr() as usize
}

fn opt(s: Option<&CStr>) -> usize {
    s.map_or(0, p)
}

pub(super) fn read(fd: i32, buf: &mut [u8]) -> Res {
    call!(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len())
}

pub(crate) fn write(fd: i32, buf: &[u8]) -> Res {
    call!(libc::SYS_write, fd, buf.as_ptr(), buf.len())
}

pub(crate) fn close(fd: i32) {
    let _ = call!(libc::SYS_close, fd);
}

/// Ends the calling thread only (exit(2), not exit_group).
pub(crate) fn exit_thread() -> ! {
    loop {
        let _ = call!(libc::SYS_exit, 0);
    }
}

pub(super) fn exit(code: i32) -> ! {
    loop {
        let _ = call!(libc::SYS_exit_group, code);
    }
}

pub(super) fn openat(dirfd: i32, path: &CStr, flags: i32, mode: libc::mode_t) -> Result<i32, i32> {
    call!(libc::SYS_openat, dirfd, p(path), flags, mode).map(|fd| fd as i32)
}

pub(super) fn dupfd_cloexec(fd: i32, min: i32) -> Result<i32, i32> {
    call!(libc::SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, min).map(|fd| fd as i32)
}

pub(super) fn dup3(old: i32, new: i32) -> Res {
    call!(libc::SYS_dup3, old, new, 0)
}

pub(crate) fn setns(fd: i32, nstype: i32) -> Res {
    call!(libc::SYS_setns, fd, nstype)
}

pub(super) fn unshare(flags: i32) -> Res {
    call!(libc::SYS_unshare, flags)
}

pub(super) fn umask(mask: libc::mode_t) {
    let _ = call!(libc::SYS_umask, mask);
}

pub(super) fn mount(source: Option<&CStr>, target: &CStr, fstype: Option<&CStr>, flags: c_ulong, data: *const c_void) -> Res {
    call!(libc::SYS_mount, opt(source), p(target), opt(fstype), flags, data)
}

pub(super) fn umount2(target: &CStr, flags: i32) -> Res {
    call!(libc::SYS_umount2, p(target), flags)
}

pub(super) fn statfs<T>(path: &CStr, buf: *mut T) -> Res {
    call!(libc::SYS_statfs, p(path), buf)
}

pub(super) fn mkdir(path: &CStr, mode: libc::mode_t) -> Res {
    call!(libc::SYS_mkdirat, libc::AT_FDCWD, p(path), mode)
}

pub(super) fn mknod(path: &CStr, mode: libc::mode_t, dev: libc::dev_t) -> Res {
    call!(libc::SYS_mknodat, libc::AT_FDCWD, p(path), mode, dev)
}

pub(super) fn chown(path: &CStr, uid: libc::uid_t, gid: libc::gid_t) -> Res {
    call!(libc::SYS_fchownat, libc::AT_FDCWD, p(path), uid, gid, 0)
}

pub(super) fn symlink(target: &CStr, link: &CStr) -> Res {
    call!(libc::SYS_symlinkat, p(target), libc::AT_FDCWD, p(link))
}

pub(super) fn chdir(path: &CStr) -> Res {
    call!(libc::SYS_chdir, p(path))
}

pub(super) fn chroot(path: &CStr) -> Res {
    call!(libc::SYS_chroot, p(path))
}

pub(super) fn pivot_root(new_root: &CStr, put_old: &CStr) -> Res {
    call!(libc::SYS_pivot_root, p(new_root), p(put_old))
}

pub(super) fn sethostname(name: &CStr, len: usize) -> Res {
    call!(libc::SYS_sethostname, p(name), len)
}

pub(super) fn setdomainname(name: &CStr, len: usize) -> Res {
    call!(libc::SYS_setdomainname, p(name), len)
}

pub(super) fn socket(domain: i32, ty: i32, proto: i32) -> Result<i32, i32> {
    call!(libc::SYS_socket, domain, ty, proto).map(|fd| fd as i32)
}

pub(super) fn ioctl<T>(fd: i32, req: c_ulong, arg: *const T) -> Res {
    call!(libc::SYS_ioctl, fd, req, arg)
}

pub(super) fn prctl(option: i32, a2: c_ulong, a3: c_ulong) -> Res {
    call!(libc::SYS_prctl, option, a2, a3, 0, 0)
}

pub(super) fn setgroups(gids: &[libc::gid_t]) -> Res {
    call!(libc::SYS_setgroups, gids.len(), gids.as_ptr())
}

pub(super) fn setresgid(gid: libc::gid_t) -> Res {
    call!(libc::SYS_setresgid, gid, gid, gid)
}

pub(super) fn setresuid(uid: libc::uid_t) -> Res {
    call!(libc::SYS_setresuid, uid, uid, uid)
}

pub(super) fn capset<H, D>(hdr: &H, data: &D) -> Res {
    call!(libc::SYS_capset, hdr as *const H, data as *const D)
}

pub(super) fn seccomp_filter(flags: c_uint, prog: &libc::sock_fprog) -> Res {
    const SECCOMP_SET_MODE_FILTER: c_uint = 1;
    call!(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog as *const libc::sock_fprog)
}

pub(super) fn stat(path: &CStr, st: *mut libc::stat) -> Res {
    call!(libc::SYS_newfstatat, libc::AT_FDCWD, p(path), st, 0)
}

pub(super) fn access(path: &CStr, mode: i32) -> Res {
    call!(libc::SYS_faccessat, libc::AT_FDCWD, p(path), mode)
}

pub(super) fn close_range(first: c_uint, last: c_uint) -> Res {
    call!(libc::SYS_close_range, first, last, 0)
}

/// The kernel's `struct sigaction` (what rt_sigaction takes, not libc's).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: c_ulong,
    restorer: usize,
    mask: u64,
}

/// Sets `sig`'s disposition to SIG_DFL.
pub(super) fn default_signal(sig: i32) -> Res {
    let sa = KernelSigaction { handler: 0, flags: 0, restorer: 0, mask: 0 };
    call!(libc::SYS_rt_sigaction, sig, &sa as *const KernelSigaction, 0, 8)
}

/// Unblocks every signal.
pub(super) fn unblock_all_signals() -> Res {
    let empty: u64 = 0;
    call!(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &empty as *const u64, 0, 8)
}

pub(super) fn execve(path: &CStr, argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> Res {
    call!(libc::SYS_execve, p(path), argv, envp)
}
