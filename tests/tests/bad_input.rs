//! Bad input gets a clear error that names the thing, and leaves nothing behind: no state dir, no
//! mount, no child process (alive or zombie), no cgroup.
//!
//! Every test here runs under `serial()` and makes the test process a child subreaper, so that a
//! container init orphaned by a `rcontainer` command would show up as our child in the leak check.

use rcontainer_core::spec::parse_id_map;
use rcontainer_core::{Container, ErrorKind, Spec, SpecBuilder};
use rcontainer_tests::*;

/// Sets up the leak-check conditions; returns the lock guard to hold for the whole test.
fn setup() -> std::sync::MutexGuard<'static, ()> {
    let g = serial();
    become_subreaper();
    let before = children();
    assert!(before.is_empty(), "children before the test (left by an earlier one?): {before:?}");
    g
}

/// Asserts that `create` fails, and the error names every string of `names`; returns the error.
fn create_fails(id: &str, spec: &Spec, root: &StateRoot, names: &[&str]) -> rcontainer_core::Error {
    match Container::create(id, spec, &root.options()) {
        Ok(mut c) => {
            let _ = c.delete(true);
            panic!("create {id} succeeded, expected an error naming {names:?}");
        }
        Err(e) => {
            let msg = e.to_string();
            for n in names {
                assert!(msg.contains(n), "error {msg:?} does not name {n:?}");
            }
            e
        }
    }
}

fn bundle_arg(b: &Bundle) -> String {
    b.path().display().to_string()
}

/// Asserts that a command failed with a one-line stderr naming every string of `names`.
fn command_fails(out: &Out, names: &[&str]) {
    assert!(!out.success(), "command succeeded, expected an error naming {names:?}: {out:?}");
    let msg = out.stderr.trim_end();
    assert!(msg.starts_with("rcontainer: "), "error is not a `rcontainer: ...` line: {out:?}");
    for n in names {
        assert!(msg.contains(n), "error {msg:?} does not name {n:?}");
    }
}

#[test]
fn missing_rootfs() {
    require_root!();
    let _g = setup();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["true"]);
    std::fs::remove_dir_all(b.rootfs()).expect("remove rootfs");
    let missing = b.rootfs().display().to_string();

    let id = unique_id("nofs");
    let e = create_fails(&id, &b.spec(), &root, &["root.path", &missing]);
    assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);

    let id = unique_id("nofs-cli");
    let out = Cli::new(root.path()).run(&["create", "--bundle", &bundle_arg(&b), &id]);
    command_fails(&out, &["root.path", &missing]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);

    // The ad-hoc mode: docker's 125 for a runtime/config error.
    let id = unique_id("nofs-adhoc");
    let out = Cli::new(root.path()).run(&["run", "--rootfs", &missing, &id, "--", "true"]);
    command_fails(&out, &[&missing]);
    assert_eq!(out.code, Some(125), "{out:?}");
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
}

#[test]
fn rootfs_that_is_a_file() {
    require_root!();
    let _g = setup();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["true"]);
    let file = b.path().join("not-a-dir");
    std::fs::write(&file, "x").expect("write");
    let mut spec = b.spec();
    spec.config_mut().root_mut().as_mut().expect("root").set_path(file.clone());
    let id = unique_id("filefs");
    create_fails(&id, &spec, &root, &["root.path", &file.display().to_string()]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
}

#[test]
fn missing_binary() {
    require_root!();
    let _g = setup();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["/bin/nope"]);
    let expected = "exec \"/bin/nope\": No such file or directory (ENOENT)";

    // Library: the error comes from create or, at the latest, from start.
    let id = unique_id("nobin");
    match Container::create(&id, &b.spec(), &root.options()) {
        Err(e) => {
            assert!(e.to_string().contains(expected), "{e}");
            assert_eq!(e.errno(), Some(libc::ENOENT));
        }
        Ok(c) => {
            let mut c = Guard(c);
            let e = c.start().expect_err("start of /bin/nope succeeded");
            assert!(e.to_string().contains(expected), "{e}");
            c.delete(true).expect("delete");
        }
    }
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);

    // The command: create reports it.
    let cli = Cli::new(root.path());
    let id = unique_id("nobin-cli");
    let out = cli.run(&["create", "--bundle", &bundle_arg(&b), &id]);
    if out.success() {
        // Allowed only if start reports it and nothing is left after delete.
        let start = cli.run(&["start", &id]);
        let _ = cli.run(&["delete", "--force", &id]);
        command_fails(&start, &[expected]);
    } else {
        command_fails(&out, &[expected]);
    }
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);

    // run --bundle: the error, no state.
    let id = unique_id("nobin-run");
    let out = cli.run(&["run", "--bundle", &bundle_arg(&b), &id]);
    command_fails(&out, &[expected]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);

    // Ad-hoc: 127 like docker, for an absolute path and for a PATH lookup.
    let rootfs = b.rootfs().display().to_string();
    let id = unique_id("nobin-adhoc");
    let out = cli.run(&["run", "--rootfs", &rootfs, &id, "--", "/bin/nope"]);
    command_fails(&out, &[expected]);
    assert_eq!(out.code, Some(127), "{out:?}");
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
    let id = unique_id("nobin-path");
    let out = cli.run(&["run", "--rootfs", &rootfs, &id, "--", "no-such-command"]);
    command_fails(&out, &["\"no-such-command\"", "ENOENT"]);
    assert_eq!(out.code, Some(127), "{out:?}");
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
    assert!(root.container_dirs().is_empty(), "{:?}", root.container_dirs());
}

#[test]
fn binary_that_is_not_executable() {
    require_root!();
    let _g = setup();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["/etc/passwd"]);
    let id = unique_id("noexec");
    let out = Cli::new(root.path()).run(&["run", "--rootfs", &b.rootfs().display().to_string(), &id, "--", "/etc/passwd"]);
    command_fails(&out, &["/etc/passwd", "EACCES"]);
    assert_eq!(out.code, Some(126), "docker's status for a command that cannot be executed: {out:?}");
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
}

#[test]
fn malformed_config_json() {
    require_root!();
    let _g = setup();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["true"]);
    std::fs::write(b.config_path(), "{ \"ociVersion\": \"1.0.2\", \"process\": ").expect("write");
    let e = Spec::from_bundle(b.path()).expect_err("malformed config parsed");
    assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
    let config = b.config_path().display().to_string();
    assert!(e.to_string().contains(&config), "error does not name the file: {e}");

    let id = unique_id("badjson");
    let out = Cli::new(root.path()).run(&["create", "--bundle", &bundle_arg(&b), &id]);
    command_fails(&out, &[&config]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
    let out = Cli::new(root.path()).run(&["run", "--bundle", &bundle_arg(&b), &id]);
    command_fails(&out, &[&config]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);

    // Valid JSON, wrong shape.
    std::fs::write(b.config_path(), "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": 42}}").expect("write");
    let out = Cli::new(root.path()).run(&["create", "--bundle", &bundle_arg(&b), &id]);
    command_fails(&out, &[&config]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);

    // A bundle without config.json.
    std::fs::remove_file(b.config_path()).expect("rm");
    let out = Cli::new(root.path()).run(&["create", "--bundle", &bundle_arg(&b), &id]);
    command_fails(&out, &["config.json"]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
}

#[test]
fn unknown_namespace_type() {
    require_root!();
    let _g = setup();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| c["linux"]["namespaces"].as_array_mut().expect("ns").push(serde_json::json!({"type": "bogusns"})));
    let e = Spec::from_bundle(b.path()).expect_err("unknown namespace accepted");
    assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
    assert!(e.to_string().contains("bogusns"), "{e}");
    let id = unique_id("badns");
    let out = Cli::new(root.path()).run(&["create", "--bundle", &bundle_arg(&b), &id]);
    command_fails(&out, &["bogusns"]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);

    // A namespace listed twice, and a path to join that does not exist.
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().expect("ns");
        ns.pop();
        ns.push(serde_json::json!({"type": "pid"}));
    });
    let id = unique_id("dupns");
    create_fails(&id, &b.spec(), &root, &["linux.namespaces", "pid"]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().expect("ns");
        ns.pop();
        ns.retain(|n| n["type"] != "network");
        ns.push(serde_json::json!({"type": "network", "path": "/proc/999999999/ns/net"}));
    });
    let id = unique_id("joinns");
    create_fails(&id, &b.spec(), &root, &["/proc/999999999/ns/net"]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);

    // A path that is a namespace, but of another type: setns fails in the child (EINVAL).
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().expect("ns");
        ns.retain(|n| n["type"] != "network");
        ns.push(serde_json::json!({"type": "network", "path": "/proc/self/ns/uts"}));
    });
    for _ in 0..10 {
        let id = unique_id("wrongns");
        let e = create_fails(&id, &b.spec(), &root, &["/proc/self/ns/uts"]);
        assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
        assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
    }
}

#[test]
fn duplicate_id() {
    require_root!();
    let _g = setup();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("dup");
    let mut first = Guard(Container::create(&id, &b.spec(), &root.options()).expect("first create"));
    let e = create_fails(&id, &b.spec(), &root, &[&id, "already exists"]);
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    // The first container is untouched.
    assert_eq!(first.status().expect("status"), rcontainer_core::Status::Created);
    assert!(root.path().join(&id).join("state.json").is_file(), "the failed create removed the first one's state");
    let out = Cli::new(root.path()).run(&["create", "--bundle", &bundle_arg(&b), &id]);
    command_fails(&out, &[&id, "already exists"]);
    assert_eq!(Cli::new(root.path()).state(&id)["status"], "created");
    // Only the first container's init is our child.
    let kids = children();
    assert_eq!(kids.len(), 1, "{kids:?}");
    assert_eq!(kids[0].0, first.pid());
    first.start().expect("the first container still starts");
    first.delete(true).expect("delete");
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
}

#[test]
fn invalid_uid_maps() {
    require_root!();
    let _g = setup();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["true"]);
    let rootfs = b.rootfs();
    let map = |s: &str| parse_id_map("test", s).expect(s);
    let cases: Vec<(&str, Spec, Vec<&str>)> = vec![
        (
            "size 0",
            SpecBuilder::new(["true"]).rootfs(&rootfs).id_maps(vec![map("0:100000:0")], vec![map("0:100000:65536")]).build(),
            vec!["linux.uidMappings", "0:100000:0"],
        ),
        (
            "overlap",
            SpecBuilder::new(["true"]).rootfs(&rootfs).id_maps(vec![map("0:100000:100"), map("50:200000:100")], vec![map("0:100000:65536")]).build(),
            vec!["linux.uidMappings", "50:200000:100"],
        ),
        (
            "overflow",
            SpecBuilder::new(["true"]).rootfs(&rootfs).id_maps(vec![map("0:4294967000:65536")], vec![map("0:100000:65536")]).build(),
            vec!["linux.uidMappings", "4294967000"],
        ),
        (
            "user not mapped",
            SpecBuilder::new(["true"]).rootfs(&rootfs).id_maps(vec![map("1:100000:10")], vec![map("0:100000:10")]).build(),
            vec!["process.user.uid"],
        ),
        (
            "maps without a user namespace",
            {
                let mut s = SpecBuilder::new(["true"]).rootfs(&rootfs).id_maps(vec![map("0:100000:10")], vec![map("0:100000:10")]).build();
                s.config_mut()
                    .linux_mut()
                    .as_mut()
                    .expect("linux")
                    .namespaces_mut()
                    .as_mut()
                    .expect("ns")
                    .retain(|n| n.typ() != rcontainer_core::oci_spec::runtime::LinuxNamespaceType::User);
                s
            },
            vec!["linux.uidMappings", "user"],
        ),
    ];
    for (what, spec, names) in cases {
        let id = unique_id("badmap");
        let e = create_fails(&id, &spec, &root, &names);
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{what}: {e}");
        assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
    }

    // The command: a malformed --uid-map, and a zero-size one.
    let cli = Cli::new(root.path());
    for (bad, name) in [("0:x", "0:x"), ("0:100000", "0:100000"), ("0:100000:0", "0:100000:0")] {
        let id = unique_id("badmap-cli");
        let out = cli.run(&["run", "--rootfs", &rootfs.display().to_string(), "--uid-map", bad, &id, "--", "true"]);
        command_fails(&out, &[name]);
        assert_eq!(out.code, Some(125), "{out:?}");
        assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
    }
}

#[test]
fn ids_with_slash_or_dotdot() {
    require_root!();
    let _g = setup();
    let outer = tempfile::tempdir().expect("tempdir");
    let root_path = outer.path().join("state");
    let b = Bundle::busybox(&["true"]);
    let opts = rcontainer_core::CreateOptions { root: root_path.clone(), stdio: null_stdio(), ..Default::default() };
    for bad in ["a/b", "..", "../escape", ".", "/abs", "", "with space"] {
        let e = match Container::create(bad, &b.spec(), &opts) {
            Ok(mut c) => {
                let _ = c.delete(true);
                panic!("id {bad:?} accepted");
            }
            Err(e) => e,
        };
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{bad:?}: {e}");
        assert!(e.to_string().contains(&format!("{bad:?}")), "error does not name the id {bad:?}: {e}");
        assert_nothing_left(&root_path, "escape", &[b.path(), outer.path()]);
        // Nothing was made outside the state root (or in it).
        let mut entries: Vec<String> =
            std::fs::read_dir(outer.path()).expect("ls").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
        entries.retain(|n| n != "state");
        assert!(entries.is_empty(), "id {bad:?} made {entries:?} next to the state root");
        let inside: Vec<String> =
            std::fs::read_dir(&root_path).map(|rd| rd.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
        assert!(inside.is_empty(), "id {bad:?} made {inside:?} in the state root");
    }
    // Also through the command, for every verb taking an id.
    let cli = Cli::new(&root_path);
    for bad in ["a/b", "..", "../escape"] {
        let out = cli.run(&["create", "--bundle", &b.path().display().to_string(), bad]);
        command_fails(&out, &[bad]);
        for verb in [&["start", bad][..], &["state", bad], &["kill", bad, "KILL"], &["delete", bad]] {
            let out = cli.run(verb);
            command_fails(&out, &[bad]);
        }
    }
    assert!(!outer.path().join("escape").exists());
    assert_nothing_left(&root_path, "escape", &[b.path(), outer.path()]);
}

#[test]
fn other_invalid_process_settings_name_the_field() {
    require_root!();
    let _g = setup();
    let root = StateRoot::new();
    let cases: Vec<(&str, serde_json::Value, Vec<&str>)> = vec![
        ("/process/args", serde_json::json!([]), vec!["process.args"]),
        ("/process/cwd", serde_json::json!("relative/dir"), vec!["process.cwd", "relative/dir"]),
        ("/process/env", serde_json::json!(["NOEQUALS"]), vec!["process.env", "NOEQUALS"]),
        ("/process/rlimits", serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]), vec!["RLIMIT_NOFILE"]),
        ("/ociVersion", serde_json::json!("0.1"), vec!["ociVersion", "0.1"]),
    ];
    for (pointer, value, names) in cases {
        let mut b = Bundle::busybox(&["true"]);
        b.edit(|c| *c.pointer_mut(pointer).expect(pointer) = value.clone());
        let id = unique_id("badfield");
        let out = Cli::new(root.path()).run(&["create", "--bundle", &b.path().display().to_string(), &id]);
        command_fails(&out, &names);
        assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
    }
    // A device number mknod(2) cannot encode is refused, not truncated to another device.
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| c["linux"]["devices"] = serde_json::json!([{"path": "/dev/big", "type": "c", "major": 5000, "minor": 1}]));
    let id = unique_id("baddev");
    let out = Cli::new(root.path()).run(&["create", "--bundle", &b.path().display().to_string(), &id]);
    command_fails(&out, &["linux.devices", "/dev/big 5000:1"]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
}

#[test]
fn a_failure_late_in_setup_leaves_nothing() {
    // A mount that fails in the child (after clone): the error names the step, and the child is
    // reaped, the state dir removed.
    require_root!();
    let _g = setup();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| {
        c["mounts"].as_array_mut().expect("mounts").push(serde_json::json!({
            "destination": "/mnt/x", "type": "bind", "source": "/nonexistent-rct-source", "options": ["rbind"]
        }))
    });
    let id = unique_id("badmount");
    let e = create_fails(&id, &b.spec(), &root, &["/nonexistent-rct-source"]);
    assert!(e.errno().is_some() || e.kind() == ErrorKind::InvalidConfig, "{e}");
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
    let out = Cli::new(root.path()).run(&["run", "--bundle", &b.path().display().to_string(), &id]);
    command_fails(&out, &["/nonexistent-rct-source"]);
    assert_nothing_left(root.path(), &id, &[b.path(), root.path()]);
}

/// Docker's word order gets a hint toward this command's, and --help shows examples.
#[test]
fn docker_word_order_names_an_image_and_help_has_examples() {
    // Its command runs as a child of this process: not while another test counts children.
    let _g = serial();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let store = tempfile::tempdir().expect("tempdir");
    // `run IMAGE CMD` (docker's order): an image missing from the store is pulled; from a
    // registry that is not there, a failure naming it (125, docker's status for the runtime).
    let out = cli.run(&["--store", &store.path().display().to_string(), "run", "127.0.0.1:1/busybox", "/bin/sh"]);
    assert_eq!(out.code, Some(125), "{out:?}");
    assert!(out.stderr.contains("127.0.0.1:1/busybox") && out.stderr.contains("pull"), "{out:?}");
    assert_eq!(std::fs::read_dir(store.path().join("containers")).map(|d| d.count()).unwrap_or(0), 0, "a failed run left a container root");
    let help = cli.run(&["--help"]);
    assert!(help.success() && help.stdout.contains("Examples:") && help.stdout.contains("rcontainer run -it"), "{help:?}");
}
