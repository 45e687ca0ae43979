//! A private /dev: the standard devices (null, zero, full, random, urandom, tty), the spec's
//! `linux.devices`, and the fd/stdin/stdout/stderr/ptmx links. Device nodes are made with mknodat
//! in the directory the child resolved inside the root (never following a link there), or
//! bind-mounted from the host inside a user namespace (where mknod is not allowed).

use std::path::Path;

use oci_spec::runtime::LinuxDeviceType;

use crate::error::{Error, Result};
use crate::plan::{cpath, cstr, Create, InRoot, Op, Step};
use crate::spec::Spec;

/// (path, major, minor): the devices every container gets.
const STANDARD: &[(&str, u32, u32)] =
    &[("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0)];

struct Node<'a> {
    path: &'a Path,
    kind: libc::mode_t,
    major: u32,
    minor: u32,
    mode: libc::mode_t,
    owner: Option<(u32, u32)>,
}

/// The directory holding `path` (inside the root) and the node's name in it.
fn dir_and_name(field: &str, path: &Path) -> Result<(InRoot, std::ffi::CString)> {
    let name = path.file_name().ok_or_else(|| Error::invalid(field, path.display(), "names no file"))?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    Ok((InRoot::new(field, dir)?, cpath(field, Path::new(name))?))
}

fn plan_node(node: &Node<'_>, user_ns: bool, steps: &mut Vec<Step>) -> Result<()> {
    let field = "linux.devices[].path";
    let shown = node.path.display();
    if user_ns {
        steps.push(Step {
            op: Op::Mount {
                source: Some(cpath(field, node.path)?),
                dest: InRoot::new(field, node.path)?,
                create: Create::File,
                fstype: None,
                flags: libc::MS_BIND,
                data: None,
            },
            what: format!("bind mount host {shown} (user namespace: no mknod)"),
        });
    } else {
        // mknodat(2) takes the kernel's 32-bit encoding (12-bit major, 20-bit minor); the child
        // passes the number as is, so a bigger one must be refused here, not truncated there.
        if node.major >= 1 << 12 || node.minor >= 1 << 20 {
            return Err(Error::invalid(
                "linux.devices[]",
                format!("{shown} {}:{}", node.major, node.minor),
                "major must be below 4096 and minor below 1048576 (what mknod(2) can encode)",
            ));
        }
        let (dir, name) = dir_and_name(field, node.path)?;
        steps.push(Step {
            op: Op::Mknod { dir, name, mode: node.kind | node.mode, dev: libc::makedev(node.major, node.minor) },
            what: format!("mknod {shown} ({}:{})", node.major, node.minor),
        });
        if let Some((uid, gid)) = node.owner {
            let (dir, name) = dir_and_name(field, node.path)?;
            steps.push(Step { op: Op::Chown { dir, name, uid, gid }, what: format!("chown {shown} to {uid}:{gid}") });
        }
    }
    Ok(())
}

pub(super) fn plan_dev(spec: &Spec, user_ns: bool, steps: &mut Vec<Step>) -> Result<()> {
    let devices = spec.config().linux().as_ref().and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
    for (path, major, minor) in STANDARD {
        if devices.iter().any(|d| d.path() == Path::new(path)) {
            continue;
        }
        plan_node(&Node { path: Path::new(path), kind: libc::S_IFCHR, major: *major, minor: *minor, mode: 0o666, owner: None }, user_ns, steps)?;
    }
    for (i, d) in devices.iter().enumerate() {
        let field = format!("linux.devices[{i}]");
        if !d.path().starts_with("/dev/") || d.path().components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(Error::invalid(format!("{field}.path"), d.path().display(), "devices must live under /dev"));
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => return Err(Error::invalid(format!("{field}.type"), "a", "a device node needs type c, b, u or p")),
        };
        let (major, minor) = (u32::try_from(d.major()), u32::try_from(d.minor()));
        let (Ok(major), Ok(minor)) = (major, minor) else {
            return Err(Error::invalid(format!("{field}.major/minor"), format!("{}:{}", d.major(), d.minor()), "out of range"));
        };
        let owner = match (d.uid(), d.gid()) {
            (None, None) => None,
            (u, g) => Some((u.unwrap_or(0), g.unwrap_or(0))),
        };
        let node = Node { path: d.path(), kind, major, minor, mode: d.file_mode().unwrap_or(0o666) & 0o7777, owner };
        plan_node(&node, user_ns, steps)?;
    }

    let mounts = spec.config().mounts().as_deref().unwrap_or(&[]);
    let mut links =
        vec![("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"), ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr")];
    if mounts.iter().any(|m| m.destination() == Path::new("/dev/pts")) && !devices.iter().any(|d| d.path() == Path::new("/dev/ptmx")) {
        links.push(("pts/ptmx", "/dev/ptmx"));
    }
    for (target, link) in links {
        let (dir, name) = dir_and_name("symlink", Path::new(link))?;
        steps.push(Step { op: Op::Symlink { dir, name, target: cstr("symlink", target)? }, what: format!("symlink {link} -> {target}") });
    }
    Ok(())
}
