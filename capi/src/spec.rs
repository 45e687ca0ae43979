//! `rcontainer_spec_t`: a container configuration (an OCI runtime spec plus the stdio fds), built
//! from OCI JSON, a bundle directory, or setters over `runc spec`'s defaults.

use std::ffi::{c_char, c_int};
use std::path::PathBuf;
use std::ptr;

use rcontainer_core::oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder, Mount};
use rcontainer_core::spec::parse_namespace_type;
use rcontainer_core::{Spec, SpecBuilder, Stdio};

use crate::{arg_opt_path, arg_path, arg_str, arg_str_array, guard, guard_value, out_ptr, owned_string, CErr, Handle, Kind, MAGIC_SPEC};

/// A container configuration: an OCI runtime spec (config.json), the bundle directory its relative
/// paths resolve against, and the stdio fds the container gets.
///
/// Ownership: the caller owns a spec it got from rcontainer_spec_new(),
/// rcontainer_spec_from_json() or rcontainer_spec_from_bundle() and frees it with
/// rcontainer_spec_free(). rcontainer_container_create() only reads it: the spec can be changed
/// and used again, or freed, right after. A spec must not be used by two threads at once.
pub struct rcontainer_spec_t {
    magic: u64,
    builder: SpecBuilder,
    stdio: Stdio,
    /// rcontainer_spec_new()'s hostname: the container's id, filled in at create (until
    /// rcontainer_spec_set_hostname()).
    hostname_is_id: bool,
    /// The image whose layers become each container's root (rcontainer_spec_set_image()), until
    /// rcontainer_spec_set_rootfs() or _set_default_root().
    pub(crate) image: Option<crate::image::ImageRoot>,
    /// The caller chose the user (rcontainer_spec_set_user(), the sandbox preset): an image's
    /// User never replaces it, whatever the order of the calls.
    pub(crate) user_chosen: bool,
    /// The caller chose whether the root is read-only (rcontainer_spec_set_readonly_root(), the
    /// sandbox preset): rcontainer_spec_set_image() leaves it.
    pub(crate) readonly_chosen: bool,
    /// rcontainer_spec_set_default_root() replaced the mounts with the host's.
    pub(crate) default_root: bool,
    /// Made by rcontainer_spec_new(): run by an ordinary user, it gets a user namespace mapping
    /// the caller to root (rcontainer_core::rootless), as the command's and the bindings' ad hoc
    /// containers do, unless the caller set id maps or namespaces. A config read from JSON or a
    /// bundle is taken as written (runc's rule).
    adhoc: bool,
}

impl Handle for rcontainer_spec_t {
    const KIND: Kind = Kind::Spec;
    const MAGIC: u64 = MAGIC_SPEC;
    fn magic(&self) -> u64 {
        self.magic
    }
    fn clear_magic(&mut self) {
        self.magic = 0;
    }
}

impl rcontainer_spec_t {
    fn new(builder: SpecBuilder) -> *mut rcontainer_spec_t {
        rcontainer_spec_t {
            magic: MAGIC_SPEC,
            builder,
            stdio: Stdio::default(),
            hostname_is_id: false,
            image: None,
            user_chosen: false,
            readonly_chosen: false,
            default_root: false,
            adhoc: false,
        }
        .into_raw()
    }

    /// Applies a builder step; on failure (or panic) the spec is left as it was.
    pub(crate) fn update(&mut self, f: impl FnOnce(SpecBuilder) -> Result<SpecBuilder, CErr>) -> Result<(), CErr> {
        self.builder = f(self.builder.clone())?;
        Ok(())
    }

    pub(crate) fn spec(&self) -> Spec {
        self.builder.clone().build()
    }

    /// The spec of the container `id`: with rcontainer_spec_new()'s hostname, the id (when the
    /// container has a uts namespace), as `rcontainer run` and the bindings name it.
    pub(crate) fn spec_for(&self, id: &str) -> Spec {
        self.builder_for(id).build()
    }

    /// The builder of [`Self::spec_for`] (rcontainer_spec_set_image()'s root is added to it at
    /// create).
    pub(crate) fn builder_for(&self, id: &str) -> SpecBuilder {
        let mut b = self.builder.clone();
        if self.hostname_is_id {
            b = b.default_hostname(id);
        }
        if self.adhoc
            && rcontainer_core::rootless::is_rootless()
            && !b.clone().build().has_namespace(rcontainer_core::oci_spec::runtime::LinuxNamespaceType::User)
        {
            let (uids, gids) = rcontainer_core::rootless::default_id_maps();
            b = b.id_maps(uids, gids);
        }
        b
    }

    pub(crate) fn stdio(&self) -> Stdio {
        self.stdio
    }
}

/// Looks up a spec handle and runs `f` on it (the common body of the setters).
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
unsafe fn with_spec(
    func: &'static str,
    spec: *mut rcontainer_spec_t,
    f: impl FnOnce(&mut rcontainer_spec_t) -> Result<(), CErr>,
) -> *mut crate::rcontainer_error_t {
    guard(func, || {
        // SAFETY: from_ptr checks the registry before dereferencing.
        let s = unsafe { rcontainer_spec_t::from_ptr(spec, func, "spec") }?;
        f(s)
    })
}

/// A new spec with `runc spec`'s defaults (terminal off): runs "sh" in new pid, network, ipc,
/// uts, mount and cgroup namespaces, hostname the container's id (runc's is "runc"; set one with
/// rcontainer_spec_set_hostname()), root filesystem "rootfs" relative to the
/// current directory (read-only), Docker's default capabilities, no_new_privileges, and the
/// caller's stdin, stdout and stderr.
///
/// Returns a spec the caller owns (free it with rcontainer_spec_free()); NULL only if it could
/// not be allocated.
#[no_mangle]
pub extern "C" fn rcontainer_spec_new() -> *mut rcontainer_spec_t {
    guard_value(ptr::null_mut(), || {
        let mut spec = SpecBuilder::new(["sh"]).build();
        spec.config_mut().set_hostname(None);
        let s = rcontainer_spec_t::new(SpecBuilder::from_spec(spec));
        // SAFETY: just made, not yet shared.
        if let Some(s) = unsafe { s.as_mut() } {
            s.hostname_is_id = true;
            s.adhoc = true;
        }
        s
    })
}

/// Frees a spec. NULL and a spec freed already are ignored.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_free(spec: *mut rcontainer_spec_t) {
    // SAFETY: Handle::free only touches registered handles.
    guard_value((), || unsafe { rcontainer_spec_t::free(spec) })
}

/// Parses OCI runtime config JSON (the text of a config.json). Relative paths in it (root.path,
/// bind mount sources) resolve against `bundle_dir`; NULL means the current directory.
///
/// On success `*out` receives a new spec the caller owns. Fails with RCONTAINER_ERROR_INVALID_CONFIG
/// for text that is not a valid OCI config (the message says where).
///
/// # Safety
/// `json` and `bundle_dir` are NULL or NUL-terminated strings; `out` is NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_from_json(
    json: *const c_char,
    bundle_dir: *const c_char,
    out: *mut *mut rcontainer_spec_t,
) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_from_json";
    guard(F, || {
        out_ptr(F, "out", out)?;
        // SAFETY: as the caller's.
        let json = unsafe { arg_str(F, "json", json) }?;
        // SAFETY: as the caller's.
        let bundle = unsafe { arg_opt_path(F, "bundle_dir", bundle_dir) }?.unwrap_or_else(|| PathBuf::from("."));
        let spec = Spec::from_json(json, &bundle)?;
        // SAFETY: checked non-NULL above.
        unsafe { *out = rcontainer_spec_t::new(SpecBuilder::from_spec(spec)) };
        Ok(())
    })
}

/// Reads `<bundle_dir>/config.json` (an OCI bundle, as runc's --bundle).
///
/// On success `*out` receives a new spec the caller owns.
///
/// # Safety
/// `bundle_dir` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_from_bundle(bundle_dir: *const c_char, out: *mut *mut rcontainer_spec_t) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_from_bundle";
    guard(F, || {
        out_ptr(F, "out", out)?;
        // SAFETY: as the caller's.
        let bundle = unsafe { arg_path(F, "bundle_dir", bundle_dir) }?;
        let spec = Spec::from_bundle(&bundle)?;
        // SAFETY: checked non-NULL above.
        unsafe { *out = rcontainer_spec_t::new(SpecBuilder::from_spec(spec)) };
        Ok(())
    })
}

/// The spec as OCI config JSON (pretty-printed, as `rcontainer spec` writes it).
///
/// On success `*out` receives a string the caller owns: free it with rcontainer_string_free().
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `out` is NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_to_json(spec: *const rcontainer_spec_t, out: *mut *mut c_char) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_to_json";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec as *mut _, |s| {
            out_ptr(F, "out", out)?;
            *out = owned_string(&s.spec().to_json());
            Ok(())
        })
    }
}

/// Sets the command: `argv` is a NULL-terminated array (as execv's), argv[0] is looked up in the
/// container's PATH. At least one element. The strings are copied.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `argv` is NULL or a NULL-terminated array
/// of NUL-terminated strings.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_args(spec: *mut rcontainer_spec_t, argv: *const *const c_char) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_args";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let args = arg_str_array(F, "argv", argv)?;
            if args.is_empty() || args[0].is_empty() {
                return Err(CErr::arg(format!("{F}: argv must hold at least one non-empty string (the command)")));
            }
            s.update(|b| Ok(b.args(args)))
        })
    }
}

/// Sets (or replaces) the environment variable `key` to `value` in the container's process.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `key` and `value` NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_env(spec: *mut rcontainer_spec_t, key: *const c_char, value: *const c_char) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_env";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let key = arg_str(F, "key", key)?;
            let value = arg_str(F, "value", value)?;
            if key.is_empty() || key.contains('=') {
                return Err(CErr::arg(format!("{F}: key {key:?} must be non-empty and contain no '='")));
            }
            s.update(|b| Ok(b.env(key, value)))
        })
    }
}

/// Sets the working directory of the container's process (an absolute path inside the container).
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `dir` NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_cwd(spec: *mut rcontainer_spec_t, dir: *const c_char) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_cwd";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let dir = arg_path(F, "dir", dir)?;
            if !dir.is_absolute() {
                return Err(CErr::arg(format!("{F}: dir {} must be an absolute path", dir.display())));
            }
            s.update(|b| Ok(b.cwd(dir)))
        })
    }
}

/// Sets the user (uid and primary gid, as seen inside the container) of the container's process.
/// An image's User (rcontainer_spec_set_image()) never replaces it, whichever is called first.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_user(spec: *mut rcontainer_spec_t, uid: u32, gid: u32) -> *mut crate::rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe {
        with_spec("rcontainer_spec_set_user", spec, |s| {
            s.update(|b| Ok(b.user(uid, gid)))?;
            s.user_chosen = true;
            Ok(())
        })
    }
}

/// Gives the container a terminal of its own (`process.terminal`), as `docker run -t` does: a new
/// pty from the container's devpts is its stdin, stdout, stderr, controlling terminal and
/// /dev/console (the stdio fds of rcontainer_spec_set_stdio() are then not used). `rows` and
/// `cols` set its initial size (0 and 0: not set). `on` false removes the terminal again.
///
/// The pty master stays with the container handle: rcontainer_container_pty_fd() borrows it,
/// rcontainer_container_take_pty() takes it, rcontainer_container_resize_pty() resizes it.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_terminal(spec: *mut rcontainer_spec_t, on: bool, rows: u16, cols: u16) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_terminal";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let size = match (rows, cols) {
                (0, 0) => None,
                (0, _) | (_, 0) => return Err(CErr::arg(format!("{F}: rows = {rows}, cols = {cols}: give both (or 0 and 0 for no size)"))),
                (r, c) => Some((r, c)),
            };
            s.update(|b| Ok(b.terminal(on, size.filter(|_| on))))
        })
    }
}

/// Sets the root filesystem directory: absolute, or relative to the bundle directory. It replaces
/// an image's root (rcontainer_spec_set_image(); what it applied of the image's config stays).
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `dir` NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_rootfs(spec: *mut rcontainer_spec_t, dir: *const c_char) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_rootfs";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let dir = arg_path(F, "dir", dir)?;
            s.update(|b| Ok(b.rootfs(dir)))?;
            s.image = None;
            Ok(())
        })
    }
}

/// Whether the root filesystem is mounted read-only inside the container (the default: true;
/// rcontainer_spec_set_image() makes an image's root writable unless this was called, before or
/// after it: a read-only image root has no upper directory at all).
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_readonly_root(spec: *mut rcontainer_spec_t, readonly: bool) -> *mut crate::rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe {
        with_spec("rcontainer_spec_set_readonly_root", spec, |s| {
            s.update(|b| Ok(b.readonly_root(readonly)))?;
            s.readonly_chosen = true;
            Ok(())
        })
    }
}

/// Uses the embedded default root instead of a root filesystem directory: a read-only view of the
/// host's /usr, /bin, /sbin, /lib* and /etc with a fresh /proc, /dev, /sys, /tmp and /run. This
/// replaces the spec's mounts (and an image's root: rcontainer_spec_set_image()). Its skeleton
/// directory lives under `state_root` (NULL: /run/rcontainer, or an ordinary user's own state root), which is created if needed.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `state_root` NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_default_root(spec: *mut rcontainer_spec_t, state_root: *const c_char) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_default_root";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let root = arg_opt_path(F, "state_root", state_root)?.unwrap_or_else(rcontainer_core::rootless::default_state_root);
            s.update(|b| Ok(b.default_root(&root)?))?;
            s.image = None;
            s.default_root = true;
            Ok(())
        })
    }
}

/// Sets the container's hostname (needs a uts namespace, which the defaults have).
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `hostname` NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_hostname(spec: *mut rcontainer_spec_t, hostname: *const c_char) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_hostname";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let h = arg_str(F, "hostname", hostname)?;
            s.update(|b| Ok(b.hostname(h)))?;
            s.hostname_is_id = false;
            Ok(())
        })
    }
}

/// Adds (enabled) or removes (not enabled) a namespace. `type` is one of "pid", "network",
/// "mount", "ipc", "uts", "user", "cgroup", "time" (see rcontainer_namespace_name()). With a
/// `path` (e.g. "/proc/1234/ns/net") the container joins that namespace instead of getting a new
/// one; NULL means a new one.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `type` and `path` NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_namespace(
    spec: *mut rcontainer_spec_t,
    r#type: *const c_char,
    enabled: bool,
    path: *const c_char,
) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_namespace";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let t = parse_namespace_type(arg_str(F, "type", r#type)?)?;
            let path = arg_opt_path(F, "path", path)?;
            s.update(|b| Ok(b.namespace(t, enabled, path)))
        })
    }
}

/// One line of a uid or gid map: `size` ids starting at `container_id` inside the container are
/// `host_id`... outside (as /proc/PID/uid_map).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rcontainer_id_map_t {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

fn to_maps(func: &str, name: &str, p: *const rcontainer_id_map_t, n: usize) -> Result<Vec<LinuxIdMapping>, CErr> {
    if n == 0 {
        return Err(CErr::arg(format!("{func}: {name} must hold at least one mapping")));
    }
    if p.is_null() {
        return Err(CErr::arg(format!("{func}: {name} is NULL")));
    }
    // SAFETY: the caller promises n readable elements.
    let maps = unsafe { std::slice::from_raw_parts(p, n) };
    maps.iter()
        .map(|m| {
            LinuxIdMappingBuilder::default()
                .container_id(m.container_id)
                .host_id(m.host_id)
                .size(m.size)
                .build()
                .map_err(|e| CErr::arg(format!("{func}: {name}: {e}")))
        })
        .collect()
}

/// Gives the container a new user namespace with these uid and gid maps (each at least one line).
/// The process's uid and gid (rcontainer_spec_set_user()) must be mapped.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `uid_maps` and `gid_maps` are NULL or point
/// to `n_uid_maps` and `n_gid_maps` elements. The arrays are copied.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_id_maps(
    spec: *mut rcontainer_spec_t,
    uid_maps: *const rcontainer_id_map_t,
    n_uid_maps: usize,
    gid_maps: *const rcontainer_id_map_t,
    n_gid_maps: usize,
) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_id_maps";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let u = to_maps(F, "uid_maps", uid_maps, n_uid_maps)?;
            let g = to_maps(F, "gid_maps", gid_maps, n_gid_maps)?;
            s.update(|b| Ok(b.id_maps(u, g)))
        })
    }
}

/// Adds a mount: `type` (e.g. "tmpfs", "proc", "bind"), `source` (NULL for none), `destination`
/// (absolute, inside the container) and `options`, a NULL-terminated array of mount options
/// (e.g. {"nosuid", "size=64m", NULL}) or NULL for none. Mounts are made in the order added.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; the strings are NULL or NUL-terminated;
/// `options` is NULL or a NULL-terminated array of strings.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_add_mount(
    spec: *mut rcontainer_spec_t,
    r#type: *const c_char,
    source: *const c_char,
    destination: *const c_char,
    options: *const *const c_char,
) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_add_mount";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let typ = arg_str(F, "type", r#type)?;
            let source = arg_opt_path(F, "source", source)?;
            let dest = arg_path(F, "destination", destination)?;
            if !dest.is_absolute() {
                return Err(CErr::arg(format!("{F}: destination {} must be an absolute path", dest.display())));
            }
            let options = if options.is_null() { None } else { Some(arg_str_array(F, "options", options)?) };
            let mut m = Mount::default();
            m.set_destination(dest);
            m.set_typ(Some(typ.to_string()));
            m.set_source(source);
            m.set_options(options);
            s.update(|b| Ok(b.mount(m)))
        })
    }
}

/// Adds a bind mount of the host's `source` at `destination` inside the container (recursive;
/// read-only when `readonly`).
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; the strings are NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_add_bind(
    spec: *mut rcontainer_spec_t,
    source: *const c_char,
    destination: *const c_char,
    readonly: bool,
) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_add_bind";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let source = arg_path(F, "source", source)?;
            let dest = arg_path(F, "destination", destination)?;
            if !dest.is_absolute() {
                return Err(CErr::arg(format!("{F}: destination {} must be an absolute path", dest.display())));
            }
            s.update(|b| Ok(b.bind(source, dest, readonly)))
        })
    }
}

/// Memory limit of the container's cgroup in bytes (linux.resources.memory.limit).
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_memory(spec: *mut rcontainer_spec_t, bytes: i64) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_memory";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            if bytes <= 0 {
                return Err(CErr::arg(format!("{F}: bytes = {bytes}: must be positive")));
            }
            s.update(|b| Ok(b.memory(bytes)))
        })
    }
}

/// CPU limit in CPUs (0.5 = half a CPU): a quota over a 100 ms period, as `docker --cpus`.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_cpus(spec: *mut rcontainer_spec_t, cpus: f64) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_cpus";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            if !cpus.is_finite() || cpus <= 0.0 || cpus > 1_000_000.0 {
                return Err(CErr::arg(format!("{F}: cpus = {cpus}: must be a positive number of CPUs")));
            }
            s.update(|b| Ok(b.cpus(cpus)))
        })
    }
}

/// Maximum number of processes in the container's cgroup (linux.resources.pids.limit).
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_pids(spec: *mut rcontainer_spec_t, max: i64) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_pids";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            if max <= 0 {
                return Err(CErr::arg(format!("{F}: max = {max}: must be positive")));
            }
            s.update(|b| Ok(b.pids(max)))
        })
    }
}

/// Sets the cgroup limits given in `limits` (see rcontainer_limits_t: fields that are 0 or NULL are
/// left as they are), as linux.resources. The values are checked at
/// rcontainer_container_create().
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer; `limits` NULL or readable, its strings
/// NULL or NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_limits(spec: *mut rcontainer_spec_t, limits: *const crate::rcontainer_limits_t) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_limits";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let mut l = crate::container::to_limits(F, limits)?;
            // A new memory limit alone keeps "no swap" (memory+swap = memory, as the sandbox
            // preset sets it) instead of leaving the old memory+swap below the new memory.
            if l.memory.is_some() && l.memory_swap.is_none() {
                let spec = s.spec();
                let mem = spec.config().linux().as_ref().and_then(|x| x.resources().as_ref()).and_then(|r| r.memory().as_ref()).map(|m| (m.limit(), m.swap()));
                if let Some((Some(limit), Some(swap))) = mem {
                    if limit == swap {
                        l.memory_swap = l.memory;
                    }
                }
            }
            // The values' rules of every front end (core's options): e.g. swap not below memory.
            rcontainer_core::options::validate_limits(rcontainer_core::options::Naming::Snake, &l)?;
            s.update(|b| Ok(b.limits(&l)))
        })
    }
}

/// The sandbox preset, for code you do not trust (as `rcontainer run --sandbox`, Python's
/// `sandbox=True` and Node's `sandbox: true`): uid and gid 65534, no capabilities at all,
/// no_new_privileges, a network namespace with only lo, 256 MiB of memory without swap, one CPU,
/// 64 processes, and a read-only root (writable: tmpfs only, a fresh 64 MiB /tmp, /dev/shm). It is
/// applied now: setters called after it win (e.g. rcontainer_spec_set_user,
/// rcontainer_spec_set_limits), except rcontainer_spec_set_image(), which keeps the preset's user
/// and read-only root whatever the order.
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_sandbox(spec: *mut rcontainer_spec_t) -> *mut crate::rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe {
        with_spec("rcontainer_spec_set_sandbox", spec, |s| {
            s.update(|b| Ok(b.sandbox()?))?;
            s.user_chosen = true;
            s.readonly_chosen = true;
            Ok(())
        })
    }
}

/// Docker's security defaults: its default capability set, no_new_privileges, and its default
/// seccomp profile (generated when the container is created, for the final capabilities).
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_docker_defaults(spec: *mut rcontainer_spec_t) -> *mut crate::rcontainer_error_t {
    // SAFETY: as the caller's.
    unsafe { with_spec("rcontainer_spec_set_docker_defaults", spec, |s| s.update(|b| Ok(b.docker_defaults()))) }
}

pub(crate) fn check_fd(func: &str, name: &str, fd: c_int) -> Result<Option<c_int>, CErr> {
    if fd == -1 {
        return Ok(None);
    }
    // SAFETY: F_GETFD only queries the descriptor table.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(CErr {
            kind: crate::RCONTAINER_ERROR_INVALID_ARGUMENT,
            errno: libc::EBADF,
            message: format!("{func}: {name} = {fd} is not an open file descriptor"),
        });
    }
    Ok(Some(fd))
}

/// The container's stdin, stdout and stderr: open fds of the caller, or -1 to inherit the
/// caller's own (the default).
///
/// Ownership: the fds stay the caller's. They are borrowed (duplicated into the container) only
/// during rcontainer_container_create(), so they must stay open until that returns; the caller
/// closes its copies whenever it likes after that (e.g. the write end of an output pipe, to see
/// EOF when the container exits).
///
/// # Safety
/// `spec` is NULL or a pointer returned by rcontainer.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_stdio(
    spec: *mut rcontainer_spec_t,
    stdin_fd: c_int,
    stdout_fd: c_int,
    stderr_fd: c_int,
) -> *mut crate::rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_stdio";
    // SAFETY: as the caller's.
    unsafe {
        with_spec(F, spec, |s| {
            let stdio =
                Stdio { stdin: check_fd(F, "stdin_fd", stdin_fd)?, stdout: check_fd(F, "stdout_fd", stdout_fd)?, stderr: check_fd(F, "stderr_fd", stderr_fd)? };
            s.stdio = stdio;
            Ok(())
        })
    }
}
