//! The root filesystem part of a Plan: propagation, the spec's mounts, a private /dev, sysctls,
//! read-only and masked paths, a read-only root, pivot_root.
//!
//! Every destination is a path *inside* the root ([`InRoot`]), resolved by the child at the
//! moment of its mount, after the earlier ones, from the root's fd and confined to it (openat2
//! RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): a symlink in an image or a volume can neither send a
//! mount, a device node or a mask outside the root, nor make one be skipped (CVE-2021-30465,
//! CVE-2019-19921). Nothing here looks at the root filesystem on disk.

pub mod default_root;
mod devices;
mod mounts;
pub mod overlay;
pub mod passwd;
pub(crate) use mounts::TMPFS_DATA_MAX;

/// mount_setattr(2)'s MOUNT_ATTR_* bits.
pub(crate) mod mount_attr {
    pub const RDONLY: u64 = 0x1;
    pub const NOSUID: u64 = 0x2;
    pub const NODEV: u64 = 0x4;
    pub const NOEXEC: u64 = 0x8;
    /// The access-time mode field (relatime is 0 in it).
    pub const ATIME_MASK: u64 = 0x70;
    pub const NOATIME: u64 = 0x10;
    pub const STRICTATIME: u64 = 0x20;
    pub const NODIRATIME: u64 = 0x80;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

use std::path::Path;

use crate::error::{Error, Result};
use crate::plan::{cpath, cstr, Create, InRoot, Op, Step};
use crate::spec::Spec;

fn propagation_flag(field: &str, value: &str) -> Result<libc::c_ulong> {
    Ok(match value {
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return Err(Error::invalid(field, value, "expected shared, slave, private or unbindable (with optional r prefix)")),
    })
}

/// `own_cgroups`: see [`mounts::plan_mount`].
pub(crate) fn plan_rootfs(
    spec: &Spec,
    user_ns: bool,
    no_pivot: bool,
    own_cgroups: Option<&[(String, std::path::PathBuf)]>,
    console: Option<Op>,
    hooks_sync: Option<Op>,
    steps: &mut Vec<Step>,
) -> Result<()> {
    let config = spec.config();
    let linux = config.linux().as_ref();
    let rootfs = std::fs::canonicalize(spec.rootfs()?).map_err(Error::io("resolve root.path", spec.rootfs()?))?;
    let c_rootfs = cpath("root.path", &rootfs)?;

    // Keep our mounts from reaching the host: make / a slave (or what rootfsPropagation asks).
    let propagation = linux.and_then(|l| l.rootfs_propagation().as_deref());
    let parent_flag = match propagation {
        Some(p) if p.contains("private") => libc::MS_PRIVATE | libc::MS_REC,
        _ => libc::MS_SLAVE | libc::MS_REC,
    };
    steps.push(Step {
        op: Op::MountPath { source: None, target: cstr("/", "/")?, fstype: None, flags: parent_flag, data: None },
        what: "make / a slave mount (rootfs propagation)".into(),
    });
    steps.push(match spec.root_overlay()? {
        // A copy-on-write root: the overlay, mounted in the container's mount namespace only.
        Some(o) => {
            let data = o.mount_data()?;
            Step {
                op: Op::MountPath {
                    source: Some(cstr("overlay", "overlay")?),
                    target: c_rootfs.clone(),
                    fstype: Some(cstr("overlay", "overlay")?),
                    flags: 0,
                    data: Some(cstr(overlay::ROOT_OVERLAY_ANNOTATION, &data)?),
                },
                what: format!(
                    "mount the overlay root ({} layers{}) on {}",
                    o.lower.len(),
                    if o.upper.is_some() { " and an upper" } else { "" },
                    rootfs.display()
                ),
            }
        }
        None => Step {
            op: Op::MountPath { source: Some(c_rootfs.clone()), target: c_rootfs.clone(), fstype: None, flags: libc::MS_BIND | libc::MS_REC, data: None },
            what: format!("bind mount rootfs {} onto itself", rootfs.display()),
        },
    });
    steps.push(Step { op: Op::OpenRoot { path: c_rootfs }, what: format!("open rootfs {}", rootfs.display()) });

    let spec_mounts = config.mounts().as_deref().unwrap_or(&[]);
    for (i, m) in spec_mounts.iter().enumerate() {
        mounts::plan_mount(spec, i, m, own_cgroups, steps)?;
    }
    if !spec_mounts.iter().any(|m| m.destination() == Path::new("/dev")) {
        // A private /dev even when the spec does not ask for one.
        steps.push(Step {
            op: Op::Mount {
                source: Some(cstr("/dev", "tmpfs")?),
                dest: InRoot::new("/dev", Path::new("/dev"))?,
                create: Create::Dir,
                fstype: Some(cstr("/dev", "tmpfs")?),
                flags: libc::MS_NOSUID | libc::MS_STRICTATIME,
                data: Some(cstr("/dev", "mode=755,size=65536k")?),
            },
            what: "mount tmpfs on /dev".into(),
        });
    }
    devices::plan_dev(spec, user_ns, steps)?;
    if let Some(op) = console {
        // The terminal: once /dev and its devpts exist, before the masks (which may hide /dev
        // entries) and the read-only root.
        steps.push(Step { op, what: "set up the terminal (a new pty from the container's /dev/ptmx, sent to the console socket)".into() });
        steps.push(Step { op: Op::ConsoleStdio, what: "make the terminal the stdio and controlling terminal".into() });
    }

    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        let mut keys: Vec<_> = sysctl.keys().collect();
        keys.sort();
        for key in keys {
            if key.is_empty() || key.contains("..") || key.starts_with(['.', '/']) || key.contains('/') && key.contains('.') {
                return Err(Error::invalid("linux.sysctl", key, "not a sysctl name"));
            }
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            steps.push(Step {
                op: Op::WriteSysctl { path: InRoot::new("linux.sysctl", Path::new(&path))?.no_symlinks(), data: sysctl[key].as_bytes().to_vec() },
                what: format!("set sysctl {key}={}", sysctl[key]),
            });
        }
    }
    for p in linux.and_then(|l| l.readonly_paths().as_deref()).unwrap_or(&[]) {
        steps.push(Step { op: Op::ReadonlyPath { path: InRoot::new("linux.readonlyPaths", Path::new(p))? }, what: format!("make {p} read-only") });
    }
    let masked = linux.and_then(|l| l.masked_paths().as_deref()).unwrap_or(&[]);
    if !masked.is_empty() {
        // The mask source must be the container's own /dev/null (a missing or fake one is an
        // error, never a silently skipped mask).
        steps.push(Step { op: Op::OpenDevNull, what: "open /dev/null (the source of masked paths; it must be the character device 1:3)".into() });
    }
    for p in masked {
        steps.push(Step { op: Op::Mask { path: InRoot::new("linux.maskedPaths", Path::new(p))? }, what: format!("mask {p}") });
    }
    if config.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        steps.push(Step { op: Op::BindRemount { dest: InRoot::new("root", Path::new("/"))?, flags: libc::MS_RDONLY }, what: "remount / read-only".into() });
    }

    if let Some(op) = hooks_sync {
        // The OCI spec's moment for prestart, createRuntime and createContainer hooks.
        steps.push(Step { op, what: "run the prestart, createRuntime and createContainer hooks".into() });
    }
    if no_pivot {
        steps.push(Step { op: Op::MoveRoot, what: format!("move {} to / and chroot (--no-pivot)", rootfs.display()) });
    } else {
        steps.push(Step { op: Op::PivotRoot, what: format!("pivot_root into {}", rootfs.display()) });
    }
    if let Some(p) = propagation {
        let flag = propagation_flag("linux.rootfsPropagation", p)?;
        steps.push(Step {
            op: Op::MountPath { source: None, target: cstr("/", "/")?, fstype: None, flags: flag, data: None },
            what: format!("set rootfs propagation {p}"),
        });
    }
    Ok(())
}
