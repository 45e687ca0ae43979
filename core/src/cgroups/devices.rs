//! The device cgroup rules a container gets: "deny all", the spec's `linux.resources.devices`, then
//! (as runc's AllowedDevices) access to the standard devices rcontainer creates in /dev, mknod of
//! anything, and the spec's own `linux.devices`, so a deny-all spec still leaves /dev/null working
//! and a spec without rules never leaves the host's devices open. v1 writes them to
//! devices.deny/allow (`v1.rs`); v2 compiles them to an eBPF program (`device_bpf.rs`).

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

fn rule(typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// runc's default allowed devices.
fn defaults() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),    // null
        rule(C, Some(1), Some(5), "rwm"),    // zero
        rule(C, Some(1), Some(7), "rwm"),    // full
        rule(C, Some(1), Some(8), "rwm"),    // random
        rule(C, Some(1), Some(9), "rwm"),    // urandom
        rule(C, Some(5), Some(0), "rwm"),    // tty
        rule(C, Some(5), Some(1), "rwm"),    // console
        rule(C, Some(5), Some(2), "rwm"),    // ptmx
        rule(C, Some(136), None, "rwm"),     // pts
        rule(C, Some(10), Some(200), "rwm"), // tun
    ]
}

/// `resources` with the device rules extended as described above (whether or not the spec has
/// any).
pub fn with_default_device_rules(resources: &LinuxResources, devices: &[LinuxDevice]) -> LinuxResources {
    let mut r = resources.clone();
    let mut deny_all = LinuxDeviceCgroup::default();
    deny_all.set_allow(false);
    deny_all.set_access(Some("rwm".into()));
    let mut all = vec![deny_all];
    all.extend(resources.devices().iter().flatten().cloned());
    all.extend(defaults());
    for d in devices {
        let typ = match d.typ() {
            LinuxDeviceType::U => LinuxDeviceType::C,
            t => t,
        };
        all.push(rule(typ, Some(d.major()), Some(d.minor()), "rwm"));
    }
    r.set_devices(Some(all));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_all_keeps_standard_devices() {
        let mut deny = LinuxDeviceCgroup::default();
        deny.set_allow(false);
        deny.set_access(Some("rwm".into()));
        let mut r = LinuxResources::default();
        r.set_devices(Some(vec![deny]));
        let out = with_default_device_rules(&r, &[]);
        let rules: Vec<String> = out.devices().iter().flatten().map(|d| format!("{} {d}", d.allow())).collect();
        assert_eq!(rules[0], "false a *:* rwm");
        assert!(rules.contains(&"true c 1:3 rwm".to_string()), "{rules:?}");
        // No rules in the spec: deny all the same, not the parent's (the host's) devices.
        let mut none = LinuxResources::default();
        none.set_devices(None);
        let rules: Vec<String> = with_default_device_rules(&none, &[]).devices().iter().flatten().map(|d| format!("{} {d}", d.allow())).collect();
        assert_eq!(rules[0], "false a *:* rwm");
        assert!(!rules.iter().any(|r| r.starts_with("true b") && !r.ends_with(" m")), "{rules:?}");
    }
}
