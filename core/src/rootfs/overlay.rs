//! A copy-on-write root: the root filesystem as an overlay of read-only layers (an image's,
//! unpacked by `rcontainer-image`) with a writable upper directory of the container's own.
//!
//! The OCI runtime spec has no field for it, so it travels as the annotation
//! [`ROOT_OVERLAY_ANNOTATION`] (JSON of [`RootOverlay`]); `root.path` is then an empty directory
//! the overlay is mounted on. The child mounts it in the container's own mount namespace (in
//! place of the root's bind onto itself), so the mount never exists on the host and vanishes
//! with the container: nothing to unmount after a crash. `delete` removes the container's
//! directory (upper, work and mount point) when the overlay names one.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxNamespaceType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::Spec;

/// The annotation that carries a [`RootOverlay`] as JSON.
pub const ROOT_OVERLAY_ANNOTATION: &str = "org.rcontainer.rootfs.overlay";

/// The file that marks a directory as a container's overlay directory, made by its creator:
/// `delete` removes [`RootOverlay::container_dir`] only when it holds this file.
pub const CONTAINER_DIR_MARKER: &str = "rcontainer-container-dir";

/// The file in a container's overlay directory that names the container's state directory
/// (written by create): how the image store's prune tells a container that still exists from a
/// leftover, whatever state root it lives in.
pub const CONTAINER_DIR_STATE: &str = "state-dir";

/// The overlay mount's options must fit in one page (mount(2) copies at most that).
const DATA_MAX: usize = 4095;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootOverlay {
    /// The read-only layers, the top one first (overlayfs's `lowerdir` order).
    pub lower: Vec<PathBuf>,
    /// The container's writable layer and overlayfs's work directory (on the same file
    /// system); both None for a read-only root of the layers alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work: Option<PathBuf>,
    /// The directory holding upper, work and the mount point, removed by `delete` (it must
    /// hold [`CONTAINER_DIR_MARKER`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_dir: Option<PathBuf>,
}

impl RootOverlay {
    /// The layers a reader looks through for a file, top first: upper, then the lower dirs.
    pub fn layers(&self) -> impl Iterator<Item = &Path> {
        self.upper.iter().map(PathBuf::as_path).chain(self.lower.iter().map(PathBuf::as_path))
    }

    fn check(&self) -> Result<()> {
        let field = ROOT_OVERLAY_ANNOTATION;
        if self.lower.is_empty() {
            return Err(Error::invalid(field, "lower: []", "an overlay root needs at least one layer"));
        }
        if self.upper.is_none() && self.lower.len() < 2 {
            // overlayfs: "at least 2 lowerdir are needed while upperdir nonexistent".
            return Err(Error::invalid(field, "lower", "a read-only overlay needs two layers or more (add an empty directory below)"));
        }
        if self.upper.is_some() != self.work.is_some() {
            return Err(Error::invalid(field, "upper/work", "give both upper and work, or neither (a read-only root)"));
        }
        for p in self.layers().chain(self.work.as_deref()).chain(self.container_dir.as_deref()) {
            let text = p.to_str().ok_or_else(|| Error::invalid(field, p.display(), "not UTF-8"))?;
            if !p.is_absolute() {
                return Err(Error::invalid(field, text, "overlay directories must be absolute paths"));
            }
            // overlayfs splits its options at ',' and lowerdir at ':'.
            if text.contains([',', ':', '\\', '\n']) {
                return Err(Error::invalid(field, text, "an overlay directory path cannot contain ',', ':' or '\\'"));
            }
        }
        Ok(())
    }

    /// The overlay mount's data: `lowerdir=...[,upperdir=...,workdir=...]`.
    pub(crate) fn mount_data(&self) -> Result<String> {
        self.check()?;
        let lower: Vec<&str> = self.lower.iter().filter_map(|p| p.to_str()).collect();
        let mut data = format!("lowerdir={}", lower.join(":"));
        if let (Some(u), Some(w)) = (&self.upper, &self.work) {
            // volatile: no sync of the upper's file system when the overlay goes (it would flush
            // the whole host disk at every container's end); the upper dies with the container.
            data.push_str(&format!(",upperdir={},workdir={},volatile", u.display(), w.display()));
        }
        if data.len() > DATA_MAX {
            return Err(Error::invalid(
                ROOT_OVERLAY_ANNOTATION,
                format!("{} layers", self.lower.len()),
                format!("the overlay's directories take {} bytes, more than the {DATA_MAX} a mount accepts", data.len()),
            ));
        }
        Ok(data)
    }
}

impl Spec {
    /// The copy-on-write root of this spec, if it has one.
    pub fn root_overlay(&self) -> Result<Option<RootOverlay>> {
        let Some(text) = self.config().annotations().as_ref().and_then(|a| a.get(ROOT_OVERLAY_ANNOTATION)) else { return Ok(None) };
        let o: RootOverlay = serde_json::from_str(text).map_err(|e| Error::invalid(ROOT_OVERLAY_ANNOTATION, crate::error::one_line(text), e.to_string()))?;
        o.check()?;
        if !self.has_namespace(LinuxNamespaceType::Mount) {
            return Err(Error::invalid(ROOT_OVERLAY_ANNOTATION, "linux.namespaces", "an overlay root needs a mount namespace of the container's own"));
        }
        Ok(Some(o))
    }
}

/// The container's overlay directory, when the annotations name one its creator marked.
fn marked_dir(annotations: &std::collections::HashMap<String, String>) -> Option<PathBuf> {
    let text = annotations.get(ROOT_OVERLAY_ANNOTATION)?;
    let o = serde_json::from_str::<RootOverlay>(text).ok()?;
    let dir = o.container_dir.clone()?;
    (o.check().is_ok() && dir.join(CONTAINER_DIR_MARKER).is_file()).then_some(dir)
}

/// Writes [`CONTAINER_DIR_STATE`] into the container's overlay directory, if it has one.
pub(crate) fn record_state_dir(annotations: &std::collections::HashMap<String, String>, state_dir: &Path) -> Result<()> {
    let Some(dir) = marked_dir(annotations) else { return Ok(()) };
    let file = dir.join(CONTAINER_DIR_STATE);
    std::fs::write(&file, state_dir.as_os_str().as_encoded_bytes()).map_err(Error::io("write", file))
}

/// Removes a container's overlay directory after the container is gone (its mount namespace,
/// and so the overlay, with it). Only a directory its creator marked is removed.
pub(crate) fn remove_container_dir(annotations: &std::collections::HashMap<String, String>) -> Result<()> {
    let Some(dir) = marked_dir(annotations) else { return Ok(()) };
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove the container's overlay directory", &dir)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay(lower: &[&str], upper: Option<&str>) -> RootOverlay {
        RootOverlay {
            lower: lower.iter().map(PathBuf::from).collect(),
            upper: upper.map(PathBuf::from),
            work: upper.map(|_| PathBuf::from("/s/c/work")),
            container_dir: None,
        }
    }

    #[test]
    fn mount_data_lists_layers_top_first_with_upper_and_work() {
        assert_eq!(
            overlay(&["/s/l/b", "/s/l/a"], Some("/s/c/upper")).mount_data().ok().as_deref(),
            Some("lowerdir=/s/l/b:/s/l/a,upperdir=/s/c/upper,workdir=/s/c/work,volatile")
        );
        assert_eq!(overlay(&["/s/l/a", "/s/c/empty"], None).mount_data().ok().as_deref(), Some("lowerdir=/s/l/a:/s/c/empty"));
        assert!(overlay(&["/s/l/a"], None).mount_data().is_err(), "overlayfs needs two lower dirs without an upper");
    }

    #[test]
    fn refuses_what_overlayfs_would_split_or_misread() {
        for bad in [overlay(&[], None), overlay(&["/a,upperdir=/etc"], None), overlay(&["/a:/etc"], None), overlay(&["rel"], None)] {
            assert!(bad.mount_data().is_err(), "{bad:?}");
        }
        let mut half = overlay(&["/a"], Some("/u"));
        half.work = None;
        assert!(half.mount_data().is_err());
        let many: Vec<String> = (0..100).map(|i| format!("/var/lib/rcontainer/layers/{i:064}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let e = overlay(&many, None).mount_data().expect_err("too long");
        assert!(e.to_string().contains("100 layers"), "{e}");
    }
}
