//! The child between clone and execve: it walks the Plan's steps with raw system calls on data the
//! parent prepared. No allocation, no formatting, no locks, no panics (DESIGN.md, "The child"),
//! and no libc wrappers (child/raw.rs): with CLONE_VM the child runs on its parent's memory, so
//! it writes nothing but its own stack.
//! A failure is sent to the parent as a fixed-size record (step index, errno) on the report pipe.
//! The last step execs the exec stub (child/stub.rs), which reports READY and waits for `start`.

use std::ffi::CStr;

use crate::plan::{Create, InRoot, Op, Plan};

/// The record the child (or the exec stub) writes on the report pipe.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Report {
    pub step: u32,
    pub errno: i32,
}

/// `step` value meaning "setup done, waiting for start" (written by the exec stub).
pub(crate) const READY: u32 = u32::MAX;
/// `step` value a CLONE_VM child sends first: "I exist" (its pid and pidfd are in the parent's
/// memory by then; spawn/vm.rs).
pub(crate) const HELLO: u32 = u32::MAX - 1;
/// `step` value the CLONE_VM helper thread sends once the child has exec'd or exited (its
/// clone3 with CLONE_VFORK returned): it no longer runs on the parent's memory.
pub(crate) const CHILD_LEFT: u32 = u32::MAX - 2;
/// `step` value the helper thread sends when it could not clone (errno: why).
pub(crate) const CLONE_FAILED: u32 = u32::MAX - 3;
/// `step` value the child sends at the hooks' sync point (before pivot_root): the runtime runs
/// the prestart, createRuntime and createContainer hooks, then says go again.
pub(crate) const HOOKS: u32 = u32::MAX - 8;
/// `step` value the child sends once it loaded a seccomp filter with a listener; `errno` is the
/// listener fd's number in the child: the runtime takes it (pidfd_getfd), sends it to the
/// profile's listenerPath, then says go again.
pub(crate) const SECCOMP_LISTENER: u32 = u32::MAX - 9;
/// `step` value of an ordinary user's exec (Op::JoinUserPidFork): `errno` is the pid of the new
/// process that goes on with the plan inside the container's pid namespace; the sender exits.
pub(crate) const FORKED: u32 = u32::MAX - 10;
/// Exit code of a child that failed during setup (after reporting).
const SETUP_FAILED: i32 = 127;

pub(crate) mod raw;
mod resolve;
pub(crate) mod stub;

type StepResult = Result<(), i32>;

#[inline]
fn ok(r: raw::Res) -> StepResult {
    r.map(|_| ())
}

#[inline]
fn exists_ok(r: raw::Res) -> StepResult {
    match r {
        Err(libc::EEXIST) => Ok(()),
        r => ok(r),
    }
}

pub(crate) fn write_report(fd: i32, step: u32, errno: i32) {
    let r = Report { step, errno };
    // SAFETY: Report is plain data; viewing it as bytes for the write.
    let bytes = unsafe { std::slice::from_raw_parts(&r as *const Report as *const u8, std::mem::size_of::<Report>()) };
    let _ = raw::write(fd, bytes);
}

/// Waits for the runtime's go byte on `go_fd` (closed after unless `keep`: a later sync point
/// needs it). The runtime gone (it killed us after a failure, or died): exit.
fn await_go(go_fd: i32, keep: bool) -> StepResult {
    let mut b = [0u8; 1];
    loop {
        match raw::read(go_fd, &mut b) {
            Ok(1) => {
                if !keep {
                    raw::close(go_fd);
                }
                return Ok(());
            }
            Ok(_) => raw::exit(SETUP_FAILED),
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Resets every signal disposition to default (a host's handlers must not run in the child).
fn reset_signals() {
    // 1..=64: every signal number Linux has on the architectures we build for.
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            let _ = raw::default_signal(sig);
        }
    }
}

/// statfs f_type of procfs.
const PROC_SUPER_MAGIC: libc::c_long = 0x9fa0;

/// What the child keeps between steps, on its own stack.
struct Ctx {
    /// O_PATH fd of the root filesystem (from OpenRoot until pivot_root), or -1.
    root: i32,
    /// O_PATH fd of the container's /dev/null (from OpenDevNull until pivot_root), or -1.
    devnull: i32,
    /// The exec candidate FindExec chose.
    chosen: usize,
    /// Whether openat2 is there (cleared at its first ENOSYS: old kernels, valgrind).
    openat2: bool,
    /// The pty slave (from Console until ConsoleStdio), or -1.
    console: i32,
}

/// Runs the plan; never returns. `report_fd` is the child's end of the report pipe;
/// `parent_ends` are the parent's ends of the pipes, closed first.
///
/// # Safety
/// Must only be called in the child right after clone3, with a Plan built by the parent that
/// stays valid until the child has exec'd or exited.
pub(crate) unsafe fn run(plan: &Plan, report_fd: i32, parent_ends: [i32; 2]) -> ! {
    for fd in parent_ends {
        raw::close(fd);
    }
    // An ordinary user's child stays dumpable until the runtime has written its id maps: its
    // /proc files must be the user's for the parent (or newuidmap) to write them. It runs on a
    // copy of the host's memory there (never CLONE_VM), which that user can read anyway.
    let user_maps_pending = plan.map_writer != crate::rootless::MapWriter::Direct;
    if !user_maps_pending {
        let _ = raw::prctl(libc::PR_SET_DUMPABLE, 0, 0);
    }
    reset_signals();
    let mut ctx = Ctx { root: -1, devnull: -1, chosen: 0, openat2: true, console: -1 };
    for (i, step) in plan.steps.iter().enumerate() {
        if let Err(e) = exec_step(plan, &step.op, &mut ctx) {
            write_report(report_fd, i as u32, e);
            raw::exit(SETUP_FAILED);
        }
        if changes_credentials(&step.op) || (user_maps_pending && matches!(step.op, Op::WaitParent { .. })) {
            // A credential change resets the dumpable flag to fs.suid_dumpable (commit_creds):
            // with suid_dumpable=1 the init (and, with CLONE_VM, the host) would be dumpable again.
            let _ = raw::prctl(libc::PR_SET_DUMPABLE, 0, 0);
        }
    }
    raw::exit(SETUP_FAILED)
}

fn changes_credentials(op: &Op) -> bool {
    match op {
        Op::SetNs { nstype, .. } => *nstype == libc::CLONE_NEWUSER || *nstype == 0,
        Op::JoinUserPidFork { .. } => true,
        Op::Unshare { flags } => flags & libc::CLONE_NEWUSER != 0,
        Op::SetGroups { .. } | Op::SetGid { .. } | Op::SetUid { .. } | Op::Caps { .. } => true,
        _ => false,
    }
}

/// `/proc/self/fd/<fd>` in `buf`: how mount(2) reaches what an fd refers to. Used before
/// pivot_root, where /proc is the host's procfs, in which the child sees itself (and after it
/// only once /proc is known to be the container's procfs).
fn fd_path(fd: i32, buf: &mut [u8; 32]) -> &CStr {
    const PREFIX: &[u8; 14] = b"/proc/self/fd/";
    let mut n = 0;
    while n < PREFIX.len() {
        buf[n] = PREFIX[n];
        n += 1;
    }
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut v = fd.max(0) as u32;
    loop {
        digits[len] = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while len > 0 {
        len -= 1;
        buf[n] = digits[len];
        n += 1;
    }
    buf[n] = 0;
    // SAFETY: buf[..=n] holds the prefix and digits (no NUL) followed by one NUL.
    unsafe { CStr::from_bytes_with_nul_unchecked(&buf[..=n]) }
}

/// `path` (`dest`'s) opened from the root, confined to it (resolve.rs).
fn open_in_root(ctx: &mut Ctx, dest: &InRoot, path: &CStr, flags: i32) -> Result<i32, i32> {
    resolve::open_in_root(ctx.root, path, flags, dest.no_symlinks, &mut ctx.openat2)
}

fn close_unless(fd: i32, keep: i32) {
    if fd >= 0 && fd != keep {
        raw::close(fd);
    }
}

/// An O_PATH fd on `dest`, resolved inside the root now; what is missing is created first as
/// `create` says (resolve.rs: relative to each resolved parent's fd, symlinks followed as text
/// inside the root).
fn resolve(ctx: &mut Ctx, dest: &InRoot, create: Create) -> Result<i32, i32> {
    match open_in_root(ctx, dest, &dest.path, libc::O_PATH) {
        Err(libc::ENOENT) if create != Create::No => {}
        r => return r,
    }
    // Most often only the last component is missing: make it in its resolved parent.
    if let Some((parent, name)) = &dest.parent {
        if let Ok(dir) = open_in_root(ctx, dest, parent, libc::O_PATH | libc::O_DIRECTORY) {
            let made = resolve::make(dir, name, create == Create::File);
            raw::close(dir);
            if made.is_ok() {
                if let Ok(fd) = open_in_root(ctx, dest, &dest.path, libc::O_PATH) {
                    return Ok(fd);
                }
            }
        }
    }
    // Else (missing directories above it, a dangling symlink): the walk that creates as it goes.
    resolve::create_in_root(ctx.root, &dest.path, dest.no_symlinks, create)
}

/// mount(2) onto what `fd` refers to.
/// `mode=NNNN` (octal), then `,data` when there is data, NUL-terminated in `buf` (which holds
/// 16 bytes more than any data the plan lets through).
fn tmpfs_mode_data<'a>(buf: &'a mut [u8], mode: libc::mode_t, data: Option<&CStr>) -> &'a CStr {
    let head = b"mode=";
    let mut n = 0;
    while n < head.len() {
        buf[n] = head[n];
        n += 1;
    }
    let mut shift = 9i32;
    while shift >= 0 {
        buf[n] = b'0' + ((mode >> shift) & 7) as u8;
        n += 1;
        shift -= 3;
    }
    if let Some(d) = data {
        let bytes = d.to_bytes();
        if n + 1 + bytes.len() < buf.len() {
            buf[n] = b',';
            n += 1;
            let mut i = 0;
            while i < bytes.len() {
                buf[n] = bytes[i];
                n += 1;
                i += 1;
            }
        }
    }
    buf[n] = 0;
    // SAFETY: buf[..=n] ends with the only NUL written: mode digits and data (a CStr) have none.
    unsafe { CStr::from_bytes_with_nul_unchecked(&buf[..=n]) }
}

fn mount_on(source: Option<&CStr>, fd: i32, fstype: Option<&CStr>, flags: libc::c_ulong, data: Option<&CStr>) -> raw::Res {
    let mut buf = [0u8; 32];
    raw::mount(source, fd_path(fd, &mut buf), fstype, flags, data)
}

/// A bind remount of the mount at `fd` with `flags`; on EPERM (a mount from another user
/// namespace) again with the flags the kernel locks on it added.
fn bind_remount(fd: i32, flags: libc::c_ulong) -> StepResult {
    let base = libc::MS_REMOUNT | libc::MS_BIND;
    match mount_on(None, fd, None, base | flags, None) {
        Ok(_) => return Ok(()),
        Err(libc::EPERM) => {}
        Err(e) => return Err(e),
    }
    let st = raw::fstatfs(fd)?;
    let locked = st.f_flags as libc::c_ulong
        & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY | libc::MS_NOATIME | libc::MS_NODIRATIME | libc::MS_RELATIME);
    ok(mount_on(None, fd, None, base | flags | locked, None))
}

/// mount_setattr on a detached tree: `attrs` (set, clear); on EPERM (an attribute the kernel
/// locks on a mount from another user namespace) again without clearing anything.
fn set_attrs(tree: i32, recursive: bool, attrs: (u64, u64)) -> StepResult {
    if attrs == (0, 0) {
        return Ok(());
    }
    let attr = raw::MountAttr { attr_set: attrs.0, attr_clr: attrs.1, propagation: 0, userns_fd: 0 };
    match raw::mount_setattr(tree, recursive, &attr) {
        Err(libc::EPERM) if attrs.1 != 0 => {
            let attr = raw::MountAttr { attr_set: attrs.0, attr_clr: 0, propagation: 0, userns_fd: 0 };
            ok(raw::mount_setattr(tree, recursive, &attr))
        }
        r => ok(r),
    }
}

/// (st_dev, st_ino) of what `fd` refers to.
fn identity(fd: i32) -> Result<(libc::dev_t, libc::ino_t), i32> {
    let st = raw::fstatat(fd, c"", libc::AT_EMPTY_PATH)?;
    Ok((st.dev, st.ino))
}

/// The bind mount of [`Op::Bind`] onto `target` (an fd from resolving `dest`).
fn bind(ctx: &mut Ctx, source: &CStr, dest: &InRoot, target: i32, recursive: bool, top: (u64, u64), rec: (u64, u64)) -> StepResult {
    match raw::open_tree_clone(source, recursive) {
        Ok(tree) => {
            let r = set_attrs(tree, true, rec).and_then(|()| set_attrs(tree, false, top)).and_then(|()| ok(raw::move_mount_fds(tree, target)));
            raw::close(tree);
            r
        }
        // Before Linux 5.2 (or under valgrind): mount(2), then what must be set on the new mount
        // through `dest` resolved again, which must be the source's directory (not something a
        // neighbour put there in between).
        Err(libc::ENOSYS) => {
            let src = raw::openat(libc::AT_FDCWD, source, libc::O_PATH | libc::O_CLOEXEC, 0)?;
            let want = identity(src);
            raw::close(src);
            let want = want?;
            let flags = if recursive { libc::MS_BIND | libc::MS_REC } else { libc::MS_BIND };
            mount_on(Some(source), target, None, flags, None)?;
            if top == (0, 0) && rec == (0, 0) {
                return Ok(());
            }
            let top_fd = resolve(ctx, dest, Create::No)?;
            let r = match identity(top_fd) {
                Ok(id) if id == want => set_attrs(top_fd, true, rec).and_then(|()| bind_remount(top_fd, ms_flags(top.0))),
                Ok(_) => Err(libc::EXDEV),
                Err(e) => Err(e),
            };
            raw::close(top_fd);
            r
        }
        Err(e) => Err(e),
    }
}

/// MS_* flags of a bind remount from MOUNT_ATTR_* to set (the fallback without mount_setattr).
fn ms_flags(attrs: u64) -> libc::c_ulong {
    let mut f = 0;
    use crate::rootfs::mount_attr::*;
    for (attr, ms) in [
        (RDONLY, libc::MS_RDONLY),
        (NOSUID, libc::MS_NOSUID),
        (NODEV, libc::MS_NODEV),
        (NOEXEC, libc::MS_NOEXEC),
        (NOATIME, libc::MS_NOATIME),
        (STRICTATIME, libc::MS_STRICTATIME),
        (NODIRATIME, libc::MS_NODIRATIME),
    ] {
        if attrs & attr != 0 {
            f |= ms;
        }
    }
    f
}

/// A read-only path: a read-only, nosuid, nodev, noexec copy of the mounts at `fd` put over
/// them (open_tree of the fd itself: nothing resolved twice); where the kernel locks
/// nosuid/nodev/noexec off, read-only alone.
fn readonly_in_place(ctx: &mut Ctx, path: &InRoot, fd: i32) -> StepResult {
    use crate::rootfs::mount_attr::{NODEV, NOEXEC, NOSUID, RDONLY};
    const ALL: u64 = RDONLY | NOSUID | NODEV | NOEXEC;
    match raw::open_tree_clone_fd(fd) {
        Ok(tree) => {
            let attr = raw::MountAttr { attr_set: ALL, attr_clr: 0, propagation: 0, userns_fd: 0 };
            let r = match raw::mount_setattr(tree, true, &attr) {
                Err(libc::EPERM) => set_attrs(tree, true, (RDONLY, 0)),
                r => ok(r),
            }
            .and_then(|()| ok(raw::move_mount_fds(tree, fd)));
            raw::close(tree);
            r
        }
        Err(libc::ENOSYS) => {
            let want = identity(fd)?;
            let mut src = [0u8; 32];
            mount_on(Some(fd_path(fd, &mut src)), fd, None, libc::MS_BIND | libc::MS_REC, None)?;
            // The bind mount now sits on top: resolve again to reach it, and check it is ours.
            let top = resolve(ctx, path, Create::No)?;
            let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            let r = match identity(top) {
                Ok(id) if id == want => match mount_on(None, top, None, libc::MS_REMOUNT | libc::MS_BIND | flags, None) {
                    Err(libc::EPERM) => ok(mount_on(None, top, None, libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY, None)),
                    r => ok(r),
                },
                Ok(_) => Err(libc::EXDEV),
                Err(e) => Err(e),
            };
            raw::close(top);
            r
        }
        Err(e) => Err(e),
    }
}

fn exec_step(plan: &Plan, op: &Op, ctx: &mut Ctx) -> StepResult {
    // Every pointer handed to the kernel comes from a CString or array owned by `plan`, or from
    // this stack.
    match op {
        Op::WaitParent { fd, keep } => {
            let mut b = [0u8; 1];
            loop {
                match raw::read(*fd, &mut b) {
                    Ok(1) => {
                        if !keep {
                            raw::close(*fd);
                        }
                        return Ok(());
                    }
                    // The parent went away: nothing to report to.
                    Ok(_) => raw::exit(SETUP_FAILED),
                    Err(libc::EINTR) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        Op::HooksSync { report_fd, go_fd, keep } => {
            write_report(*report_fd, HOOKS, 0);
            await_go(*go_fd, *keep)
        }
        Op::JoinCgroup { fd } => {
            let r = raw::write(*fd, b"0");
            raw::close(*fd);
            ok(r)
        }
        Op::SetNs { fd, nstype } => ok(raw::setns(*fd, *nstype)),
        Op::JoinUserPidFork { user_fd, pid_fd, report_fd } => {
            raw::setns(*user_fd, libc::CLONE_NEWUSER)?;
            raw::setns(*pid_fd, libc::CLONE_NEWPID)?;
            match raw::fork_sibling()? {
                // The new process, in the pid namespace: it goes on with the plan.
                0 => Ok(()),
                pid => {
                    write_report(*report_fd, FORKED, pid as i32);
                    raw::exit(0)
                }
            }
        }
        Op::Unshare { flags } => ok(raw::unshare(*flags)),
        Op::Stdio { fds } => {
            let mut tmp = [-1; 3];
            for (i, fd) in fds.iter().enumerate() {
                if *fd >= 0 {
                    tmp[i] = raw::dupfd_cloexec(*fd, 10)?;
                }
            }
            for (i, fd) in tmp.iter().enumerate() {
                if *fd >= 0 {
                    // tmp fds are >= 10, never equal to i (dup3 refuses old == new).
                    raw::dup3(*fd, i as i32)?;
                    raw::close(*fd);
                }
            }
            Ok(())
        }
        Op::NewSession => ok(raw::setsid()),
        Op::CheckStdio { inherited } => {
            for (fd, inherited) in inherited.iter().enumerate() {
                if *inherited && raw::get_fd_flags(fd as i32).is_ok_and(|f| f & libc::FD_CLOEXEC != 0) {
                    raw::close(fd as i32);
                }
            }
            // A directory as stdin, stdout or stderr is a way out of the container (openat on it,
            // /proc/self/fd/N/..), and never what a caller means: refused.
            for fd in 0..3 {
                if let Ok(st) = raw::fstatat(fd, c"", libc::AT_EMPTY_PATH) {
                    if st.mode & libc::S_IFMT == libc::S_IFDIR {
                        return Err(libc::EISDIR);
                    }
                }
            }
            Ok(())
        }
        Op::CloseFrom { first, keep } => {
            // close_range over the gaps between the fds to keep (sorted by the parent).
            let mut from = *first;
            for &k in keep {
                if k < 0 || (k as libc::c_uint) < from {
                    continue;
                }
                if k as libc::c_uint > from {
                    raw::close_range(from, k as libc::c_uint - 1)?;
                }
                from = k as libc::c_uint + 1;
            }
            ok(raw::close_range(from, libc::c_uint::MAX))
        }
        Op::Umask { mask } => {
            raw::umask(*mask);
            Ok(())
        }
        Op::MountPath { source, target, fstype, flags, data } => ok(raw::mount(source.as_deref(), target, fstype.as_deref(), *flags, data.as_deref())),
        Op::OpenRoot { path } => {
            ctx.root = raw::openat(libc::AT_FDCWD, path, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)?;
            Ok(())
        }
        Op::Mount { source, dest, create, fstype, flags, data } => {
            let fd = resolve(ctx, dest, *create)?;
            let r = mount_on(source.as_deref(), fd, fstype.as_deref(), *flags, data.as_deref());
            raw::close(fd);
            ok(r)
        }
        Op::MountTmpfs { source, dest, flags, data } => {
            // "mode=NNNN," + data + NUL, on the stack (the plan bounds data's length).
            let mut buf = [0u8; 16 + crate::rootfs::TMPFS_DATA_MAX];
            let (fd, with_mode) = match resolve(ctx, dest, Create::No) {
                Ok(fd) => match raw::fstatat(fd, c"", libc::AT_EMPTY_PATH) {
                    Ok(st) if st.mode & libc::S_IFMT == libc::S_IFDIR => (fd, Some(st.mode & 0o7777)),
                    Ok(_) => (fd, None), // not a directory: mount(2) will say so
                    Err(e) => {
                        raw::close(fd);
                        return Err(e);
                    }
                },
                Err(libc::ENOENT) => (resolve(ctx, dest, Create::Dir)?, None),
                Err(e) => return Err(e),
            };
            let opts: Option<&CStr> = match with_mode {
                Some(mode) => Some(tmpfs_mode_data(&mut buf, mode, data.as_deref())),
                None => data.as_deref(),
            };
            let r = mount_on(Some(source), fd, Some(c"tmpfs"), *flags, opts);
            raw::close(fd);
            ok(r)
        }
        Op::Bind { source, dest, create, recursive, set, clear, rec_set, rec_clear } => {
            let target = resolve(ctx, dest, *create)?;
            let r = bind(ctx, source, dest, target, *recursive, (*set, *clear), (*rec_set, *rec_clear));
            raw::close(target);
            r
        }
        Op::BindRemount { dest, flags } => {
            let fd = resolve(ctx, dest, Create::No)?;
            let r = bind_remount(fd, *flags);
            raw::close(fd);
            r
        }
        Op::SetAttr { dest, set, clear, recursive } => {
            let fd = resolve(ctx, dest, Create::No)?;
            let attr = raw::MountAttr { attr_set: *set, attr_clr: *clear, propagation: 0, userns_fd: 0 };
            let r = raw::mount_setattr(fd, *recursive, &attr);
            raw::close(fd);
            ok(r)
        }
        Op::Mknod { dir, name, mode, dev } => {
            let d = resolve(ctx, dir, Create::Dir)?;
            let r = match raw::mknodat(d, name, *mode, *dev) {
                // Already there (e.g. in a bind-mounted /dev): only the same device will do,
                // never a symlink or another file standing in for it.
                Err(libc::EEXIST) => match raw::fstatat(d, name, libc::AT_SYMLINK_NOFOLLOW) {
                    Ok(st) if st.mode & libc::S_IFMT == *mode & libc::S_IFMT && st.rdev == *dev => Ok(()),
                    Ok(_) => Err(libc::EEXIST),
                    Err(e) => Err(e),
                },
                r => ok(r),
            };
            raw::close(d);
            r
        }
        Op::Chown { dir, name, uid, gid } => {
            let d = resolve(ctx, dir, Create::No)?;
            let r = raw::lchownat(d, name, *uid, *gid);
            raw::close(d);
            ok(r)
        }
        Op::Symlink { dir, name, target } => {
            let d = resolve(ctx, dir, Create::Dir)?;
            let r = raw::symlinkat(target, d, name);
            raw::close(d);
            exists_ok(r)
        }
        Op::OpenDevNull => {
            let fd = resolve(ctx, &plan.dev_null, Create::No)?;
            match raw::fstatat(fd, c"", libc::AT_EMPTY_PATH) {
                Ok(st) if st.mode & libc::S_IFMT == libc::S_IFCHR && st.rdev == libc::makedev(1, 3) => {
                    ctx.devnull = fd;
                    Ok(())
                }
                Ok(_) => {
                    raw::close(fd);
                    Err(libc::ENODEV)
                }
                Err(e) => {
                    raw::close(fd);
                    Err(e)
                }
            }
        }
        Op::Mask { path } => {
            let fd = match resolve(ctx, path, Create::No) {
                Ok(fd) => fd,
                // Nothing there: nothing to hide.
                Err(libc::ENOENT) => return Ok(()),
                Err(e) => return Err(e),
            };
            if ctx.devnull < 0 {
                raw::close(fd);
                return Err(libc::EBADF);
            }
            let r = match raw::fstatat(fd, c"", libc::AT_EMPTY_PATH) {
                Ok(st) if st.mode & libc::S_IFMT == libc::S_IFDIR => {
                    mount_on(Some(c"tmpfs"), fd, Some(c"tmpfs"), libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, Some(c"size=0,mode=555"))
                }
                Ok(_) => {
                    let mut src = [0u8; 32];
                    mount_on(Some(fd_path(ctx.devnull, &mut src)), fd, None, libc::MS_BIND, None)
                }
                Err(e) => Err(e),
            };
            raw::close(fd);
            ok(r)
        }
        Op::ReadonlyPath { path } => {
            let fd = match resolve(ctx, path, Create::No) {
                Ok(fd) => fd,
                Err(libc::ENOENT) => return Ok(()),
                Err(e) => return Err(e),
            };
            let r = readonly_in_place(ctx, path, fd);
            raw::close(fd);
            r
        }
        Op::WriteSysctl { path, data } => {
            let fd = resolve(ctx, path, Create::No)?;
            let r = match (raw::fstatfs(fd), raw::fstatat(fd, c"", libc::AT_EMPTY_PATH)) {
                (Ok(fs), Ok(st)) if fs.f_type == PROC_SUPER_MAGIC && st.mode & libc::S_IFMT == libc::S_IFREG => {
                    let mut buf = [0u8; 32];
                    raw::openat(libc::AT_FDCWD, fd_path(fd, &mut buf), libc::O_WRONLY | libc::O_TRUNC | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC, 0)
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
                // Not the container's procfs (no /proc mounted, an image's file or device there).
                _ => Err(libc::EXDEV),
            };
            raw::close(fd);
            let file = r?;
            let w = raw::write(file, data);
            raw::close(file);
            ok(w)
        }
        Op::PivotRoot => {
            raw::fchdir(ctx.root)?;
            raw::pivot_root(c".", c".")?;
            raw::umount2(c".", libc::MNT_DETACH)?;
            raw::chdir(c"/")?;
            close_root(ctx);
            Ok(())
        }
        Op::MoveRoot => {
            raw::fchdir(ctx.root)?;
            raw::mount(Some(c"."), c"/", None, libc::MS_MOVE, None)?;
            raw::chroot(c".")?;
            raw::chdir(c"/")?;
            close_root(ctx);
            Ok(())
        }
        // CString::as_bytes knows the length; CStr::to_bytes would call strlen.
        Op::SetHostname { name } => ok(raw::sethostname(name)),
        Op::SetDomainname { name } => ok(raw::setdomainname(name)),
        Op::LoopbackUp { ifreq } => {
            let s = raw::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)?;
            let r = raw::set_if_flags(s, ifreq);
            raw::close(s);
            ok(r)
        }
        Op::DropBounding { keep, last_cap } => {
            for cap in 0..=*last_cap {
                if keep & (1u64 << cap) == 0 {
                    match raw::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0) {
                        Ok(_) | Err(libc::EINVAL) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(())
        }
        Op::KeepCaps { on } => ok(raw::prctl(libc::PR_SET_KEEPCAPS, *on as libc::c_ulong, 0)),
        // Raw syscalls, not glibc's wrappers: those broadcast the change to every thread glibc
        // believes exists (the parent's, copied by clone) and wait for them: a hang here.
        Op::SetGroups { gids } => ok(raw::setgroups(gids)),
        Op::SetGid { gid } => ok(raw::setresgid(*gid)),
        Op::SetUid { uid } => ok(raw::setresuid(*uid)),
        Op::Caps { effective, permitted, inheritable, ambient, last_cap } => {
            raw::capset(*effective, *permitted, *inheritable)?;
            raw::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0)?;
            for cap in 0..=*last_cap {
                if ambient & (1u64 << cap) != 0 {
                    // Like runc: an ambient cap outside permitted+inheritable is skipped, not fatal.
                    let _ = raw::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap as libc::c_ulong);
                }
            }
            Ok(())
        }
        Op::NoNewPrivs => ok(raw::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0)),
        Op::Seccomp { filter, flags, listener } => {
            match listener {
                None => ok(raw::seccomp_filter(*flags, filter)),
                Some((report_fd, go_fd)) => {
                    const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_uint = 1 << 3;
                    let fd = raw::seccomp_filter(*flags | SECCOMP_FILTER_FLAG_NEW_LISTENER, filter)? as i32;
                    write_report(*report_fd, SECCOMP_LISTENER, fd);
                    let r = await_go(*go_fd, false);
                    // The listener has its own copy now; the container must not keep one.
                    raw::close(fd);
                    r
                }
            }
        }
        Op::Chdir { path } => ok(raw::chdir(path)),
        Op::CheckCwd => {
            // The cwd must lead inside the root (runc >= 1.1.12): a path through an fd of the
            // host (/proc/self/fd/N) would leave it outside, which getcwd shows as
            // "(unreachable)/...". No runtime fd that leads to a directory is open by now.
            let mut buf = [0u8; 4096];
            let n = raw::getcwd(&mut buf)?;
            if n == 0 || buf[0] != b'/' {
                return Err(libc::EPERM);
            }
            Ok(())
        }
        Op::Console { ptmx, console, socket, size, owner } => {
            let master = open_in_root(ctx, ptmx, &ptmx.path, libc::O_RDWR | libc::O_NOCTTY)?;
            let r = console_setup(ctx, master, console, *socket, *size, *owner);
            raw::close(master);
            raw::close(*socket);
            r
        }
        Op::ConsoleStdio => {
            let slave = ctx.console;
            for fd in 0..3 {
                if fd == slave {
                    // The slave landed on a free stdio number (the caller's was closed): it is
                    // that fd already; only its close-on-exec must go (dup3 onto itself: EINVAL).
                    raw::set_cloexec(fd, false)?;
                } else {
                    raw::dup3(slave, fd)?;
                }
            }
            if slave > 2 {
                raw::close(slave);
            }
            ctx.console = -1;
            ok(raw::set_controlling_tty(0))
        }
        Op::FindExec => {
            let mut last = libc::ENOENT;
            for (i, c) in plan.exec_candidates.iter().enumerate() {
                let mode = match raw::fstatat(libc::AT_FDCWD, c, 0) {
                    Ok(st) => st.mode,
                    Err(libc::ENOENT | libc::ENOTDIR) => continue,
                    Err(e) => {
                        last = e;
                        continue;
                    }
                };
                if mode & libc::S_IFMT == libc::S_IFDIR {
                    last = libc::EACCES;
                    continue;
                }
                if let Err(e) = raw::access(c, libc::X_OK) {
                    last = e;
                    continue;
                }
                ctx.chosen = i;
                return Ok(());
            }
            Err(last)
        }
        Op::OpenLsmAttr { path, at } => {
            // Only inside the container's procfs: a file of the image, or another procfs file
            // mounted over it, would leave the container unconfined without an error.
            let proc = open_procfs()?;
            let how = raw::OpenHow {
                flags: (libc::O_WRONLY | libc::O_CLOEXEC) as u64,
                mode: 0,
                resolve: raw::RESOLVE_NO_XDEV | raw::RESOLVE_NO_MAGICLINKS | raw::RESOLVE_BENEATH,
            };
            let fd = raw::openat2(proc, path, &how);
            raw::close(proc);
            let fd = fd?;
            let r = ok(raw::dup3(fd, *at));
            raw::close(fd);
            r
        }
        Op::PrepareStub { report_fd, start_fd } => {
            let _ = raw::unblock_all_signals();
            raw::set_cloexec(*report_fd, false)?;
            ok(raw::set_cloexec(*start_fd, false))
        }
        Op::ExecStub { fd } => {
            let argv = match plan.stub_argvs.get(ctx.chosen) {
                Some(a) => a,
                None => return Err(libc::ENOENT),
            };
            // SAFETY: NULL-terminated arrays of pointers into CStrings the plan owns.
            match unsafe { raw::execveat_fd(*fd, argv.as_ptr(), plan.envp_ptrs.as_ptr()) } {
                // valgrind turns execveat into an execve of the fd's name ("/memfd:..."), which
                // does not exist: exec the same memfd through the container's procfs instead,
                // once /proc is known to be one (not an image's directory).
                Err(e @ (libc::ENOENT | libc::ENOSYS)) => {
                    let proc = open_procfs().map_err(|_| e)?;
                    raw::close(proc);
                    let mut buf = [0u8; 32];
                    // SAFETY: as above.
                    unsafe { raw::execve(fd_path(*fd, &mut buf), argv.as_ptr(), plan.envp_ptrs.as_ptr()) }?;
                }
                r => {
                    r?;
                }
            }
            Err(libc::ENOEXEC)
        }
    }
}

/// The pty of [`Op::Console`] from its `master` (opened from the container's /dev/ptmx): unlock,
/// the slave through TIOCGPTPEER (no path), size, owner, /dev/console, then the master over the
/// console socket.
fn console_setup(ctx: &mut Ctx, master: i32, console: &Option<InRoot>, socket: i32, size: Option<(u16, u16)>, owner: (libc::uid_t, libc::gid_t)) -> StepResult {
    // Only a pty multiplexer answers TIOCGPTN: not a file an image put at /dev/ptmx.
    raw::pty_number(master).map_err(|_| libc::ENOTTY)?;
    raw::pty_unlock(master)?;
    let slave = raw::pty_peer(master, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC)?;
    ctx.console = slave;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        raw::set_winsize(slave, &ws)?;
    }
    raw::fchown(slave, owner.0, owner.1)?;
    if let Some(console) = console {
        let target = resolve(ctx, console, Create::File)?;
        let r = mount_on(Some(fd_path(slave, &mut [0u8; 32])), target, None, libc::MS_BIND, None);
        raw::close(target);
        r?;
    }
    raw::send_fd(socket, b"/dev/ptmx", master)
}

/// After pivot_root: an O_PATH fd on /proc if it is a procfs (not a symlink, not an image's
/// directory).
fn open_procfs() -> Result<i32, i32> {
    let proc = raw::openat(libc::AT_FDCWD, c"/proc", libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0)?;
    match raw::fstatfs(proc) {
        Ok(st) if st.f_type == PROC_SUPER_MAGIC => Ok(proc),
        r => {
            raw::close(proc);
            Err(r.err().unwrap_or(libc::EXDEV))
        }
    }
}

/// After pivot_root: the old root's fds are not needed, and must not stay open.
fn close_root(ctx: &mut Ctx) {
    close_unless(ctx.root, -1);
    close_unless(ctx.devnull, -1);
    ctx.root = -1;
    ctx.devnull = -1;
}
