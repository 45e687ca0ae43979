//! exec: a new process inside a created or running container (runc exec). It joins every
//! namespace of the container's init that is not already ours, its cgroup (born there on v2:
//! CLONE_INTO_CGROUP), and gets the container's seccomp profile; its own `process` (an OCI
//! Process: args, env, cwd, user, capabilities, no_new_privileges, rlimits, terminal, LSM label)
//! says the rest. The same child as a container's init runs it (raw syscalls, the exec stub), so
//! the rules of DESIGN.md hold for it too: it never runs the host's binary, holds no host fd
//! when it resolves the container's paths, and gets the caller's terminal only through a pty.
//!
//! Reaping: an exec'd process is our child, but lives in the container's pid namespace. When
//! the container's init exits, the kernel kills every process of the namespace and the init
//! does not finish exiting until each of them has been reaped: an exec'd process left a zombie
//! (its handle not waited for, or dropped) would keep `Container::wait` and `Container::delete`
//! waiting on the init forever. So each exec'd process gets a reaper thread that blocks in
//! waitid(2) on it and keeps its exit status for the handle, unless the exec is detached
//! ([`ExecOptions::detach`]): then the exit status belongs to whoever inherits the process.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType, Process as OciProcess};

use crate::cgroups::Cgroup;
use crate::container::{Container, ExitStatus, Stdio};
use crate::error::{Error, Result};
use crate::plan::{Plan, PlanInputs};
use crate::state::{self, Status};
use crate::{spawn, sys};

/// Options of [`Container::exec`] that are not part of the process.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The process's stdin, stdout and stderr (None: the caller's). Borrowed during `exec`.
    pub stdio: Stdio,
    /// With `process.terminal`: a connected unix socket the pty master is sent to (runc's
    /// `--console-socket`); without one, the master stays with the [`Process`] handle.
    pub console_socket: Option<RawFd>,
    /// Pass fds 3..3+N to the process.
    pub preserve_fds: u32,
    /// Leave the reaping to whoever inherits the process (runc's `exec --detach`): no reaper
    /// thread is started, so the exit status stays with the process until this process exits
    /// and its parent (containerd's shim, conmon: child subreapers) collects it. Without this,
    /// a command that exits at once would be reaped here and its exit lost to that parent,
    /// which then waits for it forever. [`Process::wait`] still works (it reaps in the calling
    /// thread), but nothing else reaps the process: wait for it or exit.
    pub detach: bool,
}

/// The process an exec runs, as `runc exec CMD` and `docker exec` build it: the container's own
/// process (its saved config: env, cwd, user, capabilities, no_new_privileges, rlimits, LSM
/// labels) with `args` as the command, no terminal unless asked, and the changes given here.
/// [`Container::exec_process`] turns it into the OCI process that [`Container::exec`] runs.
#[derive(Debug, Clone, Default)]
pub struct ExecCommand {
    /// The command and its arguments (args[0] is looked up in the container's PATH).
    pub args: Vec<String>,
    /// Variables set in (or replaced in) the container's environment.
    pub env: Vec<(String, String)>,
    /// Working directory (absolute, inside the container); default: the container's.
    pub cwd: Option<std::path::PathBuf>,
    /// (uid, gid) to run as; default: the container's user.
    pub user: Option<(u32, u32)>,
    /// A terminal of its own (a new pty; its master stays with the [`Process`] unless
    /// [`ExecOptions::console_socket`] is given), of this size (rows, columns) when given.
    pub terminal: bool,
    pub terminal_size: Option<(u16, u16)>,
}

/// A process exec'd into a container. Only the process that exec'd it can wait for it. It is
/// reaped as soon as it ends (by a thread of its own), whether or not the handle is kept.
#[derive(Debug)]
pub struct Process {
    container: String,
    pid: i32,
    pidfd: Option<OwnedFd>,
    pty: Option<OwnedFd>,
    exit: Option<ExitStatus>,
    cgroup: Option<Cgroup>,
    /// The reaper thread's finding; None for a detached exec (reaped by `wait` itself).
    reaped: Option<Arc<Reaped>>,
}

/// What the reaper thread found (waitid's result), for the handle.
#[derive(Debug, Default)]
struct Reaped {
    exit: Mutex<Option<Result<Option<sys::Exit>, Errno>>>,
    done: Condvar,
}

impl Reaped {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Result<Option<sys::Exit>, Errno>>> {
        self.exit.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The stdio of a process with a terminal (the pty replaces it): /dev/null where none is given.
/// The child would otherwise close inherited close-on-exec fds 0-2 (Node's), open the pty slave
/// on one of them, and then fail to dup it onto itself (dup3 refuses old == new: EINVAL in
/// "make the terminal the stdio"); with 0-2 taken, the slave lands above them. The returned fd
/// must stay open until the spawn returns.
pub(crate) fn terminal_stdio(stdio: Stdio) -> Result<(Stdio, Option<OwnedFd>)> {
    if stdio.stdin.is_some() && stdio.stdout.is_some() && stdio.stderr.is_some() {
        return Ok((stdio, None));
    }
    let null: OwnedFd = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .and_then(sys::not_stdio)
        .map_err(Error::sys("open /dev/null (stdio under the terminal)"))?;
    let fd = null.as_raw_fd();
    Ok((Stdio { stdin: stdio.stdin.or(Some(fd)), stdout: stdio.stdout.or(Some(fd)), stderr: stdio.stderr.or(Some(fd)) }, Some(null)))
}

/// Starts the thread that reaps the child behind `pidfd` as soon as it ends.
fn start_reaper(pid: i32, pidfd: &OwnedFd) -> Result<Arc<Reaped>> {
    let reaped = Arc::new(Reaped::default());
    let fd = pidfd.try_clone().map_err(|e| Error::Io { op: "dup the pidfd of exec'd process", path: pid.to_string().into(), source: e })?;
    let r = reaped.clone();
    std::thread::Builder::new()
        .name(format!("rcontainer-reap-{pid}"))
        .spawn(move || {
            let exit = sys::waitid_pidfd(fd.as_fd(), false);
            *r.lock() = Some(exit);
            r.done.notify_all();
        })
        .map_err(|e| Error::Io { op: "start the reaper thread of exec'd process", path: pid.to_string().into(), source: e })?;
    Ok(reaped)
}

/// Namespace types in the order they are joined (the user namespace first: it grants the rights
/// to join the others), with their /proc/<pid>/ns names.
const NAMESPACES: &[(LinuxNamespaceType, &str)] = &[
    (LinuxNamespaceType::User, "user"),
    (LinuxNamespaceType::Mount, "mnt"),
    (LinuxNamespaceType::Cgroup, "cgroup"),
    (LinuxNamespaceType::Ipc, "ipc"),
    (LinuxNamespaceType::Uts, "uts"),
    (LinuxNamespaceType::Network, "net"),
    (LinuxNamespaceType::Pid, "pid"),
    (LinuxNamespaceType::Time, "time"),
];

/// (device, inode) of a namespace link.
fn ns_id(path: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl Container {
    /// Runs `process` inside this container (created or running; not paused or stopped), and
    /// returns once it has exec'd (or fails with why it could not: the step and errno, as
    /// create does). The container's saved config gives the namespaces to join and its seccomp
    /// profile; `process` gives everything else (runc exec's --process).
    pub fn exec(&mut self, process: &OciProcess, opts: &ExecOptions) -> Result<Process> {
        self.exec_path(process, opts, None)
    }

    /// The OCI process for `cmd`: the container's own process (from the config saved at create)
    /// with `cmd`'s command and changes applied (see [`ExecCommand`]). Fails with NotFound once
    /// the container is deleted, InvalidSpec naming `env` for a variable name that cannot work.
    pub fn exec_process(&mut self, cmd: &ExecCommand) -> Result<OciProcess> {
        self.state()?; // NotFound once deleted
        let mut p = self.config()?.config().process().clone().unwrap_or_default();
        p.set_args(Some(cmd.args.clone()));
        let mut env = p.env().clone().unwrap_or_default();
        for (k, v) in &cmd.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(Error::invalid("env", format!("{k:?}"), "variable names must be non-empty and contain no '=' or NUL"));
            }
            let prefix = format!("{k}=");
            env.retain(|e| !e.starts_with(&prefix));
            env.push(format!("{k}={v}"));
        }
        p.set_env(Some(env));
        if let Some(cwd) = &cmd.cwd {
            p.set_cwd(cwd.clone());
        }
        if let Some((uid, gid)) = cmd.user {
            let user = p.user_mut();
            user.set_uid(uid);
            user.set_gid(gid);
        }
        p.set_terminal(Some(cmd.terminal));
        let size = match (cmd.terminal, cmd.terminal_size) {
            (true, Some((rows, cols))) => Some(
                oci_spec::runtime::BoxBuilder::default()
                    .height(rows as u64)
                    .width(cols as u64)
                    .build()
                    .map_err(|e| Error::invalid("process.consoleSize", format!("{rows}x{cols}"), e.to_string()))?,
            ),
            _ => None,
        };
        p.set_console_size(size);
        Ok(p)
    }

    /// [`Container::exec`] of the file `path` (resolved in the container), with `process.args`
    /// as its argv (argv[0] included): how a startContainer hook runs.
    pub(crate) fn exec_path(&mut self, process: &OciProcess, opts: &ExecOptions, path: Option<&std::path::Path>) -> Result<Process> {
        let status = self.status()?;
        if !matches!(status, Status::Created | Status::Running) {
            return Err(Error::WrongState { id: self.id().to_string(), op: "exec in", status });
        }
        crate::spec::validate_process(process)?;
        let state = self.state()?;
        let config = state::load_config(self.root(), &state)?;
        let init = state.pid;

        // Every namespace of the init that is not already ours, joined by path.
        let mut joins = Vec::new();
        for (typ, name) in NAMESPACES {
            let theirs = format!("/proc/{init}/ns/{name}");
            match (ns_id(&theirs), ns_id(&format!("/proc/self/ns/{name}"))) {
                (Some(t), Some(o)) if t != o => joins.push(
                    LinuxNamespaceBuilder::default()
                        .typ(*typ)
                        .path(std::path::PathBuf::from(&theirs))
                        .build()
                        .map_err(|e| Error::invalid("linux.namespaces", name, e.to_string()))?,
                ),
                _ => {}
            }
        }
        let mut spec = config;
        {
            let c = spec.config_mut();
            c.set_process(Some(process.clone()));
            c.set_mounts(None);
            c.set_hostname(None);
            c.set_domainname(None);
            if let Some(linux) = c.linux_mut() {
                linux.set_namespaces(Some(joins));
                linux.set_uid_mappings(None);
                linux.set_gid_mappings(None);
                linux.set_sysctl(None);
                linux.set_masked_paths(None);
                linux.set_readonly_paths(None);
                linux.set_devices(None);
                linux.set_mount_label(None);
            }
        }

        // The terminal: our own socket pair when the caller gave no console socket.
        let terminal = process.terminal() == Some(true);
        let own_console = match (terminal, opts.console_socket) {
            (true, None) => Some(crate::container::console_pair()?),
            _ => None,
        };
        let console_socket = own_console.as_ref().map(|(_, theirs)| theirs.as_raw_fd()).or(if terminal { opts.console_socket } else { None });
        let (stdio, _null) = if terminal { terminal_stdio(opts.stdio)? } else { (opts.stdio, None) };

        // The start "fifo" of an exec: a pipe, written as soon as the process is ready.
        let (start_r, start_w) = sys::pipe_cloexec().map_err(Error::sys("pipe"))?;
        let pipes = spawn::pipes()?;
        let cgroup = state.cgroup.as_ref().map(Cgroup::from_record);
        let tasks = match &cgroup {
            Some(c) => c.v1_self_join_fds()?,
            None => Vec::new(),
        };
        let inputs = PlanInputs {
            seccomp_cache: Some(state::cache::seccomp_dir(&state::cache::default_dir())),
            cgroup_tasks: tasks.iter().map(|(p, fd)| (p.clone(), fd.as_raw_fd())).collect(),
            report_fd: pipes.report_w.as_raw_fd(),
            go_fd: pipes.go_r.as_raw_fd(),
            start_fd: start_r.as_raw_fd(),
            stdio: [stdio.stdin, stdio.stdout, stdio.stderr],
            console_socket,
            preserve_fds: opts.preserve_fds,
            no_pivot: false,
            exec: true,
            exec_path: path.map(std::path::Path::to_path_buf),
        };
        let plan = Plan::build(&spec, &inputs)?;
        let exec_what = plan.exec_what.clone();
        // The namespaces are open: make sure they are still the init's (not a recycled pid's).
        if state::process_start_time(init) != Some(state.pid_start_time) {
            return Err(Error::WrongState { id: self.id().to_string(), op: "exec in", status: Status::Stopped });
        }
        let cgroup_fd = cgroup.as_ref().and_then(Cgroup::v2_dir_fd);
        let id = self.id().to_string();
        let spawned = spawn::spawn(
            &id,
            plan,
            pipes,
            cgroup_fd.as_ref().map(|f| f.as_raw_fd()),
            |pid, placed| {
                if !placed && tasks.is_empty() {
                    if let Some(c) = &cgroup {
                        c.add_pid(pid)?;
                    }
                }
                Ok(())
            },
            |_| Ok(()),
        )?;
        drop(tasks);
        drop(start_r);
        let reaped = match if opts.detach { Ok(None) } else { start_reaper(spawned.pid, &spawned.pidfd).map(Some) } {
            Ok(r) => r,
            Err(e) => {
                let _ = sys::pidfd_send_signal(spawned.pidfd.as_fd(), spawned.pid, libc::SIGKILL);
                let _ = sys::waitid_pidfd(spawned.pidfd.as_fd(), false);
                return Err(e);
            }
        };
        let mut proc = Process { container: id, pid: spawned.pid, pidfd: Some(spawned.pidfd), pty: None, exit: None, cgroup, reaped };
        if let Some((ours, theirs)) = own_console {
            drop(theirs);
            match sys::recv_fd(ours.as_raw_fd()) {
                Ok(fd) => proc.pty = Some(fd),
                Err(e) => {
                    proc.kill_and_reap();
                    return Err(Error::sys("receive the terminal's pty master")(e));
                }
            }
        }
        // Released at once; EOF on the report pipe says the command has exec'd.
        if let Err(e) = sys::write_no_sigpipe(start_w.as_raw_fd(), b"1") {
            proc.kill_and_reap();
            return Err(Error::Sys { op: "start the exec'd process".into(), errno: e });
        }
        drop(start_w);
        if let Some(r) = spawn::read_report(spawned.report.as_raw_fd())? {
            let what = crate::plan::late_what(r.step, &exec_what).unwrap_or_else(|| "exec".into());
            proc.reap();
            return Err(Error::Setup { what, errno: Errno::from_raw(r.errno) });
        }
        Ok(proc)
    }
}

impl Process {
    /// The process's pid (in the host's pid namespace).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Its pidfd, readable once it has exited (None once [`Process::wait`] or
    /// [`Process::try_wait`] returned its exit status).
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|f| f.as_fd())
    }

    /// The pty master of a process exec'd with a terminal and no console socket.
    pub fn pty(&self) -> Option<BorrowedFd<'_>> {
        self.pty.as_ref().map(|f| f.as_fd())
    }

    /// Takes the pty master out (the caller owns it then).
    pub fn take_pty(&mut self) -> Option<OwnedFd> {
        self.pty.take()
    }

    /// Sets its terminal's size (rows, columns).
    pub fn resize_pty(&self, rows: u16, cols: u16) -> Result<()> {
        let pty = self
            .pty
            .as_ref()
            .ok_or_else(|| Error::Unsupported(format!("resize: this process of container {:?} has no terminal of its own here", self.container)))?;
        sys::set_winsize(pty.as_raw_fd(), rows, cols).map_err(Error::sys("resize the terminal"))
    }

    /// Sends `signal` to the process. WrongState once it has ended.
    pub fn kill(&self, signal: i32) -> Result<()> {
        let stopped = || Error::WrongState { id: self.container.clone(), op: "kill the exec'd process of", status: Status::Stopped };
        let fd = self.pidfd.as_ref().ok_or_else(stopped)?;
        if self.reaped.as_ref().is_some_and(|r| r.lock().is_some()) {
            return Err(stopped());
        }
        match sys::pidfd_send_signal(fd.as_fd(), self.pid, signal) {
            Ok(()) => Ok(()),
            // Reaped between the check and the signal.
            Err(Errno::ESRCH) => Err(stopped()),
            Err(e) => Err(Error::Sys { op: format!("kill process {} of container {:?} with signal {signal}", self.pid, self.container), errno: e }),
        }
    }

    /// Waits for the process to end (at most `timeout`) and returns how it ended.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<ExitStatus> {
        if let Some(e) = self.exit {
            return Ok(e);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let Some(reaped) = self.reaped.clone() else {
            return self.wait_here(deadline, timeout);
        };
        let mut g = reaped.lock();
        let found = loop {
            if let Some(r) = *g {
                break r;
            }
            match deadline {
                None => g = reaped.done.wait(g).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now < d {
                        g = reaped.done.wait_timeout(g, d - now).unwrap_or_else(|p| p.into_inner()).0;
                    } else if self.has_exited() {
                        // Ended, and the reaper is about to record it: a caller that polled the
                        // pidfd and then asks must get the status, not a timeout.
                        g = reaped.done.wait(g).unwrap_or_else(|p| p.into_inner());
                    } else {
                        return Err(Error::Timeout(timeout.unwrap_or_default()));
                    }
                }
            }
        };
        drop(g);
        match found {
            Ok(Some(e)) => Ok(self.reaped(e)),
            Ok(None) => Err(Error::Sys { op: format!("waitid process {} of container {:?}", self.pid, self.container), errno: Errno::ECHILD }),
            Err(e) => Err(Error::Sys { op: format!("waitid process {} of container {:?}", self.pid, self.container), errno: e }),
        }
    }

    /// `wait` of a detached exec (no reaper thread): poll the pidfd until `deadline`, then reap.
    fn wait_here(&mut self, deadline: Option<Instant>, timeout: Option<Duration>) -> Result<ExitStatus> {
        let gone = || Error::Sys { op: format!("waitid process {} of container {:?}", self.pid, self.container), errno: Errno::ECHILD };
        let fd = self.pidfd.as_ref().ok_or_else(gone)?;
        let ended = sys::pidfd_wait_until(fd.as_raw_fd(), deadline)
            .map_err(|e| Error::Sys { op: format!("poll process {} of container {:?}", self.pid, self.container), errno: e })?;
        if !ended {
            return Err(Error::Timeout(timeout.unwrap_or_default()));
        }
        match sys::waitid_pidfd(fd.as_fd(), false) {
            Ok(Some(e)) => Ok(self.reaped(e)),
            Ok(None) => Err(gone()),
            Err(e) => Err(Error::Sys { op: format!("waitid process {} of container {:?}", self.pid, self.container), errno: e }),
        }
    }

    /// Whether the pidfd says the process has ended (reaped or not).
    fn has_exited(&self) -> bool {
        self.pidfd.as_ref().is_some_and(|fd| sys::poll_one(fd.as_raw_fd(), libc::POLLIN, 0).unwrap_or(false))
    }

    /// The exit status if the process has ended, else None (does not block).
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        match self.wait(Some(Duration::ZERO)) {
            Ok(s) => Ok(Some(s)),
            Err(Error::Timeout(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn reaped(&mut self, e: sys::Exit) -> ExitStatus {
        let oom_killed = self.cgroup.as_ref().is_some_and(|c| c.oom_kill_count() > 0);
        let status = match e {
            sys::Exit::Code(c) => ExitStatus { code: Some(c), signal: None, oom_killed },
            sys::Exit::Signal(s) => ExitStatus { code: None, signal: Some(s), oom_killed },
        };
        self.exit = Some(status);
        self.pidfd = None;
        status
    }

    /// After a failed exec: the process has ended or is ending; collect its status.
    fn reap(&mut self) {
        let _ = self.wait(Some(Duration::from_secs(10)));
    }

    fn kill_and_reap(&mut self) {
        let _ = self.kill(libc::SIGKILL);
        self.reap();
    }
}
