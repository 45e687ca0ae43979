//! Capability names ↔ numbers and the bitmasks the child applies with prctl/capset.

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{Error, Result};

/// Capability names in kernel order (the index is the capability number).
pub const NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's default capability set (the ad-hoc mode's default).
pub const DOCKER_DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The number of a capability given as `CAP_CHOWN`, `chown` or `CHOWN`.
pub fn number(name: &str) -> Result<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32).ok_or_else(|| Error::invalid("process.capabilities", name, "unknown capability"))
}

/// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap).
pub fn last_cap() -> u32 {
    static LAST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(NAMES.len() as u32 - 1)
            // Capability sets are u64 masks here (and the kernel's are two u32 words).
            .min(63)
    })
}

/// The capabilities this process can still grant (its bounding set).
pub fn own_bounding() -> u64 {
    (0..=last_cap())
        .filter(|c| {
            // SAFETY: PR_CAPBSET_READ only reads.
            unsafe { libc::prctl(libc::PR_CAPBSET_READ, *c as libc::c_ulong, 0, 0, 0) == 1 }
        })
        .fold(0u64, |m, c| m | 1 << c)
}

/// The five sets as bitmasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

fn mask(set: Option<&Capabilities>) -> Result<u64> {
    let mut m = 0u64;
    for cap in set.into_iter().flatten() {
        // oci-spec serializes a capability as its CAP_ name.
        let name = serde_json::to_value(cap).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let n = number(&name)?;
        if n <= last_cap() {
            m |= 1 << n;
        }
    }
    Ok(m)
}

impl CapSets {
    /// None when the spec says nothing about capabilities (the process keeps what it has).
    pub fn from_spec(caps: Option<&LinuxCapabilities>) -> Result<Option<CapSets>> {
        let Some(c) = caps else { return Ok(None) };
        // A capability this process does not have cannot be given: say which, before anything runs.
        let wanted = mask(c.permitted().as_ref())? | mask(c.effective().as_ref())? | mask(c.inheritable().as_ref())?;
        let missing = wanted & !own_bounding();
        if missing != 0 {
            let names: Vec<&str> = (0..64).filter(|b| missing & (1u64 << b) != 0).filter_map(|b| NAMES.get(b as usize).copied()).collect();
            return Err(Error::invalid("process.capabilities", names.join(","), "not in the runtime's own bounding set, so it cannot be granted"));
        }
        Ok(Some(CapSets {
            bounding: mask(c.bounding().as_ref())?,
            effective: mask(c.effective().as_ref())?,
            permitted: mask(c.permitted().as_ref())?,
            inheritable: mask(c.inheritable().as_ref())?,
            ambient: mask(c.ambient().as_ref())?,
        }))
    }
}

/// A LinuxCapabilities with the same `names` in bounding, effective, permitted and (when
/// `ambient`) ambient — what runc spec and Docker give.
pub fn uniform(names: &[&str]) -> Result<LinuxCapabilities> {
    let mut set = Capabilities::new();
    for n in names {
        let full = NAMES.get(number(n)? as usize).copied().unwrap_or_default();
        let cap =
            serde_json::from_value(serde_json::Value::String(full.to_string())).map_err(|_| Error::invalid("capabilities", n, "unknown to the OCI model"))?;
        set.insert(cap);
    }
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(set.clone()));
    caps.set_effective(Some(set.clone()));
    caps.set_permitted(Some(set));
    caps.set_inheritable(None);
    caps.set_ambient(None);
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_numbers() {
        assert_eq!(number("CAP_CHOWN").expect("chown"), 0);
        assert_eq!(number("sys_admin").expect("sys_admin"), 21);
        assert!(number("CAP_FLY").expect_err("unknown").to_string().contains("CAP_FLY"));
        let caps = uniform(DOCKER_DEFAULT).expect("docker set");
        let sets = CapSets::from_spec(Some(&caps)).expect("sets").expect("some");
        assert_eq!(sets.bounding.count_ones() as usize, DOCKER_DEFAULT.len());
        assert_eq!(sets.ambient, 0);
    }
}
