//! The stable C ABI of rcontainer: `libcontainer_core.so` / `libcontainer_core.a` and
//! `include/container_core.h` (generated from this crate by cbindgen; see `cbindgen.toml`).
//!
//! Conventions (DESIGN.md, "C ABI conventions"):
//! - Everything is prefixed `rcontainer_`; handles are opaque (`rcontainer_spec_t`,
//!   `rcontainer_container_t`, `rcontainer_error_t`), each with `_new`/`_free`.
//! - A fallible call returns `rcontainer_error_t *` (NULL on success); its out parameters are
//!   written only on success.
//! - Every extern body runs under [`guard`]: pointer checks and `catch_unwind`, so no panic ever
//!   crosses the ABI. Handles live in a registry, so a freed, foreign or wrongly typed handle is
//!   reported as an error without being dereferenced.
//!
//! This file holds the guard, the handle registry, the error handle, the version and the feature
//! query; `spec.rs`, `container.rs`, `process.rs` (exec options and exec'd processes) and
//! `image.rs` (the image store, image lists, a spec's image) the other handles.

#![allow(non_camel_case_types)]

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::ptr;
use std::sync::Mutex;

pub mod container;
pub mod image;
pub mod process;
pub mod spec;

pub use container::*;
pub use image::*;
pub use process::*;
pub use spec::*;

// ---------------------------------------------------------------------------------------------
// Version

/// Major version of the library this header belongs to (the SONAME is libcontainer_core.so.MAJOR).
pub const RCONTAINER_VERSION_MAJOR: u32 = 0;
/// Minor version of the library this header belongs to.
pub const RCONTAINER_VERSION_MINOR: u32 = 1;
/// Patch version of the library this header belongs to.
pub const RCONTAINER_VERSION_PATCH: u32 = 0;

const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0u32;
    while i < b.len() {
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

// The macros are literals (cbindgen needs literals); these make a mismatch with Cargo's version a
// compile error, and tests/header.rs checks the generated header too.
const _: () = assert!(RCONTAINER_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")));
const _: () = assert!(RCONTAINER_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")));
const _: () = assert!(RCONTAINER_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")));

static VERSION_C: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
    Ok(s) => s,
    Err(_) => panic!("version contains a NUL"),
};

/// The library's version as "MAJOR.MINOR.PATCH" (the version of the library actually loaded,
/// which may differ from the RCONTAINER_VERSION_* macros the program was compiled with).
///
/// Ownership: a static string; never free it.
#[no_mangle]
pub extern "C" fn rcontainer_version() -> *const c_char {
    VERSION_C.as_ptr()
}

// ---------------------------------------------------------------------------------------------
// Error kinds

/// Error kind: the configuration (spec, id, option) is invalid; nothing was created.
pub const RCONTAINER_ERROR_INVALID_CONFIG: i32 = 1;
/// Error kind: no container with that id (or, from the image functions, no image of that name in
/// the store or the registry).
pub const RCONTAINER_ERROR_NOT_FOUND: i32 = 2;
/// Error kind: a container with that id exists already.
pub const RCONTAINER_ERROR_ALREADY_EXISTS: i32 = 3;
/// Error kind: the call is not allowed in the container's current lifecycle state.
pub const RCONTAINER_ERROR_WRONG_STATE: i32 = 4;
/// Error kind: a system call failed; rcontainer_error_errno() says which errno.
pub const RCONTAINER_ERROR_OS: i32 = 5;
/// Error kind: a wait ran out of time (errno ETIMEDOUT).
pub const RCONTAINER_ERROR_TIMEOUT: i32 = 6;
/// Error kind: the request is valid but this build or kernel cannot do it.
pub const RCONTAINER_ERROR_UNSUPPORTED: i32 = 7;
/// Error kind: a bad argument to the C ABI itself: a NULL pointer, a string that is not UTF-8, a
/// handle that was freed already (where detectable) or is of the wrong type.
pub const RCONTAINER_ERROR_INVALID_ARGUMENT: i32 = 8;
/// Error kind: an internal error (a bug in rcontainer, caught before it crossed the ABI).
pub const RCONTAINER_ERROR_INTERNAL: i32 = 9;

// ---------------------------------------------------------------------------------------------
// Handle registry

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Error,
    Spec,
    Container,
    ExecOptions,
    Process,
    Store,
    ImageList,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::Error => "rcontainer_error_t",
            Kind::Spec => "rcontainer_spec_t",
            Kind::Container => "rcontainer_container_t",
            Kind::ExecOptions => "rcontainer_exec_options_t",
            Kind::Process => "rcontainer_process_t",
            Kind::Store => "rcontainer_store_t",
            Kind::ImageList => "rcontainer_image_list_t",
        }
    }
}

/// Every live handle's address and type. A pointer is dereferenced only when it is found here, so
/// a handle freed already (or a pointer that never was a handle) is an error, not a crash.
static HANDLES: Mutex<BTreeMap<usize, Kind>> = Mutex::new(BTreeMap::new());

fn handles() -> std::sync::MutexGuard<'static, BTreeMap<usize, Kind>> {
    HANDLES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Magic values kept in each handle (a second check, after the registry).
pub(crate) const MAGIC_ERROR: u64 = 0x7263_6572_726f_7221; // "rcerror!"
pub(crate) const MAGIC_SPEC: u64 = 0x7263_7370_6563_2121; // "rcspec!!"
pub(crate) const MAGIC_CONTAINER: u64 = 0x7263_636f_6e74_2121; // "rccont!!"
pub(crate) const MAGIC_EXEC_OPTIONS: u64 = 0x7263_6578_6f70_7421; // "rcexopt!"
pub(crate) const MAGIC_PROCESS: u64 = 0x7263_7072_6f63_2121; // "rcproc!!"
pub(crate) const MAGIC_STORE: u64 = 0x7263_7374_6f72_6521; // "rcstore!"
pub(crate) const MAGIC_IMAGE_LIST: u64 = 0x7263_696d_6c73_7421; // "rcimlst!"

/// Trait of the handle types.
pub(crate) trait Handle: Sized {
    const KIND: Kind;
    const MAGIC: u64;
    fn magic(&self) -> u64;
    fn clear_magic(&mut self);

    /// Moves a value into a new registered handle.
    fn into_raw(self) -> *mut Self {
        let p = Box::into_raw(Box::new(self));
        handles().insert(p as usize, Self::KIND);
        p
    }

    /// The handle behind `p`, if `p` is a live handle of this type.
    ///
    /// # Safety
    /// The registry guarantees `p` points to a live `Self`; the caller must not use it from two
    /// threads at once (documented in the header).
    unsafe fn from_ptr<'a>(p: *const Self, func: &str, arg: &str) -> Result<&'a mut Self, CErr> {
        if p.is_null() {
            return Err(CErr::arg(format!("{func}: {arg} is NULL")));
        }
        match handles().get(&(p as usize)) {
            Some(k) if *k == Self::KIND => {}
            Some(k) => {
                return Err(CErr::arg(format!("{func}: {arg} is a {}, not a {}", k.type_name(), Self::KIND.type_name())));
            }
            None => {
                return Err(CErr::arg(format!("{func}: {arg} is not a live {} (freed already, or never returned by rcontainer)", Self::KIND.type_name())));
            }
        }
        // SAFETY: registered, so it came from into_raw and has not been freed.
        let h = unsafe { &mut *(p as *mut Self) };
        if h.magic() != Self::MAGIC {
            return Err(CErr::internal(format!("{func}: {arg} is corrupt (bad magic)")));
        }
        Ok(h)
    }

    /// Frees the handle behind `p` if it is a live handle of this type; otherwise does nothing.
    ///
    /// # Safety
    /// As [`Handle::from_ptr`].
    unsafe fn free(p: *mut Self) {
        if p.is_null() {
            return;
        }
        let live = {
            let mut map = handles();
            if map.get(&(p as usize)) == Some(&Self::KIND) {
                map.remove(&(p as usize));
                true
            } else {
                false
            }
        };
        if live {
            // SAFETY: it was registered, so it came from Box::into_raw; it is now unregistered
            // so no other call can reach it.
            let mut b = unsafe { Box::from_raw(p) };
            b.clear_magic();
            drop(b);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and the guard

/// An error as the C ABI reports it (before it becomes a handle).
#[derive(Debug)]
pub(crate) struct CErr {
    kind: i32,
    errno: i32,
    message: String,
}

impl CErr {
    pub(crate) fn arg(message: impl Into<String>) -> CErr {
        CErr { kind: RCONTAINER_ERROR_INVALID_ARGUMENT, errno: libc::EINVAL, message: message.into() }
    }
    pub(crate) fn os(message: impl Into<String>, e: &std::io::Error) -> CErr {
        CErr { kind: RCONTAINER_ERROR_OS, errno: e.raw_os_error().unwrap_or(0), message: format!("{}: {e}", message.into()) }
    }
    pub(crate) fn internal(message: impl Into<String>) -> CErr {
        CErr { kind: RCONTAINER_ERROR_INTERNAL, errno: 0, message: message.into() }
    }
    fn into_raw(self) -> *mut rcontainer_error_t {
        // One line, whatever the input it quotes: control characters (NUL too) escaped.
        let message = CString::new(rcontainer_core::error::one_line(&self.message).into_owned()).unwrap_or_default();
        rcontainer_error_t { magic: MAGIC_ERROR, kind: self.kind, errno: self.errno, message }.into_raw()
    }
}

impl From<rcontainer_core::Error> for CErr {
    fn from(e: rcontainer_core::Error) -> CErr {
        CErr { kind: e.kind() as i32, errno: e.errno().unwrap_or(0), message: e.to_string() }
    }
}

/// Image errors map as the runtime's (the image crate's one mapping, which the bindings use
/// too): a bad reference or image content INVALID_CONFIG, an image the store or the registry
/// lacks NOT_FOUND, an id in use ALREADY_EXISTS, the rest OS with an errno.
impl From<rcontainer_image::Error> for CErr {
    fn from(e: rcontainer_image::Error) -> CErr {
        CErr { kind: e.kind() as i32, errno: e.errno().unwrap_or(0), message: e.to_string() }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Runs the body of a fallible extern function: a panic becomes an INTERNAL error, an `Err` an
/// error handle, `Ok` a NULL return.
pub(crate) fn guard(func: &'static str, body: impl FnOnce() -> Result<(), CErr>) -> *mut rcontainer_error_t {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(e)) => e.into_raw(),
        Err(payload) => {
            let e = CErr::internal(format!("{func}: internal error (panic: {}); please report this bug", panic_text(&*payload)));
            // Building the error handle allocates; never let that unwind either.
            catch_unwind(AssertUnwindSafe(|| e.into_raw())).unwrap_or(ptr::null_mut())
        }
    }
}

/// Runs the body of an infallible extern function (accessors, frees): a panic gives `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// A required C string argument as UTF-8.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn arg_str<'a>(func: &str, name: &str, p: *const c_char) -> Result<&'a str, CErr> {
    if p.is_null() {
        return Err(CErr::arg(format!("{func}: {name} is NULL")));
    }
    // SAFETY: caller promises a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| CErr::arg(format!("{func}: {name} is not valid UTF-8: {:?}", s.to_string_lossy())))
}

/// An optional C string argument (NULL → None) as UTF-8.
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_opt_str<'a>(func: &str, name: &str, p: *const c_char) -> Result<Option<&'a str>, CErr> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: as the caller's.
        unsafe { arg_str(func, name, p) }.map(Some)
    }
}

/// A required path argument (any bytes but NUL).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_path(func: &str, name: &str, p: *const c_char) -> Result<PathBuf, CErr> {
    if p.is_null() {
        return Err(CErr::arg(format!("{func}: {name} is NULL")));
    }
    // SAFETY: caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    if bytes.is_empty() {
        return Err(CErr::arg(format!("{func}: {name} is an empty path")));
    }
    Ok(PathBuf::from(OsStr::from_bytes(bytes)))
}

/// An optional path argument (NULL → None).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_opt_path(func: &str, name: &str, p: *const c_char) -> Result<Option<PathBuf>, CErr> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: as the caller's.
        unsafe { arg_path(func, name, p) }.map(Some)
    }
}

/// A NULL-terminated array of C strings (as execv's argv).
///
/// # Safety
/// `p` is NULL or points to an array of string pointers ending with NULL.
pub(crate) unsafe fn arg_str_array(func: &str, name: &str, p: *const *const c_char) -> Result<Vec<String>, CErr> {
    if p.is_null() {
        return Err(CErr::arg(format!("{func}: {name} is NULL")));
    }
    let mut out = Vec::new();
    for i in 0.. {
        // SAFETY: the array ends with NULL; we stop there.
        let s = unsafe { *p.add(i) };
        if s.is_null() {
            break;
        }
        // SAFETY: each element is a NUL-terminated string.
        out.push(unsafe { arg_str(func, &format!("{name}[{i}]"), s) }?.to_string());
    }
    Ok(out)
}

/// Checks that an out parameter is not NULL.
pub(crate) fn out_ptr<T>(func: &str, name: &str, p: *mut T) -> Result<(), CErr> {
    if p.is_null() {
        Err(CErr::arg(format!("{func}: {name} (out parameter) is NULL")))
    } else {
        Ok(())
    }
}

/// Returns a string the caller must free with rcontainer_string_free().
pub(crate) fn owned_string(s: &str) -> *mut c_char {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default().into_raw()
}

/// Frees a string that an rcontainer function returned as `char *` with "free it with
/// rcontainer_string_free()" (e.g. rcontainer_spec_to_json()). NULL is ignored.
///
/// # Safety
/// `s` is NULL or a string returned by rcontainer and not freed yet.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_string_free(s: *mut c_char) {
    guard_value((), || {
        if !s.is_null() {
            // SAFETY: it came from CString::into_raw (owned_string).
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// An error returned by a fallible rcontainer call: a message, a kind (RCONTAINER_ERROR_*) and,
/// for OS errors, an errno.
///
/// Ownership: the caller owns every error returned to it and frees it with rcontainer_error_free().
pub struct rcontainer_error_t {
    magic: u64,
    kind: i32,
    errno: i32,
    message: CString,
}

impl Handle for rcontainer_error_t {
    const KIND: Kind = Kind::Error;
    const MAGIC: u64 = MAGIC_ERROR;
    fn magic(&self) -> u64 {
        self.magic
    }
    fn clear_magic(&mut self) {
        self.magic = 0;
    }
}

static NO_ERROR_TEXT: &CStr = c"(not a live rcontainer_error_t: NULL or freed already)";

/// Makes an error (e.g. for a program's own functions that report errors the same way).
/// `kind` is an RCONTAINER_ERROR_* value, `errnum` an errno or 0; `message` is copied (NULL gives
/// an empty message).
///
/// Returns a new error that the caller owns (free it with rcontainer_error_free()); never NULL
/// (NULL means success everywhere else). Bytes of `message` that are not UTF-8 become U+FFFD.
///
/// # Safety
/// `message` is NULL or a NUL-terminated string.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_error_new(kind: i32, errnum: c_int, message: *const c_char) -> *mut rcontainer_error_t {
    let make = || {
        let message = if message.is_null() {
            String::new()
        } else {
            // SAFETY: the caller promises a NUL-terminated string.
            unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned()
        };
        CErr { kind, errno: errnum, message }.into_raw()
    };
    guard_value(ptr::null_mut(), make)
}

/// Frees an error. NULL and an error freed already are ignored.
///
/// # Safety
/// `err` is NULL or a pointer that rcontainer returned as an error.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_error_free(err: *mut rcontainer_error_t) {
    // SAFETY: Handle::free only touches registered handles.
    guard_value((), || unsafe { rcontainer_error_t::free(err) })
}

/// The error's message: one line that names what failed and the input that caused it.
///
/// Ownership: borrowed from `err`; valid until rcontainer_error_free(err). Never NULL: for a NULL
/// or freed `err` it is a static text saying so.
///
/// # Safety
/// `err` is NULL or a pointer that rcontainer returned as an error.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_error_message(err: *const rcontainer_error_t) -> *const c_char {
    guard_value(NO_ERROR_TEXT.as_ptr(), || {
        // SAFETY: from_ptr checks the registry before dereferencing.
        match unsafe { rcontainer_error_t::from_ptr(err, "rcontainer_error_message", "err") } {
            Ok(e) => e.message.as_ptr(),
            Err(_) => NO_ERROR_TEXT.as_ptr(),
        }
    })
}

/// The error's kind: one of RCONTAINER_ERROR_*; RCONTAINER_ERROR_INVALID_ARGUMENT for a NULL or
/// freed `err`.
///
/// # Safety
/// `err` is NULL or a pointer that rcontainer returned as an error.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_error_kind(err: *const rcontainer_error_t) -> i32 {
    guard_value(RCONTAINER_ERROR_INTERNAL, || {
        // SAFETY: from_ptr checks the registry before dereferencing.
        match unsafe { rcontainer_error_t::from_ptr(err, "rcontainer_error_kind", "err") } {
            Ok(e) => e.kind,
            Err(_) => RCONTAINER_ERROR_INVALID_ARGUMENT,
        }
    })
}

/// The errno behind the error (e.g. EPERM for a failed mount), or 0 when there is none.
/// Timeouts give ETIMEDOUT, invalid arguments EINVAL.
///
/// # Safety
/// `err` is NULL or a pointer that rcontainer returned as an error.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_error_errno(err: *const rcontainer_error_t) -> c_int {
    guard_value(0, || {
        // SAFETY: from_ptr checks the registry before dereferencing.
        match unsafe { rcontainer_error_t::from_ptr(err, "rcontainer_error_errno", "err") } {
            Ok(e) => e.errno,
            Err(_) => libc::EINVAL,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Feature query

/// Namespace bit (rcontainer_available_namespaces()): mount namespaces.
pub const RCONTAINER_NS_MOUNT: u32 = 1 << 0;
/// Namespace bit: pid namespaces.
pub const RCONTAINER_NS_PID: u32 = 1 << 1;
/// Namespace bit: network namespaces.
pub const RCONTAINER_NS_NETWORK: u32 = 1 << 2;
/// Namespace bit: ipc namespaces.
pub const RCONTAINER_NS_IPC: u32 = 1 << 3;
/// Namespace bit: uts (hostname) namespaces.
pub const RCONTAINER_NS_UTS: u32 = 1 << 4;
/// Namespace bit: user namespaces.
pub const RCONTAINER_NS_USER: u32 = 1 << 5;
/// Namespace bit: cgroup namespaces.
pub const RCONTAINER_NS_CGROUP: u32 = 1 << 6;
/// Namespace bit: time namespaces.
pub const RCONTAINER_NS_TIME: u32 = 1 << 7;

/// (bit, name in config.json, name under /proc/self/ns)
const NAMESPACES: [(u32, &CStr, &str); 8] = [
    (RCONTAINER_NS_MOUNT, c"mount", "mnt"),
    (RCONTAINER_NS_PID, c"pid", "pid"),
    (RCONTAINER_NS_NETWORK, c"network", "net"),
    (RCONTAINER_NS_IPC, c"ipc", "ipc"),
    (RCONTAINER_NS_UTS, c"uts", "uts"),
    (RCONTAINER_NS_USER, c"user", "user"),
    (RCONTAINER_NS_CGROUP, c"cgroup", "cgroup"),
    (RCONTAINER_NS_TIME, c"time", "time"),
];

/// The namespace types this kernel offers (those listed in /proc/self/ns), as a bit set of
/// RCONTAINER_NS_*. 0 when /proc is not mounted.
#[no_mangle]
pub extern "C" fn rcontainer_available_namespaces() -> u32 {
    guard_value(0, || {
        NAMESPACES.iter().filter(|(_, _, proc_name)| std::path::Path::new("/proc/self/ns").join(proc_name).exists()).fold(0, |acc, (bit, _, _)| acc | bit)
    })
}

/// The name of one RCONTAINER_NS_* bit as config.json and rcontainer_spec_set_namespace() spell
/// it ("mount", "pid", "network", "ipc", "uts", "user", "cgroup", "time"); NULL for anything else.
///
/// Ownership: a static string; never free it.
#[no_mangle]
pub extern "C" fn rcontainer_namespace_name(ns: u32) -> *const c_char {
    NAMESPACES.iter().find(|(bit, _, _)| *bit == ns).map(|(_, name, _)| name.as_ptr()).unwrap_or(ptr::null())
}

/// Cgroup layout (rcontainer_cgroup_layout()): only cgroup v1 hierarchies.
pub const RCONTAINER_CGROUP_V1: i32 = 1;
/// Cgroup layout: only the unified cgroup v2 hierarchy at /sys/fs/cgroup.
pub const RCONTAINER_CGROUP_V2: i32 = 2;
/// Cgroup layout: hybrid, v1 controllers plus a cgroup2 tree at /sys/fs/cgroup/unified.
pub const RCONTAINER_CGROUP_HYBRID: i32 = 3;

/// The host's cgroup layout: RCONTAINER_CGROUP_V1, _V2 or _HYBRID.
#[no_mangle]
pub extern "C" fn rcontainer_cgroup_layout() -> i32 {
    use rcontainer_core::cgroups::Layout;
    guard_value(RCONTAINER_CGROUP_V1, || match rcontainer_core::cgroups::host().layout {
        Layout::V1 => RCONTAINER_CGROUP_V1,
        Layout::V2 => RCONTAINER_CGROUP_V2,
        Layout::Hybrid => RCONTAINER_CGROUP_HYBRID,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let err = guard("rcontainer_test", || panic!("boom"));
        assert!(!err.is_null());
        // SAFETY: err is a live error handle.
        unsafe {
            assert_eq!(rcontainer_error_kind(err), RCONTAINER_ERROR_INTERNAL);
            let msg = CStr::from_ptr(rcontainer_error_message(err)).to_string_lossy().into_owned();
            assert!(msg.contains("rcontainer_test") && msg.contains("boom"), "{msg}");
            rcontainer_error_free(err);
            assert_eq!(rcontainer_error_kind(err), RCONTAINER_ERROR_INVALID_ARGUMENT);
        }
        assert_eq!(guard_value(7, || -> i32 { panic!("boom") }), 7);
    }

    #[test]
    fn core_errors_keep_kind_and_errno() {
        let e: CErr = rcontainer_core::Error::Timeout(std::time::Duration::from_millis(5)).into();
        assert_eq!((e.kind, e.errno), (RCONTAINER_ERROR_TIMEOUT, libc::ETIMEDOUT));
        let e: CErr = rcontainer_core::Error::NotFound { id: "x".into() }.into();
        assert_eq!((e.kind, e.errno), (RCONTAINER_ERROR_NOT_FOUND, 0));
        assert_eq!(rcontainer_core::ErrorKind::Unsupported as i32, RCONTAINER_ERROR_UNSUPPORTED);
        assert_eq!(rcontainer_core::ErrorKind::InvalidConfig as i32, RCONTAINER_ERROR_INVALID_CONFIG);
    }

    #[test]
    fn image_errors_map_as_the_runtimes() {
        use rcontainer_image::{Error as E, RegistryFailure};
        let registry = |failure| E::Registry { reference: "r".into(), reason: "x".into(), failure };
        let cases = [
            (E::ImageNotFound { reference: "x".into(), store: "/s".into() }, RCONTAINER_ERROR_NOT_FOUND, 0),
            (registry(RegistryFailure::NotFound), RCONTAINER_ERROR_NOT_FOUND, 0),
            (registry(RegistryFailure::Unreachable(Some(libc::ECONNREFUSED))), RCONTAINER_ERROR_OS, libc::ECONNREFUSED),
            (E::InvalidReference { reference: "A B".into(), reason: "x".into() }, RCONTAINER_ERROR_INVALID_CONFIG, 0),
            (E::Conflict("in use".into()), RCONTAINER_ERROR_ALREADY_EXISTS, libc::EEXIST),
        ];
        for (e, kind, errno) in cases {
            let c = CErr::from(e);
            assert_eq!((c.kind, c.errno), (kind, errno), "{}", c.message);
        }
    }
}
