//! Running as an ordinary user ("rootless", as runc's `--rootless`, crun and podman): what differs
//! when the runtime's effective uid is not 0.
//!
//! - The state root is the user's own: `$XDG_RUNTIME_DIR/rcontainer`, else
//!   `/tmp/rcontainer-<uid>` ([`default_state_root`]); it is used only when owned by the user and
//!   writable by nobody else (a directory another user made in /tmp is refused).
//! - A container gets a user namespace: the caller's uid and gid are root inside, and, when
//!   Debian's `newuidmap`/`newgidmap` (package `uidmap`) and the caller's `/etc/subuid` and
//!   `/etc/subgid` ranges are there, the ranges map container ids 1.. as podman does
//!   ([`default_id_maps`]).
//! - The maps are written by the parent itself when they map only the caller's own ids (the
//!   kernel then needs `setgroups` denied, so the container cannot change its supplementary
//!   groups), else by `newuidmap`/`newgidmap` ([`MapWriter`]).
//! - Cgroups: a container without limits runs without a cgroup where the user may not create
//!   one (cgroup v1, hybrid, an undelegated v2 tree); a limit there is refused, saying why
//!   ([`no_cgroup_error`]). On v2 with a delegated subtree, limits apply as for root.

use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder};

use crate::error::{Error, Result};

/// Whether this process runs as an ordinary user (effective uid not 0).
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// Whether this process runs in a user namespace other than the host's (its uid_map is not the
/// identity of every id): as rootless podman runs its OCI runtime, as uid 0 of the user's
/// namespace. Such a root has no rights on the host's /run or cgroups (runc's `RunningInUserNS`).
pub fn in_user_namespace() -> bool {
    static IN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN.get_or_init(|| match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"],
        Err(_) => false,
    })
}

/// Whether the host's cgroups and /run may be out of reach: an ordinary user, or root of a user
/// namespace (see [`in_user_namespace`]).
pub(crate) fn unprivileged_on_host() -> bool {
    is_rootless() || in_user_namespace()
}

/// The state root when none is given: [`crate::DEFAULT_STATE_ROOT`] for root; else (an
/// ordinary user, or root of a user namespace as under rootless podman)
/// `$XDG_RUNTIME_DIR/rcontainer` (when that is an absolute path), else `/tmp/rcontainer-<uid>`.
pub fn default_state_root() -> PathBuf {
    let uid = nix::unistd::geteuid().as_raw();
    if !unprivileged_on_host() {
        return PathBuf::from(crate::DEFAULT_STATE_ROOT);
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| Path::new(d).is_absolute()) {
        Some(d) => Path::new(&d).join("rcontainer"),
        None => PathBuf::from(format!("/tmp/rcontainer-{uid}")),
    }
}

/// Checks that an ordinary user's state root is theirs alone (a state root another user can
/// write would let them plant a state that `delete` or `kill` acts on). Root's is not checked
/// here: it is made 0711 under /run.
pub(crate) fn check_state_root(root: &Path) -> Result<()> {
    if !is_rootless() {
        return Ok(());
    }
    crate::security::trust::check_path(root, true).map_err(|why| Error::Untrusted { path: root.to_path_buf(), reason: format!("the state root is {why}") })
}

fn map(container: u32, host: u32, size: u32) -> LinuxIdMapping {
    // The builder only fails on a missing field; all three are given.
    LinuxIdMappingBuilder::default().container_id(container).host_id(host).size(size).build().unwrap_or_default()
}

/// The first range `/etc/subuid` or `/etc/subgid` (`file`) gives `user` (by name or number):
/// (start, count).
pub(crate) fn sub_range(file: &Path, name: Option<&str>, id: u32) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    let id_text = id.to_string();
    text.lines().find_map(|line| {
        let mut parts = line.trim().split(':');
        let (who, start, count) = (parts.next()?, parts.next()?, parts.next()?);
        if who != id_text && Some(who) != name {
            return None;
        }
        let (start, count) = (start.parse::<u32>().ok()?, count.parse::<u32>().ok()?);
        (count > 0).then_some((start, count))
    })
}

/// Where a setuid helper (`newuidmap`, `newgidmap`) is, if installed.
fn helper(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// The id maps of a rootless container when the caller gives none: (uid maps, gid maps). The
/// caller's own ids become 0; with `newuidmap`/`newgidmap` and subordinate ranges for the user,
/// container ids from 1 map to those ranges (podman's layout). Root gets none (no user namespace
/// unless asked for).
pub fn default_id_maps() -> (Vec<LinuxIdMapping>, Vec<LinuxIdMapping>) {
    let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    if uid == 0 {
        return (Vec::new(), Vec::new());
    }
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten().map(|u| u.name);
    let mut uids = vec![map(0, uid, 1)];
    let mut gids = vec![map(0, gid, 1)];
    let subs = (
        helper("newuidmap").and(sub_range(Path::new("/etc/subuid"), name.as_deref(), uid)),
        helper("newgidmap").and(sub_range(Path::new("/etc/subgid"), name.as_deref(), uid)),
    );
    // Both or neither: a container whose uids go beyond 0 but whose gids do not would fail at
    // its first chown.
    if let (Some((us, uc)), Some((gs, gc))) = subs {
        uids.push(map(1, us, uc));
        gids.push(map(1, gs, gc));
    }
    (uids, gids)
}

/// How the parent writes a new user namespace's maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapWriter {
    /// Root, or maps of the caller's own ids only: written to /proc/<pid>/{uid,gid}_map.
    Direct,
    /// An ordinary user mapping only their own gid: "deny" goes to /proc/<pid>/setgroups first
    /// (the kernel's rule), and the container gets no setgroups step.
    DenySetgroups,
    /// An ordinary user mapping more than their own ids: the setuid helpers newuidmap and
    /// newgidmap check /etc/subuid and /etc/subgid and write them.
    Helpers,
}

/// Chooses how the maps get written (root: always directly).
pub(crate) fn map_writer(uid_maps: &[LinuxIdMapping], gid_maps: &[LinuxIdMapping]) -> MapWriter {
    if !is_rootless() {
        return MapWriter::Direct;
    }
    let own = |maps: &[LinuxIdMapping], id: u32| maps.iter().all(|m| m.host_id() == id && m.size() == 1);
    let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    match (own(uid_maps, uid), own(gid_maps, gid)) {
        (true, true) => MapWriter::DenySetgroups,
        _ => MapWriter::Helpers,
    }
}

/// Runs `newuidmap` or `newgidmap` (`helper`) for `pid` with `maps` ("c h s\n" lines).
pub(crate) fn run_map_helper(helper_name: &str, pid: libc::pid_t, maps: &str) -> Result<()> {
    let Some(path) = helper(helper_name) else {
        return Err(Error::Unsupported(format!(
            "mapping {} needs {helper_name} (Debian package uidmap) and ranges for this user in /etc/sub{}id; \
             or map only your own id (e.g. --uid-map 0:{}:1)",
            maps.trim().replace('\n', ", "),
            if helper_name == "newuidmap" { "u" } else { "g" },
            if helper_name == "newuidmap" { nix::unistd::geteuid().as_raw() } else { nix::unistd::getegid().as_raw() },
        )));
    };
    let mut cmd = Command::new(&path);
    cmd.arg(pid.to_string());
    for field in maps.split_whitespace() {
        cmd.arg(field);
    }
    let out = cmd.output().map_err(Error::io("run", &path))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Unsupported(format!(
            "{} {pid} {} failed ({}): {} (check this user's ranges in /etc/sub{}id)",
            path.display(),
            maps.trim().replace('\n', " "),
            out.status,
            why.trim(),
            if helper_name == "newuidmap" { "u" } else { "g" },
        )));
    }
    Ok(())
}

/// The error for a limit an ordinary user's container cannot have: `why` is what creating the
/// cgroup said.
pub(crate) fn no_cgroup_error(what: &str, why: &Error) -> Error {
    Error::Unsupported(format!(
        "{what}: running as uid {}{} without a cgroup this user may write ({why}); limits need cgroup v2 with a \
         delegated subtree (systemd's user@.service with Delegate=yes, or a directory chowned to the user that the \
         caller runs in); run without limits, or as root",
        nix::unistd::geteuid().as_raw(),
        if in_user_namespace() { " in a user namespace" } else { "" },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_ranges_by_name_or_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("subuid");
        std::fs::write(&f, "alice:100000:65536\n1001:200000:1000\nbob:300000:0\n# comment\n").expect("write");
        assert_eq!(sub_range(&f, Some("alice"), 1000), Some((100000, 65536)));
        assert_eq!(sub_range(&f, Some("carol"), 1001), Some((200000, 1000)));
        assert_eq!(sub_range(&f, Some("bob"), 1002), None, "an empty range is no range");
        assert_eq!(sub_range(&f, None, 7), None);
        assert_eq!(sub_range(&dir.path().join("missing"), Some("alice"), 1000), None);
    }

    #[test]
    fn root_maps_directly_and_gets_no_default_maps() {
        if is_rootless() {
            return;
        }
        assert_eq!(map_writer(&[map(0, 1000, 1)], &[map(0, 1000, 1)]), MapWriter::Direct);
        assert_eq!(default_id_maps(), (Vec::new(), Vec::new()));
        assert_eq!(default_state_root(), PathBuf::from(crate::DEFAULT_STATE_ROOT));
    }
}
