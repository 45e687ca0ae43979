//! `rcontainer_container_t`: one container's lifecycle (create, start, wait, kill, delete), its
//! pidfd for event loops, its state, and its cgroup (limits, stats, pause/resume, kill_all);
//! the plain value structs `rcontainer_limits_t` and `rcontainer_stats_t`.

use std::ffi::{c_char, c_int, CString};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::path::PathBuf;
use std::ptr;
use std::time::Duration;

use rcontainer_core::{Container, CreateOptions, Limits, Status, Stdio};

use crate::{
    arg_opt_path, arg_opt_str, arg_str, guard, guard_value, out_ptr, owned_string, rcontainer_error_t, rcontainer_spec_t, CErr, Handle, Kind, MAGIC_CONTAINER,
};

/// Container status (rcontainer_container_status()): being set up.
pub const RCONTAINER_STATUS_CREATING: i32 = 1;
/// Container status: set up, its process waits for rcontainer_container_start() before exec.
pub const RCONTAINER_STATUS_CREATED: i32 = 2;
/// Container status: its process runs.
pub const RCONTAINER_STATUS_RUNNING: i32 = 3;
/// Container status: frozen.
pub const RCONTAINER_STATUS_PAUSED: i32 = 4;
/// Container status: its process has ended.
pub const RCONTAINER_STATUS_STOPPED: i32 = 5;

/// A handle on one container, made by rcontainer_container_create() (a new container) or
/// rcontainer_container_load() (one created earlier, maybe by another process).
///
/// Ownership: the caller owns the handle and frees it with rcontainer_container_free(). Freeing
/// the handle does not delete the container: call rcontainer_container_delete() first (a
/// container that is neither deleted nor waited for stays, as its state directory and, in the
/// creating process, a zombie until that process exits). A handle must not be used by two
/// threads at once (it may move between threads).
pub struct rcontainer_container_t {
    magic: u64,
    inner: Container,
    id: CString,
}

impl Handle for rcontainer_container_t {
    const KIND: Kind = Kind::Container;
    const MAGIC: u64 = MAGIC_CONTAINER;
    fn magic(&self) -> u64 {
        self.magic
    }
    fn clear_magic(&mut self) {
        self.magic = 0;
    }
}

impl rcontainer_container_t {
    fn new(inner: Container) -> *mut rcontainer_container_t {
        let id = CString::new(inner.id()).unwrap_or_default();
        rcontainer_container_t { magic: MAGIC_CONTAINER, inner, id }.into_raw()
    }

    pub(crate) fn container_mut(&mut self) -> &mut Container {
        &mut self.inner
    }
}

/// How a container's process (or an exec'd process) ended (filled by rcontainer_container_wait()
/// and rcontainer_process_wait()).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct rcontainer_exit_status_t {
    /// The exit code when the process exited; -1 when a signal killed it.
    pub code: i32,
    /// The signal that killed the process; 0 when it exited.
    pub signal: i32,
    /// Whether the kernel's OOM killer killed a process of the container (needs a memory limit).
    pub oom_killed: bool,
}

impl From<rcontainer_core::ExitStatus> for rcontainer_exit_status_t {
    fn from(e: rcontainer_core::ExitStatus) -> Self {
        rcontainer_exit_status_t { code: e.code.unwrap_or(-1), signal: e.signal.unwrap_or(0), oom_killed: e.oom_killed }
    }
}

fn state_root(func: &str, p: *const c_char) -> Result<PathBuf, CErr> {
    // SAFETY: the extern callers pass their caller's pointer, NULL or NUL-terminated.
    Ok(unsafe { arg_opt_path(func, "state_root", p) }?.unwrap_or_else(rcontainer_core::rootless::default_state_root))
}

/// Looks up a container handle and runs `f` on it.
///
/// # Safety
/// `c` is NULL or a pointer returned by rcontainer.
pub(crate) unsafe fn with_container(
    func: &'static str,
    c: *const rcontainer_container_t,
    f: impl FnOnce(&mut rcontainer_container_t) -> Result<(), CErr>,
) -> *mut rcontainer_error_t {
    guard(func, || {
        // SAFETY: from_ptr checks the registry before dereferencing.
        let h = unsafe { rcontainer_container_t::from_ptr(c, func, "container") }?;
        f(h)
    })
}

/// Creates a container named `id` (letters, digits, `_ + . -`; NULL: a new one, `rc-` and 12 hex
/// digits, which rcontainer_container_id() tells) from `spec`: validates the spec,
/// makes the namespaces, mounts and root filesystem, and leaves the process blocked just before
/// exec until rcontainer_container_start(). Its state directory goes under `state_root` (NULL:
/// /run/rcontainer, or for an ordinary user $XDG_RUNTIME_DIR/rcontainer or /tmp/rcontainer-UID;
/// as runc's --root), so other processes can find it by id. Run by an ordinary user, a spec
/// from rcontainer_spec_new() gets a user namespace where the caller is root (rootless).
///
/// On success `*out` receives a new handle the caller owns. On failure nothing is left behind.
/// `spec` is only read; the stdio fds set on it must stay open until this returns. A spec with an
/// image (rcontainer_spec_set_image()) gives each container a copy-on-write root of its own in
/// the image store, which rcontainer_container_delete() removes.
///
/// During this call the container's process runs on this process's memory (x86_64, when the
/// container has a pid namespace of its own: clone with CLONE_VM|CLONE_VFORK, so a big host does
/// not pay for copying its page tables), and this process is non-dumpable meanwhile (the flag
/// belongs to the shared memory; the container's process must be non-dumpable until it execs).
/// Both end before this returns: a created container's process is rcontainer's exec stub (a
/// sealed memfd), which waits for rcontainer_container_start() and then execs the command, so
/// it never runs this program's binary nor holds anything of this process. A handle freed
/// before start leaves the container waiting for start, as runc's create does.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `id` and `state_root` NULL or
/// NUL-terminated; `out` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_create(
    spec: *const rcontainer_spec_t,
    id: *const c_char,
    state_root: *const c_char,
    out: *mut *mut rcontainer_container_t,
) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_create";
    guard(F, || {
        out_ptr(F, "out", out)?;
        // SAFETY: from_ptr checks the registry before dereferencing.
        let s = unsafe { rcontainer_spec_t::from_ptr(spec, F, "spec") }?;
        // SAFETY: as the caller's.
        let id = unsafe { arg_opt_str(F, "id", id) }?.map(str::to_string).unwrap_or_else(rcontainer_core::state::generate_id);
        let opts = CreateOptions { root: self::state_root(F, state_root)?, stdio: s.stdio(), ..CreateOptions::default() };
        let c = s.create_container(&id, &opts)?;
        // SAFETY: checked non-NULL above.
        unsafe { *out = rcontainer_container_t::new(c) };
        Ok(())
    })
}

/// A pipe whose ends are close-on-exec: (read end, write end).
fn cloexec_pipe(func: &str) -> Result<(OwnedFd, OwnedFd), CErr> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(CErr::os(format!("{func}: pipe"), &std::io::Error::last_os_error()));
    }
    // SAFETY: both fds are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Creates and starts a container (as rcontainer_container_create() then
/// rcontainer_container_start()) whose stdin, stdout and stderr are new pipes, as minijail's
/// minijail_run_pid_pipes(): for each of `stdin_fd`, `stdout_fd`, `stderr_fd` that is not NULL,
/// the stream is a pipe and `*fd` receives this process's end (write to stdin, read stdout and
/// stderr; close-on-exec; the caller closes them). A NULL pointer leaves that stream as the spec
/// says. Read stdout and stderr while the container runs (poll(2) on them, or a thread each): a
/// container that fills a pipe nobody reads blocks. Then rcontainer_container_wait().
///
/// On success `*out` receives a new handle the caller owns and the fds are set; on failure
/// nothing is left behind (no container, no fd) and `*out` and the fds are untouched.
///
/// # Safety
/// As rcontainer_container_create(); `stdin_fd`, `stdout_fd` and `stderr_fd` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_run_pipes(
    spec: *const rcontainer_spec_t,
    id: *const c_char,
    state_root: *const c_char,
    out: *mut *mut rcontainer_container_t,
    stdin_fd: *mut c_int,
    stdout_fd: *mut c_int,
    stderr_fd: *mut c_int,
) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_run_pipes";
    guard(F, || {
        out_ptr(F, "out", out)?;
        // SAFETY: from_ptr checks the registry before dereferencing.
        let s = unsafe { rcontainer_spec_t::from_ptr(spec, F, "spec") }?;
        // SAFETY: as the caller's.
        let id = unsafe { arg_opt_str(F, "id", id) }?.map(str::to_string).unwrap_or_else(rcontainer_core::state::generate_id);
        // (ours, the container's) per stream asked for: stdin's write end is ours.
        let stdin = if stdin_fd.is_null() { None } else { Some(cloexec_pipe(F).map(|(r, w)| (w, r))?) };
        let stdout = if stdout_fd.is_null() { None } else { Some(cloexec_pipe(F)?) };
        let stderr = if stderr_fd.is_null() { None } else { Some(cloexec_pipe(F)?) };
        let given = s.stdio();
        let theirs = |p: &Option<(OwnedFd, OwnedFd)>, default: Option<c_int>| p.as_ref().map(|(_, t)| t.as_raw_fd()).or(default);
        let stdio = Stdio { stdin: theirs(&stdin, given.stdin), stdout: theirs(&stdout, given.stdout), stderr: theirs(&stderr, given.stderr) };
        let opts = CreateOptions { root: self::state_root(F, state_root)?, stdio, ..CreateOptions::default() };
        let mut c = s.create_container(&id, &opts)?;
        let ours = |p: Option<(OwnedFd, OwnedFd)>| p.map(|(o, _)| o);
        let (stdin, stdout, stderr) = (ours(stdin), ours(stdout), ours(stderr));
        if let Err(e) = c.start() {
            let _ = c.delete(true);
            return Err(e.into());
        }
        for (ptr, fd) in [(stdin_fd, stdin), (stdout_fd, stdout), (stderr_fd, stderr)] {
            if let Some(fd) = fd {
                // SAFETY: non-NULL (a pipe was made only then), writable as the caller promised.
                unsafe { *ptr = fd.into_raw_fd() };
            }
        }
        // SAFETY: checked non-NULL above.
        unsafe { *out = rcontainer_container_t::new(c) };
        Ok(())
    })
}

/// A handle on the container `id` under `state_root` (NULL: /run/rcontainer, or an ordinary user's own state root), created earlier by
/// this or another process. Such a handle can start, kill, inspect and delete the container;
/// only the creating process can learn the exit status (rcontainer_container_wait() fails with
/// RCONTAINER_ERROR_UNSUPPORTED elsewhere, but the pidfd still tells when it exits).
///
/// On success `*out` receives a new handle the caller owns. RCONTAINER_ERROR_NOT_FOUND when there
/// is no such container.
///
/// # Safety
/// `state_root` and `id` NULL or NUL-terminated; `out` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_load(
    state_root: *const c_char,
    id: *const c_char,
    out: *mut *mut rcontainer_container_t,
) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_load";
    guard(F, || {
        out_ptr(F, "out", out)?;
        // SAFETY: as the caller's.
        let id = unsafe { arg_str(F, "id", id) }?;
        let c = Container::load(self::state_root(F, state_root)?, id)?;
        // SAFETY: checked non-NULL above.
        unsafe { *out = rcontainer_container_t::new(c) };
        Ok(())
    })
}

/// Frees the handle (and closes its pidfd). Does not delete the container (see
/// rcontainer_container_create() for freeing one that was never started). NULL and a handle freed
/// already are ignored.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_free(container: *mut rcontainer_container_t) {
    // SAFETY: Handle::free only touches registered handles.
    guard_value((), || unsafe { rcontainer_container_t::free(container) })
}

/// The container's id.
///
/// Ownership: borrowed from `container`; valid until rcontainer_container_free(). NULL for a NULL
/// or freed handle.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_id(container: *const rcontainer_container_t) -> *const c_char {
    guard_value(ptr::null(), || {
        // SAFETY: from_ptr checks the registry before dereferencing.
        match unsafe { rcontainer_container_t::from_ptr(container, "rcontainer_container_id", "container") } {
            Ok(h) => h.id.as_ptr(),
            Err(_) => ptr::null(),
        }
    })
}

/// Releases the container's process into exec (created → running). In the creating process it
/// returns once the exec happened, or fails with the exec's error (e.g. command not found).
/// RCONTAINER_ERROR_WRONG_STATE unless the container is created.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_start(container: *mut rcontainer_container_t) -> *mut rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe { with_container("rcontainer_container_start", container, |h| Ok(h.inner.start()?)) }
}

/// Waits for the container's process to end, at most `timeout_ms` milliseconds (negative: no
/// limit; 0: just check), and reaps it. On success `*status` (when not NULL) says how it ended;
/// waiting again returns the same status. RCONTAINER_ERROR_TIMEOUT when it still runs.
/// Only the process that created the container can wait for it.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer; `status` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_wait(
    container: *mut rcontainer_container_t,
    timeout_ms: i64,
    status: *mut rcontainer_exit_status_t,
) -> *mut rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe {
        with_container("rcontainer_container_wait", container, |h| {
            let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
            let e = h.inner.wait(timeout)?;
            if !status.is_null() {
                *status = e.into();
            }
            Ok(())
        })
    }
}

/// Sends signal `sig` (e.g. SIGTERM) to the container's init process (through its pidfd, so never
/// to a recycled pid). RCONTAINER_ERROR_WRONG_STATE when the container is stopped.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_kill(container: *mut rcontainer_container_t, sig: c_int) -> *mut rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe {
        with_container("rcontainer_container_kill", container, |h| {
            if !(1..=64).contains(&sig) {
                return Err(CErr::arg(format!("rcontainer_container_kill: sig = {sig} is not a signal number")));
            }
            Ok(h.inner.kill(sig)?)
        })
    }
}

/// Deletes the container: removes its state directory (and cgroup). A created or running container
/// needs `force` (it is killed with SIGKILL and reaped first); without it that is
/// RCONTAINER_ERROR_WRONG_STATE. Deleting again is harmless. The handle stays valid (free it with
/// rcontainer_container_free()); its pidfd is closed.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_delete(container: *mut rcontainer_container_t, force: bool) -> *mut rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe { with_container("rcontainer_container_delete", container, |h| Ok(h.inner.delete(force)?)) }
}

/// The pidfd of the container's init process: it becomes readable (POLLIN) when the process exits,
/// so an event loop can poll() many containers, then call rcontainer_container_wait(c, 0, ...).
///
/// Ownership: the fd belongs to the handle: do not close it. It stays valid until
/// rcontainer_container_delete() or rcontainer_container_free(); dup() it to keep it longer.
/// RCONTAINER_ERROR_WRONG_STATE when there is none (deleted, or loaded after the process ended).
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_pidfd(container: *const rcontainer_container_t, fd: *mut c_int) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_pidfd";
    // SAFETY: as the caller's.
    unsafe {
        with_container(F, container, |h| {
            out_ptr(F, "fd", fd)?;
            let pidfd = h.inner.pidfd().ok_or_else(|| CErr {
                kind: crate::RCONTAINER_ERROR_WRONG_STATE,
                errno: 0,
                message: format!("{F}: container {:?} has no pidfd (deleted, or its process ended before it was loaded)", h.inner.id()),
            })?;
            *fd = pidfd.as_raw_fd();
            Ok(())
        })
    }
}

/// The error for a pty call on a handle that holds no pty master.
pub(crate) fn no_pty(func: &str, what: String) -> CErr {
    CErr {
        kind: crate::RCONTAINER_ERROR_UNSUPPORTED,
        errno: libc::ENOTTY,
        message: format!(
            "{func}: {what} has no pty master here (made without a terminal, given a console socket, loaded by another process, or its master was taken)"
        ),
    }
}

/// The pty master of a container created with a terminal (rcontainer_spec_set_terminal(), or
/// `process.terminal` in its JSON): read it for the container's output (the terminal's echo
/// included), write it for its input. Reading it gives EIO once every process of the container
/// has closed the terminal (the usual end of a pty).
///
/// Ownership: the fd belongs to the handle: do not close it. It stays valid until
/// rcontainer_container_take_pty() or rcontainer_container_free() (rcontainer_container_delete()
/// leaves it open); dup() it to keep it longer. RCONTAINER_ERROR_UNSUPPORTED when the handle has
/// none (no terminal, a handle from rcontainer_container_load(), or taken already).
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_pty_fd(container: *const rcontainer_container_t, fd: *mut c_int) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_pty_fd";
    // SAFETY: as the caller's.
    unsafe {
        with_container(F, container, |h| {
            out_ptr(F, "fd", fd)?;
            let pty = h.inner.pty().ok_or_else(|| no_pty(F, format!("container {:?}", h.inner.id())))?;
            *fd = pty.as_raw_fd();
            Ok(())
        })
    }
}

/// Takes the pty master out of the handle (see rcontainer_container_pty_fd()).
///
/// Ownership: on success `*fd` is the caller's: close it when done. The handle has no pty master
/// afterwards (rcontainer_container_pty_fd() and rcontainer_container_resize_pty() fail with
/// RCONTAINER_ERROR_UNSUPPORTED; resize with ioctl(fd, TIOCSWINSZ) instead).
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_take_pty(container: *mut rcontainer_container_t, fd: *mut c_int) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_take_pty";
    // SAFETY: as the caller's.
    unsafe {
        with_container(F, container, |h| {
            out_ptr(F, "fd", fd)?;
            let pty = h.inner.take_pty().ok_or_else(|| no_pty(F, format!("container {:?}", h.inner.id())))?;
            *fd = std::os::fd::IntoRawFd::into_raw_fd(pty);
            Ok(())
        })
    }
}

/// Sets the size of the container's terminal (`rows` lines of `cols` columns), as a terminal
/// window's resize does: the container's foreground process group gets SIGWINCH.
/// RCONTAINER_ERROR_UNSUPPORTED when the handle holds no pty master (see
/// rcontainer_container_pty_fd()); RCONTAINER_ERROR_INVALID_ARGUMENT for a 0 size.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_resize_pty(container: *mut rcontainer_container_t, rows: u16, cols: u16) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_resize_pty";
    // SAFETY: as the caller's.
    unsafe {
        with_container(F, container, |h| {
            check_size(F, rows, cols)?;
            if h.inner.pty().is_none() {
                return Err(no_pty(F, format!("container {:?}", h.inner.id())));
            }
            Ok(h.inner.resize_pty(rows, cols)?)
        })
    }
}

pub(crate) fn check_size(func: &str, rows: u16, cols: u16) -> Result<(), CErr> {
    if rows == 0 || cols == 0 {
        return Err(CErr::arg(format!("{func}: rows = {rows}, cols = {cols}: a terminal needs at least one row and one column")));
    }
    Ok(())
}

/// The host pid of the container's init process (as seen from the caller's pid namespace).
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer; `pid` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_pid(container: *const rcontainer_container_t, pid: *mut i32) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_pid";
    // SAFETY: as the caller's.
    unsafe {
        with_container(F, container, |h| {
            out_ptr(F, "pid", pid)?;
            *pid = h.inner.pid();
            Ok(())
        })
    }
}

/// The container's current status (RCONTAINER_STATUS_*), recomputed from its process.
/// RCONTAINER_ERROR_NOT_FOUND once deleted.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer; `status` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_status(container: *mut rcontainer_container_t, status: *mut i32) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_status";
    // SAFETY: as the caller's.
    unsafe {
        with_container(F, container, |h| {
            out_ptr(F, "status", status)?;
            *status = match h.inner.status()? {
                Status::Creating => RCONTAINER_STATUS_CREATING,
                Status::Created => RCONTAINER_STATUS_CREATED,
                Status::Running => RCONTAINER_STATUS_RUNNING,
                Status::Paused => RCONTAINER_STATUS_PAUSED,
                Status::Stopped => RCONTAINER_STATUS_STOPPED,
            };
            Ok(())
        })
    }
}

/// The container's OCI state as JSON (id, status, pid, bundle, rootfs, created, annotations), as
/// `rcontainer state` prints it. RCONTAINER_ERROR_NOT_FOUND once deleted.
///
/// On success `*out` receives a string the caller owns: free it with rcontainer_string_free().
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer; `out` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_state_json(container: *mut rcontainer_container_t, out: *mut *mut c_char) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_state_json";
    // SAFETY: as the caller's.
    unsafe {
        with_container(F, container, |h| {
            out_ptr(F, "out", out)?;
            *out = owned_string(&h.inner.state()?.to_oci_json());
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Cgroup: limits, stats, pause/resume, kill_all

/// Cgroup limits, for rcontainer_spec_set_limits() (at creation) and rcontainer_container_limit()
/// (on a live container). A plain value struct: zero-initialize it (`rcontainer_limits_t l = {0};`)
/// and set only the fields wanted. In every field 0 (or NULL) means "not set: leave as it is";
/// where a field says so, -1 means "unlimited" (as in OCI's linux.resources).
///
/// Ownership: the struct and its strings belong to the caller; they are only read during the call
/// (and copied where kept).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rcontainer_limits_t {
    /// Memory limit in bytes (at least 1 MiB); -1: unlimited.
    pub memory: i64,
    /// Memory plus swap limit in bytes (at least `memory`, as runc's --memory-swap); -1: unlimited swap.
    pub memory_swap: i64,
    /// Memory soft limit (reservation) in bytes; -1: none.
    pub memory_reservation: i64,
    /// CPU limit in CPUs (0.5 = half a CPU): a quota over `cpu_period` (default 100 ms), as `docker --cpus`.
    pub cpus: f64,
    /// Relative CPU weight (cgroup v1 cpu.shares; converted to cpu.weight on v2).
    pub cpu_shares: u64,
    /// CPU time in microseconds the container may use per `cpu_period`; -1: unlimited.
    pub cpu_quota: i64,
    /// CPU period in microseconds.
    pub cpu_period: u64,
    /// CPUs the container may run on, e.g. "0-1" or "0,2"; NULL: not set.
    pub cpuset_cpus: *const c_char,
    /// Memory nodes the container may use, e.g. "0"; NULL: not set.
    pub cpuset_mems: *const c_char,
    /// Maximum number of processes; -1: unlimited.
    pub pids: i64,
}

/// The core's `Limits` for a C limits struct (0 / NULL fields are not set).
///
/// # Safety
/// `p` is NULL or points to a readable `rcontainer_limits_t` whose strings are NULL or
/// NUL-terminated.
pub(crate) unsafe fn to_limits(func: &str, p: *const rcontainer_limits_t) -> Result<Limits, CErr> {
    if p.is_null() {
        return Err(CErr::arg(format!("{func}: limits is NULL")));
    }
    // SAFETY: as the caller's.
    let l = unsafe { &*p };
    let signed = |name: &str, v: i64| -> Result<Option<i64>, CErr> {
        match v {
            0 => Ok(None),
            v if v < -1 => Err(CErr::arg(format!("{func}: limits.{name} = {v}: must be positive, -1 (unlimited) or 0 (not set)"))),
            v => Ok(Some(v)),
        }
    };
    let unsigned = |v: u64| (v != 0).then_some(v);
    let cpus = if l.cpus == 0.0 {
        None
    } else if !l.cpus.is_finite() || l.cpus < 0.0 || l.cpus > 1_000_000.0 {
        return Err(CErr::arg(format!("{func}: limits.cpus = {}: must be a positive number of CPUs (or 0: not set)", l.cpus)));
    } else {
        Some(l.cpus)
    };
    Ok(Limits {
        memory: signed("memory", l.memory)?,
        memory_swap: signed("memory_swap", l.memory_swap)?,
        memory_reservation: signed("memory_reservation", l.memory_reservation)?,
        cpus,
        cpu_shares: unsigned(l.cpu_shares),
        cpu_quota: signed("cpu_quota", l.cpu_quota)?,
        cpu_period: unsigned(l.cpu_period),
        // SAFETY: as the caller's.
        cpuset_cpus: unsafe { arg_opt_str(func, "limits.cpuset_cpus", l.cpuset_cpus) }?.map(str::to_string),
        // SAFETY: as the caller's.
        cpuset_mems: unsafe { arg_opt_str(func, "limits.cpuset_mems", l.cpuset_mems) }?.map(str::to_string),
        pids: signed("pids", l.pids)?,
    })
}

/// Changes the cgroup limits of a created, running or paused container; only the fields set in
/// `limits` change (see rcontainer_limits_t). A limit the kernel refuses (e.g. a memory limit below
/// what the container uses now) gives RCONTAINER_ERROR_OS or _INVALID_CONFIG; invalid values
/// RCONTAINER_ERROR_INVALID_ARGUMENT or _INVALID_CONFIG; a stopped container
/// RCONTAINER_ERROR_WRONG_STATE.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer; `limits` NULL or readable, its strings
/// NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_limit(container: *mut rcontainer_container_t, limits: *const rcontainer_limits_t) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_limit";
    // SAFETY: as the caller's.
    unsafe {
        with_container(F, container, |h| {
            let l = to_limits(F, limits)?;
            Ok(h.inner.limit(&l.to_resources())?)
        })
    }
}

/// A snapshot of a container's cgroup accounting (filled by rcontainer_container_stats()).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct rcontainer_stats_t {
    /// Memory charged now, bytes.
    pub memory_usage: u64,
    /// Highest memory charge seen, bytes (0 when the kernel does not track it).
    pub memory_peak: u64,
    /// The memory limit in force, bytes; -1 when unlimited.
    pub memory_limit: i64,
    /// CPU time used on all CPUs, nanoseconds.
    pub cpu_usage_ns: u64,
    /// User-mode part of cpu_usage_ns.
    pub cpu_user_ns: u64,
    /// Kernel-mode part of cpu_usage_ns.
    pub cpu_system_ns: u64,
    /// Processes in the container's cgroup now.
    pub pids_current: u64,
    /// The process limit in force; -1 when unlimited.
    pub pids_limit: i64,
    /// How many processes the kernel's OOM killer ended in the container's cgroup.
    pub oom_kills: u64,
}

/// Reads the container's cgroup accounting into `*stats` (memory, cpu, pids, OOM kills). Works in
/// any state until the container is deleted (then RCONTAINER_ERROR_NOT_FOUND).
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer; `stats` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_stats(container: *mut rcontainer_container_t, stats: *mut rcontainer_stats_t) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_stats";
    // SAFETY: as the caller's.
    unsafe {
        with_container(F, container, |h| {
            out_ptr(F, "stats", stats)?;
            let s = h.inner.stats()?;
            let limit = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX)).unwrap_or(-1);
            *stats = rcontainer_stats_t {
                memory_usage: s.memory_usage,
                memory_peak: s.memory_peak,
                memory_limit: limit(s.memory_limit),
                cpu_usage_ns: s.cpu_usage_ns,
                cpu_user_ns: s.cpu_user_ns,
                cpu_system_ns: s.cpu_system_ns,
                pids_current: s.pids_current,
                pids_limit: limit(s.pids_limit),
                oom_kills: s.oom_kills,
            };
            Ok(())
        })
    }
}

/// Freezes every process of a running container (its status becomes RCONTAINER_STATUS_PAUSED).
/// RCONTAINER_ERROR_WRONG_STATE unless it is running.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_pause(container: *mut rcontainer_container_t) -> *mut rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe { with_container("rcontainer_container_pause", container, |h| Ok(h.inner.pause()?)) }
}

/// Thaws a paused container (back to RCONTAINER_STATUS_RUNNING). RCONTAINER_ERROR_WRONG_STATE
/// unless it is paused.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_resume(container: *mut rcontainer_container_t) -> *mut rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe { with_container("rcontainer_container_resume", container, |h| Ok(h.inner.resume()?)) }
}

/// Sends signal `sig` to every process of the container (all of its cgroup), not only its init.
/// RCONTAINER_ERROR_WRONG_STATE when the container is stopped.
///
/// # Safety
/// `container` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_kill_all(container: *mut rcontainer_container_t, sig: c_int) -> *mut rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe {
        with_container("rcontainer_container_kill_all", container, |h| {
            if !(1..=64).contains(&sig) {
                return Err(CErr::arg(format!("rcontainer_container_kill_all: sig = {sig} is not a signal number")));
            }
            Ok(h.inner.kill_all(sig)?)
        })
    }
}
