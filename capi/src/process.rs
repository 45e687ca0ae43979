//! exec: `rcontainer_exec_options_t` (what an exec changes in the container's own process, and
//! its stdio) and `rcontainer_process_t` (a process exec'd into a container: pid, pidfd, wait,
//! kill, its terminal).

use std::ffi::{c_char, c_int};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::ptr;
use std::time::Duration;

use rcontainer_core::{ExecCommand, ExecOptions, Process, Stdio};

use crate::container::{check_size, no_pty, with_container};
use crate::spec::check_fd;
use crate::{
    arg_path, arg_str, arg_str_array, guard, guard_value, out_ptr, rcontainer_container_t, rcontainer_error_t, rcontainer_exit_status_t, CErr, Handle, Kind,
    MAGIC_EXEC_OPTIONS, MAGIC_PROCESS,
};

/// How to exec a process into a container (rcontainer_container_exec()). Without changes it runs
/// as `runc exec` and `docker exec` do: the container's own process (its environment, working
/// directory, user, capabilities, no_new_privileges, rlimits) with the new command, no terminal,
/// and the caller's stdin, stdout and stderr.
///
/// Ownership: the caller owns it (rcontainer_exec_options_new()) and frees it with
/// rcontainer_exec_options_free(). rcontainer_container_exec() only reads it: it can be used
/// again, or freed, right after. It must not be used by two threads at once.
pub struct rcontainer_exec_options_t {
    magic: u64,
    cmd: ExecCommand,
    stdio: Stdio,
}

impl Handle for rcontainer_exec_options_t {
    const KIND: Kind = Kind::ExecOptions;
    const MAGIC: u64 = MAGIC_EXEC_OPTIONS;
    fn magic(&self) -> u64 {
        self.magic
    }
    fn clear_magic(&mut self) {
        self.magic = 0;
    }
}

/// Looks up an exec options handle and runs `f` on it.
///
/// # Safety
/// `o` is NULL or a pointer returned by rcontainer.
unsafe fn with_options(
    func: &'static str,
    o: *mut rcontainer_exec_options_t,
    f: impl FnOnce(&mut rcontainer_exec_options_t) -> Result<(), CErr>,
) -> *mut rcontainer_error_t {
    guard(func, || {
        // SAFETY: from_ptr checks the registry before dereferencing.
        let h = unsafe { rcontainer_exec_options_t::from_ptr(o, func, "options") }?;
        f(h)
    })
}

/// New exec options: no changes to the container's process, the caller's stdio.
///
/// Ownership: returns a handle the caller owns; free it with rcontainer_exec_options_free().
/// NULL only if memory ran out.
#[no_mangle]
pub extern "C" fn rcontainer_exec_options_new() -> *mut rcontainer_exec_options_t {
    guard_value(ptr::null_mut(), || rcontainer_exec_options_t { magic: MAGIC_EXEC_OPTIONS, cmd: ExecCommand::default(), stdio: Stdio::default() }.into_raw())
}

/// Frees exec options. NULL and options freed already are ignored.
///
/// # Safety
/// `options` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_exec_options_free(options: *mut rcontainer_exec_options_t) {
    // SAFETY: Handle::free only touches registered handles.
    guard_value((), || unsafe { rcontainer_exec_options_t::free(options) })
}

/// Sets (or replaces) the environment variable `key` to `value`, over the container's
/// environment. The strings are copied.
///
/// # Safety
/// `options` is NULL or a pointer returned by rcontainer; `key` and `value` NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_exec_options_set_env(
    options: *mut rcontainer_exec_options_t,
    key: *const c_char,
    value: *const c_char,
) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_exec_options_set_env";
    // SAFETY: as the caller's.
    unsafe {
        with_options(F, options, |o| {
            let key = arg_str(F, "key", key)?;
            let value = arg_str(F, "value", value)?;
            if key.is_empty() || key.contains('=') {
                return Err(CErr::arg(format!("{F}: key {key:?} must be non-empty and contain no '='")));
            }
            o.cmd.env.retain(|(k, _)| k != key);
            o.cmd.env.push((key.to_string(), value.to_string()));
            Ok(())
        })
    }
}

/// Sets the working directory (an absolute path inside the container; default: the container's).
///
/// # Safety
/// `options` is NULL or a pointer returned by rcontainer; `dir` NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_exec_options_set_cwd(options: *mut rcontainer_exec_options_t, dir: *const c_char) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_exec_options_set_cwd";
    // SAFETY: as the caller's.
    unsafe {
        with_options(F, options, |o| {
            let dir = arg_path(F, "dir", dir)?;
            if !dir.is_absolute() {
                return Err(CErr::arg(format!("{F}: dir {} must be an absolute path", dir.display())));
            }
            o.cmd.cwd = Some(dir);
            Ok(())
        })
    }
}

/// Sets the user (uid and primary gid, as seen inside the container; default: the container's).
///
/// # Safety
/// `options` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_exec_options_set_user(options: *mut rcontainer_exec_options_t, uid: u32, gid: u32) -> *mut rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe {
        with_options("rcontainer_exec_options_set_user", options, |o| {
            o.cmd.user = Some((uid, gid));
            Ok(())
        })
    }
}

/// Gives the process a terminal of its own (as `docker exec -t`): a new pty from the container's
/// devpts is its stdin, stdout, stderr and controlling terminal (the fds of
/// rcontainer_exec_options_set_stdio() are then not used); `rows` and `cols` set its initial size
/// (0 and 0: not set). The master stays with the process handle: rcontainer_process_pty_fd().
///
/// # Safety
/// `options` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_exec_options_set_terminal(
    options: *mut rcontainer_exec_options_t,
    on: bool,
    rows: u16,
    cols: u16,
) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_exec_options_set_terminal";
    // SAFETY: as the caller's.
    unsafe {
        with_options(F, options, |o| {
            let size = match (rows, cols) {
                (0, 0) => None,
                (0, _) | (_, 0) => return Err(CErr::arg(format!("{F}: rows = {rows}, cols = {cols}: give both (or 0 and 0 for no size)"))),
                (r, c) => Some((r, c)),
            };
            o.cmd.terminal = on;
            o.cmd.terminal_size = size.filter(|_| on);
            Ok(())
        })
    }
}

/// The process's stdin, stdout and stderr: open fds of the caller, or -1 for the caller's own
/// (the default).
///
/// Ownership: the fds stay the caller's. They are only used (duplicated into the process) during
/// rcontainer_container_exec(), so they must stay open until that returns; close your copy of an
/// output pipe's write end after it, to see EOF when the process ends.
///
/// # Safety
/// `options` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_exec_options_set_stdio(
    options: *mut rcontainer_exec_options_t,
    stdin_fd: c_int,
    stdout_fd: c_int,
    stderr_fd: c_int,
) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_exec_options_set_stdio";
    // SAFETY: as the caller's.
    unsafe {
        with_options(F, options, |o| {
            let stdio =
                Stdio { stdin: check_fd(F, "stdin_fd", stdin_fd)?, stdout: check_fd(F, "stdout_fd", stdout_fd)?, stderr: check_fd(F, "stderr_fd", stderr_fd)? };
            o.stdio = stdio;
            Ok(())
        })
    }
}

/// A process exec'd into a container by rcontainer_container_exec(). It is this program's child:
/// the library reaps it when it ends (do not waitpid() it yourself) and keeps its status for
/// rcontainer_process_wait().
///
/// Ownership: the caller owns the handle and frees it with rcontainer_process_free(). Only this
/// process can wait for it. A handle must not be used by two threads at once (it may move
/// between threads). The handle does not refer to its container's handle: either may be freed
/// first.
pub struct rcontainer_process_t {
    magic: u64,
    inner: Process,
    container: String,
}

impl Handle for rcontainer_process_t {
    const KIND: Kind = Kind::Process;
    const MAGIC: u64 = MAGIC_PROCESS;
    fn magic(&self) -> u64 {
        self.magic
    }
    fn clear_magic(&mut self) {
        self.magic = 0;
    }
}

/// Looks up a process handle and runs `f` on it.
///
/// # Safety
/// `p` is NULL or a pointer returned by rcontainer.
unsafe fn with_process(
    func: &'static str,
    p: *const rcontainer_process_t,
    f: impl FnOnce(&mut rcontainer_process_t) -> Result<(), CErr>,
) -> *mut rcontainer_error_t {
    guard(func, || {
        // SAFETY: from_ptr checks the registry before dereferencing.
        let h = unsafe { rcontainer_process_t::from_ptr(p, func, "process") }?;
        f(h)
    })
}

/// Runs `argv` (a NULL-terminated array, as execv's; argv[0] is looked up in the container's PATH)
/// as a new process inside the created or running container: in all of its namespaces and its
/// cgroup, under its seccomp profile, as the container's own process does unless `options` (NULL:
/// none) changes it. Returns once the command has exec'd, or fails with why it could not (e.g.
/// RCONTAINER_ERROR_OS with ENOENT for a missing command; RCONTAINER_ERROR_WRONG_STATE for a
/// paused or stopped container; RCONTAINER_ERROR_NOT_FOUND once deleted).
///
/// On success `*out` receives a new handle the caller owns (rcontainer_process_free()). `argv`
/// and `options` are only read during the call.
///
/// # Safety
/// `container` and `options` NULL or pointers returned by rcontainer; `argv` NULL or a
/// NULL-terminated array of NUL-terminated strings; `out` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_container_exec(
    container: *mut rcontainer_container_t,
    argv: *const *const c_char,
    options: *const rcontainer_exec_options_t,
    out: *mut *mut rcontainer_process_t,
) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_container_exec";
    // SAFETY: as the caller's.
    unsafe {
        with_container(F, container, |h| {
            out_ptr(F, "out", out)?;
            let args = arg_str_array(F, "argv", argv)?;
            if args.is_empty() || args[0].is_empty() {
                return Err(CErr::arg(format!("{F}: argv must hold at least one non-empty string (the command)")));
            }
            let (mut cmd, stdio) = if options.is_null() {
                (ExecCommand::default(), Stdio::default())
            } else {
                // SAFETY: from_ptr checks the registry before dereferencing.
                let o = rcontainer_exec_options_t::from_ptr(options, F, "options")?;
                (o.cmd.clone(), o.stdio)
            };
            cmd.args = args;
            let c = h.container_mut();
            let process = c.exec_process(&cmd)?;
            let p = c.exec(&process, &ExecOptions { stdio, ..ExecOptions::default() })?;
            *out = rcontainer_process_t { magic: MAGIC_PROCESS, inner: p, container: c.id().to_string() }.into_raw();
            Ok(())
        })
    }
}

/// Frees the handle (closing its pidfd and pty master). It does not kill the process: one that
/// was not waited for keeps running. Either way no zombie is left: the library reaps every exec'd
/// process as soon as it ends (a thread of its own waits for it; a zombie in the container's pid
/// namespace would keep the container's init from ending). NULL and a handle freed already are
/// ignored.
///
/// # Safety
/// `process` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_process_free(process: *mut rcontainer_process_t) {
    // SAFETY: Handle::free only touches registered handles.
    guard_value((), || unsafe { rcontainer_process_t::free(process) })
}

/// The process's host pid (as seen from the caller's pid namespace).
///
/// # Safety
/// `process` is NULL or a pointer returned by rcontainer; `pid` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_process_pid(process: *const rcontainer_process_t, pid: *mut i32) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_process_pid";
    // SAFETY: as the caller's.
    unsafe {
        with_process(F, process, |h| {
            out_ptr(F, "pid", pid)?;
            *pid = h.inner.pid();
            Ok(())
        })
    }
}

/// The process's pidfd: readable (POLLIN) once it has ended, for an event loop; then
/// rcontainer_process_wait(p, 0, ...) reaps it.
///
/// Ownership: the fd belongs to the handle: do not close it. It is valid until the process is
/// reaped (rcontainer_process_wait() succeeded) or the handle is freed; dup() it to keep it.
/// RCONTAINER_ERROR_WRONG_STATE once reaped.
///
/// # Safety
/// `process` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_process_pidfd(process: *const rcontainer_process_t, fd: *mut c_int) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_process_pidfd";
    // SAFETY: as the caller's.
    unsafe {
        with_process(F, process, |h| {
            out_ptr(F, "fd", fd)?;
            let pidfd = h.inner.pidfd().ok_or_else(|| CErr {
                kind: crate::RCONTAINER_ERROR_WRONG_STATE,
                errno: 0,
                message: format!("{F}: process {} of container {:?} has no pidfd: it was reaped", h.inner.pid(), h.container),
            })?;
            *fd = pidfd.as_raw_fd();
            Ok(())
        })
    }
}

/// Waits for the process to end, at most `timeout_ms` milliseconds (negative: no limit; 0: just
/// check), and reaps it. On success `*status` (when not NULL) says how it ended; waiting again
/// returns the same status. RCONTAINER_ERROR_TIMEOUT when it still runs.
///
/// # Safety
/// `process` is NULL or a pointer returned by rcontainer; `status` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_process_wait(
    process: *mut rcontainer_process_t,
    timeout_ms: i64,
    status: *mut rcontainer_exit_status_t,
) -> *mut rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe {
        with_process("rcontainer_process_wait", process, |h| {
            let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
            let e = h.inner.wait(timeout)?;
            if !status.is_null() {
                *status = e.into();
            }
            Ok(())
        })
    }
}

/// Sends signal `sig` to the process (through its pidfd, so never to a recycled pid).
/// RCONTAINER_ERROR_WRONG_STATE once it was reaped.
///
/// # Safety
/// `process` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_process_kill(process: *mut rcontainer_process_t, sig: c_int) -> *mut rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe {
        with_process("rcontainer_process_kill", process, |h| {
            if !(1..=64).contains(&sig) {
                return Err(CErr::arg(format!("rcontainer_process_kill: sig = {sig} is not a signal number")));
            }
            Ok(h.inner.kill(sig)?)
        })
    }
}

/// The pty master of a process exec'd with a terminal (rcontainer_exec_options_set_terminal()):
/// read it for the process's output, write it for its input; reads give EIO once the process
/// (and whatever it started on the terminal) has closed it.
///
/// Ownership: the fd belongs to the handle: do not close it. It stays valid until
/// rcontainer_process_take_pty() or rcontainer_process_free(). RCONTAINER_ERROR_UNSUPPORTED when
/// the handle has none (no terminal, or taken already).
///
/// # Safety
/// `process` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_process_pty_fd(process: *const rcontainer_process_t, fd: *mut c_int) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_process_pty_fd";
    // SAFETY: as the caller's.
    unsafe {
        with_process(F, process, |h| {
            out_ptr(F, "fd", fd)?;
            let pty = h.inner.pty().ok_or_else(|| no_pty(F, format!("process {} of container {:?}", h.inner.pid(), h.container)))?;
            *fd = pty.as_raw_fd();
            Ok(())
        })
    }
}

/// Takes the pty master out of the handle (see rcontainer_process_pty_fd()).
///
/// Ownership: on success `*fd` is the caller's: close it when done. The handle has no pty master
/// afterwards (rcontainer_process_pty_fd() and rcontainer_process_resize_pty() fail with
/// RCONTAINER_ERROR_UNSUPPORTED).
///
/// # Safety
/// `process` is NULL or a pointer returned by rcontainer; `fd` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_process_take_pty(process: *mut rcontainer_process_t, fd: *mut c_int) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_process_take_pty";
    // SAFETY: as the caller's.
    unsafe {
        with_process(F, process, |h| {
            out_ptr(F, "fd", fd)?;
            let pty = h.inner.take_pty().ok_or_else(|| no_pty(F, format!("process {} of container {:?}", h.inner.pid(), h.container)))?;
            *fd = pty.into_raw_fd();
            Ok(())
        })
    }
}

/// Sets the size of the process's terminal (`rows` lines of `cols` columns); its foreground
/// process group gets SIGWINCH. RCONTAINER_ERROR_UNSUPPORTED when the handle holds no pty master;
/// RCONTAINER_ERROR_INVALID_ARGUMENT for a 0 size.
///
/// # Safety
/// `process` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_process_resize_pty(process: *mut rcontainer_process_t, rows: u16, cols: u16) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_process_resize_pty";
    // SAFETY: as the caller's.
    unsafe {
        with_process(F, process, |h| {
            check_size(F, rows, cols)?;
            if h.inner.pty().is_none() {
                return Err(no_pty(F, format!("process {} of container {:?}", h.inner.pid(), h.container)));
            }
            Ok(h.inner.resize_pty(rows, cols)?)
        })
    }
}
