//! Images, as the command's verbs have them (cli/src/images.rs): `pull`, `importImage`,
//! `images`, `removeImage`, `prune`, over rcontainer-image's store. A container's root from an
//! image is made by `Container.create` / `run` (options.rs: `Prepared::finish`).
//!
//! Pulls, imports and prunes copy, unpack and remove files for seconds or minutes: they run on
//! tokio's blocking threads and settle a Promise on the JavaScript thread. `images()` reads one
//! small file and is synchronous.

use std::path::{Path, PathBuf};

use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;
use rcontainer_image::{ImageRecord, Name, PruneReport as CorePruneReport, Store};

use crate::error::{BResult, Failure};
use crate::options::{self, PruneOptions, PullOptions, StoreOptions, PRUNE_FIELDS, PULL_FIELDS, STORE_FIELDS};

/// An image in the store.
#[napi(object, object_from_js = false)]
pub struct Image {
    /// Its full name, the store's key: 'docker.io/library/busybox:latest',
    /// '127.0.0.1:5000/tools/busybox:1.36'.
    pub name: String,
    /// The repository as Docker shows it: 'busybox', '127.0.0.1:5000/tools/busybox'.
    pub repository: String,
    /// Its tag ('latest'); null for a name by digest.
    pub tag: Either<String, Null>,
    /// The image id: its config's digest ('sha256:...'). Its first 12 hex digits are the id
    /// `rcontainer images` shows; either names the image in `image` and `removeImage`.
    pub id: String,
    /// The manifest's digest ('sha256:...'): what a registry serves it by (`repository@digest`).
    pub digest: String,
    /// The size of its layers as stored (compressed), bytes.
    pub size: f64,
    /// How many layers it has.
    pub layers: u32,
    /// When it was built (its config's `created`, RFC 3339), or null.
    pub created: Either<String, Null>,
}

/// What `prune()` (and the prune of `removeImage()`) removed.
#[napi(object, object_from_js = false)]
pub struct PruneReport {
    /// Blobs (manifests, configs, compressed layers) no image names.
    pub blobs: u32,
    /// Unpacked layers no image and no container uses.
    pub layers: u32,
    /// Copy-on-write roots of containers that no longer exist.
    pub containers: u32,
    /// Bytes freed.
    pub bytes: f64,
}

/// What `removeImage()` resolves to.
#[napi(object, object_from_js = false)]
pub struct RemovedImage {
    /// The full name removed ('docker.io/library/busybox:latest').
    pub name: String,
    /// What went with it: the content no other image and no container uses.
    pub pruned: PruneReport,
}

fn image_info(name: &Name, r: &ImageRecord) -> Image {
    Image {
        name: name.to_string(),
        repository: name.repository(),
        tag: name.tag().map(|t| Either::A(t.to_string())).unwrap_or(Either::B(Null)),
        id: r.config.clone(),
        digest: r.manifest.clone(),
        size: r.size() as f64,
        layers: u32::try_from(r.layers.len()).unwrap_or(u32::MAX),
        created: r.created.clone().map(Either::A).unwrap_or(Either::B(Null)),
    }
}

fn prune_report(r: &CorePruneReport) -> PruneReport {
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    PruneReport { blobs: n(r.blobs), layers: n(r.layers), containers: n(r.containers), bytes: r.bytes as f64 }
}

/// Opens (creating it when missing) the store at `path`.
pub fn open_store(op: &str, path: &Path) -> BResult<Store> {
    Store::open(path).map_err(|e| Failure::image(&format!("{op}: open the image store {}", path.display()), &e))
}

/// Runs `f` on a blocking thread of the runtime (its result comes back to the caller's task).
pub async fn blocking<T: Send + 'static>(op: String, f: impl FnOnce() -> BResult<T> + Send + 'static) -> BResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(Failure::internal(&op, format!("the worker thread failed: {e}"))),
    }
}

/// Runs `f` off the JavaScript thread and settles the returned Promise with its result.
fn promise<'e, T>(env: &'e Env, op: String, f: impl FnOnce() -> BResult<T> + Send + 'static) -> Result<PromiseRaw<'e, T>>
where
    T: ToNapiValue + TypeName + Send + 'static,
{
    env.spawn_future_with_callback(async move { Ok(blocking(op, f).await) }, |env, r: BResult<T>| r.map_err(|f| f.into_napi(env)))
}

/// Pulls an image from its registry into the store and resolves with it (off the JavaScript
/// thread), as `rcontainer pull` does: a manifest list resolves to this machine's platform;
/// every blob is checked against its digest; the layers are unpacked once, shared by the
/// images that have them. Rejects with 'EINVAL' for a reference that does not parse, 'ENOENT'
/// when the registry has no such image, 'EACCES' when it refuses the credentials, the
/// connection's errno ('ECONNREFUSED', ...) when it cannot be reached, 'EIO' for content that
/// does not match its digest.
#[napi(ts_args_type = "reference: string, options?: PullOptions", ts_return_type = "Promise<Image>")]
pub fn pull<'e>(env: &'e Env, reference: Unknown, options: Option<Unknown>) -> Result<PromiseRaw<'e, Image>> {
    let parse = || -> BResult<(String, String, PathBuf, rcontainer_image::PullOptions)> {
        let reference = options::string("pull", "reference", reference)?;
        let op = format!("pull {reference:?}");
        let o: PullOptions = match options::object(&op, options)? {
            None => PullOptions::default(),
            Some(obj) => options::read(&op, &obj, &[PULL_FIELDS])?,
        };
        let registry = options::registry(&op, o.plain_http, o.credentials)?;
        Ok((op, reference, options::store_path(o.store), registry))
    };
    let (op, reference, store, registry) = parse().map_err(|f| f.into_napi(env))?;
    let what = op.clone();
    promise(env, op, move || {
        let store = open_store(&what, &store)?;
        let (name, record) = rcontainer_image::pull(&store, &reference, &registry, &mut |_| {}).map_err(|e| Failure::image(&what, &e))?;
        Ok(image_info(&name, &record))
    })
}

/// Imports the images of an OCI image layout (a directory or its tar) or a `docker save`
/// archive into the store, as `rcontainer import` does, and resolves with them (off the
/// JavaScript thread). `name` names the image of an archive that holds one; otherwise the
/// archive's names are kept (a layout's bare tag gets the file's or directory's name as
/// repository). Rejects with 'ENOENT' for a missing path, 'EINVAL' for what is not an image
/// archive (or a `name` for several images).
#[napi(ts_args_type = "path: string, name?: string | null, options?: StoreOptions", ts_return_type = "Promise<Image[]>")]
pub fn import_image<'e>(env: &'e Env, path: Unknown, name: Option<Unknown>, options: Option<Unknown>) -> Result<PromiseRaw<'e, Vec<Image>>> {
    let parse = || -> BResult<(String, PathBuf, Option<String>, PathBuf)> {
        let path = options::string("importImage", "path", path)?;
        let op = format!("importImage {path:?}");
        // importImage(path, options) as well as importImage(path, name, options).
        let absent = |u: &Option<Unknown>| u.as_ref().is_none_or(|u| matches!(u.get_type(), Ok(ValueType::Undefined) | Ok(ValueType::Null)));
        let (name, options) = match name {
            n if absent(&n) => (None, options),
            Some(n) if n.get_type().ok() == Some(ValueType::Object) && absent(&options) => (None, Some(n)),
            Some(n) => (Some(options::string(&op, "name", n)?), options),
            None => (None, options),
        };
        let o: StoreOptions = match options::object(&op, options)? {
            None => StoreOptions::default(),
            Some(obj) => options::read(&op, &obj, &[STORE_FIELDS])?,
        };
        Ok((op, PathBuf::from(path), name, options::store_path(o.store)))
    };
    let (op, path, name, store) = parse().map_err(|f| f.into_napi(env))?;
    let what = op.clone();
    promise(env, op, move || {
        let store = open_store(&what, &store)?;
        let found = rcontainer_image::import::import(&store, &path, name.as_deref()).map_err(|e| Failure::image(&what, &e))?;
        Ok(found.iter().map(|(n, r)| image_info(n, r)).collect::<Vec<_>>())
    })
}

/// The images in the store, by name (synchronous: it reads the store's index).
#[napi(ts_args_type = "options?: StoreOptions")]
pub fn images(env: Env, options: Option<Unknown>) -> Result<Vec<Image>> {
    let list = || -> BResult<Vec<Image>> {
        let op = "images";
        let o: StoreOptions = match options::object(op, options)? {
            None => StoreOptions::default(),
            Some(obj) => options::read(op, &obj, &[STORE_FIELDS])?,
        };
        let store = open_store(op, &options::store_path(o.store))?;
        Ok(store.images().map_err(|e| Failure::image(op, &e))?.iter().map(|(n, r)| image_info(n, r)).collect())
    };
    list().map_err(|f| f.into_napi(&env))
}

/// Removes an image's name from the store, then what only it used (layers and blobs no other
/// image and no container uses: a running container keeps its layers), as `rcontainer rmi`
/// does; off the JavaScript thread. Rejects with 'ENOENT' when the store has no such image.
#[napi(ts_args_type = "reference: string, options?: PruneOptions", ts_return_type = "Promise<RemovedImage>")]
pub fn remove_image<'e>(env: &'e Env, reference: Unknown, options: Option<Unknown>) -> Result<PromiseRaw<'e, RemovedImage>> {
    let parse = || -> BResult<(String, String, PathBuf, PathBuf)> {
        let reference = options::string("removeImage", "reference", reference)?;
        let op = format!("removeImage {reference:?}");
        let o: PruneOptions = match options::object(&op, options)? {
            None => PruneOptions::default(),
            Some(obj) => options::read(&op, &obj, &[PRUNE_FIELDS])?,
        };
        let root = options::state_root(&op, o.root)?;
        Ok((op, reference, options::store_path(o.store), root))
    };
    let (op, reference, store, root) = parse().map_err(|f| f.into_napi(env))?;
    let what = op.clone();
    promise(env, op, move || {
        let store = open_store(&what, &store)?;
        let name = store.untag(&reference).map_err(|e| Failure::image(&what, &e))?;
        let report = store.prune(std::slice::from_ref(&root)).map_err(|e| Failure::image(&format!("{what}: prune"), &e))?;
        Ok(RemovedImage { name: name.to_string(), pruned: prune_report(&report) })
    })
}

/// Removes from the store what no image and no container uses: blobs, unpacked layers, the
/// roots of containers that no longer exist, what writers that died left; as `rcontainer
/// prune` does, off the JavaScript thread.
#[napi(ts_args_type = "options?: PruneOptions", ts_return_type = "Promise<PruneReport>")]
pub fn prune<'e>(env: &'e Env, options: Option<Unknown>) -> Result<PromiseRaw<'e, PruneReport>> {
    let parse = || -> BResult<(PathBuf, PathBuf)> {
        let op = "prune";
        let o: PruneOptions = match options::object(op, options)? {
            None => PruneOptions::default(),
            Some(obj) => options::read(op, &obj, &[PRUNE_FIELDS])?,
        };
        Ok((options::store_path(o.store), options::state_root(op, o.root)?))
    };
    let (store, root) = parse().map_err(|f| f.into_napi(env))?;
    promise(env, "prune".into(), move || {
        let store = open_store("prune", &store)?;
        let report = store.prune(std::slice::from_ref(&root)).map_err(|e| Failure::image("prune", &e))?;
        Ok(prune_report(&report))
    })
}
