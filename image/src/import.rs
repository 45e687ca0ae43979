//! Importing images without a registry: an OCI image layout directory (`skopeo copy ...
//! oci:DIR`), the same as a tar (`oci-archive`), or a `docker save` archive. Every blob is
//! copied into the store and verified against its digest (a docker-save archive names none:
//! its files get the digests of their content).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use oci_client::manifest::{self as mt, OciImageIndex, OciImageManifest};
use serde::Deserialize;

use crate::digest::{copy_hashing, Digest};
use crate::error::{Error, Result};
use crate::reference::Name;
use crate::store::{ImageRecord, LayerRecord, Store};

const JSON_MAX: u64 = 16 << 20;
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Where the files of what is imported are read from.
enum Source {
    Dir(PathBuf),
    /// A tar file: each regular member's (offset, size).
    Tar {
        path: PathBuf,
        members: HashMap<String, (u64, u64)>,
    },
}

fn clean(name: &str) -> Option<String> {
    let mut out = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => out.push(p.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out.join("/"))
}

impl Source {
    fn open(path: &Path) -> Result<Source> {
        let meta = std::fs::metadata(path).map_err(Error::io("import", path))?;
        if meta.is_dir() {
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let f = File::open(path).map_err(Error::io("import", path))?;
        let mut magic = [0u8; 4];
        let n = (&f).read(&mut magic).map_err(Error::io("read", path))?;
        if n >= 2 && magic[..2] == [0x1f, 0x8b] || n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            return Err(Error::bad(format!("import {}", path.display()), "a compressed archive: decompress it first (gunzip / unzstd)"));
        }
        (&f).seek(SeekFrom::Start(0)).map_err(Error::io("read", path))?;
        let mut members = HashMap::new();
        let mut archive = tar::Archive::new(f);
        let entries = archive.entries().map_err(Error::io("read the archive", path))?;
        for e in entries {
            let e = e.map_err(Error::io("read the archive", path))?;
            if e.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let name = e.path().ok().and_then(|p| p.to_str().and_then(clean));
            if let Some(name) = name {
                members.insert(name, (e.raw_file_position(), e.size()));
            }
        }
        Ok(Source::Tar { path: path.to_path_buf(), members })
    }

    fn what(&self) -> String {
        match self {
            Source::Dir(p) | Source::Tar { path: p, .. } => p.display().to_string(),
        }
    }

    fn exists(&self, name: &str) -> bool {
        match self {
            Source::Dir(d) => d.join(name).is_file(),
            Source::Tar { members, .. } => members.contains_key(name),
        }
    }

    /// A member (a relative path with no `..`), and its size.
    fn read(&self, name: &str) -> Result<(Box<dyn Read>, u64)> {
        let missing = || Error::bad(format!("import {}", self.what()), format!("{name} is missing or not a plain relative path"));
        let name = clean(name).ok_or_else(missing)?;
        match self {
            Source::Dir(d) => {
                let p = d.join(&name);
                let f = File::open(&p).map_err(Error::io("read", &p))?;
                let size = f.metadata().map_err(Error::io("read", &p))?.len();
                Ok((Box::new(f), size))
            }
            Source::Tar { path, members } => {
                let (offset, size) = *members.get(&name).ok_or_else(missing)?;
                let mut f = File::open(path).map_err(Error::io("read", path))?;
                f.seek(SeekFrom::Start(offset)).map_err(Error::io("read", path))?;
                Ok((Box::new(f.take(size)), size))
            }
        }
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        let (r, size) = self.read(name)?;
        if size > JSON_MAX {
            return Err(Error::bad(format!("{name} in {}", self.what()), format!("larger than {JSON_MAX} bytes")));
        }
        let mut bytes = Vec::new();
        r.take(JSON_MAX).read_to_end(&mut bytes).map_err(Error::io("read", self.what()))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::bad(format!("{name} in {}", self.what()), e))
    }
}

/// Imports the images of `path` (an OCI layout directory or tar, or a docker-save tar) and
/// names them: `name` when given (only for an archive of one image), else the names the
/// archive gives (a layout's bare tag gets the directory's or file's name as repository).
pub fn import(store: &Store, path: &Path, name: Option<&str>) -> Result<Vec<(Name, ImageRecord)>> {
    let src = Source::open(path)?;
    let _gc = store.gc_shared()?;
    let found = if src.exists("manifest.json") && !src.exists("index.json") {
        docker_save(store, &src)?
    } else if src.exists("index.json") {
        oci_layout(store, &src)?
    } else {
        return Err(Error::bad(format!("import {}", src.what()), "neither an OCI image layout (index.json) nor a docker save archive (manifest.json)"));
    };
    if found.is_empty() {
        return Err(Error::bad(format!("import {}", src.what()), "holds no image"));
    }
    let stem = path.file_name().and_then(|f| f.to_str()).map(|f| f.trim_end_matches(".tar").to_lowercase()).unwrap_or_else(|| "imported".into());
    let given = name.map(Name::parse).transpose()?;
    if given.is_some() && found.len() > 1 {
        return Err(Error::bad(format!("import {}", src.what()), format!("holds {} images: a NAME can only name one", found.len())));
    }
    let mut out = Vec::new();
    for (names, record) in found {
        for l in &record.layers {
            store.ensure_layer(l)?;
        }
        let names: Vec<Name> = match &given {
            Some(n) => vec![n.clone()],
            None if names.is_empty() => vec![Name::parse(&stem)?],
            None => {
                names.iter().map(|n| if n.contains(['/', ':', '@']) { Name::parse(n) } else { Name::parse(&format!("{stem}:{n}")) }).collect::<Result<_>>()?
            }
        };
        for n in names {
            store.tag(&n, record.clone())?;
            out.push((n, record.clone()));
        }
    }
    Ok(out)
}

/// Copies blob `digest` from the layout into the store.
fn copy_blob(store: &Store, src: &Source, what: &str, digest: &Digest, size: Option<u64>) -> Result<()> {
    if store.has_blob(digest) {
        return Ok(());
    }
    let (r, _) = src.read(&format!("blobs/sha256/{}", digest.hex()))?;
    store.put_blob(what, digest, size, r)?;
    Ok(())
}

fn layout_image(store: &Store, src: &Source, manifest_digest: &Digest) -> Result<ImageRecord> {
    let what = format!("manifest {manifest_digest} in {}", src.what());
    copy_blob(store, src, &what, manifest_digest, None)?;
    let bytes = store.read_blob(manifest_digest, JSON_MAX)?;
    let manifest: OciImageManifest = serde_json::from_slice(&bytes).map_err(|e| Error::bad(&what, e))?;
    let config = Digest::parse(&what, &manifest.config.digest)?;
    copy_blob(store, src, &format!("config of {what}"), &config, u64::try_from(manifest.config.size).ok())?;
    let (diff_ids, created) = crate::store::config_facts(&format!("config of {what}"), &store.read_blob(&config, JSON_MAX)?, manifest.layers.len())?;
    let mut layers = Vec::new();
    for (l, diff_id) in manifest.layers.iter().zip(diff_ids) {
        let d = Digest::parse(&what, &l.digest)?;
        let size = u64::try_from(l.size).map_err(|_| Error::bad(&what, format!("layer size {}", l.size)))?;
        copy_blob(store, src, &format!("layer {d} of {what}"), &d, Some(size))?;
        layers.push(LayerRecord { digest: d.to_string(), media_type: l.media_type.clone(), size, diff_id });
    }
    Ok(ImageRecord { manifest: manifest_digest.to_string(), config: config.to_string(), layers, created })
}

/// The images of an OCI layout: (the names its index gives, the image). A nested index is
/// resolved to this platform.
fn oci_layout(store: &Store, src: &Source) -> Result<Vec<(Vec<String>, ImageRecord)>> {
    let index: OciImageIndex = src.read_json("index.json")?;
    let mut out: Vec<(Vec<String>, ImageRecord)> = Vec::new();
    for m in &index.manifests {
        let what = format!("index.json of {}", src.what());
        let names: Vec<String> = m.annotations.as_ref().and_then(|a| a.get(REF_NAME)).cloned().into_iter().collect();
        let mut digest = Digest::parse(&what, &m.digest)?;
        if m.media_type == mt::OCI_IMAGE_INDEX_MEDIA_TYPE || m.media_type == mt::IMAGE_MANIFEST_LIST_MEDIA_TYPE {
            copy_blob(store, src, &what, &digest, None)?;
            let nested: OciImageIndex = serde_json::from_slice(&store.read_blob(&digest, JSON_MAX)?).map_err(|e| Error::bad(&what, e))?;
            digest = Digest::parse(&what, &crate::pull::this_platform(&what, &nested)?.digest)?;
        } else if m.platform.as_ref().is_some_and(|p| !crate::pull::is_this_platform(p)) {
            continue;
        }
        let record = layout_image(store, src, &digest)?;
        match out.iter_mut().find(|(_, r)| *r == record) {
            Some((n, _)) => n.extend(names),
            None => out.push((names, record)),
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Media type of a layer file by its first bytes (a docker-save layer is usually a plain tar).
fn layer_media_type(src: &Source, name: &str) -> Result<&'static str> {
    let (mut r, _) = src.read(name)?;
    let mut magic = [0u8; 4];
    let n = r.read(&mut magic).map_err(Error::io("read", src.what()))?;
    Ok(if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        mt::IMAGE_LAYER_GZIP_MEDIA_TYPE
    } else if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    } else {
        mt::IMAGE_LAYER_MEDIA_TYPE
    })
}

/// Stores a member under the digest of its content.
fn store_member(store: &Store, src: &Source, name: &str) -> Result<(Digest, u64)> {
    let (r, _) = src.read(name)?;
    let tmp = store.tmp_path("import");
    let f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(Error::io("write", &tmp))?;
    let result = copy_hashing(r, std::io::BufWriter::new(f)).map_err(Error::io("write", &tmp));
    let (digest, size) = match result {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if store.has_blob(&digest) {
        let _ = std::fs::remove_file(&tmp);
    } else {
        store.adopt_blob(&tmp, &digest, Some(size), name)?;
    }
    Ok((digest, size))
}

fn docker_save(store: &Store, src: &Source) -> Result<Vec<(Vec<String>, ImageRecord)>> {
    let entries: Vec<SaveEntry> = src.read_json("manifest.json")?;
    let mut out = Vec::new();
    for e in entries {
        let (config, config_size) = store_member(store, src, &e.config)?;
        let (diff_ids, created) =
            crate::store::config_facts(&format!("config {} in {}", e.config, src.what()), &store.read_blob(&config, JSON_MAX)?, e.layers.len())?;
        let mut layers = Vec::new();
        let mut descriptors = Vec::new();
        for (l, diff_id) in e.layers.iter().zip(diff_ids) {
            let media_type = layer_media_type(src, l)?;
            let (digest, size) = store_member(store, src, l)?;
            descriptors.push(serde_json::json!({"mediaType": media_type, "digest": digest.as_str(), "size": size}));
            layers.push(LayerRecord { digest: digest.to_string(), media_type: media_type.to_string(), size, diff_id });
        }
        // The archive has no manifest of the image's own: one is made, so the store is uniform.
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": mt::OCI_IMAGE_MEDIA_TYPE,
            "config": {"mediaType": mt::IMAGE_CONFIG_MEDIA_TYPE, "digest": config.as_str(), "size": config_size},
            "layers": descriptors,
        });
        let bytes = serde_json::to_vec(&manifest).map_err(|e| Error::bad("manifest", e))?;
        let manifest_digest = Digest::of(&bytes);
        store.put_blob("manifest", &manifest_digest, None, &bytes[..])?;
        out.push((e.repo_tags.unwrap_or_default(), ImageRecord { manifest: manifest_digest.to_string(), config: config.to_string(), layers, created }));
    }
    Ok(out)
}
