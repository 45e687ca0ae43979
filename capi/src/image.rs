//! Images: `rcontainer_store_t` (the local image store of `rcontainer-image`, the one the
//! command uses), pull, import, list (`rcontainer_image_list_t`), remove, and
//! rcontainer_spec_set_image(): a spec whose containers get the image's layers as a
//! copy-on-write root and its config (command, environment, working directory, user).

use std::ffi::{c_char, CString};
use std::ptr;
use std::sync::Arc;

use rcontainer_core::options::Options;
use rcontainer_core::{Container, CreateOptions, SpecBuilder};
use rcontainer_image::config::{Overrides, STOP_SIGNAL_ANNOTATION};
use rcontainer_image::{ImageRecord, Name, PullOptions, Store};

use crate::{
    arg_opt_path, arg_opt_str, arg_path, arg_str, arg_str_array, guard, guard_value, out_ptr, owned_string, rcontainer_error_t, rcontainer_spec_t, CErr,
    Handle, Kind, MAGIC_IMAGE_LIST, MAGIC_STORE,
};

// ---------------------------------------------------------------------------------------------
// The store

/// The local image store: a directory of content-addressed blobs, unpacked layers, image names
/// and the copy-on-write roots of containers made from images (the same store, format and
/// locking as the `rcontainer` command's: `rcontainer images` lists what a program pulled).
///
/// Ownership: the caller owns a store from rcontainer_store_open() and frees it with
/// rcontainer_store_free(). A spec given the store by rcontainer_spec_set_image() keeps what it
/// needs of it: the store handle may be freed before the containers are created. A store must
/// not be used by two threads at once (two handles on the same directory may: the store locks
/// what it changes, also against other processes).
pub struct rcontainer_store_t {
    magic: u64,
    store: Arc<Store>,
    path: CString,
}

impl Handle for rcontainer_store_t {
    const KIND: Kind = Kind::Store;
    const MAGIC: u64 = MAGIC_STORE;
    fn magic(&self) -> u64 {
        self.magic
    }
    fn clear_magic(&mut self) {
        self.magic = 0;
    }
}

/// Looks up a store handle.
///
/// # Safety
/// `p` is NULL or a pointer returned by rcontainer.
unsafe fn store<'a>(func: &str, p: *const rcontainer_store_t) -> Result<&'a mut rcontainer_store_t, CErr> {
    // SAFETY: from_ptr checks the registry before dereferencing.
    unsafe { rcontainer_store_t::from_ptr(p, func, "store") }
}

/// Opens the image store at `path`, creating the directory when missing. NULL opens the default
/// store: $RCONTAINER_STORE when set and not empty, else /var/lib/rcontainer (the command's
/// default, so both see the same images). The path may not contain ',', ':' or '\\' (the store's
/// directories become overlayfs mount options).
///
/// On success `*out` receives a new store handle the caller owns (free it with
/// rcontainer_store_free()). RCONTAINER_ERROR_INVALID_CONFIG for a path the store cannot use,
/// RCONTAINER_ERROR_OS when it cannot be created (e.g. EACCES without root).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_store_open(path: *const c_char, out: *mut *mut rcontainer_store_t) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_store_open";
    guard(F, || {
        out_ptr(F, "out", out)?;
        // SAFETY: as the caller's.
        let path = unsafe { arg_opt_path(F, "path", path) }?.unwrap_or_else(rcontainer_image::default_root);
        let store = Store::open(&path).map_err(|e| match e {
            // The only content check of open is the path's own.
            rcontainer_image::Error::BadImage { .. } => CErr { kind: crate::RCONTAINER_ERROR_INVALID_CONFIG, errno: 0, message: format!("{F}: {e}") },
            e => CErr::from(e),
        })?;
        let text = store.root().to_string_lossy().into_owned();
        let handle = rcontainer_store_t { magic: MAGIC_STORE, path: CString::new(text).unwrap_or_default(), store: Arc::new(store) };
        // SAFETY: checked non-NULL above.
        unsafe { *out = handle.into_raw() };
        Ok(())
    })
}

/// Frees a store handle (the store's directory and images stay). NULL and a store freed
/// already are ignored.
///
/// # Safety
/// `store` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_store_free(store: *mut rcontainer_store_t) {
    // SAFETY: Handle::free only touches registered handles.
    guard_value((), || unsafe { rcontainer_store_t::free(store) })
}

/// The store's directory (absolute).
///
/// Ownership: borrowed from `store`; valid until rcontainer_store_free(). NULL for a NULL or
/// freed handle.
///
/// # Safety
/// `store` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_store_path(store: *const rcontainer_store_t) -> *const c_char {
    guard_value(ptr::null(), || {
        // SAFETY: from_ptr checks the registry before dereferencing.
        match unsafe { self::store("rcontainer_store_path", store) } {
            Ok(s) => s.path.as_ptr(),
            Err(_) => ptr::null(),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Pull, import, list, remove

/// Pull flag (rcontainer_image_pull()): talk plain http to the registry instead of https (a
/// local registry you trust, e.g. 127.0.0.1:5000).
pub const RCONTAINER_PULL_PLAIN_HTTP: u32 = 1 << 0;
/// Pull flag: do nothing when the store already has an image of that name (as `rcontainer run
/// IMAGE` does before it runs one); without it the registry is always asked (a tag may have
/// moved).
pub const RCONTAINER_PULL_IF_MISSING: u32 = 1 << 1;
const PULL_FLAGS: u32 = RCONTAINER_PULL_PLAIN_HTTP | RCONTAINER_PULL_IF_MISSING;

/// Pulls `reference` (e.g. "busybox", "busybox:1.36", "127.0.0.1:5000/app@sha256:...") from its
/// registry into `store` and names it there: the manifest (from a manifest list, this machine's
/// platform), the config and the layers, each verified against its digest, then the layers
/// unpacked. `flags` is 0 or RCONTAINER_PULL_* or'ed. `username` and `password` (both or
/// neither; NULL: anonymous) are for basic auth or the registry's token service. Blocks until
/// done (no progress is reported; run it on a thread of its own to keep a loop going).
///
/// On success, when `name` is not NULL, `*name` receives the image's full name (e.g.
/// "docker.io/library/busybox:latest"), a string the caller owns: free it with
/// rcontainer_string_free(). Errors (the message names the reference; kinds as the runtime's):
/// - RCONTAINER_ERROR_INVALID_CONFIG: a reference that does not parse, or content that is not a
///   valid image;
/// - RCONTAINER_ERROR_NOT_FOUND: the registry has no such repository, tag or manifest;
/// - RCONTAINER_ERROR_OS: the registry cannot be reached (errno: the connection's, e.g.
///   ECONNREFUSED; EHOSTUNREACH when unknown), refuses the credentials (EACCES), fails otherwise
///   (EIO), or sends content that does not match its digest (EIO; nothing of it is kept).
///
/// # Safety
/// `store` is NULL or a pointer returned by rcontainer; the strings NULL or NUL-terminated;
/// `name` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_pull(
    store: *mut rcontainer_store_t,
    reference: *const c_char,
    flags: u32,
    username: *const c_char,
    password: *const c_char,
    name: *mut *mut c_char,
) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_image_pull";
    guard(F, || {
        // SAFETY: as the caller's (every pointer below).
        let s = unsafe { self::store(F, store) }?;
        let reference = unsafe { arg_str(F, "reference", reference) }?;
        if flags & !PULL_FLAGS != 0 {
            return Err(CErr::arg(format!("{F}: flags = {flags:#x}: unknown bits {:#x} (RCONTAINER_PULL_* only)", flags & !PULL_FLAGS)));
        }
        let username = unsafe { arg_opt_str(F, "username", username) }?;
        let password = unsafe { arg_opt_str(F, "password", password) }?;
        let credentials = match (username, password) {
            (None, None) => None,
            (Some(u), Some(p)) if !u.is_empty() => Some((u.to_string(), p.to_string())),
            (Some(_), Some(_)) => return Err(CErr::arg(format!("{F}: username is empty"))),
            _ => return Err(CErr::arg(format!("{F}: give both username and password, or neither (anonymous)"))),
        };
        let found = if flags & RCONTAINER_PULL_IF_MISSING != 0 { s.store.find(reference)?.map(|(n, _)| n) } else { None };
        let full = match found {
            Some(n) => n,
            None => {
                let opts = PullOptions { plain_http: flags & RCONTAINER_PULL_PLAIN_HTTP != 0, credentials };
                rcontainer_image::pull(&s.store, reference, &opts, &mut |_| {})?.0
            }
        };
        if !name.is_null() {
            // SAFETY: checked non-NULL; writable as the caller promised.
            unsafe { *name = owned_string(&full.to_string()) };
        }
        Ok(())
    })
}

/// One image of a list, its strings ready for C.
struct Entry {
    name: CString,
    repository: CString,
    tag: Option<CString>,
    id: CString,
    digest: CString,
    created: Option<CString>,
    size: u64,
}

impl Entry {
    fn new(name: &Name, r: &ImageRecord) -> Entry {
        let c = |s: &str| CString::new(s.replace('\0', "\\0")).unwrap_or_default();
        Entry {
            name: c(&name.to_string()),
            repository: c(&name.repository()),
            tag: name.tag().map(c),
            id: c(&r.config),
            digest: c(&r.manifest),
            created: r.created.as_deref().map(c),
            size: r.size(),
        }
    }
}

/// A list of images (rcontainer_image_list(), rcontainer_image_import()): a snapshot, read with
/// rcontainer_image_list_count() and the accessors rcontainer_image_list_name(), _repository(),
/// _tag(), _id(), _digest(), _created() and _size(), which take an index from 0 to count - 1.
///
/// Ownership: the caller owns the list and frees it with rcontainer_image_list_free(); the
/// strings the accessors return are borrowed from it (valid until then; never free them).
pub struct rcontainer_image_list_t {
    magic: u64,
    entries: Vec<Entry>,
}

impl Handle for rcontainer_image_list_t {
    const KIND: Kind = Kind::ImageList;
    const MAGIC: u64 = MAGIC_IMAGE_LIST;
    fn magic(&self) -> u64 {
        self.magic
    }
    fn clear_magic(&mut self) {
        self.magic = 0;
    }
}

fn image_list(images: &[(Name, ImageRecord)]) -> *mut rcontainer_image_list_t {
    rcontainer_image_list_t { magic: MAGIC_IMAGE_LIST, entries: images.iter().map(|(n, r)| Entry::new(n, r)).collect() }.into_raw()
}

/// Imports the images of `path`: an OCI image layout (a directory with index.json, or a tar of
/// one) or a `docker save` archive, each blob verified against its digest, the layers unpacked.
/// `name` (NULL: the names the archive gives; a layout's bare tag gets the file's or directory's
/// name as repository) names the image, e.g. "myapp:1.0"; only for an archive of one image.
///
/// On success, when `out` is not NULL, `*out` receives the list of what was imported (a new list
/// the caller owns: rcontainer_image_list_free()). Errors: RCONTAINER_ERROR_OS when `path`
/// cannot be read, RCONTAINER_ERROR_INVALID_CONFIG when it is not a valid image archive or for a
/// `name` that does not parse; the message names the path or the name.
///
/// # Safety
/// `store` is NULL or a pointer returned by rcontainer; `path` and `name` NULL or
/// NUL-terminated; `out` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_import(
    store: *mut rcontainer_store_t,
    path: *const c_char,
    name: *const c_char,
    out: *mut *mut rcontainer_image_list_t,
) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_image_import";
    guard(F, || {
        // SAFETY: as the caller's (every pointer below).
        let s = unsafe { self::store(F, store) }?;
        let path = unsafe { arg_path(F, "path", path) }?;
        let name = unsafe { arg_opt_str(F, "name", name) }?;
        let imported = rcontainer_image::import::import(&s.store, &path, name)?;
        if !out.is_null() {
            // SAFETY: checked non-NULL; writable as the caller promised.
            unsafe { *out = image_list(&imported) };
        }
        Ok(())
    })
}

/// The images in the store, by name (an image with two names is listed twice, with the same id).
///
/// On success `*out` receives a new list the caller owns: free it with
/// rcontainer_image_list_free().
///
/// # Safety
/// `store` is NULL or a pointer returned by rcontainer; `out` NULL or writable.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_list(store: *mut rcontainer_store_t, out: *mut *mut rcontainer_image_list_t) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_image_list";
    guard(F, || {
        out_ptr(F, "out", out)?;
        // SAFETY: as the caller's.
        let s = unsafe { self::store(F, store) }?;
        let images = s.store.images()?;
        // SAFETY: checked non-NULL above.
        unsafe { *out = image_list(&images) };
        Ok(())
    })
}

/// Frees a list of images. NULL and a list freed already are ignored.
///
/// # Safety
/// `list` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_list_free(list: *mut rcontainer_image_list_t) {
    // SAFETY: Handle::free only touches registered handles.
    guard_value((), || unsafe { rcontainer_image_list_t::free(list) })
}

/// The entry `index` of `list`, or None (a NULL or freed list, an index out of range).
///
/// # Safety
/// `list` is NULL or a pointer returned by rcontainer.
unsafe fn entry<'a>(func: &str, list: *const rcontainer_image_list_t, index: usize) -> Option<&'a Entry> {
    // SAFETY: from_ptr checks the registry before dereferencing.
    unsafe { rcontainer_image_list_t::from_ptr(list, func, "list") }.ok().and_then(|l| l.entries.get(index))
}

/// How many images `list` holds (0 for a NULL or freed list).
///
/// # Safety
/// `list` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_list_count(list: *const rcontainer_image_list_t) -> usize {
    guard_value(0, || {
        // SAFETY: from_ptr checks the registry before dereferencing.
        unsafe { rcontainer_image_list_t::from_ptr(list, "rcontainer_image_list_count", "list") }.map(|l| l.entries.len()).unwrap_or(0)
    })
}

/// The full name of image `index`, e.g. "docker.io/library/busybox:latest": what the store is
/// keyed by, and what rcontainer_spec_set_image() and rcontainer_image_remove() accept (as they
/// accept the short forms).
///
/// Ownership: borrowed from `list`; valid until rcontainer_image_list_free(). NULL for a NULL or
/// freed list or an index out of range.
///
/// # Safety
/// `list` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_list_name(list: *const rcontainer_image_list_t, index: usize) -> *const c_char {
    // SAFETY: as the caller's.
    guard_value(ptr::null(), || unsafe { entry("rcontainer_image_list_name", list, index) }.map_or(ptr::null(), |e| e.name.as_ptr()))
}

/// The repository of image `index` as Docker shows it: "busybox" for Docker Hub's official
/// images, "user/app", "registry:5000/app" otherwise.
///
/// Ownership and NULL: as rcontainer_image_list_name().
///
/// # Safety
/// `list` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_list_repository(list: *const rcontainer_image_list_t, index: usize) -> *const c_char {
    // SAFETY: as the caller's.
    guard_value(ptr::null(), || unsafe { entry("rcontainer_image_list_repository", list, index) }.map_or(ptr::null(), |e| e.repository.as_ptr()))
}

/// The tag of image `index` (e.g. "latest"); NULL also when the image is named by digest
/// ("repo@sha256:...": rcontainer_image_list_digest() is then its digest).
///
/// Ownership: as rcontainer_image_list_name().
///
/// # Safety
/// `list` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_list_tag(list: *const rcontainer_image_list_t, index: usize) -> *const c_char {
    // SAFETY: as the caller's.
    guard_value(ptr::null(), || unsafe { entry("rcontainer_image_list_tag", list, index) }.and_then(|e| e.tag.as_ref()).map_or(ptr::null(), |t| t.as_ptr()))
}

/// The id of image `index`: its config's digest, "sha256:" and 64 hex digits (Docker's IMAGE
/// ID is the first 12 of them). rcontainer_spec_set_image() accepts it, or 12 or more of its
/// hex digits, in place of a name.
///
/// Ownership and NULL: as rcontainer_image_list_name().
///
/// # Safety
/// `list` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_list_id(list: *const rcontainer_image_list_t, index: usize) -> *const c_char {
    // SAFETY: as the caller's.
    guard_value(ptr::null(), || unsafe { entry("rcontainer_image_list_id", list, index) }.map_or(ptr::null(), |e| e.id.as_ptr()))
}

/// The digest of image `index`'s manifest ("sha256:..."), as its registry or archive names it.
///
/// Ownership and NULL: as rcontainer_image_list_name().
///
/// # Safety
/// `list` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_list_digest(list: *const rcontainer_image_list_t, index: usize) -> *const c_char {
    // SAFETY: as the caller's.
    guard_value(ptr::null(), || unsafe { entry("rcontainer_image_list_digest", list, index) }.map_or(ptr::null(), |e| e.digest.as_ptr()))
}

/// When image `index` was built (its config's `created`, RFC 3339, e.g.
/// "2024-01-01T00:00:00Z"); NULL also when the config does not say.
///
/// Ownership: as rcontainer_image_list_name().
///
/// # Safety
/// `list` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_list_created(list: *const rcontainer_image_list_t, index: usize) -> *const c_char {
    // SAFETY: as the caller's.
    guard_value(ptr::null(), || {
        unsafe { entry("rcontainer_image_list_created", list, index) }.and_then(|e| e.created.as_ref()).map_or(ptr::null(), |t| t.as_ptr())
    })
}

/// The size of image `index`'s layers as stored (compressed), in bytes; 0 for a NULL or freed
/// list or an index out of range.
///
/// # Safety
/// `list` is NULL or a pointer returned by rcontainer.
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_list_size(list: *const rcontainer_image_list_t, index: usize) -> u64 {
    // SAFETY: as the caller's.
    guard_value(0, || unsafe { entry("rcontainer_image_list_size", list, index) }.map_or(0, |e| e.size))
}

/// Removes the name `image` (a name, or an id as rcontainer_image_list_id() gives it) from the
/// store, then, as `rcontainer rmi` does, what no image and no container uses any more: blobs,
/// unpacked layers, and the copy-on-write roots left by containers that no longer exist. A
/// container counts as existing when it is under `state_root` (NULL: /run/rcontainer, or an ordinary user's own state root) or
/// /run/rcontainer, or while the process that created it runs: the layers of such containers
/// stay, so removing the image of a running container is safe. Containers created from a spec
/// that holds the image (rcontainer_spec_set_image()) after this fail.
///
/// RCONTAINER_ERROR_NOT_FOUND when the store has no such image.
///
/// # Safety
/// `store` is NULL or a pointer returned by rcontainer; `image` and `state_root` NULL or
/// NUL-terminated.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_image_remove(store: *mut rcontainer_store_t, image: *const c_char, state_root: *const c_char) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_image_remove";
    guard(F, || {
        // SAFETY: as the caller's (every pointer below).
        let s = unsafe { self::store(F, store) }?;
        let image = unsafe { arg_str(F, "image", image) }?;
        let default = rcontainer_core::rootless::default_state_root();
        let mut roots = vec![default.clone()];
        if let Some(root) = unsafe { arg_opt_path(F, "state_root", state_root) }?.filter(|r| *r != default) {
            roots.insert(0, root);
        }
        s.store.untag(image)?;
        s.store.prune(&roots)?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// A container from an image

/// What rcontainer_spec_set_image() keeps in the spec for create: the image (its record as it
/// was then, so a tag moved meanwhile does not mix two images) and what of its config is applied
/// only at create.
#[derive(Clone)]
pub(crate) struct ImageRoot {
    store: Arc<Store>,
    name: Name,
    record: ImageRecord,
    /// The image's User when it holds a name: looked up in the image's /etc/passwd (and
    /// /etc/group) at create, through its layers.
    user_name: Option<String>,
    stop_signal: Option<String>,
}

/// Makes the spec's containers from an image of `store`: `image` is a name ("busybox",
/// "busybox:1.36", "registry:5000/app@sha256:...") or an id (see rcontainer_image_list_id()).
/// The image must be in the store already: this never pulls (rcontainer_image_pull() with
/// RCONTAINER_PULL_IF_MISSING first does what `rcontainer run IMAGE` does).
///
/// Applied to the spec now, as `docker run` does (setters called after it win, as docker's flags
/// win over the image):
/// - the command: the image's Entrypoint followed by its Cmd. `args` (a NULL-terminated array,
///   as execv's; NULL or empty: keep the image's Cmd) replaces the Cmd; `entrypoint` (NULL: keep
///   the image's) replaces the Entrypoint, and then the image's Cmd is not used; "" clears it.
///   RCONTAINER_ERROR_INVALID_CONFIG when no command is left.
/// - the environment: each of the image's Env variables is set (replacing the spec's, e.g. PATH;
///   the others stay).
/// - the working directory: the image's WorkingDir, when it has one.
/// - the user: the image's User (numbers; a name is looked up in the image's /etc/passwd and
///   /etc/group at create), unless the caller chose the user with rcontainer_spec_set_user() or
///   rcontainer_spec_set_sandbox(), before or after this call: the image never replaces the
///   caller's choice.
/// - the root: writable (copy-on-write: see below), unless the caller chose with
///   rcontainer_spec_set_readonly_root() or rcontainer_spec_set_sandbox(), before or after.
///
/// At each rcontainer_container_create() (and rcontainer_container_run_pipes()) the container
/// gets a root of its own: the image's layers as an overlay, with (unless the root is read-only)
/// a writable upper directory under the store's containers/ID/, which
/// rcontainer_container_delete() removes (a failed create leaves nothing). The image's StopSignal
/// is recorded as the annotation org.opencontainers.image.stopSignal (`rcontainer kill ID`
/// sends it). The image's ExposedPorts and Volumes are not applied (the network is the spec's;
/// volumes are part of the root). The spec needs a mount namespace of the container's own (the
/// defaults have one). rcontainer_spec_to_json() shows the spec without the image's root.
/// rcontainer_spec_set_rootfs() after this goes back to a directory root (the config stays
/// applied). A spec given rcontainer_spec_set_default_root() (whose mounts are the host's) is
/// refused: start from a new spec.
///
/// Errors: RCONTAINER_ERROR_NOT_FOUND when the store has no such image (the message names it
/// and the store), RCONTAINER_ERROR_INVALID_CONFIG when its config is not usable; the spec is then
/// unchanged. The strings are copied; `store` may be freed right after (the spec keeps what it
/// needs).
///
/// # Safety
/// `spec` and `store` are NULL or pointers returned by rcontainer; `image` and `entrypoint` NULL
/// or NUL-terminated; `args` NULL or a NULL-terminated array of NUL-terminated strings.
#[must_use]
#[no_mangle]
pub unsafe extern "C" fn rcontainer_spec_set_image(
    spec: *mut rcontainer_spec_t,
    store: *mut rcontainer_store_t,
    image: *const c_char,
    entrypoint: *const c_char,
    args: *const *const c_char,
) -> *mut rcontainer_error_t {
    const F: &str = "rcontainer_spec_set_image";
    guard(F, || {
        // SAFETY: as the caller's (every pointer below).
        let sp = unsafe { rcontainer_spec_t::from_ptr(spec, F, "spec") }?;
        let st = unsafe { self::store(F, store) }?;
        let image = unsafe { arg_str(F, "image", image) }?;
        let entrypoint = unsafe { arg_opt_str(F, "entrypoint", entrypoint) }?;
        let cmd = if args.is_null() { Vec::new() } else { unsafe { arg_str_array(F, "args", args) }? };
        if sp.default_root {
            return Err(CErr::arg(format!(
                "{F}: the spec has the embedded default root (rcontainer_spec_set_default_root), whose mounts are the host's: give the image to a new spec"
            )));
        }
        let (name, record) = st
            .store
            .find(image)?
            .ok_or_else(|| rcontainer_image::Error::ImageNotFound { reference: image.to_string(), store: st.store.root().to_path_buf() })?;
        let config = rcontainer_image::config::load(&st.store, &record)?;
        // The command's own reading of a config (docker's rules), onto empty options, then
        // those onto the spec.
        let mut o = Options::default();
        let over = Overrides { entrypoint: entrypoint.map(str::to_string), cmd };
        let applied = rcontainer_image::config::apply(&name.repository(), &config, &over, &mut o)?;
        let (user_chosen, readonly_chosen) = (sp.user_chosen, sp.readonly_chosen);
        sp.update(|mut b: SpecBuilder| {
            if let Some(args) = o.args.take() {
                b = b.args(args);
            }
            for (k, v) in &o.env {
                b = b.env(k, v);
            }
            if let Some(cwd) = o.cwd.take() {
                b = b.cwd(cwd);
            }
            if let (Some((uid, gid)), false) = (o.user, user_chosen) {
                b = b.user(uid, gid);
            }
            if !readonly_chosen {
                b = b.readonly_root(false);
            }
            Ok(b)
        })?;
        sp.image = Some(ImageRoot { store: Arc::clone(&st.store), name, record, user_name: o.user_name, stop_signal: applied.stop_signal });
        Ok(())
    })
}

impl rcontainer_spec_t {
    /// Creates container `id` from this spec: with an image (rcontainer_spec_set_image()), on a
    /// copy-on-write root of its own, prepared here and removed again if the create fails.
    pub(crate) fn create_container(&self, id: &str, opts: &CreateOptions) -> Result<Container, CErr> {
        let Some(img) = &self.image else { return Ok(Container::create(id, &self.spec_for(id), opts)?) };
        let b = self.builder_for(id);
        let spec = b.clone().build();
        let read_only = spec.config().root().as_ref().and_then(|r| r.readonly()) == Some(true);
        // Fails (ALREADY_EXISTS) when another container has this id's root in the store: then
        // nothing here is ours to remove.
        let root = img.store.prepare_container(id, &img.name, &img.record, read_only)?;
        let created = (|| {
            let mut b = b.root_overlay(&root.rootfs, &root.overlay).readonly_root(read_only);
            if let Some(sig) = &img.stop_signal {
                b = b.annotation(STOP_SIGNAL_ANNOTATION, sig.clone());
            }
            if let (Some(user), false) = (&img.user_name, self.user_chosen) {
                // Now that the root is known: the image's own /etc/passwd, through its layers.
                let (uid, gid) = rcontainer_core::rootfs::passwd::lookup_user(&b.clone().build(), &format!("image {} User", img.name.repository()), user)?;
                b = b.user(uid, gid);
            }
            Ok(Container::create(id, &b.build(), opts)?)
        })();
        if created.is_err() {
            // Container::create removes it on most failures, not on those before the state is
            // written (an invalid spec, an id in use by a container without an image root).
            let _ = img.store.release_container(id);
        }
        created
    }
}
