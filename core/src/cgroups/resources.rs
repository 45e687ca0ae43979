//! `linux.resources` checks and the conversions both drivers share.
//!
//! [`validate_resources`] rejects, before any cgroup exists, the values the kernel would refuse
//! (or silently clamp). Conventions follow the OCI runtime spec and runc:
//! - memory `limit`, `reservation`, `swap`: `-1` = unlimited, `0` = not set (left unchanged);
//!   `swap` is the memory+swap total (as `memory.memsw.limit_in_bytes` on v1), so it must be `-1`
//!   or at least `limit`.
//! - cpu `quota`: `-1` or `0` = unlimited/not set; `period`, `shares`: `0` = not set.
//! - pids `limit`: `<= 0` = unlimited (`pids.max = max`), as runc.
//! - blkio weights: `0` = not set.

use std::collections::BTreeSet;

use oci_spec::runtime::LinuxResources;

use crate::error::{Error, Result};

/// The smallest memory limit accepted: one page, the kernel's accounting unit (a smaller value
/// is a limit of zero pages). Small limits are legitimate: /bin/true in a busybox root peaks at
/// about 256 KiB of charged memory here (bench/run.sh measures it). Applies to `limit`,
/// `reservation` and `swap` when they are set to a positive value.
pub const MIN_MEMORY_LIMIT: i64 = 4096;
/// cpu.shares range of the kernel (v1 clamps silently outside it).
pub const MIN_CPU_SHARES: u64 = 2;
pub const MAX_CPU_SHARES: u64 = 262_144;
/// CFS period/quota bounds of the kernel, in microseconds.
pub const MIN_CFS_PERIOD_US: u64 = 1_000;
pub const MAX_CFS_PERIOD_US: u64 = 1_000_000;
pub const MIN_CFS_QUOTA_US: i64 = 1_000;
/// blkio weight range (v1 blkio.weight; converted to io.weight on v2).
pub const MIN_BLKIO_WEIGHT: u16 = 10;
pub const MAX_BLKIO_WEIGHT: u16 = 1_000;

const F: &str = "linux.resources";

/// Checks `linux.resources` against what the kernel accepts and what this machine has (online
/// cpus and memory nodes). Every error names the field and the value. Nothing is read from or
/// written to any cgroup.
pub fn validate_resources(r: &LinuxResources) -> Result<()> {
    // Read only when a cpuset is asked for.
    let cpuset = r.cpu().as_ref().map(|c| (c.cpus().is_some(), c.mems().is_some())).unwrap_or_default();
    let cpus_online = cpuset.0.then(|| read_online("/sys/devices/system/cpu/online")).flatten();
    let mems_online = cpuset.1.then(|| read_online("/sys/devices/system/node/online")).flatten();
    validate_with(r, cpus_online.as_ref(), mems_online.as_ref())
}

fn read_online(path: &str) -> Option<BTreeSet<u32>> {
    std::fs::read_to_string(path).ok().and_then(|s| parse_list(s.trim()).ok())
}

/// The checks, with the machine's online cpus / nodes given (None: unknown, not checked).
pub(crate) fn validate_with(r: &LinuxResources, cpus_online: Option<&BTreeSet<u32>>, mems_online: Option<&BTreeSet<u32>>) -> Result<()> {
    if let Some(devices) = r.devices() {
        super::device_bpf::validate(devices)?;
    }
    if let Some(m) = r.memory() {
        let limit = m.limit();
        for (name, v) in [("limit", limit), ("reservation", m.reservation()), ("swap", m.swap())] {
            let Some(v) = v else { continue };
            let field = format!("{F}.memory.{name}");
            if v < -1 {
                return Err(Error::invalid(field, v, "must be -1 (unlimited), 0 (not set) or a positive number of bytes"));
            }
            if v > 0 && v < MIN_MEMORY_LIMIT {
                return Err(Error::invalid(field, v, format!("below the minimum of {MIN_MEMORY_LIMIT} bytes (one page)")));
            }
        }
        if let Some(swap) = m.swap().filter(|s| *s > 0) {
            match limit {
                Some(l) if l > 0 && swap < l => {
                    return Err(Error::invalid(
                        format!("{F}.memory.swap"),
                        swap,
                        format!("memory+swap total is below the memory limit {l} (swap counts memory plus swap, as in runc)"),
                    ))
                }
                Some(-1) => {
                    return Err(Error::invalid(
                        format!("{F}.memory.swap"),
                        swap,
                        "a memory+swap limit needs a memory limit, but linux.resources.memory.limit is -1 (unlimited)",
                    ))
                }
                _ => {}
            }
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(Error::invalid(format!("{F}.memory.swappiness"), s, "must be between 0 and 100"));
            }
        }
    }

    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            if !(MIN_CPU_SHARES..=MAX_CPU_SHARES).contains(&s) {
                return Err(Error::invalid(format!("{F}.cpu.shares"), s, format!("must be between {MIN_CPU_SHARES} and {MAX_CPU_SHARES}")));
            }
        }
        if let Some(p) = c.period().filter(|p| *p != 0) {
            if !(MIN_CFS_PERIOD_US..=MAX_CFS_PERIOD_US).contains(&p) {
                return Err(Error::invalid(format!("{F}.cpu.period"), p, format!("must be between {MIN_CFS_PERIOD_US} and {MAX_CFS_PERIOD_US} microseconds")));
            }
        }
        if let Some(q) = c.quota() {
            if q < -1 {
                return Err(Error::invalid(format!("{F}.cpu.quota"), q, "must be -1 (unlimited) or a positive number of microseconds"));
            }
            if q > 0 {
                if q < MIN_CFS_QUOTA_US {
                    return Err(Error::invalid(format!("{F}.cpu.quota"), q, format!("below the kernel minimum of {MIN_CFS_QUOTA_US} microseconds")));
                }
                if c.period() == Some(0) {
                    return Err(Error::invalid(format!("{F}.cpu.period"), 0, format!("a cpu quota ({q}) needs a positive period")));
                }
            }
        }
        if let Some(rt) = c.realtime_runtime() {
            if rt < -1 {
                return Err(Error::invalid(format!("{F}.cpu.realtimeRuntime"), rt, "must be -1 or a non-negative number of microseconds"));
            }
            if let Some(p) = c.realtime_period().filter(|p| *p > 0) {
                if rt > 0 && rt as u64 > p {
                    return Err(Error::invalid(format!("{F}.cpu.realtimeRuntime"), rt, format!("above the realtime period {p}")));
                }
            }
        }
        if let Some(idle) = c.idle() {
            if idle != 0 && idle != 1 {
                return Err(Error::invalid(format!("{F}.cpu.idle"), idle, "must be 0 or 1"));
            }
        }
        for (name, value, online) in [("cpus", c.cpus(), cpus_online), ("mems", c.mems(), mems_online)] {
            let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else { continue };
            let field = format!("{F}.cpu.{name}");
            let set = parse_list(value).map_err(|reason| Error::invalid(&field, value, reason))?;
            if let Some(online) = online {
                if let Some(bad) = set.iter().find(|n| !online.contains(n)) {
                    let what = if name == "cpus" { "cpu" } else { "memory node" };
                    return Err(Error::invalid(field, value, format!("{what} {bad} is not online on this machine (online: {})", format_list(online))));
                }
            }
        }
    }

    if let Some(p) = r.pids() {
        if p.limit() < -1 {
            return Err(Error::invalid(format!("{F}.pids.limit"), p.limit(), "must be -1 or 0 (unlimited) or a positive number"));
        }
    }

    if let Some(b) = r.block_io() {
        let check_weight = |field: String, w: Option<u16>| -> Result<()> {
            match w {
                Some(w) if w != 0 && !(MIN_BLKIO_WEIGHT..=MAX_BLKIO_WEIGHT).contains(&w) => {
                    Err(Error::invalid(field, w, format!("must be between {MIN_BLKIO_WEIGHT} and {MAX_BLKIO_WEIGHT} (or 0: not set)")))
                }
                _ => Ok(()),
            }
        };
        check_weight(format!("{F}.blockIO.weight"), b.weight())?;
        check_weight(format!("{F}.blockIO.leafWeight"), b.leaf_weight())?;
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            check_device(&format!("{F}.blockIO.weightDevice[{i}]"), d.major(), d.minor())?;
            check_weight(format!("{F}.blockIO.weightDevice[{i}].weight"), d.weight())?;
            check_weight(format!("{F}.blockIO.weightDevice[{i}].leafWeight"), d.leaf_weight())?;
        }
        for (name, list) in [
            ("throttleReadBpsDevice", b.throttle_read_bps_device()),
            ("throttleWriteBpsDevice", b.throttle_write_bps_device()),
            ("throttleReadIOPSDevice", b.throttle_read_iops_device()),
            ("throttleWriteIOPSDevice", b.throttle_write_iops_device()),
        ] {
            for (i, d) in list.iter().flatten().enumerate() {
                check_device(&format!("{F}.blockIO.{name}[{i}]"), d.major(), d.minor())?;
            }
        }
    }

    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("{F}.hugepageLimits[{i}]");
        hugepage_size_kb(h.page_size()).map_err(|reason| Error::invalid(format!("{field}.pageSize"), h.page_size(), reason))?;
        if h.limit() < -1 {
            return Err(Error::invalid(format!("{field}.limit"), h.limit(), "must be -1 (unlimited) or a non-negative number of bytes"));
        }
    }

    for (k, v) in r.unified().iter().flatten() {
        let field = format!("{F}.unified");
        if k.is_empty() || k.contains('/') || k.starts_with('.') || !k.contains('.') {
            return Err(Error::invalid(field, k, "must be the name of a file in the cgroup directory (e.g. memory.high)"));
        }
        if v.contains('\0') {
            return Err(Error::invalid(format!("{field}.{k}"), v.escape_debug(), "contains a NUL byte"));
        }
    }
    Ok(())
}

fn check_device(field: &str, major: i64, minor: i64) -> Result<()> {
    if major < 0 || minor < 0 || major > u32::MAX as i64 || minor > u32::MAX as i64 {
        return Err(Error::invalid(field, format!("{major}:{minor}"), "major and minor must be non-negative device numbers"));
    }
    Ok(())
}

/// Parses a cpu/node list as the kernel writes it: `0-3,8,10-11`.
pub(crate) fn parse_list(s: &str) -> std::result::Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    if s.trim().is_empty() {
        return Ok(out);
    }
    for part in s.trim().split(',') {
        let part = part.trim();
        let num = |t: &str| t.trim().parse::<u32>().map_err(|_| format!("{t:?} is not a number (expected a list such as 0-3,8)"));
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("range {part} is backwards"));
                }
                if b - a > 65_536 {
                    return Err(format!("range {part} is too large"));
                }
                out.extend(a..=b);
            }
            None => {
                out.insert(num(part)?);
            }
        }
    }
    Ok(out)
}

pub(crate) fn format_list(set: &BTreeSet<u32>) -> String {
    let mut parts = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
    }
    parts.join(",")
}

/// OCI hugepage size ("2MB", "1GB", "64KB") in kB, as /sys/kernel/mm/hugepages names them.
pub(crate) fn hugepage_size_kb(s: &str) -> std::result::Result<u64, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| "expected a size such as 2MB or 1GB".to_string())?;
    let mul = match unit {
        "KB" | "kB" => 1,
        "MB" => 1 << 10,
        "GB" => 1 << 20,
        _ => return Err("expected a size such as 2MB or 1GB (unit KB, MB or GB)".into()),
    };
    if n == 0 || !n.is_power_of_two() {
        return Err("a huge page size is a power of two".into());
    }
    Ok(n * mul)
}

/// cpu.shares (v1) to cpu.weight (v2), runc's formula: maps [2, 262144] onto [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(MIN_CPU_SHARES, MAX_CPU_SHARES) - 2) * 9999 / 262_142
}

/// blkio weight [10, 1000] to io.weight [1, 10000], runc's formula.
pub fn blkio_weight_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w.clamp(MIN_BLKIO_WEIGHT, MAX_BLKIO_WEIGHT)) - 10) * 9999 / 990
}

/// OCI swap (memory+swap total) to v2 memory.swap.max (swap alone), runc's rules. `memory` is the
/// memory limit that will be in force (-1 = unlimited). None: leave memory.swap.max as it is.
pub(crate) fn swap_to_v2(swap: i64, memory: i64) -> std::result::Result<Option<i64>, String> {
    if memory == -1 && swap == 0 {
        return Ok(Some(-1));
    }
    match swap {
        0 => Ok(None),
        -1 => Ok(Some(-1)),
        _ if memory <= 0 => Err("a memory+swap limit needs a memory limit".into()),
        _ if swap < memory => Err(format!("memory+swap total is below the memory limit {memory}")),
        _ => Ok(Some(swap - memory)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
        LinuxThrottleDeviceBuilder,
    };

    fn set(s: &str) -> BTreeSet<u32> {
        parse_list(s).expect("list")
    }

    fn check(r: LinuxResources) -> Result<()> {
        validate_with(&r, Some(&set("0-3")), Some(&set("0")))
    }

    fn field_of(e: Error) -> (String, String) {
        match e {
            Error::InvalidSpec { field, value, .. } => (field, value),
            other => panic!("expected InvalidSpec, got {other}"),
        }
    }

    fn mem(limit: Option<i64>, swap: Option<i64>) -> LinuxResources {
        let mut m = LinuxMemoryBuilder::default();
        if let Some(l) = limit {
            m = m.limit(l);
        }
        if let Some(s) = swap {
            m = m.swap(s);
        }
        LinuxResourcesBuilder::default().memory(m.build().expect("mem")).build().expect("res")
    }

    #[test]
    fn cgroups_parse_lists() {
        assert_eq!(set("0-3,8,10-11"), [0, 1, 2, 3, 8, 10, 11].into_iter().collect());
        assert_eq!(set(" 0 \n"), [0].into_iter().collect());
        assert!(parse_list("3-1").is_err());
        assert!(parse_list("a").is_err());
        assert!(parse_list("1,,2").is_err());
        assert_eq!(format_list(&set("0-3,8,10-11")), "0-3,8,10-11");
        assert_eq!(format_list(&set("")), "");
    }

    #[test]
    fn cgroups_conversions() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(swap_to_v2(200 << 20, 100 << 20), Ok(Some(100 << 20)));
        assert_eq!(swap_to_v2(-1, 100 << 20), Ok(Some(-1)));
        assert_eq!(swap_to_v2(0, 100 << 20), Ok(None));
        assert_eq!(swap_to_v2(0, -1), Ok(Some(-1)));
        assert!(swap_to_v2(50 << 20, 100 << 20).is_err());
        assert_eq!(hugepage_size_kb("2MB"), Ok(2048));
        assert_eq!(hugepage_size_kb("1GB"), Ok(1 << 20));
        assert!(hugepage_size_kb("3MB").is_err());
        assert!(hugepage_size_kb("2XB").is_err());
    }

    #[test]
    fn cgroups_validate_memory() {
        assert!(check(mem(Some(32 << 20), Some(64 << 20))).is_ok());
        assert!(check(mem(Some(-1), None)).is_ok());
        assert!(check(mem(Some(0), None)).is_ok());
        assert!(check(mem(None, Some(64 << 20))).is_ok(), "swap alone (update) is checked against the live limit later");
        assert_eq!(field_of(check(mem(Some(-5), None)).expect_err("must be rejected")), ("linux.resources.memory.limit".into(), "-5".into()));
        assert_eq!(field_of(check(mem(Some(4095), None)).expect_err("must be rejected")), ("linux.resources.memory.limit".into(), "4095".into()));
        assert!(check(mem(Some(4096), None)).is_ok(), "one page is a legitimate (tiny) limit");
        let e = check(mem(Some(64 << 20), Some(32 << 20))).expect_err("must be rejected");
        assert!(e.to_string().contains("below the memory limit"), "{e}");
        assert_eq!(field_of(e), ("linux.resources.memory.swap".into(), (32u64 << 20).to_string()));
        assert_eq!(field_of(check(mem(Some(-1), Some(64 << 20))).expect_err("must be rejected")).0, "linux.resources.memory.swap");
        let r = LinuxResourcesBuilder::default().memory(LinuxMemoryBuilder::default().swappiness(101u64).build().expect("m")).build().expect("r");
        assert_eq!(field_of(check(r).expect_err("must be rejected")).0, "linux.resources.memory.swappiness");
    }

    #[test]
    fn cgroups_validate_cpu() {
        let cpu = |b: LinuxCpuBuilder| LinuxResourcesBuilder::default().cpu(b.build().expect("cpu")).build().expect("res");
        assert!(check(cpu(LinuxCpuBuilder::default().shares(1024u64).quota(50_000i64).period(100_000u64).cpus("0-1").mems("0"))).is_ok());
        assert!(check(cpu(LinuxCpuBuilder::default().quota(-1i64))).is_ok());
        assert_eq!(field_of(check(cpu(LinuxCpuBuilder::default().shares(1u64))).expect_err("must be rejected")).0, "linux.resources.cpu.shares");
        assert_eq!(field_of(check(cpu(LinuxCpuBuilder::default().shares(300_000u64))).expect_err("must be rejected")).0, "linux.resources.cpu.shares");
        assert_eq!(
            field_of(check(cpu(LinuxCpuBuilder::default().quota(-7i64))).expect_err("must be rejected")),
            ("linux.resources.cpu.quota".into(), "-7".into())
        );
        assert_eq!(field_of(check(cpu(LinuxCpuBuilder::default().quota(500i64))).expect_err("must be rejected")).0, "linux.resources.cpu.quota");
        assert_eq!(
            field_of(check(cpu(LinuxCpuBuilder::default().quota(50_000i64).period(0u64))).expect_err("must be rejected")).0,
            "linux.resources.cpu.period"
        );
        assert_eq!(field_of(check(cpu(LinuxCpuBuilder::default().period(10u64))).expect_err("must be rejected")).0, "linux.resources.cpu.period");
        let e = check(cpu(LinuxCpuBuilder::default().cpus("0-5"))).expect_err("must be rejected");
        assert!(e.to_string().contains("cpu 4 is not online"), "{e}");
        assert_eq!(field_of(e), ("linux.resources.cpu.cpus".into(), "0-5".into()));
        assert_eq!(field_of(check(cpu(LinuxCpuBuilder::default().mems("1"))).expect_err("must be rejected")).0, "linux.resources.cpu.mems");
        assert_eq!(field_of(check(cpu(LinuxCpuBuilder::default().cpus("x"))).expect_err("must be rejected")).0, "linux.resources.cpu.cpus");
    }

    #[test]
    fn cgroups_validate_pids_blkio_hugetlb_unified() {
        let pids = |n: i64| LinuxResourcesBuilder::default().pids(LinuxPidsBuilder::default().limit(n).build().expect("p")).build().expect("r");
        assert!(check(pids(10)).is_ok());
        assert!(check(pids(-1)).is_ok());
        assert_eq!(field_of(check(pids(-2)).expect_err("must be rejected")).0, "linux.resources.pids.limit");

        let blk = |b: LinuxBlockIoBuilder| LinuxResourcesBuilder::default().block_io(b.build().expect("b")).build().expect("r");
        assert!(check(blk(LinuxBlockIoBuilder::default().weight(500u16))).is_ok());
        assert_eq!(
            field_of(check(blk(LinuxBlockIoBuilder::default().weight(5u16))).expect_err("must be rejected")),
            ("linux.resources.blockIO.weight".into(), "5".into())
        );
        assert_eq!(field_of(check(blk(LinuxBlockIoBuilder::default().weight(1001u16))).expect_err("must be rejected")).0, "linux.resources.blockIO.weight");
        let dev = LinuxThrottleDeviceBuilder::default().major(-1i64).minor(0i64).rate(10u64).build().expect("d");
        assert_eq!(
            field_of(check(blk(LinuxBlockIoBuilder::default().throttle_read_bps_device(vec![dev]))).expect_err("must be rejected")).0,
            "linux.resources.blockIO.throttleReadBpsDevice[0]"
        );

        let huge = |size: &str| {
            LinuxResourcesBuilder::default()
                .hugepage_limits(vec![LinuxHugepageLimitBuilder::default().page_size(size).limit(1i64 << 21).build().expect("h")])
                .build()
                .expect("r")
        };
        assert!(check(huge("2MB")).is_ok());
        assert_eq!(field_of(check(huge("2Mb")).expect_err("must be rejected")).0, "linux.resources.hugepageLimits[0].pageSize");

        let unified = |k: &str| {
            LinuxResourcesBuilder::default()
                .unified([(k.to_string(), "1".to_string())].into_iter().collect::<std::collections::HashMap<_, _>>())
                .build()
                .expect("r")
        };
        assert!(check(unified("memory.high")).is_ok());
        assert!(check(unified("../x.y")).is_err());
        assert!(check(unified("cgroup")).is_err());
    }
}
