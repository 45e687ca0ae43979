//! One error type for the whole core. Every variant names what failed and the input that caused it;
//! [`Error::kind`] and [`Error::errno`] are what the C ABI and the bindings map to their own errors.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;

use crate::state::Status;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The broad class of an [`Error`], stable across versions (the C ABI exposes it as an int).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorKind {
    /// The configuration (spec, id, option) is invalid; nothing was created.
    InvalidConfig = 1,
    /// No container with that id.
    NotFound = 2,
    /// A container with that id exists already.
    AlreadyExists = 3,
    /// The call is not allowed in the container's current lifecycle state.
    WrongState = 4,
    /// A system call failed; [`Error::errno`] says which errno.
    Os = 5,
    /// A wait ran out of time.
    Timeout = 6,
    /// The request is valid but this build or kernel cannot do it.
    Unsupported = 7,
}

/// An errno printed the way users read it: `No such file or directory (ENOENT)`.
pub struct ErrnoText(pub Errno);

impl fmt::Display for ErrnoText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.0.desc(), self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the configuration has a value that cannot work.
    #[error("invalid configuration: {} = {}: {}", one_line(field), one_line(value), one_line(reason))]
    InvalidSpec { field: String, value: String, reason: String },

    /// config.json (or a JSON string) could not be read as an OCI runtime spec.
    #[error("invalid OCI config {}: {}", one_line(source_name), one_line(reason))]
    ConfigParse { source_name: String, reason: String },

    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },

    #[error("container {id:?} already exists")]
    AlreadyExists { id: String },

    #[error("container {id:?} does not exist")]
    NotFound { id: String },

    #[error("cannot {op} container {id:?}: it is {status}")]
    WrongState { id: String, op: &'static str, status: Status },

    /// A step of the container's setup (between clone and exec) failed in the child.
    #[error("{}: {}", one_line(what), ErrnoText(*errno))]
    Setup { what: String, errno: Errno },

    /// A file operation of the runtime itself failed.
    #[error("{op} {}: {}", one_line(&path.display().to_string()), IoText(source))]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },

    /// A system call of the runtime itself failed.
    #[error("{}: {}", one_line(op), ErrnoText(*errno))]
    Sys { op: String, errno: Errno },

    /// The container's first process died before it reported its setup done.
    #[error("container {id:?}: init process died during setup ({})", one_line(how))]
    SetupDied { id: String, how: String },

    /// An OCI hook failed (exited non-zero, or was killed at its timeout).
    #[error("{} failed ({}): {}", one_line(what), one_line(status), one_line(output))]
    Hook { what: String, status: String, output: String },

    /// A container's state file cannot be read back (truncated, not JSON, too large).
    #[error("corrupt container state {}: {}", one_line(&path.display().to_string()), one_line(reason))]
    StateCorrupt { path: PathBuf, reason: String },

    /// A file or directory the runtime would act on could have been written by another user.
    #[error("refusing {}: {}; another user could have written it", one_line(&path.display().to_string()), one_line(reason))]
    Untrusted { path: PathBuf, reason: String },

    #[error("timed out after {0:?}")]
    Timeout(Duration),

    #[error("{}", one_line(.0))]
    Unsupported(String),
}

/// `text` with its control characters escaped (`\n`, `\u{1b}`): every message is one line,
/// whatever a config, path or program output put in it, so it cannot forge log lines or drive a
/// terminal.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect())
}

fn io_errno(e: &std::io::Error) -> Errno {
    match e.raw_os_error() {
        Some(n) => Errno::from_raw(n),
        None if matches!(e.kind(), std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData) => Errno::EINVAL,
        None => Errno::EIO,
    }
}

/// An I/O error as users read it: the errno's text and name, or (an error the runtime made, with
/// no errno behind it) its own message.
struct IoText<'a>(&'a std::io::Error);

impl fmt::Display for IoText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(n) => ErrnoText(Errno::from_raw(n)).fmt(f),
            None => self.0.fmt(f),
        }
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidSpec { .. } | Error::ConfigParse { .. } | Error::InvalidId { .. } => ErrorKind::InvalidConfig,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::WrongState { .. } => ErrorKind::WrongState,
            Error::Setup { .. }
            | Error::Io { .. }
            | Error::Sys { .. }
            | Error::SetupDied { .. }
            | Error::Untrusted { .. }
            | Error::Hook { .. }
            | Error::StateCorrupt { .. } => ErrorKind::Os,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Unsupported(_) => ErrorKind::Unsupported,
        }
    }

    /// The errno behind an OS error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Setup { errno, .. } | Error::Sys { errno, .. } => Some(*errno as i32),
            Error::Io { source, .. } => Some(io_errno(source) as i32),
            Error::Timeout(_) => Some(libc::ETIMEDOUT),
            Error::Untrusted { .. } => Some(libc::EPERM),
            Error::StateCorrupt { .. } => Some(libc::EUCLEAN),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        Error::InvalidSpec { field: field.into(), value: value.to_string(), reason: reason.into() }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }

    pub(crate) fn sys(op: impl Into<String>) -> impl FnOnce(Errno) -> Self {
        let op = op.into();
        move |errno| Error::Sys { op, errno }
    }
}
