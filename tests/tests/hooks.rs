//! OCI hooks, run where and when the runtime spec says: prestart and createRuntime in the
//! runtime's namespaces during create (the container's namespaces already there), createContainer
//! in the container's namespaces at the same moment, startContainer inside the container during
//! start, poststart after start and poststop after delete; each with the state on its stdin,
//! its args, env and timeout honoured; a failure failing the operation, except poststart and
//! poststop (a warning).

use std::path::Path;
use std::time::{Duration, Instant};

use rcontainer_tests::*;

/// A hook running `script` with `sh -c`, its argv[0] `argv0`.
fn hook_as(path: &str, argv0: &str, script: &str, env: &[&str]) -> serde_json::Value {
    serde_json::json!({ "path": path, "args": [argv0, "-c", script], "env": env })
}

fn hook(path: &str, script: &str, env: &[&str]) -> serde_json::Value {
    hook_as(path, "hook-argv0", script, env)
}

/// A bundle whose every hook appends its point, what it read on stdin and where it ran to
/// `<out>/log` (a host directory, bound at /out in the container).
fn hooked_bundle(out: &Path) -> Bundle {
    let mut b = Bundle::busybox(&["sh", "-c", "echo main-ran >> /out/log"]);
    let log = out.join("log");
    let host = |point: &str| {
        hook(
            "/bin/sh",
            &format!("read -r s; echo \"{point} $0 $K $(echo \"$s\" | tr -d ' \\n') net=$(readlink /proc/self/ns/net)\" >> {}", log.display()),
            &["K=V"],
        )
    };
    // (busybox picks its applet by argv[0]: "sh" there)
    let in_container = |point: &str| {
        hook_as(
            "/bin/sh",
            "sh",
            &format!("read -r s; echo \"{point} $0 $K $(echo \"$s\" | tr -d ' \\n') net=$(readlink /proc/self/ns/net)\" >> /out/log"),
            &["K=V", "PATH=/bin"],
        )
    };
    let src = out.to_string_lossy().into_owned();
    b.edit(|c| {
        c["mounts"].as_array_mut().expect("mounts").push(serde_json::json!({"destination": "/out", "type": "bind", "source": src, "options": ["rbind", "rw"]}));
        c["hooks"] = serde_json::json!({
            "prestart": [host("prestart")],
            "createRuntime": [host("createRuntime")],
            "createContainer": [host("createContainer")],
            "startContainer": [in_container("startContainer")],
            "poststart": [host("poststart")],
            "poststop": [host("poststop")],
        });
    });
    b
}

#[test]
fn every_hook_runs_at_its_point_in_its_namespaces_with_the_state() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let out = tempfile::Builder::new().prefix("rct-hooks-").tempdir().expect("tempdir");
    let b = hooked_bundle(out.path());
    let id = unique_id("hooks");
    let r = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &id]);
    assert!(r.success(), "{r:?}");
    let log = std::fs::read_to_string(out.path().join("log")).expect("log");
    let lines: Vec<&str> = log.lines().collect();
    let points: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap_or("")).collect();
    assert_eq!(points, ["prestart", "createRuntime", "createContainer", "startContainer", "main-ran", "poststart", "poststop"], "{log}");
    let host_net = ns_link("self", "net");
    let field = |point: &str, key: &str| {
        lines.iter().find(|l| l.starts_with(point)).and_then(|l| l.split(' ').find_map(|w| w.strip_prefix(key))).unwrap_or("").to_string()
    };
    // argv[0] and env from the hook's args and env; the state on stdin, with its status.
    for (point, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let line = lines.iter().find(|l| l.starts_with(point)).expect("line");
        let argv0 = if point == "startContainer" { "sh" } else { "hook-argv0" };
        assert!(line.contains(&format!(" {argv0} V ")), "{point}: args or env not honoured: {line}");
        assert!(line.contains(&format!("\"id\":\"{id}\"")) && line.contains(&format!("\"status\":\"{status}\"")), "{point}: state: {line}");
    }
    // Runtime namespace for prestart, createRuntime, poststart, poststop; the container's for
    // createContainer and startContainer.
    for point in ["prestart", "createRuntime", "poststart", "poststop"] {
        assert_eq!(field(point, "net="), host_net, "{point} is not in the runtime's network namespace: {log}");
    }
    let container_net = field("createContainer", "net=");
    assert_ne!(container_net, host_net, "createContainer ran in the runtime's network namespace: {log}");
    assert_eq!(field("startContainer", "net="), container_net, "{log}");
}

#[test]
fn a_failing_hook_fails_create_and_leaves_nothing() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    for point in ["prestart", "createRuntime", "createContainer", "startContainer"] {
        let mut b = Bundle::busybox(&["true"]);
        b.edit(|c| c["hooks"] = serde_json::json!({ point: [hook_as("/bin/sh", "sh", "echo hook-says-no >&2; exit 3", &[])] }));
        let id = unique_id("hookfail");
        let r = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &id]);
        assert_ne!(r.code, Some(0), "{point}: {r:?}");
        assert!(r.stderr.contains(&format!("{point} hook [0] /bin/sh failed")) && r.stderr.contains("hook-says-no"), "{point}: {}", r.stderr);
        assert!(root.container_dirs().is_empty(), "{point}: {:?}", root.container_dirs());
        assert!(cgroup_dirs_named(&id).is_empty(), "{point}: cgroups left");
    }
    // A hook past its timeout is killed, and create fails soon after.
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| c["hooks"] = serde_json::json!({ "createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}] }));
    let t = Instant::now();
    let r = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("hooktimeout")]);
    assert_ne!(r.code, Some(0));
    assert!(r.stderr.contains("timeout"), "{}", r.stderr);
    assert!(t.elapsed() < Duration::from_secs(10), "the timeout was not honoured: {:?}", t.elapsed());
    // poststart and poststop failures are warnings: the container runs and is deleted.
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| c["hooks"] = serde_json::json!({ "poststart": [hook("/bin/sh", "exit 1", &[])], "poststop": [hook("/bin/sh", "exit 1", &[])] }));
    let r = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("hookwarn")]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("warning: poststart hook") && r.stderr.contains("warning: poststop hook"), "{}", r.stderr);
    assert!(root.container_dirs().is_empty());
}
