//! User and group names looked up as the container will see them, as `docker run -u NAME` does:
//! in the container's /etc/passwd and /etc/group. The files are the image's, so an attacker's:
//! they are opened confined to the root they live in (openat2 RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS: a symlink to the host's /etc/shadow resolves inside the root), must be
//! regular files (a fifo or /dev/zero cannot block or exhaust us) and are read up to 1 MiB.
//! Where a bind mount covers /etc (the embedded default root binds the host's /etc), the file is
//! read from the mount's source, as the container will see it.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::spec::Spec;

/// The most of /etc/passwd or /etc/group that is read.
const MAX_SIZE: u64 = 1 << 20;

/// Where `path` (absolute, in the container) is read from: (a directory on the host that plays
/// the container's root for it, the rest of the path inside it), or None when a file system this
/// side cannot read covers it (a tmpfs over /etc: the file is not there for the container
/// either). The last mount whose destination contains `path` wins (mounts apply in order);
/// none: the root filesystem. A bind mount of the file itself is read from its source's
/// directory.
fn source_of(spec: &Spec, path: &Path) -> Result<Option<(PathBuf, PathBuf)>> {
    let mut best: Option<Option<(PathBuf, PathBuf)>> = None;
    for m in spec.config().mounts().iter().flatten() {
        let Ok(rest) = path.strip_prefix(m.destination()) else { continue };
        let bind = m.typ().as_deref() == Some("bind") || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind");
        best = Some(match (bind, m.source()) {
            (true, Some(source)) => {
                let source = if source.is_absolute() { source.clone() } else { spec.bundle().join(source) };
                if rest.as_os_str().is_empty() {
                    // The file itself: its directory, then its name.
                    match (source.parent(), source.file_name()) {
                        (Some(dir), Some(name)) => Some((dir.to_path_buf(), PathBuf::from(name))),
                        _ => None,
                    }
                } else {
                    Some((source, rest.to_path_buf()))
                }
            }
            _ => None,
        });
    }
    match best {
        Some(b) => Ok(b),
        None => Ok(Some((spec.rootfs()?, path.strip_prefix("/").unwrap_or(path).to_path_buf()))),
    }
}

/// Opens `rest` inside `root` (O_PATH, confined to it); None when it does not exist.
fn open_in(root: &Path, rest: &Path, what: &dyn Fn(nix::errno::Errno) -> Error) -> Result<Option<std::os::fd::OwnedFd>> {
    let dir = nix::fcntl::open(root, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).map_err(what)?;
    let how = OpenHow::new().flags(OFlag::O_PATH | OFlag::O_CLOEXEC).resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match nix::fcntl::openat2(dir.as_fd(), rest, how) {
        Ok(fd) => Ok(Some(fd)),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(e) => Err(what(e)),
    }
}

/// The text of the container's `path` (/etc/passwd or /etc/group); None when it does not exist.
fn read_container_file(spec: &Spec, path: &str) -> Result<Option<String>> {
    let Some((root, rest)) = source_of(spec, Path::new(path))? else { return Ok(None) };
    let what = |e: nix::errno::Errno| Error::Sys { op: format!("read the container's {path} (in {})", root.display()), errno: e };
    // O_PATH first: opening a device node the image put there has effects of its own (a
    // watchdog starts, a tape rewinds), so the file is only opened for reading once fstat says
    // it is a regular file, through the O_PATH fd (no second path lookup).
    let overlay = if root == spec.rootfs()? { spec.root_overlay()? } else { None };
    let (pathfd, st) = match overlay {
        None => match open_in(&root, &rest, &what)? {
            Some(fd) => {
                let st = nix::sys::stat::fstat(&fd).map_err(what)?;
                (fd, st)
            }
            None => return Ok(None),
        },
        // A copy-on-write root is not mounted on this side: the file is in the topmost layer
        // that has it, unless a layer above deletes it (an overlayfs whiteout: a character
        // device 0:0). Symlinks resolve within each layer.
        Some(o) => {
            let mut found = None;
            for layer in o.layers() {
                let what = |e: nix::errno::Errno| Error::Sys { op: format!("read the container's {path} (in layer {})", layer.display()), errno: e };
                if let Some(fd) = open_in(layer, &rest, &what)? {
                    let st = nix::sys::stat::fstat(&fd).map_err(what)?;
                    if st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0 {
                        return Ok(None);
                    }
                    found = Some((fd, st));
                    break;
                }
            }
            match found {
                Some(f) => f,
                None => return Ok(None),
            }
        }
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Error::invalid("user", path, "the container's file is not a regular file"));
    }
    let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&pathfd));
    let fd = nix::fcntl::open(proc_path.as_str(), OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK, Mode::empty()).map_err(what)?;
    let file = std::fs::File::from(fd);
    let mut text = String::new();
    file.take(MAX_SIZE).read_to_string(&mut text).map_err(|e| Error::Io { op: "read the container's user database", path: PathBuf::from(path), source: e })?;
    Ok(Some(text))
}

/// (name, id, primary group) of each line `name:x:id:gid:...` (for /etc/group: gid in the id,
/// no primary group).
fn entries(text: &str) -> impl Iterator<Item = (&str, u32, Option<u32>)> {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        let id = f.next()?.trim().parse().ok()?;
        let gid = f.next().and_then(|g| g.trim().parse().ok());
        Some((name, id, gid))
    })
}

/// `USER[:GROUP]` (names or numbers, as `docker run -u`) as (uid, gid) in the container of
/// `spec`: a name is looked up in its /etc/passwd (the gid defaults to the user's primary
/// group) or /etc/group; a number is taken as is (the gid then defaults to the uid's primary
/// group if it has an entry, else to the uid).
pub fn lookup_user(spec: &Spec, field: &str, text: &str) -> Result<(u32, u32)> {
    let (user, group) = match text.split_once(':') {
        Some((u, g)) => (u.trim(), Some(g.trim())),
        None => (text.trim(), None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(Error::invalid(field, format!("{text:?}"), "expected USER or USER:GROUP (names or numbers)"));
    }
    let numeric_user: Option<u32> = user.parse().ok();
    let numeric_group: Option<u32> = group.and_then(|g| g.parse().ok());
    let passwd = if numeric_user.is_none() || (group.is_none()) { read_container_file(spec, "/etc/passwd")? } else { None };
    let (uid, primary) = match numeric_user {
        Some(uid) => (uid, passwd.as_deref().and_then(|t| entries(t).find(|e| e.1 == uid)).and_then(|e| e.2)),
        None => {
            let text_p = passwd
                .as_deref()
                .ok_or_else(|| Error::invalid(field, format!("{text:?}"), "a user name needs the container's /etc/passwd, and it has none"))?;
            let e = entries(text_p)
                .find(|e| e.0 == user)
                .ok_or_else(|| Error::invalid(field, format!("{text:?}"), format!("no user {user:?} in the container's /etc/passwd")))?;
            (e.1, e.2)
        }
    };
    let gid = match (group, numeric_group) {
        (None, _) => primary.unwrap_or(uid),
        (Some(_), Some(gid)) => gid,
        (Some(name), None) => {
            let groups = read_container_file(spec, "/etc/group")?
                .ok_or_else(|| Error::invalid(field, format!("{text:?}"), "a group name needs the container's /etc/group, and it has none"))?;
            let found = entries(&groups).find(|e| e.0 == name).map(|e| e.1);
            found.ok_or_else(|| Error::invalid(field, format!("{text:?}"), format!("no group {name:?} in the container's /etc/group")))?
        }
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SpecBuilder;

    fn image(passwd: &str, group: &str) -> (tempfile::TempDir, Spec) {
        let dir = tempfile::tempdir().expect("tempdir");
        let etc = dir.path().join("rootfs/etc");
        std::fs::create_dir_all(&etc).expect("mkdir");
        std::fs::write(etc.join("passwd"), passwd).expect("passwd");
        std::fs::write(etc.join("group"), group).expect("group");
        let spec = SpecBuilder::new(["true"]).rootfs(dir.path().join("rootfs")).build();
        (dir, spec)
    }

    #[test]
    fn names_and_numbers_as_docker_takes_them() {
        let (_d, spec) = image(
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n# note\nnobody:x:65534:65534::/:/bin/false\n",
            "root:x:0:\nstaff:x:50:app\napp:x:1001:\n",
        );
        assert_eq!(lookup_user(&spec, "user", "app").expect("app"), (1000, 1001));
        assert_eq!(lookup_user(&spec, "user", "nobody").expect("nobody"), (65534, 65534));
        assert_eq!(lookup_user(&spec, "user", "app:staff").expect("app:staff"), (1000, 50));
        assert_eq!(lookup_user(&spec, "user", "1000").expect("1000"), (1000, 1001), "a known uid gets its primary group");
        assert_eq!(lookup_user(&spec, "user", "4242").expect("4242"), (4242, 4242));
        assert_eq!(lookup_user(&spec, "user", "4242:7").expect("4242:7"), (4242, 7));
        assert_eq!(lookup_user(&spec, "user", "0:staff").expect("0:staff"), (0, 50));
        let e = lookup_user(&spec, "user", "bob").expect_err("bob").to_string();
        assert!(e.contains("no user \"bob\" in the container's /etc/passwd"), "{e}");
        assert!(lookup_user(&spec, "user", "app:wheel").expect_err("wheel").to_string().contains("no group"));
        assert!(lookup_user(&spec, "user", ":x").is_err() && lookup_user(&spec, "user", "app:").is_err());
    }

    #[test]
    fn the_file_the_container_will_see_a_bind_of_it_or_nothing_under_a_tmpfs() {
        let (dir, spec) = image("root:x:0:0::/:/bin/sh\n", "root:x:0:\n");
        // A bind mount of a passwd file (docker -v ./passwd:/etc/passwd).
        let own = dir.path().join("my-passwd");
        std::fs::write(&own, "mine:x:4242:4243::/:/bin/sh\n").expect("write");
        let mut m = oci_spec::runtime::Mount::default();
        m.set_destination("/etc/passwd".into());
        m.set_typ(Some("bind".into()));
        m.set_source(Some(own));
        let bound = SpecBuilder::from_spec(spec.clone()).mount(m).build();
        assert_eq!(lookup_user(&bound, "user", "mine").expect("mine"), (4242, 4243));
        // A tmpfs over /etc: the image's files are hidden from the container, so from us too.
        let mut t = oci_spec::runtime::Mount::default();
        t.set_destination("/etc".into());
        t.set_typ(Some("tmpfs".into()));
        t.set_source(Some("tmpfs".into()));
        let hidden = SpecBuilder::from_spec(spec).mount(t).build();
        assert!(lookup_user(&hidden, "user", "root").expect_err("hidden").to_string().contains("has none"));
    }

    #[test]
    fn a_hostile_image_cannot_make_us_read_the_hosts_files_or_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        let etc = dir.path().join("rootfs/etc");
        std::fs::create_dir_all(&etc).expect("mkdir");
        // passwd -> the host's /etc/passwd (absolute): resolved inside the root, where it points
        // at itself (ELOOP), never at the host's file.
        std::os::unix::fs::symlink("/etc/passwd", etc.join("passwd")).expect("symlink");
        let spec = SpecBuilder::new(["true"]).rootfs(dir.path().join("rootfs")).build();
        let e = lookup_user(&spec, "user", "root").expect_err("the host's root must not be found").to_string();
        assert!(e.contains("/etc/passwd") && e.contains("ELOOP"), "{e}");
        // passwd -> /etc/real (absolute, inside the root): that is what the container sees.
        std::fs::remove_file(etc.join("passwd")).expect("rm");
        std::fs::write(etc.join("real"), "inside:x:7:8::/:/bin/sh\n").expect("real");
        std::os::unix::fs::symlink("/etc/real", etc.join("passwd")).expect("symlink");
        assert_eq!(lookup_user(&spec, "user", "inside").expect("inside"), (7, 8));
        assert!(lookup_user(&spec, "user", "root").is_err(), "the host's root was found");
        // passwd -> ../../../../etc/passwd: `..` stops at the root too.
        std::fs::remove_file(etc.join("passwd")).expect("rm");
        std::os::unix::fs::symlink("../../../../../../etc/passwd", etc.join("passwd")).expect("symlink");
        assert!(lookup_user(&spec, "user", "root").is_err());
        // A fifo does not block: it is not a regular file.
        std::fs::remove_file(etc.join("passwd")).expect("rm");
        nix::unistd::mkfifo(&etc.join("passwd"), Mode::from_bits_truncate(0o644)).expect("mkfifo");
        let e = lookup_user(&spec, "user", "root").expect_err("fifo").to_string();
        assert!(e.contains("not a regular file"), "{e}");
        // A device node is refused before it is opened (as root, who can make one).
        if nix::unistd::geteuid().is_root() {
            std::fs::remove_file(etc.join("passwd")).expect("rm");
            nix::sys::stat::mknod(&etc.join("passwd"), nix::sys::stat::SFlag::S_IFCHR, Mode::from_bits_truncate(0o644), nix::sys::stat::makedev(1, 3))
                .expect("mknod");
            let e = lookup_user(&spec, "user", "root").expect_err("device").to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
    }
}
