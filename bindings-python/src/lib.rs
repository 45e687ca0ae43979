//! Python bindings of rcontainer: the native module `rcontainer._native`.
//!
//! This layer is thin on purpose. It builds a [`Spec`] from keyword arguments with the same core
//! functions and defaults as the command line's ad-hoc mode (`SpecBuilder`, the embedded default
//! root, Docker's capability set, no_new_privileges), converts core errors into the exception
//! classes of `rcontainer._errors`, and wraps a core [`Container`] (and an exec'd [`Process`]) in
//! a `Mutex` so a handle can be shared by threads. Every call that can block releases the GIL. The Pythonic surface (stdio
//! pipes, `run`, asyncio, context managers) lives in `python/rcontainer/__init__.py`.
//!
//! Images go through `rcontainer-image` as the command's do (cli/src/images.rs): the store,
//! pull, import, and `config::prepare`, which gives a container from an image its copy-on-write
//! root and the image's command, environment, working directory and user.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use rcontainer_core::options::{limit_bytes, limit_text, Naming, Network, Options};
use rcontainer_core::spec::{parse_id_map, parse_namespace_type, Limits};
use rcontainer_core::{Container, CreateOptions, Error, ErrorKind, ExecCommand, ExecOptions, ExitStatus, Process, Spec, Stdio};
use rcontainer_image::config::{Applied, Overrides, STOP_SIGNAL_ANNOTATION};
use rcontainer_image::{ImageRecord, Name, PullOptions, Store};

// ---------------------------------------------------------------------------------------------
// Errors

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidConfig => "invalid_config",
        ErrorKind::NotFound => "not_found",
        ErrorKind::AlreadyExists => "already_exists",
        ErrorKind::WrongState => "wrong_state",
        ErrorKind::Os => "os",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Unsupported => "unsupported",
    }
}

/// Builds the Python exception for a core error: `rcontainer._errors._from_core(kind, errno, message)`.
fn py_err(py: Python<'_>, kind: &str, errno: Option<i32>, message: String) -> PyErr {
    let made = ERRORS
        .get_or_try_init(py, || py.import("rcontainer._errors").map(|m| m.unbind()))
        .and_then(|m| m.bind(py).call_method1("_from_core", (kind, errno, message.clone())));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        // The Python half of the package is missing: still raise something meaningful.
        Err(e) => e,
    }
}

fn to_py(py: Python<'_>, e: Error) -> PyErr {
    py_err(py, kind_name(e.kind()), e.errno(), e.to_string())
}

fn config_err(py: Python<'_>, message: String) -> PyErr {
    py_err(py, "invalid_config", None, message)
}

trait IntoPy<T> {
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for rcontainer_core::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// An error of the runtime or of the image code, made without the GIL (the work it ends runs
/// detached) and raised as its Python exception once the GIL is back: the same kinds for both
/// (`rcontainer_image::Error::kind` maps image errors onto the runtime's).
struct Failure {
    kind: ErrorKind,
    errno: Option<i32>,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure { kind: e.kind(), errno: e.errno(), message: e.to_string() }
    }
}

impl From<rcontainer_image::Error> for Failure {
    fn from(e: rcontainer_image::Error) -> Failure {
        Failure { kind: e.kind(), errno: e.errno(), message: e.to_string() }
    }
}

impl<T> IntoPy<T> for Result<T, Failure> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|f| py_err(py, kind_name(f.kind), f.errno, f.message))
    }
}

// ---------------------------------------------------------------------------------------------
// Spec building (the same core calls and defaults as `rcontainer run -- CMD`, cli/src/adhoc.rs)

/// A size given as a number of bytes or a string such as "32M".
#[derive(FromPyObject)]
enum SizeArg {
    Bytes(i64),
    Text(String),
}

/// A mount: a bind mount `(source, destination, readonly)` or an OCI mount as JSON text.
#[derive(FromPyObject)]
enum MountArg {
    Bind(PathBuf, PathBuf, bool),
    Oci(String),
}

/// Everything `create` needs, extracted from Python before the GIL is released: the one dict
/// the wrapper (`Container.create`) passes, a key per field, typed here.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct Config {
    id: String,
    root: Option<PathBuf>,
    args: Option<Vec<String>>,
    rootfs: Option<PathBuf>,
    hostname: Option<String>,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    user: Option<(u32, u32)>,
    /// `user` given by name: looked up in the container's /etc/passwd (core's Options::user_name).
    user_name: Option<String>,
    namespaces: Option<Vec<(String, Option<PathBuf>)>>,
    uid_map: Vec<String>,
    gid_map: Vec<String>,
    mounts: Vec<MountArg>,
    network: String,
    memory: Option<SizeArg>,
    memory_swap: Option<SizeArg>,
    cpus: Option<f64>,
    pids: Option<i64>,
    stdin: Option<RawFd>,
    stdout: Option<RawFd>,
    stderr: Option<RawFd>,
    spec: Option<String>,
    /// A terminal of its own (process.terminal), of `tty_size` (rows, columns) when given.
    tty: bool,
    tty_size: Option<(i64, i64)>,
    /// The sandbox preset (core's options::SANDBOX).
    sandbox: bool,
    /// A root filesystem that is read-only (with `image`: the image's layers alone).
    read_only: bool,
    /// The image whose layers are the root (copy-on-write) and whose config gives the defaults
    /// of the command, environment, working directory and user; pulled when the store lacks it.
    image: Option<String>,
    /// With `image`: replaces the image's Entrypoint ("" clears it), as docker run --entrypoint.
    entrypoint: Option<String>,
    /// The image store (None: rcontainer_image::default_root()).
    store: Option<PathBuf>,
    /// How to reach the registry when the image is pulled.
    plain_http: bool,
    credentials: Option<(String, String)>,
}

/// A size argument: an int of bytes or a string such as "32M" (the shapes Python gives),
/// positive or -1 for no limit (core's rule: options::limit_bytes / limit_text).
fn size_arg(field: &str, v: Option<&SizeArg>) -> rcontainer_core::Result<Option<i64>> {
    v.map(|v| match v {
        SizeArg::Bytes(n) => limit_bytes(Naming::Snake, field, *n),
        SizeArg::Text(t) => limit_text(Naming::Snake, field, t),
    })
    .transpose()
}

/// The limits `Container.limit()` changes: None leaves a limit as it is; -1 removes a memory,
/// memory+swap or pids limit; cpus=0 removes the cpu limit.
fn live_limits(memory: Option<&SizeArg>, memory_swap: Option<&SizeArg>, cpus: Option<f64>, pids: Option<i64>) -> rcontainer_core::Result<Limits> {
    let invalid = |field: &str, value: String, reason: &str| Error::InvalidSpec { field: field.into(), value, reason: reason.into() };
    let mut l = Limits { memory: size_arg("memory", memory)?, memory_swap: size_arg("memory_swap", memory_swap)?, ..Default::default() };
    match cpus {
        None => {}
        Some(0.0) => l.cpu_quota = Some(-1),
        Some(n) if n.is_finite() && n > 0.0 => l.cpus = Some(n),
        Some(n) => return Err(invalid("cpus", format!("{n:?}"), "must be a positive number of CPUs, e.g. 0.5, or 0 (no limit)")),
    }
    match pids {
        None => {}
        Some(n) if n > 0 || n == -1 => l.pids = Some(n),
        Some(n) => return Err(invalid("pids", n.to_string(), "must be a positive number of processes or -1 (no limit)")),
    }
    Ok(l)
}

/// The keyword arguments as core's Options (rcontainer_core::options: what each option means,
/// its values' rules and the defaults, shared with the command and the Node package). Only
/// Python's shapes are read here.
fn build_options(c: &Config, terminal: Option<Option<(u16, u16)>>) -> rcontainer_core::Result<Options> {
    let invalid = |field: &str, value: String, reason: &str| Error::InvalidSpec { field: field.into(), value, reason: reason.into() };
    let naming = Naming::Snake;
    let mut o = Options { naming, args: c.args.clone(), ..Options::default() };
    if let Some(text) = &c.spec {
        o.spec = Some(Spec::from_json(text, ".")?);
    } else if o.args.is_none() {
        o.args = Some(Vec::new()); // refused by validate(), naming args
    }
    o.rootfs = c.rootfs.clone();
    o.hostname = c.hostname.clone();
    o.env = c.env.clone();
    o.cwd = c.cwd.clone();
    o.user = c.user;
    if let Some(list) = &c.namespaces {
        o.namespaces =
            Some(list.iter().map(|(name, path)| parse_namespace_type(name).map(|t| (t, path.clone()))).collect::<rcontainer_core::Result<Vec<_>>>()?);
    }
    o.uid_map = c.uid_map.iter().map(|m| parse_id_map("uid_map", m)).collect::<rcontainer_core::Result<Vec<_>>>()?;
    o.gid_map = c.gid_map.iter().map(|m| parse_id_map("gid_map", m)).collect::<rcontainer_core::Result<Vec<_>>>()?;
    for (i, m) in c.mounts.iter().enumerate() {
        o.mounts.push(match m {
            MountArg::Bind(src, dst, ro) => {
                let mut options = vec!["rbind".to_string()];
                if *ro {
                    options.push("ro".into());
                }
                let mut mnt = rcontainer_core::oci_spec::runtime::Mount::default();
                mnt.set_destination(dst.clone());
                mnt.set_typ(Some("bind".into()));
                mnt.set_source(Some(src.clone()));
                mnt.set_options(Some(options));
                mnt
            }
            MountArg::Oci(json) => {
                let v: serde_json::Value = serde_json::from_str(json).map_err(|e| invalid(&format!("mounts[{i}]"), json.clone(), &e.to_string()))?;
                rcontainer_core::spec::mount_from_json(&format!("mounts[{i}]"), &v)?
            }
        });
    }
    o.network = Some(Network::parse(naming, &c.network)?);
    o.limits = Limits {
        memory: size_arg("memory", c.memory.as_ref())?,
        memory_swap: size_arg("memory_swap", c.memory_swap.as_ref())?,
        cpus: c.cpus,
        pids: c.pids,
        ..Default::default()
    };
    o.terminal = terminal;
    o.sandbox = c.sandbox;
    o.user_name = c.user_name.clone();
    Ok(o)
}

/// A spec whose root is read-only, as `rcontainer run --read-only` makes it.
fn read_only_root(mut spec: Spec) -> Spec {
    if let Some(r) = spec.config_mut().root_mut() {
        r.set_readonly(Some(true));
    }
    spec
}

/// The store `store=` names, or the default one ($RCONTAINER_STORE, else /var/lib/rcontainer).
fn open_store(store: Option<&std::path::Path>) -> Result<Store, Failure> {
    Ok(Store::open(store.map(PathBuf::from).unwrap_or_else(rcontainer_image::default_root))?)
}

/// The registry options of Python's keywords (`credentials` = (user, password)).
fn pull_options(plain_http: bool, credentials: Option<(String, String)>) -> Result<PullOptions, Failure> {
    if let Some((user, _)) = &credentials {
        if user.is_empty() {
            return Err(Failure {
                kind: ErrorKind::InvalidConfig,
                errno: None,
                message: "invalid configuration: credentials: the user name is empty (expected (user, password))".into(),
            });
        }
    }
    Ok(PullOptions { plain_http, credentials })
}

/// The spec of a container from `image` (the command's `run IMAGE`, cli/src/images.rs
/// prepare_run): pulls the image when the store lacks it, prepares the container's
/// copy-on-write root, applies the image's config under the caller's options and records the
/// image's StopSignal. Returns the spec, the store (to release the root if the container is not
/// created after all) and what the image's config left for the caller (StopSignal, notes).
fn image_spec(c: &Config, image: &str, root: &std::path::Path, mut o: Options) -> Result<(Spec, Store, Applied), Failure> {
    let invalid = |message: String| Failure { kind: ErrorKind::InvalidConfig, errno: None, message };
    if let Some(rootfs) = &c.rootfs {
        return Err(invalid(format!(
            "invalid configuration: image = {image:?} and rootfs = {}: give one or the other (an image is the root)",
            rootfs.display()
        )));
    }
    let store = open_store(c.store.as_deref())?;
    if store.find(image)?.is_none() {
        // A reference that cannot be pulled is the caller's error, not the registry's.
        Name::parse(image)?;
        let opts = pull_options(c.plain_http, c.credentials.clone())?;
        rcontainer_image::pull(&store, image, &opts, &mut |_| {}).map_err(|e| {
            let mut f = Failure::from(e);
            f.message = format!("image {image:?} is not in the store {} and could not be pulled: {}", store.root().display(), f.message);
            f
        })?;
    }
    // The caller's args replace the image's Cmd; its Entrypoint stays unless `entrypoint` says.
    let over = Overrides { entrypoint: c.entrypoint.clone(), cmd: c.args.clone().unwrap_or_default() };
    let applied = rcontainer_image::config::prepare(&store, image, &c.id, c.read_only, &over, &mut o)?;
    let mut spec = match o.to_spec(&c.id, root) {
        Ok(spec) => spec,
        Err(e) => {
            let _ = store.release_container(&c.id);
            return Err(e.into());
        }
    };
    if let Some(sig) = &applied.stop_signal {
        spec.config_mut().annotations_mut().get_or_insert_with(Default::default).insert(STOP_SIGNAL_ANNOTATION.into(), sig.clone());
    }
    Ok((spec, store, applied))
}

// ---------------------------------------------------------------------------------------------
// The container handle

/// A native container handle (use `rcontainer.Container`, which wraps it).
#[pyclass(module = "rcontainer._native", frozen)]
struct NativeContainer {
    inner: Mutex<Container>,
    id: String,
    pid: i32,
    /// The process that created the container: only it may clean up on garbage collection
    /// (a forked child that inherits this object must not kill its parent's containers).
    owner_pid: u32,
    /// The command the container runs (with an image: its Entrypoint and Cmd as overridden).
    args: Vec<String>,
    /// The image's StopSignal, as the image gives it (e.g. "SIGINT").
    stop_signal: Option<String>,
    /// What the image's config asks for that is not applied (exposed ports, volumes), one line each.
    notes: Vec<String>,
}

/// An ExitStatus as Python gets it: (code, signal, oom_killed).
type StatusTuple = (Option<i32>, Option<i32>, bool);

fn status_tuple(s: ExitStatus) -> StatusTuple {
    (s.code, s.signal, s.oom_killed)
}

fn poll_in(fd: RawFd, timeout_ms: i32) -> std::io::Result<bool> {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r > 0)
    }
}

/// A private, close-on-exec duplicate of `fd` that stays valid whatever happens to the handle.
fn dup_fd(fd: RawFd, what: &str) -> rcontainer_core::Result<OwnedFd> {
    // SAFETY: fcntl on a valid fd; the result is a new fd we own.
    let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if d < 0 {
        return Err(Error::Io { op: "dup", path: PathBuf::from(what), source: std::io::Error::last_os_error() });
    }
    // SAFETY: d is a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(d) })
}

/// The wait of a container or an exec'd process: polls a private duplicate of its pidfd with the
/// GIL released and the handle's lock not held (so kill() from another thread goes through),
/// Python signals checked on EINTR, until it ends (`try_wait` reaps it) or `timeout` seconds pass.
fn wait_on(
    py: Python<'_>,
    what: &str,
    timeout: Option<f64>,
    try_wait: &(dyn Fn() -> rcontainer_core::Result<Option<ExitStatus>> + Sync),
    dup_pidfd: &(dyn Fn() -> rcontainer_core::Result<OwnedFd> + Sync),
) -> PyResult<StatusTuple> {
    let deadline = match timeout {
        None => None,
        Some(t) if t.is_nan() => return Err(PyValueError::new_err("timeout must be a number of seconds")),
        Some(t) => Some(Instant::now() + Duration::try_from_secs_f64(t.max(0.0)).unwrap_or(Duration::from_secs(u32::MAX as u64))),
    };
    if let Some(s) = py.detach(try_wait).py(py)? {
        return Ok(status_tuple(s));
    }
    let fd = py.detach(dup_pidfd).py(py)?;
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => d.saturating_duration_since(Instant::now()).as_millis().min(i32::MAX as u128) as i32,
        };
        match py.detach(|| poll_in(fd.as_raw_fd(), ms)) {
            Ok(true) => {
                if let Some(s) = py.detach(try_wait).py(py)? {
                    return Ok(status_tuple(s));
                }
            }
            Ok(false) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => py.check_signals()?,
            Err(e) => return Err(py_err(py, "os", e.raw_os_error(), format!("poll pidfd of {what}: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let t = timeout.unwrap_or_default();
            return Err(py_err(py, "timeout", Some(libc::ETIMEDOUT), format!("{what} still running after {t} s")));
        }
    }
}

/// A terminal size from Python (`name` = (rows, columns)), each 1..65535.
fn tty_size(py: Python<'_>, name: &str, size: Option<(i64, i64)>) -> PyResult<Option<(u16, u16)>> {
    match size {
        None => Ok(None),
        Some((r, c)) => match (u16::try_from(r), u16::try_from(c)) {
            (Ok(r @ 1..), Ok(c @ 1..)) => Ok(Some((r, c))),
            _ => Err(config_err(py, format!("invalid configuration: {name} = ({r}, {c}): rows and columns must be 1..65535"))),
        },
    }
}

impl NativeContainer {
    fn lock(&self) -> MutexGuard<'_, Container> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A private duplicate of the pidfd: stays valid even if another thread deletes the container.
    fn dup_pidfd_inner(&self) -> rcontainer_core::Result<OwnedFd> {
        let c = self.lock();
        let fd = c.pidfd().ok_or_else(|| Error::WrongState { id: self.id.clone(), op: "wait", status: rcontainer_core::Status::Stopped })?;
        dup_fd(fd.as_raw_fd(), &format!("pidfd of container {}", self.id))
    }
}

#[pymethods]
impl NativeContainer {
    /// The container id.
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    /// Host pid of the container's init process.
    #[getter]
    fn pid(&self) -> i32 {
        self.pid
    }

    /// The command the container runs (argv).
    #[getter]
    fn args(&self) -> Vec<String> {
        self.args.clone()
    }

    /// The StopSignal of the container's image (a name such as "SIGINT", or a number), if any.
    #[getter]
    fn stop_signal(&self) -> Option<&str> {
        self.stop_signal.as_deref()
    }

    /// What the image's config asks for that is not applied (exposed ports, volumes).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    /// Releases the container's process into exec.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.lock().start()).py(py)
    }

    /// Waits (GIL released, the handle's lock not held) until the process ends or `timeout` seconds pass.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<StatusTuple> {
        wait_on(py, &format!("container {:?}", self.id), timeout, &|| self.lock().try_wait(), &|| self.dup_pidfd_inner())
    }

    /// The exit status if the process has ended, else None (never blocks).
    fn try_wait(&self, py: Python<'_>) -> PyResult<Option<StatusTuple>> {
        Ok(py.detach(|| self.lock().try_wait()).py(py)?.map(status_tuple))
    }

    /// Sends signal `sig` to the container's init.
    fn kill(&self, py: Python<'_>, sig: i32) -> PyResult<()> {
        py.detach(|| self.lock().kill(sig)).py(py)
    }

    /// Sends signal `sig` to every process of the container (its cgroup), not just the init.
    fn kill_all(&self, py: Python<'_>, sig: i32) -> PyResult<()> {
        py.detach(|| self.lock().kill_all(sig)).py(py)
    }

    /// Changes the cgroup limits of the live container; None leaves a limit as it is.
    #[pyo3(signature = (memory=None, memory_swap=None, cpus=None, pids=None))]
    fn limit(&self, py: Python<'_>, memory: Option<SizeArg>, memory_swap: Option<SizeArg>, cpus: Option<f64>, pids: Option<i64>) -> PyResult<()> {
        let limits = live_limits(memory.as_ref(), memory_swap.as_ref(), cpus, pids).py(py)?;
        let resources = limits.to_resources();
        py.detach(|| self.lock().limit(&resources)).py(py)
    }

    /// The cgroup's accounting now, as a dict of the core's Stats fields.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = py.detach(|| self.lock().stats()).py(py)?;
        let d = PyDict::new(py);
        d.set_item("memory_usage", s.memory_usage)?;
        d.set_item("memory_peak", s.memory_peak)?;
        d.set_item("memory_limit", s.memory_limit)?;
        d.set_item("cpu_usage_ns", s.cpu_usage_ns)?;
        d.set_item("cpu_user_ns", s.cpu_user_ns)?;
        d.set_item("cpu_system_ns", s.cpu_system_ns)?;
        d.set_item("pids_current", s.pids_current)?;
        d.set_item("pids_limit", s.pids_limit)?;
        d.set_item("oom_kills", s.oom_kills)?;
        Ok(d)
    }

    /// Freezes every process of the container (state "paused").
    fn pause(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.lock().pause()).py(py)
    }

    /// Thaws a paused container.
    fn resume(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.lock().resume()).py(py)
    }

    /// Removes the container (killing it first with `force`); harmless when repeated.
    #[pyo3(signature = (force=false))]
    fn delete(&self, py: Python<'_>, force: bool) -> PyResult<()> {
        py.detach(|| self.lock().delete(force)).py(py)
    }

    /// The pidfd (readable once the process has ended); valid until delete().
    fn fileno(&self, py: Python<'_>) -> PyResult<RawFd> {
        match py.detach(|| self.lock().pidfd().map(|fd| fd.as_raw_fd())) {
            Some(fd) => Ok(fd),
            None => Err(py_err(py, "wrong_state", None, format!("container {:?} has no pidfd: it was deleted", self.id))),
        }
    }

    /// A new, close-on-exec duplicate of the pidfd that the caller owns and must close.
    fn dup_pidfd(&self, py: Python<'_>) -> PyResult<RawFd> {
        let fd = py.detach(|| self.dup_pidfd_inner()).py(py)?;
        Ok(std::os::fd::IntoRawFd::into_raw_fd(fd))
    }

    /// A new, close-on-exec duplicate of the pty master (a container created with a terminal), or
    /// None; the caller owns it. The handle keeps its own (for resize()).
    fn dup_pty(&self, py: Python<'_>) -> PyResult<Option<RawFd>> {
        let d = py.detach(|| self.lock().pty().map(|fd| dup_fd(fd.as_raw_fd(), &format!("pty master of container {}", self.id))).transpose()).py(py)?;
        Ok(d.map(std::os::fd::IntoRawFd::into_raw_fd))
    }

    /// Sets the size of the container's terminal (rows, columns).
    fn resize(&self, py: Python<'_>, rows: i64, cols: i64) -> PyResult<()> {
        let (rows, cols) = tty_size(py, "resize (rows, cols)", Some((rows, cols)))?.unwrap_or((1, 1));
        py.detach(|| self.lock().resize_pty(rows, cols)).py(py)
    }

    /// Runs `args` in the container (exec), the container's own process with the changes given;
    /// the GIL is released meanwhile. The stdio fds are borrowed during the call.
    #[pyo3(signature = (args, env, cwd, user, tty, tty_size, stdin, stdout, stderr))]
    #[allow(clippy::too_many_arguments)]
    fn exec(
        &self,
        py: Python<'_>,
        args: Vec<String>,
        env: Vec<(String, String)>,
        cwd: Option<PathBuf>,
        user: Option<(u32, u32)>,
        tty: bool,
        tty_size: Option<(i64, i64)>,
        stdin: Option<RawFd>,
        stdout: Option<RawFd>,
        stderr: Option<RawFd>,
    ) -> PyResult<NativeProcess> {
        if args.first().map(String::as_str).unwrap_or_default().is_empty() {
            return Err(config_err(py, format!("invalid configuration: args = {args:?}: the command must not be empty")));
        }
        let terminal_size = self::tty_size(py, "tty_size", tty_size)?;
        let cmd = ExecCommand { args, env, cwd, user, terminal: tty, terminal_size };
        let opts = ExecOptions { stdio: Stdio { stdin, stdout, stderr }, ..Default::default() };
        let p = py
            .detach(|| {
                let mut c = self.lock();
                let process = c.exec_process(&cmd)?;
                c.exec(&process, &opts)
            })
            .py(py)?;
        Ok(NativeProcess { pid: p.pid(), inner: Mutex::new(p), container: self.id.clone(), owner_pid: std::process::id() })
    }

    /// The OCI state as a dict (id, status, pid, bundle, rootfs, created, annotations).
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = py.detach(|| self.lock().state()).py(py)?;
        let d = PyDict::new(py);
        d.set_item("id", &s.id)?;
        d.set_item("status", s.status.to_string())?;
        d.set_item("pid", if s.status == rcontainer_core::Status::Stopped { 0 } else { s.pid })?;
        d.set_item("bundle", s.bundle.to_string_lossy().into_owned())?;
        d.set_item("rootfs", s.rootfs.to_string_lossy().into_owned())?;
        d.set_item("created", &s.created)?;
        d.set_item("annotations", s.annotations.clone())?;
        Ok(d)
    }
}

impl Drop for NativeContainer {
    fn drop(&mut self) {
        if std::process::id() == self.owner_pid {
            // Killed and deleted when the last reference goes away (no-op once deleted).
            let c = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
            let _ = c.delete(true);
        }
    }
}

/// A native handle on a process exec'd into a container (use `rcontainer.Process`, which wraps it).
#[pyclass(module = "rcontainer._native", frozen)]
struct NativeProcess {
    inner: Mutex<Process>,
    pid: i32,
    container: String,
    /// The process that exec'd it: only it may kill and reap it on garbage collection.
    owner_pid: u32,
}

impl NativeProcess {
    fn lock(&self) -> MutexGuard<'_, Process> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn what(&self) -> String {
        format!("process {} of container {:?}", self.pid, self.container)
    }

    fn dup_pidfd_inner(&self) -> rcontainer_core::Result<OwnedFd> {
        let p = self.lock();
        let fd = p.pidfd().ok_or_else(|| Error::WrongState {
            id: self.container.clone(),
            op: "wait for the exec'd process of",
            status: rcontainer_core::Status::Stopped,
        })?;
        dup_fd(fd.as_raw_fd(), &self.what())
    }
}

#[pymethods]
impl NativeProcess {
    /// Host pid of the process.
    #[getter]
    fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits (GIL released, the handle's lock not held) until the process ends or `timeout` seconds pass.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<StatusTuple> {
        wait_on(py, &self.what(), timeout, &|| self.lock().try_wait(), &|| self.dup_pidfd_inner())
    }

    /// The exit status if the process has ended, else None (never blocks).
    fn try_wait(&self, py: Python<'_>) -> PyResult<Option<StatusTuple>> {
        Ok(py.detach(|| self.lock().try_wait()).py(py)?.map(status_tuple))
    }

    /// Sends signal `sig` to the process.
    fn kill(&self, py: Python<'_>, sig: i32) -> PyResult<()> {
        py.detach(|| self.lock().kill(sig)).py(py)
    }

    /// The pidfd (readable once the process has ended); valid until it is reaped.
    fn fileno(&self, py: Python<'_>) -> PyResult<RawFd> {
        match py.detach(|| self.lock().pidfd().map(|fd| fd.as_raw_fd())) {
            Some(fd) => Ok(fd),
            None => Err(py_err(py, "wrong_state", None, format!("{} has no pidfd: it was reaped", self.what()))),
        }
    }

    /// A new, close-on-exec duplicate of the pidfd that the caller owns and must close.
    fn dup_pidfd(&self, py: Python<'_>) -> PyResult<RawFd> {
        let fd = py.detach(|| self.dup_pidfd_inner()).py(py)?;
        Ok(std::os::fd::IntoRawFd::into_raw_fd(fd))
    }

    /// A new, close-on-exec duplicate of the pty master (exec'd with a terminal), or None.
    fn dup_pty(&self, py: Python<'_>) -> PyResult<Option<RawFd>> {
        let d = py.detach(|| self.lock().pty().map(|fd| dup_fd(fd.as_raw_fd(), &format!("pty master of {}", self.what()))).transpose()).py(py)?;
        Ok(d.map(std::os::fd::IntoRawFd::into_raw_fd))
    }

    /// Sets the size of the process's terminal (rows, columns).
    fn resize(&self, py: Python<'_>, rows: i64, cols: i64) -> PyResult<()> {
        let (rows, cols) = tty_size(py, "resize (rows, cols)", Some((rows, cols)))?.unwrap_or((1, 1));
        py.detach(|| self.lock().resize_pty(rows, cols)).py(py)
    }
}

impl Drop for NativeProcess {
    fn drop(&mut self) {
        if std::process::id() == self.owner_pid {
            // Killed and reaped when the last reference goes away (no zombie left behind).
            let p = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
            if let Ok(None) = p.try_wait() {
                let _ = p.kill(libc::SIGKILL);
                let _ = p.wait(Some(Duration::from_secs(10)));
            }
        }
    }
}

/// Creates a container (see `rcontainer.Container.create`, which passes its arguments as one
/// dict); the GIL is released while it is set up (and while its image is pulled, if need be).
#[pyfunction]
fn create(py: Python<'_>, config: Config) -> PyResult<NativeContainer> {
    let root = config.root.clone().unwrap_or_else(rcontainer_core::rootless::default_state_root);
    if !root.is_absolute() {
        return Err(config_err(py, format!("invalid configuration: root = {}: must be an absolute path", root.display())));
    }
    if config.image.is_none() {
        let given = [
            ("entrypoint", config.entrypoint.is_some()),
            ("store", config.store.is_some()),
            ("plain_http", config.plain_http),
            ("credentials", config.credentials.is_some()),
        ];
        if let Some((name, _)) = given.iter().find(|(_, on)| *on) {
            return Err(config_err(py, format!("invalid configuration: {name} goes with image= (a container from an image)")));
        }
    }
    let size = self::tty_size(py, "tty_size", config.tty_size)?;
    let terminal = config.tty.then_some(size);
    let opts = CreateOptions { root: root.clone(), stdio: Stdio { stdin: config.stdin, stdout: config.stdout, stderr: config.stderr }, ..Default::default() };
    let (c, args, applied) = py
        .detach(|| -> Result<(Container, Vec<String>, Applied), Failure> {
            let o = build_options(&config, terminal)?;
            let args_of = |spec: &Spec| spec.config().process().as_ref().and_then(|p| p.args().clone()).unwrap_or_default();
            match &config.image {
                Some(image) => {
                    let (spec, store, applied) = image_spec(&config, image, &root, o)?;
                    match Container::create(&config.id, &spec, &opts) {
                        Ok(c) => Ok((c, args_of(&spec), applied)),
                        Err(e) => {
                            // The root was prepared for this container (prepare fails for an id
                            // whose root exists): nothing of it stays.
                            let _ = store.release_container(&config.id);
                            Err(e.into())
                        }
                    }
                }
                None => {
                    let mut spec = o.to_spec(&config.id, &root)?;
                    if config.read_only {
                        spec = read_only_root(spec);
                    }
                    Ok((Container::create(&config.id, &spec, &opts)?, args_of(&spec), Applied::default()))
                }
            }
        })
        .py(py)?;
    Ok(NativeContainer {
        id: c.id().to_string(),
        pid: c.pid(),
        inner: Mutex::new(c),
        owner_pid: std::process::id(),
        args,
        stop_signal: applied.stop_signal,
        notes: applied.notes,
    })
}

// ---------------------------------------------------------------------------------------------
// Images (the command's pull, import, images, rmi and prune: cli/src/images.rs)

/// An image as Python's `rcontainer.Image` is made from it.
fn image_dict<'py>(py: Python<'py>, name: &Name, r: &ImageRecord) -> PyResult<Bound<'py, PyDict>> {
    let repository = name.repository();
    let d = PyDict::new(py);
    let short = match (name.tag(), name.digest()) {
        (Some(tag), _) => format!("{repository}:{tag}"),
        (None, Some(digest)) => format!("{repository}@{digest}"),
        (None, None) => repository.clone(),
    };
    d.set_item("name", short)?;
    d.set_item("repository", repository)?;
    d.set_item("tag", name.tag())?;
    d.set_item("digest", &r.manifest)?;
    d.set_item("id", &r.config)?;
    d.set_item("size", r.size())?;
    d.set_item("created", r.created.as_deref())?;
    Ok(d)
}

/// Pulls `reference` into the store (GIL released) and returns the image.
#[pyfunction]
#[pyo3(signature = (reference, store, plain_http, credentials))]
fn pull<'py>(
    py: Python<'py>,
    reference: String,
    store: Option<PathBuf>,
    plain_http: bool,
    credentials: Option<(String, String)>,
) -> PyResult<Bound<'py, PyDict>> {
    let (name, record) = py
        .detach(|| -> Result<_, Failure> {
            let opts = pull_options(plain_http, credentials)?;
            let store = open_store(store.as_deref())?;
            Ok(rcontainer_image::pull(&store, &reference, &opts, &mut |_| {})?)
        })
        .py(py)?;
    image_dict(py, &name, &record)
}

/// Imports the images of an OCI layout (directory or tar) or a `docker save` archive (GIL released).
#[pyfunction]
#[pyo3(signature = (path, name, store))]
fn import_image<'py>(py: Python<'py>, path: PathBuf, name: Option<String>, store: Option<PathBuf>) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let list = py
        .detach(|| -> Result<_, Failure> {
            let store = open_store(store.as_deref())?;
            Ok(rcontainer_image::import::import(&store, &path, name.as_deref())?)
        })
        .py(py)?;
    list.iter().map(|(n, r)| image_dict(py, n, r)).collect()
}

/// The images of the store, by name.
#[pyfunction]
#[pyo3(signature = (store))]
fn images<'py>(py: Python<'py>, store: Option<PathBuf>) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let list = py.detach(|| -> Result<_, Failure> { Ok(open_store(store.as_deref())?.images()?) }).py(py)?;
    list.iter().map(|(n, r)| image_dict(py, n, r)).collect()
}

/// What a prune removed, as a dict (blobs, layers, containers, bytes).
fn prune_dict<'py>(py: Python<'py>, r: &rcontainer_image::PruneReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("blobs", r.blobs)?;
    d.set_item("layers", r.layers)?;
    d.set_item("containers", r.containers)?;
    d.set_item("bytes", r.bytes)?;
    Ok(d)
}

/// Removes an image's name, then what no other image and no container uses (as `rcontainer
/// rmi`); `roots` are the state roots whose containers keep their layers. Returns the image
/// removed and what the prune removed.
#[pyfunction]
#[pyo3(signature = (reference, store, roots))]
fn remove_image<'py>(py: Python<'py>, reference: String, store: Option<PathBuf>, roots: Vec<PathBuf>) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
    let (name, record, report) = py
        .detach(|| -> Result<_, Failure> {
            let store = open_store(store.as_deref())?;
            let not_found = || rcontainer_image::Error::ImageNotFound { reference: reference.clone(), store: store.root().to_path_buf() };
            let (_, record) = store.find(&reference)?.ok_or_else(not_found)?;
            let name = store.untag(&reference)?;
            Ok((name, record, store.prune(&roots)?))
        })
        .py(py)?;
    Ok((image_dict(py, &name, &record)?, prune_dict(py, &report)?))
}

/// Removes what no image and no container uses (`rcontainer prune`).
#[pyfunction]
#[pyo3(signature = (store, roots))]
fn prune<'py>(py: Python<'py>, store: Option<PathBuf>, roots: Vec<PathBuf>) -> PyResult<Bound<'py, PyDict>> {
    let report = py.detach(|| -> Result<_, Failure> { Ok(open_store(store.as_deref())?.prune(&roots)?) }).py(py)?;
    prune_dict(py, &report)
}

#[pymodule]
#[pyo3(name = "_native")]
fn rcontainer_python(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", rcontainer_core::VERSION)?;
    // /run/rcontainer for root; an ordinary user's own (rootless.rs), as the command's --root.
    m.add("DEFAULT_ROOT", rcontainer_core::rootless::default_state_root())?;
    m.add_class::<NativeContainer>()?;
    m.add_class::<NativeProcess>()?;
    m.add("DEFAULT_STORE", rcontainer_image::DEFAULT_STORE)?;
    m.add_function(wrap_pyfunction!(create, m)?)?;
    m.add_function(wrap_pyfunction!(pull, m)?)?;
    m.add_function(wrap_pyfunction!(import_image, m)?)?;
    m.add_function(wrap_pyfunction!(images, m)?)?;
    m.add_function(wrap_pyfunction!(remove_image, m)?)?;
    m.add_function(wrap_pyfunction!(prune, m)?)?;
    Ok(())
}
