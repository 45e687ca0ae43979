//! Paths inside the container's root, resolved by the child at the moment of use, confined to
//! the root (CVE-2021-30465, CVE-2024-21626 classes): openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS) where the kernel has it (Linux 5.6+), else a walk of our own with the
//! same guarantee.
//!
//! The walk opens one component at a time with O_PATH | O_NOFOLLOW relative to the fd of the
//! directory before it, so the kernel never follows a link for us: a symlink's target is read as
//! text (through the link's own fd) and resolved the same way, from the root when absolute; `..`
//! goes back to the fd we came from, and never above the root. Magic links (/proc/self/fd/N) are
//! therefore read as text too, never jumped through. Raw syscalls on the child's stack only.

use std::ffi::CStr;

use super::raw;
use crate::plan::Create;

/// Most directories a walk holds open at once (the depth of the path after `..`), and most
/// symlinks it follows (the kernel's own limit, 40).
const MAX_DEPTH: usize = 128;
const MAX_LINKS: u32 = 40;

/// Resolves `path` (relative) from `root`, opening the result with `flags` (O_PATH or an access
/// mode; O_CLOEXEC is added). `no_symlinks` refuses any symlink on the way (ELOOP).
/// `use_openat2` is cleared when the kernel (or valgrind) does not know openat2.
pub(super) fn open_in_root(root: i32, path: &CStr, flags: i32, no_symlinks: bool, use_openat2: &mut bool) -> Result<i32, i32> {
    if root < 0 {
        return Err(libc::EBADF);
    }
    if *use_openat2 {
        let mut resolve = raw::RESOLVE_IN_ROOT | raw::RESOLVE_NO_MAGICLINKS;
        if no_symlinks {
            resolve |= raw::RESOLVE_NO_SYMLINKS;
        }
        let how = raw::OpenHow { flags: (flags | libc::O_CLOEXEC) as u64, mode: 0, resolve };
        let mut tries = 0;
        loop {
            match raw::openat2(root, path, &how) {
                // A concurrent rename made the kernel give up its `..` check: again.
                Err(libc::EAGAIN | libc::EINTR) if tries < 64 => tries += 1,
                Err(libc::ENOSYS) => {
                    *use_openat2 = false;
                    break;
                }
                r => return r,
            }
        }
    }
    let fd = walk(root, path, no_symlinks, Create::No)?;
    if flags & libc::O_PATH != 0 {
        return Ok(fd);
    }
    // Another access mode: reopen what we found through its fd, not through the path.
    let mut buf = [0u8; 32];
    let r = raw::openat(libc::AT_FDCWD, super::fd_path(fd, &mut buf), flags | libc::O_CLOEXEC, 0);
    raw::close(fd);
    r
}

fn close_all(stack: &[i32], depth: usize, root: i32) {
    let mut i = 0;
    while i < depth {
        if stack[i] != root {
            raw::close(stack[i]);
        }
        i += 1;
    }
}

/// An O_PATH fd on `path` inside `root`, creating what is missing as `create` says: directories
/// (0755) for every missing component, and for [`Create::File`] an empty file (0644) as the last
/// one. The walk follows symlinks as text inside the root, so a dangling symlink's target is
/// created inside the root too (as runc does), and each creation is relative to the fd of its
/// resolved parent, never through a path.
pub(super) fn create_in_root(root: i32, path: &CStr, no_symlinks: bool, create: Create) -> Result<i32, i32> {
    if root < 0 {
        return Err(libc::EBADF);
    }
    walk(root, path, no_symlinks, create)
}

/// Makes the missing component `name` in `dir`: a directory, or (the last one, for
/// [`Create::File`]) an empty file. Already there (a race) is fine.
pub(super) fn make(dir: i32, name: &CStr, file: bool) -> Result<(), i32> {
    let r = if file {
        raw::openat(dir, name, libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0o644).map(|fd| {
            raw::close(fd);
            0
        })
    } else {
        raw::mkdirat(dir, name, 0o755)
    };
    match r {
        Ok(_) | Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The walk: an O_PATH fd on what `path` names inside `root` (creating as `create` says).
fn walk(root: i32, path: &CStr, no_symlinks: bool, create: Create) -> Result<i32, i32> {
    // What is left to resolve sits right-aligned in `rest` (rest[start..]): a symlink's target is
    // put in front of it without moving it.
    let mut rest = [0u8; 4096];
    let bytes = path.to_bytes();
    if bytes.len() > rest.len() {
        return Err(libc::ENAMETOOLONG);
    }
    let mut start = rest.len() - bytes.len();
    let mut i = 0;
    while i < bytes.len() {
        rest[start + i] = bytes[i];
        i += 1;
    }
    // stack[0] is the root; stack[depth - 1] the directory we are in.
    let mut stack = [-1i32; MAX_DEPTH];
    stack[0] = root;
    let mut depth = 1;
    let mut links = 0;
    let mut name = [0u8; 256];
    loop {
        while start < rest.len() && rest[start] == b'/' {
            start += 1;
        }
        if start == rest.len() {
            break;
        }
        let mut end = start;
        while end < rest.len() && rest[end] != b'/' {
            end += 1;
        }
        let len = end - start;
        let is_dot = len == 1 && rest[start] == b'.';
        let is_dotdot = len == 2 && rest[start] == b'.' && rest[start + 1] == b'.';
        if len >= name.len() {
            close_all(&stack, depth, root);
            return Err(libc::ENAMETOOLONG);
        }
        let mut j = 0;
        while j < len {
            name[j] = rest[start + j];
            j += 1;
        }
        name[len] = 0;
        start = end;
        if is_dot {
            continue;
        }
        if is_dotdot {
            if depth > 1 {
                depth -= 1;
                raw::close(stack[depth]);
            }
            continue;
        }
        // SAFETY: name[..=len] holds the component (no NUL: it came from a CStr) and a NUL.
        let cname = unsafe { CStr::from_bytes_with_nul_unchecked(&name[..=len]) };
        let dir = stack[depth - 1];
        let mut opened = raw::openat(dir, cname, libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0);
        if opened == Err(libc::ENOENT) && create != Create::No {
            let mut k = start;
            while k < rest.len() && rest[k] == b'/' {
                k += 1;
            }
            let last = k == rest.len();
            opened =
                make(dir, cname, last && create == Create::File).and_then(|()| raw::openat(dir, cname, libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0));
        }
        let fd = match opened {
            Ok(fd) => fd,
            Err(e) => {
                close_all(&stack, depth, root);
                return Err(e);
            }
        };
        let mode = match raw::fstatat(fd, c"", libc::AT_EMPTY_PATH) {
            Ok(st) => st.mode,
            Err(e) => {
                raw::close(fd);
                close_all(&stack, depth, root);
                return Err(e);
            }
        };
        if mode & libc::S_IFMT == libc::S_IFLNK {
            links += 1;
            let mut target = [0u8; 4096];
            let n = raw::readlink_fd(fd, &mut target);
            raw::close(fd);
            let n = match n {
                _ if no_symlinks || links > MAX_LINKS => Err(libc::ELOOP),
                Ok(n) if n == 0 || n >= start => Err(libc::ENAMETOOLONG),
                r => r,
            };
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    close_all(&stack, depth, root);
                    return Err(e);
                }
            };
            // rest = target + "/" + rest
            start -= 1;
            rest[start] = b'/';
            start -= n;
            let mut k = 0;
            while k < n {
                rest[start + k] = target[k];
                k += 1;
            }
            if target[0] == b'/' {
                // Absolute: from the root again.
                while depth > 1 {
                    depth -= 1;
                    raw::close(stack[depth]);
                }
            }
            continue;
        }
        if depth == MAX_DEPTH {
            raw::close(fd);
            close_all(&stack, depth, root);
            return Err(libc::ENAMETOOLONG);
        }
        stack[depth] = fd;
        depth += 1;
    }
    // The result: the last fd (the root itself, duplicated, when the path led back to it).
    if depth == 1 {
        return raw::dupfd_cloexec(root, 3);
    }
    close_all(&stack, depth - 1, root);
    Ok(stack[depth - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::fs::symlink;
    use std::path::{Path, PathBuf};

    /// Where an fd of ours points, as the kernel names it.
    fn fd_target(fd: i32) -> PathBuf {
        let p = std::fs::read_link(format!("/proc/self/fd/{fd}")).expect("readlink");
        raw::close(fd);
        p
    }

    fn open(root: &Path, path: &str, openat2: bool, no_symlinks: bool) -> Result<PathBuf, i32> {
        let dir = std::fs::File::open(root).expect("open root");
        use std::os::fd::AsRawFd;
        let mut use_openat2 = openat2;
        let c = CString::new(path).expect("path");
        open_in_root(dir.as_raw_fd(), &c, libc::O_PATH, no_symlinks, &mut use_openat2).map(fd_target)
    }

    /// The kernel's openat2 and our own walk agree, and neither leaves the root: through
    /// absolute and relative symlinks, `..` above the root, symlinks to symlinks, loops.
    #[test]
    fn both_resolvers_stay_in_the_root_and_agree() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root.join("a/b/c")).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::create_dir_all(root.join(outside.strip_prefix("/").expect("abs"))).expect("mkdir inside");
        symlink("/a", root.join("abs")).expect("symlink");
        symlink("../../../../../../../..", root.join("a/up")).expect("symlink");
        symlink(&outside, root.join("a/host")).expect("symlink");
        symlink("host", root.join("a/host2")).expect("symlink");
        symlink("loop2", root.join("loop1")).expect("symlink");
        symlink("loop1", root.join("loop2")).expect("symlink");
        let root = root.canonicalize().expect("canonical");
        let cases: &[(&str, Result<PathBuf, i32>)] = &[
            ("a/b/c", Ok(root.join("a/b/c"))),
            ("abs/b", Ok(root.join("a/b"))),
            ("a/up", Ok(root.clone())),
            ("a/up/a/b", Ok(root.join("a/b"))),
            ("../../../a", Ok(root.join("a"))),
            ("a/b/../../../../a/b/c", Ok(root.join("a/b/c"))),
            ("a/host", Ok(root.join(outside.strip_prefix("/").expect("abs")))),
            ("a/host2", Ok(root.join(outside.strip_prefix("/").expect("abs")))),
            (".", Ok(root.clone())),
            ("a/missing/x", Err(libc::ENOENT)),
            ("loop1", Err(libc::ELOOP)),
        ];
        for openat2 in [true, false] {
            for (path, want) in cases {
                let got = open(&root, path, openat2, false);
                assert_eq!(&got, want, "{path} (openat2: {openat2})");
            }
            assert_eq!(open(&root, "abs/b", openat2, true), Err(libc::ELOOP), "no_symlinks (openat2: {openat2})");
            assert_eq!(open(&root, "..", openat2, false), Ok(root.clone()));
            assert_eq!(open(&root, "a/b", openat2, true), Ok(root.join("a/b")));
        }
    }

    /// Creating through a dangling symlink makes its target inside the root, never outside.
    #[test]
    fn creation_follows_dangling_symlinks_inside_the_root() {
        use std::os::fd::AsRawFd;
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&root).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        symlink(outside.join("new"), root.join("dangling")).expect("symlink");
        symlink("../../../../../../../../../../outside-rel", root.join("up")).expect("symlink");
        let dir = std::fs::File::open(&root).expect("open root");
        let root = root.canonicalize().expect("canonical");
        for (path, create, want) in [
            ("dangling/sub", Create::Dir, root.join(outside.strip_prefix("/").expect("abs")).join("new/sub")),
            ("up/file", Create::File, root.join("outside-rel/file")),
            ("plain/a/b", Create::Dir, root.join("plain/a/b")),
        ] {
            let c = CString::new(path).expect("path");
            let fd = create_in_root(dir.as_raw_fd(), &c, false, create).unwrap_or_else(|e| panic!("{path}: errno {e}"));
            assert_eq!(fd_target(fd), want, "{path}");
        }
        assert!(std::fs::metadata(root.join("outside-rel/file")).expect("file").is_file());
        assert_eq!(std::fs::read_dir(&outside).expect("outside").count(), 0, "something was made outside the root");
    }
}
