//! The cgroup drivers against fixture directories, without root (as youki tests its drivers):
//! a temp dir stands in for a cgroup, holding the control files a kernel would show; the test
//! applies OCI resources and reads back what was written, and reads stats from files it wrote.
//! What the kernel itself does (refusing a value, charging memory) is tests_real.rs's part.

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::v1::V1;
use super::v2::V2;
use crate::error::ErrorKind;

/// A fake cgroup directory holding `files` (name, initial content).
fn fixture(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write fixture");
    }
    dir
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).expect("read back").trim().to_string()
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("resources JSON")
}

const V2_FILES: &[(&str, &str)] = &[
    ("memory.max", ""),
    ("memory.swap.max", ""),
    ("memory.low", ""),
    ("cpu.weight", ""),
    ("cpu.max", "max 100000\n"),
    ("cpuset.cpus", ""),
    ("pids.max", ""),
    ("io.weight", ""),
];

#[test]
fn v2_writes_each_limit_to_its_file_in_v2_units() {
    let d = fixture(V2_FILES);
    let v2 = V2 { dir: d.path().to_path_buf(), created: Vec::new() };
    let r = resources(
        r#"{"memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432},
            "cpu": {"shares": 1024, "quota": 50000, "cpus": "0-1"},
            "pids": {"limit": 32},
            "blockIO": {"weight": 500}}"#,
    );
    v2.apply(&r).expect("apply");
    assert_eq!(read(d.path(), "memory.max"), "67108864");
    assert_eq!(read(d.path(), "memory.swap.max"), "67108864", "OCI swap is memory+swap; v2's file is swap alone");
    assert_eq!(read(d.path(), "memory.low"), "33554432");
    assert_eq!(read(d.path(), "cpu.weight"), "39", "shares 1024 -> weight as runc converts it");
    assert_eq!(read(d.path(), "cpu.max"), "50000 100000", "the quota with the period that was there");
    assert_eq!(read(d.path(), "cpuset.cpus"), "0-1");
    assert_eq!(read(d.path(), "pids.max"), "32");
    assert!(read(d.path(), "io.weight").starts_with("default "), "{}", read(d.path(), "io.weight"));
}

#[test]
fn v2_refuses_what_it_cannot_express_naming_the_field() {
    let d = fixture(V2_FILES);
    let v2 = V2 { dir: d.path().to_path_buf(), created: Vec::new() };
    let e = v2.apply(&resources(r#"{"memory": {"limit": 67108864, "swap": 33554432}}"#)).expect_err("swap below memory");
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert!(e.to_string().contains("linux.resources.memory.swap"), "{e}");
    let e = v2.apply(&resources(r#"{"cpu": {"realtimeRuntime": 1000}}"#)).expect_err("realtime");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    // A control file the kernel lacks: Unsupported, naming the OCI field and the file.
    let e = v2.apply(&resources(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1048576}]}"#)).expect_err("no hugetlb");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("hugepageLimits[0]") && e.to_string().contains("hugetlb.2MB.max"), "{e}");
}

#[test]
fn v2_stats_from_its_files() {
    let d = fixture(&[
        ("memory.current", "1048576\n"),
        ("memory.peak", "2097152\n"),
        ("memory.max", "max\n"),
        ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"),
        ("pids.current", "3\n"),
        ("pids.max", "64\n"),
        ("memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n"),
    ]);
    let s = V2 { dir: d.path().to_path_buf(), created: Vec::new() }.stats().expect("stats");
    assert_eq!((s.memory_usage, s.memory_peak, s.memory_limit), (1 << 20, 2 << 20, None));
    assert_eq!((s.cpu_usage_ns, s.cpu_user_ns, s.cpu_system_ns), (1_500_000, 1_000_000, 500_000));
    assert_eq!((s.pids_current, s.pids_limit, s.oom_kills), (3, Some(64), 1));
}

#[test]
fn v1_writes_each_limit_to_its_controller() {
    let mem = fixture(&[
        ("memory.limit_in_bytes", "9223372036854771712\n"),
        ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
        ("memory.soft_limit_in_bytes", ""),
    ]);
    let cpu = fixture(&[("cpu.shares", ""), ("cpu.cfs_quota_us", ""), ("cpu.cfs_period_us", "")]);
    let pids = fixture(&[("pids.max", "")]);
    let v1 = V1 {
        dirs: vec![("memory".into(), mem.path().to_path_buf()), ("cpu".into(), cpu.path().to_path_buf()), ("pids".into(), pids.path().to_path_buf())],
        created: Vec::new(),
    };
    let r = resources(r#"{"memory": {"limit": 67108864, "swap": 134217728}, "cpu": {"shares": 512, "quota": 50000, "period": 100000}, "pids": {"limit": 32}}"#);
    v1.apply(&r).expect("apply");
    assert_eq!(read(mem.path(), "memory.limit_in_bytes"), "67108864");
    assert_eq!(read(mem.path(), "memory.memsw.limit_in_bytes"), "134217728", "v1's memsw is OCI's memory+swap as is");
    assert_eq!(read(cpu.path(), "cpu.shares"), "512");
    assert_eq!((read(cpu.path(), "cpu.cfs_quota_us"), read(cpu.path(), "cpu.cfs_period_us")), ("50000".into(), "100000".into()));
    assert_eq!(read(pids.path(), "pids.max"), "32");
    // A controller the host lacks: the error names the field (no cpuset here).
    let e = v1.apply(&resources(r#"{"cpu": {"cpus": "0"}}"#)).expect_err("no cpuset controller");
    assert!(e.to_string().contains("linux.resources.cpu"), "{e}");
}

#[test]
fn v1_without_swap_accounting_refuses_a_swap_limit_but_not_unlimited() {
    let mem = fixture(&[("memory.limit_in_bytes", "9223372036854771712\n")]);
    let v1 = V1 { dirs: vec![("memory".into(), mem.path().to_path_buf())], created: Vec::new() };
    let e = v1.apply(&resources(r#"{"memory": {"limit": 67108864, "swap": 134217728}}"#)).expect_err("no memsw");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("swapaccount=1"), "{e}");
    v1.apply(&resources(r#"{"memory": {"limit": 67108864, "swap": -1}}"#)).expect("unlimited swap needs no accounting");
    assert_eq!(read(mem.path(), "memory.limit_in_bytes"), "67108864");
}
