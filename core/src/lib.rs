//! rcontainer-core: launch Linux processes inside namespaces (and cgroups), as a library.
//!
//! The life of a container (see DESIGN.md): [`Spec`] (OCI runtime config) → validation → a
//! [`plan::Plan`] of raw setup steps computed in the parent → `clone3` → the child executes the
//! plan with raw syscalls only and waits before exec → [`Container::start`] → [`Container::wait`]
//! → [`Container::delete`].

pub mod cgroups;
pub mod container;
pub mod error;
pub mod exec;
pub mod hooks;
pub mod options;
pub mod plan;
pub mod rootfs;
pub mod rootless;
pub mod security;
pub mod spec;
pub mod state;

mod child;
#[cfg(test)]
mod hostile_input_tests;
#[cfg(test)]
mod plan_snapshot_tests;
mod spawn;
mod sys;

pub use container::{list, Container, CreateOptions, ExitStatus, Stdio};
pub use error::{Error, ErrorKind, Result};
pub use exec::{ExecCommand, ExecOptions, Process};
/// The OCI model (runtime spec types) this crate's API uses.
pub use oci_spec;
pub use rootfs::overlay::{RootOverlay, ROOT_OVERLAY_ANNOTATION};
pub use spec::{Limits, Spec, SpecBuilder};
pub use state::{State, Status};

/// The crate version (also the C ABI's and the bindings' version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Default directory holding one state dir per container (as runc's `/run/runc`).
pub const DEFAULT_STATE_ROOT: &str = "/run/rcontainer";
