//! Container: the lifecycle verbs. `create` sets the process up and leaves it blocked before
//! exec; `start` releases it; `wait` reaps it through its pidfd; `kill` signals it; `delete`
//! removes what create made. A container created by one process can be loaded by id in another.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use oci_spec::runtime::LinuxResources;

use crate::cgroups::{Cgroup, Stats};
use crate::error::{Error, Result};
use crate::hooks;
use crate::plan::{Plan, PlanInputs};
use crate::spawn;
use crate::spec::Spec;
use crate::state::{self, State, Status};
use crate::sys;

/// File descriptors for the container's stdin, stdout and stderr. `None` inherits the caller's.
/// The fds are borrowed: they only need to stay open during `create`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stdio {
    pub stdin: Option<RawFd>,
    pub stdout: Option<RawFd>,
    pub stderr: Option<RawFd>,
}

/// Options of `create` that are not part of the OCI config.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// State root (runc's `--root`); default `/run/rcontainer`.
    pub root: PathBuf,
    pub stdio: Stdio,
    /// Pass fds 3..3+N to the container (runc's `--preserve-fds`).
    pub preserve_fds: u32,
    /// Use MS_MOVE + chroot instead of pivot_root (runc's `--no-pivot`).
    pub no_pivot: bool,
    /// Write the container's host pid here (runc's `--pid-file`).
    pub pid_file: Option<PathBuf>,
    /// With `process.terminal`: a connected unix socket the pty master is sent to (runc's
    /// `--console-socket`; borrowed: it only needs to stay open during `create`). Without one,
    /// the master stays with the handle ([`Container::pty`]).
    pub console_socket: Option<RawFd>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            root: crate::rootless::default_state_root(),
            stdio: Stdio::default(),
            preserve_fds: 0,
            no_pivot: false,
            pid_file: None,
            console_socket: None,
        }
    }
}

/// How a container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// Exit code when it exited.
    pub code: Option<i32>,
    /// Signal number when a signal killed it.
    pub signal: Option<i32>,
    /// Whether the kernel's OOM killer ended it (needs a memory cgroup; false otherwise).
    pub oom_killed: bool,
}

impl ExitStatus {
    /// The shell's convention: the code, or 128 + signal.
    pub fn exit_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 255,
        }
    }
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit code {c}")?,
            (None, Some(s)) => write!(f, "killed by signal {s}")?,
            _ => write!(f, "unknown exit")?,
        }
        if self.oom_killed {
            write!(f, " (OOM killed)")?;
        }
        Ok(())
    }
}

/// A handle on one container.
#[derive(Debug)]
pub struct Container {
    root: PathBuf,
    state: State,
    pidfd: Option<OwnedFd>,
    /// Report pipe from create (only in the creating process): EOF once exec succeeded.
    report: Option<OwnedFd>,
    /// What the exec is (`exec "sh" (searched $PATH)`), for an exec failure seen at start.
    exec_what: String,
    /// Whether this process is the container init's parent (so it can reap it).
    is_parent: bool,
    exit: Option<ExitStatus>,
    deleted: bool,
    cgroup: Option<Cgroup>,
    /// The pty master of a container with a terminal, when no console socket was given.
    pty: Option<OwnedFd>,
    /// What went wrong without failing the call (poststart and poststop hooks).
    warnings: Vec<String>,
}

/// The exec fifo: writing to it starts the container, so only its owner may (0600). The init
/// gets its end by inheritance, never by path.
fn ensure_fifo(dir: &Path) -> Result<()> {
    let fifo = dir.join(state::EXEC_FIFO);
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).map_err(|e| Error::Sys { op: format!("mkfifo {}", fifo.display()), errno: e })
}

/// Removes a state dir: only the files rcontainer puts there, never following anything.
/// SIGKILL to `pid` if it is still the process that started at `start_time` (through a pidfd,
/// checked again once opened: a recycled pid is never signalled).
fn kill_if_same(pid: i32, start_time: u64) {
    if pid <= 0 || state::process_start_time(pid) != Some(start_time) {
        return;
    }
    if let Ok(fd) = sys::pidfd_open(pid) {
        if state::process_start_time(pid) == Some(start_time) {
            let _ = sys::pidfd_send_signal(fd.as_fd(), pid, libc::SIGKILL);
            let _ = sys::poll_one(fd.as_raw_fd(), libc::POLLIN, 5_000);
        }
    }
}

/// Removes what a create of container `id` killed before its state dir was in place left in
/// `root` (a temporary state dir whose creator is gone); what `delete --force` of an id that does
/// not exist does.
pub fn remove_abandoned(root: impl AsRef<Path>, id: &str) -> Result<()> {
    state::validate_id(id)?;
    state::collect_abandoned(root.as_ref(), Some(id));
    Ok(())
}

/// Removes the state dir of a container whose state file is corrupt (or missing): what a
/// `delete --force` can do when the state cannot say where the container's cgroup and init are.
/// An init still blocked on the directory's exec fifo is found by that fifo (every process
/// holding it open) and killed first.
pub fn remove_corrupt(root: impl AsRef<Path>, id: &str) -> Result<()> {
    state::validate_id(id)?;
    let dir = state::state_dir(root.as_ref(), id);
    if !dir.is_dir() {
        return Err(Error::NotFound { id: id.to_string() });
    }
    // Its cgroup, when it had the default placement (`<own cgroup>/rcontainer-<id>`, made by us
    // whatever the state says): the saved config tells. A cgroupsPath of the config's own may be
    // shared, and is left alone.
    let config = crate::spec::read_bounded(&dir.join(state::CONFIG_FILE)).ok().and_then(|t| crate::spec::Spec::from_json(&t, "/").ok());
    let custom_path = config.as_ref().and_then(|s| s.config().linux().as_ref().and_then(|l| l.cgroups_path().clone())).filter(|p| !p.as_os_str().is_empty());
    if config.is_some() && custom_path.is_none() {
        if let Ok(mut record) = Cgroup::plan(id, None) {
            record.created = record.dirs.values().cloned().collect();
            let _ = Cgroup::from_record(&record).destroy();
        }
    }
    let fifo = dir.join(state::EXEC_FIFO);
    if let Ok(meta) = std::fs::metadata(&fifo) {
        use std::os::unix::fs::MetadataExt;
        for pid in holders(meta.dev(), meta.ino()) {
            if let Some(t) = state::process_start_time(pid) {
                kill_if_same(pid, t);
            }
        }
    }
    if let Some(annotations) = config.as_ref().and_then(|s| s.config().annotations().as_ref()) {
        let _ = crate::rootfs::overlay::remove_container_dir(annotations);
    }
    match remove_state_dir(&dir) {
        // Other files (a foreign or half-written entry): remove everything.
        Err(_) if dir.exists() => std::fs::remove_dir_all(&dir).map_err(Error::io("remove state dir", &dir)),
        Err(_) => {
            let doomed = state::state_dir(root.as_ref(), &format!(".tmp-{id}-{}", std::process::id()));
            std::fs::remove_dir_all(&doomed).map_err(Error::io("remove state dir", &doomed))
        }
        ok => ok,
    }
}

/// Pids of the processes with an open fd on the file (dev, ino).
fn holders(dev: u64, ino: u64) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return out };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        if fds.flatten().any(|fd| std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == dev && m.ino() == ino)) {
            out.push(pid);
        }
    }
    out
}

/// Removes a container's state dir as one step: renamed out of the way first (to a temporary
/// name that `state::collect_abandoned` removes once this process is gone), then emptied, so a
/// runtime killed meanwhile leaves no half-removed container.
fn remove_state_dir(dir: &Path) -> Result<()> {
    let (Some(root), Some(id)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str())) else {
        return Err(Error::io("remove state dir", dir)(std::io::Error::from_raw_os_error(libc::EINVAL)));
    };
    let doomed = root.join(format!(".tmp-{id}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&doomed);
    match std::fs::rename(dir, &doomed) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("remove state dir", dir)(e)),
    }
    empty_and_remove(&doomed)
}

fn empty_and_remove(dir: &Path) -> Result<()> {
    for name in [state::EXEC_FIFO, state::STATE_FILE, ".state.json.tmp", state::CONFIG_FILE, ".config.json.tmp"] {
        let p = dir.join(name);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", p)(e)),
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove state dir", dir)(e)),
    }
}

impl Container {
    /// Creates the container: namespaces, mounts, root filesystem, identity — everything up to
    /// exec, which waits for [`Container::start`]. On failure nothing is left behind.
    pub fn create(id: &str, spec: &Spec, opts: &CreateOptions) -> Result<Container> {
        state::validate_id(id)?;
        spec.validate()?;
        if crate::rootless::is_rootless() && !spec.has_namespace(oci_spec::runtime::LinuxNamespaceType::User) {
            return Err(Error::invalid(
                "linux.namespaces",
                "no user namespace",
                format!(
                    "running as uid {} needs one: add {{\"type\": \"user\"}} with uidMappings and gidMappings (`rcontainer spec --rootless` writes such a config)",
                    nix::unistd::geteuid().as_raw()
                ),
            ));
        }
        let linux = spec.config().linux().as_ref();
        let devices = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
        // Always some device rules: a spec without any still gets "deny all but the standard
        // devices" (runc's behaviour), never the parent cgroup's (the host's: every disk).
        let resources = crate::cgroups::with_default_device_rules(&linux.and_then(|l| l.resources().clone()).unwrap_or_default(), devices);
        crate::cgroups::validate_resources(&resources)?;
        // The state first, naming what is about to be made (the cgroup's directories as planned,
        // this process as the creator): a runtime killed at any later instant leaves a container
        // that list, state and delete handle (state.rs).
        let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
        let creator_pid = std::process::id() as i32;
        let state = State {
            oci_version: spec.config().version().clone(),
            id: id.to_string(),
            status: Status::Creating,
            pid: 0,
            bundle: spec.bundle().to_path_buf(),
            rootfs: spec.rootfs()?,
            created: state::now_rfc3339(),
            annotations: spec.config().annotations().clone().unwrap_or_default(),
            pid_start_time: 0,
            // An ordinary user may get no cgroup at all (create_cgroup): no plan is no error then.
            cgroup: match Cgroup::plan(id, cgroups_path) {
                Ok(plan) => Some(plan),
                Err(_) if crate::rootless::unprivileged_on_host() => None,
                Err(e) => return Err(e),
            },
            creator_pid,
            creator_start_time: state::process_start_time(creator_pid).unwrap_or(0),
        };
        let dir = state::create_with_state(&opts.root, &state)?;
        let state_annotations = state.annotations.clone();
        // An image's container: its overlay directory names this state, so the store's prune
        // keeps it whatever state root it is in.
        let recorded = crate::rootfs::overlay::record_state_dir(&state_annotations, &dir);
        let cgroup = match recorded.and_then(|()| Self::create_cgroup(id, cgroups_path, resources, linux)) {
            Ok(c) => c,
            Err(e) => {
                let _ = crate::rootfs::overlay::remove_container_dir(&state_annotations);
                let _ = remove_state_dir(&dir);
                return Err(e);
            }
        };
        match Self::create_in(state, spec, opts, &dir, cgroup.as_ref()) {
            Ok(mut c) => {
                c.cgroup = cgroup;
                Ok(c)
            }
            Err(e) => {
                if let Some(cgroup) = &cgroup {
                    let _ = cgroup.destroy();
                }
                // Nothing of a failed create stays, its copy-on-write root's directory included.
                let _ = crate::rootfs::overlay::remove_container_dir(&state_annotations);
                let _ = remove_state_dir(&dir);
                Err(e)
            }
        }
    }

    /// The container's cgroup. An ordinary user, or root of a user namespace (rootless.rs), that
    /// may not create one gets none when the spec asks for no limit (device rules need none: a user namespace cannot mknod
    /// nor open the host's devices beyond its own rights), else an error saying why.
    fn create_cgroup(id: &str, cgroups_path: Option<&Path>, resources: LinuxResources, linux: Option<&oci_spec::runtime::Linux>) -> Result<Option<Cgroup>> {
        if !crate::rootless::unprivileged_on_host() {
            return Cgroup::create(id, cgroups_path, Some(&resources)).map(Some);
        }
        let mut asked = linux.and_then(|l| l.resources().clone()).unwrap_or_default();
        asked.set_devices(None);
        let wants_limits = asked != LinuxResources::default();
        match Cgroup::create(id, cgroups_path, Some(&asked)) {
            Ok(c) => Ok(Some(c)),
            Err(e) if wants_limits => Err(crate::rootless::no_cgroup_error("limits (linux.resources)", &e)),
            // Without limits a cgroup is not needed, even when a cgroupsPath names one (runc's
            // rootless rule; rootless podman passes one on v1).
            Err(_) => Ok(None),
        }
    }

    fn create_in(mut state: State, spec: &Spec, opts: &CreateOptions, dir: &Path, cgroup: Option<&Cgroup>) -> Result<Container> {
        let id = state.id.clone();
        let id = id.as_str();
        ensure_fifo(dir)?;
        // The init (the exec stub) holds the fifo open read-write and blocks reading it until
        // `start` writes: an fd on the fifo itself, never on a directory of the host.
        let fifo = dir.join(state::EXEC_FIFO);
        let start_fd: OwnedFd = nix::fcntl::open(&fifo, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
            .and_then(sys::not_stdio)
            .map_err(|e| Error::Sys { op: format!("open {}", fifo.display()), errno: e })?;
        let pipes = spawn::pipes()?;
        let tasks = match cgroup {
            Some(c) => c.v1_self_join_fds()?,
            None => Vec::new(),
        };
        // A terminal without a console socket: a socket pair of our own, the master comes back here.
        let terminal = spec.config().process().as_ref().and_then(|p| p.terminal()) == Some(true);
        let own_console = match (terminal, opts.console_socket) {
            (true, None) => Some(console_pair()?),
            _ => None,
        };
        let console_socket = own_console.as_ref().map(|(_, theirs)| theirs.as_raw_fd()).or(if terminal { opts.console_socket } else { None });
        let (stdio, _null) = if terminal { crate::exec::terminal_stdio(opts.stdio)? } else { (opts.stdio, None) };
        let inputs = PlanInputs {
            seccomp_cache: Some(state::cache::seccomp_dir(&state::cache::default_dir())),
            cgroup_tasks: tasks.iter().map(|(p, fd)| (p.clone(), fd.as_raw_fd())).collect(),
            report_fd: pipes.report_w.as_raw_fd(),
            go_fd: pipes.go_r.as_raw_fd(),
            start_fd: start_fd.as_raw_fd(),
            stdio: [stdio.stdin, stdio.stdout, stdio.stderr],
            console_socket,
            preserve_fds: opts.preserve_fds,
            no_pivot: opts.no_pivot,
            exec: false,
            exec_path: None,
        };
        let plan = Plan::build(spec, &inputs)?;
        // Everything that can fail goes before the clone: after it, a failure must kill the init.
        let exec_what = plan.exec_what.clone();
        // v2: born in the cgroup (CLONE_INTO_CGROUP); v1: it moves itself in first thing. Either
        // way before its cgroup namespace is made and long before exec.
        let cgroup_fd = cgroup.and_then(|c| c.v2_dir_fd());
        let hooks = spec.config().hooks().as_ref();
        let spawned = spawn::spawn(
            id,
            plan,
            pipes,
            cgroup_fd.as_ref().map(|f| f.as_raw_fd()),
            |pid, placed| {
                // Before the init may go on: its pid in the state, for a delete after we die.
                state.pid = pid;
                state.pid_start_time = state::process_start_time(pid).unwrap_or(0);
                state.cgroup = cgroup.map(|c| c.record());
                state::save(dir, &state)?;
                // v1: the init joins itself (JoinCgroup steps); v2 without CLONE_INTO_CGROUP (the
                // clone(2) fallback): move it here.
                if let Some(cgroup) = cgroup.filter(|_| !placed && tasks.is_empty()) {
                    cgroup.add_pid(pid)?;
                }
                Ok(())
            },
            |pid| {
                // The container's namespaces and mounts exist; it waits before pivot_root.
                let state = hook_state(spec, id, "creating", pid);
                hooks::run(hooks::Point::Prestart, hooks, &state, None)?;
                hooks::run(hooks::Point::CreateRuntime, hooks, &state, None)?;
                hooks::run(hooks::Point::CreateContainer, hooks, &state, Some(pid))
            },
        )?;
        drop(tasks);
        // Only the init may hold the fifo for reading: `start` learns from ENXIO that it is gone.
        drop(start_fd);
        let pty = match own_console {
            Some((ours, theirs)) => {
                drop(theirs);
                match receive_pty(&ours) {
                    Ok(fd) => Some(fd),
                    Err(e) => {
                        let _ = sys::pidfd_send_signal(spawned.pidfd.as_fd(), spawned.pid, libc::SIGKILL);
                        let _ = sys::waitid_pidfd(spawned.pidfd.as_fd(), false);
                        return Err(e);
                    }
                }
            }
            None => None,
        };

        state.status = Status::Created;
        state.pid = spawned.pid;
        state.pid_start_time = state::process_start_time(spawned.pid).unwrap_or(0);
        state.cgroup = cgroup.map(|c| c.record());
        state.creator_pid = 0;
        state.creator_start_time = 0;
        let mut container = Container {
            root: opts.root.clone(),
            state,
            pidfd: Some(spawned.pidfd),
            report: Some(spawned.report),
            exec_what,
            is_parent: true,
            exit: None,
            deleted: false,
            cgroup: None,
            pty,
            warnings: Vec::new(),
        };
        let saved = state::save_config(dir, spec).and_then(|()| state::save(dir, &container.state)).and_then(|()| match &opts.pid_file {
            Some(f) => write_pid_file(f, spawned.pid),
            None => Ok(()),
        });
        if let Err(e) = saved {
            container.kill_and_reap();
            return Err(e);
        }
        Ok(container)
    }

    /// A handle on a container created earlier (maybe by another process).
    pub fn load(root: impl AsRef<Path>, id: &str) -> Result<Container> {
        let root = root.as_ref();
        let state = state::load(root, id)?;
        let pidfd = if state.status != Status::Stopped {
            // The start time check in load() and pidfd_open are not atomic; check again after.
            let fd = sys::pidfd_open(state.pid).ok();
            if state::process_start_time(state.pid) == Some(state.pid_start_time) {
                fd
            } else {
                None
            }
        } else {
            None
        };
        let cgroup = state.cgroup.as_ref().map(Cgroup::from_record);
        Ok(Container {
            root: root.to_path_buf(),
            state,
            pidfd,
            report: None,
            exec_what: String::new(),
            is_parent: false,
            exit: None,
            deleted: false,
            cgroup,
            pty: None,
            warnings: Vec::new(),
        })
    }

    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Host pid of the container's init.
    pub fn pid(&self) -> i32 {
        self.state.pid
    }

    /// The pidfd of the container's init: becomes readable when it exits (poll it in an event
    /// loop, then call [`Container::wait`]). None once the container is stopped and reaped.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|f| f.as_fd())
    }

    /// The pty master of a container created with a terminal (`process.terminal`) and no console
    /// socket: read it for the container's output, write it for its input. Only in the process
    /// that created the container.
    pub fn pty(&self) -> Option<BorrowedFd<'_>> {
        self.pty.as_ref().map(|f| f.as_fd())
    }

    /// Takes the pty master out of the handle (the caller owns it then).
    pub fn take_pty(&mut self) -> Option<OwnedFd> {
        self.pty.take()
    }

    /// Sets the terminal's size (rows, columns), as a terminal window's resize does.
    pub fn resize_pty(&self, rows: u16, cols: u16) -> Result<()> {
        let pty = self.pty.as_ref().ok_or_else(|| Error::Unsupported(format!("resize: container {:?} has no terminal of its own here", self.state.id)))?;
        sys::set_winsize(pty.as_raw_fd(), rows, cols).map_err(Error::sys(format!("resize the terminal of container {:?}", self.state.id)))
    }

    /// The container's OCI config as it was created (saved in its state directory).
    pub fn config(&self) -> Result<Spec> {
        state::load_config(&self.root, &self.state)
    }

    /// The state root this container is under.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self) -> PathBuf {
        state::state_dir(&self.root, &self.state.id)
    }

    /// Current state (status recomputed from the live process).
    pub fn state(&mut self) -> Result<State> {
        if self.deleted {
            return Err(Error::NotFound { id: self.state.id.clone() });
        }
        if self.exit.is_some() {
            self.state.status = Status::Stopped;
        } else {
            state::refresh(&self.root, &mut self.state);
        }
        Ok(self.state.clone())
    }

    pub fn status(&mut self) -> Result<Status> {
        Ok(self.state()?.status)
    }

    fn require(&mut self, op: &'static str, allowed: &[Status]) -> Result<Status> {
        let status = self.status()?;
        if allowed.contains(&status) {
            Ok(status)
        } else {
            Err(Error::WrongState { id: self.state.id.clone(), op, status })
        }
    }

    /// Releases the container's process into exec. In the creating process, returns once the
    /// exec has happened (or fails with the exec error).
    ///
    /// The init (the exec stub) blocks reading the exec fifo; `start` writes one byte to it. A
    /// `start` killed half-way leaves the init waiting (not dead), and the next `start` finishes
    /// the job or says the container already runs.
    pub fn start(&mut self) -> Result<()> {
        self.require("start", &[Status::Created])?;
        // Hooks come from the config saved at create (none for a container created without one).
        let config = self.config().ok();
        let hooks = config.as_ref().and_then(|s| s.config().hooks().clone());
        if let (Some(spec), Some(h)) = (&config, &hooks) {
            for (i, hook) in hooks::Point::StartContainer.of(h).iter().enumerate() {
                if let Err(e) = self.run_start_container_hook(spec, i, hook) {
                    // The spec: a failing startContainer hook stops the container.
                    self.kill_and_reap();
                    return Err(e);
                }
            }
        }
        let fifo = self.dir().join(state::EXEC_FIFO);
        // Non-blocking write-only: ENXIO when nobody holds the fifo for reading (the init is
        // gone, or has exec'd already).
        let fd: OwnedFd = match nix::fcntl::open(&fifo, OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Err(Error::WrongState { id: self.state.id.clone(), op: "start", status: Status::Running }),
            Err(Errno::ENXIO) => return Err(self.nobody_waits(&fifo)),
            Err(e) => return Err(Error::Sys { op: format!("open {}", fifo.display()), errno: e }),
        };
        match sys::write_no_sigpipe(fd.as_raw_fd(), b"1") {
            Ok(_) => {}
            Err(Errno::EPIPE) => return Err(self.nobody_waits(&fifo)),
            Err(e) => return Err(Error::Sys { op: format!("write {}", fifo.display()), errno: e }),
        }
        drop(fd);
        let _ = std::fs::remove_file(&fifo);

        // In the creating process: EOF on the report pipe means the exec succeeded; a record is
        // the stub's report of a failed LSM label, seccomp load or exec.
        if let Some(report) = self.report.take() {
            if let Some(r) = spawn::read_report(report.as_raw_fd())? {
                let what = crate::plan::late_what(r.step, &self.exec_what).unwrap_or_else(|| "exec".into());
                self.reap_now();
                return Err(Error::Setup { what, errno: Errno::from_raw(r.errno) });
            }
        }
        self.state.status = Status::Running;
        if let Some(spec) = &config {
            let state = hook_state(spec, self.id(), "running", self.state.pid);
            self.warnings.extend(hooks::run_warning(hooks::Point::Poststart, hooks.as_ref(), &state));
        }
        Ok(())
    }

    /// A startContainer hook: inside the container (its namespaces, cgroup, user and security),
    /// its path resolved there, as an exec'd process with the state on its stdin.
    fn run_start_container_hook(&mut self, spec: &Spec, i: usize, hook: &oci_spec::runtime::Hook) -> Result<()> {
        let what = format!("startContainer hook [{i}] {}", hook.path().display());
        let mut p = spec.config().process().clone().unwrap_or_default();
        let args = match hook.args().as_deref() {
            Some(a) if !a.is_empty() => a.to_vec(),
            _ => vec![hook.path().display().to_string()],
        };
        p.set_args(Some(args));
        p.set_env(hook.env().clone());
        p.set_cwd(PathBuf::from("/"));
        p.set_terminal(Some(false));
        let (in_r, in_w) = sys::pipe_cloexec().map_err(Error::sys("pipe"))?;
        let (out_r, out_w) = sys::pipe_cloexec().map_err(Error::sys("pipe"))?;
        let state = hook_state(spec, self.id(), "created", self.state.pid);
        let opts = crate::exec::ExecOptions {
            stdio: Stdio { stdin: Some(in_r.as_raw_fd()), stdout: Some(out_w.as_raw_fd()), stderr: Some(out_w.as_raw_fd()) },
            ..Default::default()
        };
        let mut proc = self.exec_path(&p, &opts, Some(hook.path())).map_err(|e| Error::Hook {
            what: what.clone(),
            status: "not started".into(),
            output: e.to_string(),
        })?;
        drop((in_r, out_w));
        let _ = sys::write_no_sigpipe(in_w.as_raw_fd(), state.as_bytes());
        drop(in_w);
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::fs::File::from(out_r), &mut out);
            out
        });
        let timeout = hook.timeout().filter(|t| *t > 0).map(|t| Duration::from_secs(t as u64));
        let status = match proc.wait(timeout) {
            Ok(s) => s,
            Err(Error::Timeout(_)) => {
                let _ = proc.kill(libc::SIGKILL);
                let _ = proc.wait(None);
                return Err(Error::Hook { what, status: "killed at its timeout".into(), output: String::new() });
            }
            Err(e) => return Err(e),
        };
        let out = reader.join().unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        Err(Error::Hook { what, status: status.to_string(), output: String::from_utf8_lossy(&out).trim().escape_debug().to_string() })
    }

    /// Warnings of the last call that did not fail it (a poststart or poststop hook that
    /// failed), taken out.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The error for a `start` that found nobody waiting on the exec fifo: the init has died, or
    /// an earlier `start` released it and was killed before removing the fifo (then it runs).
    fn nobody_waits(&mut self, fifo: &Path) -> Error {
        let alive = self.exit.is_none() && state::process_start_time(self.state.pid) == Some(self.state.pid_start_time);
        if alive {
            let _ = std::fs::remove_file(fifo);
            return Error::WrongState { id: self.state.id.clone(), op: "start", status: Status::Running };
        }
        let how = self.reap_now();
        Error::SetupDied { id: self.state.id.clone(), how }
    }

    /// Records the reaped init's exit.
    fn reaped(&mut self, e: sys::Exit) -> ExitStatus {
        let status = self.to_status(e);
        self.exit = Some(status);
        status
    }

    /// Reaps the init if it has exited; returns a description.
    fn reap_now(&mut self) -> String {
        if self.is_parent {
            if let Some(fd) = &self.pidfd {
                if let Ok(Some(e)) = sys::waitid_pidfd(fd.as_fd(), false) {
                    let how = spawn::describe_exit(Some(e));
                    self.reaped(e);
                    return how;
                }
            }
        }
        "exited".into()
    }

    /// Waits for the container's process to end (at most `timeout`) and returns how it ended.
    /// Only the process that created the container can learn the exit status.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<ExitStatus> {
        if let Some(e) = self.exit {
            return Ok(e);
        }
        if !self.is_parent {
            return Err(Error::Unsupported(format!("wait: the exit status of container {:?} is only known to the process that created it", self.state.id)));
        }
        let Some(fd) = &self.pidfd else {
            return Err(Error::WrongState { id: self.state.id.clone(), op: "wait", status: Status::Stopped });
        };
        let deadline = timeout.map(|t| Instant::now() + t);
        if !sys::pidfd_wait_until(fd.as_raw_fd(), deadline).map_err(Error::sys("poll pidfd"))? {
            return Err(Error::Timeout(timeout.unwrap_or_default()));
        }
        match sys::waitid_pidfd(fd.as_fd(), false).map_err(Error::sys(format!("waitid container {:?}", self.state.id)))? {
            Some(e) => {
                let status = self.reaped(e);
                self.state.status = Status::Stopped;
                Ok(status)
            }
            None => Err(Error::Sys { op: "waitid".into(), errno: Errno::ECHILD }),
        }
    }

    /// Non-blocking: the exit status if the process has ended, else None.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        match self.wait(Some(Duration::ZERO)) {
            Ok(s) => Ok(Some(s)),
            Err(Error::Timeout(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends `signal` to the container's init (created, running or paused).
    pub fn kill(&mut self, signal: i32) -> Result<()> {
        self.require("kill", &[Status::Created, Status::Running, Status::Paused])?;
        let fd = self.pidfd.as_ref().ok_or_else(|| Error::WrongState { id: self.state.id.clone(), op: "kill", status: Status::Stopped })?;
        sys::pidfd_send_signal(fd.as_fd(), self.state.pid, signal)
            .map_err(|e| Error::Sys { op: format!("kill container {:?} with signal {signal}", self.state.id), errno: e })?;
        self.thaw_for_sigkill(signal);
        self.await_sigkill(signal);
        Ok(())
    }

    /// After SIGKILL, waits (a moment at most) until the init is gone, so that what follows
    /// (`delete` right after `kill KILL`, as tools do) sees it stopped.
    fn await_sigkill(&self, signal: i32) {
        if signal == libc::SIGKILL {
            if let Some(fd) = &self.pidfd {
                let _ = sys::poll_one(fd.as_raw_fd(), libc::POLLIN, 1000);
            }
        }
    }

    /// A process frozen by the v1 freezer cannot act on SIGKILL until thawed (runc thaws too).
    fn thaw_for_sigkill(&mut self, signal: i32) {
        if signal == libc::SIGKILL {
            if let Some(cg) = self.cgroup.as_ref().filter(|c| c.is_frozen()) {
                let _ = cg.thaw();
            }
        }
    }

    fn kill_and_reap(&mut self) {
        if let Some(fd) = &self.pidfd {
            let _ = sys::pidfd_send_signal(fd.as_fd(), self.state.pid, libc::SIGKILL);
            if let Some(cg) = self.cgroup.as_ref().filter(|c| c.is_frozen()) {
                // A v1-frozen process cannot act on SIGKILL until thawed.
                let _ = cg.thaw();
            }
            if self.is_parent {
                if let Ok(Some(e)) = sys::waitid_pidfd(fd.as_fd(), false) {
                    self.reaped(e);
                }
            } else {
                // Not our child: wait until it is gone (its parent reaps it).
                let _ = sys::poll_one(fd.as_raw_fd(), libc::POLLIN, 10_000);
            }
        }
    }

    /// An exit as the caller sees it: OOM-killed when the kernel's OOM killer ended a process
    /// of the container's cgroup.
    fn to_status(&self, e: sys::Exit) -> ExitStatus {
        let oom_killed = self.cgroup.as_ref().is_some_and(|c| c.oom_kill_count() > 0);
        match e {
            sys::Exit::Code(c) => ExitStatus { code: Some(c), signal: None, oom_killed },
            sys::Exit::Signal(s) => ExitStatus { code: None, signal: Some(s), oom_killed },
        }
    }

    fn cgroup(&self, op: &'static str) -> Result<&Cgroup> {
        self.cgroup.as_ref().ok_or_else(|| Error::Unsupported(format!("{op}: container {:?} has no cgroup", self.state.id)))
    }

    /// Changes the cgroup limits of a live container; only the fields present change.
    pub fn limit(&mut self, resources: &LinuxResources) -> Result<()> {
        self.require("limit", &[Status::Created, Status::Running, Status::Paused])?;
        self.cgroup("limit")?.update(resources)
    }

    /// Memory, cpu, pids and OOM accounting of the container's cgroup now.
    pub fn stats(&mut self) -> Result<Stats> {
        if self.deleted {
            return Err(Error::NotFound { id: self.state.id.clone() });
        }
        self.cgroup("stats")?.stats()
    }

    /// Host pids of every process in the container (its cgroup), as `runc ps` lists them.
    pub fn processes(&mut self) -> Result<Vec<i32>> {
        self.require("list processes of", &[Status::Created, Status::Running, Status::Paused])?;
        Ok(self.cgroup("ps")?.procs())
    }

    /// Freezes every process of the container (state becomes paused).
    pub fn pause(&mut self) -> Result<()> {
        self.require("pause", &[Status::Running])?;
        self.cgroup("pause")?.freeze()?;
        self.state.status = Status::Paused;
        Ok(())
    }

    /// Thaws a paused container.
    pub fn resume(&mut self) -> Result<()> {
        self.require("resume", &[Status::Paused])?;
        self.cgroup("resume")?.thaw()?;
        self.state.status = Status::Running;
        Ok(())
    }

    /// Sends `signal` to every process of the container (its cgroup), not just the init.
    pub fn kill_all(&mut self, signal: i32) -> Result<()> {
        self.require("kill", &[Status::Created, Status::Running, Status::Paused])?;
        self.cgroup("kill --all")?.kill_all(signal)?;
        self.thaw_for_sigkill(signal);
        self.await_sigkill(signal);
        Ok(())
    }

    /// Removes the container and its cgroup. A created or running one needs `force` (it is
    /// killed first). Deleting twice is harmless.
    pub fn delete(&mut self, force: bool) -> Result<()> {
        if self.deleted {
            return Ok(());
        }
        let status = self.status()?;
        if status != Status::Stopped {
            if !force {
                return Err(Error::WrongState { id: self.state.id.clone(), op: "delete", status });
            }
            self.kill_and_reap();
        } else if self.is_parent && self.exit.is_none() {
            self.reap_now();
        }
        if self.state.creator_pid != 0 && !self.is_parent {
            // Left by a create that was killed: its init may still wait before exec.
            kill_if_same(self.state.pid, self.state.pid_start_time);
        }
        if let Some(cg) = &self.cgroup {
            // Also kills what is left in it (processes that outlived the init without a pid namespace).
            cg.destroy()?;
        }
        let config = self.config().ok();
        // The copy-on-write root's directory first: while the state is there, a delete
        // interrupted here is done again.
        crate::rootfs::overlay::remove_container_dir(&self.state.annotations)?;
        remove_state_dir(&self.dir())?;
        state::collect_abandoned(&self.root, Some(&self.state.id));
        self.pidfd = None;
        // Its terminal is gone with it.
        self.pty = None;
        self.deleted = true;
        if let Some(spec) = &config {
            let state = hook_state(spec, self.id(), "stopped", self.state.pid);
            self.warnings.extend(hooks::run_warning(hooks::Point::Poststop, spec.config().hooks().as_ref(), &state));
        }
        Ok(())
    }
}

/// The OCI state a hook reads on its stdin.
pub(crate) fn hook_state(spec: &Spec, id: &str, status: &str, pid: i32) -> String {
    serde_json::json!({
        "ociVersion": spec.config().version(),
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": spec.bundle(),
        "annotations": spec.config().annotations().clone().unwrap_or_default(),
    })
    .to_string()
}

/// A socket pair for a terminal's master: (ours, the container's).
pub(crate) fn console_pair() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    let (a, b) = socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC).map_err(Error::sys("socketpair (console)"))?;
    Ok((sys::not_stdio(a).map_err(Error::sys("socketpair (console)"))?, sys::not_stdio(b).map_err(Error::sys("socketpair (console)"))?))
}

/// The pty master the container's init sent (one fd, SCM_RIGHTS).
fn receive_pty(sock: &OwnedFd) -> Result<OwnedFd> {
    sys::recv_fd(sock.as_raw_fd()).map_err(Error::sys("receive the terminal's pty master"))
}

fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
    std::fs::write(&tmp, pid.to_string()).map_err(Error::io("write pid file", &tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io("write pid file", path))
}

/// The states of every container under `root`.
pub fn list(root: impl AsRef<Path>) -> Result<Vec<State>> {
    list_all(root).map(|(states, _)| states)
}

/// [`list`], and the entries that could not be read (a corrupt state file: the error names it),
/// which `list` skips: one broken entry must not hide the others (`delete --force` removes it).
pub fn list_all(root: impl AsRef<Path>) -> Result<(Vec<State>, Vec<Error>)> {
    let root = root.as_ref();
    state::collect_abandoned(root, None);
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for id in state::ids(root)? {
        match state::load(root, &id) {
            Ok(s) => out.push(s),
            Err(Error::NotFound { .. }) => {}
            Err(e) => bad.push(e),
        }
    }
    Ok((out, bad))
}
