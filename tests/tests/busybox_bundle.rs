//! A bundle as a newcomer makes one: a rootfs from Debian's busybox-static and a config.json from
//! `rcontainer spec`, run with `rcontainer run --bundle`.

use rcontainer_tests::*;
use serde_json::Value;

/// A bundle dir: busybox rootfs + `rcontainer spec` output with args set to `args`.
fn spec_bundle(cli: &Cli, args: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    make_busybox_rootfs(&dir.path().join("rootfs"));
    let mut c = cli.command(&["spec"]);
    c.current_dir(dir.path());
    output_timeout(c, TIMEOUT).ok();
    let path = dir.path().join("config.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("config.json")).expect("JSON");
    v["process"]["args"] = serde_json::json!(args);
    std::fs::write(&path, serde_json::to_string_pretty(&v).expect("encode")).expect("write");
    dir
}

#[test]
fn busybox_bundle_runs_ps_as_pid_1() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let dir = spec_bundle(&cli, &["ps"]);
    let id = unique_id("bb");
    let out = cli.run(&["run", "--bundle", &dir.path().display().to_string(), &id]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.first().is_some_and(|h| h.contains("PID")), "no ps header: {out:?}");
    let rows: Vec<Vec<&str>> = lines[1..].iter().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 1, "only ps itself should be listed: {out:?}");
    assert_eq!(rows[0].first(), Some(&"1"), "{out:?}");
    assert_eq!(rows[0].last(), Some(&"ps"), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    assert!(!root.path().join(&id).exists(), "run left its state dir");
}

#[test]
fn busybox_bundle_from_the_bundle_directory_as_cwd() {
    // runc's default bundle is the current directory.
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let dir = spec_bundle(&cli, &["sh", "-c", "echo $$; hostname; cat /proc/1/cmdline | tr '\\0' ' '"]);
    let mut c = cli.command(&["run", &unique_id("bb-cwd")]);
    c.current_dir(dir.path());
    let out = output_timeout(c, TIMEOUT).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"1"), "{out:?}");
    assert_eq!(lines.get(1), Some(&"runc"), "hostname from runc's default spec: {out:?}");
    assert!(lines.get(2).is_some_and(|l| l.starts_with("sh -c")), "{out:?}");
}

#[test]
fn busybox_bundle_default_root_is_readonly_and_dev_is_private() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let dir = spec_bundle(&cli, &["sh", "-c", "touch /should-fail 2>/dev/null && echo WRITABLE; ls /dev | sort | tr '\\n' ' '"]);
    let out = cli.run(&["run", "--bundle", &dir.path().display().to_string(), &unique_id("bb-ro")]).ok();
    assert!(!out.stdout.contains("WRITABLE"), "root.readonly is true in runc's spec: {out:?}");
    assert!(!dir.path().join("rootfs/should-fail").exists());
    let devs: Vec<&str> = out.stdout.split_whitespace().collect();
    for d in ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm"] {
        assert!(devs.contains(&d), "/dev lacks {d}: {devs:?}");
    }
    for host_only in ["sda", "vda", "nvme0", "mem", "kmsg"] {
        assert!(!devs.contains(&host_only), "/dev shows the host's {host_only}: {devs:?}");
    }
}
