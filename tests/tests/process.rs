//! The process: exit codes and signals reach the caller (library and command), env, cwd, user,
//! rlimits apply, stdout and stderr reach the caller separately.

use std::time::{Duration, Instant};

use rcontainer_core::Container;
use rcontainer_tests::*;

#[test]
fn exit_codes_0_1_42_reach_the_library() {
    require_root!();
    let root = StateRoot::new();
    for code in [0, 1, 42] {
        let b = Bundle::busybox(&["sh", "-c", &format!("exit {code}")]);
        let out = run_ok(&unique_id("exit"), &b.spec(), root.path());
        assert_eq!(out.status.code, Some(code), "{out:?}");
        assert_eq!(out.status.signal, None);
        assert_eq!(out.status.exit_code(), code);
        assert_eq!(out.status.success(), code == 0);
    }
}

#[test]
fn exit_codes_0_1_42_reach_the_command_bundle_and_adhoc() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let rootfs = Rootfs::busybox();
    for code in [0, 1, 42] {
        let script = format!("exit {code}");
        let b = Bundle::busybox(&["sh", "-c", &script]);
        let out = cli.run(&["run", "--bundle", &b.path().display().to_string(), &unique_id("exit")]);
        assert_eq!(out.code, Some(code), "run --bundle: {out:?}");
        let out = cli.run(&["run", "--rootfs", &rootfs.path().display().to_string(), "--", "sh", "-c", &script]);
        assert_eq!(out.code, Some(code), "ad-hoc run --rootfs: {out:?}");
        let out = cli.run(&["run", "--", "sh", "-c", &script]);
        assert_eq!(out.code, Some(code), "ad-hoc run (default root): {out:?}");
    }
    assert!(root.container_dirs().is_empty(), "run left state behind: {:?}", root.container_dirs());
}

#[test]
fn sigkill_from_outside_reaches_the_library() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let mut c = Guard(Container::create(&unique_id("kill"), &b.spec(), &root.options()).expect("create"));
    c.start().expect("start");
    let t = Instant::now();
    c.kill(libc::SIGKILL).expect("kill");
    let st = wait_or_kill(&mut c, Duration::from_secs(20));
    assert!(t.elapsed() < Duration::from_secs(10), "kill took {:?}", t.elapsed());
    assert_eq!(st.signal, Some(libc::SIGKILL), "{st:?}");
    assert_eq!(st.code, None);
    assert_eq!(st.exit_code(), 137);
    assert!(!st.success());
}

#[test]
fn sigkill_from_another_handle_reaches_the_creator() {
    // kill through a handle loaded by id (as another process would), wait in the creator.
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("kill2");
    let mut c = Guard(Container::create(&id, &b.spec(), &root.options()).expect("create"));
    c.start().expect("start");
    Container::load(root.path(), &id).expect("load").kill(libc::SIGKILL).expect("kill via loaded handle");
    let st = wait_or_kill(&mut c, Duration::from_secs(20));
    assert_eq!(st.signal, Some(libc::SIGKILL), "{st:?}");
}

#[test]
fn sigterm_without_handler_is_ignored_by_init_but_a_trap_ends_it() {
    // pid_namespaces(7): the init only gets signals it handles (SIGKILL/SIGSTOP excepted).
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done"]);
    let mut p = Piped::create(&unique_id("term"), &b.spec(), root.path()).expect("create");
    p.container.start().expect("start");
    p.read_until("ready");
    p.container.kill(libc::SIGTERM).expect("kill TERM");
    let out = p.finish(Duration::from_secs(20));
    assert_eq!(out.status.code, Some(7), "{out:?}");
    assert!(out.stdout.contains("got-term"), "{out:?}");
}

#[test]
fn sigkill_via_the_command_gives_137() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("kill-cli");
    let _g = CliGuard { cli: &cli, id: id.clone() };
    let mut run = cli.command(&["run", "--bundle", &b.path().display().to_string(), &id]).stdout(std::process::Stdio::null()).spawn().expect("spawn run");
    cli.wait_status(&id, "running");
    cli.run(&["kill", &id, "KILL"]).ok();
    let st = wait_child(&mut run, Duration::from_secs(20)).expect("run did not end after kill");
    assert_eq!(st.code(), Some(137), "{st:?}");
    let out = cli.run(&["state", &id]);
    assert!(!out.success() && out.stderr.contains("does not exist"), "run should delete the container: {out:?}");
}

#[test]
fn adhoc_sigkill_via_the_command_gives_137() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let id = unique_id("kill-adhoc");
    let _g = CliGuard { cli: &cli, id: id.clone() };
    let mut run = cli.command(&["run", &id, "--", "sleep", "100"]).stdout(std::process::Stdio::null()).spawn().expect("spawn run");
    cli.wait_status(&id, "running");
    cli.run(&["kill", &id, "9"]).ok();
    let st = wait_child(&mut run, Duration::from_secs(20)).expect("run did not end after kill");
    assert_eq!(st.code(), Some(137), "{st:?}");
}

#[test]
fn signals_sent_to_run_are_forwarded() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sh", "-c", "trap 'exit 5' TERM; while :; do sleep 0.05; done"]);
    let id = unique_id("fwd");
    let _g = CliGuard { cli: &cli, id: id.clone() };
    let mut run = cli.command(&["run", "--bundle", &b.path().display().to_string(), &id]).spawn().expect("spawn run");
    let pid = cli.wait_status(&id, "running")["pid"].as_i64().expect("pid");
    wait_handles_signal(pid, libc::SIGTERM);
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let st = wait_child(&mut run, Duration::from_secs(20)).expect("run did not end");
    assert_eq!(st.code(), Some(5), "{st:?}");
}

#[test]
fn env_applies_library_and_command() {
    require_root!();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["sh", "-c", "echo \"$FOO|$WITH_SPACE|$PATH\""]);
    b.env("FOO=bar").env("WITH_SPACE=a b=c");
    let out = run_ok(&unique_id("env"), &b.spec(), root.path());
    assert_eq!(out.stdout, "bar|a b=c|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", "{out:?}");

    let out = Cli::new(root.path()).run(&["run", "-e", "FOO=from-cli", "--env", "BAR=2", "--", "sh", "-c", "echo $FOO $BAR"]).ok();
    assert_eq!(out.stdout, "from-cli 2\n");
}

#[test]
fn environment_is_exactly_the_spec() {
    // Nothing of the caller's environment leaks in.
    require_root!();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["env"]);
    b.edit(|c| c["process"]["env"] = serde_json::json!(["A=1", "PATH=/bin"]));
    let out = run_ok(&unique_id("env-exact"), &b.spec(), root.path());
    let mut vars: Vec<&str> = out.stdout.lines().filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL=")).collect();
    vars.sort();
    assert_eq!(vars, vec!["A=1", "PATH=/bin"], "{out:?}");
}

#[test]
fn cwd_applies_library_and_command() {
    require_root!();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["pwd"]);
    b.edit(|c| c["process"]["cwd"] = serde_json::json!("/tmp"));
    assert_eq!(run_ok(&unique_id("cwd"), &b.spec(), root.path()).stdout, "/tmp\n");
    // A cwd that does not exist in the rootfs is created (as runc does) or fails clearly.
    b.edit(|c| c["process"]["cwd"] = serde_json::json!("/var/work"));
    match run_captured(&unique_id("cwd2"), &b.spec(), root.path()) {
        Ok(out) => assert_eq!(out.stdout, "/var/work\n", "{out:?}"),
        Err(e) => assert!(e.to_string().contains("/var/work"), "error does not name the cwd: {e}"),
    }
    let out = Cli::new(root.path()).run(&["run", "-w", "/usr", "--", "pwd"]).ok();
    assert_eq!(out.stdout, "/usr\n");
    let out = Cli::new(root.path()).run(&["run", "--workdir", "/etc", "--", "pwd"]).ok();
    assert_eq!(out.stdout, "/etc\n");
}

#[test]
fn user_uid_gid_and_additional_gids_apply() {
    require_root!();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["sh", "-c", "grep -E '^(Uid|Gid|Groups):' /proc/self/status; id -u; id -g"]);
    b.edit(|c| c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20]}));
    let out = run_ok(&unique_id("user"), &b.spec(), root.path());
    assert_eq!(out.status.code, Some(0), "{out:?}");
    let field = |k: &str| out.stdout.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_default();
    assert_eq!(field("Uid:"), "1000 1000 1000 1000", "{out:?}");
    assert_eq!(field("Gid:"), "1001 1001 1001 1001", "{out:?}");
    let mut groups: Vec<u32> = field("Groups:").split(' ').filter_map(|g| g.parse().ok()).collect();
    groups.sort();
    assert_eq!(groups, vec![10, 20], "additional gids: {out:?}");
}

#[test]
fn user_without_additional_gids_has_no_supplementary_groups() {
    // The caller's (root's) groups must not leak into the container.
    require_root!();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["grep", "^Groups:", "/proc/self/status"]);
    b.edit(|c| c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000}));
    let out = run_ok(&unique_id("nogroups"), &b.spec(), root.path());
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), vec!["Groups:"], "{out:?}");
}

#[test]
fn cli_user_flag_applies() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let out = cli.run(&["run", "-u", "1234:4321", "--", "sh", "-c", "id -u; id -g"]).ok();
    assert_eq!(out.stdout, "1234\n4321\n");
    let out = cli.run(&["run", "--user", "777", "--", "id", "-u"]).ok();
    assert_eq!(out.stdout, "777\n");
}

#[test]
fn rlimits_apply() {
    require_root!();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["sh", "-c", "ulimit -n; ulimit -Hn; grep -E 'Max (open files|core file size|processes)' /proc/self/limits"]);
    b.edit(|c| {
        c["process"]["rlimits"] = serde_json::json!([
            {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
            {"type": "RLIMIT_NPROC", "soft": 77, "hard": 88},
        ])
    });
    let out = run_ok(&unique_id("rlimit"), &b.spec(), root.path());
    assert_eq!(out.status.code, Some(0), "{out:?}");
    let lines: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], vec!["321"], "soft NOFILE: {out:?}");
    assert_eq!(lines[1], vec!["654"], "hard NOFILE: {out:?}");
    let row = |name: &str| lines.iter().find(|l| l.join(" ").starts_with(name)).cloned().unwrap_or_default();
    assert_eq!(row("Max open files")[3..5], ["321", "654"], "{out:?}");
    assert_eq!(row("Max core file size")[4..6], ["0", "4096"], "{out:?}");
    assert_eq!(row("Max processes")[2..4], ["77", "88"], "{out:?}");
}

#[test]
fn rlimits_apply_via_the_library_builder() {
    require_root!();
    let root = StateRoot::new();
    let rootfs = Rootfs::busybox();
    let spec = rcontainer_core::SpecBuilder::new(["sh", "-c", "ulimit -n"]).rootfs(rootfs.path()).rlimit("nofile", 111, 222).expect("rlimit").build();
    let out = run_ok(&unique_id("rlimit-b"), &spec, root.path());
    assert_eq!(out.stdout, "111\n", "{out:?}");
}

#[test]
fn stdout_and_stderr_reach_the_library_caller_separately() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sh", "-c", "echo to-out; echo to-err >&2; echo more-out; exit 3"]);
    let out = run_ok(&unique_id("stdio"), &b.spec(), root.path());
    assert_eq!(out.stdout, "to-out\nmore-out\n");
    assert_eq!(out.stderr, "to-err\n");
    assert_eq!(out.status.code, Some(3));
}

#[test]
fn large_output_does_not_block() {
    require_root!();
    let root = StateRoot::new();
    // Far more than a pipe buffer (64 KiB).
    let b = Bundle::busybox(&["seq", "1", "50000"]);
    let out = run_ok(&unique_id("bigout"), &b.spec(), root.path());
    assert_eq!(out.stdout.lines().count(), 50000);
    assert_eq!(out.stdout.lines().last(), Some("50000"));
}

#[test]
fn stdin_is_given_to_the_container() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sh", "-c", "read line; echo got:$line"]);
    let (in_r, in_w) = pipe();
    let (out_r, out_w) = pipe();
    use std::os::fd::AsRawFd;
    let opts = rcontainer_core::CreateOptions {
        root: root.path().to_path_buf(),
        stdio: rcontainer_core::Stdio { stdin: Some(in_r.as_raw_fd()), stdout: Some(out_w.as_raw_fd()), stderr: None },
        ..Default::default()
    };
    let mut c = Guard(Container::create(&unique_id("stdin"), &b.spec(), &opts).expect("create"));
    drop(in_r);
    drop(out_w);
    let reader = read_on_thread(out_r);
    let mut w = std::fs::File::from(in_w);
    use std::io::Write;
    w.write_all(b"hello\n").expect("write stdin");
    drop(w);
    c.start().expect("start");
    assert_eq!(wait_or_kill(&mut c, TIMEOUT).code, Some(0));
    assert_eq!(reader.join().expect("reader"), "got:hello\n");
}

#[test]
fn stdout_and_stderr_reach_the_command_caller_separately() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let script = "echo to-out; echo to-err >&2";
    let b = Bundle::busybox(&["sh", "-c", script]);
    let out = cli.run(&["run", "--bundle", &b.path().display().to_string(), &unique_id("stdio-cli")]).ok();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("to-out\n", "to-err\n"), "run --bundle");
    let out = cli.run(&["run", "--", "sh", "-c", script]).ok();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("to-out\n", "to-err\n"), "ad-hoc run");
}
