//! Trust checks on what the runtime reads back from disk and acts on (the seccomp cache, the
//! default root's skeleton): it must be owned by the runtime's own user and writable by nobody
//! else, and be reached without following a symlink at its last component. Anything another user
//! could have written is refused: a replaced seccomp cache entry would unconfine the next
//! container.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode, SFlag};

/// Why a file or directory cannot be trusted (for a message), or Ok.
pub(crate) fn check_stat(st: &FileStat, want_dir: bool) -> Result<(), String> {
    let euid = nix::unistd::geteuid().as_raw();
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if want_dir && kind != SFlag::S_IFDIR {
        return Err("not a directory".into());
    }
    if !want_dir && kind != SFlag::S_IFREG {
        return Err("not a regular file".into());
    }
    if st.st_uid != euid {
        return Err(format!("owned by uid {}, not {euid}", st.st_uid));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(format!("writable by group or others (mode {:o})", st.st_mode & 0o7777));
    }
    Ok(())
}

/// Same check from std's metadata (of the path itself, not what a symlink points to).
pub(crate) fn check_path(path: &Path, want_dir: bool) -> Result<(), String> {
    let m = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    let euid = nix::unistd::geteuid().as_raw();
    if m.file_type().is_symlink() {
        return Err("a symbolic link".into());
    }
    if want_dir != m.is_dir() {
        return Err(if want_dir { "not a directory".into() } else { "not a regular file".into() });
    }
    if m.uid() != euid {
        return Err(format!("owned by uid {}, not {euid}", m.uid()));
    }
    if m.mode() & 0o022 != 0 {
        return Err(format!("writable by group or others (mode {:o})", m.mode() & 0o7777));
    }
    Ok(())
}

/// Opens directory `dir` (made 0700 when missing) if it can be trusted.
pub(crate) fn open_private_dir(dir: &Path) -> Result<OwnedFd, String> {
    if let Err(e) = std::fs::DirBuilder::new().recursive(true).create(dir.parent().unwrap_or(Path::new("/"))) {
        return Err(e.to_string());
    }
    match nix::unistd::mkdir(dir, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(e.desc().to_string()),
    }
    let fd =
        nix::fcntl::open(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| e.desc().to_string())?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| e.desc().to_string())?;
    check_stat(&st, true)?;
    Ok(fd)
}

/// Opens regular file `name` in the trusted directory `dir` for reading if it can be trusted
/// (no symlink followed, owned by us, writable by nobody else) and is at most `max` bytes.
pub(crate) fn open_private_file(dir: &impl AsFd, name: &str, max: u64) -> Result<std::fs::File, String> {
    let fd = nix::fcntl::openat(dir, name, OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| e.desc().to_string())?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| e.desc().to_string())?;
    check_stat(&st, false)?;
    if st.st_size as u64 > max {
        return Err(format!("larger than {max} bytes"));
    }
    Ok(std::fs::File::from(fd))
}

/// Writes `data` to `name` in the trusted directory `dir`, atomically (a fresh 0600 temporary
/// file, then rename).
pub(crate) fn write_private_file(dir: &impl AsFd, name: &str, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let unique = format!(".tmp-{name}.{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')', ' '], "");
    let fd = nix::fcntl::openat(
        dir,
        unique.as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    let mut f = std::fs::File::from(fd);
    let written = f.write_all(data).and_then(|()| nix::fcntl::renameat(dir, unique.as_str(), dir, name).map_err(std::io::Error::from));
    if written.is_err() {
        let _ = nix::unistd::unlinkat(dir, unique.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
    written
}
