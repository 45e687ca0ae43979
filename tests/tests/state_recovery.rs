//! The state root as an operator finds it after things went wrong: a corrupt state file, input
//! that never ends, values meant to forge log lines; and what it must hold (containers only).
//! The kill-at-every-step drill is tests/crash/run.sh.

use std::time::{Duration, Instant};

use rcontainer_tests::*;

fn bundle_arg(b: &Bundle) -> String {
    b.path().display().to_string()
}

fn sleeper() -> Bundle {
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    b.edit(|c| c["process"]["terminal"] = false.into());
    b
}

fn pid_of(cli: &Cli, id: &str) -> i64 {
    cli.state(id)["pid"].as_i64().expect("pid")
}

/// One corrupt state file: `list` still lists the others (and warns, naming the file), `state`
/// names the file, plain `delete` refuses, `delete --force` removes it and kills the init still
/// blocked on its exec fifo, and the id works again.
#[test]
fn a_corrupt_state_file_is_reported_skipped_and_removable() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = sleeper();
    let (good, bad) = (unique_id("good"), unique_id("bad"));
    let _g = (CliGuard { cli: &cli, id: good.clone() }, CliGuard { cli: &cli, id: bad.clone() });
    cli.run(&["create", "--bundle", &bundle_arg(&b), &good]).ok();
    cli.run(&["create", "--bundle", &bundle_arg(&b), &bad]).ok();
    let bad_pid = pid_of(&cli, &bad);
    let state_file = root.path().join(&bad).join("state.json");
    std::fs::write(&state_file, "{\"ociVersion\": \"1.0.2\", \"id\": trunc").expect("corrupt it");

    let list = cli.run(&["list"]);
    assert!(list.success(), "{list:?}");
    assert!(list.stdout.contains(&good) && !list.stdout.contains(&bad), "{list:?}");
    assert!(list.stderr.contains("corrupt container state") && list.stderr.contains(&state_file.display().to_string()), "{list:?}");

    let state = cli.run(&["state", &bad]);
    assert!(!state.success() && state.stderr.contains(&format!("corrupt container state {}", state_file.display())), "{state:?}");
    assert!(!state.stderr.contains("OCI config"), "not a config error: {state:?}");
    assert!(!cli.run(&["delete", &bad]).success(), "plain delete of a corrupt entry must not pretend");

    let own = std::fs::read_to_string("/proc/self/cgroup").expect("own cgroup");
    let pids_dir = own.lines().find_map(|l| l.split_once(":pids:").map(|(_, p)| p.to_string()));
    cli.run(&["delete", "--force", &bad]).ok();
    assert!(!root.path().join(&bad).exists());
    if let Some(p) = pids_dir {
        let cg = std::path::Path::new("/sys/fs/cgroup/pids").join(p.trim_start_matches('/')).join(format!("rcontainer-{bad}"));
        assert!(!cg.exists(), "its cgroup (default placement) is left: {}", cg.display());
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{bad_pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!std::path::Path::new(&format!("/proc/{bad_pid}")).exists(), "the init blocked on the fifo of the corrupt entry is still alive");
    cli.run(&["create", "--bundle", &bundle_arg(&b), &bad]).ok();
    cli.run(&["delete", "--force", &bad]).ok();
}

/// The state root is shared with other runtimes (containerd gives every runtime runc's): after
/// containers come and go, through every path that fills a cache (the default root, Docker's
/// seccomp profile, a bundle), it holds nothing.
#[test]
fn the_state_root_holds_only_containers() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    cli.run(&["run", "--", "true"]).ok();
    let b = sleeper();
    let id = unique_id("only");
    cli.run(&["create", "--bundle", &bundle_arg(&b), &id]).ok();
    let entries: Vec<String> = std::fs::read_dir(root.path()).expect("root").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(entries, std::slice::from_ref(&id), "only the container");
    cli.run(&["delete", "--force", &id]).ok();
    let left: Vec<String> = std::fs::read_dir(root.path()).expect("root").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Files the runtime parses are read bounded: a config.json that never ends or blocks fails at
/// once with a clear error.
#[test]
fn config_files_that_never_end_or_block_are_refused_at_once() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = sleeper();
    let config = b.path().join("config.json");
    type Make<'a> = Box<dyn Fn() + 'a>;
    let cases: [(&str, Make); 3] = [
        (
            "not a regular file",
            Box::new(|| {
                std::fs::remove_file(&config).expect("rm");
                std::os::unix::fs::symlink("/dev/zero", &config).expect("symlink");
            }),
        ),
        (
            "not a regular file",
            Box::new(|| {
                std::fs::remove_file(&config).expect("rm");
                nix::unistd::mkfifo(&config, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
            }),
        ),
        (
            "larger than",
            Box::new(|| {
                std::fs::remove_file(&config).expect("rm");
                std::fs::write(&config, vec![b' '; 17 << 20]).expect("write");
            }),
        ),
    ];
    for (needle, make) in cases {
        make();
        let started = Instant::now();
        let out = cli.run(&["create", "--bundle", &bundle_arg(&b), &unique_id("bounded")]);
        assert!(!out.success() && out.stderr.contains(needle) && out.stderr.contains("config.json"), "{needle}: {out:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{needle}: took {:?}", started.elapsed());
    }
    assert!(root.container_dirs().is_empty());
}

/// Numbers and text from input: --preserve-fds past any real fd is refused, and a config value
/// with a newline cannot forge a line of the runtime's output or log.
#[test]
fn preserve_fds_is_checked_and_messages_escape_control_characters() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = sleeper();
    for n in ["4294967295", "4294967292", "1000"] {
        let out = cli.run(&["create", "--preserve-fds", n, "--bundle", &bundle_arg(&b), &unique_id("pfds")]);
        assert!(!out.success() && out.stderr.contains("preserve_fds"), "{n}: {out:?}");
    }
    let mut b = sleeper();
    let forged = format!("x\nrcontainer: FORGED {}", "y".repeat(80));
    b.edit(|c| c["hostname"] = forged.clone().into());
    let log = root.path().with_extension("log");
    let out = cli.run(&["--log", &log.display().to_string(), "create", "--bundle", &bundle_arg(&b), &unique_id("forge")]);
    assert!(!out.success(), "{out:?}");
    assert!(out.stderr.lines().all(|l| !l.starts_with("rcontainer: FORGED")), "{out:?}");
    assert!(out.stderr.contains("\\n"), "the newline is shown escaped: {out:?}");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(log_text.lines().count() == 1 && !log_text.lines().any(|l| l.contains("FORGED") && !l.contains("msg=")), "{log_text:?}");
    assert!(root.container_dirs().is_empty());
}
