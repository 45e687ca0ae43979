//! Node bindings of rcontainer (napi-rs): `Container`, `Process` (exec) and `run`, a thin layer
//! over rcontainer-core that converts options, results and errors.
//!
//! Threading: `create`, `start`, `kill`, `delete` are short and run on the JavaScript thread.
//! `wait()` and `run()` never block it: the container's pidfd (and the capture pipes) are watched
//! by the tokio reactor napi runs beside Node, and the promise settles on the JavaScript thread.
//! Image pulls, imports and prunes (images.rs), and a `run()` whose image must be pulled first,
//! run on tokio's blocking threads.
//!
//! Cleanup: the core container lives in an `Arc<Mutex<Inner>>` shared by the JavaScript object
//! and any pending wait. When the last holder goes (the object was garbage-collected and no wait
//! is pending), `Inner::drop` kills and deletes the container. Every live container is also in a
//! registry that `process.on('exit')` (installed by index.js) and the env cleanup hook drain. An
//! exec'd process (`ProcInner`) is killed and reaped the same way when its last holder goes.

#![allow(clippy::new_without_default)]

mod error;
pub mod images;
mod options;

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::{Env, Property, PropertyAttributes};
use napi_derive::napi;
use rcontainer_core::{
    Container as CoreContainer, CreateOptions as CoreCreateOptions, ExecOptions as CoreExecOptions, ExitStatus as CoreExit, Process as CoreProcess, Stdio,
};
use serde_json::Value;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};

use crate::error::{bad_value, BResult, Failure};
use crate::options::{
    CreateOptions, ExecOptions, KillOptions, LimitOptions, Parsed, Prepared, RunOptions, StdioKind, CREATE_FIELDS, EXEC_FIELDS, KILL_FIELDS, LIMIT_FIELDS,
    RUN_FIELDS,
};

// ---------------------------------------------------------------------------------------------
// Shared container state and the registry of live containers.

struct Inner {
    c: CoreContainer,
    key: u64,
    /// Our ends of the 'pipe' stdio entries (stdin write end, stdout/stderr read ends).
    pipes: [Option<OwnedFd>; 3],
}

type Shared = Arc<Mutex<Inner>>;

struct Registered {
    env: usize,
    inner: Weak<Mutex<Inner>>,
}

static REGISTRY: LazyLock<Mutex<HashMap<u64, Registered>>> = LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

fn registry() -> MutexGuard<'static, HashMap<u64, Registered>> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock<T>(s: &Arc<Mutex<T>>) -> MutexGuard<'_, T> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Kills it if it still runs (or was never started), reaps it, removes its state dir.
        let _ = self.c.delete(true);
        registry().remove(&self.key);
    }
}

/// A process exec'd into a container, shared by its JavaScript object and pending waits.
struct ProcInner {
    p: CoreProcess,
    /// Our ends of the 'pipe' stdio entries handed out as streams.
    pipes: [Option<OwnedFd>; 3],
    /// With `capture` or `input`: the pipes wait() reads (stdout, stderr) and writes (stdin,
    /// with the input), taken by the first one.
    capture: Option<([Option<OwnedFd>; 3], Vec<u8>)>,
}

type ProcShared = Arc<Mutex<ProcInner>>;

impl Drop for ProcInner {
    fn drop(&mut self) {
        // Garbage-collected while it runs: killed and reaped (no zombie left behind).
        if let Ok(None) = self.p.try_wait() {
            let _ = self.p.kill(libc::SIGKILL);
            let _ = self.p.wait(Some(Duration::from_secs(10)));
        }
    }
}

/// What waiting needs of a container or an exec'd process.
trait Waitable: Send + 'static {
    /// The exit status once it has ended (reaping it), else None.
    fn try_wait(&mut self) -> rcontainer_core::Result<Option<CoreExit>>;
    /// A duplicate of its pidfd (None once reaped).
    fn dup_pidfd(&self) -> Option<std::io::Result<OwnedFd>>;
    /// SIGKILL (a timeout), errors ignored.
    fn kill_now(&mut self);
}

impl Waitable for Inner {
    fn try_wait(&mut self) -> rcontainer_core::Result<Option<CoreExit>> {
        self.c.try_wait()
    }
    fn dup_pidfd(&self) -> Option<std::io::Result<OwnedFd>> {
        self.c.pidfd().map(|fd| fd.try_clone_to_owned())
    }
    fn kill_now(&mut self) {
        let _ = self.c.kill(libc::SIGKILL);
    }
}

impl Waitable for ProcInner {
    fn try_wait(&mut self) -> rcontainer_core::Result<Option<CoreExit>> {
        self.p.try_wait()
    }
    fn dup_pidfd(&self) -> Option<std::io::Result<OwnedFd>> {
        self.p.pidfd().map(|fd| fd.try_clone_to_owned())
    }
    fn kill_now(&mut self) {
        let _ = self.p.kill(libc::SIGKILL);
    }
}

/// Kills and deletes every live container created in the env `env` (0: all envs).
fn cleanup_env(env: usize) -> u32 {
    let live: Vec<Shared> = registry().values().filter(|r| env == 0 || r.env == env).filter_map(|r| r.inner.upgrade()).collect();
    let mut n = 0;
    for s in live {
        let mut g = lock(&s);
        if g.c.delete(true).is_ok() {
            n += 1;
        }
        g.pipes = [None, None, None];
    }
    n
}

// ---------------------------------------------------------------------------------------------
// Module setup (called once by index.js).

/// `(fd, readable, pty) => net.Socket` (a pipe end, or a pty master as a tty.ReadStream that
/// also writes), set by index.js.
type StreamFactory = FunctionRef<FnArgs<(i32, bool, bool)>, Unknown<'static>>;

thread_local! {
    static STREAM_FACTORY: std::cell::RefCell<Option<StreamFactory>> = const { std::cell::RefCell::new(None) };
}

/// Called by index.js: the factory that wraps a pipe fd or a pty master in a stream, and the env
/// cleanup hook.
#[napi(js_name = "__init", skip_typescript)]
pub fn init(env: Env, stream_factory: Function<FnArgs<(i32, bool, bool)>, Unknown<'static>>) -> Result<()> {
    let r = stream_factory.create_ref()?;
    STREAM_FACTORY.with(|f| *f.borrow_mut() = Some(r));
    let key = env.raw() as usize;
    env.add_env_cleanup_hook(key, |k| {
        cleanup_env(k);
    })?;
    Ok(())
}

/// Called by index.js on process 'exit': kills and deletes the containers this env created.
#[napi(js_name = "__cleanup", skip_typescript)]
pub fn cleanup(env: Env) -> u32 {
    cleanup_env(env.raw() as usize)
}

// ---------------------------------------------------------------------------------------------
// Results, and the options index.js reads (the options the binding reads are options.rs's).

/// How a container's process ended.
#[napi(object)]
pub struct ExitStatus {
    /// Exit code when it exited, else null.
    pub code: Either<i32, Null>,
    /// Name of the signal that killed it ('SIGKILL'), else null.
    pub signal: Either<String, Null>,
    /// Whether the kernel's OOM killer ended it (needs a memory limit).
    pub oom_killed: bool,
}

/// A snapshot of the container's cgroup accounting (`container.stats()`).
#[napi(object)]
pub struct Stats {
    /// Bytes of memory charged now.
    pub memory_usage: f64,
    /// Highest memory charge seen (0 if the kernel does not report it).
    pub memory_peak: f64,
    /// The memory limit in force, bytes; null when unlimited.
    pub memory_limit: Either<f64, Null>,
    /// CPU time used, all CPUs, nanoseconds.
    pub cpu_usage_ns: f64,
    /// User-mode part of cpuUsageNs.
    pub cpu_user_ns: f64,
    /// Kernel-mode part of cpuUsageNs.
    pub cpu_system_ns: f64,
    /// Processes in the container now.
    pub pids_current: f64,
    /// The process limit in force; null when unlimited.
    pub pids_limit: Either<f64, Null>,
    /// How many processes the OOM killer ended in the container.
    pub oom_kills: f64,
}

/// Options of `container.wait()` and `process.wait()` (handled in index.js).
#[napi(object)]
pub struct WaitOptions {
    /// Kill the process (SIGKILL) after this many milliseconds; wait() then rejects with code
    /// 'ETIMEDOUT' and `err.result`.
    pub timeout: Option<f64>,
    /// Kill the process when this signal aborts; wait() then rejects with an AbortError.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Value>,
}

/// A mount (`CreateOptions.mounts`): `type` defaults to 'bind' (source is a host path). Only
/// TypeScript's: core reads each mount from the object as given (spec::mount_from_json).
#[napi(object)]
pub struct MountOptions {
    pub destination: String,
    pub source: Option<String>,
    #[napi(js_name = "type")]
    pub kind: Option<String>,
    pub options: Option<Vec<String>>,
    pub readonly: Option<bool>,
}

/// What `run` and `process.wait()` resolve to.
#[napi(object)]
pub struct RunResult {
    pub code: Either<i32, Null>,
    pub signal: Either<String, Null>,
    pub oom_killed: bool,
    /// Captured output (null without `capture`).
    #[napi(ts_type = "string | Buffer | null")]
    pub stdout: Either3<String, Buffer, Null>,
    #[napi(ts_type = "string | Buffer | null")]
    pub stderr: Either3<String, Buffer, Null>,
    /// The output was longer than `maxBuffer`: only its first `maxBuffer` bytes are kept.
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
}

fn signal_name(n: i32) -> String {
    nix::sys::signal::Signal::try_from(n).map(|s| s.as_str().to_string()).unwrap_or_else(|_| format!("SIG{n}"))
}

fn exit_status(s: CoreExit) -> ExitStatus {
    ExitStatus {
        code: s.code.map(Either::A).unwrap_or(Either::B(Null)),
        signal: s.signal.map(|n| Either::A(signal_name(n))).unwrap_or(Either::B(Null)),
        oom_killed: s.oom_killed,
    }
}

// ---------------------------------------------------------------------------------------------
// Creating.

struct Created {
    shared: Shared,
    id: String,
    pid: i32,
    /// What `kill()` sends by default (the image's StopSignal, else SIGTERM).
    stop_signal: i32,
}

fn dev_null() -> BResult<OwnedFd> {
    let fd = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .map_err(|e| Failure::errno("open /dev/null", e))?;
    Ok(fd)
}

/// The stdio of a new container or exec'd process: the fds it gets, its ends of the pipes and
/// /dev/null (open until create or exec returns), and our ends of the pipes.
#[derive(Default)]
struct StdioFds {
    fds: [Option<RawFd>; 3],
    theirs: Vec<OwnedFd>,
    ours: [Option<OwnedFd>; 3],
}

impl StdioFds {
    fn open(op: &str, kinds: [StdioKind; 3]) -> BResult<StdioFds> {
        let mut s = StdioFds::default();
        for (i, kind) in kinds.into_iter().enumerate() {
            match kind {
                // Node marks its own fds 0-2 close-on-exec: passed as is they would vanish at the
                // container's exec. Given explicitly, the container gets a copy that survives it.
                // SAFETY: F_GETFD only inspects the descriptor.
                StdioKind::Inherit if unsafe { libc::fcntl(i as RawFd, libc::F_GETFD) } >= 0 => s.fds[i] = Some(i as RawFd),
                StdioKind::Inherit => {}
                StdioKind::Ignore => {
                    let fd = dev_null()?;
                    s.fds[i] = Some(fd.as_raw_fd());
                    s.theirs.push(fd);
                }
                StdioKind::Pipe => {
                    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Failure::errno(&format!("{op}: pipe"), e))?;
                    let (mine, child) = if i == 0 { (w, r) } else { (r, w) };
                    s.fds[i] = Some(child.as_raw_fd());
                    s.theirs.push(child);
                    s.ours[i] = Some(mine);
                }
                StdioKind::Fd(n) => {
                    // SAFETY: F_GETFD only inspects the descriptor.
                    if unsafe { libc::fcntl(n, libc::F_GETFD) } < 0 {
                        return Err(Failure::errno(&format!("{op}: options.stdio[{i}] = {n}"), nix::errno::Errno::last()));
                    }
                    s.fds[i] = Some(n);
                }
            }
        }
        Ok(s)
    }

    fn stdio(&self) -> Stdio {
        Stdio { stdin: self.fds[0], stdout: self.fds[1], stderr: self.fds[2] }
    }
}

/// Creates the container `parsed` describes, its stdio of `kinds` (none with a terminal: the pty is its stdio).
fn create_container(env: usize, parsed: Parsed, kinds: [StdioKind; 3]) -> BResult<Created> {
    let op = format!("create container {:?}", parsed.id);

    // The container's ends live until create returns; ours are kept.
    let stdio = if parsed.tty { Ok(StdioFds::default()) } else { StdioFds::open(&op, kinds) };
    let made = stdio.and_then(|stdio| {
        let opts = CoreCreateOptions { root: parsed.root.clone(), stdio: stdio.stdio(), ..CoreCreateOptions::default() };
        CoreContainer::create(&parsed.id, &parsed.spec, &opts).map(|c| (c, stdio)).map_err(|e| Failure::core(&op, &e))
    });
    let (c, stdio) = match made {
        Ok(made) => made,
        Err(f) => {
            // The root this create prepared in the image store (a new directory: an id whose
            // root exists fails before) goes with it; a container that was made removes it on delete.
            if let Some(store) = &parsed.store {
                let _ = store.release_container(&parsed.id);
            }
            return Err(f);
        }
    };
    let StdioFds { theirs, ours, .. } = stdio;
    drop(theirs);
    let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
    let pid = c.pid();
    let shared = Arc::new(Mutex::new(Inner { c, key, pipes: ours }));
    registry().insert(key, Registered { env, inner: Arc::downgrade(&shared) });
    Ok(Created { shared, id: parsed.id, pid, stop_signal: parsed.stop_signal })
}

fn start_container(c: &Created) -> BResult<()> {
    let mut g = lock(&c.shared);
    g.c.start().map_err(|e| Failure::core(&format!("start container {:?}", c.id), &e))
}

/// run()'s container: created and started (deleted again if it does not start).
fn create_and_start(env: usize, op: &str, prepared: Prepared, kinds: [StdioKind; 3]) -> BResult<Created> {
    let created = create_container(env, prepared.finish(op)?, kinds)?;
    if let Err(f) = start_container(&created) {
        let _ = lock(&created.shared).c.delete(true);
        return Err(f);
    }
    Ok(created)
}

// ---------------------------------------------------------------------------------------------
// Waiting (off the JavaScript thread).

/// Waits for a container or an exec'd process (`what` names it in errors).
async fn wait_async<T: Waitable>(shared: Arc<Mutex<T>>, what: String) -> BResult<CoreExit> {
    let op = format!("wait for {what}");
    let fd = {
        let mut g = lock(&shared);
        match g.try_wait() {
            Ok(Some(s)) => return Ok(s),
            Ok(None) => {}
            Err(e) => return Err(Failure::core(&op, &e)),
        }
        match g.dup_pidfd() {
            Some(fd) => fd.map_err(|e| Failure::os(&format!("{op}: dup pidfd"), &e))?,
            None => return Err(Failure::state(&op, "it has no process to wait for")),
        }
    };
    // SAFETY: the AsyncFd owns this dup of the pidfd and nothing else closes or replaces it.
    let afd =
        unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| Failure::os(&format!("{op}: watch pidfd"), &std::io::Error::from(e)))?;
    loop {
        let mut ready = afd.readable().await.map_err(|e| Failure::os(&format!("{op}: poll pidfd"), &e))?;
        let mut g = lock(&shared);
        match g.try_wait() {
            Ok(Some(s)) => return Ok(s),
            Ok(None) => ready.clear_ready(),
            Err(e) => return Err(Failure::core(&op, &e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The class.

/// A container. Create one with `Container.create(options)`, then `start()` and `await wait()`.
/// If the object is garbage-collected, or the Node process exits while the container still
/// exists, the container is killed and deleted.
#[napi]
pub struct Container {
    inner: Shared,
    id: String,
    pid: i32,
    stop_signal: i32,
}

#[napi]
impl Container {
    /// Creates a container (namespaces, mounts, root filesystem, up to the exec, which waits for
    /// `start()`). Errors: code 'EINVAL' for bad options, 'EEXIST' for a taken id, or the errno
    /// name of the system call that failed.
    #[napi(factory, ts_args_type = "options: CreateOptions")]
    pub fn create(env: Env, options: Unknown) -> Result<Container> {
        let op = "Container.create";
        let obj = match options.get_type()? {
            ValueType::Object => Object::from_unknown(options)?,
            _ => return Err(Failure::invalid(op, "expected an options object such as { args: ['sh', '-c', 'echo hi'] }").into_napi(&env)),
        };
        let create = || -> BResult<Created> {
            let o: CreateOptions = options::read(op, &obj, &[CREATE_FIELDS])?;
            let kinds = options::stdio_kinds(op, o.stdio.as_ref(), [StdioKind::Ignore, StdioKind::Inherit, StdioKind::Inherit])?;
            create_container(env.raw() as usize, options::create(op, o)?.finish(op)?, kinds)
        };
        let c = create().map_err(|f| f.into_napi(&env))?;
        Ok(Container { inner: c.shared, id: c.id, pid: c.pid, stop_signal: c.stop_signal })
    }

    /// The container's id.
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// Host pid of the container's first process.
    #[napi(getter)]
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The signal `kill()` sends when given none: the image's StopSignal ('SIGINT', ...), else
    /// 'SIGTERM'.
    #[napi(getter)]
    pub fn stop_signal(&self) -> String {
        signal_name(self.stop_signal)
    }

    /// 'created', 'running', 'paused', 'stopped', or 'deleted' after delete().
    #[napi(getter, ts_return_type = "'creating' | 'created' | 'running' | 'paused' | 'stopped' | 'deleted'")]
    pub fn state(&self) -> String {
        let mut g = lock(&self.inner);
        match g.c.state() {
            Ok(s) => s.status.to_string(),
            Err(_) => "deleted".into(),
        }
    }

    /// Releases the container's process into its command. Throws with code 'ESTATE' unless the
    /// container is 'created', or with the errno of the exec that failed (e.g. 'ENOENT').
    #[napi]
    pub fn start(&self, env: Env) -> Result<()> {
        let mut g = lock(&self.inner);
        g.c.start().map_err(|e| handle_error(&format!("start container {:?}", self.id), &e).into_napi(&env))
    }

    /// Resolves with how the process ended; the pidfd is watched off the JavaScript thread.
    /// A piped `stdout`/`stderr` that is being read ('data' listener, pipe()) has ended by then,
    /// as with child_process's 'close' (index.js). With `timeout` (ms) or `signal` (an
    /// AbortSignal) the process is killed at that point and, once it has ended, wait() rejects:
    /// code 'ETIMEDOUT' with `err.result` (`timedOut: true`), or an AbortError ('ABORT_ERR').
    #[napi(ts_args_type = "options?: WaitOptions", ts_return_type = "Promise<ExitStatus>")]
    pub fn wait<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, ExitStatus>> {
        let shared = self.inner.clone();
        let id = self.id.clone();
        env.spawn_future_with_callback(async move { Ok(wait_async(shared, format!("container {id:?}")).await) }, |env, r| match r {
            Ok(s) => Ok(exit_status(s)),
            Err(f) => Err(f.into_napi(env)),
        })
    }

    /// Sends a signal (a name such as 'SIGTERM' or 'KILL', or a number; default: `stopSignal`,
    /// the image's StopSignal or 'SIGTERM') to the container's first process, or with
    /// `{ all: true }` to every process of the container. Throws 'ESTATE' once it has stopped.
    #[napi(
        ts_args_type = "signal?: 'SIGHUP' | 'SIGINT' | 'SIGQUIT' | 'SIGILL' | 'SIGTRAP' | 'SIGABRT' | 'SIGBUS' | 'SIGFPE' | 'SIGKILL' | 'SIGUSR1' | 'SIGSEGV' | 'SIGUSR2' | 'SIGPIPE' | 'SIGALRM' | 'SIGTERM' | 'SIGSTKFLT' | 'SIGCHLD' | 'SIGCONT' | 'SIGSTOP' | 'SIGTSTP' | 'SIGTTIN' | 'SIGTTOU' | 'SIGURG' | 'SIGXCPU' | 'SIGXFSZ' | 'SIGVTALRM' | 'SIGPROF' | 'SIGWINCH' | 'SIGIO' | 'SIGPWR' | 'SIGSYS' | 'HUP' | 'INT' | 'QUIT' | 'ILL' | 'TRAP' | 'ABRT' | 'BUS' | 'FPE' | 'KILL' | 'USR1' | 'SEGV' | 'USR2' | 'PIPE' | 'ALRM' | 'TERM' | 'STKFLT' | 'CHLD' | 'CONT' | 'STOP' | 'TSTP' | 'TTIN' | 'TTOU' | 'URG' | 'XCPU' | 'XFSZ' | 'VTALRM' | 'PROF' | 'WINCH' | 'IO' | 'PWR' | 'SYS' | number, options?: KillOptions"
    )]
    pub fn kill(&self, env: Env, signal: Option<Unknown>, options: Option<Unknown>) -> Result<()> {
        let op = format!("kill container {:?}", self.id);
        let sig = parse_signal(&op, signal, self.stop_signal).map_err(|f| f.into_napi(&env))?;
        let all = parse_kill_options(&op, options).map_err(|f| f.into_napi(&env))?;
        let mut g = lock(&self.inner);
        let r = if all { g.c.kill_all(sig) } else { g.c.kill(sig) };
        r.map_err(|e| handle_error(&op, &e).into_napi(&env))
    }

    /// Changes the cgroup limits of the created, running or paused container; only the keys
    /// given change. Throws 'EINVAL' naming the bad option, 'ESTATE' once it stopped or was
    /// deleted, or the errno of the cgroup write that failed.
    #[napi(ts_args_type = "options: LimitOptions")]
    pub fn limit(&self, env: Env, options: Unknown) -> Result<()> {
        let op = format!("limit container {:?}", self.id);
        let fail = |f: Failure| f.into_napi(&env);
        let obj = match options.get_type()? {
            ValueType::Object => Object::from_unknown(options)?,
            _ => {
                return Err(fail(Failure::invalid(
                    &op,
                    format!("expected an options object with one or more of {}, such as {{ memory: '64M' }}", limit_keys()),
                )))
            }
        };
        let o: LimitOptions = options::read(&op, &obj, &[LIMIT_FIELDS]).map_err(fail)?;
        if o.is_empty() {
            return Err(fail(Failure::invalid(&op, format!("nothing to change: give one or more of {}", limit_keys()))));
        }
        let limits = options::limits(&op, o).map_err(fail)?;
        let mut g = lock(&self.inner);
        g.c.limit(&limits.to_resources()).map_err(|e| fail(handle_error(&op, &e)))
    }

    /// The container's cgroup accounting now: memory, CPU time, processes, OOM kills.
    /// Throws 'ESTATE' once the container was deleted.
    #[napi]
    pub fn stats(&self, env: Env) -> Result<Stats> {
        let op = format!("stats of container {:?}", self.id);
        let s = lock(&self.inner).c.stats().map_err(|e| handle_error(&op, &e).into_napi(&env))?;
        let opt = |v: Option<u64>| v.map(|n| Either::A(n as f64)).unwrap_or(Either::B(Null));
        Ok(Stats {
            memory_usage: s.memory_usage as f64,
            memory_peak: s.memory_peak as f64,
            memory_limit: opt(s.memory_limit),
            cpu_usage_ns: s.cpu_usage_ns as f64,
            cpu_user_ns: s.cpu_user_ns as f64,
            cpu_system_ns: s.cpu_system_ns as f64,
            pids_current: s.pids_current as f64,
            pids_limit: opt(s.pids_limit),
            oom_kills: s.oom_kills as f64,
        })
    }

    /// Freezes every process of the running container (state becomes 'paused').
    /// Throws 'ESTATE' unless it is running.
    #[napi]
    pub fn pause(&self, env: Env) -> Result<()> {
        let mut g = lock(&self.inner);
        g.c.pause().map_err(|e| handle_error(&format!("pause container {:?}", self.id), &e).into_napi(&env))
    }

    /// Thaws a paused container (state becomes 'running' again). Throws 'ESTATE' unless it is paused.
    #[napi]
    pub fn resume(&self, env: Env) -> Result<()> {
        let mut g = lock(&self.inner);
        g.c.resume().map_err(|e| handle_error(&format!("resume container {:?}", self.id), &e).into_napi(&env))
    }

    /// Removes the container (its state dir). A created or running container needs
    /// `{ force: true }` (it is killed first), else this throws 'ESTATE'. Deleting twice is harmless.
    #[napi(ts_args_type = "options?: { force?: boolean }")]
    pub fn delete(&self, env: Env, options: Option<Object>) -> Result<()> {
        let op = format!("delete container {:?}", self.id);
        let force = match options {
            None => false,
            Some(o) => match o.get::<Value>("force").map_err(|e| bad_value(&op, "options.force", e).into_napi(&env))? {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => b,
                Some(v) => return Err(Failure::invalid(&op, format!("options.force must be a boolean, got {v}")).into_napi(&env)),
            },
        };
        let mut g = lock(&self.inner);
        g.c.delete(force).map_err(|e| Failure::core(&op, &e).into_napi(&env))?;
        g.pipes = [None, None, None];
        Ok(())
    }

    /// With stdio[0] 'pipe': a Writable to the container's stdin, else null.
    #[napi(getter, ts_return_type = "import('node:stream').Writable | null")]
    pub fn stdin<'e>(&self, env: &'e Env, this: This) -> Result<Unknown<'e>> {
        let fd = lock(&self.inner).pipes[0].take();
        make_stream(env, this, fd, false, false, "stdin")
    }

    /// With stdio[1] 'pipe': a Readable of the container's stdout, else null.
    #[napi(getter, ts_return_type = "import('node:stream').Readable | null")]
    pub fn stdout<'e>(&self, env: &'e Env, this: This) -> Result<Unknown<'e>> {
        let fd = lock(&self.inner).pipes[1].take();
        make_stream(env, this, fd, true, false, "stdout")
    }

    /// With stdio[2] 'pipe': a Readable of the container's stderr, else null.
    #[napi(getter, ts_return_type = "import('node:stream').Readable | null")]
    pub fn stderr<'e>(&self, env: &'e Env, this: This) -> Result<Unknown<'e>> {
        let fd = lock(&self.inner).pipes[2].take();
        make_stream(env, this, fd, true, false, "stderr")
    }

    /// Created with `tty`: the terminal's master as a duplex stream (a tty.ReadStream that also
    /// writes): read the output (the echo of the input included), write to type; it ends when
    /// every process of the container closed the terminal. Else null.
    #[napi(getter, ts_return_type = "import('node:tty').ReadStream | null")]
    pub fn pty<'e>(&self, env: &'e Env, this: This) -> Result<Unknown<'e>> {
        let op = format!("pty of container {:?}", self.id);
        let fd = dup_pty(&op, lock(&self.inner).c.pty()).map_err(|f| f.into_napi(env))?;
        make_stream(env, this, fd, true, true, "pty")
    }

    /// Sets the size of the container's terminal (created with `tty`), as a terminal window's
    /// resize does: its foreground processes get SIGWINCH. Throws 'ENOTSUP' without a terminal,
    /// 'EINVAL' for a size outside 1..65535.
    #[napi]
    pub fn resize(&self, env: Env, rows: f64, cols: f64) -> Result<()> {
        let op = format!("resize the terminal of container {:?}", self.id);
        let (rows, cols) = terminal_size(&op, rows, cols).map_err(|f| f.into_napi(&env))?;
        lock(&self.inner).c.resize_pty(rows, cols).map_err(|e| Failure::core(&op, &e).into_napi(&env))
    }

    /// Runs `args` inside the created or running container, as `docker exec` does, and returns
    /// the Process once the command has exec'd: in the container's namespaces and cgroup, under
    /// its seccomp profile, as its own process runs (environment, working directory, user,
    /// capabilities) except for the options given. Throws 'ESTATE' when the container is paused,
    /// stopped or deleted, the exec's errno (e.g. 'ENOENT' for a missing command), 'EINVAL' for
    /// bad options.
    #[napi(ts_args_type = "args: string[], options?: ExecOptions")]
    pub fn exec(&self, env: Env, args: Unknown, options: Option<Unknown>) -> Result<Process> {
        let op = format!("exec in container {:?}", self.id);
        let fail = |f: Failure| f.into_napi(&env);
        let argv = options::args(&op, args).map_err(fail)?;
        if argv.first().map(String::as_str).unwrap_or_default().is_empty() {
            return Err(fail(Failure::invalid(&op, "args must not be empty (the command to run)")));
        }
        let obj = match &options {
            None => None,
            Some(u) => match u.get_type()? {
                ValueType::Undefined | ValueType::Null => None,
                ValueType::Object => Some(Object::from_unknown(*u)?),
                _ => return Err(fail(Failure::invalid(&op, "options must be an object"))),
            },
        };
        let o: ExecOptions = match &obj {
            None => ExecOptions::default(),
            Some(obj) => options::read(&op, obj, &[EXEC_FIELDS]).map_err(fail)?,
        };
        let options::Exec { cmd, stdio, run: extras } = options::exec(&op, argv.clone(), o).map_err(fail)?;
        let stdio = match stdio {
            None => StdioFds::default(),
            Some(kinds) => StdioFds::open(&op, kinds).map_err(fail)?,
        };
        let exec_opts = CoreExecOptions { stdio: stdio.stdio(), ..CoreExecOptions::default() };
        let p = {
            let mut g = lock(&self.inner);
            g.c.exec_process(&cmd).and_then(|process| g.c.exec(&process, &exec_opts)).map_err(|e| fail(handle_error(&op, &e)))?
        };
        let StdioFds { theirs, ours: mut pipes, .. } = stdio;
        drop(theirs);
        let capture = (extras.capture || extras.input.is_some()).then(|| {
            let take = |on: bool, fd: &mut Option<OwnedFd>| if on { fd.take() } else { None };
            let [i, o, e] = &mut pipes;
            ([take(extras.input.is_some(), i), take(extras.capture, o), take(extras.capture, e)], extras.input.clone().unwrap_or_default())
        });
        let eager = capture.is_some() || extras.timeout.is_some();
        let pid = p.pid();
        let process = Process {
            inner: Arc::new(Mutex::new(ProcInner { p, pipes, capture })),
            outcome: Arc::new(tokio::sync::OnceCell::new()),
            pid,
            container: self.id.clone(),
            op: format!("exec {argv:?} in container {:?}", self.id),
            timeout: extras.timeout.map(|t| (t, tokio::time::Instant::now() + t)),
            as_buffer: extras.as_buffer,
            max_buffer: extras.max_buffer,
        };
        if eager {
            // Output is read and the timeout kept from now on, whether or not wait() is called.
            let (cell, fut) = (process.outcome.clone(), process.outcome_future());
            napi::bindgen_prelude::spawn(async move {
                cell.get_or_init(|| fut).await;
            });
        }
        Ok(process)
    }
}

/// The stream getters of Container and Process: the first access wraps `fd` (our pipe end, or a
/// duplicate of a pty master) in a net.Socket (a tty.ReadStream for a pty) and defines it as an
/// own property of the object (shadowing the getter), so the object, not Rust, owns the stream.
fn make_stream<'e>(env: &'e Env, mut this: This, fd: Option<OwnedFd>, readable: bool, pty: bool, name: &str) -> Result<Unknown<'e>> {
    let Some(fd) = fd else {
        return Null.into_unknown(env);
    };
    let raw = fd.into_raw_fd();
    let made = STREAM_FACTORY.with(|f| -> Result<Unknown<'static>> {
        let f = f.borrow();
        let Some(factory) = f.as_ref() else {
            return Err(napi::Error::new(Status::GenericFailure, "rcontainer: module not initialised (load it through index.js)"));
        };
        factory.borrow_back(env)?.call((raw, readable, pty).into())
    });
    let stream = match made {
        Ok(s) => s,
        Err(e) => {
            // SAFETY: the factory failed, so the fd is still ours.
            drop(unsafe { OwnedFd::from_raw_fd(raw) });
            return Err(e);
        }
    };
    this.object.define_properties(&[Property::new()
        .with_utf8_name(name)?
        .with_value(&stream)
        .with_property_attributes(PropertyAttributes::Configurable | PropertyAttributes::Enumerable)])?;
    Ok(stream)
}

/// A duplicate of a pty master for its stream (the handle keeps its own, for resize).
fn dup_pty(op: &str, pty: Option<std::os::fd::BorrowedFd<'_>>) -> BResult<Option<OwnedFd>> {
    pty.map(|fd| fd.try_clone_to_owned().map_err(|e| Failure::os(&format!("{op}: dup pty master"), &e))).transpose()
}

/// rows and cols of resize(): 1..65535 each.
fn terminal_size(op: &str, rows: f64, cols: f64) -> BResult<(u16, u16)> {
    let dim = |v: f64| (v.fract() == 0.0 && (1.0..=65535.0).contains(&v)).then_some(v as u16);
    match (dim(rows), dim(cols)) {
        (Some(r), Some(c)) => Ok((r, c)),
        _ => Err(Failure::invalid(op, format!("rows and cols must be whole numbers 1..65535, got {rows} and {cols}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Exec'd processes.

/// A process exec'd into a container by `container.exec()`. `await wait()` for how it ended
/// (and its output, with `capture`); `kill()` signals it. If the object is garbage-collected
/// while the process runs (and no wait, capture or timeout is pending), the process is killed.
/// It is reaped as soon as it ends, waited for or not.
#[napi]
pub struct Process {
    inner: ProcShared,
    outcome: Arc<tokio::sync::OnceCell<Outcome>>,
    pid: i32,
    container: String,
    /// `exec [args] in container "id"`, for errors.
    op: String,
    timeout: Option<(Duration, tokio::time::Instant)>,
    as_buffer: bool,
    max_buffer: usize,
}

impl Process {
    fn what(&self) -> String {
        format!("process {} of container {:?}", self.pid, self.container)
    }

    /// The wait (with the capture and the timeout) whose outcome every wait() shares; whoever
    /// runs it first takes the capture pipes.
    fn outcome_future(&self) -> impl Future<Output = Outcome> + Send + 'static {
        let (inner, what, op, timeout, max_buffer) = (self.inner.clone(), self.what(), self.op.clone(), self.timeout, self.max_buffer);
        async move {
            let (pipes, input) = lock(&inner).capture.take().unwrap_or_default();
            collect(inner, what, op, timeout, pipes, input, max_buffer).await
        }
    }
}

#[napi]
impl Process {
    /// Host pid of the process.
    #[napi(getter)]
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Resolves with how the process ended ({ code, signal, oomKilled }) and, with `capture`,
    /// its stdout and stderr (else null); the pidfd is watched off the JavaScript thread. Every
    /// call resolves with the same result. With `timeout`, rejects with code 'ETIMEDOUT' once it
    /// was killed (`err.stdout`, `err.stderr`, `err.result`). A piped `stdout`/`stderr` that is
    /// being read ('data' listener, pipe()) has ended by then (index.js). `options.timeout` and
    /// `options.signal` work as for `container.wait()`.
    #[napi(ts_args_type = "options?: WaitOptions", ts_return_type = "Promise<RunResult>")]
    pub fn wait<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, RunResult>> {
        let cell = self.outcome.clone();
        let fut = self.outcome_future();
        let (as_buffer, op) = (self.as_buffer, self.op.clone());
        env.spawn_future_with_callback(async move { Ok(cell.get_or_init(|| fut).await.clone()) }, move |env, r: Outcome| {
            finish(env, r, as_buffer, &op, "the process")
        })
    }

    /// Sends a signal (a name such as 'SIGTERM' or 'KILL', or a number; default 'SIGTERM') to
    /// the process. Throws 'ESTATE' once it has ended and was reaped.
    #[napi(
        ts_args_type = "signal?: 'SIGHUP' | 'SIGINT' | 'SIGQUIT' | 'SIGILL' | 'SIGTRAP' | 'SIGABRT' | 'SIGBUS' | 'SIGFPE' | 'SIGKILL' | 'SIGUSR1' | 'SIGSEGV' | 'SIGUSR2' | 'SIGPIPE' | 'SIGALRM' | 'SIGTERM' | 'SIGSTKFLT' | 'SIGCHLD' | 'SIGCONT' | 'SIGSTOP' | 'SIGTSTP' | 'SIGTTIN' | 'SIGTTOU' | 'SIGURG' | 'SIGXCPU' | 'SIGXFSZ' | 'SIGVTALRM' | 'SIGPROF' | 'SIGWINCH' | 'SIGIO' | 'SIGPWR' | 'SIGSYS' | 'HUP' | 'INT' | 'QUIT' | 'ILL' | 'TRAP' | 'ABRT' | 'BUS' | 'FPE' | 'KILL' | 'USR1' | 'SEGV' | 'USR2' | 'PIPE' | 'ALRM' | 'TERM' | 'STKFLT' | 'CHLD' | 'CONT' | 'STOP' | 'TSTP' | 'TTIN' | 'TTOU' | 'URG' | 'XCPU' | 'XFSZ' | 'VTALRM' | 'PROF' | 'WINCH' | 'IO' | 'PWR' | 'SYS' | number"
    )]
    pub fn kill(&self, env: Env, signal: Option<Unknown>) -> Result<()> {
        let op = format!("kill {}", self.what());
        let sig = parse_signal(&op, signal, libc::SIGTERM).map_err(|f| f.into_napi(&env))?;
        lock(&self.inner).p.kill(sig).map_err(|e| handle_error(&op, &e).into_napi(&env))
    }

    /// Sets the size of the process's terminal (exec'd with `tty`); its foreground processes get
    /// SIGWINCH. Throws 'ENOTSUP' without a terminal, 'EINVAL' for a size outside 1..65535.
    #[napi]
    pub fn resize(&self, env: Env, rows: f64, cols: f64) -> Result<()> {
        let op = format!("resize the terminal of {}", self.what());
        let (rows, cols) = terminal_size(&op, rows, cols).map_err(|f| f.into_napi(&env))?;
        lock(&self.inner).p.resize_pty(rows, cols).map_err(|e| Failure::core(&op, &e).into_napi(&env))
    }

    /// With `tty`: the terminal's master as a duplex stream (a tty.ReadStream that also writes):
    /// read the output (the echo of the input included), write to type; it ends when the
    /// process closed the terminal. Else null.
    #[napi(getter, ts_return_type = "import('node:tty').ReadStream | null")]
    pub fn pty<'e>(&self, env: &'e Env, this: This) -> Result<Unknown<'e>> {
        let op = format!("pty of {}", self.what());
        let fd = dup_pty(&op, lock(&self.inner).p.pty()).map_err(|f| f.into_napi(env))?;
        make_stream(env, this, fd, true, true, "pty")
    }

    /// With stdio[0] 'pipe' (and no `input`): a Writable to the process's stdin, else null.
    #[napi(getter, ts_return_type = "import('node:stream').Writable | null")]
    pub fn stdin<'e>(&self, env: &'e Env, this: This) -> Result<Unknown<'e>> {
        let fd = lock(&self.inner).pipes[0].take();
        make_stream(env, this, fd, false, false, "stdin")
    }

    /// With stdio[1] 'pipe' (and no `capture`): a Readable of the process's stdout, else null.
    #[napi(getter, ts_return_type = "import('node:stream').Readable | null")]
    pub fn stdout<'e>(&self, env: &'e Env, this: This) -> Result<Unknown<'e>> {
        let fd = lock(&self.inner).pipes[1].take();
        make_stream(env, this, fd, true, false, "stdout")
    }

    /// With stdio[2] 'pipe' (and no `capture`): a Readable of the process's stderr, else null.
    #[napi(getter, ts_return_type = "import('node:stream').Readable | null")]
    pub fn stderr<'e>(&self, env: &'e Env, this: This) -> Result<Unknown<'e>> {
        let fd = lock(&self.inner).pipes[2].take();
        make_stream(env, this, fd, true, false, "stderr")
    }
}

/// An error of a call on a handle: the handle's container having been deleted is a lifecycle
/// state ('ESTATE'), not a missing file.
fn handle_error(op: &str, e: &rcontainer_core::Error) -> Failure {
    match e.kind() {
        rcontainer_core::ErrorKind::NotFound => Failure::state(op, format!("{e} (it was deleted)")),
        _ => Failure::core(op, e),
    }
}

/// A signal argument: a name ('SIGTERM', 'term') or a number 1..64; `default` when absent.
fn parse_signal(op: &str, signal: Option<Unknown>, default: i32) -> BResult<i32> {
    let Some(u) = signal else { return Ok(default) };
    let v: Value = match u.get_type() {
        Ok(ValueType::Undefined) | Ok(ValueType::Null) => return Ok(default),
        _ => Value::from_unknown(u).map_err(|e| bad_value(op, "signal", e))?,
    };
    match &v {
        Value::Number(n) => match n.as_i64() {
            Some(s) if (1..=64).contains(&s) => Ok(s as i32),
            _ => Err(Failure::invalid(op, format!("signal must be 1..64 or a name like 'SIGTERM', got {n}"))),
        },
        Value::String(s) => {
            signal_name_to_number(s).ok_or_else(|| Failure::invalid(op, format!("unknown signal {s:?} (expected a name like 'SIGTERM' or a number)")))
        }
        other => Err(Failure::invalid(op, format!("signal must be a name like 'SIGTERM' or a number, got {other}"))),
    }
}

/// A signal's name ('SIGTERM', 'term'), any case.
fn signal_name_to_number(s: &str) -> Option<i32> {
    let up = s.to_ascii_uppercase();
    let full = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    full.parse::<nix::sys::signal::Signal>().map(|s| s as i32).ok()
}

/// A signal as an image's StopSignal gives it: a name ('SIGINT', 'INT') or a number ('2').
pub(crate) fn signal_from_text(s: &str) -> Option<i32> {
    match s.trim().parse::<i32>() {
        Ok(n) if (1..=64).contains(&n) => Some(n),
        Ok(_) => None,
        Err(_) => signal_name_to_number(s.trim()),
    }
}

fn parse_kill_options(op: &str, options: Option<Unknown>) -> BResult<bool> {
    let Some(u) = options else { return Ok(false) };
    let obj = match u.get_type() {
        Ok(ValueType::Undefined) | Ok(ValueType::Null) => return Ok(false),
        Ok(ValueType::Object) => Object::from_unknown(u).map_err(|e| bad_value(op, "options", e))?,
        _ => return Err(Failure::invalid(op, "options must be an object such as { all: true }")),
    };
    let o: KillOptions = options::read(op, &obj, &[KILL_FIELDS])?;
    Ok(o.all.unwrap_or(false))
}

/// The keys of `container.limit()`, for its messages.
fn limit_keys() -> String {
    LIMIT_FIELDS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------------
// run() and exec's capture: output read, input written and the exit awaited concurrently, off
// the JS thread.

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Reads a pipe to its end, keeping at most `max` bytes (the rest is read and dropped, so the
/// writer never blocks); the bool says whether anything was dropped.
async fn read_all(fd: Option<OwnedFd>, max: usize) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    let Some(fd) = fd else { return Ok(None) };
    set_nonblocking(&fd)?;
    let mut rx = tokio::net::unix::pipe::Receiver::from_owned_fd_unchecked(fd)?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let mut truncated = false;
    loop {
        let n = rx.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Some((buf, truncated)));
        }
        let keep = n.min(max - buf.len());
        buf.extend_from_slice(&chunk[..keep]);
        truncated |= keep < n;
    }
}

async fn write_all(fd: Option<OwnedFd>, data: Vec<u8>) {
    let Some(fd) = fd else { return };
    if set_nonblocking(&fd).is_err() {
        return;
    }
    if let Ok(mut tx) = tokio::net::unix::pipe::Sender::from_owned_fd_unchecked(fd) {
        // The process may exit without reading: EPIPE is not an error of run() or wait().
        let _ = tx.write_all(&data).await;
    }
}

/// How a run or an exec'd process ended, with what was captured.
#[derive(Clone)]
struct Outcome {
    status: BResult<CoreExit>,
    stdout: Option<(Vec<u8>, bool)>,
    stderr: Option<(Vec<u8>, bool)>,
    read_error: Option<Failure>,
    timed_out: Option<Duration>,
}

/// Waits for `shared` (killed at `timeout`: its length and deadline) while reading the stdout and
/// stderr pipes to their end and writing `input` to the stdin pipe (`pipes`: our ends).
async fn collect<T: Waitable>(
    shared: Arc<Mutex<T>>,
    what: String,
    op: String,
    timeout: Option<(Duration, tokio::time::Instant)>,
    pipes: [Option<OwnedFd>; 3],
    input: Vec<u8>,
    max_buffer: usize,
) -> Outcome {
    let [stdin_fd, stdout_fd, stderr_fd] = pipes;
    let waiter = async {
        let w = wait_async(shared.clone(), what.clone());
        match timeout {
            None => (w.await, None),
            Some((t, deadline)) => match tokio::time::timeout_at(deadline, w).await {
                Ok(r) => (r, None),
                Err(_) => {
                    lock(&shared).kill_now();
                    (wait_async(shared.clone(), what.clone()).await, Some(t))
                }
            },
        }
    };
    let readers = async {
        let (o, e, ()) = tokio::join!(read_all(stdout_fd, max_buffer), read_all(stderr_fd, max_buffer), write_all(stdin_fd, input));
        (o, e)
    };
    let ((status, timed_out), (o, e)) = tokio::join!(waiter, readers);
    let mut read_error = None;
    let stdout = o.unwrap_or_else(|err| {
        read_error = Some(Failure::os(&format!("{op}: read stdout"), &err));
        None
    });
    let stderr = e.unwrap_or_else(|err| {
        read_error = Some(Failure::os(&format!("{op}: read stderr"), &err));
        None
    });
    Outcome { status, stdout, stderr, read_error, timed_out }
}

/// The JavaScript result of an Outcome: a RunResult, or the error (a timeout's carries the
/// partial result; `killed` names what the timeout killed).
fn finish(env: &Env, r: Outcome, as_buffer: bool, op: &str, killed: &str) -> Result<RunResult> {
    let cut = |b: &Option<(Vec<u8>, bool)>| b.as_ref().is_some_and(|(_, t)| *t);
    let (stdout_truncated, stderr_truncated) = (cut(&r.stdout), cut(&r.stderr));
    let text = |b: Option<(Vec<u8>, bool)>| -> Either3<String, Buffer, Null> {
        match b.map(|(b, _)| b) {
            None => Either3::C(Null),
            Some(b) if as_buffer => Either3::B(Buffer::from(b)),
            Some(b) => Either3::A(match String::from_utf8(b) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }),
        }
    };
    let status = match r.status {
        Ok(s) => s,
        Err(f) => return Err(f.into_napi(env)),
    };
    if let Some(f) = r.read_error {
        return Err(f.into_napi(env));
    }
    let result = RunResult {
        code: status.code.map(Either::A).unwrap_or(Either::B(Null)),
        signal: status.signal.map(|n| Either::A(signal_name(n))).unwrap_or(Either::B(Null)),
        oom_killed: status.oom_killed,
        stdout: text(r.stdout),
        stderr: text(r.stderr),
        stdout_truncated,
        stderr_truncated,
    };
    if let Some(t) = r.timed_out {
        let f = Failure {
            code: "ETIMEDOUT".into(),
            kind: "Timeout",
            errno: Some(libc::ETIMEDOUT),
            message: format!("{op}: timed out after {} ms ({killed} was killed)", t.as_millis()),
            causes: Vec::new(),
        };
        let err = f.into_napi(env);
        return Err(attach_result(env, err, result));
    }
    Ok(result)
}

/// Runs a command in a new container and resolves with its exit status and (with
/// `capture: true`) its output; the container is deleted afterwards. With `image`, an image the
/// store lacks is pulled first (off the JavaScript thread), as `rcontainer run IMAGE` does;
/// `args` then replace the image's Cmd ([] runs its own).
#[napi(ts_args_type = "args: string[], options?: CreateOptions & RunOptions", ts_return_type = "Promise<RunResult>")]
pub fn run<'e>(env: &'e Env, args: Unknown, options: Option<Unknown>) -> Result<PromiseRaw<'e, RunResult>> {
    let op = "run";
    let fail = |f: Failure| f.into_napi(env);
    let argv = options::args(op, args).map_err(fail)?;
    let obj = options::object(op, options).map_err(fail)?;
    let parse = || -> BResult<(Prepared, options::RunExtras, [StdioKind; 3], Option<options::PullJob>)> {
        let (mut o, mut r) = match &obj {
            None => (CreateOptions::default(), RunOptions::default()),
            Some(obj) => {
                (options::read::<CreateOptions>(op, obj, &[CREATE_FIELDS, RUN_FIELDS])?, options::read::<RunOptions>(op, obj, &[CREATE_FIELDS, RUN_FIELDS])?)
            }
        };
        if o.tty == Some(true) {
            return Err(Failure::invalid(op, "options.tty: run() does not read a terminal; use Container.create({ tty: true }) and container.pty"));
        }
        if o.image.is_none() && (r.plain_http.is_some() || r.credentials.is_some()) {
            let name = if r.plain_http.is_some() { "plainHttp" } else { "credentials" };
            return Err(Failure::invalid(op, format!("options.{name} goes with options.image (how to reach the registry an image is pulled from)")));
        }
        let registry = options::registry(op, r.plain_http.take(), r.credentials.take())?;
        o.args = Some(argv.clone());
        let extras = options::run_extras(op, r)?;
        let kinds = options::captured_stdio(op, o.stdio.as_ref(), &extras)?;
        let prepared = options::create(op, o)?;
        let pull = prepared.missing_image(op, registry)?;
        Ok((prepared, extras, kinds, pull))
    };
    let (prepared, extras, kinds, pull) = parse().map_err(fail)?;
    let env_key = env.raw() as usize;
    // Created now, on this thread; or, when its image must be pulled first, on a blocking
    // thread once it has been.
    let first = match pull {
        None => Ok(create_and_start(env_key, op, prepared, kinds).map_err(fail)?),
        Some(job) => Err((job, prepared)),
    };
    let argv0 = format!("run {argv:?}");
    let op_run = argv0.clone();
    let as_buffer = extras.as_buffer;
    let fut = async move {
        let created = match first {
            Ok(created) => created,
            Err((job, prepared)) => {
                let made = images::blocking(op_run.clone(), move || {
                    job.run(op)?;
                    create_and_start(env_key, op, prepared, kinds)
                })
                .await;
                match made {
                    Ok(created) => created,
                    Err(f) => return Ok(Outcome { status: Err(f), stdout: None, stderr: None, read_error: None, timed_out: None }),
                }
            }
        };
        let pipes = {
            let mut g = lock(&created.shared);
            std::mem::take(&mut g.pipes)
        };
        let timeout = extras.timeout.map(|t| (t, tokio::time::Instant::now() + t));
        let shared = created.shared.clone();
        let id = created.id.clone();
        drop(created);
        let mut r =
            collect(shared.clone(), format!("container {id:?}"), op_run.clone(), timeout, pipes, extras.input.unwrap_or_default(), extras.max_buffer).await;
        let deleted = lock(&shared).c.delete(true);
        if let (Ok(_), Err(e)) = (&r.status, deleted) {
            r.status = Err(Failure::core(&format!("{op_run}: delete container {id:?}"), &e));
        }
        drop(shared);
        Ok(r)
    };
    env.spawn_future_with_callback(fut, move |env, r: Outcome| finish(env, r, as_buffer, &argv0, "the container"))
}

/// Puts the partial result (stdout, stderr, signal) on a timeout error as `err.result` and
/// `err.stdout` / `err.stderr`.
fn attach_result(env: &Env, err: napi::Error, result: RunResult) -> napi::Error {
    let attach = || -> Result<napi::Error> {
        let mut obj = env.create_error(err)?;
        let stdout = match &result.stdout {
            Either3::A(s) => Either3::A(s.clone()),
            Either3::B(b) => Either3::B(Buffer::from(b.to_vec())),
            Either3::C(_) => Either3::C(Null),
        };
        let stderr = match &result.stderr {
            Either3::A(s) => Either3::A(s.clone()),
            Either3::B(b) => Either3::B(Buffer::from(b.to_vec())),
            Either3::C(_) => Either3::C(Null),
        };
        obj.set("stdout", stdout)?;
        obj.set("stderr", stderr)?;
        obj.set("result", result)?;
        Ok(napi::Error::from(obj.to_unknown()))
    };
    match attach() {
        Ok(e) => e,
        Err(e) => e,
    }
}

/// The version of rcontainer (core and bindings).
#[napi]
pub fn version() -> String {
    rcontainer_core::VERSION.to_string()
}
