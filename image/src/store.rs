//! The local image store (default `/var/lib/rcontainer`):
//!
//! ```text
//! blobs/sha256/<hex>       manifests, configs and layer blobs, each verified against its digest
//! layers/<hex>/            a layer unpacked (overlayfs format), keyed by its diff_id
//! images.json              name -> image (manifest, config, layers), rewritten atomically
//! containers/<id>/         a container's copy-on-write root: rootfs (mount point), upper, work
//! tmp/                     what is being written; renamed into place only once complete
//! gc.lock, images.lock     flock(2): pulls, imports and runs hold gc.lock shared, prune
//!                          exclusive; images.json is read and written under images.lock
//! ```
//!
//! Nothing half-written is ever visible: a blob is written to tmp/, hashed on the way, and
//! renamed only when its digest is the expected one; a layer is unpacked into tmp/ and renamed.
//! Layers are keyed by their diff_id (the digest of the uncompressed tar), checked as they are
//! unpacked, so one image cannot plant content under another image's layer.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::digest::{copy_hashing, Digest};
use crate::error::{Error, Result};
use crate::reference::Name;

/// Where images live unless told otherwise.
pub const DEFAULT_STORE: &str = "/var/lib/rcontainer";

/// The store every interface opens when given none: `$RCONTAINER_STORE` when set and not
/// empty, else [`DEFAULT_STORE`]. The command, the C ABI and the bindings all use this.
pub fn default_root() -> PathBuf {
    match std::env::var_os("RCONTAINER_STORE").filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(DEFAULT_STORE),
    }
}

/// One layer of an image: its blob and how it is compressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// The digest of its uncompressed tar, as the image's config names it (rootfs.diff_ids):
    /// the key of the unpacked layer, checked when it is unpacked.
    pub diff_id: String,
}

/// What the store records of an image config: its layers' diff_ids (rootfs.diff_ids, one per
/// layer of the manifest) and its `created`.
pub(crate) fn config_facts(what: &str, config: &[u8], layers: usize) -> Result<(Vec<String>, Option<String>)> {
    let v: serde_json::Value = serde_json::from_slice(config).map_err(|e| Error::bad(what, e))?;
    let ids: Vec<String> =
        v.pointer("/rootfs/diff_ids").and_then(|d| d.as_array()).map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default();
    if ids.len() != layers {
        return Err(Error::bad(what, format!("rootfs.diff_ids names {} layers, the manifest {layers}", ids.len())));
    }
    for id in &ids {
        Digest::parse(what, id)?;
    }
    Ok((ids, v.get("created").and_then(|c| c.as_str()).map(str::to_string)))
}

/// An image in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The manifest's digest (as the registry or the archive gave it).
    pub manifest: String,
    /// The config blob's digest: the image id.
    pub config: String,
    /// Bottom layer first.
    pub layers: Vec<LayerRecord>,
    /// The config's `created`, if any.
    #[serde(default)]
    pub created: Option<String>,
}

impl ImageRecord {
    /// Docker's short image id (the config digest's first 12 hex digits).
    pub fn id(&self) -> &str {
        self.config.strip_prefix("sha256:").map(|h| &h[..h.len().min(12)]).unwrap_or(&self.config)
    }
    /// The compressed size of the layers.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    images: BTreeMap<String, ImageRecord>,
}

/// What a container's directory records, so prune knows whose it is.
#[derive(Debug, Serialize, Deserialize)]
struct Owner {
    id: String,
    image: String,
    layers: Vec<String>,
    creator_pid: i32,
    creator_start: u64,
}

/// A container's copy-on-write root, prepared by [`Store::prepare_container`].
#[derive(Debug, Clone)]
pub struct ContainerRoot {
    /// The mount point: the spec's root.path.
    pub rootfs: PathBuf,
    pub overlay: rcontainer_core::RootOverlay,
}

/// What [`Store::prune`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PruneReport {
    pub blobs: usize,
    pub layers: usize,
    pub containers: usize,
    pub bytes: u64,
}

pub struct Store {
    root: PathBuf,
}

static TMP_N: AtomicU32 = AtomicU32::new(0);

fn mkdir(path: &Path, mode: u32) -> Result<()> {
    match fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("create directory", path)(e)),
    }
}

use rcontainer_core::state::process_start_time;

/// Whether process `pid` is still the one that started at `start` (not a recycled pid).
fn alive(pid: i32, start: u64) -> bool {
    process_start_time(pid) == Some(start)
}

/// Content that hashed to `actual` and had `n` bytes is blob `expected` (of `size` bytes, when
/// the descriptor gives one).
fn check_content(what: &str, expected: &Digest, size: Option<u64>, actual: &Digest, n: u64) -> Result<()> {
    if actual != expected {
        return Err(Error::DigestMismatch { what: what.to_string(), expected: expected.to_string(), actual: actual.to_string() });
    }
    match size {
        Some(size) if size != n => Err(Error::bad(what, format!("{n} bytes where its descriptor says {size}"))),
        _ => Ok(()),
    }
}

/// The size of a file tree (bytes of regular files), not following symlinks.
fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    fs::read_dir(path).map(|rd| rd.flatten().map(|e| tree_size(&e.path())).sum()).unwrap_or(0)
}

impl Store {
    /// Opens (creating it when missing) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = std::path::absolute(root.into()).map_err(Error::io("resolve the store path", "."))?;
        let text = root.to_str().ok_or_else(|| Error::bad("store path", format!("{} is not UTF-8", root.display())))?;
        // The paths become overlayfs mount options, split at ',' and ':'.
        if text.contains([',', ':', '\\', '\n']) {
            return Err(Error::bad("store path", format!("{text}: cannot contain ',', ':' or '\\' (overlayfs options)")));
        }
        fs::create_dir_all(&root).map_err(Error::io("create the store", &root))?;
        // Traversable (overlay lower dirs are read through it), not listable by others.
        let _ = fs::set_permissions(&root, fs::Permissions::from_mode(0o711));
        for d in ["blobs", "blobs/sha256", "layers", "containers", "tmp"] {
            mkdir(&root.join(d), if d == "tmp" { 0o700 } else { 0o711 })?;
        }
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self, name: &str, arg: FlockArg) -> Result<Flock<File>> {
        let path = self.root.join(name);
        let f = fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path).map_err(Error::io("open the lock", &path))?;
        Flock::lock(f, arg).map_err(|(_, e)| Error::io("lock", &path)(std::io::Error::from(e)))
    }

    /// Held (shared) while content is added or a container root is prepared, so prune
    /// (exclusive) never removes what is about to be referenced.
    pub(crate) fn gc_shared(&self) -> Result<Flock<File>> {
        self.lock("gc.lock", FlockArg::LockShared)
    }

    fn read_index(&self) -> Result<Index> {
        let path = self.root.join("images.json");
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::bad(format!("the store's {}", path.display()), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(Error::io("read", &path)(e)),
        }
    }

    fn write_index(&self, index: &Index) -> Result<()> {
        let path = self.root.join("images.json");
        let tmp = self.tmp_path("images.json");
        let bytes = serde_json::to_vec_pretty(index).map_err(|e| Error::bad("images.json", e))?;
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(Error::io("write", &tmp))?;
        f.write_all(&bytes).and_then(|_| f.sync_all()).map_err(Error::io("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(Error::io("rename into place", &path))
    }

    /// A fresh path in tmp/ (its name says which process writes it, so prune can tell a dead
    /// writer's leftovers).
    pub(crate) fn tmp_path(&self, what: &str) -> PathBuf {
        let start = process_start_time(std::process::id() as i32).unwrap_or(0);
        self.root.join("tmp").join(format!("{}-{}-{}-{what}", std::process::id(), start, TMP_N.fetch_add(1, Ordering::Relaxed)))
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Stores what `reader` yields as the blob `expected` (`what` names it in errors): written
    /// to tmp/, hashed on the way, renamed into place only when the digest (and `size`, when
    /// given) match. A blob already there is kept (it was verified when written).
    pub fn put_blob(&self, what: &str, expected: &Digest, size: Option<u64>, reader: impl std::io::Read) -> Result<PathBuf> {
        let path = self.blob_path(expected);
        if path.is_file() {
            return Ok(path);
        }
        let tmp = self.tmp_path(expected.hex());
        let f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(Error::io("write", &tmp))?;
        let result = (|| {
            let mut w = std::io::BufWriter::new(f);
            let (actual, n) = copy_hashing(reader, &mut w).map_err(Error::io(format!("write {what} to"), &tmp))?;
            check_content(what, expected, size, &actual, n)?;
            let f = w.into_inner().map_err(|e| Error::io("write", &tmp)(e.into_error()))?;
            f.sync_all().map_err(Error::io("write", &tmp))?;
            fs::rename(&tmp, &path).map_err(Error::io("rename into place", &path))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|_| path)
    }

    /// Moves a file written in tmp/ into place as blob `digest`, once its content hashes to it
    /// (and has `size` bytes, when given).
    pub(crate) fn adopt_blob(&self, tmp: &Path, digest: &Digest, size: Option<u64>, what: &str) -> Result<PathBuf> {
        let f = File::open(tmp).map_err(Error::io("read", tmp))?;
        let (actual, n) = copy_hashing(f, std::io::sink()).map_err(Error::io("read", tmp))?;
        check_content(what, digest, size, &actual, n)?;
        let path = self.blob_path(digest);
        fs::rename(tmp, &path).map_err(Error::io("rename into place", &path))?;
        Ok(path)
    }

    pub fn read_blob(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let f = File::open(&path).map_err(Error::io("read blob", &path))?;
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(f, limit + 1), &mut out).map_err(Error::io("read blob", &path))?;
        if out.len() as u64 > limit {
            return Err(Error::bad(format!("blob {digest}"), format!("larger than {limit} bytes")));
        }
        Ok(out)
    }

    /// Where the layer whose uncompressed digest is `diff_id` is unpacked.
    pub fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    /// The layer unpacked, once: layers are keyed by their diff_id, so images that share a
    /// layer share it even when their blobs are compressed differently (an archive's plain
    /// tar, a registry's gzip). A layer dir is made only from a blob whose uncompressed content
    /// hashes to that diff_id, so no image can plant content under another's layer.
    pub fn ensure_layer(&self, layer: &LayerRecord) -> Result<PathBuf> {
        let digest = Digest::parse("layer", &layer.digest)?;
        let diff_id = Digest::parse(&format!("layer {digest}: diff_id"), &layer.diff_id)?;
        let dest = self.layer_path(&diff_id);
        if dest.is_dir() {
            return Ok(dest);
        }
        let blob = self.blob_path(&digest);
        let f = File::open(&blob).map_err(Error::io("open layer blob", &blob))?;
        let tmp = self.tmp_path(&format!("layer-{}", diff_id.hex()));
        fs::DirBuilder::new().mode(0o755).create(&tmp).map_err(Error::io("create", &tmp))?;
        let opts = crate::unpack::UnpackOptions::default();
        let result = crate::unpack::unpack_layer(std::io::BufReader::with_capacity(256 * 1024, f), Some(&layer.media_type), &tmp, &opts)
            .map_err(|source| Error::Unpack { digest: digest.to_string(), source })
            .and_then(|stats| {
                if stats.diff_id != layer.diff_id {
                    return Err(Error::DigestMismatch {
                        what: format!("layer {digest} (its uncompressed content, against the config's diff_id)"),
                        expected: layer.diff_id.clone(),
                        actual: stats.diff_id,
                    });
                }
                Ok(())
            });
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        match fs::rename(&tmp, &dest) {
            Ok(()) => Ok(dest),
            // Another process unpacked it at the same time: theirs is as good as ours.
            Err(_) if dest.is_dir() => {
                let _ = fs::remove_dir_all(&tmp);
                Ok(dest)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                Err(Error::io("rename into place", &dest)(e))
            }
        }
    }

    /// Records `record` under `name` (replacing what the name pointed at).
    pub fn tag(&self, name: &Name, record: ImageRecord) -> Result<()> {
        let _l = self.lock("images.lock", FlockArg::LockExclusive)?;
        let mut index = self.read_index()?;
        index.images.insert(name.to_string(), record);
        self.write_index(&index)
    }

    /// The images, by name.
    pub fn images(&self) -> Result<Vec<(Name, ImageRecord)>> {
        let _l = self.lock("images.lock", FlockArg::LockShared)?;
        let index = self.read_index()?;
        Ok(index.images.into_iter().filter_map(|(n, r)| Name::from_stored(&n).map(|n| (n, r))).collect())
    }

    /// The image a user names: a reference (`busybox`, `busybox:1.36`, `host/repo@sha256:...`)
    /// or an image id (12 or more hex digits of the config digest).
    pub fn find(&self, text: &str) -> Result<Option<(Name, ImageRecord)>> {
        let images = self.images()?;
        if let Some(key) = Name::quick_key(text) {
            if let Some(found) = images.iter().find(|(n, _)| n.to_string() == key) {
                return Ok(Some(found.clone()));
            }
        }
        if let Ok(name) = Name::parse(text) {
            if let Some(found) = images.iter().find(|(n, _)| *n == name) {
                return Ok(Some(found.clone()));
            }
            if let Some(d) = name.digest() {
                if let Some(found) = images.iter().find(|(n, r)| r.manifest == d && n.repository() == name.repository()) {
                    return Ok(Some(found.clone()));
                }
            }
        }
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        if hex.len() >= 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut matches = images.iter().filter(|(_, r)| r.config.strip_prefix("sha256:").is_some_and(|c| c.starts_with(hex)));
            if let Some(first) = matches.next() {
                return Ok(Some(first.clone()));
            }
        }
        Ok(None)
    }

    /// Removes the name (the content stays until [`Store::prune`]).
    pub fn untag(&self, text: &str) -> Result<Name> {
        let (name, _) = self.find(text)?.ok_or_else(|| Error::ImageNotFound { reference: text.to_string(), store: self.root.clone() })?;
        let _l = self.lock("images.lock", FlockArg::LockExclusive)?;
        let mut index = self.read_index()?;
        index.images.remove(&name.to_string());
        self.write_index(&index)?;
        Ok(name)
    }

    /// A copy-on-write root for container `id` over `image`'s layers: `containers/<id>/` with
    /// the mount point, and (unless `read_only`) an upper and a work dir. Fails if the
    /// directory exists (an id in use). Removed by the runtime's `delete` (it holds the marker),
    /// or by [`Store::release_container`].
    pub fn prepare_container(&self, id: &str, name: &Name, image: &ImageRecord, read_only: bool) -> Result<ContainerRoot> {
        rcontainer_core::state::validate_id(id)?;
        let _gc = self.gc_shared()?;
        let mut lower = Vec::new();
        for l in image.layers.iter().rev() {
            lower.push(self.ensure_layer(l)?);
        }
        let dir = self.root.join("containers").join(id);
        fs::DirBuilder::new().mode(0o711).create(&dir).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Conflict(format!("container {id:?} already has a root in the store ({}): delete it first", dir.display()))
            } else {
                Error::io("create", &dir)(e)
            }
        })?;
        let result = (|| {
            let me = std::process::id() as i32;
            let owner = Owner {
                id: id.to_string(),
                image: name.to_string(),
                layers: image.layers.iter().map(|l| l.diff_id.clone()).collect(),
                creator_pid: me,
                creator_start: process_start_time(me).unwrap_or(0),
            };
            let text = serde_json::to_vec(&owner).map_err(|e| Error::bad("owner.json", e))?;
            fs::write(dir.join("owner.json"), text).map_err(Error::io("write", dir.join("owner.json")))?;
            fs::write(dir.join(rcontainer_core::rootfs::overlay::CONTAINER_DIR_MARKER), b"").map_err(Error::io("write", &dir))?;
            mkdir(&dir.join("rootfs"), 0o755)?;
            let (upper, work) = if read_only {
                if lower.len() < 2 {
                    // overlayfs needs two lower dirs without an upper one.
                    mkdir(&dir.join("empty"), 0o755)?;
                    lower.push(dir.join("empty"));
                }
                (None, None)
            } else {
                mkdir(&dir.join("upper"), 0o755)?;
                mkdir(&dir.join("work"), 0o700)?;
                (Some(dir.join("upper")), Some(dir.join("work")))
            };
            Ok(ContainerRoot {
                rootfs: dir.join("rootfs"),
                overlay: rcontainer_core::RootOverlay { lower: lower.clone(), upper, work, container_dir: Some(dir.clone()) },
            })
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&dir);
        }
        result
    }

    /// Removes container `id`'s root (after a failed create; `delete` does it otherwise).
    pub fn release_container(&self, id: &str) -> Result<()> {
        rcontainer_core::state::validate_id(id)?;
        let dir = self.root.join("containers").join(id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", &dir)(e)),
        }
    }

    /// Removes what no image and no container uses: blobs, unpacked layers, the roots of
    /// containers that no longer exist in `state_roots` (whose creator is gone), and the
    /// leftovers of writers that died.
    pub fn prune(&self, state_roots: &[PathBuf]) -> Result<PruneReport> {
        let _gc = self.lock("gc.lock", FlockArg::LockExclusive)?;
        let mut report = PruneReport::default();
        let mut keep_blobs = BTreeSet::new();
        let mut keep_layers = BTreeSet::new();
        for (_, r) in self.images()? {
            keep_blobs.insert(r.manifest.clone());
            keep_blobs.insert(r.config.clone());
            for l in &r.layers {
                keep_blobs.insert(l.digest.clone());
                keep_layers.insert(l.diff_id.clone());
            }
        }
        let containers = self.root.join("containers");
        for e in fs::read_dir(&containers).map_err(Error::io("read", &containers))?.flatten() {
            let dir = e.path();
            let owner: Option<Owner> = fs::read(dir.join("owner.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
            let id = e.file_name().to_string_lossy().into_owned();
            // Its creator recorded its state dir (core's overlay::CONTAINER_DIR_STATE), in any
            // state root; containers made before that are looked for in the roots given.
            let recorded = fs::read(dir.join(rcontainer_core::rootfs::overlay::CONTAINER_DIR_STATE))
                .ok()
                .is_some_and(|p| PathBuf::from(std::ffi::OsString::from_vec(p)).join("state.json").exists());
            let exists = recorded || state_roots.iter().any(|r| r.join(&id).join("state.json").exists());
            let preparing = owner.as_ref().is_some_and(|o| alive(o.creator_pid, o.creator_start));
            if exists || preparing {
                // Its layers (by diff_id) stay while it exists.
                for l in owner.iter().flat_map(|o| o.layers.iter()) {
                    keep_layers.insert(l.clone());
                }
                continue;
            }
            report.bytes += tree_size(&dir);
            if fs::remove_dir_all(&dir).is_ok() {
                report.containers += 1;
            }
        }
        let blobs = self.root.join("blobs/sha256");
        for e in fs::read_dir(&blobs).map_err(Error::io("read", &blobs))?.flatten() {
            let digest = format!("sha256:{}", e.file_name().to_string_lossy());
            if !keep_blobs.contains(&digest) {
                report.bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                if fs::remove_file(e.path()).is_ok() {
                    report.blobs += 1;
                }
            }
        }
        let layers = self.root.join("layers");
        for e in fs::read_dir(&layers).map_err(Error::io("read", &layers))?.flatten() {
            let digest = format!("sha256:{}", e.file_name().to_string_lossy());
            if !keep_layers.contains(&digest) {
                report.bytes += tree_size(&e.path());
                if fs::remove_dir_all(e.path()).is_ok() {
                    report.layers += 1;
                }
            }
        }
        // tmp/: `<pid>-<start>-...` of writers that are gone.
        let tmp = self.root.join("tmp");
        for e in fs::read_dir(&tmp).map_err(Error::io("read", &tmp))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let mut parts = name.splitn(3, '-');
            let (pid, start) = (parts.next().and_then(|p| p.parse().ok()), parts.next().and_then(|s| s.parse().ok()));
            if let (Some(pid), Some(start)) = (pid, start) {
                if alive(pid, start) {
                    continue;
                }
            }
            let p = e.path();
            let _ = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
        }
        Ok(report)
    }

    /// Bytes used by the store (blobs and unpacked layers).
    pub fn disk_usage(&self) -> u64 {
        tree_size(&self.root.join("blobs")) + tree_size(&self.root.join("layers"))
    }
}
