//! Errors: every failure reaches JavaScript as an `Error` with a string `code` (an errno name such
//! as 'ENOENT'; 'EINVAL' for bad configuration; 'ESTATE' for the wrong lifecycle state), a `kind`
//! (the core's error class), an `errno` number when there is one, and a message that starts with
//! the operation that failed.

use napi::bindgen_prelude::*;
use napi::Env;
use rcontainer_core::{Error as CoreError, ErrorKind};

/// A failure, not yet turned into a JavaScript value (so it can cross threads).
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: String,
    pub kind: &'static str,
    pub errno: Option<i32>,
    pub message: String,
    /// Messages of the underlying causes, outermost first.
    pub causes: Vec<String>,
}

pub type BResult<T> = std::result::Result<T, Failure>;

fn errno_name(n: i32) -> String {
    let name = format!("{:?}", nix::errno::Errno::from_raw(n));
    if name.starts_with('E') {
        name
    } else {
        "EIO".into()
    }
}

impl Failure {
    /// Bad input: code 'EINVAL'.
    pub fn invalid(op: &str, message: impl std::fmt::Display) -> Failure {
        Failure { code: "EINVAL".into(), kind: "InvalidConfig", errno: Some(libc::EINVAL), message: format!("{op}: {message}"), causes: Vec::new() }
    }

    /// The container is in the wrong lifecycle state: code 'ESTATE'.
    pub fn state(op: &str, message: impl std::fmt::Display) -> Failure {
        Failure { code: "ESTATE".into(), kind: "WrongState", errno: None, message: format!("{op}: {message}"), causes: Vec::new() }
    }

    /// What was asked for does not exist (an image): code 'ENOENT'.
    pub fn not_found(op: &str, message: impl std::fmt::Display) -> Failure {
        Failure { code: "ENOENT".into(), kind: "NotFound", errno: Some(libc::ENOENT), message: format!("{op}: {message}"), causes: Vec::new() }
    }

    /// A failure of this process, not of the input (a worker thread that panicked): code 'EIO'.
    pub fn internal(op: &str, message: impl std::fmt::Display) -> Failure {
        Failure { code: "EIO".into(), kind: "Os", errno: Some(libc::EIO), message: format!("{op}: {message}"), causes: Vec::new() }
    }

    pub fn os(op: &str, e: &std::io::Error) -> Failure {
        let n = e.raw_os_error().unwrap_or(libc::EIO);
        Failure { code: errno_name(n), kind: "Os", errno: Some(n), message: format!("{op}: {e}"), causes: Vec::new() }
    }

    pub fn errno(op: &str, e: nix::errno::Errno) -> Failure {
        Failure { code: errno_name(e as i32), kind: "Os", errno: Some(e as i32), message: format!("{op}: {} ({e:?})", e.desc()), causes: Vec::new() }
    }

    /// A core error; `op` names the call (e.g. `start container "x"`).
    pub fn core(op: &str, e: &CoreError) -> Failure {
        Failure::of_kind(op, e.kind(), e.errno(), e)
    }

    /// An error of the image store or a registry (rcontainer-image), by the kind and errno the
    /// image crate gives it (`Error::kind`, `Error::errno`: one mapping for every interface): a
    /// missing image (in the store or the registry) is 'ENOENT', a bad reference or image
    /// 'EINVAL', an id whose root is in the store 'EEXIST', a registry that refuses the
    /// credentials 'EACCES', one that cannot be reached the connection's errno
    /// ('ECONNREFUSED'...), a file system error its errno, content that does not match its
    /// digest 'EIO'.
    pub fn image(op: &str, e: &rcontainer_image::Error) -> Failure {
        match e {
            rcontainer_image::Error::Core(c) => Failure::core(op, c),
            e => Failure::of_kind(op, e.kind(), e.errno(), e),
        }
    }

    /// A failure of `kind` (core's classes), with its errno, `e`'s message and causes.
    fn of_kind(op: &str, kind: ErrorKind, errno: Option<i32>, e: &dyn std::error::Error) -> Failure {
        let (code, kind_name) = match kind {
            ErrorKind::InvalidConfig => ("EINVAL".to_string(), "InvalidConfig"),
            ErrorKind::NotFound => ("ENOENT".to_string(), "NotFound"),
            ErrorKind::AlreadyExists => ("EEXIST".to_string(), "AlreadyExists"),
            ErrorKind::WrongState => ("ESTATE".to_string(), "WrongState"),
            ErrorKind::Timeout => ("ETIMEDOUT".to_string(), "Timeout"),
            ErrorKind::Unsupported => ("ENOTSUP".to_string(), "Unsupported"),
            ErrorKind::Os => (errno.map(errno_name).unwrap_or_else(|| "EIO".into()), "Os"),
        };
        let errno = match kind {
            ErrorKind::InvalidConfig => Some(libc::EINVAL),
            ErrorKind::NotFound => Some(libc::ENOENT),
            ErrorKind::AlreadyExists => Some(libc::EEXIST),
            ErrorKind::Unsupported => Some(libc::ENOTSUP),
            _ => errno,
        };
        let mut causes = Vec::new();
        let mut src = e.source();
        while let Some(s) = src {
            causes.push(s.to_string());
            src = s.source();
        }
        Failure { code, kind: kind_name, errno, message: format!("{op}: {e}"), causes }
    }

    /// Builds the JavaScript Error object and wraps it so napi throws (or rejects with) it as is.
    pub fn into_napi(self, env: &Env) -> napi::Error {
        match self.build(env) {
            Ok(e) => e,
            Err(e) => e,
        }
    }

    fn build(self, env: &Env) -> napi::Result<napi::Error> {
        let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, self.message.clone()))?;
        obj.set("code", self.code.as_str())?;
        obj.set("kind", self.kind)?;
        if let Some(n) = self.errno {
            obj.set("errno", n)?;
        }
        // The cause chain, innermost last: err.cause, err.cause.cause, ...
        let mut cause: Option<Object> = None;
        for msg in self.causes.iter().rev() {
            let mut c = env.create_error(napi::Error::new(Status::GenericFailure, msg.clone()))?;
            if let Some(inner) = cause.take() {
                c.set("cause", inner)?;
            }
            cause = Some(c);
        }
        if let Some(c) = cause {
            obj.set("cause", c)?;
        }
        Ok(napi::Error::from(obj.to_unknown()))
    }
}

/// Converts a napi conversion error (a value of the wrong type) into an EINVAL failure.
pub fn bad_value(op: &str, what: &str, e: napi::Error) -> Failure {
    Failure::invalid(op, format!("{what}: {}", e.reason))
}
