//! The cache: what the runtime keeps between calls and can always rebuild (compiled seccomp
//! filters, the default root's skeleton). It lives outside every state root, because a state
//! root is shared with other runtimes (containerd's shim gives every runtime runc's root, and
//! `runc list` fails on any entry that is not a container) and must hold only containers.
//!
//! Where: `$RCONTAINER_CACHE_DIR` when set; else `/run/rcontainer-cache` for root; else
//! `$XDG_RUNTIME_DIR/rcontainer-cache`, or `/tmp/rcontainer-cache-<uid>`. It is used only when it
//! is owned by the runtime's user and writable by nobody else (see `security::trust`); each part
//! is bounded ([`SECCOMP_ENTRIES`] filters) and stale temporaries are collected.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// At most this many compiled seccomp filters are kept; the least recently written go first.
pub const SECCOMP_ENTRIES: usize = 64;

/// A temporary left by a killed process is removed once it is this old.
pub(crate) const STALE_TMP: Duration = Duration::from_secs(60);

/// The cache directory of this process's user (see the module's documentation).
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RCONTAINER_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let uid = nix::unistd::geteuid().as_raw();
    if uid == 0 {
        return PathBuf::from("/run/rcontainer-cache");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| Path::new(d).is_absolute()) {
        Some(d) => Path::new(&d).join("rcontainer-cache"),
        None => PathBuf::from(format!("/tmp/rcontainer-cache-{uid}")),
    }
}

/// Where compiled seccomp filters go, under a cache dir.
pub(crate) fn seccomp_dir(cache: &Path) -> PathBuf {
    cache.join("seccomp")
}

/// Where the default root's skeleton is, under a cache dir.
pub(crate) fn default_root_dir(cache: &Path) -> PathBuf {
    cache.join("default-root")
}

/// Removes the entries of `dir` named `.tmp*` that are older than [`STALE_TMP`] (left by a
/// killed writer). Best effort, as [`trim`].
pub(crate) fn collect_stale(dir: &Path) {
    trim(dir, "/", usize::MAX); // no name ends in '/': only the temporaries are looked at
}

/// Removes the oldest entries of `dir` whose names end in `suffix` until at most `keep` remain,
/// and entries named `.tmp*` older than [`STALE_TMP`] (left by a killed writer). Best effort:
/// a cache that cannot be trimmed only grows until the next call that can.
pub(crate) fn trim(dir: &Path, suffix: &str, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    let mut kept = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Ok(meta) = e.metadata() else { continue };
        let mtime = meta.modified().unwrap_or(now);
        if name.starts_with(".tmp") {
            if now.duration_since(mtime).unwrap_or_default() > STALE_TMP {
                let _ = if meta.is_dir() { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) };
            }
        } else if name.ends_with(suffix) {
            kept.push((mtime, e.path()));
        }
    }
    if kept.len() > keep {
        kept.sort();
        for (_, path) in &kept[..kept.len() - keep] {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_keeps_the_newest_and_collects_stale_temporaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..5 {
            let p = dir.path().join(format!("{i}.bpf"));
            std::fs::write(&p, b"x").expect("write");
            let t = SystemTime::now() - Duration::from_secs(100 - i);
            std::fs::File::options().write(true).open(&p).expect("open").set_modified(t).expect("mtime");
        }
        let old_tmp = dir.path().join(".tmp-old");
        std::fs::write(&old_tmp, b"x").expect("write");
        std::fs::File::options().write(true).open(&old_tmp).expect("open").set_modified(SystemTime::now() - Duration::from_secs(3600)).expect("mtime");
        let new_tmp = dir.path().join(".tmp-new");
        std::fs::write(&new_tmp, b"x").expect("write");
        trim(dir.path(), ".bpf", 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path()).expect("read").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, [".tmp-new", "3.bpf", "4.bpf"]);
    }
}
