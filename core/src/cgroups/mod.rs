//! Cgroups: which layout the host has (v1, v2 or hybrid) and what a container's
//! /sys/fs/cgroup mount looks like on it. The limit drivers build on this (cgroups issue).

use std::sync::OnceLock;

mod device_bpf;
mod devices;
mod driver;
mod resources;
mod stats;
#[cfg(test)]
mod tests_fixture;
#[cfg(test)]
mod tests_real;
mod v1;
mod v2;

pub use devices::with_default_device_rules;
pub(crate) use driver::CGROUP_ROOT;
pub use driver::{Cgroup, CgroupRecord};
pub use resources::{blkio_weight_to_io_weight, shares_to_weight, validate_resources, MIN_MEMORY_LIMIT};
pub use stats::Stats;

/// The host's cgroup layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Only cgroup v1 hierarchies.
    V1,
    /// Only the unified cgroup2 hierarchy at /sys/fs/cgroup.
    V2,
    /// v1 controllers plus a cgroup2 tree at /sys/fs/cgroup/unified.
    Hybrid,
}

/// One mounted v1 hierarchy: its directory name under /sys/fs/cgroup, the options to mount it
/// again (e.g. `cpu,cpuacct` or `none,name=systemd`), and the cgroup mounted there (mountinfo's
/// root field without the leading '/': empty on a host, the container's cgroup inside one, where
/// /proc/self/cgroup paths include it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    pub dir: String,
    pub options: String,
    pub root: std::path::PathBuf,
}

#[derive(Debug)]
pub struct HostCgroups {
    pub layout: Layout,
    pub v1: Vec<V1Hierarchy>,
}

fn is_cgroup2(path: &str) -> bool {
    nix::sys::statfs::statfs(path).map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC).unwrap_or(false)
}

/// Inspects the host once per process.
pub fn host() -> &'static HostCgroups {
    static HOST: OnceLock<HostCgroups> = OnceLock::new();
    HOST.get_or_init(|| {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let v1 = parse_v1_hierarchies(&mountinfo);
        let layout = if is_cgroup2("/sys/fs/cgroup") {
            Layout::V2
        } else if is_cgroup2("/sys/fs/cgroup/unified") {
            Layout::Hybrid
        } else {
            Layout::V1
        };
        HostCgroups { layout, v1 }
    })
}

/// The v1 hierarchies mounted directly under /sys/fs/cgroup, from /proc/self/mountinfo text.
pub fn parse_v1_hierarchies(mountinfo: &str) -> Vec<V1Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let mut l = left.split(' ').skip(3);
        let (root, mount_point) = (l.next().unwrap_or(""), l.next().unwrap_or(""));
        let mut r = right.split(' ');
        if r.next() != Some("cgroup") {
            continue;
        }
        let super_opts = r.nth(1).unwrap_or("");
        let Some(dir) = mount_point.strip_prefix("/sys/fs/cgroup/") else { continue };
        if dir.contains('/') || out.iter().any(|h: &V1Hierarchy| h.dir == dir) {
            continue;
        }
        let opts: Vec<&str> = super_opts.split(',').filter(|o| *o != "rw" && *o != "ro" && !o.is_empty()).collect();
        let has_controller = opts.iter().any(|o| !o.starts_with("name=") && *o != "xattr" && *o != "none" && !o.starts_with("release_agent"));
        let mut options: Vec<&str> = opts.into_iter().filter(|o| !o.starts_with("release_agent")).collect();
        if !has_controller && !options.contains(&"none") {
            options.insert(0, "none");
        }
        out.push(V1Hierarchy { dir: dir.to_string(), options: options.join(","), root: root.trim_start_matches('/').into() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_hierarchies_from_mountinfo() {
        let text = "\
35 25 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
37 35 0:32 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
38 35 0:33 /ctr /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
39 35 0:34 / /sys/fs/cgroup/memory rw,nosuid shared:13 - cgroup cgroup rw,memory
";
        let h = parse_v1_hierarchies(text);
        assert_eq!(h.len(), 3);
        assert_eq!(h[0], V1Hierarchy { dir: "systemd".into(), options: "none,xattr,name=systemd".into(), root: "".into() });
        assert_eq!(h[1].options, "cpu,cpuacct");
        assert_eq!(h[1].root, std::path::Path::new("ctr"));
        assert_eq!(h[2].dir, "memory");
    }
}
