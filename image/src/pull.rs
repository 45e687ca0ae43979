//! Pulling an image from an OCI distribution registry (oci-client): the manifest (a manifest
//! list resolved to this platform), the config and the layers, each verified against its digest
//! and stored; then the layers unpacked once.

use std::pin::Pin;
use std::task::{Context, Poll};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::{self as mt, OciDescriptor, OciImageIndex, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::Client;
use tokio::io::AsyncWrite;

use crate::digest::Digest;
use crate::error::{Error, RegistryFailure, Result};
use crate::reference::Name;
use crate::store::{ImageRecord, LayerRecord, Store};

/// How to reach the registry.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Plain http instead of https (a local registry you trust, e.g. on 127.0.0.1).
    pub plain_http: bool,
    /// (user, password) for basic auth, or for the token service that a registry's
    /// `WWW-Authenticate: Bearer` points to; None: anonymous (also with token services).
    pub credentials: Option<(String, String)>,
}

/// A pull's progress, for a display: one layer's bytes so far of its total.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The image's manifest is known: its layers (short digest, size), bottom first.
    Layers(Vec<(String, u64)>),
    /// Bytes of a layer downloaded (index into the list above).
    Layer { index: usize, done: u64, total: u64 },
    /// The layer was already in the store.
    Cached { index: usize },
    /// Unpacking the layers.
    Unpacking,
}

/// Registry manifests can be large lists; configs too; both are bounded.
const MANIFEST_MAX: usize = 4 << 20;

fn registry_error(name: &Name) -> impl Fn(oci_client::errors::OciDistributionError) -> Error + '_ {
    move |e| Error::Registry { reference: name.to_string(), reason: e.to_string(), failure: failure_of(&e) }
}

/// What kind of failure a registry client's error is: the registry's answer (its status, the
/// distribution spec's error codes), or the errno of a connection that failed.
fn failure_of(e: &oci_client::errors::OciDistributionError) -> RegistryFailure {
    use oci_client::errors::{OciDistributionError as E, OciErrorCode as C};
    match e {
        E::ImageManifestNotFoundError(_) | E::ServerError { code: 404, .. } => RegistryFailure::NotFound,
        E::UnauthorizedError { .. } | E::AuthenticationFailure(_) | E::ServerError { code: 401 | 403, .. } => RegistryFailure::Denied,
        E::RegistryError { envelope, .. } => {
            let codes: Vec<&C> = envelope.errors.iter().map(|x| &x.code).collect();
            if codes.iter().any(|c| matches!(c, C::ManifestUnknown | C::NameUnknown | C::NotFound | C::BlobUnknown | C::ManifestBlobUnknown)) {
                RegistryFailure::NotFound
            } else if codes.iter().any(|c| matches!(c, C::Unauthorized | C::Denied)) {
                RegistryFailure::Denied
            } else {
                RegistryFailure::Other
            }
        }
        E::RequestError(r) => {
            // The connection's errno, if an I/O error is somewhere in the chain (ECONNREFUSED...).
            let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(r);
            while let Some(s) = source {
                if let Some(errno) = s.downcast_ref::<std::io::Error>().and_then(std::io::Error::raw_os_error) {
                    return RegistryFailure::Unreachable(Some(errno));
                }
                source = s.source();
            }
            if r.status().is_some() {
                RegistryFailure::Other
            } else if r.is_timeout() {
                RegistryFailure::Unreachable(Some(libc::ETIMEDOUT))
            } else {
                RegistryFailure::Unreachable(None)
            }
        }
        _ => RegistryFailure::Other,
    }
}

/// Whether an index entry's platform is this machine's.
pub(crate) fn is_this_platform(p: &oci_client::manifest::Platform) -> bool {
    let (os, arch) = platform_os_arch();
    p.os.to_string() == os && p.architecture.to_string() == arch
}

/// This machine's image in an index (a manifest list); `what` names the index.
pub(crate) fn this_platform<'a>(what: &str, index: &'a OciImageIndex) -> Result<&'a oci_client::manifest::ImageIndexEntry> {
    index.manifests.iter().find(|m| m.platform.as_ref().is_some_and(is_this_platform)).ok_or_else(|| {
        let (os, arch) = platform_os_arch();
        Error::bad(what, format!("no image for {os}/{arch}"))
    })
}

fn platform_os_arch() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        other => other,
    };
    ("linux", arch)
}

/// Pulls `reference` into `store` and names it there. `progress` sees each step.
pub fn pull(store: &Store, reference: &str, opts: &PullOptions, progress: &mut dyn FnMut(Progress)) -> Result<(Name, ImageRecord)> {
    let name = Name::parse(reference)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::Registry {
        reference: name.to_string(),
        reason: format!("start the I/O runtime: {e}"),
        failure: RegistryFailure::Other,
    })?;
    let record = rt.block_on(pull_async(store, &name, opts, progress))?;
    store.tag(&name, record.clone())?;
    Ok((name, record))
}

async fn pull_async(store: &Store, name: &Name, opts: &PullOptions, progress: &mut dyn FnMut(Progress)) -> Result<ImageRecord> {
    let config = ClientConfig { protocol: if opts.plain_http { ClientProtocol::Http } else { ClientProtocol::Https }, ..Default::default() };
    let client = Client::new(config);
    let auth = match &opts.credentials {
        Some((u, p)) => RegistryAuth::Basic(u.clone(), p.clone()),
        None => RegistryAuth::Anonymous,
    };
    let reference = name.reference();
    let err = registry_error(name);
    let _gc = store.gc_shared()?;

    let accept = [mt::OCI_IMAGE_MEDIA_TYPE, mt::IMAGE_MANIFEST_MEDIA_TYPE, mt::OCI_IMAGE_INDEX_MEDIA_TYPE, mt::IMAGE_MANIFEST_LIST_MEDIA_TYPE];
    // oci-client checks the manifest's bytes against the digest the reference or the registry names.
    let (mut bytes, mut digest) = client.pull_manifest_raw(reference, &auth, &accept).await.map_err(&err)?;
    if bytes.len() > MANIFEST_MAX {
        return Err(Error::bad(format!("manifest of {name}"), format!("larger than {MANIFEST_MAX} bytes")));
    }
    if is_index(&bytes) {
        let what = format!("manifest list of {name}");
        let index: OciImageIndex = serde_json::from_slice(&bytes).map_err(|e| Error::bad(&what, e))?;
        let entry = this_platform(&what, &index)?;
        let by_digest = reference.clone_with_digest(entry.digest.clone());
        (bytes, digest) = client.pull_manifest_raw(&by_digest, &auth, &accept[..2]).await.map_err(&err)?;
        if bytes.len() > MANIFEST_MAX {
            return Err(Error::bad(format!("manifest of {name}"), format!("larger than {MANIFEST_MAX} bytes")));
        }
    }
    let manifest_digest = Digest::parse(&format!("manifest of {name}"), &digest)?;
    store.put_blob(&format!("manifest of {name}"), &manifest_digest, None, &bytes[..])?;
    let manifest: OciImageManifest = serde_json::from_slice(&bytes).map_err(|e| Error::bad(format!("manifest of {name}"), e))?;

    // The config.
    let config_digest = Digest::parse(&format!("config of {name}"), &manifest.config.digest)?;
    if !store.has_blob(&config_digest) {
        let mut buf = Vec::new();
        client.pull_blob(reference, &manifest.config, &mut buf).await.map_err(&err)?;
        store.put_blob(&format!("config of {name}"), &config_digest, u64::try_from(manifest.config.size).ok(), &buf[..])?;
    }
    let config_bytes = store.read_blob(&config_digest, MANIFEST_MAX as u64)?;
    let (diff_ids, created) = crate::store::config_facts(&format!("config of {name}"), &config_bytes, manifest.layers.len())?;

    // The layers: each to tmp/, hashed, renamed into place.
    let mut layers = Vec::new();
    progress(Progress::Layers(manifest.layers.iter().map(|l| (short(&l.digest), u64::try_from(l.size).unwrap_or(0))).collect()));
    for (index, l) in manifest.layers.iter().enumerate() {
        let what = format!("layer {} of {name}", l.digest);
        let d = Digest::parse(&what, &l.digest)?;
        let size = u64::try_from(l.size).map_err(|_| Error::bad(&what, format!("size {}", l.size)))?;
        if store.has_blob(&d) {
            progress(Progress::Cached { index });
        } else {
            fetch_layer(store, &client, name, l, &d, index, size, progress).await?;
        }
        layers.push(LayerRecord { digest: d.to_string(), media_type: l.media_type.clone(), size, diff_id: diff_ids[index].clone() });
    }
    progress(Progress::Unpacking);
    for l in &layers {
        store.ensure_layer(l)?;
    }
    Ok(ImageRecord { manifest: manifest_digest.to_string(), config: config_digest.to_string(), layers, created })
}

#[allow(clippy::too_many_arguments)]
async fn fetch_layer(
    store: &Store,
    client: &Client,
    name: &Name,
    l: &OciDescriptor,
    d: &Digest,
    index: usize,
    size: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let what = format!("layer {} of {name}", l.digest);
    let tmp = store.tmp_path(d.hex());
    let file = tokio::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).await.map_err(Error::io("write", &tmp))?;
    let mut counting = Counting { inner: file, done: 0, total: size, index, progress };
    let pulled = client.pull_blob(name.reference(), l, &mut counting).await;
    drop(counting);
    let result = match pulled {
        // oci-client hashed what it received; the store checks the file again as it adopts it.
        Ok(()) => store.adopt_blob(&tmp, d, Some(size), &what),
        // The registry served other bytes than the digest names: nothing of them is kept.
        Err(oci_client::errors::OciDistributionError::DigestError(oci_client::errors::DigestError::VerificationError { expected, actual })) => {
            Err(Error::DigestMismatch { what, expected, actual })
        }
        Err(oci_client::errors::OciDistributionError::DigestError(e)) => Err(Error::DigestMismatch { what, expected: d.to_string(), actual: e.to_string() }),
        Err(e) => Err(registry_error(name)(e)),
    };
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|_| ())
}

fn short(digest: &str) -> String {
    digest.strip_prefix("sha256:").unwrap_or(digest).chars().take(12).collect()
}

fn is_index(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(p) => p.manifests.is_some() || matches!(p.media_type.as_deref(), Some(mt::OCI_IMAGE_INDEX_MEDIA_TYPE | mt::IMAGE_MANIFEST_LIST_MEDIA_TYPE)),
        Err(_) => false,
    }
}

/// A file that reports how much was written.
struct Counting<'a> {
    inner: tokio::fs::File,
    done: u64,
    total: u64,
    index: usize,
    progress: &'a mut dyn FnMut(Progress),
}

impl AsyncWrite for Counting<'_> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.done += n as u64;
            (this.progress)(Progress::Layer { index: this.index, done: this.done, total: this.total });
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
