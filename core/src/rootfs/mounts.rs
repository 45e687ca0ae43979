//! The spec's `mounts`: option parsing (runc's table, recursive attributes included) and the
//! steps for each mount, every destination resolved inside the root by the child.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Mount};

use super::propagation_flag;
use crate::error::{Error, Result};
use crate::plan::{cpath, cstr, Create, InRoot, Op, Step};
use crate::spec::Spec;

use super::mount_attr::{
    ATIME_MASK as MOUNT_ATTR_ATIME_MASK, NOATIME as MOUNT_ATTR_NOATIME, NODEV as MOUNT_ATTR_NODEV, NODIRATIME as MOUNT_ATTR_NODIRATIME,
    NOEXEC as MOUNT_ATTR_NOEXEC, NOSUID as MOUNT_ATTR_NOSUID, NOSYMFOLLOW as MOUNT_ATTR_NOSYMFOLLOW, RDONLY as MOUNT_ATTR_RDONLY,
    STRICTATIME as MOUNT_ATTR_STRICTATIME,
};

/// Mount options split into flags, propagation flags and the filesystem-specific data string.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub flags: libc::c_ulong,
    /// Flags an option explicitly cleared (`rw`, `suid`, `dev`, `exec`, `atime`...): a bind
    /// mount's attributes start from its source's, so these must be cleared on purpose.
    pub cleared: libc::c_ulong,
    pub propagation: Vec<libc::c_ulong>,
    pub data: Vec<String>,
    /// runc's recursive attributes (`rro`, `rnosuid`, ...): set and cleared on the mount and
    /// every mount below it (mount_setattr with AT_RECURSIVE).
    pub rec_set: u64,
    pub rec_clear: u64,
}

pub(crate) fn parse_options(field: &str, options: &[String]) -> Result<Options> {
    let mut o = Options::default();
    for opt in options {
        let (set, clear): (libc::c_ulong, libc::c_ulong) = match opt.as_str() {
            "defaults" => (0, 0),
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "suid" => (0, libc::MS_NOSUID),
            "nosuid" => (libc::MS_NOSUID, 0),
            "dev" => (0, libc::MS_NODEV),
            "nodev" => (libc::MS_NODEV, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "noexec" => (libc::MS_NOEXEC, 0),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "bind" => (libc::MS_BIND, 0),
            "rbind" => (libc::MS_BIND | libc::MS_REC, 0),
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" | "unbindable" | "runbindable" => {
                o.propagation.push(propagation_flag(field, opt)?);
                continue;
            }
            "rro" | "rrw" | "rnosuid" | "rsuid" | "rnodev" | "rdev" | "rnoexec" | "rexec" | "rnoatime" | "ratime" | "rstrictatime" | "rnodiratime"
            | "rdiratime" | "rrelatime" | "rnorelatime" | "rnosymfollow" | "rsymfollow" => {
                let (set, clear) = match opt.as_str() {
                    "rro" => (MOUNT_ATTR_RDONLY, 0),
                    "rrw" => (0, MOUNT_ATTR_RDONLY),
                    "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
                    "rsuid" => (0, MOUNT_ATTR_NOSUID),
                    "rnodev" => (MOUNT_ATTR_NODEV, 0),
                    "rdev" => (0, MOUNT_ATTR_NODEV),
                    "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
                    "rexec" => (0, MOUNT_ATTR_NOEXEC),
                    "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
                    "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
                    "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
                    "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
                    // The access-time mode is one field: clearing the mask, then setting it.
                    "rnoatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME_MASK),
                    "rstrictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR_ATIME_MASK),
                    "rrelatime" | "ratime" | "rnorelatime" => (0, MOUNT_ATTR_ATIME_MASK),
                    _ => (0, 0),
                };
                // A later option wins (`rro,rrw` is read-write); the access-time field is always
                // cleared whole before a mode is set (mount_setattr's rule).
                o.rec_set = (o.rec_set & !clear) | set;
                o.rec_clear = (o.rec_clear & !set) | clear;
                continue;
            }
            "idmap" | "ridmap" => return Err(Error::Unsupported(format!("{field}: mount option {opt:?} is not supported yet"))),
            "tmpcopyup" => continue,
            _ => {
                o.data.push(opt.clone());
                continue;
            }
        };
        o.flags = (o.flags | set) & !clear;
        o.cleared = (o.cleared | clear) & !set;
    }
    Ok(o)
}

/// MOUNT_ATTR_* for mount_setattr(2) from MS_* flags: (to set, to clear). An access-time mode,
/// when one is asked for, clears the whole access-time field first (the syscall's rule).
pub(crate) fn mount_attrs(flags: libc::c_ulong, cleared: libc::c_ulong) -> (u64, u64) {
    let map = |f: libc::c_ulong| {
        let mut a = 0;
        for (ms, attr) in [
            (libc::MS_RDONLY, MOUNT_ATTR_RDONLY),
            (libc::MS_NOSUID, MOUNT_ATTR_NOSUID),
            (libc::MS_NODEV, MOUNT_ATTR_NODEV),
            (libc::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
            (libc::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        ] {
            if f & ms != 0 {
                a |= attr;
            }
        }
        a
    };
    let (mut set, mut clear) = (map(flags), map(cleared));
    let atime = libc::MS_NOATIME | libc::MS_STRICTATIME | libc::MS_RELATIME;
    if (flags | cleared) & atime != 0 {
        clear |= MOUNT_ATTR_ATIME_MASK;
        if flags & libc::MS_NOATIME != 0 {
            set |= MOUNT_ATTR_NOATIME;
        } else if flags & libc::MS_STRICTATIME != 0 {
            set |= MOUNT_ATTR_STRICTATIME;
        }
    }
    (set, clear & !set | clear & MOUNT_ATTR_ATIME_MASK)
}

fn resolve_source(spec: &Spec, source: &Path) -> PathBuf {
    if source.is_absolute() {
        source.to_path_buf()
    } else {
        spec.bundle().join(source)
    }
}

/// `own_cgroups`: without a cgroup namespace of its own, the container's cgroup directory in each
/// v1 hierarchy (its directory name under /sys/fs/cgroup, the path): a `cgroup` mount then shows
/// those, as runc does. None when the container has a cgroup namespace (a fresh mount shows its
/// own cgroup as the root).
pub(crate) fn plan_mount(spec: &Spec, i: usize, m: &Mount, own_cgroups: Option<&[(String, PathBuf)]>, steps: &mut Vec<Step>) -> Result<()> {
    let field = format!("mounts[{i}]");
    let opts = parse_options(&format!("{field}.options"), m.options().as_deref().unwrap_or(&[]))?;
    let typ = m.typ().as_deref().unwrap_or("");
    let dest = m.destination();
    let dest_field = format!("{field}.destination");
    let shown = dest.display().to_string();
    let is_bind = typ == "bind" || opts.flags & libc::MS_BIND != 0;
    let at = || InRoot::new(&dest_field, dest);

    if typ == "cgroup" && !is_bind {
        plan_cgroup_mount(&dest_field, dest, &opts, own_cgroups, steps)?;
    } else if typ == "sysfs"
        && (spec.creates_namespace(LinuxNamespaceType::User) || crate::rootless::in_user_namespace())
        && !spec.creates_namespace(LinuxNamespaceType::Network)
    {
        // Only the owner of the network namespace may mount sysfs: a container with a user
        // namespace of its own on the host's (or a joined) network gets the host's /sys bound
        // read-only instead, as runc's rootless mode does.
        let ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        steps.push(Step {
            op: Op::Bind {
                source: cpath(&format!("{field}.source"), Path::new("/sys"))?,
                dest: at()?.no_symlinks(),
                create: Create::Dir,
                recursive: true,
                set: ro,
                clear: 0,
                rec_set: ro,
                rec_clear: 0,
            },
            what: format!("bind mount the host's /sys on {shown}, read-only (sysfs needs the network namespace's owner)"),
        });
        return Ok(());
    } else if is_bind {
        let source = m.source().as_ref().ok_or_else(|| Error::invalid(format!("{field}.source"), "null", "a bind mount needs a source"))?;
        let source = resolve_source(spec, source);
        let meta = std::fs::metadata(&source).map_err(|e| Error::invalid(format!("{field}.source"), source.display(), e.to_string()))?;
        let (set, clear) = mount_attrs(opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT), opts.cleared);
        steps.push(Step {
            op: Op::Bind {
                source: cpath(&format!("{field}.source"), &source)?,
                dest: at()?,
                create: if meta.is_dir() { Create::Dir } else { Create::File },
                recursive: opts.flags & libc::MS_REC != 0,
                set,
                clear,
                rec_set: opts.rec_set,
                rec_clear: opts.rec_clear,
            },
            what: format!("bind mount {} on {shown} ({:?})", source.display(), m.options().as_deref().unwrap_or(&[])),
        });
    } else {
        let source = m.source().as_ref().map(|s| s.display().to_string()).unwrap_or_else(|| typ.to_string());
        let mut data = opts.data.clone();
        drop_unmapped_owner(spec, &mut data);
        if let Some(label) = crate::security::lsm::mount_label(spec)? {
            data.push(format!("context={label:?}"));
        }
        let data = if data.is_empty() { None } else { Some(cstr(&format!("{field}.options"), data.join(","))?) };
        // procfs and sysfs only on a real directory (runc's rule): a symlinked /proc in an image
        // would otherwise put the container's procfs wherever it points.
        let dest_in_root = if matches!(typ, "proc" | "sysfs") { at()?.no_symlinks() } else { at()? };
        if typ == "tmpfs" && !opts.data.iter().any(|d| d.starts_with("mode=")) {
            if data.as_ref().is_some_and(|d| d.as_bytes().len() > TMPFS_DATA_MAX) {
                return Err(Error::invalid(
                    format!("{field}.options"),
                    m.options().as_deref().unwrap_or(&[]).join(","),
                    format!("tmpfs options longer than {TMPFS_DATA_MAX} bytes"),
                ));
            }
            steps.push(Step {
                op: Op::MountTmpfs { source: cstr(&format!("{field}.source"), &source)?, dest: dest_in_root, flags: opts.flags, data },
                what: format!("mount {source} on {shown} (tmpfs: the mode of the directory it covers)"),
            });
            return plan_mount_attrs(m, &opts, is_bind, &dest_field, dest, steps);
        }
        steps.push(Step {
            op: Op::Mount {
                source: Some(cstr(&format!("{field}.source"), &source)?),
                dest: dest_in_root,
                create: Create::Dir,
                fstype: Some(cstr(&format!("{field}.type"), typ)?),
                flags: opts.flags,
                data,
            },
            what: if matches!(typ, "proc" | "sysfs") {
                format!("mount {source} on {shown} (a directory, not a symlink)")
            } else {
                format!("mount {source} on {shown}")
            },
        });
    }
    plan_mount_attrs(m, &opts, is_bind, &dest_field, dest, steps)
}

/// Drops `uid=N` / `gid=N` mount options naming an id the container's new user namespace does
/// not map: the kernel refuses them (EINVAL). runc's rootless conversion drops devpts' `gid=5`
/// the same way; the files then belong to the container's root group.
fn drop_unmapped_owner(spec: &Spec, data: &mut Vec<String>) {
    let linux = spec.config().linux().as_ref();
    if !spec.creates_namespace(LinuxNamespaceType::User) {
        return;
    }
    let mapped = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>, id: u32| {
        maps.is_some_and(|maps| maps.iter().any(|m| id >= m.container_id() && id - m.container_id() < m.size()))
    };
    data.retain(|d| {
        let (key, maps) = match d.split_once('=') {
            Some(("uid", v)) => (v, linux.and_then(|l| l.uid_mappings().as_ref())),
            Some(("gid", v)) => (v, linux.and_then(|l| l.gid_mappings().as_ref())),
            _ => return true,
        };
        key.parse::<u32>().map_or(true, |id| mapped(maps, id))
    });
}

/// Longest tmpfs option text [`Op::MountTmpfs`] takes (the child copies it, after `mode=NNNN,`,
/// into a buffer on its stack).
pub(crate) const TMPFS_DATA_MAX: usize = 3072;

/// What follows any mount: recursive attributes and propagation.
fn plan_mount_attrs(m: &Mount, opts: &Options, is_bind: bool, dest_field: &str, dest: &Path, steps: &mut Vec<Step>) -> Result<()> {
    let shown = dest.display();
    let at = || InRoot::new(dest_field, dest);
    if !is_bind && (opts.rec_set != 0 || opts.rec_clear != 0) {
        steps.push(Step {
            op: Op::SetAttr { dest: at()?, set: opts.rec_set, clear: opts.rec_clear, recursive: true },
            what: format!("set recursive mount attributes of {shown} ({:?})", m.options().as_deref().unwrap_or(&[])),
        });
    }
    for flag in &opts.propagation {
        steps.push(Step {
            op: Op::Mount { source: None, dest: at()?, create: Create::No, fstype: None, flags: *flag, data: None },
            what: format!("set propagation of {shown}"),
        });
    }
    Ok(())
}

/// A `cgroup` mount: on v2 the unified hierarchy; on v1 and hybrid hosts a tmpfs with each v1
/// hierarchy (and, with a cgroup namespace, `unified`) below it, read-only when asked.
///
/// On v1 and hybrid hosts without a cgroup namespace (Docker's and podman's default there), a
/// fresh mount of a hierarchy would show the host's root cgroup: every host cgroup, and the
/// root's values, unlimited (a JVM sizing itself from `memory.limit_in_bytes` would read
/// 9223372036854771712). So, as runc does, each hierarchy's directory is a bind mount of the
/// container's own cgroup directory there (`own_cgroups`), and a hierarchy mounted with several
/// controllers (`cpu,cpuacct`) gets a symlink per controller. The cgroup2 tree of a hybrid host
/// is left out then (runc too): the container has no directory of its own in it.
fn plan_cgroup_mount(field: &str, dest: &Path, opts: &Options, own_cgroups: Option<&[(String, PathBuf)]>, steps: &mut Vec<Step>) -> Result<()> {
    use crate::cgroups::{host, Layout};
    let shown = dest.display();
    let flags = opts.flags & !libc::MS_REMOUNT;
    let host = host();
    let mount = |source: &str, sub: Option<&str>, fstype: &str, flags: libc::c_ulong, data: Option<&str>| -> Result<Op> {
        let path = match sub {
            Some(s) => dest.join(s),
            None => dest.to_path_buf(),
        };
        Ok(Op::Mount {
            source: Some(cstr(field, source)?),
            dest: InRoot::new(field, &path)?,
            create: Create::Dir,
            fstype: Some(cstr(field, fstype)?),
            flags,
            data: data.map(|d| cstr(field, d)).transpose()?,
        })
    };
    if host.layout == Layout::V2 {
        steps.push(Step { op: mount("cgroup2", None, "cgroup2", flags, None)?, what: format!("mount cgroup2 on {shown}") });
        return Ok(());
    }
    steps.push(Step {
        op: mount("tmpfs", None, "tmpfs", libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, Some("mode=755"))?,
        what: format!("mount tmpfs on {shown}"),
    });
    let sub_flags = flags & !libc::MS_BIND;
    match own_cgroups {
        None => {
            for h in &host.v1 {
                steps.push(Step {
                    op: mount("cgroup", Some(&h.dir), "cgroup", sub_flags, Some(&h.options))?,
                    what: format!("mount cgroup ({}) on {shown}/{}", h.options, h.dir),
                });
            }
            if host.layout == Layout::Hybrid {
                steps.push(Step { op: mount("cgroup2", Some("unified"), "cgroup2", sub_flags, None)?, what: format!("mount cgroup2 on {shown}/unified") });
            }
        }
        Some(own) => {
            let (set, clear) = mount_attrs(sub_flags | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, 0);
            for h in &host.v1 {
                let Some((_, dir)) = own.iter().find(|(name, _)| *name == h.dir) else { continue };
                steps.push(Step {
                    op: Op::Bind {
                        source: cpath(field, dir)?,
                        dest: InRoot::new(field, &dest.join(&h.dir))?,
                        create: Create::Dir,
                        recursive: true,
                        set,
                        clear,
                        rec_set: 0,
                        rec_clear: 0,
                    },
                    what: format!("bind mount the container's cgroup {} on {shown}/{}", dir.display(), h.dir),
                });
                if h.dir.contains(',') {
                    for controller in h.dir.split(',').filter(|c| !c.is_empty()) {
                        steps.push(Step {
                            op: Op::Symlink { dir: InRoot::new(field, dest)?, name: cstr(field, controller)?, target: cstr(field, &h.dir)? },
                            what: format!("symlink {shown}/{controller} -> {}", h.dir),
                        });
                    }
                }
            }
        }
    }
    if flags & libc::MS_RDONLY != 0 {
        steps.push(Step {
            op: Op::BindRemount { dest: InRoot::new(field, dest)?, flags: libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC },
            what: format!("remount {shown} read-only"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_table() {
        let o = parse_options("m", &["nosuid".into(), "ro".into(), "rbind".into(), "mode=755".into(), "rprivate".into(), "size=1k".into()]).expect("valid");
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_RDONLY | libc::MS_BIND | libc::MS_REC);
        assert_eq!(o.data, vec!["mode=755".to_string(), "size=1k".to_string()]);
        assert_eq!(o.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
        let rw = parse_options("m", &["ro".into(), "rw".into()]).expect("valid");
        assert_eq!(rw.flags, 0);
        let rec = parse_options("m", &["rbind".into(), "rro".into(), "rnosuid".into(), "rnoatime".into()]).expect("valid");
        assert_eq!(rec.rec_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME);
        assert_eq!(rec.rec_clear, MOUNT_ATTR_ATIME_MASK);
    }
}
