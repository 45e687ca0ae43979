//! The OCI command line across processes: `create` in one `rcontainer` process, then `start`,
//! `state`, `kill` and `delete` in others, as podman/containerd drive a runtime.

use std::time::Duration;

use rcontainer_tests::*;
use serde_json::Value;

/// A bundle whose init stops with code 3 on TERM (an init only gets handled signals) and
/// otherwise runs until killed.
fn trap_bundle() -> Bundle {
    let mut b = Bundle::busybox(&["sh", "-c", "trap 'exit 3' TERM; echo started; while :; do sleep 0.05; done"]);
    b.edit(|c| c["annotations"] = serde_json::json!({"org.rcontainer.test": "yes", "other": "v"}));
    b
}

fn bundle_arg(b: &Bundle) -> String {
    b.path().display().to_string()
}

fn pid_alive(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn create_start_state_kill_delete_in_separate_processes() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = trap_bundle();
    let id = unique_id("life");
    let _g = CliGuard { cli: &cli, id: id.clone() };

    cli.run(&["create", "--bundle", &bundle_arg(&b), &id]).ok();
    let s = cli.state(&id);
    assert_eq!(s["status"], "created", "{s}");
    assert_eq!(s["id"], Value::from(id.clone()));
    assert!(s["ociVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "{s}");
    assert_eq!(s["bundle"], Value::from(bundle_arg(&b)), "{s}");
    assert_eq!(s["annotations"]["org.rcontainer.test"], "yes", "{s}");
    assert_eq!(s["annotations"]["other"], "v", "{s}");
    let pid = s["pid"].as_i64().expect("pid");
    assert!(pid > 1 && pid_alive(pid), "created container's pid {pid} is not alive: {s}");

    cli.run(&["start", &id]).ok();
    let s = cli.state(&id);
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(s["pid"].as_i64(), Some(pid), "pid changed across start: {s}");

    wait_handles_signal(pid, libc::SIGTERM);
    cli.run(&["kill", &id, "TERM"]).ok();
    let s = cli.wait_status(&id, "stopped");
    assert_eq!(s["pid"], 0, "a stopped container shows pid 0 (as runc): {s}");
    assert!(!pid_alive(pid) || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z"), "pid {pid} still runs");

    cli.run(&["delete", &id]).ok();
    let out = cli.run(&["state", &id]);
    assert!(!out.success(), "state after delete succeeded: {out:?}");
    assert!(out.stderr.contains(&id) && out.stderr.contains("does not exist"), "{out:?}");
    assert!(!root.path().join(&id).exists(), "state dir left after delete");
}

#[test]
fn a_created_container_keeps_the_stdio_create_was_given() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sh", "-c", "echo hello-from-container; echo err-from-container >&2"]);
    let id = unique_id("stdio");
    let _g = CliGuard { cli: &cli, id: id.clone() };

    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let mut create = cli.command(&["create", "--bundle", &bundle_arg(&b), &id]);
    create.stdout(std::fs::File::from(out_w)).stderr(std::fs::File::from(err_w));
    let mut child = create.spawn().expect("spawn create");
    drop(create); // our copies of the write ends
    let st = wait_child(&mut child, TIMEOUT).expect("create hung");
    assert!(st.success(), "create failed: {st:?}");
    let out = read_on_thread(out_r);
    let err = read_on_thread(err_r);

    // The create process is gone; another process starts the container.
    cli.run(&["start", &id]).ok();
    // EOF comes when the container exits (it holds the only write ends left).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send((out.join().unwrap_or_default(), err.join().unwrap_or_default()));
    });
    let (stdout, stderr) = rx.recv_timeout(Duration::from_secs(30)).expect("the container's output never ended");
    assert_eq!(stdout, "hello-from-container\n");
    assert_eq!(stderr, "err-from-container\n");
    cli.wait_status(&id, "stopped");
    cli.run(&["delete", &id]).ok();
}

#[test]
fn wrong_state_errors_say_the_state() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = trap_bundle();
    let id = unique_id("wrong");
    let _g = CliGuard { cli: &cli, id: id.clone() };
    cli.run(&["create", "--bundle", &bundle_arg(&b), &id]).ok();

    let out = cli.run(&["delete", &id]);
    assert!(!out.success(), "delete of a created container without --force succeeded");
    assert!(out.stderr.contains("created"), "error does not say the state: {out:?}");

    cli.run(&["start", &id]).ok();
    let out = cli.run(&["start", &id]);
    assert!(!out.success(), "second start succeeded");
    assert!(out.stderr.contains("running") && out.stderr.contains(&id), "error does not say the state: {out:?}");

    let out = cli.run(&["delete", &id]);
    assert!(!out.success(), "delete of a running container without --force succeeded");
    assert!(out.stderr.contains("running"), "error does not say the state: {out:?}");
    assert_eq!(cli.state(&id)["status"], "running", "a refused delete changed the container");

    cli.run(&["kill", &id, "KILL"]).ok();
    cli.wait_status(&id, "stopped");
    let out = cli.run(&["start", &id]);
    assert!(!out.success() && out.stderr.contains("stopped"), "start of a stopped container: {out:?}");
    let out = cli.run(&["kill", &id, "KILL"]);
    assert!(!out.success() && out.stderr.contains("stopped"), "kill of a stopped container: {out:?}");
    cli.run(&["delete", &id]).ok();

    let out = cli.run(&["start", &id]);
    assert!(!out.success() && out.stderr.contains("does not exist"), "start of a deleted container: {out:?}");
}

#[test]
fn delete_force_stops_a_running_container() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("force");
    let _g = CliGuard { cli: &cli, id: id.clone() };
    cli.run(&["create", "--bundle", &bundle_arg(&b), &id]).ok();
    cli.run(&["start", &id]).ok();
    let pid = cli.state(&id)["pid"].as_i64().expect("pid");
    // Option after the id.
    cli.run(&["delete", &id, "--force"]).ok();
    assert!(!root.path().join(&id).exists());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pid_alive(pid) && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z") {
        assert!(std::time::Instant::now() < deadline, "pid {pid} survived delete --force");
        std::thread::sleep(Duration::from_millis(10));
    }
    // runc: delete --force of a missing container is not an error.
    cli.run(&["delete", "--force", &id]).ok();
    let out = cli.run(&["delete", &id]);
    assert!(!out.success() && out.stderr.contains("does not exist"), "{out:?}");
}

#[test]
fn options_before_and_after_the_id() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("opts");
    let _g = CliGuard { cli: &cli, id: id.clone() };
    let pid_file = b.path().join("pidfile");
    // --bundle and --pid-file after the id, --root after the verb.
    let out = output_timeout(
        {
            let mut c = std::process::Command::new(rcontainer_bin());
            c.args(["create", &id, "--bundle", &bundle_arg(&b), "--pid-file"]).arg(&pid_file).arg("--root").arg(root.path());
            c.stdin(std::process::Stdio::null());
            c
        },
        TIMEOUT,
    )
    .ok();
    drop(out);
    let s = cli.state(&id);
    assert_eq!(s["status"], "created");
    let from_file: i64 = std::fs::read_to_string(&pid_file).expect("pid file").trim().parse().expect("pid file holds a number");
    assert_eq!(Some(from_file), s["pid"].as_i64(), "pid file and state disagree");
    cli.run(&["start", &id]).ok();
    cli.run(&["kill", &id, "SIGKILL"]).ok();
    cli.wait_status(&id, "stopped");
    cli.run(&["delete", &id, "--force"]).ok();
    assert!(!root.path().join(&id).exists());
}

#[test]
fn signal_names_and_numbers() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    for signal in ["TERM", "SIGTERM", "term", "SIGKILL", "KILL", "9", "15"] {
        let b = trap_bundle();
        let id = unique_id("sig");
        let _g = CliGuard { cli: &cli, id: id.clone() };
        cli.run(&["create", "--bundle", &bundle_arg(&b), &id]).ok();
        cli.run(&["start", &id]).ok();
        let pid = cli.wait_status(&id, "running")["pid"].as_i64().expect("pid");
        wait_handles_signal(pid, libc::SIGTERM);
        let out = cli.run(&["kill", &id, signal]);
        assert!(out.success(), "kill {signal} failed: {out:?}");
        cli.wait_status(&id, "stopped");
        cli.run(&["delete", &id]).ok();
    }
    // Bad signals are rejected with a message naming them.
    let b = trap_bundle();
    let id = unique_id("sig-bad");
    let _g = CliGuard { cli: &cli, id: id.clone() };
    cli.run(&["create", "--bundle", &bundle_arg(&b), &id]).ok();
    // (0 is accepted: runc's liveness probe, see runc_behaviours_tools_rely_on)
    for bad in ["NOPE", "-1", "99"] {
        let out = cli.run(&["kill", &id, bad]);
        assert!(!out.success(), "kill {bad} succeeded");
        assert!(out.stderr.contains(bad), "error does not name {bad}: {out:?}");
    }
    assert_eq!(cli.state(&id)["status"], "created");
}

#[test]
fn kill_a_created_container_then_delete() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["true"]);
    let id = unique_id("kill-created");
    let _g = CliGuard { cli: &cli, id: id.clone() };
    cli.run(&["create", "--bundle", &bundle_arg(&b), &id]).ok();
    cli.run(&["kill", &id, "KILL"]).ok();
    cli.wait_status(&id, "stopped");
    cli.run(&["delete", &id]).ok();
    assert!(!root.path().join(&id).exists());
}

#[test]
fn run_detach_returns_once_started() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("detach");
    let _g = CliGuard { cli: &cli, id: id.clone() };
    let t = std::time::Instant::now();
    cli.run(&["run", "-d", "--bundle", &bundle_arg(&b), &id]).ok();
    assert!(t.elapsed() < Duration::from_secs(20));
    assert_eq!(cli.state(&id)["status"], "running");
    cli.run(&["kill", &id, "KILL"]).ok();
    cli.wait_status(&id, "stopped");
    cli.run(&["delete", &id]).ok();
}

#[test]
fn list_shows_containers_and_their_status() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sleep", "100"]);
    let (a, z) = (unique_id("list-a"), unique_id("list-z"));
    let _ga = CliGuard { cli: &cli, id: a.clone() };
    let _gz = CliGuard { cli: &cli, id: z.clone() };
    cli.run(&["create", "--bundle", &bundle_arg(&b), &a]).ok();
    cli.run(&["create", "--bundle", &bundle_arg(&b), &z]).ok();
    cli.run(&["start", &z]).ok();

    let out = cli.run(&["list", "-q"]).ok();
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), vec![a.as_str(), z.as_str()]);
    let out = cli.run(&["list", "--format", "json"]).ok();
    let v: Value = serde_json::from_str(&out.stdout).expect("list json");
    let entries = v.as_array().expect("array");
    assert_eq!(entries.len(), 2, "{v}");
    let status_of = |id: &str| entries.iter().find(|e| e["id"] == id).map(|e| e["status"].clone());
    assert_eq!(status_of(&a), Some(Value::from("created")), "{v}");
    assert_eq!(status_of(&z), Some(Value::from("running")), "{v}");
    let out = cli.run(&["list"]).ok();
    assert!(out.stdout.contains(&a) && out.stdout.contains("created") && out.stdout.contains("running"), "{out:?}");

    let lib: Vec<String> = rcontainer_core::list(root.path()).expect("list").into_iter().map(|s| s.id).collect();
    assert_eq!(lib, vec![a.clone(), z.clone()]);
}

#[test]
fn spec_writes_a_default_config_and_refuses_to_overwrite() {
    require_root!();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    cli.run(&["spec", "--bundle", &dir.path().display().to_string()]).ok();
    let text = std::fs::read_to_string(dir.path().join("config.json")).expect("config.json");
    let v: Value = serde_json::from_str(&text).expect("config.json is JSON");
    assert_eq!(v["process"]["terminal"], false, "{v}");
    assert_eq!(v["root"]["path"], "rootfs");
    assert_eq!(v["process"]["args"], serde_json::json!(["sh"]));
    // In the current directory when no --bundle.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let mut c = cli.command(&["spec"]);
    c.current_dir(dir2.path());
    output_timeout(c, TIMEOUT).ok();
    assert!(dir2.path().join("config.json").is_file());
    let out = cli.run(&["spec", "--bundle", &dir.path().display().to_string()]);
    assert!(!out.success() && out.stderr.contains("config.json"), "overwrote config.json: {out:?}");
}

#[test]
fn status_comes_from_the_host_after_the_creator_exited() {
    // The creating and starting processes are gone; `state` must see the exit by itself.
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sh", "-c", "exit 0"]);
    let id = unique_id("stale");
    let _g = CliGuard { cli: &cli, id: id.clone() };
    cli.run(&["create", "--bundle", &bundle_arg(&b), &id]).ok();
    cli.run(&["start", &id]).ok();
    let s = cli.wait_status(&id, "stopped");
    assert_eq!(s["pid"], 0, "{s}");
    let v: Value = serde_json::from_str(&cli.run(&["list", "--format", "json"]).ok().stdout).expect("json");
    assert_eq!(v[0]["status"], "stopped", "{v}");
    cli.run(&["delete", &id]).ok();
}

/// Errors go to `--log` as runc writes them (one JSON object a line, level, msg, time), usage
/// errors too: containerd and podman show only what they find there.
#[test]
fn every_error_is_written_to_the_log() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log.json");
    let log_s = log.to_string_lossy().into_owned();
    let usage = cli.run(&["--log", &log_s, "--log-format", "json", "frobnicate", "x"]);
    assert_ne!(usage.code, Some(0));
    let missing = cli.run(&["--log", &log_s, "--log-format=json", "start", "no-such-container"]);
    assert_ne!(missing.code, Some(0));
    let text = std::fs::read_to_string(&log).expect("the log was written");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in &lines {
        assert_eq!(l["level"], "error", "{l}");
        assert!(l["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{l}");
    }
    assert!(lines[0]["msg"].as_str().unwrap_or("").contains("frobnicate"), "{}", lines[0]);
    assert!(lines[1]["msg"].as_str().unwrap_or("").contains("no-such-container"), "{}", lines[1]);
}

/// runc's behaviours that tools rely on: `kill ID 0` as a liveness probe, `delete` right after
/// `kill ID KILL`, `update --pids-limit 0` (unchanged) and -1 (unlimited), `features`.
#[test]
fn runc_behaviours_tools_rely_on() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sleep", "100"]);
    for i in 0..20 {
        let id = unique_id("killdel");
        cli.run(&["run", "-d", "--bundle", &bundle_arg(&b), &id]).ok();
        cli.run(&["kill", &id, "0"]).ok();
        cli.run(&["kill", &id, "KILL"]).ok();
        let d = cli.run(&["delete", &id]);
        assert!(d.success(), "round {i}: delete right after kill KILL: {d:?}");
        let probe = cli.run(&["kill", &id, "0"]);
        assert_ne!(probe.code, Some(0), "kill 0 of a deleted container");
    }
    let mut b = Bundle::busybox(&["sleep", "100"]);
    b.edit(|c| c["linux"]["resources"] = serde_json::json!({"pids": {"limit": 50}}));
    let id = unique_id("pids");
    cli.run(&["run", "-d", "--bundle", &bundle_arg(&b), &id]).ok();
    let limit = |cli: &Cli| -> Value {
        let s: Value = serde_json::from_str(&cli.run(&["events", "--stats", &id]).ok().stdout).expect("stats JSON");
        s["data"]["pids"]["limit"].clone()
    };
    assert_eq!(limit(&cli), 50);
    cli.run(&["update", "--pids-limit", "0", &id]).ok();
    assert_eq!(limit(&cli), 50, "--pids-limit 0 must leave the limit as it is (runc)");
    cli.run(&["update", "--pids-limit", "-1", &id]).ok();
    assert_ne!(limit(&cli), 50, "--pids-limit -1 must lift the limit");
    cli.run(&["delete", "--force", &id]).ok();
    let f: Value = serde_json::from_str(&cli.run(&["features"]).ok().stdout).expect("features JSON");
    assert!(f["hooks"].as_array().is_some_and(|h| h.len() == 6), "{f}");
    assert!(f["linux"]["namespaces"].as_array().is_some_and(|n| n.iter().any(|x| x == "pid")), "{f}");
}
