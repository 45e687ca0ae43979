//! Cgroup limits seen end to end: what the container experiences (OOM, fork failures, cpu
//! throttling, freezing) and what the host's cgroup files say, through the library and the CLI.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rcontainer_core::{Container, Limits, Spec, SpecBuilder, Stdio};
use rcontainer_tests::{pipe, read_on_thread, require_root, unique_id, Cli, Guard, StateRoot};

fn spec(root: &StateRoot, script: &str, limits: &Limits) -> Spec {
    SpecBuilder::new(["sh", "-c", script]).default_root(root.path()).expect("default root").limits(limits).build()
}

/// The container's cgroup directories as recorded in its state.
fn cgroup_dirs(c: &mut Container) -> Vec<(String, PathBuf)> {
    let state = c.state().expect("state");
    let record = state.cgroup.expect("container has a cgroup record");
    record.dirs.into_iter().collect()
}

fn host_file(c: &mut Container, controller: &str, v1_file: &str, v2_file: &str) -> String {
    let dirs = cgroup_dirs(c);
    let (name, dir) =
        dirs.iter().find(|(k, _)| k.is_empty() || k.split(',').any(|p| p == controller)).unwrap_or_else(|| panic!("no {controller} cgroup in {dirs:?}"));
    let file = if name.is_empty() { v2_file } else { v1_file };
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display())).trim().to_string()
}

const HOG: &str = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived ${#x}";

#[test]
fn memory_hog_is_oom_killed_and_raising_the_limit_live_lets_it_finish() {
    require_root!();
    let root = StateRoot::new();
    let limits = Limits { memory: Some(32 << 20), memory_swap: Some(32 << 20), ..Default::default() };

    let mut c = Guard(Container::create(&unique_id("oom"), &spec(&root, HOG, &limits), &root.options()).expect("create"));
    c.start().expect("start");
    let status = c.wait(Some(Duration::from_secs(60))).expect("wait");
    assert!(status.oom_killed, "a 100 MB hog under 32 MiB was not reported as OOM: {status:?}");
    assert_eq!(status.exit_code(), 137, "{status:?}");
    assert!(c.stats().expect("stats").oom_kills >= 1);

    // Same hog, but it waits for a line on stdin; the limit is raised while it waits.
    let (stdin_r, stdin_w) = pipe();
    let (out_r, out_w) = pipe();
    let mut opts = root.options();
    opts.stdio = Stdio { stdin: Some(stdin_r.as_raw_fd()), stdout: Some(out_w.as_raw_fd()), stderr: opts.stdio.stderr };
    let script = format!("read go; {HOG}");
    let mut c = Guard(Container::create(&unique_id("oom2"), &spec(&root, &script, &limits), &opts).expect("create"));
    drop((stdin_r, out_w));
    let reader = read_on_thread(out_r);
    c.start().expect("start");
    assert_eq!(host_file(&mut c, "memory", "memory.limit_in_bytes", "memory.max"), (32u64 << 20).to_string());
    let raised = Limits { memory: Some(512 << 20), memory_swap: Some(512 << 20), ..Default::default() };
    c.limit(&raised.to_resources()).expect("raise the limit live");
    assert_eq!(host_file(&mut c, "memory", "memory.limit_in_bytes", "memory.max"), (512u64 << 20).to_string());
    let mut w = std::fs::File::from(stdin_w);
    writeln!(w, "go").expect("write stdin");
    drop(w);
    let status = c.wait(Some(Duration::from_secs(60))).expect("wait");
    let out = reader.join().expect("reader");
    assert!(status.success() && !status.oom_killed, "{status:?}, output {out:?}");
    assert!(out.contains("survived 100000000"), "{out:?}");
}

#[test]
fn fork_loop_stops_at_the_pids_limit_and_the_host_is_unaffected() {
    require_root!();
    let root = StateRoot::new();
    let limits = Limits { pids: Some(10), ..Default::default() };
    let (err_r, err_w) = pipe();
    let mut opts = root.options();
    opts.stdio.stderr = Some(err_w.as_raw_fd());
    // perl (Debian's perl-base is essential) survives a failed fork, unlike dash.
    let script = "exec perl -e 'for (1..40) { my $p = fork(); if (!defined $p) { print STDERR \"fork failed: $!\\n\"; next } if ($p == 0) { sleep 30; exit 0 } } sleep 30'";
    let mut c = Guard(Container::create(&unique_id("pids"), &spec(&root, script, &limits), &opts).expect("create"));
    drop(err_w);
    let errors = read_on_thread(err_r);
    c.start().expect("start");
    assert_eq!(host_file(&mut c, "pids", "pids.max", "pids.max"), "10");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut current = 0;
    while Instant::now() < deadline {
        current = c.stats().expect("stats").pids_current;
        if current >= 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(current, 10, "the container should fill its pids limit exactly");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(c.stats().expect("stats").pids_current, 10, "never more than the limit");
    // The host can still start processes.
    assert!(std::process::Command::new("true").status().expect("spawn on host").success());
    c.kill_all(libc::SIGKILL).expect("kill all");
    c.wait(Some(Duration::from_secs(10))).expect("wait");
    drop(c);
    let errors = errors.join().expect("reader");
    assert!(errors.to_lowercase().contains("fork") || errors.contains("Resource temporarily unavailable"), "no fork failure reported: {errors:?}");
}

#[test]
fn cpu_quota_of_a_fifth_holds_a_busy_loop_near_twenty_percent() {
    require_root!();
    let root = StateRoot::new();
    let limits = Limits { cpus: Some(0.2), ..Default::default() };
    let mut c = Guard(Container::create(&unique_id("cpu"), &spec(&root, "while :; do :; done", &limits), &root.options()).expect("create"));
    c.start().expect("start");
    assert_eq!(host_file(&mut c, "cpu", "cpu.cfs_quota_us", "cpu.max").split_whitespace().next(), Some("20000"));
    std::thread::sleep(Duration::from_millis(300));
    let (t0, u0) = (Instant::now(), c.stats().expect("stats").cpu_usage_ns);
    std::thread::sleep(Duration::from_millis(1500));
    let (t1, u1) = (Instant::now(), c.stats().expect("stats").cpu_usage_ns);
    let share = (u1 - u0) as f64 / (t1 - t0).as_nanos() as f64;
    assert!((0.1..=0.32).contains(&share), "busy loop under a 0.2 cpu quota used {share:.3} of a cpu");
}

#[test]
fn stats_move_and_pause_stops_the_container_until_resume() {
    require_root!();
    let root = StateRoot::new();
    let mut c = Guard(Container::create(&unique_id("pause"), &spec(&root, "while :; do :; done", &Limits::default()), &root.options()).expect("create"));
    c.start().expect("start");
    let usage = |c: &mut Container| c.stats().expect("stats").cpu_usage_ns;
    let a = usage(&mut c);
    std::thread::sleep(Duration::from_millis(300));
    let b = usage(&mut c);
    assert!(b > a + 50_000_000, "a busy loop should use cpu: {a} -> {b}");
    assert!(c.stats().expect("stats").memory_usage > 0);

    c.pause().expect("pause");
    assert_eq!(c.state().expect("state").status.to_string(), "paused");
    std::thread::sleep(Duration::from_millis(100));
    let p0 = usage(&mut c);
    std::thread::sleep(Duration::from_millis(400));
    let p1 = usage(&mut c);
    assert!(p1 - p0 < 5_000_000, "a paused container kept running: {p0} -> {p1}");
    assert!(c.start().is_err(), "start of a paused container must fail");

    c.resume().expect("resume");
    assert_eq!(c.state().expect("state").status.to_string(), "running");
    std::thread::sleep(Duration::from_millis(300));
    assert!(usage(&mut c) > p1 + 50_000_000, "resume did not restart the container");
}

#[test]
fn delete_removes_the_cgroup_in_every_controller_even_after_force() {
    require_root!();
    let root = StateRoot::new();
    let limits = Limits { memory: Some(64 << 20), pids: Some(20), ..Default::default() };
    let mut c = Container::create(&unique_id("rm"), &spec(&root, "sleep 30", &limits), &root.options()).expect("create");
    c.start().expect("start");
    let dirs: Vec<PathBuf> = cgroup_dirs(&mut c).into_iter().map(|(_, d)| d).collect();
    assert!(!dirs.is_empty());
    for d in &dirs {
        assert!(d.is_dir(), "{} missing while running", d.display());
        assert!(d.file_name().is_some_and(|n| n.to_string_lossy().contains(c.id())), "{} is not named after the container", d.display());
    }
    c.delete(true).expect("delete --force");
    for d in &dirs {
        assert!(!d.exists(), "{} remains after delete", d.display());
    }
}

#[test]
fn cli_oom_prints_oom_and_exits_137_and_update_events_pause_resume_work() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let out = cli.run(&["run", "--memory", "32M", "--memory-swap", "32M", "--", "sh", "-c", HOG]);
    assert_eq!(out.code, Some(137), "{:?} {:?}", out.stdout, out.stderr);
    assert!(out.stderr.contains("OOM"), "{:?}", out.stderr);

    let id = unique_id("cli");
    cli.run(&["run", "-d", "--memory", "64M", "--pids", "30", &id, "--", "sleep", "30"]).ok();
    cli.run(&["update", "--memory", "128M", "--pids-limit", "50", &id]).ok();
    let ev: serde_json::Value = serde_json::from_str(&cli.run(&["events", "--stats", &id]).ok().stdout).expect("events JSON");
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 128u64 << 20, "{ev}");
    assert_eq!(ev["data"]["pids"]["limit"], 50, "{ev}");
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap_or(0) >= 1, "{ev}");
    cli.run(&["pause", &id]).ok();
    assert_eq!(cli.state(&id)["status"], "paused");
    cli.run(&["resume", &id]).ok();
    assert_eq!(cli.state(&id)["status"], "running");
    let ps: Vec<i32> = serde_json::from_str(&cli.run(&["ps", "--format", "json", &id]).ok().stdout).expect("ps JSON");
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0], cli.state(&id)["pid"].as_i64().unwrap_or(0) as i32, "ps lists the init by its host pid");
    // SIGKILL reaches a paused container (it is thawed after the signal, as runc does).
    cli.run(&["pause", &id]).ok();
    cli.run(&["kill", "--all", &id, "KILL"]).ok();
    cli.wait_status(&id, "stopped");
    cli.run(&["delete", &id]).ok();
    let bad = cli.run(&["run", "--memory", "-5M", "--", "true"]);
    assert_eq!(bad.code, Some(125), "{:?}", bad.stderr);
    assert!(bad.stderr.contains("--memory") && bad.stderr.contains("-5M"), "{:?}", bad.stderr);
}

#[test]
fn container_sees_its_own_cgroup_as_root() {
    require_root!();
    let root = StateRoot::new();
    let (out_r, out_w) = pipe();
    let mut opts = root.options();
    opts.stdio.stdout = Some(out_w.as_raw_fd());
    let mut c = Guard(Container::create(&unique_id("cgns"), &spec(&root, "cat /proc/self/cgroup", &Limits::default()), &opts).expect("create"));
    drop(out_w);
    let reader = read_on_thread(out_r);
    c.start().expect("start");
    assert!(c.wait(Some(Duration::from_secs(20))).expect("wait").success());
    let text = reader.join().expect("reader");
    assert!(!text.is_empty());
    for line in text.lines() {
        assert!(line.ends_with(":/"), "inside, every hierarchy should show / : {text:?}");
    }
}

/// Docker and podman on a v1 or hybrid host leave the container in the host's cgroup namespace;
/// its /sys/fs/cgroup must then show its own cgroup (as runc does), not the host's root: a JVM
/// or a CPU-quota probe sizes itself from these files.
#[test]
fn without_a_cgroup_namespace_sys_fs_cgroup_shows_the_containers_own_cgroup() {
    require_root!();
    if !std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
        eprintln!("no v1 memory hierarchy here (cgroup v2 only): a cgroup2 mount without a cgroup namespace shows the whole tree, as with runc");
        return;
    }
    let root = StateRoot::new();
    let script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; \
                  echo subdirs=$(find /sys/fs/cgroup/memory -mindepth 1 -type d | wc -l); \
                  echo procs=$(wc -l < /sys/fs/cgroup/pids/cgroup.procs); \
                  echo 1 > /sys/fs/cgroup/pids/pids.max && echo WRITABLE";
    let spec = SpecBuilder::new(["sh", "-c", script])
        .default_root(root.path())
        .expect("default root")
        .memory(48 << 20)
        .pids(42)
        .namespace(rcontainer_core::oci_spec::runtime::LinuxNamespaceType::Cgroup, false, None)
        .build();
    let out = rcontainer_tests::run_captured(&unique_id("nocgns"), &spec, root.path()).expect("run");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some((48u64 << 20).to_string().as_str()), "memory.limit_in_bytes is the container's: {out:?}");
    assert_eq!(lines.get(1).copied(), Some("42"), "pids.max is the container's: {out:?}");
    assert!(lines.contains(&"subdirs=0"), "no other cgroup is visible below the container's: {out:?}");
    // The shell, cat/wc and the subshell: only the container's own processes.
    let procs: usize = lines.iter().find_map(|l| l.strip_prefix("procs=")).and_then(|n| n.trim().parse().ok()).expect("procs line");
    assert!((1..=4).contains(&procs), "cgroup.procs lists the container's processes only: {out:?}");
    assert!(!out.stdout.contains("WRITABLE"), "the cgroup mount is read-only as asked: {out:?}");
}
