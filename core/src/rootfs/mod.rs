//! The root filesystem part of a Plan: propagation, the spec's mounts, a private /dev,
//! pivot_root, sysctls, read-only and masked paths, a read-only root.

pub mod default_root;
mod devices;
mod mounts;

use std::path::Path;

use crate::error::{Error, Result};
use crate::plan::{cpath, cstr, join_in_root, Op, Step};
use crate::spec::Spec;

/// Mkdir steps for every missing directory from `rootfs` (exclusive) down to `target`.
pub(crate) fn mkdir_chain(rootfs: &Path, target: &Path, steps: &mut Vec<Step>) -> Result<()> {
    let Ok(rel) = target.strip_prefix(rootfs) else { return Ok(()) };
    let mut cur = rootfs.to_path_buf();
    for part in rel.components() {
        cur.push(part);
        steps.push(Step { op: Op::Mkdir { path: cpath("mount destination", &cur)?, mode: 0o755 }, what: format!("mkdir {}", in_container(rootfs, &cur)) });
    }
    Ok(())
}

/// The container-side spelling of a host path below the rootfs.
pub(crate) fn in_container(rootfs: &Path, host: &Path) -> String {
    match host.strip_prefix(rootfs) {
        Ok(rel) => format!("/{}", rel.display()),
        Err(_) => host.display().to_string(),
    }
}

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

pub(crate) fn plan_rootfs(spec: &Spec, user_ns: bool, no_pivot: bool, steps: &mut Vec<Step>) -> Result<()> {
    let config = spec.config();
    let linux = config.linux().as_ref();
    let rootfs = std::fs::canonicalize(spec.rootfs()?).map_err(Error::io("resolve root.path", spec.rootfs()?))?;
    let c_rootfs = cpath("root.path", &rootfs)?;
    let root_cstr = cstr("/", "/")?;

    // Keep our mounts from reaching the host: make / a slave (or what rootfsPropagation asks).
    let propagation = linux.and_then(|l| l.rootfs_propagation().as_deref());
    let parent_flag = match propagation {
        Some(p) if p.contains("private") => libc::MS_PRIVATE | libc::MS_REC,
        _ => libc::MS_SLAVE | libc::MS_REC,
    };
    steps.push(Step {
        op: Op::Mount { source: None, target: root_cstr.clone(), fstype: None, flags: parent_flag, data: None },
        what: "make / a slave mount (rootfs propagation)".into(),
    });
    steps.push(Step {
        op: Op::Mount { source: Some(c_rootfs.clone()), target: c_rootfs.clone(), fstype: None, flags: libc::MS_BIND | libc::MS_REC, data: None },
        what: format!("bind mount rootfs {} onto itself", rootfs.display()),
    });

    let spec_mounts = config.mounts().as_deref().unwrap_or(&[]);
    for (i, m) in spec_mounts.iter().enumerate() {
        mounts::plan_mount(spec, &rootfs, i, m, steps)?;
    }
    if !spec_mounts.iter().any(|m| m.destination() == Path::new("/dev")) {
        // A private /dev even when the spec does not ask for one.
        let target = join_in_root(&rootfs, Path::new("/dev"));
        mkdir_chain(&rootfs, &target, steps)?;
        steps.push(Step {
            op: Op::Mount {
                source: Some(cstr("/dev", "tmpfs")?),
                target: cpath("/dev", &target)?,
                fstype: Some(cstr("/dev", "tmpfs")?),
                flags: libc::MS_NOSUID | libc::MS_STRICTATIME,
                data: Some(cstr("/dev", "mode=755,size=65536k")?),
            },
            what: "mount tmpfs on /dev".into(),
        });
    }
    devices::plan_dev(spec, &rootfs, user_ns, steps)?;

    steps.push(Step { op: Op::Chdir { path: c_rootfs }, what: format!("chdir {}", rootfs.display()) });
    if no_pivot {
        steps.push(Step { op: Op::MoveRoot, what: format!("move {} to / and chroot (--no-pivot)", rootfs.display()) });
    } else {
        steps.push(Step { op: Op::PivotRoot, what: format!("pivot_root into {}", rootfs.display()) });
    }

    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        let mut keys: Vec<_> = sysctl.keys().collect();
        keys.sort();
        for key in keys {
            if key.contains("..") || key.contains('/') && key.contains('.') {
                return Err(Error::invalid("linux.sysctl", key, "not a sysctl name"));
            }
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            steps.push(Step {
                op: Op::WriteFile { path: cstr("linux.sysctl", &path)?, data: sysctl[key].as_bytes().to_vec() },
                what: format!("set sysctl {key}={}", sysctl[key]),
            });
        }
    }
    for p in linux.and_then(|l| l.readonly_paths().as_deref()).unwrap_or(&[]) {
        steps.push(Step { op: Op::ReadonlyPath { path: cstr("linux.readonlyPaths", p)? }, what: format!("make {p} read-only") });
    }
    for p in linux.and_then(|l| l.masked_paths().as_deref()).unwrap_or(&[]) {
        steps.push(Step { op: Op::Mask { path: cstr("linux.maskedPaths", p)? }, what: format!("mask {p}") });
    }
    if config.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        steps.push(Step { op: Op::BindRemount { target: root_cstr.clone(), flags: libc::MS_RDONLY }, what: "remount / read-only".into() });
    }
    if let Some(p) = propagation {
        let flag = propagation_flag("linux.rootfsPropagation", p)?;
        steps.push(Step {
            op: Op::Mount { source: None, target: root_cstr, fstype: None, flags: flag, data: None },
            what: format!("set rootfs propagation {p}"),
        });
    }
    Ok(())
}
