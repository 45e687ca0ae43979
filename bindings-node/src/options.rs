//! The options objects of `Container.create` / `run`, `container.exec`, `container.limit` and
//! `container.kill`: typed `#[napi(object)]` structs, so napi converts the JavaScript values and
//! binding.d.ts gets their types. Here they are mapped onto core's `Options` (rcontainer_core::
//! options: what each option means, its values' rules and the defaults, shared with the command
//! and the Python package), which makes the spec, and onto the exec command, the limits and the
//! stdio of the call.
//!
//! napi objects ignore keys they do not have, so `read` checks the object's keys against the
//! struct's list of fields (next to each struct) first: a misspelt option is an error, not a
//! default. null is the same as undefined (the option's default). A value of the wrong
//! JavaScript type is an EINVAL error naming the option, what it must be (the second column of
//! the list) and the value.

// The fields' types are spelt out: napi's typegen makes binding.d.ts from them as written (an
// alias would be an unknown name there), and its conversion code repeats them.
#![allow(clippy::type_complexity)]

use std::path::PathBuf;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::JsValue;
use napi_derive::napi;
use rcontainer_core::oci_spec::runtime::LinuxIdMapping;
use rcontainer_core::options::{limit_bytes, limit_text, parse_env_entry, parse_user, validate_limits, Naming, Network, Options};
use rcontainer_core::spec::{self, parse_id_map, parse_namespace_type};
use rcontainer_core::{ExecCommand, Limits, Spec};
use rcontainer_image::config::{Overrides, STOP_SIGNAL_ANNOTATION};
use rcontainer_image::{PullOptions as Registry, Store};
use serde_json::Value;

use crate::error::{bad_value, BResult, Failure};
use crate::images;

/// An option: its JavaScript name and what its value must be (said when it has the wrong type).
pub type Field = (&'static str, &'static str);

const STRING: &str = "a string";
const BOOLEAN: &str = "a boolean";
const ENV: &str = "an object {KEY: 'value'} or an array of 'KEY=VALUE'";
const USER: &str = "a uid, 'UID:GID', a user name or {uid, gid}";
const ID_MAP: &str = "{containerId, hostId, size}, 'C:H:N' or an array of them";
const SIZE: &str = "a number of bytes or a size like '32M'";
const STDIO: &str = "'inherit', 'ignore', 'pipe' or an array of up to 3 of those, file descriptors or null";
const TTY_SIZE: &str = "{ rows, cols }";
const CPUS: &str = "a positive number of CPUs (0.5 = half a CPU)";
const PIDS: &str = "a positive integer or -1 (unlimited)";
const MILLISECONDS: &str = "a number of milliseconds";
const INPUT: &str = "a string or a Buffer";
const ENCODING: &str = "'utf8' or 'buffer'";
const BYTES: &str = "a number of bytes";
const CREDENTIALS: &str = "{ username, password } (strings)";

// ---------------------------------------------------------------------------------------------
// Container.create (and run).

/// Options of `Container.create` (and of `run`).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct CreateOptions {
    /// The command and its arguments; args[0] is looked up in PATH. Required unless `spec` has them.
    pub args: Option<Vec<String>>,
    /// Container id (default: 'rc-' and 12 hex digits).
    pub id: Option<String>,
    /// Root filesystem directory (default: a read-only view of the host's /usr, /bin, /lib*, /etc).
    pub rootfs: Option<String>,
    /// Hostname (default: the id).
    pub hostname: Option<String>,
    /// Variables set in the environment: { KEY: 'value' } or ['KEY=VALUE'].
    pub env: Option<Either<Vec<String>, Record<String, Either3<String, f64, bool>>>>,
    /// Working directory inside the container.
    pub cwd: Option<String>,
    /// User to run as: a uid, 'UID:GID', { uid, gid }, or names as `docker run -u` takes them
    /// ('nobody', 'app:staff'), looked up in the container's /etc/passwd and /etc/group.
    pub user: Option<Either3<f64, String, UserIds>>,
    /// A list of namespace types replaces the default set (pid, network, ipc, uts, mount, cgroup);
    /// an object adds (true), removes (false) or joins (a path) single ones.
    pub namespaces: Option<Either<Vec<String>, Record<String, Either<bool, String>>>>,
    /// User namespace mappings ('0:100000:65536' or objects); gidMap defaults to uidMap.
    pub uid_map: Option<Either3<String, Vec<Either<String, IdMap>>, IdMap>>,
    pub gid_map: Option<Either3<String, Vec<Either<String, IdMap>>, IdMap>>,
    /// Mounts: bind mounts of host paths by default (an unknown key in one is an error).
    #[napi(ts_type = "MountOptions[]")]
    pub mounts: Option<Vec<Value>>,
    /// 'none' (a new network namespace with only lo, the default), 'host', or a netns path.
    #[napi(ts_type = "'none' | 'host' | `/${string}`")]
    pub network: Option<String>,
    /// Memory limit: bytes, or a size such as '32M' or '1G'. With it, `oomKilled` reports
    /// whether the kernel's OOM killer ended a process of the container.
    pub memory: Option<Either<f64, String>>,
    /// Memory plus swap (as Docker's --memory-swap): bytes, a size, or -1 for unlimited swap.
    pub memory_swap: Option<Either<f64, String>>,
    /// CPU limit in CPUs (0.5 = half a CPU).
    pub cpus: Option<f64>,
    /// Maximum number of processes (-1: unlimited).
    pub pids: Option<f64>,
    /// stdin, stdout, stderr: 'inherit', 'ignore', 'pipe' or a file descriptor. Default for
    /// Container.create: ['ignore', 'inherit', 'inherit'] (as `docker run` without -i).
    #[napi(ts_type = "'inherit' | 'ignore' | 'pipe' | Array<'inherit' | 'ignore' | 'pipe' | number | null | undefined>")]
    pub stdio: Option<StdioOption>,
    /// A whole OCI runtime config (config.json as an object); the other options override it.
    pub spec: Option<Record<String, Value>>,
    /// Directory that relative paths in `spec` resolve against (default: the current directory).
    pub bundle: Option<String>,
    /// State root (default /run/rcontainer for root; an ordinary user's $XDG_RUNTIME_DIR/rcontainer or /tmp/rcontainer-UID).
    pub root: Option<String>,
    /// A terminal of its own, as `docker run -t`: a new pty of the container's devpts is its
    /// stdin, stdout, stderr and /dev/console (so `stdio` is not given); its master is
    /// `container.pty`, and `container.resize()` sets its size. Not for `run`.
    pub tty: Option<bool>,
    /// The terminal's initial size (with `tty`).
    pub tty_size: Option<TtySize>,
    /// The preset for code you do not trust: uid/gid 65534, no capabilities, a read-only root
    /// with a 64 MiB /tmp, only lo, 256M of memory (no swap), 1 CPU, 64 processes; the options
    /// given here still win (core's options::SANDBOX).
    pub sandbox: Option<bool>,
    /// An image to run, as `docker run IMAGE` does: a name ('busybox', 'busybox:1.36',
    /// '127.0.0.1:5000/tools/app:v1', 'app@sha256:...') or an image id from `images()`. The
    /// container's root is a copy-on-write overlay over the image's layers (what it writes is its
    /// own and goes with it); the image's Entrypoint, Cmd, Env, WorkingDir, User and StopSignal
    /// apply unless the options say otherwise: `args` replace Cmd, `entrypoint` replaces
    /// Entrypoint, `env` adds or replaces variables, `cwd` and `user` win. Not with `rootfs`.
    /// `Container.create` takes it from the store (`pull()` or `importImage()` first); `run()`
    /// pulls it when the store lacks it.
    pub image: Option<String>,
    /// With `image`: replaces the image's Entrypoint (`docker run --entrypoint`), which drops
    /// its Cmd too; `args` follow it. '' or [] clears it; an array is the command and its first
    /// arguments.
    pub entrypoint: Option<Either<String, Vec<String>>>,
    /// A read-only root: with `image`, the image's layers alone (no writable layer); with
    /// `rootfs` or `spec`, that root mounted read-only. (The default root always is.)
    pub read_only: Option<bool>,
    /// With `image`: the image store (default: $RCONTAINER_STORE, else /var/lib/rcontainer).
    pub store: Option<String>,
}

/// The fields of CreateOptions.
pub const CREATE_FIELDS: &[Field] = &[
    ("args", "an array of strings"),
    ("id", STRING),
    ("rootfs", STRING),
    ("hostname", STRING),
    ("env", ENV),
    ("cwd", STRING),
    ("user", USER),
    ("namespaces", "an array of types or an object {type: true | false | path}"),
    ("uidMap", ID_MAP),
    ("gidMap", ID_MAP),
    ("mounts", "an array of mount objects"),
    ("network", "'none', 'host' or a network namespace path"),
    ("memory", SIZE),
    ("memorySwap", SIZE),
    ("cpus", CPUS),
    ("pids", PIDS),
    ("stdio", STDIO),
    ("spec", "an OCI runtime config object"),
    ("bundle", STRING),
    ("root", STRING),
    ("tty", BOOLEAN),
    ("ttySize", TTY_SIZE),
    ("sandbox", BOOLEAN),
    ("image", "an image name or id (a string)"),
    ("entrypoint", "a string or an array of strings"),
    ("readOnly", BOOLEAN),
    ("store", STRING),
];

/// A user as ids (`gid` defaults to `uid`).
#[napi(object, object_to_js = false)]
pub struct UserIds {
    pub uid: f64,
    pub gid: Option<f64>,
}

/// A user namespace id mapping.
#[napi(object, object_to_js = false)]
pub struct IdMap {
    pub container_id: f64,
    pub host_id: f64,
    pub size: f64,
}

/// A terminal's size.
#[napi(object, object_to_js = false)]
pub struct TtySize {
    pub rows: f64,
    pub cols: f64,
}

/// The `stdio` option: one kind for all three streams, or up to three entries.
pub type StdioOption = Either<String, Vec<Option<Either<String, f64>>>>;

/// What one of the three standard streams of the container is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdioKind {
    Inherit,
    Ignore,
    Pipe,
    Fd(i32),
}

/// Everything `Container.create` needs, parsed (the stdio kinds are the caller's: `stdio_kinds`).
pub struct Parsed {
    pub id: String,
    pub root: PathBuf,
    pub spec: Spec,
    /// A terminal of its own (the pty is its stdio).
    pub tty: bool,
    /// From an image: the store that holds the container's copy-on-write root (released if
    /// the container is not created after all; core's delete removes it otherwise).
    pub store: Option<Store>,
    /// The signal `container.kill()` sends by default: the image's StopSignal, else SIGTERM.
    pub stop_signal: i32,
}

/// A container from an image, as the options ask for it.
struct ImageRequest {
    reference: String,
    store: PathBuf,
    overrides: Overrides,
}

/// The create options read, before the image (if any) is taken from the store and the spec
/// made (`finish`); in between, run() pulls an image the store lacks (`missing_image`).
pub struct Prepared {
    id: String,
    root: PathBuf,
    c: Options,
    tty: bool,
    read_only: bool,
    image: Option<ImageRequest>,
}

/// Maps the create options onto core's `Options`.
pub fn create(op: &str, mut o: CreateOptions) -> BResult<Prepared> {
    let core = |e: rcontainer_core::Error| Failure::core(op, &e);
    let id = o.id.unwrap_or_else(rcontainer_core::state::generate_id);
    let root = match o.root {
        None => rcontainer_core::rootless::default_state_root(),
        Some(r) => std::path::absolute(r).map_err(|e| Failure::os(op, &e))?,
    };
    let bundle = match o.bundle {
        None => std::env::current_dir().map_err(|e| Failure::os(op, &e))?,
        Some(b) => PathBuf::from(b),
    };
    let mut c = Options { naming: Naming::Camel, bundle: Some(bundle.clone()), ..Options::default() };
    let image = match o.image {
        None => {
            for (given, name) in [(o.entrypoint.is_some(), "entrypoint"), (o.store.is_some(), "store")] {
                if given {
                    return Err(Failure::invalid(op, format!("options.{name} goes with options.image (an image to run)")));
                }
            }
            None
        }
        Some(_) if o.rootfs.is_some() => {
            return Err(Failure::invalid(op, "options.image and options.rootfs cannot both be given: the image is the container's root filesystem"))
        }
        Some(reference) => {
            // The arguments replace the image's Cmd; an entrypoint its Entrypoint (an array:
            // the command, then its first arguments, before `args`).
            let mut cmd = o.args.take().unwrap_or_default();
            let entrypoint = match o.entrypoint {
                None => None,
                Some(Either::A(e)) => Some(e),
                Some(Either::B(mut words)) if !words.is_empty() => {
                    let first = words.remove(0);
                    words.append(&mut cmd);
                    cmd = words;
                    Some(first)
                }
                Some(Either::B(_)) => Some(String::new()),
            };
            let store = store_path(o.store);
            Some(ImageRequest { reference, store, overrides: Overrides { entrypoint, cmd } })
        }
    };
    match o.spec {
        Some(spec) => {
            let json = Value::Object(spec.0.into_iter().collect());
            c.spec = Some(Spec::from_json(&json.to_string(), &bundle).map_err(core)?);
            c.args = o.args;
        }
        // The image gives the command.
        None if image.is_some() => {}
        None => {
            let args = o.args.ok_or_else(|| Failure::invalid(op, "options.args is required (the command and its arguments, e.g. ['sh', '-c', 'echo hi'])"))?;
            if args.first().map(String::as_str).unwrap_or_default().is_empty() {
                return Err(Failure::invalid(op, "options.args must not be empty (the command to run)"));
            }
            c.args = Some(args);
        }
    }
    c.rootfs = o.rootfs.map(PathBuf::from);
    c.hostname = o.hostname;
    c.env = env(op, o.env)?;
    c.cwd = o.cwd.map(PathBuf::from);
    match o.user {
        None => {}
        // Numbers as they are; a name (docker's -u NAME[:GROUP]) from the container's
        // /etc/passwd, by core (as the command does).
        Some(Either3::B(text)) => match parse_user(Naming::Camel, &text) {
            Ok(ids) => c.user = Some(ids),
            Err(_) => c.user_name = Some(text),
        },
        Some(u) => c.user = Some(user_ids(op, u)?),
    }
    match o.namespaces {
        None => {}
        Some(Either::A(types)) => {
            c.namespaces = Some(types.iter().map(|t| parse_namespace_type(t).map(|t| (t, None)).map_err(core)).collect::<BResult<Vec<_>>>()?);
        }
        Some(Either::B(changes)) => {
            for (name, change) in changes.0 {
                let t = parse_namespace_type(&name).map_err(core)?;
                c.namespace_changes.push(match change {
                    Either::A(on) => (t, on, None),
                    Either::B(path) => (t, true, Some(PathBuf::from(path))),
                });
            }
        }
    }
    if let Some(m) = o.uid_map {
        c.uid_map = id_maps(op, "uidMap", m)?;
    }
    if let Some(m) = o.gid_map {
        c.gid_map = id_maps(op, "gidMap", m)?;
    }
    if let Some(mounts) = o.mounts {
        c.mounts = mounts.iter().enumerate().map(|(i, m)| spec::mount_from_json(&format!("options.mounts[{i}]"), m).map_err(core)).collect::<BResult<_>>()?;
    }
    if let Some(n) = o.network {
        c.network = Some(Network::parse(Naming::Camel, &n).map_err(core)?);
    }
    c.limits = limits(op, LimitOptions { memory: o.memory, memory_swap: o.memory_swap, cpus: o.cpus, pids: o.pids })?;
    let tty = tty(op, o.tty, o.tty_size, o.stdio.is_some())?;
    c.terminal = tty;
    c.sandbox = o.sandbox.unwrap_or(false);
    Ok(Prepared { id, root, c, tty: tty.is_some(), read_only: o.read_only.unwrap_or(false), image })
}

impl Prepared {
    /// With `image`: the pull run() makes first when the store lacks the image (with
    /// `registry`, how to reach it), else None.
    pub fn missing_image(&self, op: &str, registry: Registry) -> BResult<Option<PullJob>> {
        let Some(img) = &self.image else { return Ok(None) };
        let store = images::open_store(op, &img.store)?;
        if store.find(&img.reference).map_err(|e| Failure::image(op, &e))?.is_some() {
            return Ok(None);
        }
        let reference = img.reference.clone();
        Ok(Some(PullJob { store, reference, options: registry }))
    }

    /// Takes the image (if any) from the store (the container's copy-on-write root, its
    /// config applied under the options) and makes the spec.
    pub fn finish(self, op: &str) -> BResult<Parsed> {
        let core = |e: rcontainer_core::Error| Failure::core(op, &e);
        let Prepared { id, root, mut c, tty, read_only, image } = self;
        let Some(img) = image else {
            let mut spec = c.to_spec(&id, &root).map_err(core)?;
            if read_only {
                if let Some(r) = spec.config_mut().root_mut() {
                    r.set_readonly(Some(true));
                }
            }
            return Ok(Parsed { id, root, spec, tty, store: None, stop_signal: libc::SIGTERM });
        };
        let store = images::open_store(op, &img.store)?;
        let applied = rcontainer_image::config::prepare(&store, &img.reference, &id, read_only, &img.overrides, &mut c).map_err(|e| match e {
            rcontainer_image::Error::ImageNotFound { .. } => match rcontainer_image::Name::parse(&img.reference) {
                // Not in the store because it is no image name at all: say that ('EINVAL').
                Err(bad) => Failure::image(op, &bad),
                Ok(_) => Failure::not_found(
                    op,
                    format!(
                        "no image {:?} in the store {}: pull it first (await pull({:?}, {{ store }})), import it (importImage), or use run(), which pulls it",
                        img.reference,
                        store.root().display(),
                        img.reference
                    ),
                ),
            },
            e => Failure::image(op, &e),
        })?;
        // The container's root is in the store from here on: released if anything fails.
        let made = (|| {
            let stop_signal = match &applied.stop_signal {
                None => libc::SIGTERM,
                Some(s) => crate::signal_from_text(s)
                    .ok_or_else(|| Failure::invalid(op, format!("image {:?}: its StopSignal {s:?} is not a signal", img.reference)))?,
            };
            let mut spec = c.to_spec(&id, &root).map_err(core)?;
            if let Some(sig) = applied.stop_signal {
                // What `rcontainer kill ID` without a signal sends too.
                spec.config_mut().annotations_mut().get_or_insert_with(Default::default).insert(STOP_SIGNAL_ANNOTATION.into(), sig);
            }
            Ok((spec, stop_signal))
        })();
        match made {
            Ok((spec, stop_signal)) => Ok(Parsed { id, root, spec, tty, store: Some(store), stop_signal }),
            Err(f) => {
                let _ = store.release_container(&id);
                Err(f)
            }
        }
    }
}

/// The pull run() makes of an image the store lacks.
pub struct PullJob {
    store: Store,
    reference: String,
    options: Registry,
}

impl PullJob {
    /// Pulls the image (blocking: off the JavaScript thread).
    pub fn run(self, op: &str) -> BResult<()> {
        let what = format!("{op}: image {:?} is not in the store {}, and pulling it failed", self.reference, self.store.root().display());
        rcontainer_image::pull(&self.store, &self.reference, &self.options, &mut |_| {}).map_err(|e| Failure::image(&what, &e))?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// container.limit (its fields are also CreateOptions').

/// What `container.limit()` changes on a live container (only the keys given change).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct LimitOptions {
    /// Memory limit: bytes, a size such as '32M' or '1G', or -1 for unlimited.
    pub memory: Option<Either<f64, String>>,
    /// Memory plus swap (as Docker's --memory-swap): bytes, a size, or -1 for unlimited swap.
    pub memory_swap: Option<Either<f64, String>>,
    /// CPU limit in CPUs (0.5 = half a CPU).
    pub cpus: Option<f64>,
    /// Maximum number of processes, or -1 for unlimited.
    pub pids: Option<f64>,
}

/// The fields of LimitOptions.
pub const LIMIT_FIELDS: &[Field] = &[("memory", SIZE), ("memorySwap", SIZE), ("cpus", CPUS), ("pids", PIDS)];

impl LimitOptions {
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.memory_swap.is_none() && self.cpus.is_none() && self.pids.is_none()
    }
}

/// The resource options of `Container.create` and `container.limit`: memory, memorySwap
/// (memory plus swap, as Docker's --memory-swap; -1 = unlimited swap), cpus, pids. Their rules
/// are core's (options::limit_bytes, limit_text, validate_limits).
pub fn limits(op: &str, l: LimitOptions) -> BResult<Limits> {
    let pids = match l.pids {
        None => None,
        Some(p) => Some(whole::<i64>(p).ok_or_else(|| Failure::invalid(op, format!("options.pids must be a positive integer or -1 (unlimited), got {p}")))?),
    };
    let limits = Limits {
        memory: l.memory.map(|v| size(op, "memory", v)).transpose()?,
        memory_swap: l.memory_swap.map(|v| size(op, "memory_swap", v)).transpose()?,
        cpus: l.cpus,
        pids,
        ..Limits::default()
    };
    validate_limits(Naming::Camel, &limits).map_err(|e| Failure::core(op, &e))?;
    Ok(limits)
}

/// A size in bytes: a whole number or a string like '32M', positive or -1 for unlimited (core's
/// rule, options::limit_bytes / limit_text). `option` is its snake_case name.
fn size(op: &str, option: &str, v: Either<f64, String>) -> BResult<i64> {
    let core = |e: rcontainer_core::Error| Failure::core(op, &e);
    match v {
        Either::A(n) => match whole::<i64>(n) {
            Some(b) => limit_bytes(Naming::Camel, option, b).map_err(core),
            None => Err(Failure::invalid(
                op,
                format!("{} must be a whole number of bytes, a size like '32M', or -1 (unlimited), got {n}", Naming::Camel.name(option)),
            )),
        },
        Either::B(text) => limit_text(Naming::Camel, option, &text).map_err(core),
    }
}

// ---------------------------------------------------------------------------------------------
// container.exec.

/// Options of `container.exec(args, options)`. Without them the process runs as `docker exec`
/// runs one: as the container's own process (its environment, working directory, user,
/// capabilities, no_new_privileges), with stdio ['ignore', 'inherit', 'inherit'].
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ExecOptions {
    /// Variables set or replaced in the container's environment.
    pub env: Option<Either<Vec<String>, Record<String, Either3<String, f64, bool>>>>,
    /// Working directory (default: the container's).
    pub cwd: Option<String>,
    /// User to run as (default: the container's): a uid, 'UID:GID' or { uid, gid }.
    pub user: Option<Either3<f64, String, UserIds>>,
    /// A terminal of its own (`docker exec -t`): `process.pty`, `process.resize()`; no `stdio`,
    /// `capture` nor `input` with it.
    pub tty: Option<bool>,
    /// The terminal's initial size (with `tty`).
    pub tty_size: Option<TtySize>,
    /// stdin, stdout, stderr: 'inherit', 'ignore', 'pipe' (`process.stdin` ...) or a file descriptor.
    #[napi(ts_type = "'inherit' | 'ignore' | 'pipe' | Array<'inherit' | 'ignore' | 'pipe' | number | null | undefined>")]
    pub stdio: Option<StdioOption>,
    /// Capture stdout and stderr: `wait()` resolves with them (read off the JavaScript thread).
    pub capture: Option<bool>,
    /// Kill the process this many milliseconds after exec; `wait()` then rejects with code
    /// 'ETIMEDOUT' (and `err.stdout` / `err.stderr`).
    pub timeout: Option<f64>,
    /// Written to the process's stdin, which is then closed.
    pub input: Option<Either<String, Buffer>>,
    /// With `capture`: 'utf8' (default, strings) or 'buffer' (Buffers).
    #[napi(ts_type = "'utf8' | 'buffer'")]
    pub encoding: Option<String>,
    /// With `capture`: bytes kept of stdout and of stderr (default 16 MiB, at most 256 MiB); the
    /// rest is read and dropped, and `stdoutTruncated` / `stderrTruncated` say so.
    pub max_buffer: Option<f64>,
}

/// The fields of ExecOptions.
pub const EXEC_FIELDS: &[Field] = &[
    ("env", ENV),
    ("cwd", STRING),
    ("user", "a uid, 'UID:GID' or {uid, gid}"),
    ("tty", BOOLEAN),
    ("ttySize", TTY_SIZE),
    ("stdio", STDIO),
    ("capture", BOOLEAN),
    ("timeout", MILLISECONDS),
    ("input", INPUT),
    ("encoding", ENCODING),
    ("maxBuffer", BYTES),
];

/// An exec, parsed: the command, its stdio (None: a terminal of its own) and the run options.
pub struct Exec {
    pub cmd: ExecCommand,
    pub stdio: Option<[StdioKind; 3]>,
    pub run: RunExtras,
}

/// Maps the exec options onto core's exec command, the stdio kinds and run's options.
pub fn exec(op: &str, args: Vec<String>, o: ExecOptions) -> BResult<Exec> {
    let run = run_extras(
        op,
        RunOptions { capture: o.capture, timeout: o.timeout, input: o.input, encoding: o.encoding, max_buffer: o.max_buffer, ..RunOptions::default() },
    )?;
    let tty = tty(op, o.tty, o.tty_size, o.stdio.is_some())?;
    if tty.is_some() && (run.capture || run.input.is_some()) {
        return Err(Failure::invalid(op, "options.capture and options.input need pipes: not with options.tty (read and write process.pty)"));
    }
    let user = match o.user {
        None => None,
        Some(Either3::B(text)) => Some(parse_user(Naming::Camel, &text).map_err(|e| Failure::core(op, &e))?),
        Some(u) => Some(user_ids(op, u)?),
    };
    let cmd = ExecCommand { args, env: env(op, o.env)?, cwd: o.cwd.map(PathBuf::from), user, terminal: tty.is_some(), terminal_size: tty.flatten() };
    let stdio = match tty {
        Some(_) => None,
        None => Some(captured_stdio(op, o.stdio.as_ref(), &run)?),
    };
    Ok(Exec { cmd, stdio, run })
}

// ---------------------------------------------------------------------------------------------
// run's own options (also ExecOptions').

/// Options of `run`: those of `Container.create` plus these.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct RunOptions {
    /// Capture stdout and stderr (default false: they are inherited).
    pub capture: Option<bool>,
    /// Kill the container after this many milliseconds and reject with code 'ETIMEDOUT'.
    pub timeout: Option<f64>,
    /// Written to the container's stdin (default stdin: /dev/null).
    pub input: Option<Either<String, Buffer>>,
    /// 'utf8' (default): stdout and stderr are strings; 'buffer': Buffers.
    #[napi(ts_type = "'utf8' | 'buffer'")]
    pub encoding: Option<String>,
    /// With `capture`: bytes kept of stdout and of stderr (default 16 MiB, at most 256 MiB); the
    /// rest is read and dropped (the container never blocks on a full pipe, and this process's
    /// memory stays bounded), and `stdoutTruncated` / `stderrTruncated` say so.
    pub max_buffer: Option<f64>,
    /// With `image`, when the store lacks it and run() pulls it: talk plain http to the
    /// registry (a local one you trust, e.g. 127.0.0.1:5000), as `pull()`'s option.
    pub plain_http: Option<bool>,
    /// With `image`, when run() pulls it: the registry's user and password, as `pull()`'s option.
    pub credentials: Option<Credentials>,
}

/// The fields of RunOptions.
pub const RUN_FIELDS: &[Field] = &[
    ("capture", BOOLEAN),
    ("timeout", MILLISECONDS),
    ("input", INPUT),
    ("encoding", ENCODING),
    ("maxBuffer", BYTES),
    ("plainHttp", BOOLEAN),
    ("credentials", CREDENTIALS),
];

/// The options `run` and `exec` share, read: capture, timeout, input, encoding, maxBuffer.
pub struct RunExtras {
    pub capture: bool,
    pub timeout: Option<Duration>,
    pub input: Option<Vec<u8>>,
    pub as_buffer: bool,
    pub max_buffer: usize,
}

/// `maxBuffer`'s default (16 MiB) and limit (256 MiB: a string of it still fits in V8's).
const DEFAULT_MAX_BUFFER: usize = 16 << 20;
const MAX_MAX_BUFFER: usize = 256 << 20;

/// Reads run's own options (also exec's).
pub fn run_extras(op: &str, r: RunOptions) -> BResult<RunExtras> {
    let timeout = r
        .timeout
        .map(|ms| {
            let bad = || Failure::invalid(op, format!("options.timeout must be a positive number of milliseconds, got {ms}"));
            if ms > 0.0 {
                Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| bad())
            } else {
                Err(bad())
            }
        })
        .transpose()?;
    let as_buffer = match r.encoding.as_deref() {
        None | Some("utf8") | Some("utf-8") => false,
        Some("buffer") => true,
        Some(other) => return Err(Failure::invalid(op, format!("options.encoding must be 'utf8' or 'buffer', got {other:?}"))),
    };
    let max_buffer = match r.max_buffer {
        None => DEFAULT_MAX_BUFFER,
        Some(n) => whole::<usize>(n)
            .filter(|n| *n <= MAX_MAX_BUFFER)
            .ok_or_else(|| Failure::invalid(op, format!("options.maxBuffer must be a whole number of bytes from 0 to {MAX_MAX_BUFFER}, got {n}")))?,
    };
    let input = r.input.map(|i| match i {
        Either::A(text) => text.into_bytes(),
        Either::B(bytes) => bytes.to_vec(),
    });
    Ok(RunExtras { capture: r.capture.unwrap_or(false), timeout, input, as_buffer, max_buffer })
}

// ---------------------------------------------------------------------------------------------
// container.kill.

/// Options of `container.kill`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct KillOptions {
    /// Signal every process of the container (its cgroup), not just its first process.
    pub all: Option<bool>,
}

/// The fields of KillOptions.
pub const KILL_FIELDS: &[Field] = &[("all", BOOLEAN)];

// ---------------------------------------------------------------------------------------------
// Images: pull, importImage, images, removeImage, prune (images.rs).

/// A registry's user and password (basic auth, or its token service's); none: anonymous.
#[napi(object, object_to_js = false)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Options of `pull()`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct PullOptions {
    /// The image store (default: $RCONTAINER_STORE, else /var/lib/rcontainer).
    pub store: Option<String>,
    /// Talk plain http to the registry (a local one you trust, e.g. 127.0.0.1:5000); default https.
    pub plain_http: Option<bool>,
    /// The registry's user and password (default: anonymous).
    pub credentials: Option<Credentials>,
}

/// The fields of PullOptions.
pub const PULL_FIELDS: &[Field] = &[("store", STRING), ("plainHttp", BOOLEAN), ("credentials", CREDENTIALS)];

/// Options of `images()` and `importImage()`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct StoreOptions {
    /// The image store (default: $RCONTAINER_STORE, else /var/lib/rcontainer).
    pub store: Option<String>,
}

/// The fields of StoreOptions.
pub const STORE_FIELDS: &[Field] = &[("store", STRING)];

/// Options of `removeImage()` and `prune()`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct PruneOptions {
    /// The image store (default: $RCONTAINER_STORE, else /var/lib/rcontainer).
    pub store: Option<String>,
    /// The state root whose containers keep their layers (default: the state root of this user, /run/rcontainer for root). Containers
    /// whose creator still runs (this process's, wherever their state) keep theirs too.
    pub root: Option<String>,
}

/// The fields of PruneOptions.
pub const PRUNE_FIELDS: &[Field] = &[("store", STRING), ("root", STRING)];

/// The store a call names (`store`), else the default one.
pub fn store_path(store: Option<String>) -> PathBuf {
    store.map(PathBuf::from).unwrap_or_else(rcontainer_image::default_root)
}

/// How to reach a registry: `plainHttp` and `credentials` (of `pull()` and `run()`).
pub fn registry(op: &str, plain_http: Option<bool>, credentials: Option<Credentials>) -> BResult<Registry> {
    let credentials = match credentials {
        None => None,
        Some(c) if c.username.is_empty() => return Err(Failure::invalid(op, "options.credentials.username must not be empty")),
        Some(c) => Some((c.username, c.password)),
    };
    Ok(Registry { plain_http: plain_http.unwrap_or(false), credentials })
}

/// A state root given as `root` (default: this user's, /run/rcontainer for root).
pub fn state_root(op: &str, root: Option<String>) -> BResult<PathBuf> {
    match root {
        None => Ok(rcontainer_core::rootless::default_state_root()),
        Some(r) => std::path::absolute(r).map_err(|e| Failure::os(op, &e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading an options object.

/// Reads the options object `obj` as `T`, whose fields are `fields` (with run's, two lists:
/// the object's keys may be any of them). napi ignores keys a struct does not have: they are
/// refused here first. A value of the wrong JavaScript type is an EINVAL error naming the
/// option, what it must be and the value (napi's error names the struct's field: see
/// `decorate_field_error`).
pub fn read<T: FromNapiValue>(op: &str, obj: &Object, fields: &[&[Field]]) -> BResult<T> {
    let keys = Object::keys(obj).map_err(|e| bad_value(op, "options", e))?;
    let known = |k: &str| fields.iter().flat_map(|f| f.iter()).find(|(name, _)| *name == k);
    if let Some(k) = keys.iter().find(|k| known(k).is_none()) {
        let all: Vec<&str> = fields.iter().flat_map(|f| f.iter().map(|(name, _)| *name)).collect();
        return Err(Failure::invalid(op, format!("unknown option {k:?} (known: {})", all.join(", "))));
    }
    // null means absent, as undefined does; napi's optional fields take only undefined for it.
    let given = without_nulls(obj, &keys).map_err(|e| bad_value(op, "options", e))?;
    T::from_unknown(given.to_unknown()).map_err(|e| {
        // The reason ends with " on <Struct>.<field>", the outermost struct last.
        let field = e.reason.rsplit_once(" on ").and_then(|(_, at)| at.split_once('.')).and_then(|(_, f)| known(f));
        match field {
            Some((name, expected)) => {
                let got = obj.get::<Unknown>(name).ok().flatten().map(describe).unwrap_or_else(|| "undefined".into());
                Failure::invalid(op, format!("options.{name} must be {expected}, got {got}"))
            }
            None => bad_value(op, "options", e),
        }
    })
}

/// A copy of `obj` without its keys (`keys`) whose value is null.
fn without_nulls<'a>(obj: &Object<'a>, keys: &[String]) -> Result<Object<'a>> {
    let mut copy = Object::new(&Env::from_raw(obj.value().env))?;
    for k in keys {
        if let Some(v) = obj.get::<Unknown>(k)? {
            if v.get_type()? != ValueType::Null {
                copy.set(k, v)?;
            }
        }
    }
    Ok(copy)
}

/// An optional options argument: an object, or undefined / null (None).
pub fn object<'e>(op: &str, v: Option<Unknown<'e>>) -> BResult<Option<Object<'e>>> {
    let Some(u) = v else { return Ok(None) };
    match u.get_type().map_err(|e| bad_value(op, "options", e))? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        ValueType::Object if !u.is_array().unwrap_or(false) => Object::from_unknown(u).map(Some).map_err(|e| bad_value(op, "options", e)),
        _ => Err(Failure::invalid(op, format!("options must be an object, got {}", describe(u)))),
    }
}

/// A string argument (`name` says which).
pub fn string(op: &str, name: &str, v: Unknown) -> BResult<String> {
    match v.get_type() {
        Ok(ValueType::String) => String::from_unknown(v).map_err(|e| bad_value(op, name, e)),
        _ => Err(Failure::invalid(op, format!("{name} must be a string, got {}", describe(v)))),
    }
}

/// The `args` argument of `run` and `exec`: an array of strings.
pub fn args(op: &str, v: Unknown) -> BResult<Vec<String>> {
    Vec::<String>::from_unknown(v).map_err(|_| Failure::invalid(op, format!("args must be an array of strings, got {}", describe(v))))
}

/// A JavaScript value in a message: its JSON (cut at 80 characters), else its type.
fn describe(v: Unknown) -> String {
    if let Ok(ValueType::BigInt) = v.get_type() {
        return "a bigint".into(); // which serde_json would show as a number
    }
    match Value::from_unknown(v) {
        Ok(json) => show(&json),
        Err(_) => match v.get_type() {
            Ok(ValueType::Undefined) => "undefined".into(),
            Ok(ValueType::Function) => "a function".into(),
            Ok(ValueType::Symbol) => "a symbol".into(),
            _ => "a value of another type".into(),
        },
    }
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..s.char_indices().take_while(|(i, _)| *i < 77).last().map(|(i, c)| i + c.len_utf8()).unwrap_or(0)])
    } else {
        s
    }
}

/// `n` if it is a whole number in T's range. (The numbers are read as f64: napi's integer
/// conversions would turn -1 into 4294967295 and 1.5 into 1.)
fn whole<T: TryFrom<i64>>(n: f64) -> Option<T> {
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        T::try_from(n as i64).ok()
    } else {
        None
    }
}

/// A plain object read as its entries, in order: `Record<K, V>` in TypeScript, hence the name
/// (napi's typegen prints a generic type it does not know as it is). napi's HashMap reads an
/// array as an object of its indices, so `Either<Vec<_>, HashMap<_, _>>` would take an array
/// with a wrong entry for a map; this refuses arrays.
pub struct Record<K, V>(pub Vec<(K, V)>);

impl<K, V> TypeName for Record<K, V> {
    fn type_name() -> &'static str {
        "Record"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl<K, V> ValidateNapiValue for Record<K, V> {
    unsafe fn validate(env: sys::napi_env, napi_val: sys::napi_value) -> Result<sys::napi_value> {
        // SAFETY: `env` and `napi_val` are the live handles this function is called with.
        let v = unsafe { Unknown::from_napi_value(env, napi_val) }?;
        if v.get_type()? == ValueType::Object && !v.is_array()? {
            Ok(std::ptr::null_mut())
        } else {
            Err(Error::new(Status::InvalidArg, "expected an object (not an array)"))
        }
    }
}

impl<K: From<String>, V: FromNapiValue> FromNapiValue for Record<K, V> {
    unsafe fn from_napi_value(env: sys::napi_env, napi_val: sys::napi_value) -> Result<Self> {
        // SAFETY: `env` and `napi_val` are the live handles this function is called with, and
        // validate has checked that the value is an object.
        let obj = unsafe {
            Self::validate(env, napi_val)?;
            Object::from_napi_value(env, napi_val)
        }?;
        let mut entries = Vec::new();
        for key in Object::keys(&obj)? {
            // An undefined value is left out, as napi's HashMap does.
            if let Some(v) = obj.get::<V>(&key)? {
                entries.push((K::from(key), v));
            }
        }
        Ok(Record(entries))
    }
}

// ---------------------------------------------------------------------------------------------
// The fields Container.create and exec share.

/// The type of the `env` options.
type EnvOption = Either<Vec<String>, Record<String, Either3<String, f64, bool>>>;

/// `env`: an object {KEY: 'value'} or an array of 'KEY=VALUE' (core's parse_env_entry).
fn env(op: &str, v: Option<EnvOption>) -> BResult<Vec<(String, String)>> {
    match v {
        None => Ok(Vec::new()),
        Some(Either::A(entries)) => entries.iter().map(|e| parse_env_entry(Naming::Camel, e).map_err(|e| Failure::core(op, &e))).collect(),
        Some(Either::B(vars)) => vars
            .0
            .into_iter()
            .map(|(k, v)| {
                if k.is_empty() || k.contains('=') {
                    return Err(Failure::invalid(op, format!("options.env key {k:?} is not a variable name")));
                }
                let v = match v {
                    Either3::A(s) => s,
                    Either3::B(n) => n.to_string(),
                    Either3::C(b) => b.to_string(),
                };
                Ok((k, v))
            })
            .collect(),
    }
}

/// `user` as ids: a uid, or { uid, gid } (gid defaults to uid), or 'UID:GID' (core's parse_user).
fn user_ids(op: &str, u: Either3<f64, String, UserIds>) -> BResult<(u32, u32)> {
    let id = |name: &str, n: f64| whole::<u32>(n).ok_or_else(|| Failure::invalid(op, format!("options.{name} must be an integer 0..2^32, got {n}")));
    match u {
        Either3::A(n) => {
            let uid = id("user", n)?;
            Ok((uid, uid))
        }
        Either3::B(text) => parse_user(Naming::Camel, &text).map_err(|e| Failure::core(op, &e)),
        Either3::C(ids) => {
            let uid = id("user.uid", ids.uid)?;
            Ok((uid, ids.gid.map(|g| id("user.gid", g)).transpose()?.unwrap_or(uid)))
        }
    }
}

/// `uidMap` / `gidMap`: entries {containerId, hostId, size} or 'C:H:N' (core's parse_id_map),
/// one or an array of them.
fn id_maps(op: &str, name: &str, v: Either3<String, Vec<Either<String, IdMap>>, IdMap>) -> BResult<Vec<LinuxIdMapping>> {
    let field = format!("options.{name}");
    let one = |e: Either<String, IdMap>| -> BResult<LinuxIdMapping> {
        let text = match e {
            Either::A(text) => text,
            Either::B(m) => match (whole::<u32>(m.container_id), whole::<u32>(m.host_id), whole::<u32>(m.size)) {
                (Some(c), Some(h), Some(s)) => format!("{c}:{h}:{s}"),
                _ => {
                    return Err(Failure::invalid(
                        op,
                        format!(
                            "{field} entries must be {{containerId, hostId, size}} or 'C:H:N', got {{containerId: {}, hostId: {}, size: {}}}",
                            m.container_id, m.host_id, m.size
                        ),
                    ))
                }
            },
        };
        parse_id_map(&field, &text).map_err(|e| Failure::core(op, &e))
    };
    match v {
        Either3::A(text) => Ok(vec![one(Either::A(text))?]),
        Either3::B(entries) => entries.into_iter().map(one).collect(),
        Either3::C(m) => Ok(vec![one(Either::B(m))?]),
    }
}

/// `tty` and `ttySize` ({ rows, cols }): None without a terminal, else its size if given. A
/// terminal is the stdio, so `stdio` must not be given with it.
fn tty(op: &str, on: Option<bool>, size: Option<TtySize>, stdio_given: bool) -> BResult<Option<Option<(u16, u16)>>> {
    let on = on.unwrap_or(false);
    let size = match size {
        None => None,
        Some(_) if !on => return Err(Failure::invalid(op, "options.ttySize needs options.tty: true")),
        Some(s) => {
            let dim = |n: f64| whole::<u16>(n).filter(|n| *n > 0);
            match (dim(s.rows), dim(s.cols)) {
                (Some(r), Some(c)) => Some((r, c)),
                _ => {
                    return Err(Failure::invalid(
                        op,
                        format!("options.ttySize must be {{ rows, cols }}, each 1..65535, got {{ rows: {}, cols: {} }}", s.rows, s.cols),
                    ))
                }
            }
        }
    };
    if on && stdio_given {
        return Err(Failure::invalid(op, "options.stdio cannot be given with options.tty: the terminal is stdin, stdout and stderr"));
    }
    Ok(on.then_some(size))
}

/// The kinds `stdio` gives, None for the streams it leaves to the default.
fn parse_stdio(op: &str, v: Option<&StdioOption>) -> BResult<[Option<StdioKind>; 3]> {
    let bad = |i: usize, got: String| Failure::invalid(op, format!("options.stdio[{i}] must be 'inherit', 'ignore', 'pipe' or a file descriptor, got {got}"));
    let kind = |i: usize, e: &Either<String, f64>| -> BResult<StdioKind> {
        match e {
            Either::A(s) if s == "inherit" => Ok(StdioKind::Inherit),
            Either::A(s) if s == "ignore" => Ok(StdioKind::Ignore),
            Either::A(s) if s == "pipe" => Ok(StdioKind::Pipe),
            Either::A(s) => Err(bad(i, format!("{s:?}"))),
            Either::B(n) => whole::<i32>(*n).filter(|n| *n >= 0).map(StdioKind::Fd).ok_or_else(|| bad(i, n.to_string())),
        }
    };
    match v {
        None => Ok([None; 3]),
        Some(Either::A(s)) => {
            let k = kind(0, &Either::A(s.clone()))?;
            Ok([Some(k); 3])
        }
        Some(Either::B(entries)) if entries.len() <= 3 => {
            let mut out = [None; 3];
            for (i, e) in entries.iter().enumerate() {
                out[i] = e.as_ref().map(|e| kind(i, e)).transpose()?;
            }
            Ok(out)
        }
        Some(Either::B(entries)) => Err(Failure::invalid(
            op,
            format!("options.stdio must be an array of up to 3 entries or one of 'inherit', 'ignore', 'pipe', got {} entries", entries.len()),
        )),
    }
}

/// The stdio kinds of `stdio` (the option), with `default` for the streams it does not give.
pub fn stdio_kinds(op: &str, stdio: Option<&StdioOption>, default: [StdioKind; 3]) -> BResult<[StdioKind; 3]> {
    let given = parse_stdio(op, stdio)?;
    Ok([0, 1, 2].map(|i| given[i].unwrap_or(default[i])))
}

/// The stdio kinds of run and exec: with `capture`, pipes for stdout and stderr (which win over
/// stdio[1] and [2]; one kind given for all three is then dropped); with `input`, a pipe for
/// stdin (which wins over stdio[0]); else stdin /dev/null, stdout and stderr inherited.
pub fn captured_stdio(op: &str, stdio: Option<&StdioOption>, x: &RunExtras) -> BResult<[StdioKind; 3]> {
    let mut given = parse_stdio(op, stdio)?;
    if x.capture {
        if matches!(stdio, Some(Either::A(_))) {
            given = [None; 3];
        }
        given[1] = None;
        given[2] = None;
    }
    if x.input.is_some() {
        given[0] = None;
    }
    let out = if x.capture { StdioKind::Pipe } else { StdioKind::Inherit };
    let default = [if x.input.is_some() { StdioKind::Pipe } else { StdioKind::Ignore }, out, out];
    Ok([0, 1, 2].map(|i| given[i].unwrap_or(default[i])))
}
