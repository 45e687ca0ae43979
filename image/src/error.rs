//! One error type for images: each variant names what failed and the input that caused it.

use std::path::PathBuf;

use crate::unpack::UnpackError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An image reference that cannot be parsed (`busybox`, `host:5000/repo:tag`, `repo@sha256:...`).
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },
    /// No image of that name in the store.
    #[error("no image {reference:?} in the store {} (pull or import it first: `rcontainer pull {reference}`)", store.display())]
    ImageNotFound { reference: String, store: PathBuf },
    /// Content whose digest is not the one its descriptor names: refused, nothing kept.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { what: String, expected: String, actual: String },
    /// A digest this store cannot verify (only sha256 is supported) or malformed.
    #[error("{what}: unsupported or malformed digest {digest:?}")]
    BadDigest { what: String, digest: String },
    /// An image whose manifest, index or config is not what the OCI image spec says.
    #[error("{what}: {reason}")]
    BadImage { what: String, reason: String },
    /// The registry refused or failed (network, auth, 404).
    #[error("pull {reference}: {reason}")]
    Registry { reference: String, reason: String },
    #[error("unpack layer {digest}: {source}")]
    Unpack { digest: String, source: UnpackError },
    #[error("{op} {}: {source}", path.display())]
    Io { op: String, path: PathBuf, source: std::io::Error },
    /// The runtime refused the container the image describes.
    #[error(transparent)]
    Core(#[from] rcontainer_core::Error),
    /// The image is in use (by a container) or another conflict.
    #[error("{0}")]
    Conflict(String),
}

impl Error {
    pub(crate) fn io(op: impl Into<String>, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let (op, path) = (op.into(), path.into());
        move |source| Error::Io { op, path, source }
    }

    pub(crate) fn bad(what: impl Into<String>, reason: impl std::fmt::Display) -> Error {
        Error::BadImage { what: what.into(), reason: reason.to_string() }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
