//! The child between clone and execve: it walks the Plan's steps with raw system calls on data the
//! parent prepared. No allocation, no formatting, no locks, no panics (DESIGN.md, "The child"),
//! and no libc wrappers (child/raw.rs): with CLONE_VM the child runs on its parent's memory, so
//! it writes nothing but its own stack.
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
/// `step` value a CLONE_VM child sends first: "I exist" (its pid and pidfd are in the parent's
/// memory by then; spawn.rs).
pub(crate) const HELLO: u32 = u32::MAX - 1;
/// `step` value the CLONE_VM helper thread sends once the child has exec'd or exited (its
/// clone3 with CLONE_VFORK returned): it no longer runs on the parent's memory.
pub(crate) const CHILD_LEFT: u32 = u32::MAX - 2;
/// `step` values the helper thread sends when it could not clone (errno: why).
pub(crate) const CLONE_FAILED: u32 = u32::MAX - 3;
pub(crate) const PIDNS_JOIN_FAILED: u32 = u32::MAX - 4;
/// Exit code of a child that failed during setup (after reporting).
const SETUP_FAILED: i32 = 127;

pub(crate) mod raw;

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
fn reset_signals() {
    // 1..=64: every signal number Linux has on the architectures we build for.
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            let _ = raw::default_signal(sig);
        }
    }
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
    let _ = raw::prctl(libc::PR_SET_DUMPABLE, 0, 0);
    reset_signals();
    let mut chosen = 0usize;
    for (i, step) in plan.steps.iter().enumerate() {
        if let Err(e) = exec_step(plan, &step.op, &mut chosen) {
            write_report(report_fd, i as u32, e);
            raw::exit(SETUP_FAILED);
        }
        if changes_credentials(&step.op) {
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
        Op::Unshare { flags } => flags & libc::CLONE_NEWUSER != 0,
        Op::SetGroups { .. } | Op::SetGid { .. } | Op::SetUid { .. } | Op::Caps { .. } => true,
        _ => false,
    }
}

fn exec_step(plan: &Plan, op: &Op, chosen: &mut usize) -> StepResult {
    // Every pointer handed to the kernel comes from a CString or array owned by `plan`, or from
    // this stack.
    match op {
        Op::WaitParent { fd } => {
            let mut b = [0u8; 1];
            loop {
                match raw::read(*fd, &mut b) {
                    Ok(1) => {
                        raw::close(*fd);
                        return Ok(());
                    }
                    // The parent went away: nothing to report to.
                    Ok(_) => raw::exit(SETUP_FAILED),
                    Err(libc::EINTR) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        Op::JoinCgroup { fd } => {
            let r = raw::write(*fd, b"0");
            raw::close(*fd);
            ok(r)
        }
        Op::SetNs { fd, nstype } => ok(raw::setns(*fd, *nstype)),
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
        Op::Umask { mask } => {
            raw::umask(*mask);
            Ok(())
        }
        Op::Mount { source, target, fstype, flags, data } => ok(raw::mount(
            source.as_deref(),
            target,
            fstype.as_deref(),
            *flags,
            data.as_ref().map_or(std::ptr::null(), |d| d.as_ptr() as *const libc::c_void),
        )),
        Op::BindRemount { target, flags } => {
            let base = libc::MS_REMOUNT | libc::MS_BIND;
            match raw::mount(None, target, None, base | *flags, std::ptr::null()) {
                Ok(_) => return Ok(()),
                Err(libc::EPERM) => {}
                Err(e) => return Err(e),
            }
            // Keep the flags the kernel locks on this mount (from another user namespace).
            // statfs(2), not statvfs(3): glibc's statvfs may read /proc/mounts.
            // Uninitialized, not zeroed: zeroing may become a call to libc's memset (DESIGN.md:
            // nothing of libc in the child); statfs(2) fills the whole struct.
            let mut st = std::mem::MaybeUninit::<KernelStatfs>::uninit();
            raw::statfs(target, st.as_mut_ptr())?;
            // SAFETY: statfs succeeded and wrote the struct.
            let st = unsafe { st.assume_init() };
            let locked = st.f_flags as libc::c_ulong
                & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY | libc::MS_NOATIME | libc::MS_NODIRATIME | libc::MS_RELATIME);
            ok(raw::mount(None, target, None, base | *flags | locked, std::ptr::null()))
        }
        Op::Mkdir { path, mode } => exists_ok(raw::mkdir(path, *mode)),
        Op::Touch { path } => match raw::openat(libc::AT_FDCWD, path, libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0o644) {
            Ok(fd) => {
                raw::close(fd);
                Ok(())
            }
            // A directory or device already there is fine to bind over.
            Err(libc::EISDIR | libc::EEXIST) => Ok(()),
            Err(e) => Err(e),
        },
        Op::Mknod { path, mode, dev } => exists_ok(raw::mknod(path, *mode, *dev)),
        Op::Chown { path, uid, gid } => ok(raw::chown(path, *uid, *gid)),
        Op::Symlink { target, link } => exists_ok(raw::symlink(target, link)),
        Op::Chdir { path } => ok(raw::chdir(path)),
        Op::PivotRoot => {
            raw::pivot_root(c".", c".")?;
            raw::umount2(c".", libc::MNT_DETACH)?;
            ok(raw::chdir(c"/"))
        }
        Op::MoveRoot => {
            raw::mount(Some(c"."), c"/", None, libc::MS_MOVE, std::ptr::null())?;
            raw::chroot(c".")?;
            ok(raw::chdir(c"/"))
        }
        Op::Mask { path } => match raw::mount(Some(c"/dev/null"), path, None, libc::MS_BIND, std::ptr::null()) {
            Ok(_) | Err(libc::ENOENT) => Ok(()),
            Err(libc::ENOTDIR) => ok(raw::mount(
                Some(c"tmpfs"),
                path,
                Some(c"tmpfs"),
                libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c"size=0,mode=555".as_ptr() as *const libc::c_void,
            )),
            Err(e) => Err(e),
        },
        Op::ReadonlyPath { path } => {
            match raw::mount(Some(path), path, None, libc::MS_BIND | libc::MS_REC, std::ptr::null()) {
                Ok(_) => {}
                Err(libc::ENOENT) => return Ok(()),
                Err(e) => return Err(e),
            }
            let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            match raw::mount(None, path, None, flags, std::ptr::null()) {
                Err(libc::EPERM) => ok(raw::mount(None, path, None, libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY, std::ptr::null())),
                r => ok(r),
            }
        }
        // CString::as_bytes knows the length; CStr::to_bytes would call strlen.
        Op::SetHostname { name } => ok(raw::sethostname(name, name.as_bytes().len())),
        Op::SetDomainname { name } => ok(raw::setdomainname(name, name.as_bytes().len())),
        Op::LoopbackUp { ifreq } => {
            let s = raw::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)?;
            let r = raw::ioctl(s, libc::SIOCSIFFLAGS, ifreq as *const libc::ifreq);
            raw::close(s);
            ok(r)
        }
        Op::WriteFile { path, data } => {
            let fd = raw::openat(libc::AT_FDCWD, path, libc::O_WRONLY | libc::O_CLOEXEC | libc::O_TRUNC, 0)?;
            let r = raw::write(fd, data);
            raw::close(fd);
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
            raw::capset(&hdr, &data)?;
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
        Op::Seccomp { filter, flags } => {
            let prog = libc::sock_fprog { len: filter.len() as libc::c_ushort, filter: filter.as_ptr() as *mut libc::sock_filter };
            ok(raw::seccomp_filter(*flags, &prog))
        }
        Op::FindExec => {
            let mut last = libc::ENOENT;
            for (i, c) in plan.exec_candidates.iter().enumerate() {
                let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
                let st = match raw::stat(c, st.as_mut_ptr()) {
                    // SAFETY: stat succeeded and wrote the struct.
                    Ok(_) => unsafe { st.assume_init() },
                    Err(libc::ENOENT | libc::ENOTDIR) => continue,
                    Err(e) => {
                        last = e;
                        continue;
                    }
                };
                if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                    last = libc::EACCES;
                    continue;
                }
                if let Err(e) = raw::access(c, libc::X_OK) {
                    last = e;
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
                match raw::openat(*dirfd, name, libc::O_WRONLY | libc::O_CLOEXEC, 0) {
                    Ok(fd) => break fd,
                    Err(libc::EINTR) => continue,
                    Err(e) => return Err(e),
                }
            };
            raw::close(*dirfd);
            raw::write(fd, b"0")?;
            raw::close(fd);
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
                    raw::close_range(from, k as libc::c_uint - 1)?;
                }
                from = k as libc::c_uint + 1;
            }
            ok(raw::close_range(from, libc::c_uint::MAX))
        }
        Op::Exec => {
            let _ = raw::unblock_all_signals();
            let path: &CStr = match plan.exec_candidates.get(*chosen) {
                Some(p) => p,
                None => return Err(libc::ENOENT),
            };
            raw::execve(path, plan.argv_ptrs.as_ptr(), plan.envp_ptrs.as_ptr())?;
            Err(libc::ENOEXEC)
        }
    }
}
