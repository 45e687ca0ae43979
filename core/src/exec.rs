//! exec: a new process inside a created or running container (runc exec). It joins every
//! namespace of the container's init that is not already ours, its cgroup (born there on v2:
//! CLONE_INTO_CGROUP), and gets the container's seccomp profile; its own `process` (an OCI
//! Process: args, env, cwd, user, capabilities, no_new_privileges, rlimits, terminal, LSM label)
//! says the rest. The same child as a container's init runs it (raw syscalls, the exec stub), so
//! the rules of DESIGN.md hold for it too: it never runs the host's binary, holds no host fd
//! when it resolves the container's paths, and gets the caller's terminal only through a pty.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
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
}

/// A process exec'd into a container. Only the process that exec'd it can wait for it.
#[derive(Debug)]
pub struct Process {
    container: String,
    pid: i32,
    pidfd: Option<OwnedFd>,
    pty: Option<OwnedFd>,
    exit: Option<ExitStatus>,
    cgroup: Option<Cgroup>,
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

        // The start "fifo" of an exec: a pipe, written as soon as the process is ready.
        let (start_r, start_w) = sys::pipe_cloexec().map_err(Error::sys("pipe"))?;
        let pipes = spawn::pipes()?;
        let cgroup = state.cgroup.as_ref().map(Cgroup::from_record);
        let tasks = match &cgroup {
            Some(c) => c.v1_self_join_fds()?,
            None => Vec::new(),
        };
        let inputs = PlanInputs {
            seccomp_cache: Some(self.root().join(".seccomp-cache")),
            cgroup_tasks: tasks.iter().map(|(p, fd)| (p.clone(), fd.as_raw_fd())).collect(),
            report_fd: pipes.report_w.as_raw_fd(),
            go_fd: pipes.go_r.as_raw_fd(),
            start_fd: start_r.as_raw_fd(),
            stdio: [opts.stdio.stdin, opts.stdio.stdout, opts.stdio.stderr],
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
        let mut proc = Process { container: id, pid: spawned.pid, pidfd: Some(spawned.pidfd), pty: None, exit: None, cgroup };
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

    /// Its pidfd, readable once it has exited (None once reaped).
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
        let pty = self.pty.as_ref().ok_or_else(|| Error::Unsupported(format!("resize: this process of container {:?} has no terminal of its own here", self.container)))?;
        sys::set_winsize(pty.as_raw_fd(), rows, cols).map_err(Error::sys("resize the terminal"))
    }

    /// Sends `signal` to the process.
    pub fn kill(&self, signal: i32) -> Result<()> {
        let fd = self.pidfd.as_ref().ok_or_else(|| Error::WrongState { id: self.container.clone(), op: "kill the exec'd process of", status: Status::Stopped })?;
        sys::pidfd_send_signal(fd.as_fd(), self.pid, signal).map_err(|e| Error::Sys { op: format!("kill process {} of container {:?} with signal {signal}", self.pid, self.container), errno: e })
    }

    /// Waits for the process to end (at most `timeout`) and returns how it ended.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<ExitStatus> {
        if let Some(e) = self.exit {
            return Ok(e);
        }
        let fd = self.pidfd.as_ref().ok_or_else(|| Error::WrongState { id: self.container.clone(), op: "wait for the exec'd process of", status: Status::Stopped })?;
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let ms = match deadline {
                None => -1,
                Some(d) => d.saturating_duration_since(Instant::now()).as_millis().min(i32::MAX as u128) as i32,
            };
            if sys::poll_one(fd.as_raw_fd(), libc::POLLIN, ms).map_err(Error::sys("poll pidfd"))? {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout(timeout.unwrap_or_default()));
            }
        }
        match sys::waitid_pidfd(fd.as_fd(), false).map_err(Error::sys("waitid"))? {
            Some(e) => Ok(self.reaped(e)),
            None => Err(Error::Sys { op: "waitid".into(), errno: Errno::ECHILD }),
        }
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

    fn reap(&mut self) {
        if let Some(fd) = &self.pidfd {
            if let Ok(Some(e)) = sys::waitid_pidfd(fd.as_fd(), false) {
                self.reaped(e);
            }
        }
    }

    fn kill_and_reap(&mut self) {
        let _ = self.kill(libc::SIGKILL);
        self.reap();
    }
}
