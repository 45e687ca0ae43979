//! Shared helpers for rcontainer's end-to-end tests (the files under `tests/tests/`).
//!
//! These tests start real containers: they need root (the development machines and CI run as
//! root). A test that needs root starts with [`require_root!`], which prints `SKIP: needs root`
//! and returns when not root — it never passes silently.
//!
//! What is here:
//! - [`Bundle`]: a bundle directory in a tempdir: a busybox rootfs (from Debian's busybox-static)
//!   and a `config.json` made from `Spec::runc_default`, editable as JSON.
//! - [`StateRoot`]: a per-test state root (runc's `--root`) that force-deletes whatever containers
//!   are left in it when dropped.
//! - [`Guard`]: a container handle that is force-deleted when dropped (also when a test panics).
//! - [`run_captured`] / [`Piped`]: run a container through the library with stdout and stderr pipes.
//! - [`Cli`]: runs the `rcontainer` binary ([`rcontainer_bin`]) with a timeout.
//! - [`assert_nothing_left`]: the leak checker of the bad-input tests.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rcontainer_core::{Container, CreateOptions, ExitStatus, Spec, Stdio};
use serde_json::Value;
use tempfile::TempDir;

/// Where Debian's busybox-static puts the binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Default time a single container or command may take before a test gives up.
pub const TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Root, skipping, serialisation

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The running test's name (libtest names each test's thread after the test).
pub fn test_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

/// Whether a test that runs real containers may go on: true as root. Without root the test
/// fails (a skipped test must never read as a pass) unless RCONTAINER_SKIP_ROOT_TESTS is set:
/// then it prints `SKIPPED <test>` and returns false. The one policy of the Rust suites (the C
/// ABI tests use it too; core's own real-cgroup tests, which cannot depend on this crate, keep
/// the same rule).
pub fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var_os("RCONTAINER_SKIP_ROOT_TESTS").is_some() {
        eprintln!("SKIPPED {test}: needs root (it runs real containers)");
        return false;
    }
    panic!("{test} needs root (it runs real containers); run as root, or set RCONTAINER_SKIP_ROOT_TESTS=1 to skip such tests");
}

/// At the top of a test that needs root: see [`root_or_skip`] (fails without root unless
/// RCONTAINER_SKIP_ROOT_TESTS is set, then returns). Also arms a [`Watchdog`] of
/// [`TEST_TIMEOUT`] for the rest of the test, so a container that hangs (e.g. a child stuck on a
/// lock between clone and exec) aborts the test binary with a message instead of hanging the
/// suite.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::root_or_skip(&$crate::test_name()) {
            return;
        }
        let _watchdog = $crate::Watchdog::new($crate::TEST_TIMEOUT);
    };
}

/// How long one test may take before its [`Watchdog`] aborts the test binary.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(150);

/// Aborts the whole process (after printing which test hung and its child processes) unless
/// dropped within the timeout. Aborting is the only way out of a hang inside a library call.
pub struct Watchdog {
    done: Option<std::sync::mpsc::Sender<()>>,
}

impl Watchdog {
    pub fn new(timeout: Duration) -> Watchdog {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let name = test_name();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(timeout) {
                write_stderr(&format!("WATCHDOG: test {name} did not finish within {timeout:?}; aborting. Children of the test process: {:?}\n", children()));
                kill_children();
                std::process::abort();
            }
        });
        Watchdog { done: Some(tx) }
    }
}

/// Writes straight to fd 2, past libtest's output capture (which a process abort would discard).
pub fn write_stderr(text: &str) {
    // SAFETY: write of a valid buffer to fd 2.
    unsafe { libc::write(2, text.as_ptr() as *const libc::c_void, text.len()) };
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(());
        }
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

/// A process-wide lock for tests that must not overlap with others of the same test binary
/// (e.g. the leak checks, which look at every child process of the test process).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A container id unique to this test process: `rct-<tag>-<pid>-<n>`.
pub fn unique_id(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("rct-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

// ---------------------------------------------------------------------------------------------
// The rcontainer binary

/// The `rcontainer` binary: `$RCONTAINER_BIN`, else `<target>/debug/rcontainer` next to the
/// directory of this test executable (`<target>/debug/deps/<test>-<hash>`).
pub fn rcontainer_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("RCONTAINER_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "RCONTAINER_BIN={} does not exist", p.display());
        return p;
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/xxx -> target/debug
    let dir = exe.parent().and_then(Path::parent).expect("test executable has no grandparent directory");
    let bin = dir.join("rcontainer");
    assert!(bin.is_file(), "the rcontainer binary is not at {}: run `cargo build -p rcontainer-cli` first (or set RCONTAINER_BIN)", bin.display());
    bin
}

// ---------------------------------------------------------------------------------------------
// Rootfs and bundles

fn busybox_applets() -> Vec<String> {
    assert!(Path::new(BUSYBOX).is_file(), "{BUSYBOX} is missing: install Debian's busybox-static (apt-get install busybox-static)");
    let out = Command::new(BUSYBOX).arg("--list").output().expect("run busybox --list");
    assert!(out.status.success(), "busybox --list failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

/// Makes `dir` a busybox root filesystem: `bin/busybox` (a copy of the host's static busybox), a
/// symlink per applet, the usual mount points, and a minimal /etc/passwd and /etc/group.
pub fn make_busybox_rootfs(dir: &Path) {
    let applets = busybox_applets();
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "root", "mnt", "run", "var"] {
        std::fs::create_dir_all(dir.join(d)).expect("mkdir in rootfs");
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod rootfs");
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777)).expect("chmod tmp");
    std::fs::copy(BUSYBOX, dir.join("bin/busybox")).expect("copy busybox");
    for a in applets.iter().filter(|a| *a != "busybox") {
        symlink("busybox", dir.join("bin").join(a)).unwrap_or_else(|e| panic!("symlink applet {a}: {e}"));
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n").expect("passwd");
    std::fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
}

/// A busybox root filesystem in its own tempdir.
pub struct Rootfs {
    dir: TempDir,
}

impl Rootfs {
    pub fn busybox() -> Rootfs {
        let dir = tempfile::Builder::new().prefix("rct-rootfs-").tempdir().expect("tempdir");
        make_busybox_rootfs(dir.path());
        Rootfs { dir }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A bundle: `<tempdir>/rootfs` (busybox) and `<tempdir>/config.json`, the config being
/// `Spec::runc_default` with the given args. Edit the config as JSON with [`Bundle::edit`]; every
/// edit rewrites config.json.
pub struct Bundle {
    dir: TempDir,
    config: Value,
}

impl Bundle {
    /// A busybox bundle running `args`.
    pub fn busybox(args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new().prefix("rct-bundle-").tempdir().expect("tempdir");
        // The container's root (maybe a mapped uid) must be able to traverse the bundle dir.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod bundle");
        make_busybox_rootfs(&dir.path().join("rootfs"));
        let config: Value = serde_json::from_str(&Spec::runc_default(dir.path()).to_json()).expect("default config is JSON");
        let mut b = Bundle { dir, config };
        b.edit(|c| c["process"]["args"] = serde_json::json!(args));
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Changes the config and rewrites config.json.
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.config);
        let text = serde_json::to_string_pretty(&self.config).expect("encode config");
        std::fs::write(self.config_path(), text).expect("write config.json");
        self
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.edit(|c| c["process"]["args"] = serde_json::json!(args))
    }

    /// Adds capabilities to every capability set of the process.
    pub fn add_caps(&mut self, caps: &[&str]) -> &mut Self {
        self.edit(|c| {
            for set in ["bounding", "effective", "permitted", "ambient"] {
                let list = c["process"]["capabilities"][set].as_array_mut().expect("capability set");
                for cap in caps {
                    if !list.iter().any(|v| v == cap) {
                        list.push(Value::from(*cap));
                    }
                }
            }
        })
    }

    pub fn readonly_root(&mut self, ro: bool) -> &mut Self {
        self.edit(|c| c["root"]["readonly"] = Value::Bool(ro))
    }

    pub fn hostname(&mut self, name: &str) -> &mut Self {
        self.edit(|c| c["hostname"] = Value::from(name))
    }

    /// Adds `KEY=VALUE` to process.env.
    pub fn env(&mut self, kv: &str) -> &mut Self {
        self.edit(|c| c["process"]["env"].as_array_mut().expect("env").push(Value::from(kv)))
    }

    /// A new user namespace with these uid/gid maps (container, host, size).
    pub fn user_namespace(&mut self, uid: (u32, u32, u32), gid: (u32, u32, u32)) -> &mut Self {
        self.edit(|c| {
            c["linux"]["namespaces"].as_array_mut().expect("namespaces").push(serde_json::json!({"type": "user"}));
            c["linux"]["uidMappings"] = serde_json::json!([{"containerID": uid.0, "hostID": uid.1, "size": uid.2}]);
            c["linux"]["gidMappings"] = serde_json::json!([{"containerID": gid.0, "hostID": gid.1, "size": gid.2}]);
        })
    }

    /// The spec, read back from config.json the way the command does.
    pub fn spec(&self) -> Spec {
        Spec::from_bundle(self.path()).unwrap_or_else(|e| panic!("Spec::from_bundle({}): {e}", self.path().display()))
    }
}

// ---------------------------------------------------------------------------------------------
// State roots and container guards

/// A per-test state root (runc's `--root`) in a tempdir. Dropping it force-deletes every
/// container left in it, then removes the directory.
pub struct StateRoot {
    dir: TempDir,
}

impl StateRoot {
    pub fn new() -> StateRoot {
        let dir = tempfile::Builder::new().prefix("rct-state-").tempdir().expect("tempdir");
        StateRoot { dir }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn options(&self) -> CreateOptions {
        CreateOptions { root: self.path().to_path_buf(), stdio: null_stdio(), ..Default::default() }
    }
    /// Names of the entries of the state root that are container state dirs (not `.default-root`).
    pub fn container_dirs(&self) -> Vec<String> {
        std::fs::read_dir(self.path())
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect())
            .unwrap_or_default()
    }
}

impl Default for StateRoot {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StateRoot {
    fn drop(&mut self) {
        if let Ok(states) = rcontainer_core::list(self.path()) {
            for s in states {
                if let Ok(mut c) = Container::load(self.path(), &s.id) {
                    let _ = c.delete(true);
                }
            }
        }
    }
}

fn dev_null() -> &'static File {
    static NULL: std::sync::OnceLock<File> = std::sync::OnceLock::new();
    NULL.get_or_init(|| std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").expect("open /dev/null"))
}

/// stdin, stdout and stderr all /dev/null.
pub fn null_stdio() -> Stdio {
    let fd = dev_null().as_raw_fd();
    Stdio { stdin: Some(fd), stdout: Some(fd), stderr: Some(fd) }
}

/// A container that is force-deleted when dropped.
pub struct Guard(pub Container);

impl std::ops::Deref for Guard {
    type Target = Container;
    fn deref(&self) -> &Container {
        &self.0
    }
}
impl std::ops::DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut Container {
        &mut self.0
    }
}
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.delete(true);
    }
}

/// A pipe (read end, write end), both close-on-exec.
pub fn pipe() -> (File, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
    (File::from(r), w)
}

/// Reads `f` to EOF on a thread.
pub fn read_on_thread(mut f: File) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A created container whose stdout and stderr are pipes to this process.
pub struct Piped {
    pub container: Guard,
    pub stdout: BufReader<File>,
    pub stderr: File,
}

impl Piped {
    /// Creates (not starts) a container with stdin /dev/null and stdout/stderr pipes.
    pub fn create(id: &str, spec: &Spec, root: &Path) -> rcontainer_core::Result<Piped> {
        let (out_r, out_w) = pipe();
        let (err_r, err_w) = pipe();
        let opts = CreateOptions {
            root: root.to_path_buf(),
            stdio: Stdio { stdin: Some(dev_null().as_raw_fd()), stdout: Some(out_w.as_raw_fd()), stderr: Some(err_w.as_raw_fd()) },
            ..Default::default()
        };
        let c = Container::create(id, spec, &opts)?;
        // The container holds its own copies now; ours must go or EOF never comes.
        drop(out_w);
        drop(err_w);
        Ok(Piped { container: Guard(c), stdout: BufReader::new(out_r), stderr: err_r })
    }

    /// Reads stdout lines until one contains `marker` (panics at EOF); returns the lines read.
    pub fn read_until(&mut self, marker: &str) -> String {
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).expect("read container stdout");
            if n == 0 {
                let mut err = String::new();
                let _ = self.stderr.read_to_string(&mut err);
                panic!("container stdout ended before {marker:?}; stdout: {seen:?}; stderr: {err:?}");
            }
            seen.push_str(&line);
            if line.contains(marker) {
                return seen;
            }
        }
    }

    /// Waits for the end (at most `timeout`; killed after that) and collects the rest of the output.
    pub fn finish(mut self, timeout: Duration) -> Captured {
        // Lines read ahead by the BufReader but not yet returned come first.
        let buffered = String::from_utf8_lossy(self.stdout.buffer()).into_owned();
        let rest_out = read_on_thread(self.stdout.into_inner());
        let err = read_on_thread(self.stderr);
        let status = wait_or_kill(&mut self.container, timeout);
        let stdout = buffered + &rest_out.join().unwrap_or_default();
        Captured { status, stdout, stderr: err.join().unwrap_or_default() }
    }
}

/// Waits for the container at most `timeout`; on timeout kills it and panics.
pub fn wait_or_kill(c: &mut Container, timeout: Duration) -> ExitStatus {
    match c.wait(Some(timeout)) {
        Ok(s) => s,
        Err(e) => {
            let _ = c.kill(libc::SIGKILL);
            let _ = c.wait(Some(Duration::from_secs(10)));
            panic!("container {:?} did not end within {timeout:?}: {e}", c.id());
        }
    }
}

/// How a container run through the library went.
#[derive(Debug)]
pub struct Captured {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// create + start + wait + delete through the library, with stdout/stderr captured.
pub fn run_captured(id: &str, spec: &Spec, root: &Path) -> rcontainer_core::Result<Captured> {
    let p = Piped::create(id, spec, root)?;
    let out = read_on_thread(p.stdout.into_inner());
    let err = read_on_thread(p.stderr);
    let mut c = p.container;
    c.start()?;
    let status = wait_or_kill(&mut c, TIMEOUT);
    c.delete(false)?;
    Ok(Captured { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() })
}

/// [`run_captured`] that panics on a runtime error.
pub fn run_ok(id: &str, spec: &Spec, root: &Path) -> Captured {
    run_captured(id, spec, root).unwrap_or_else(|e| panic!("container {id}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The command

/// What a command did.
#[derive(Debug)]
pub struct Out {
    pub status: std::process::ExitStatus,
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
    /// Panics with the whole output unless the command succeeded.
    pub fn ok(self) -> Out {
        assert!(self.success(), "command failed ({:?}): stdout {:?} stderr {:?}", self.code, self.stdout, self.stderr);
        self
    }
}

/// Runs `rcontainer --root <root> ...`.
pub struct Cli {
    root: PathBuf,
    bin: PathBuf,
}

impl Cli {
    pub fn new(root: &Path) -> Cli {
        Cli { root: root.to_path_buf(), bin: rcontainer_bin() }
    }

    /// The same with another binary (e.g. a copy of the command, to attack it).
    pub fn with_bin(root: &Path, bin: &Path) -> Cli {
        Cli { root: root.to_path_buf(), bin: bin.to_path_buf() }
    }

    /// A command `rcontainer --root <root> ARGS` (stdin /dev/null).
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(args).stdin(std::process::Stdio::null());
        c
    }

    /// Runs `rcontainer --root <root> ARGS` with stdout and stderr going to files (so a container
    /// that outlives the command, e.g. after `create` or `run -d`, cannot make us wait), at most
    /// [`TIMEOUT`].
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Out {
        output_timeout(self.command(args), TIMEOUT)
    }

    /// `state ID` parsed as JSON (panics when the command fails).
    pub fn state(&self, id: &str) -> Value {
        let out = self.run(&["state", id]).ok();
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("state output is not JSON ({e}): {:?}", out.stdout))
    }

    /// Polls `state ID` until its status is `status` (at most 10 s).
    pub fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The container may not exist yet (the command creating it is still starting).
            let out = self.run(&["state", id]);
            let last = if out.success() {
                let s: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("state output is not JSON ({e}): {:?}", out.stdout));
                if s["status"] == status {
                    return s;
                }
                s.to_string()
            } else {
                out.stderr
            };
            assert!(Instant::now() < deadline, "container {id} never reached {status}: last state {last}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Runs `cmd` with stdout/stderr to anonymous files; kills it and panics after `timeout`.
pub fn output_timeout(mut cmd: Command, timeout: Duration) -> Out {
    let mut out = tempfile::tempfile().expect("tempfile");
    let mut err = tempfile::tempfile().expect("tempfile");
    cmd.stdout(out.try_clone().expect("dup")).stderr(err.try_clone().expect("dup"));
    let desc = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    drop(cmd);
    let status = wait_child(&mut child, timeout).unwrap_or_else(|| panic!("{desc} did not finish within {timeout:?}"));
    let read = |f: &mut File| {
        let mut s = String::new();
        f.seek(SeekFrom::Start(0)).expect("seek");
        let _ = f.read_to_string(&mut s);
        s
    };
    Out { status, code: status.code(), stdout: read(&mut out), stderr: read(&mut err) }
}

/// Waits for `child` at most `timeout`; kills and reaps it on timeout (returns None then).
pub fn wait_child(child: &mut std::process::Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait().expect("try_wait") {
            Some(s) => return Some(s),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Force-deletes a container through the command when dropped (for containers made by the CLI).
pub struct CliGuard<'a> {
    pub cli: &'a Cli,
    pub id: String,
}

impl Drop for CliGuard<'_> {
    fn drop(&mut self) {
        let _ = output_timeout(self.cli.command(&["delete", "--force", &self.id]), Duration::from_secs(20));
    }
}

// ---------------------------------------------------------------------------------------------
// Host-side observations

/// Lines of `/proc/<pid>/mountinfo` (`self` for this process).
pub fn mountinfo(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default()
}

/// The namespace link (e.g. `net:[4026531840]`) of `/proc/<pid>/ns/<kind>`.
pub fn ns_link(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).map(|p| p.display().to_string()).unwrap_or_else(|e| format!("<{e}>"))
}

/// Field `key:` of `/proc/<pid>/status`, whitespace-normalised.
pub fn proc_status_field(pid: i32, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| l.strip_prefix(&format!("{key}:"))).map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Child processes of this process as (pid, state, comm), from /proc.
pub fn children() -> Vec<(i32, char, String)> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else { return out };
    for e in rd.filter_map(|e| e.ok()) {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let comm = stat[open + 1..close].to_string();
        let rest: Vec<&str> = stat[close + 2..].split(' ').collect();
        let state = rest.first().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: i32 = rest.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if ppid == me {
            out.push((pid, state, comm));
        }
    }
    out
}

/// SIGKILLs every child process of this process (our own containers' inits, by pid): used before
/// aborting so a hung container child does not outlive the test binary.
pub fn kill_children() {
    for (pid, _, _) in children() {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Makes this process the reaper of its orphaned descendants, so a container init left behind by
/// a `rcontainer` command that exited shows up as our child (and [`assert_nothing_left`] sees it).
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(r, 0, "prctl(PR_SET_CHILD_SUBREAPER): {}", std::io::Error::last_os_error());
}

/// Directories under /sys/fs/cgroup (at most 8 levels deep) whose name contains `id`.
pub fn cgroup_dirs_named(id: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, id: &str, depth: u32, out: &mut Vec<PathBuf>) {
        if depth > 8 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.filter_map(|e| e.ok()) {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let p = e.path();
            if e.file_name().to_string_lossy().contains(id) {
                out.push(p.clone());
            }
            walk(&p, id, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), id, 0, &mut out);
    out
}

/// The leak check after a failed create: the state dir `<root>/<id>` is gone, no mount in
/// /proc/self/mountinfo mentions any of `paths` (the test's tempdirs), this process has no child
/// (alive or zombie; with [`become_subreaper`], orphans of the command count too), and no cgroup
/// dir is named after the id. Call under [`serial`] so other tests' children do not interfere.
/// Leftover children are killed and reaped after being reported, so one failure does not spill
/// into the next test.
pub fn assert_nothing_left(root: &Path, id: &str, paths: &[&Path]) {
    let mut problems = Vec::new();
    let dir = root.join(id);
    if dir.exists() {
        problems.push(format!("state dir {} still exists", dir.display()));
    }
    let mi = mountinfo("self");
    for p in paths {
        let needle = p.to_string_lossy();
        for line in mi.lines().filter(|l| l.contains(needle.as_ref())) {
            problems.push(format!("mount left behind: {line}"));
        }
    }
    // A process being torn down may take a moment to disappear.
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut kids = children();
    while !kids.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        kids = children();
    }
    for (pid, state, comm) in &kids {
        problems.push(format!("child process left behind: pid {pid} ({comm}) state {state}{}", if *state == 'Z' { " (zombie)" } else { "" }));
        // SAFETY: signalling and reaping our own child by pid.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
            libc::waitpid(*pid, std::ptr::null_mut(), 0);
        }
    }
    // Also ask the kernel: a waitable (zombie) child of ours, without reaping it.
    // SAFETY: waitid with WNOWAIT only reports.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) };
    if r == 0 {
        // SAFETY: si_pid is valid after a successful waitid.
        let pid = unsafe { info.si_pid() };
        if pid != 0 {
            problems.push(format!("waitid found an unreaped child: pid {pid}"));
        }
    }
    for d in cgroup_dirs_named(id) {
        problems.push(format!("cgroup left behind: {}", d.display()));
    }
    assert!(problems.is_empty(), "container {id} left things behind:\n  {}", problems.join("\n  "));
}

/// Waits (at most 10 s) until process `pid` has a handler for `sig` (SigCgt in /proc/<pid>/status),
/// e.g. until a shell's `trap` is in place: a pid namespace's init only receives handled signals.
pub fn wait_handles_signal(pid: i64, sig: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let caught = proc_status_field(pid as i32, "SigCgt").and_then(|h| u64::from_str_radix(&h, 16).ok()).unwrap_or(0);
        if caught & (1u64 << (sig - 1)) != 0 {
            return;
        }
        assert!(Instant::now() < deadline, "process {pid} never installed a handler for signal {sig}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
