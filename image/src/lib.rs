//! Container images for rcontainer, beside the runtime (`rcontainer-core` never depends on this
//! crate, so a user of the runtime alone pays for no HTTP, TLS or archive code).
//!
//! - [`store`]: the local store (content-addressed blobs, unpacked layers, names, container
//!   roots, prune).
//! - [`pull`]: from a registry; [`import`]: a `docker save` archive or an OCI layout.
//! - [`unpack`]: a layer's tar into a directory, confined to it.
//! - [`config`]: an image's config onto the runtime's options (command, env, user...).

pub mod config;
pub mod digest;
pub mod error;
pub mod import;
pub mod pull;
pub mod reference;
pub mod store;
pub mod unpack;

pub use error::{Error, RegistryFailure, Result};
pub use pull::{pull, Progress, PullOptions};
pub use reference::Name;
pub use store::{default_root, ContainerRoot, ImageRecord, LayerRecord, PruneReport, Store, DEFAULT_STORE};
