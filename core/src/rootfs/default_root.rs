//! The embedded default root: used when no rootfs is given (ad-hoc `rcontainer run`, the
//! bindings). A read-only view of the host's /usr, /bin, /sbin, /lib*, /etc with a fresh /proc,
//! /dev, /sys, /tmp and /run, so a container runs on any fresh machine without an image.
//!
//! On disk it is only a skeleton of empty directories and symlinks (`<cache>/default-root`, see
//! [`crate::state::cache`]),
//! shared by all containers: the bind mounts exist only in each container's mount namespace, and
//! the root is remounted read-only inside, so no container can change it. The skeleton is used
//! only when it is owned by this user and writable by nobody else.
//!
//! What a default container sees of the host: /usr, /bin, /sbin, /lib*, /etc, read-only, nosuid
//! and nodev down to every mount below them (mount_setattr AT_RECURSIVE), with the host's
//! secrets hidden ([`host_secrets`]: every entry of /etc not readable by everyone, and
//! [`SECRETS`]: password hashes, SSH host keys, TLS and other private keys, stored
//! credentials). Nothing else of the host's filesystem.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;

use crate::error::{Error, Result};

/// Host directories shown read-only (when present; symlinks such as a merged-/usr /bin are copied as symlinks).
pub const HOST_DIRS: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"];
const FRESH_DIRS: &[&str] = &["proc", "dev", "sys", "tmp", "run", "root"];

/// Host files and directories under /etc that a default container must not read (masked: an
/// empty file or directory in their place), when they exist, even where a host made them
/// readable by everyone. SSH host keys (`/etc/ssh/*_key`) and every entry of /etc not readable
/// by everyone are found at prepare time ([`host_secrets`]).
pub const SECRETS: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/security/opasswd",
    "/etc/ssl/private",
    "/etc/pki/tls/private",
    "/etc/krb5.keytab",
    "/etc/ipsec.secrets",
    "/etc/ppp/chap-secrets",
    "/etc/ppp/pap-secrets",
    "/etc/wireguard",
    "/etc/NetworkManager/system-connections",
    "/etc/letsencrypt/archive",
    "/etc/letsencrypt/keys",
    "/etc/credstore",
    "/etc/credstore.encrypted",
    "/etc/sudoers",
    "/etc/sudoers.d",
];

/// Most private entries of /etc a default container hides (each is a mount in its setup).
const MAX_PRIVATE: usize = 512;

/// What a default container must not read of the host's /etc: [`SECRETS`] that exist, SSH host
/// private keys, and every file or directory under /etc that is not readable by everyone (a
/// container's root has CAP_DAC_OVERRIDE: the modes alone would not stop it). A private
/// directory is hidden whole. Too many of them (over [`MAX_PRIVATE`]) is an error that says so.
pub fn host_secrets() -> Result<Vec<String>> {
    let mut out: Vec<String> = SECRETS.iter().filter(|p| fs::symlink_metadata(p).is_ok()).map(|p| p.to_string()).collect();
    if let Ok(entries) = fs::read_dir("/etc/ssh") {
        let mut keys: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with("ssh_host_") && n.ends_with("_key"))
            .map(|n| format!("/etc/ssh/{n}"))
            .collect();
        keys.sort();
        out.extend(keys);
    }
    private_entries(Path::new("/etc"), 0, &mut out);
    out.sort();
    out.dedup();
    // A path below a hidden directory is hidden already.
    let dirs: Vec<String> = out.iter().filter(|p| Path::new(p.as_str()).is_dir()).map(|p| format!("{p}/")).collect();
    out.retain(|p| !dirs.iter().any(|d| p.starts_with(d.as_str())));
    if out.len() > MAX_PRIVATE {
        return Err(Error::Unsupported(format!(
            "the default root would have to hide {} private entries of the host's /etc (at most {MAX_PRIVATE}): give a root filesystem instead (--rootfs DIR, SpecBuilder::rootfs)",
            out.len()
        )));
    }
    Ok(out)
}

/// Entries under `dir` that are not readable by everyone (directories: not readable or not
/// searchable), not descending into those; symlinks are left alone (what they point to is
/// checked where it lives, or is outside /etc and not shown).
fn private_entries(dir: &Path, depth: u32, out: &mut Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    if depth > 8 || out.len() > MAX_PRIVATE {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        let mode = meta.permissions().mode();
        let path = e.path();
        if meta.is_dir() {
            if mode & 0o005 != 0o005 {
                out.push(path.to_string_lossy().into_owned());
            } else {
                private_entries(&path, depth + 1, out);
            }
        } else if !meta.file_type().is_symlink() && mode & 0o004 == 0 {
            out.push(path.to_string_lossy().into_owned());
        }
    }
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(dest));
    m.set_typ(Some(typ.to_string()));
    m.set_source(Some(PathBuf::from(source)));
    m.set_options(Some(options.iter().map(|s| s.to_string()).collect()));
    m
}

/// Makes sure the skeleton exists in the cache directory `cache` (made 0700 when missing, and
/// used only when it is ours and private); returns its path and the mounts to use.
pub fn prepare(cache: &Path) -> Result<(PathBuf, Vec<Mount>)> {
    let fd = crate::security::trust::open_private_dir(cache).map_err(|reason| Error::Untrusted { path: cache.to_path_buf(), reason })?;
    // The skeleton is the root of containers whose root is a mapped uid (user namespaces): the
    // cache must be searchable by others (0711: not listable, not writable).
    let mode = nix::sys::stat::fstat(&fd).map_err(Error::sys(format!("stat {}", cache.display())))?.st_mode & 0o7777;
    if mode & 0o011 != 0o011 {
        nix::sys::stat::fchmod(&fd, nix::sys::stat::Mode::from_bits_truncate((mode | 0o711) & 0o755))
            .map_err(Error::sys(format!("chmod {}", cache.display())))?;
    }
    let dir = crate::state::cache::default_root_dir(cache);
    if !dir.join("proc").is_dir() {
        build_skeleton(cache, &dir)?;
    }
    // Its directories and symlinks decide what the container sees: only ours will do.
    crate::security::trust::check_path(&dir, true).map_err(|reason| Error::Untrusted { path: dir.clone(), reason })?;
    let mut mounts = Vec::new();
    for name in HOST_DIRS {
        let host = Path::new("/").join(name);
        match fs::symlink_metadata(&host) {
            // ro/nosuid/nodev for the top mount, and the same for every mount below it (rro...):
            // a submount of the host's /etc or /usr must not be writable from the container.
            Ok(m) if m.is_dir() => {
                mounts.push(mount(&format!("/{name}"), "bind", &host.to_string_lossy(), &["rbind", "ro", "nosuid", "nodev", "rro", "rnosuid", "rnodev"]))
            }
            _ => {}
        }
    }
    mounts.push(mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]));
    mounts.push(mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]));
    mounts.push(mount("/dev/pts", "devpts", "devpts", &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]));
    mounts.push(mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]));
    mounts.push(mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]));
    mounts.push(mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]));
    mounts.push(mount("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", "ro"]));
    mounts.push(mount("/tmp", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=1777"]));
    mounts.push(mount("/run", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=755"]));
    mounts.push(mount("/root", "tmpfs", "tmpfs", &["nosuid", "nodev", "mode=700"]));
    Ok((dir, mounts))
}

fn build_skeleton(cache: &Path, dir: &Path) -> Result<()> {
    // Temporaries of builders that were killed.
    crate::state::cache::collect_stale(cache);
    let tmp = cache.join(format!(".tmp-default-root-{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], ""));
    let _ = fs::remove_dir_all(&tmp);
    fs::DirBuilder::new().mode(0o755).create(&tmp).map_err(Error::io("create", &tmp))?;
    let fill = || -> Result<()> {
        for name in HOST_DIRS {
            let host = Path::new("/").join(name);
            let Ok(meta) = fs::symlink_metadata(&host) else { continue };
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&host).map_err(Error::io("readlink", &host))?;
                std::os::unix::fs::symlink(&target, tmp.join(name)).map_err(Error::io("symlink", tmp.join(name)))?;
            } else if meta.is_dir() {
                fs::DirBuilder::new().mode(0o755).create(tmp.join(name)).map_err(Error::io("mkdir", tmp.join(name)))?;
            }
        }
        for name in FRESH_DIRS {
            fs::DirBuilder::new().mode(0o755).create(tmp.join(name)).map_err(Error::io("mkdir", tmp.join(name)))?;
        }
        Ok(())
    };
    let filled = fill();
    if filled.is_ok() && fs::rename(&tmp, dir).is_ok() {
        return Ok(());
    }
    // Lost a race with another process building it (or failed): use theirs if it is there.
    let _ = fs::remove_dir_all(&tmp);
    filled?;
    if dir.join("proc").is_dir() {
        Ok(())
    } else {
        Err(Error::io("create default root", dir)(std::io::Error::from_raw_os_error(libc::EEXIST)))
    }
}
