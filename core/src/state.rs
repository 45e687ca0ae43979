//! Persistent state: one directory per container under a state root (default `/run/rcontainer`),
//! holding `state.json` (the OCI state plus what rcontainer needs to manage the container from
//! another process) and, until `start`, the `exec.fifo` the container's init blocks on.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub(crate) const STATE_FILE: &str = "state.json";
pub(crate) const EXEC_FIFO: &str = "exec.fifo";
/// The container's OCI config as it was created (what `exec` starts from: its namespaces,
/// seccomp profile and process defaults), whatever happens to the bundle afterwards.
pub(crate) const CONFIG_FILE: &str = "config.json";
/// The most a state or config file may hold (they are read back, and a corrupt or hostile one
/// must not exhaust memory).
pub(crate) const MAX_STATE_FILE: u64 = 16 << 20;

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

/// Creates the state dir; fails with AlreadyExists when the id is taken.
pub(crate) fn create_dir(root: &Path, id: &str) -> Result<PathBuf> {
    validate_id(id)?;
    fs::DirBuilder::new().recursive(true).mode(0o711).create(root).map_err(Error::io("create state root", root))?;
    let dir = state_dir(root, id);
    match fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::AlreadyExists { id: id.to_string() }),
        Err(e) => Err(Error::io("create state dir", dir)(e)),
    }
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
    use std::io::Read;
    let path = state_dir(root, &state.id).join(CONFIG_FILE);
    let f = fs::File::open(&path).map_err(Error::io("read", &path))?;
    let mut text = String::new();
    f.take(MAX_STATE_FILE + 1).read_to_string(&mut text).map_err(Error::io("read", &path))?;
    if text.len() as u64 > MAX_STATE_FILE {
        return Err(Error::ConfigParse { source_name: path.display().to_string(), reason: format!("larger than {MAX_STATE_FILE} bytes") });
    }
    crate::spec::Spec::from_json_named(&text, &state.bundle, &path.display().to_string())
}

/// Reads a container's state and refreshes its status from the live process.
pub fn load(root: &Path, id: &str) -> Result<State> {
    validate_id(id)?;
    let path = state_dir(root, id).join(STATE_FILE);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound { id: id.to_string() }),
        Err(e) => return Err(Error::io("read", path)(e)),
    };
    let mut state: State = serde_json::from_slice(&text).map_err(|e| Error::ConfigParse { source_name: path.display().to_string(), reason: e.to_string() })?;
    refresh(root, &mut state);
    Ok(state)
}

/// Recomputes `status` from what the host shows: a dead (or recycled) pid is stopped; a live one
/// is created while its exec fifo exists, paused while its cgroup is frozen, else running.
pub(crate) fn refresh(root: &Path, state: &mut State) {
    if state.status == Status::Creating {
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
pub(crate) fn process_start_time(pid: i32) -> Option<u64> {
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

/// Ids of the containers under `root` (directories holding a state file).
pub(crate) fn ids(root: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", root)(e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.') && root.join(n).join(STATE_FILE).exists())
        .collect();
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
