//! Real cgroup tests: they create cgroups on the host (v1/hybrid here, v2 in the VM of
//! tests/vm/run-cgroup-tests.sh), put child processes in them and check the kernel's files.
//! They need root and skip with a message otherwise. Every cgroup is removed by a guard, also
//! when an assertion fails. Names: `rcontainer-t<pid>-<test>` (own-cgroup nesting or the
//! hierarchy root, so only project-owned names are ever created).

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
};

use super::driver::Inner;
use super::{host, shares_to_weight, Cgroup, CgroupRecord, Layout};
use crate::error::ErrorKind;

const MIB: i64 = 1 << 20;

/// The suites' rule (rcontainer_tests::root_or_skip, which core cannot depend on): without root
/// a real-cgroup test fails unless RCONTAINER_SKIP_ROOT_TESTS is set, then it says SKIPPED.
fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var_os("RCONTAINER_SKIP_ROOT_TESTS").is_some() {
        eprintln!("SKIPPED: real cgroup tests need root (run as root, or in tests/vm/run-cgroup-tests.sh)");
        return false;
    }
    panic!("real cgroup tests need root: run as root, or set RCONTAINER_SKIP_ROOT_TESTS=1 to skip them");
}

/// On v2 the default placement nests under the caller's cgroup, which only works when that is
/// the root or has no processes of its own (no-internal-process rule).
fn can_nest() -> bool {
    if !v2() {
        return true;
    }
    let own = super::driver::parse_proc_cgroup(&std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default());
    let own = own.iter().find(|o| o.controllers.is_empty()).map(|o| o.path.clone()).unwrap_or_default();
    if own.as_os_str().is_empty() {
        return true;
    }
    let dir = Path::new("/sys/fs/cgroup").join(own);
    let busy = std::fs::read_to_string(dir.join("cgroup.procs")).map(|t| !t.trim().is_empty()).unwrap_or(false);
    let e = Cgroup::create(&id("nestcheck"), None, None);
    if busy {
        let e = e.expect_err("nesting under a v2 cgroup with processes must be refused");
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("no-internal-process"), "{e}");
        assert!(!dir.join(format!("rcontainer-{}", id("nestcheck"))).exists());
        eprintln!("SKIP: the test runs in the v2 cgroup {} which has processes: containers cannot nest under it (checked that create says so)", dir.display());
        return false;
    }
    e.expect("create").destroy().expect("destroy");
    true
}

fn id(test: &str) -> String {
    format!("t{}-{test}", std::process::id())
}

fn v2() -> bool {
    host().layout == Layout::V2
}

/// Kills and reaps the child, then destroys the cgroup, whatever happened in the test.
struct Guard {
    cg: Option<Cgroup>,
    children: Vec<Child>,
}

impl Guard {
    fn new(cg: Cgroup) -> Guard {
        Guard { cg: Some(cg), children: Vec::new() }
    }
    fn cg(&self) -> &Cgroup {
        self.cg.as_ref().expect("cgroup")
    }
    /// Starts `sh -c script` blocked on a line from stdin, moves it into the cgroup, releases it.
    fn spawn(&mut self, script: &str) -> u32 {
        let mut child =
            Command::new("/bin/sh").arg("-c").arg(format!("read go; {script}")).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("spawn sh");
        let pid = child.id();
        self.cg().add_pid(pid as i32).expect("add_pid");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("release child");
        self.children.push(child);
        pid
    }
    fn child(&mut self) -> &mut Child {
        self.children.last_mut().expect("child")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(cg) = self.cg.take() {
            if let Err(e) = cg.destroy() {
                eprintln!("cleanup: destroy failed: {e}");
            }
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_child(c: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = c.try_wait().expect("try_wait") {
            return Some(s);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

/// The container's directory holding `controller` (v1: that hierarchy; v2: the one dir).
fn dir_of(cg: &Cgroup, controller: &str) -> PathBuf {
    match &cg.inner {
        Inner::V2(c) => c.dir.clone(),
        Inner::V1(c) => c
            .dirs
            .iter()
            .find(|(h, _)| h.split(',').any(|x| x == controller))
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no {controller} hierarchy in {:?}", c.dirs)),
    }
}

fn file(cg: &Cgroup, controller: &str, name: &str) -> String {
    let p = dir_of(cg, controller).join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())).trim().to_string()
}

fn resources(memory: Option<(i64, Option<i64>)>, cpu: Option<LinuxCpuBuilder>, pids: Option<i64>) -> LinuxResources {
    let mut r = LinuxResourcesBuilder::default();
    if let Some((limit, swap)) = memory {
        let mut m = LinuxMemoryBuilder::default().limit(limit);
        if let Some(s) = swap {
            m = m.swap(s);
        }
        r = r.memory(m.build().expect("memory"));
    }
    if let Some(c) = cpu {
        r = r.cpu(c.build().expect("cpu"));
    }
    if let Some(p) = pids {
        r = r.pids(LinuxPidsBuilder::default().limit(p).build().expect("pids"));
    }
    r.build().expect("resources")
}

fn assert_gone(paths: &[PathBuf]) {
    assert!(!paths.is_empty(), "the cgroup owned no directory");
    for p in paths {
        assert!(!p.exists(), "{} still exists after destroy", p.display());
    }
}

/// Does this host account swap (so that a memory+swap limit can be set)?
fn swap_accounting(cg: &Cgroup) -> bool {
    let d = dir_of(cg, "memory");
    d.join(if v2() { "memory.swap.max" } else { "memory.memsw.limit_in_bytes" }).exists()
}

#[test]
fn cgroups_real_limits_update_destroy() {
    if !is_root() || !can_nest() {
        return;
    }
    let cpu = LinuxCpuBuilder::default().shares(512u64).quota(50_000i64).period(100_000u64).cpus("0").mems("0");
    let mut r = resources(Some((64 * MIB, None)), Some(cpu), Some(64));
    r.memory_mut().as_mut().expect("m").set_reservation(Some(32 * MIB));
    let cg = Cgroup::create(&id("limits"), None, Some(&r)).expect("create");
    let mut g = Guard::new(cg);
    let pid = g.spawn("exec sleep 60");
    let cg = g.cg().clone();

    // The process is in every hierarchy's directory.
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("proc cgroup");
    for d in cg.dirs() {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).expect("procs");
        assert!(procs.lines().any(|l| l.trim() == pid.to_string()), "{pid} not in {}: {procs:?}", d.display());
    }
    assert!(own.contains(&format!("rcontainer-{}", id("limits"))), "{own}");

    if v2() {
        assert_eq!(file(&cg, "memory", "memory.max"), (64 * MIB).to_string());
        assert_eq!(file(&cg, "memory", "memory.low"), (32 * MIB).to_string());
        assert_eq!(file(&cg, "cpu", "cpu.weight"), shares_to_weight(512).to_string());
        assert_eq!(file(&cg, "cpu", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(file(&cg, "memory", "memory.limit_in_bytes"), (64 * MIB).to_string());
        assert_eq!(file(&cg, "memory", "memory.soft_limit_in_bytes"), (32 * MIB).to_string());
        assert_eq!(file(&cg, "cpu", "cpu.shares"), "512");
        assert_eq!(file(&cg, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(file(&cg, "cpu", "cpu.cfs_period_us"), "100000");
    }
    assert_eq!(file(&cg, "cpuset", "cpuset.cpus"), "0");
    assert_eq!(file(&cg, "cpuset", "cpuset.mems"), "0");
    assert_eq!(file(&cg, "pids", "pids.max"), "64");

    // Live update: only what is given changes (the period stays).
    let up = resources(Some((96 * MIB, None)), Some(LinuxCpuBuilder::default().quota(20_000i64)), Some(32));
    cg.update(&up).expect("update");
    if v2() {
        assert_eq!(file(&cg, "memory", "memory.max"), (96 * MIB).to_string());
        assert_eq!(file(&cg, "memory", "memory.low"), (32 * MIB).to_string());
        assert_eq!(file(&cg, "cpu", "cpu.max"), "20000 100000");
    } else {
        assert_eq!(file(&cg, "memory", "memory.limit_in_bytes"), (96 * MIB).to_string());
        assert_eq!(file(&cg, "cpu", "cpu.cfs_quota_us"), "20000");
        assert_eq!(file(&cg, "cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(file(&cg, "cpu", "cpu.shares"), "512");
    }
    assert_eq!(file(&cg, "pids", "pids.max"), "32");

    // Swap (memory+swap total), raising and lowering both in one update each.
    if swap_accounting(&cg) {
        cg.update(&resources(Some((128 * MIB, Some(256 * MIB))), None, None)).expect("raise memory+swap");
        cg.update(&resources(Some((48 * MIB, Some(64 * MIB))), None, None)).expect("lower memory+swap");
        if v2() {
            assert_eq!(file(&cg, "memory", "memory.max"), (48 * MIB).to_string());
            assert_eq!(file(&cg, "memory", "memory.swap.max"), (16 * MIB).to_string());
        } else {
            assert_eq!(file(&cg, "memory", "memory.limit_in_bytes"), (48 * MIB).to_string());
            assert_eq!(file(&cg, "memory", "memory.memsw.limit_in_bytes"), (64 * MIB).to_string());
        }
        cg.update(&resources(Some((-1, None)), None, None)).expect("unlimited");
        let s = cg.stats().expect("stats");
        assert_eq!(s.memory_limit, None);
    } else {
        eprintln!("note: no swap accounting on this kernel; memory+swap not checked");
    }

    // Invalid updates change nothing and name the field.
    let bad = cg.update(&resources(Some((64 * MIB, Some(32 * MIB))), None, None)).expect_err("swap below memory");
    assert_eq!(bad.kind(), ErrorKind::InvalidConfig);
    assert!(bad.to_string().contains("linux.resources.memory.swap"), "{bad}");
    assert_eq!(file(&cg, "pids", "pids.max"), "32");

    // destroy kills what is left and leaves no directory in any controller.
    let paths = cg.paths();
    assert_eq!(paths.len(), cg.dirs().count(), "one new directory per hierarchy: {paths:?}");
    g.cg.take().expect("cg").destroy().expect("destroy");
    assert_gone(&paths);
    let st = wait_child(g.child(), Duration::from_secs(5)).expect("child killed by destroy");
    assert_eq!(st.signal(), Some(libc::SIGKILL));
    cg.destroy().expect("destroy is idempotent");
}

#[test]
fn cgroups_real_default_placement_nests_under_own_cgroup() {
    if !is_root() || !can_nest() {
        return;
    }
    let cg = Cgroup::create(&id("nest"), None, None).expect("create");
    let g = Guard::new(cg);
    let own = super::driver::parse_proc_cgroup(&std::fs::read_to_string("/proc/self/cgroup").expect("read"));
    let mem = dir_of(g.cg(), "memory");
    let want_own =
        own.iter().find(|o| if v2() { o.controllers.is_empty() } else { o.controllers.contains("memory") }).map(|o| o.path.clone()).expect("own memory cgroup");
    let base = if v2() { PathBuf::from("/sys/fs/cgroup") } else { PathBuf::from("/sys/fs/cgroup/memory") };
    assert_eq!(mem, base.join(want_own).join(format!("rcontainer-{}", id("nest"))));
    // A relative path nests under the own cgroup too.
    let rel = Cgroup::create(&id("nest2"), Some(Path::new(&format!("rcontainer-{}/inner", id("nest2")))), None).expect("create relative");
    let g2 = Guard::new(rel);
    assert!(dir_of(g2.cg(), "memory").ends_with(format!("rcontainer-{}/inner", id("nest2"))));
    assert_eq!(g2.cg().paths().len(), 2 * g2.cg().dirs().count(), "parent and leaf created in every hierarchy");
}

#[test]
fn cgroups_real_absolute_path_record_and_second_process_destroy() {
    if !is_root() {
        return;
    }
    let _ = can_nest();
    let top = format!("rcontainer-{}", id("abs"));
    let abs = PathBuf::from(format!("/{top}/ctr"));
    let cg = Cgroup::create(&id("abs"), Some(&abs), Some(&resources(None, None, Some(10)))).expect("create");
    let mut g = Guard::new(cg);
    g.spawn("exec sleep 60");
    let cg = g.cg().clone();
    for d in cg.dirs() {
        assert!(d.ends_with(format!("{top}/ctr")), "{}", d.display());
        let hier_root = d.parent().and_then(Path::parent).expect("root");
        assert!(hier_root == Path::new("/sys/fs/cgroup") || hier_root.parent() == Some(Path::new("/sys/fs/cgroup")), "{}", d.display());
    }
    // What state.json stores is enough for another process to manage and remove it.
    let json = serde_json::to_string(&cg.record()).expect("json");
    let back = Cgroup::from_record(&serde_json::from_str::<CgroupRecord>(&json).expect("parse"));
    assert_eq!(back.stats().expect("stats").pids_limit, Some(10));
    assert_eq!(back.procs().len(), 1);
    let paths = back.paths();
    back.destroy().expect("destroy from record");
    assert_gone(&paths);
    assert!(wait_child(g.child(), Duration::from_secs(5)).is_some());
    g.cg.take().expect("cg").destroy().expect("second destroy is fine");
}

#[test]
fn cgroups_real_invalid_or_refused_creates_nothing() {
    if !is_root() {
        return;
    }
    let _ = can_nest();
    let top = format!("rcontainer-{}", id("fail"));
    let abs = PathBuf::from(format!("/{top}/ctr"));
    let tops: Vec<PathBuf> = if v2() {
        vec![PathBuf::from("/sys/fs/cgroup").join(&top)]
    } else {
        host().v1.iter().map(|h| Path::new("/sys/fs/cgroup").join(&h.dir).join(&top)).collect()
    };
    // Rejected by validation.
    // A create that wrongly succeeds is destroyed before the test fails (nothing left behind).
    let refused = |r: crate::error::Result<Cgroup>, what: &str| match r {
        Ok(cg) => {
            let _ = cg.destroy();
            panic!("{what} was accepted");
        }
        Err(e) => e,
    };
    let e = refused(Cgroup::create(&id("fail"), Some(&abs), Some(&resources(Some((4095, None)), None, None))), "too small");
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert!(e.to_string().contains("linux.resources.memory.limit") && e.to_string().contains("4095"), "{e}");
    let e = refused(Cgroup::create(&id("fail"), Some(&abs), Some(&resources(None, Some(LinuxCpuBuilder::default().cpus("0-4095")), None))), "cpus");
    assert!(e.to_string().contains("linux.resources.cpu.cpus"), "{e}");
    for t in &tops {
        assert!(!t.exists(), "{} exists", t.display());
    }
    // Accepted by validation, refused by the kernel (no such block device): rolled back.
    let dev = LinuxThrottleDeviceBuilder::default().major(250i64).minor(4095i64).rate(1_000_000u64).build().expect("dev");
    let r = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(5).build().expect("p"))
        .block_io(LinuxBlockIoBuilder::default().throttle_read_bps_device(vec![dev]).build().expect("b"))
        .build()
        .expect("r");
    let e = Cgroup::create(&id("fail"), Some(&abs), Some(&r)).expect_err("kernel refuses the device");
    assert!(e.to_string().contains("250:4095"), "{e}");
    for t in &tops {
        assert!(!t.exists(), "{} left behind after a failed create", t.display());
    }
}

#[test]
fn cgroups_real_stats_move() {
    if !is_root() || !can_nest() {
        return;
    }
    let cg = Cgroup::create(&id("stats"), None, Some(&resources(Some((64 * MIB, None)), None, Some(50)))).expect("create");
    let mut g = Guard::new(cg);
    // Memory is charged where it is allocated (v1 does not move old charges): allocate after
    // the move, then spin.
    g.spawn("x=$(head -c 4000000 /dev/zero | tr '\\0' a); while :; do :; done");
    let cg = g.cg().clone();
    std::thread::sleep(Duration::from_millis(200));
    let a = cg.stats().expect("stats");
    std::thread::sleep(Duration::from_millis(400));
    let b = cg.stats().expect("stats");
    eprintln!("stats: {a:?}\n   -> {b:?}");
    assert!(b.cpu_usage_ns > a.cpu_usage_ns + 50_000_000, "cpu usage did not move: {a:?} -> {b:?}");
    assert!(b.cpu_user_ns + b.cpu_system_ns > 0);
    assert!(b.memory_usage > 1 << 20, "{b:?}");
    assert!(b.memory_peak >= b.memory_usage || (v2() && b.memory_peak == 0), "{b:?}");
    assert_eq!(b.memory_limit, Some(64 << 20));
    assert!(b.pids_current >= 1);
    assert_eq!(b.pids_limit, Some(50));
    assert_eq!(b.oom_kills, 0);
    let json = serde_json::to_value(&b).expect("json");
    assert!(json.get("cpu_usage_ns").is_some());
}

#[test]
fn cgroups_real_freeze_thaw() {
    if !is_root() || !can_nest() {
        return;
    }
    let cg = Cgroup::create(&id("freeze"), None, None).expect("create");
    let mut g = Guard::new(cg);
    g.spawn("while :; do :; done");
    let cg = g.cg().clone();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!cg.is_frozen());
    cg.freeze().expect("freeze");
    assert!(cg.is_frozen());
    let a = cg.stats().expect("stats").cpu_usage_ns;
    std::thread::sleep(Duration::from_millis(300));
    let b = cg.stats().expect("stats").cpu_usage_ns;
    assert!(b - a < 2_000_000, "a frozen busy loop used {} ns", b - a);
    cg.thaw().expect("thaw");
    assert!(!cg.is_frozen());
    std::thread::sleep(Duration::from_millis(300));
    let c = cg.stats().expect("stats").cpu_usage_ns;
    assert!(c > b + 50_000_000, "the thawed loop did not run: {b} -> {c}");
}

#[test]
fn cgroups_real_kill_all() {
    if !is_root() || !can_nest() {
        return;
    }
    for (name, sig) in [("killall9", libc::SIGKILL), ("killall15", libc::SIGTERM)] {
        let cg = Cgroup::create(&id(name), None, None).expect("create");
        let mut g = Guard::new(cg);
        g.spawn("sleep 60 & sleep 60 & wait");
        let cg = g.cg().clone();
        assert!(wait_for(Duration::from_secs(5), || cg.procs().len() >= 3), "procs: {:?}", cg.procs());
        cg.kill_all(sig).expect("kill_all");
        let st = wait_child(g.child(), Duration::from_secs(5)).expect("sh ended");
        assert_eq!(st.signal(), Some(sig), "{name}");
        assert!(wait_for(Duration::from_secs(5), || cg.procs().is_empty()), "left: {:?}", cg.procs());
        assert!(!cg.is_frozen(), "kill_all must not leave the cgroup frozen");
    }
}

#[test]
fn cgroups_real_pids_limit_stops_fork_loop() {
    if !is_root() || !can_nest() {
        return;
    }
    let cg = Cgroup::create(&id("pids"), None, Some(&resources(None, None, Some(5)))).expect("create");
    let mut g = Guard::new(cg);
    g.spawn("for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 60 & done; wait");
    let cg = g.cg().clone();
    std::thread::sleep(Duration::from_millis(500));
    let s = cg.stats().expect("stats");
    assert!(s.pids_current <= 5 && s.pids_current >= 2, "{s:?}");
    // pids.current also counts tasks still exiting after a refused fork.
    assert!(cg.procs().len() as u64 <= s.pids_current && cg.procs().len() >= 2, "{:?} {s:?}", cg.procs());
}

#[test]
fn cgroups_real_cpu_quota_holds_busy_loop() {
    if !is_root() || !can_nest() {
        return;
    }
    let cpu = LinuxCpuBuilder::default().quota(20_000i64).period(100_000u64);
    let cg = Cgroup::create(&id("quota"), None, Some(&resources(None, Some(cpu), None))).expect("create");
    let mut g = Guard::new(cg);
    g.spawn("while :; do :; done");
    let cg = g.cg().clone();
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    let a = cg.stats().expect("stats").cpu_usage_ns;
    std::thread::sleep(Duration::from_millis(1500));
    let b = cg.stats().expect("stats").cpu_usage_ns;
    let share = (b - a) as f64 / t0.elapsed().as_nanos() as f64;
    eprintln!("busy loop under a 0.2 cpu quota used {share:.3} cpu");
    assert!(share > 0.05 && share < 0.35, "share {share}");
}

#[test]
fn cgroups_real_oom_kill_counted() {
    if !is_root() || !can_nest() {
        return;
    }
    // No swap: memory+swap equals memory (v1 memsw / v2 swap.max 0) where swap is accounted.
    let probe = Cgroup::create(&id("oomprobe"), None, None).expect("create");
    let swap = if swap_accounting(&probe) { Some(16 * MIB) } else { None };
    probe.destroy().expect("destroy");
    let cg = Cgroup::create(&id("oom"), None, Some(&resources(Some((16 * MIB, swap)), None, None))).expect("create");
    let mut g = Guard::new(cg);
    let before = g.cg().oom_kill_count();
    assert_eq!(before, 0);
    // The shell keeps the command substitution's 64 MiB output in memory.
    g.spawn("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}");
    let st = wait_child(g.child(), Duration::from_secs(60)).expect("memory hog ended");
    let cg = g.cg().clone();
    assert!(wait_for(Duration::from_secs(2), || cg.oom_kill_count() > before), "no OOM kill counted (exit {st:?}, count {})", cg.oom_kill_count());
    assert!(cg.stats().expect("stats").oom_kills >= 1);
    assert!(cg.stats().expect("stats").memory_peak > 8 << 20 || cg.stats().expect("stats").memory_peak == 0);
}

#[test]
fn cgroups_real_v2_dir_fd_clone_into_cgroup() {
    if !is_root() || !can_nest() {
        return;
    }
    let cg = Cgroup::create(&id("clone"), None, None).expect("create");
    let g = Guard::new(cg);
    let Some(fd) = g.cg().v2_dir_fd() else {
        assert!(!v2(), "v2 host but no dir fd");
        eprintln!("note: v1/hybrid host: no CLONE_INTO_CGROUP fd (expected)");
        return;
    };
    use std::os::fd::AsRawFd;
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let mut args = crate::sys::CloneArgs { flags: CLONE_INTO_CGROUP, exit_signal: libc::SIGCHLD as u64, cgroup: fd.as_raw_fd() as u64, ..Default::default() };
    // SAFETY: fork-style clone3; the child only calls pause/_exit.
    let pid = unsafe { crate::sys::clone3(&mut args) }.expect("clone3 CLONE_INTO_CGROUP");
    if pid == 0 {
        // SAFETY: raw syscalls only in the child.
        unsafe {
            libc::pause();
            libc::_exit(0);
        }
    }
    let procs = g.cg().procs();
    // SAFETY: our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    assert_eq!(procs, vec![pid], "the child was born inside the cgroup");
}
