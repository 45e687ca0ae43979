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
    /// The registry refused or failed (network, auth, 404); `failure` says which, for callers
    /// that map errors onto their own kinds ([`Error::kind`]).
    #[error("pull {reference}: {reason}")]
    Registry { reference: String, reason: String, failure: RegistryFailure },
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

/// What kind of failure an [`Error::Registry`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryFailure {
    /// The registry has no such repository, tag or manifest (404, MANIFEST_UNKNOWN, NAME_UNKNOWN).
    NotFound,
    /// Authentication is required or was refused (401, 403, UNAUTHORIZED, DENIED).
    Denied,
    /// The registry could not be reached (connection, DNS, TLS, timeout): the errno when known.
    Unreachable(Option<i32>),
    /// Anything else (a server error, an answer that breaks the distribution spec).
    Other,
}

impl Error {
    /// The runtime's kind of this error, so every interface maps image errors as it maps the
    /// runtime's: a bad reference or image content is `InvalidConfig`, an image the store or
    /// the registry does not have `NotFound`, an id in use `AlreadyExists`, the rest `Os`
    /// (with [`Error::errno`]).
    pub fn kind(&self) -> rcontainer_core::ErrorKind {
        use rcontainer_core::ErrorKind as K;
        match self {
            Error::InvalidReference { .. } | Error::BadDigest { .. } | Error::BadImage { .. } => K::InvalidConfig,
            Error::ImageNotFound { .. } | Error::Registry { failure: RegistryFailure::NotFound, .. } => K::NotFound,
            Error::Conflict(_) => K::AlreadyExists,
            Error::Core(e) => e.kind(),
            Error::Unpack { source, .. } if unpack_errno(source).is_none() => K::InvalidConfig,
            Error::DigestMismatch { .. } | Error::Registry { .. } | Error::Unpack { .. } | Error::Io { .. } => K::Os,
        }
    }

    /// The errno of an `Os` error (EIO when nothing more precise is known: a digest mismatch,
    /// a registry's failure), EACCES for a registry that refuses the credentials, EEXIST for a
    /// conflict; None for the other kinds.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => Some(source.raw_os_error().unwrap_or(libc::EIO)),
            Error::Unpack { source, .. } => unpack_errno(source),
            Error::Registry { failure, .. } => match failure {
                RegistryFailure::NotFound => None,
                RegistryFailure::Denied => Some(libc::EACCES),
                RegistryFailure::Unreachable(errno) => Some(errno.unwrap_or(libc::EHOSTUNREACH)),
                RegistryFailure::Other => Some(libc::EIO),
            },
            Error::DigestMismatch { .. } => Some(libc::EIO),
            Error::Conflict(_) => Some(libc::EEXIST),
            Error::Core(e) => e.errno(),
            _ => None,
        }
    }

    pub(crate) fn io(op: impl Into<String>, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let (op, path) = (op.into(), path.into());
        move |source| Error::Io { op, path, source }
    }

    pub(crate) fn bad(what: impl Into<String>, reason: impl std::fmt::Display) -> Error {
        Error::BadImage { what: what.into(), reason: reason.to_string() }
    }
}

/// The errno of an unpack error that is a system call's failure (None: the layer's content).
fn unpack_errno(e: &UnpackError) -> Option<i32> {
    match e {
        UnpackError::Io { source, .. } | UnpackError::Xattr { source, .. } | UnpackError::Read { source, .. } => {
            Some(source.raw_os_error().unwrap_or(libc::EIO))
        }
        UnpackError::Dest { .. } => Some(libc::EIO),
        _ => None,
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use rcontainer_core::ErrorKind as K;

    #[test]
    fn kinds_and_errnos() {
        let registry = |failure| Error::Registry { reference: "r".into(), reason: "x".into(), failure };
        let cases = [
            (Error::InvalidReference { reference: "A B".into(), reason: "x".into() }, K::InvalidConfig, None),
            (Error::ImageNotFound { reference: "x".into(), store: "/s".into() }, K::NotFound, None),
            (registry(RegistryFailure::NotFound), K::NotFound, None),
            (registry(RegistryFailure::Denied), K::Os, Some(libc::EACCES)),
            (registry(RegistryFailure::Unreachable(Some(libc::ECONNREFUSED))), K::Os, Some(libc::ECONNREFUSED)),
            (registry(RegistryFailure::Other), K::Os, Some(libc::EIO)),
            (Error::DigestMismatch { what: "w".into(), expected: "e".into(), actual: "a".into() }, K::Os, Some(libc::EIO)),
            (Error::bad("image x", "has no command"), K::InvalidConfig, None),
            (Error::Conflict("in use".into()), K::AlreadyExists, Some(libc::EEXIST)),
            (Error::io("read", "/x")(std::io::Error::from_raw_os_error(libc::ENOSPC)), K::Os, Some(libc::ENOSPC)),
            (Error::Unpack { digest: "d".into(), source: UnpackError::PathEscapes { path: "../x".into() } }, K::InvalidConfig, None),
        ];
        for (e, kind, errno) in cases {
            assert_eq!((e.kind(), e.errno()), (kind, errno), "{e}");
        }
    }
}
