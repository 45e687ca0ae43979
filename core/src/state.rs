//! Persistent state: one directory per container under a state root (default `/run/rcontainer`),
//! holding `state.json` (the OCI state plus what rcontainer needs to manage the container from
//! another process) and, until `start`, the `exec.fifo` the container's init blocks on.
//!
//! Crash consistency: a container's directory appears with its state.json already in it
//! ([`create_with_state`]: made under a temporary name, then renamed), and the state names what
//! create is about to make (the cgroup, then the init's pid) before it is made. A runtime killed
//! at any instant thus leaves a container that `list` shows, `state` reports (`creating` while
//! its creator lives, `stopped` once it is gone) and `delete` removes, freeing the id.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod cache;

pub(crate) const STATE_FILE: &str = "state.json";
pub(crate) const EXEC_FIFO: &str = "exec.fifo";
/// The container's OCI config as it was created (what `exec` starts from: its namespaces,
/// seccomp profile and process defaults), whatever happens to the bundle afterwards.
pub(crate) const CONFIG_FILE: &str = "config.json";

/// Lifecycle status, as the OCI state reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being set up; not yet visible as created.
    Creating,
    /// Set up, waiting for `start` before exec.
    Created,
    Running,
    Paused,
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The state file: OCI state fields plus rcontainer's own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    /// Host pid of the container's init.
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// Start time of `pid` in clock ticks since boot (field 22 of /proc/pid/stat): guards
    /// against acting on a recycled pid.
    pub pid_start_time: u64,
    /// Where the container's cgroup is (absent for containers without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<crate::cgroups::CgroupRecord>,
    /// While `creating`: the process creating the container (pid and start time). Once it is
    /// gone without having finished, the create failed and the container is `stopped`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub creator_pid: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub creator_start_time: u64,
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl State {
    /// The OCI state JSON (`rcontainer state`), as runc prints it.
    pub fn to_oci_json(&self) -> String {
        let v = serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": self.status,
            "pid": if self.status == Status::Stopped { 0 } else { self.pid },
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "annotations": self.annotations,
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }
}

/// Checks a container id: 1–1024 characters of `[A-Za-z0-9_+.-]`, not `.` or `..` (runc's rule),
/// so an id can never name a path outside the state root.
pub fn validate_id(id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        Some("must not be empty")
    } else if id.len() > 1024 {
        Some("longer than 1024 characters")
    } else if id == "." || id == ".." {
        Some("must not be . or ..")
    } else if id.contains('/') {
        Some("must not contain '/'")
    } else if !id.chars().all(|c| c.is_ascii_alphanumeric() || "_+.-".contains(c)) {
        Some("may only contain letters, digits and _ + . -")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidId { id: id.to_string(), reason }),
        None => Ok(()),
    }
}

/// A fresh container id: `rc-` and 12 hex digits (what the ad-hoc mode and the bindings use when
/// the caller gives none).
pub fn generate_id() -> String {
    let mut buf = [0u8; 6];
    // SAFETY: getrandom writes into a local buffer of the given length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    if n != buf.len() as isize {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64 ^ std::process::id() as u64;
        buf.copy_from_slice(&t.to_le_bytes()[..6]);
    }
    format!("rc-{}", buf.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

pub(crate) fn state_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Creates the container's state dir holding `state` (whose id names it): made under a
/// temporary name (`.tmp-<id>-<pid>`) with state.json written inside, then renamed into place,
/// so the directory never exists without its state. Fails with AlreadyExists when the id is
/// taken. Temporaries left by killed creators are collected on the way.
pub(crate) fn create_with_state(root: &Path, state: &State) -> Result<PathBuf> {
    let id = &state.id;
    validate_id(id)?;
    // An ordinary user's root is theirs alone (0700, checked); root's is traversable (0711).
    let mode = if crate::rootless::is_rootless() { 0o700 } else { 0o711 };
    fs::DirBuilder::new().recursive(true).mode(mode).create(root).map_err(Error::io("create state root", root))?;
    crate::rootless::check_state_root(root)?;
    let dir = state_dir(root, id);
    if dir.exists() {
        return Err(Error::AlreadyExists { id: id.to_string() });
    }
    collect_abandoned(root, None);
    let tmp = root.join(format!(".tmp-{id}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::DirBuilder::new().mode(0o711).create(&tmp).map_err(Error::io("create state dir", &tmp))?;
    let placed = save(&tmp, state).and_then(|()| match fs::rename(&tmp, &dir) {
        Ok(()) => Ok(()),
        // A directory holding a state (never empty) is in the way: the id is taken.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) => Err(Error::AlreadyExists { id: id.to_string() }),
        Err(e) => Err(Error::io("create state dir", &dir)(e)),
    });
    if let Err(e) = placed {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(dir)
}

/// Removes the temporary state dirs (`.tmp-<id>-<pid>`, of container `id` or of any) whose
/// creator is gone: a create killed before its state dir was in place. Also entries `.tmp*`
/// older than a minute.
pub(crate) fn collect_abandoned(root: &Path, id: Option<&str>) {
    let Ok(entries) = fs::read_dir(root) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(".tmp-")) else { continue };
        let Some((owner, pid)) = rest.rsplit_once('-') else { continue };
        if id.is_some_and(|id| id != owner) {
            continue;
        }
        let Ok(pid) = pid.parse::<i32>() else { continue };
        // SAFETY: kill with signal 0 only checks that the process exists.
        let alive = pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || nix::errno::Errno::last() == nix::errno::Errno::EPERM);
        if !alive {
            let _ = fs::remove_dir_all(e.path());
        }
    }
    cache::collect_stale(root);
}

/// Writes state.json atomically (write a temporary file, then rename).
pub(crate) fn save(dir: &Path, state: &State) -> Result<()> {
    let tmp = dir.join(".state.json.tmp");
    let text = serde_json::to_vec(state).map_err(|e| Error::Sys { op: format!("encode state: {e}"), errno: nix::errno::Errno::EINVAL })?;
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(Error::io("write", &tmp))?;
    f.write_all(&text).map_err(Error::io("write", &tmp))?;
    drop(f);
    let target = dir.join(STATE_FILE);
    fs::rename(&tmp, &target).map_err(Error::io("rename state file to", target))
}

/// Writes the container's config (atomically, 0600).
pub(crate) fn save_config(dir: &Path, spec: &crate::spec::Spec) -> Result<()> {
    let tmp = dir.join(".config.json.tmp");
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(Error::io("write", &tmp))?;
    f.write_all(spec.to_json().as_bytes()).map_err(Error::io("write", &tmp))?;
    drop(f);
    let target = dir.join(CONFIG_FILE);
    fs::rename(&tmp, &target).map_err(Error::io("rename config file to", target))
}

/// The container's config as it was created (its bundle as the base for relative paths).
pub(crate) fn load_config(root: &Path, state: &State) -> Result<crate::spec::Spec> {
    let path = state_dir(root, &state.id).join(CONFIG_FILE);
    let text = crate::spec::read_bounded(&path)?;
    crate::spec::Spec::from_json_named(&text, &state.bundle, &path.display().to_string())
}

/// Reads a container's state and refreshes its status from the live process. A state file that
/// cannot be read back is [`Error::StateCorrupt`] (naming the file); a missing one NotFound.
pub fn load(root: &Path, id: &str) -> Result<State> {
    validate_id(id)?;
    let dir = state_dir(root, id);
    let path = dir.join(STATE_FILE);
    if !path.exists() && !dir.exists() {
        return Err(Error::NotFound { id: id.to_string() });
    }
    let text = crate::spec::read_bounded(&path).map_err(|e| Error::StateCorrupt { path: path.clone(), reason: e.to_string() })?;
    let mut state: State = serde_json::from_str(&text).map_err(|e| Error::StateCorrupt { path: path.clone(), reason: e.to_string() })?;
    if state.id != id {
        return Err(Error::StateCorrupt { path, reason: format!("it names container {:?}", state.id) });
    }
    refresh(root, &mut state);
    Ok(state)
}

/// Recomputes `status` from what the host shows: a dead (or recycled) pid is stopped; a live one
/// is created while its exec fifo exists, paused while its cgroup is frozen, else running. A
/// container still `creating` stays so while its creator lives; once the creator is gone it is
/// `stopped` (the create failed; `delete` removes what it left).
pub(crate) fn refresh(root: &Path, state: &mut State) {
    if state.status == Status::Creating {
        let creator_alive = state.creator_pid > 0 && process_start_time(state.creator_pid) == Some(state.creator_start_time);
        if !creator_alive {
            state.status = Status::Stopped;
        }
        return;
    }
    state.status = match process_start_time(state.pid) {
        Some(t) if t == state.pid_start_time => {
            if state_dir(root, &state.id).join(EXEC_FIFO).exists() {
                Status::Created
            } else if state.cgroup.as_ref().is_some_and(|r| crate::cgroups::Cgroup::from_record(r).is_frozen()) {
                Status::Paused
            } else {
                Status::Running
            }
        }
        _ => Status::Stopped,
    };
}

/// Field 22 (starttime) of /proc/<pid>/stat, or None when the process is gone or a zombie.
pub fn process_start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // after ") " comes field 3 (state); starttime is field 22.
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(22 - 3)?.parse().ok()
}

/// Ids of the containers under `root`: its directories not named with a dot (a state root holds
/// only containers; `.tmp-*` are states being created). One without a state file is listed too
/// (a corrupt container, for `list` to report and `delete` to remove).
pub(crate) fn ids(root: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", root)(e)),
    };
    let mut ids: Vec<String> =
        entries.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).filter(|n| !n.starts_with('.') && root.join(n).is_dir()).collect();
    ids.sort();
    Ok(ids)
}

/// Now as RFC 3339 UTC with nanoseconds, e.g. `2026-11-28T23:31:43.123456789Z`.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z", rem / 3600, rem % 3600 / 60, rem % 60, d.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for bad in ["", ".", "..", "a/b", "../x", "a b", "x\0"] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "my-container_1.0", "a+b"] {
            validate_id(good).expect(good);
        }
    }

    #[test]
    fn own_start_time_is_found() {
        assert!(process_start_time(std::process::id() as i32).is_some());
        assert!(process_start_time(0).is_none());
    }

    #[test]
    fn rfc3339_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
