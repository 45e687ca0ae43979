//! OCI hooks: programs the runtime runs at points of a container's life, with the container's
//! state (JSON) on their stdin, its `args`, `env` and `timeout` (seconds) honoured.
//!
//! - `prestart` (deprecated) and `createRuntime`: during `create`, once the container's
//!   namespaces and mounts exist and before pivot_root, in the runtime's namespaces (Docker sets
//!   up a user-defined bridge network this way, entering the container's network namespace by
//!   its pid);
//! - `createContainer`: at the same moment, in the container's namespaces;
//! - `startContainer`: during `start`, before the command runs, inside the container (run as
//!   an exec'd process: its path resolved in the container, never the host's binary);
//! - `poststart` after `start`, `poststop` after `delete`, in the runtime's namespaces: a failure
//!   there is only a warning (the spec's rule).
//!
//! Hooks run in the runtime, not in the container's setup child, so the child's rule (raw
//! system calls only) does not bind them: the child waits at a sync point meanwhile.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks};

use crate::error::{Error, Result};

/// The points of a container's life where hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Point {
    pub fn name(self) -> &'static str {
        match self {
            Point::Prestart => "prestart",
            Point::CreateRuntime => "createRuntime",
            Point::CreateContainer => "createContainer",
            Point::StartContainer => "startContainer",
            Point::Poststart => "poststart",
            Point::Poststop => "poststop",
        }
    }

    /// The hooks of `hooks` at this point.
    #[allow(deprecated)] // prestart: deprecated by the spec, still run (Docker uses it)
    pub fn of(self, hooks: &Hooks) -> &[Hook] {
        let list = match self {
            Point::Prestart => hooks.prestart(),
            Point::CreateRuntime => hooks.create_runtime(),
            Point::CreateContainer => hooks.create_container(),
            Point::StartContainer => hooks.start_container(),
            Point::Poststart => hooks.poststart(),
            Point::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or(&[])
    }
}

/// Whether the spec has hooks that run while `create` waits before pivot_root.
pub(crate) fn any_at_create(hooks: Option<&Hooks>) -> bool {
    hooks.is_some_and(|h| [Point::Prestart, Point::CreateRuntime, Point::CreateContainer].iter().any(|p| !p.of(h).is_empty()))
}

/// The most of a hook's output kept for an error message.
const OUTPUT_TAIL: usize = 2048;

/// Runs one hook with `state` on its stdin; in the namespaces of process `ns_pid` (user, mount,
/// cgroup, ipc, uts, network) when given. Fails naming the hook and what it printed.
pub(crate) fn run_one(point: Point, i: usize, hook: &Hook, state: &str, ns_pid: Option<i32>) -> Result<()> {
    let what = format!("{} hook [{i}] {}", point.name(), hook.path().display());
    let mut cmd = Command::new(hook.path());
    if let Some([arg0, rest @ ..]) = hook.args().as_deref() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear().envs(hook.env().as_deref().unwrap_or(&[]).iter().filter_map(|kv| kv.split_once('=')));
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(pid) = ns_pid {
        // Opened here (in the runtime), joined between fork and exec: only setns there.
        let mut fds = Vec::new();
        for name in ["user", "mnt", "cgroup", "ipc", "uts", "net"] {
            let ours = std::fs::metadata(format!("/proc/self/ns/{name}")).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).ok();
            let path = format!("/proc/{pid}/ns/{name}");
            let theirs = std::fs::metadata(&path).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).ok();
            if theirs.is_some() && theirs != ours {
                fds.push(std::fs::File::open(&path).map_err(Error::io("open", path))?);
            }
        }
        let raw: Vec<i32> = fds.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
        // SAFETY: setns only, on fds that stay open until the spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                for fd in &raw {
                    if libc::setns(*fd, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        return spawn_and_wait(&what, cmd, hook.timeout(), state, Some(fds));
    }
    spawn_and_wait(&what, cmd, hook.timeout(), state, None)
}

fn spawn_and_wait(what: &str, mut cmd: Command, timeout: Option<i64>, state: &str, _keep: Option<Vec<std::fs::File>>) -> Result<()> {
    let mut child =
        cmd.spawn().map_err(|e| Error::Sys { op: format!("run {what}"), errno: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)) })?;
    drop(_keep);
    // The state on stdin (a hook that does not read it must not block us: a thread writes).
    let mut stdin = child.stdin.take();
    let state = state.to_string();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(state.as_bytes());
        }
    });
    let readers =
        [child.stdout.take().map(|o| Box::new(o) as Box<dyn Read + Send>), child.stderr.take().map(|e| Box::new(e) as Box<dyn Read + Send>)].map(|r| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut buf);
                }
                buf
            })
        });
    let deadline = timeout.filter(|t| *t > 0).map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            let _ = writer.join();
            return Err(Error::Sys {
                op: format!("{what} did not finish within its timeout of {}s (killed)", timeout.unwrap_or(0)),
                errno: nix::errno::Errno::ETIMEDOUT,
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let _ = writer.join();
    let [out, err] = readers.map(|r| r.join().unwrap_or_default());
    let status =
        status.map_err(|e| Error::Sys { op: format!("wait for {what}"), errno: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)) })?;
    if status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&err).into_owned();
    if text.trim().is_empty() {
        text = String::from_utf8_lossy(&out).into_owned();
    }
    let text = text.trim();
    let mut start = text.len().saturating_sub(OUTPUT_TAIL);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let tail = &text[start..];
    Err(Error::Hook { what: what.to_string(), status: status.to_string(), output: tail.escape_debug().to_string() })
}

/// Runs every hook of `point` in order; the first failure stops them and is returned.
pub(crate) fn run(point: Point, hooks: Option<&Hooks>, state: &str, ns_pid: Option<i32>) -> Result<()> {
    let Some(h) = hooks else { return Ok(()) };
    for (i, hook) in point.of(h).iter().enumerate() {
        run_one(point, i, hook, state, ns_pid)?;
    }
    Ok(())
}

/// Runs the hooks of a point where a failure is only a warning (poststart, poststop): every hook
/// runs; the failures come back as messages.
pub(crate) fn run_warning(point: Point, hooks: Option<&Hooks>, state: &str) -> Vec<String> {
    let Some(h) = hooks else { return Vec::new() };
    point.of(h).iter().enumerate().filter_map(|(i, hook)| run_one(point, i, hook, state, None).err().map(|e| e.to_string())).collect()
}
