//! CVE-2024-21626 ("Leaky Vessels"): a working directory set to /proc/self/fd/N must never land
//! on a host directory through an fd the runtime left open in the container's process. Tried for
//! every N from 3 to 20 through `run --bundle`, `create` + `start`, the ad-hoc command and the
//! library; each must be refused, or land inside the container.

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

use rcontainer_core::SpecBuilder;
use rcontainer_tests::*;

/// A file on the host only: reading it from inside the container is the escape.
struct HostMarker {
    file: tempfile::NamedTempFile,
    secret: String,
}

impl HostMarker {
    fn new() -> HostMarker {
        let secret = format!("HOST-ONLY-{}-{}", std::process::id(), unique_id("m"));
        let mut file = tempfile::Builder::new().prefix("rct-leak-").tempfile_in("/tmp").expect("marker");
        std::io::Write::write_all(&mut file, secret.as_bytes()).expect("write marker");
        HostMarker { file, secret }
    }
    fn name(&self) -> String {
        self.file.path().file_name().expect("name").to_string_lossy().into_owned()
    }
    /// A script that, from the cwd, climbs to the top and reads the marker and the host's /etc.
    fn script(&self) -> String {
        format!("pwd; cat {up}tmp/{name}; cat {up}etc/hostname; ls {up}run 2>&1 | head -3; exit 0", up = "../".repeat(12), name = self.name())
    }
    fn assert_not_in(&self, what: &str, out: &str) {
        assert!(!out.contains(&self.secret), "{what}: the container read the host's file through its cwd:\n{out}");
    }
}

fn refused_or_inside(what: &str, marker: &HostMarker, code: Option<i32>, stdout: &str, stderr: &str) {
    marker.assert_not_in(what, stdout);
    marker.assert_not_in(what, stderr);
    if code != Some(0) {
        // Refused: with an error that names the cwd step.
        assert!(stderr.contains("cwd /proc/self/fd/"), "{what}: failed without naming the cwd: {stderr}");
    }
}

#[test]
fn cwd_through_proc_self_fd_via_run_bundle() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let marker = HostMarker::new();
    let mut b = Bundle::busybox(&["sh", "-c", &marker.script()]);
    for n in 3..=20 {
        b.edit(|c| c["process"]["cwd"] = format!("/proc/self/fd/{n}").into());
        let id = unique_id("fdrun");
        let out = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &id]);
        refused_or_inside(&format!("run, fd {n}"), &marker, out.code, &out.stdout, &out.stderr);
    }
    assert!(root.container_dirs().is_empty(), "{:?}", root.container_dirs());
}

#[test]
fn cwd_through_proc_self_fd_via_create_and_start() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let marker = HostMarker::new();
    // The container's output goes to a volume: `create` returns before the container runs.
    let out_dir = tempfile::Builder::new().prefix("rct-out-").tempdir().expect("tempdir");
    let mut b = Bundle::busybox(&["sh", "-c", &format!("({}) >/out/log 2>&1", marker.script())]);
    let src = out_dir.path().to_string_lossy().into_owned();
    b.edit(|c| {
        c["mounts"].as_array_mut().expect("mounts").push(serde_json::json!({"destination": "/out", "type": "bind", "source": src, "options": ["rbind", "rw"]}))
    });
    for n in 3..=20 {
        b.edit(|c| c["process"]["cwd"] = format!("/proc/self/fd/{n}").into());
        let id = unique_id("fdcreate");
        let _ = std::fs::remove_file(out_dir.path().join("log"));
        let created = cli.run(&["create", "--bundle", &b.path().to_string_lossy(), &id]);
        if !created.success() {
            refused_or_inside(&format!("create, fd {n}"), &marker, created.code, &created.stdout, &created.stderr);
            continue;
        }
        let _guard = CliGuard { cli: &cli, id: id.clone() };
        cli.run(&["start", &id]).ok();
        cli.wait_status(&id, "stopped");
        let log = std::fs::read_to_string(out_dir.path().join("log")).unwrap_or_default();
        marker.assert_not_in(&format!("create + start, fd {n}"), &log);
    }
}

#[test]
fn cwd_through_proc_self_fd_via_the_adhoc_command() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let marker = HostMarker::new();
    for n in 3..=20 {
        let w = format!("/proc/self/fd/{n}");
        let out = cli.run(&["run", "-w", &w, "--", "sh", "-c", &marker.script()]);
        refused_or_inside(&format!("run -w, fd {n}"), &marker, out.code, &out.stdout, &out.stderr);
    }
}

#[test]
fn cwd_through_proc_self_fd_via_the_library() {
    require_root!();
    let root = StateRoot::new();
    let marker = HostMarker::new();
    for n in 3..=20 {
        let spec = SpecBuilder::new(["sh", "-c", &marker.script()])
            .default_root(root.path())
            .expect("default root")
            .cwd(format!("/proc/self/fd/{n}"))
            .docker_defaults()
            .build();
        match run_captured(&unique_id("fdlib"), &spec, root.path()) {
            Ok(c) => refused_or_inside(&format!("library, fd {n}"), &marker, c.status.code, &c.stdout, &c.stderr),
            Err(e) => {
                let e = e.to_string();
                marker.assert_not_in("library", &e);
                assert!(e.contains("cwd"), "library, fd {n}: {e}");
            }
        }
    }
}

/// A host directory the caller passes on purpose (`--preserve-fds`): chdir through it succeeds,
/// and the check after chdir (getcwd must say the cwd is inside the root) refuses it.
#[test]
fn cwd_through_a_preserved_host_directory_is_refused_after_chdir() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let marker = HostMarker::new();
    let b = Bundle::busybox(&["sh", "-c", &marker.script()]);
    let dir = std::fs::File::open("/tmp").expect("open /tmp");
    let dir_fd = dir.as_raw_fd();
    let mut cmd =
        cli.command(&["run", "--preserve-fds", "1", "-w", "/proc/self/fd/3", "--rootfs", &b.rootfs().to_string_lossy(), "--", "sh", "-c", &marker.script()]);
    // SAFETY: dup2 / fcntl between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself would keep close-on-exec: clear it instead.
            let r = if dir_fd == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(dir_fd, 3) };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = output_timeout(cmd, TIMEOUT);
    marker.assert_not_in("preserved dir", &out.stdout);
    assert_ne!(out.code, Some(0), "the cwd outside the root was accepted: {out:?}");
    assert!(out.stderr.contains("cwd /proc/self/fd/3 leads outside the container's root"), "{}", out.stderr);
}

/// A library host whose stdin was closed: its next open (here /etc, close-on-exec, as any
/// library opens files) lands on fd 0, which the container would inherit as its stdin. Run in a
/// process of its own (this test binary again, see `stdin_closed_child`).
#[test]
fn a_host_directory_that_landed_on_fd_0_does_not_reach_the_container() {
    require_root!();
    for mode in ["cloexec", "inheritable"] {
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args(["--exact", "stdin_closed_child", "--nocapture", "--test-threads=1"])
            .env("RCT_STDIN_CLOSED_CHILD", mode)
            .output()
            .expect("run child");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("child-done"), "{mode}: the child did not finish: {text}");
        assert!(!text.contains("root:"), "{mode}: the container read the host's /etc/shadow through fd 0: {text}");
        if mode == "inheritable" {
            assert!(text.contains("create refused") && text.contains("directory as stdin"), "{mode}: {text}");
        }
    }
}

#[test]
fn stdin_closed_child() {
    let Ok(mode) = std::env::var("RCT_STDIN_CLOSED_CHILD") else { return };
    let root = StateRoot::new();
    let flags = if mode == "cloexec" { libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC } else { libc::O_RDONLY | libc::O_DIRECTORY };
    // SAFETY: closing our stdin and opening a directory, which lands on fd 0.
    let fd = unsafe {
        libc::close(0);
        libc::open(c"/etc".as_ptr(), flags)
    };
    assert_eq!(fd, 0, "the directory did not land on fd 0");
    let spec = SpecBuilder::new(["sh", "-c", "cat /proc/self/fd/0/shadow; cat <&0 2>&1 | head -c 100; echo container-ran"])
        .default_root(root.path())
        .expect("default root")
        .docker_defaults()
        .build();
    let opts = rcontainer_core::CreateOptions { root: root.path().to_path_buf(), ..Default::default() };
    match rcontainer_core::Container::create(&unique_id("stdin"), &spec, &opts) {
        Ok(mut c) => {
            c.start().expect("start");
            c.wait(Some(std::time::Duration::from_secs(30))).expect("wait");
            c.delete(false).expect("delete");
        }
        Err(e) => println!("create refused: {e}"),
    }
    println!("child-done");
}
