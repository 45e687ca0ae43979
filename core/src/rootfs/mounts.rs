//! The spec's `mounts`: option parsing (runc's table) and the steps for each mount.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;

use super::{in_container, mkdir_chain, propagation_flag};
use crate::error::{Error, Result};
use crate::plan::{cpath, cstr, join_in_root, Op, Step};
use crate::spec::Spec;

/// Mount options split into flags, propagation flags and the filesystem-specific data string.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub flags: libc::c_ulong,
    pub propagation: Vec<libc::c_ulong>,
    pub data: Vec<String>,
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
            "idmap" | "ridmap" => return Err(Error::Unsupported(format!("{field}: mount option {opt:?} is not supported yet"))),
            "tmpcopyup" => continue,
            _ => {
                o.data.push(opt.clone());
                continue;
            }
        };
        o.flags = (o.flags | set) & !clear;
    }
    Ok(o)
}

fn resolve_source(spec: &Spec, source: &Path) -> PathBuf {
    if source.is_absolute() {
        source.to_path_buf()
    } else {
        spec.bundle().join(source)
    }
}

pub(crate) fn plan_mount(spec: &Spec, rootfs: &Path, i: usize, m: &Mount, steps: &mut Vec<Step>) -> Result<()> {
    let field = format!("mounts[{i}]");
    let opts = parse_options(&format!("{field}.options"), m.options().as_deref().unwrap_or(&[]))?;
    let typ = m.typ().as_deref().unwrap_or("");
    let dest = m.destination();
    let target = join_in_root(rootfs, dest);
    let c_target = cpath(&format!("{field}.destination"), &target)?;
    let dest_shown = dest.display().to_string();
    let is_bind = typ == "bind" || opts.flags & libc::MS_BIND != 0;

    if typ == "cgroup" && !is_bind {
        return plan_cgroup_mount(rootfs, &target, &opts, steps);
    }
    if is_bind {
        let source = m.source().as_ref().ok_or_else(|| Error::invalid(format!("{field}.source"), "null", "a bind mount needs a source"))?;
        let source = resolve_source(spec, source);
        let meta = std::fs::metadata(&source).map_err(|e| Error::invalid(format!("{field}.source"), source.display(), e.to_string()))?;
        if meta.is_dir() {
            mkdir_chain(rootfs, &target, steps)?;
        } else {
            if let Some(parent) = target.parent() {
                mkdir_chain(rootfs, parent, steps)?;
            }
            steps.push(Step { op: Op::Touch { path: c_target.clone() }, what: format!("create bind mount target {dest_shown}") });
        }
        let bind_flags = opts.flags & (libc::MS_BIND | libc::MS_REC);
        steps.push(Step {
            op: Op::Mount { source: Some(cpath(&format!("{field}.source"), &source)?), target: c_target.clone(), fstype: None, flags: libc::MS_BIND | bind_flags, data: None },
            what: format!("bind mount {} on {dest_shown}", source.display()),
        });
        let rest = opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if rest != 0 {
            steps.push(Step { op: Op::BindRemount { target: c_target.clone(), flags: rest }, what: format!("remount {dest_shown} with {:?}", m.options().as_deref().unwrap_or(&[])) });
        }
    } else {
        mkdir_chain(rootfs, &target, steps)?;
        let source = m.source().as_ref().map(|s| s.display().to_string()).unwrap_or_else(|| typ.to_string());
        let data = if opts.data.is_empty() { None } else { Some(cstr(&format!("{field}.options"), opts.data.join(","))?) };
        steps.push(Step {
            op: Op::Mount {
                source: Some(cstr(&format!("{field}.source"), &source)?),
                target: c_target.clone(),
                fstype: Some(cstr(&format!("{field}.type"), typ)?),
                flags: opts.flags,
                data,
            },
            what: format!("mount {source} on {dest_shown}"),
        });
    }
    for flag in &opts.propagation {
        steps.push(Step {
            op: Op::Mount { source: None, target: c_target.clone(), fstype: None, flags: *flag, data: None },
            what: format!("set propagation of {}", in_container(rootfs, &target)),
        });
    }
    Ok(())
}

/// A `cgroup` mount: on v2 the unified hierarchy; on v1 and hybrid hosts a tmpfs with each v1
/// hierarchy (and `unified`) mounted below it, read-only when asked.
fn plan_cgroup_mount(rootfs: &Path, target: &Path, opts: &super::mounts::Options, steps: &mut Vec<Step>) -> Result<()> {
    use crate::cgroups::{host, Layout};
    let shown = in_container(rootfs, target);
    let c_target = cpath("cgroup mount", target)?;
    let flags = opts.flags & !libc::MS_REMOUNT;
    mkdir_chain(rootfs, target, steps)?;
    let host = host();
    if host.layout == Layout::V2 {
        steps.push(Step {
            op: Op::Mount { source: Some(cstr("cgroup", "cgroup2")?), target: c_target, fstype: Some(cstr("cgroup", "cgroup2")?), flags, data: None },
            what: format!("mount cgroup2 on {shown}"),
        });
        return Ok(());
    }
    steps.push(Step {
        op: Op::Mount {
            source: Some(cstr("cgroup", "tmpfs")?),
            target: c_target.clone(),
            fstype: Some(cstr("cgroup", "tmpfs")?),
            flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            data: Some(cstr("cgroup", "mode=755")?),
        },
        what: format!("mount tmpfs on {shown}"),
    });
    let sub_flags = flags & !libc::MS_BIND;
    for h in &host.v1 {
        let sub = target.join(&h.dir);
        steps.push(Step { op: Op::Mkdir { path: cpath("cgroup", &sub)?, mode: 0o755 }, what: format!("mkdir {shown}/{}", h.dir) });
        steps.push(Step {
            op: Op::Mount { source: Some(cstr("cgroup", "cgroup")?), target: cpath("cgroup", &sub)?, fstype: Some(cstr("cgroup", "cgroup")?), flags: sub_flags, data: Some(cstr("cgroup", &h.options)?) },
            what: format!("mount cgroup ({}) on {shown}/{}", h.options, h.dir),
        });
    }
    if host.layout == Layout::Hybrid {
        let sub = target.join("unified");
        steps.push(Step { op: Op::Mkdir { path: cpath("cgroup", &sub)?, mode: 0o755 }, what: format!("mkdir {shown}/unified") });
        steps.push(Step {
            op: Op::Mount { source: Some(cstr("cgroup", "cgroup2")?), target: cpath("cgroup", &sub)?, fstype: Some(cstr("cgroup", "cgroup2")?), flags: sub_flags, data: None },
            what: format!("mount cgroup2 on {shown}/unified"),
        });
    }
    if flags & libc::MS_RDONLY != 0 {
        steps.push(Step {
            op: Op::Mount { source: None, target: cpath("cgroup", target)?, fstype: None, flags: libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, data: None },
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
    }
}
