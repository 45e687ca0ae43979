//! LSM labels: `process.apparmorProfile`, `process.selinuxLabel` and `linux.mountLabel`.
//!
//! Applied where the LSM is enabled, refused with an error where it is not (as runc does): a
//! label that is silently ignored is a container that runs unconfined while its owner believes
//! otherwise. The process label is written to this thread's LSM exec attribute by the exec stub
//! right before the container's execve, so the transition happens at the container's own exec
//! (not at the stub's); the mount label becomes the `context=` option of every filesystem mount.

use std::ffi::CString;
use std::path::Path;

use crate::error::{Error, Result};
use crate::plan::cstr;
use crate::spec::Spec;

/// Whether AppArmor is enabled in this kernel.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y") && Path::new("/sys/kernel/security/apparmor").is_dir()
}

/// Whether SELinux is enabled (its filesystem mounted, as libselinux checks).
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// The exec attribute to write and what to write there, if the spec asks for a process label:
/// (attribute path relative to the container's /proc, label, what it is).
pub(crate) fn exec_label(spec: &Spec) -> Result<Option<(CString, CString, String)>> {
    let Some(process) = spec.config().process().as_ref() else { return Ok(None) };
    let apparmor = process.apparmor_profile().as_deref().filter(|p| !p.is_empty());
    let selinux = process.selinux_label().as_deref().filter(|p| !p.is_empty());
    match (apparmor, selinux) {
        (Some(_), Some(_)) => Err(Error::invalid("process.apparmorProfile", "(and process.selinuxLabel)", "only one LSM label can be applied")),
        (Some(profile), None) => {
            if !apparmor_enabled() {
                return Err(Error::invalid("process.apparmorProfile", profile, "AppArmor is not enabled in this kernel: the profile cannot be applied"));
            }
            // The interface of Linux 5.8+, and the shared one before it (relative to /proc).
            let path = if Path::new("/proc/self/attr/apparmor/exec").exists() { "thread-self/attr/apparmor/exec" } else { "thread-self/attr/exec" };
            Ok(Some((
                cstr("process.apparmorProfile", path)?,
                cstr("process.apparmorProfile", format!("exec {profile}"))?,
                format!("set AppArmor profile {profile:?}"),
            )))
        }
        (None, Some(label)) => {
            if !selinux_enabled() {
                return Err(Error::invalid("process.selinuxLabel", label, "SELinux is not enabled in this kernel: the label cannot be applied"));
            }
            Ok(Some((cstr("process.selinuxLabel", "thread-self/attr/exec")?, cstr("process.selinuxLabel", label)?, format!("set SELinux label {label:?}"))))
        }
        (None, None) => Ok(None),
    }
}

/// The SELinux context for the container's filesystem mounts, if the spec sets one.
pub(crate) fn mount_label(spec: &Spec) -> Result<Option<String>> {
    let Some(label) = spec.config().linux().as_ref().and_then(|l| l.mount_label().as_deref()).filter(|l| !l.is_empty()) else { return Ok(None) };
    if !selinux_enabled() {
        return Err(Error::invalid("linux.mountLabel", label, "SELinux is not enabled in this kernel: the mount label cannot be applied"));
    }
    if label.contains(['"', ',', '\n']) {
        return Err(Error::invalid("linux.mountLabel", label, "not an SELinux context"));
    }
    Ok(Some(label.to_string()))
}
