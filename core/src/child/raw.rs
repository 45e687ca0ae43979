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

use libc::{c_long, c_uint, c_ulong};

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

/// The kernel's `struct open_how` (openat2(2)).
#[repr(C)]
pub(super) struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

pub(super) const RESOLVE_NO_XDEV: u64 = 0x01;
pub(super) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub(super) const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub(super) const RESOLVE_BENEATH: u64 = 0x08;
pub(super) const RESOLVE_IN_ROOT: u64 = 0x10;

pub(super) fn openat2(dirfd: i32, path: &CStr, how: &OpenHow) -> Result<i32, i32> {
    call!(libc::SYS_openat2, dirfd, p(path), how as *const OpenHow, std::mem::size_of::<OpenHow>()).map(|fd| fd as i32)
}

pub(super) fn dupfd_cloexec(fd: i32, min: i32) -> Result<i32, i32> {
    call!(libc::SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, min).map(|fd| fd as i32)
}

/// The fd's flags (F_GETFD).
pub(super) fn get_fd_flags(fd: i32) -> Result<i32, i32> {
    call!(libc::SYS_fcntl, fd, libc::F_GETFD).map(|f| f as i32)
}

/// Sets or clears FD_CLOEXEC.
pub(super) fn set_cloexec(fd: i32, on: bool) -> Res {
    call!(libc::SYS_fcntl, fd, libc::F_SETFD, if on { libc::FD_CLOEXEC } else { 0 })
}

pub(super) fn dup3(old: i32, new: i32) -> Res {
    call!(libc::SYS_dup3, old, new, 0)
}

pub(crate) fn setns(fd: i32, nstype: i32) -> Res {
    call!(libc::SYS_setns, fd, nstype)
}

/// fork(2) as clone(2) with CLONE_PARENT: the new process is a child of our parent (the runtime,
/// which can wait for it), on a copy of this address space, going on from here (0 in it; its pid
/// here). Only on a child with its own address space (never on the CLONE_VM path).
pub(super) fn fork_sibling() -> Res {
    call!(libc::SYS_clone, libc::CLONE_PARENT | libc::SIGCHLD, 0, 0, 0, 0)
}

pub(super) fn unshare(flags: i32) -> Res {
    call!(libc::SYS_unshare, flags)
}

pub(super) fn setsid() -> Res {
    call!(libc::SYS_setsid)
}

pub(super) fn umask(mask: libc::mode_t) {
    let _ = call!(libc::SYS_umask, mask);
}

/// mount(2). `data` is the filesystem's option string, if any.
pub(super) fn mount(source: Option<&CStr>, target: &CStr, fstype: Option<&CStr>, flags: c_ulong, data: Option<&CStr>) -> Res {
    call!(libc::SYS_mount, opt(source), p(target), opt(fstype), flags, opt(data))
}

/// The kernel's `struct mount_attr` (mount_setattr(2)).
#[repr(C)]
pub(super) struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` refers to (AT_EMPTY_PATH), recursively when asked.
pub(super) fn mount_setattr(fd: i32, recursive: bool, attr: &MountAttr) -> Res {
    const AT_RECURSIVE: usize = 0x8000;
    let flags = libc::AT_EMPTY_PATH as usize | if recursive { AT_RECURSIVE } else { 0 };
    call!(libc::SYS_mount_setattr, fd, p(c""), flags, attr as *const MountAttr, std::mem::size_of::<MountAttr>())
}

/// open_tree(2) of `path` (a host path) as a detached copy (OPEN_TREE_CLONE), recursive when asked.
pub(super) fn open_tree_clone(path: &CStr, recursive: bool) -> Result<i32, i32> {
    const OPEN_TREE_CLONE: usize = 1;
    const AT_RECURSIVE: usize = 0x8000;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as usize | if recursive { AT_RECURSIVE } else { 0 };
    call!(libc::SYS_open_tree, libc::AT_FDCWD, p(path), flags).map(|fd| fd as i32)
}

/// open_tree(2) of what `fd` refers to, as a detached recursive copy.
pub(super) fn open_tree_clone_fd(fd: i32) -> Result<i32, i32> {
    const OPEN_TREE_CLONE: usize = 1;
    const AT_RECURSIVE: usize = 0x8000;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as usize | AT_RECURSIVE | libc::AT_EMPTY_PATH as usize;
    call!(libc::SYS_open_tree, fd, p(c""), flags).map(|fd| fd as i32)
}

/// move_mount(2) of the detached tree `from` onto what `to` refers to.
pub(super) fn move_mount_fds(from: i32, to: i32) -> Res {
    const MOVE_MOUNT_F_EMPTY_PATH: usize = 0x4;
    const MOVE_MOUNT_T_EMPTY_PATH: usize = 0x40;
    call!(libc::SYS_move_mount, from, p(c""), to, p(c""), MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
}

pub(super) fn umount2(target: &CStr, flags: i32) -> Res {
    call!(libc::SYS_umount2, p(target), flags)
}

/// The kernel's `struct statfs` (64-bit): libc's hides `f_flags`.
#[repr(C)]
pub(super) struct KernelStatfs {
    pub f_type: libc::c_long,
    pub f_bsize: libc::c_long,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_fsid: [libc::c_int; 2],
    pub f_namelen: libc::c_long,
    pub f_frsize: libc::c_long,
    pub f_flags: libc::c_long,
    pub f_spare: [libc::c_long; 4],
}

/// fstatfs(2): the mount flags of the filesystem `fd` is on.
pub(super) fn fstatfs(fd: i32) -> Result<KernelStatfs, i32> {
    // Uninitialized, not zeroed: zeroing may become a call to libc's memset (nothing of libc in
    // the child); the kernel fills the whole struct.
    let mut st = std::mem::MaybeUninit::<KernelStatfs>::uninit();
    call!(libc::SYS_fstatfs, fd, st.as_mut_ptr())?;
    // SAFETY: fstatfs succeeded and wrote the struct.
    Ok(unsafe { st.assume_init() })
}

pub(super) fn mkdirat(dirfd: i32, path: &CStr, mode: libc::mode_t) -> Res {
    call!(libc::SYS_mkdirat, dirfd, p(path), mode)
}

/// mknodat(2): never follows a symlink at `path` (EEXIST).
pub(super) fn mknodat(dirfd: i32, path: &CStr, mode: libc::mode_t, dev: libc::dev_t) -> Res {
    call!(libc::SYS_mknodat, dirfd, p(path), mode, dev)
}

/// fchownat(2) without following a symlink at `path`.
pub(super) fn lchownat(dirfd: i32, path: &CStr, uid: libc::uid_t, gid: libc::gid_t) -> Res {
    call!(libc::SYS_fchownat, dirfd, p(path), uid, gid, libc::AT_SYMLINK_NOFOLLOW)
}

pub(super) fn symlinkat(target: &CStr, dirfd: i32, link: &CStr) -> Res {
    call!(libc::SYS_symlinkat, p(target), dirfd, p(link))
}

pub(super) fn chdir(path: &CStr) -> Res {
    call!(libc::SYS_chdir, p(path))
}

pub(super) fn fchdir(fd: i32) -> Res {
    call!(libc::SYS_fchdir, fd)
}

/// getcwd(2) into `buf`: the length written, NUL included. The kernel prefixes the path with
/// "(unreachable)" when the cwd is outside the process's root.
pub(super) fn getcwd(buf: &mut [u8]) -> Res {
    call!(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len())
}

pub(super) fn chroot(path: &CStr) -> Res {
    call!(libc::SYS_chroot, p(path))
}

pub(super) fn pivot_root(new_root: &CStr, put_old: &CStr) -> Res {
    call!(libc::SYS_pivot_root, p(new_root), p(put_old))
}

pub(super) fn sethostname(name: &CStr) -> Res {
    call!(libc::SYS_sethostname, p(name), name.to_bytes().len())
}

pub(super) fn setdomainname(name: &CStr) -> Res {
    call!(libc::SYS_setdomainname, p(name), name.to_bytes().len())
}

pub(super) fn socket(domain: i32, ty: i32, proto: i32) -> Result<i32, i32> {
    call!(libc::SYS_socket, domain, ty, proto).map(|fd| fd as i32)
}

/// TIOCSCTTY: makes the terminal `fd` the controlling terminal of this session.
pub(super) fn set_controlling_tty(fd: i32) -> Res {
    call!(libc::SYS_ioctl, fd, libc::TIOCSCTTY, 0)
}

/// TIOCGPTPEER: opens the slave of the pty master `fd` (no path lookup) with `flags`.
pub(super) fn pty_peer(fd: i32, flags: i32) -> Result<i32, i32> {
    call!(libc::SYS_ioctl, fd, libc::TIOCGPTPEER, flags).map(|fd| fd as i32)
}

/// TIOCGPTN: the number of the pty whose master is `fd` (fails on anything but a pty master).
pub(super) fn pty_number(fd: i32) -> Result<libc::c_uint, i32> {
    let mut n: libc::c_uint = 0;
    call!(libc::SYS_ioctl, fd, libc::TIOCGPTN, &mut n as *mut libc::c_uint)?;
    Ok(n)
}

/// TIOCSPTLCK 0: unlocks the slave of the pty master `fd`.
pub(super) fn pty_unlock(fd: i32) -> Res {
    let unlock: libc::c_int = 0;
    call!(libc::SYS_ioctl, fd, libc::TIOCSPTLCK, &unlock as *const libc::c_int)
}

/// TIOCSWINSZ: sets the terminal's size.
pub(super) fn set_winsize(fd: i32, ws: &libc::winsize) -> Res {
    call!(libc::SYS_ioctl, fd, libc::TIOCSWINSZ, ws as *const libc::winsize)
}

pub(super) fn fchown(fd: i32, uid: libc::uid_t, gid: libc::gid_t) -> Res {
    call!(libc::SYS_fchown, fd, uid, gid)
}

/// sendmsg(2) of `data` with one fd (SCM_RIGHTS), without SIGPIPE.
pub(super) fn send_fd(sock: i32, data: &[u8], fd: i32) -> Result<(), i32> {
    #[repr(C)]
    struct Cmsg {
        hdr: libc::cmsghdr,
        fd: i32,
        pad: i32,
    }
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    let mut cmsg = Cmsg {
        hdr: libc::cmsghdr {
            cmsg_len: std::mem::size_of::<libc::cmsghdr>() + std::mem::size_of::<i32>(),
            cmsg_level: libc::SOL_SOCKET,
            cmsg_type: libc::SCM_RIGHTS,
        },
        fd,
        pad: 0,
    };
    let msg = libc::msghdr {
        msg_name: std::ptr::null_mut(),
        msg_namelen: 0,
        msg_iov: &mut iov,
        msg_iovlen: 1,
        msg_control: &mut cmsg as *mut Cmsg as *mut libc::c_void,
        msg_controllen: std::mem::size_of::<Cmsg>(),
        msg_flags: 0,
    };
    call!(libc::SYS_sendmsg, sock, &msg as *const libc::msghdr, libc::MSG_NOSIGNAL).map(|_| ())
}

/// ioctl(SIOCSIFFLAGS) with a prepared `ifreq`.
pub(super) fn set_if_flags(fd: i32, ifreq: &libc::ifreq) -> Res {
    call!(libc::SYS_ioctl, fd, libc::SIOCSIFFLAGS, ifreq as *const libc::ifreq)
}

/// prctl(2) of an option whose arguments are integers (the only ones allowed: an option that
/// takes an address would let a caller pass any integer as one).
pub(super) fn prctl(option: i32, a2: c_ulong, a3: c_ulong) -> Res {
    const INTEGER_ONLY: [i32; 5] = [libc::PR_SET_DUMPABLE, libc::PR_CAPBSET_DROP, libc::PR_SET_KEEPCAPS, libc::PR_CAP_AMBIENT, libc::PR_SET_NO_NEW_PRIVS];
    if !INTEGER_ONLY.contains(&option) {
        return Err(libc::EINVAL);
    }
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

/// capset(2) of this thread's effective, permitted and inheritable sets (bit N: capability N;
/// version 3 of the interface: two 32-bit halves).
pub(super) fn capset(effective: u64, permitted: u64, inheritable: u64) -> Res {
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
    let data = [0, 1].map(|i| Data { effective: split(effective, i), permitted: split(permitted, i), inheritable: split(inheritable, i) });
    call!(libc::SYS_capset, &hdr as *const Header, data.as_ptr())
}

/// seccomp(SECCOMP_SET_MODE_FILTER) of the classic BPF program `filter`; with
/// SECCOMP_FILTER_FLAG_NEW_LISTENER in `flags` it returns the listener fd.
pub(super) fn seccomp_filter(flags: c_uint, filter: &[libc::sock_filter]) -> Res {
    const SECCOMP_SET_MODE_FILTER: c_uint = 1;
    let len = libc::c_ushort::try_from(filter.len()).map_err(|_| libc::EINVAL)?;
    let prog = libc::sock_fprog { len, filter: filter.as_ptr() as *mut libc::sock_filter };
    call!(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog as *const libc::sock_fprog)
}

/// What the child needs of a stat: the mode (type and permissions), the device number of a
/// device node, and the identity (device and inode) of the file.
#[derive(Clone, Copy)]
pub(super) struct Stat {
    pub mode: libc::mode_t,
    pub rdev: libc::dev_t,
    pub dev: libc::dev_t,
    pub ino: libc::ino_t,
}

/// newfstatat(2) of `path` under `dirfd` (AT_SYMLINK_NOFOLLOW when asked; an empty `path` with
/// AT_EMPTY_PATH for `dirfd` itself).
pub(super) fn fstatat(dirfd: i32, path: &CStr, flags: i32) -> Result<Stat, i32> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    call!(libc::SYS_newfstatat, dirfd, p(path), st.as_mut_ptr(), flags)?;
    // SAFETY: newfstatat succeeded and wrote the struct.
    let st = unsafe { st.assume_init() };
    Ok(Stat { mode: st.st_mode, rdev: st.st_rdev, dev: st.st_dev, ino: st.st_ino })
}

/// readlinkat(2) of the symlink `fd` refers to (an O_PATH|O_NOFOLLOW fd, empty path): the length
/// of its target text in `buf`.
pub(super) fn readlink_fd(fd: i32, buf: &mut [u8]) -> Res {
    call!(libc::SYS_readlinkat, fd, p(c""), buf.as_mut_ptr(), buf.len())
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

/// execve(2).
///
/// # Safety
/// As [`execveat_fd`].
pub(super) unsafe fn execve(path: &CStr, argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> Res {
    call!(libc::SYS_execve, p(path), argv, envp)
}

/// execveat(2) of the file `fd` refers to (AT_EMPTY_PATH), with NULL-terminated `argv` and `envp`.
///
/// # Safety
/// `argv` and `envp` must point to NULL-terminated arrays of pointers to NUL-terminated strings
/// that stay valid for the call.
pub(super) unsafe fn execveat_fd(fd: i32, argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> Res {
    call!(libc::SYS_execveat, fd, p(c""), argv, envp, libc::AT_EMPTY_PATH)
}

/// The child rule, checked on the source: the code that runs in the child (child.rs and
/// child/resolve.rs, up to their tests) calls the kernel only through this file's wrappers. No
/// libc or nix function (glibc's wrappers take locks a clone of a threaded parent may find
/// held, and may allocate), no std::fs, std::process, std::thread or std::env, and `unsafe` only
/// where the list below says why.
#[cfg(test)]
mod child_rule {
    /// The non-test part of a source file: up to its test module (a `#[cfg(test)]` on anything
    /// else does not end the code that is checked).
    fn code(src: &str) -> &str {
        src.find("#[cfg(test)]\nmod ").map_or(src, |i| &src[..i])
    }

    /// `unsafe` uses allowed in the child's files, each by the text of its line.
    const ALLOWED_UNSAFE: &[&str] = &[
        "let bytes = unsafe { std::slice::from_raw_parts(&r as *const Report as *const u8, std::mem::size_of::<Report>()) };",
        "pub(crate) unsafe fn run(plan: &Plan, report_fd: i32, parent_ends: [i32; 2]) -> ! {",
        "unsafe { CStr::from_bytes_with_nul_unchecked(&buf[..=n]) }",
        "match unsafe { raw::execveat_fd(*fd, argv.as_ptr(), plan.envp_ptrs.as_ptr()) } {",
        "unsafe { raw::execve(fd_path(*fd, &mut buf), argv.as_ptr(), plan.envp_ptrs.as_ptr()) }?;",
        "let cname = unsafe { CStr::from_bytes_with_nul_unchecked(&name[..=len]) };",
    ];

    /// libc functions that are plain computations, not calls into glibc's system call wrappers.
    const PURE_LIBC: &[&str] = &["makedev", "major", "minor"];

    /// What breaks the rule in `src` (the text of `file`), one message per finding.
    fn violations(file: &str, src: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (n, line) in code(src).lines().enumerate() {
            let t = line.trim();
            if t.starts_with("//") {
                continue;
            }
            let at = format!("{file}:{}: {t}", n + 1);
            // Host APIs, the parent's own wrappers (crate::sys uses nix and libc), imports that
            // would hide a libc call, and what allocates.
            for banned in [
                "nix::",
                "std::fs",
                "std::process",
                "std::thread",
                "std::env",
                "Command::new",
                "sys::",
                "use libc::",
                "format!",
                "vec!",
                ".to_string()",
                "String::",
                "Vec::new",
                "Box::new",
                ".to_vec()",
                ".collect",
                "println!",
                "eprintln!",
            ] {
                if t.contains(banned) {
                    found.push(format!("{banned} in the child's code: {at}"));
                }
            }
            let mut rest = t;
            while let Some(i) = rest.find("libc::") {
                rest = &rest[i + 6..];
                let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let called = rest[name.len()..].starts_with('(');
                let is_fn = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
                if called && is_fn && !PURE_LIBC.contains(&name.as_str()) {
                    found.push(format!("libc::{name}() called in the child's code (use a raw:: wrapper): {at}"));
                }
            }
            if t.contains("unsafe") && !ALLOWED_UNSAFE.iter().any(|a| t.contains(a)) {
                found.push(format!("unsafe in the child's code that the child rule does not list: {at}"));
            }
        }
        found
    }

    #[test]
    fn the_child_calls_the_kernel_only_through_raw() {
        let mut found = violations("child.rs", include_str!("../child.rs"));
        found.extend(violations("child/resolve.rs", include_str!("resolve.rs")));
        assert!(found.is_empty(), "the child rule (DESIGN.md) is broken:\n{}", found.join("\n"));
    }

    #[test]
    fn the_check_sees_each_kind_of_violation() {
        let bad = "fn f() {\n    let fd = unsafe { libc::open(p, 0) };\n    let _ = std::fs::read(\"x\");\n    nix::unistd::close(3);\n    let d = libc::makedev(1, 3);\n    let m = format!(\"{d}\");\n}\n#[cfg(test)]\nfn helper() {}\nfn g() { crate::sys::pipe_cloexec(); }\n#[cfg(test)]\nmod tests { fn t() { std::fs::read(\"ok in tests\"); } }\n";
        let found = violations("bad.rs", bad);
        assert_eq!(found.len(), 6, "{found:#?}");
        assert!(found.iter().any(|f| f.contains("libc::open()")) && found.iter().any(|f| f.contains("unsafe in")), "{found:#?}");
    }
}
