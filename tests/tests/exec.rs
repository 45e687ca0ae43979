//! exec: a new process in a created or running container. What must hold, seen from outside:
//! it is in every namespace and the cgroup of the container's init, gets the container's
//! seccomp profile, its own user, env, cwd and terminal; its exit status comes back; it is
//! refused in a paused or stopped container; and none of the escapes closed for the init opens
//! for it (the host binary, a cwd through a runtime fd).

use std::os::fd::AsRawFd;
use std::time::Duration;

use rcontainer_core::oci_spec::runtime::Process as OciProcess;
use rcontainer_core::{Container, ExecOptions, SpecBuilder, Stdio};
use rcontainer_tests::*;

fn process(args: &[&str]) -> OciProcess {
    let mut p = OciProcess::default();
    p.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
    p.set_env(Some(vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()]));
    p.set_cwd("/".into());
    p
}

/// exec with stdout and stderr captured; returns (status, stdout, stderr).
fn exec_captured(c: &mut Container, p: &OciProcess) -> rcontainer_core::Result<(rcontainer_core::ExitStatus, String, String)> {
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let opts = ExecOptions { stdio: Stdio { stdin: None, stdout: Some(out_w.as_raw_fd()), stderr: Some(err_w.as_raw_fd()) }, ..Default::default() };
    let mut proc = c.exec(p, &opts)?;
    drop((out_w, err_w));
    let (out, err) = (read_on_thread(out_r), read_on_thread(err_r));
    let st = proc.wait(Some(Duration::from_secs(30)))?;
    Ok((st, out.join().unwrap_or_default(), err.join().unwrap_or_default()))
}

fn running_default(root: &StateRoot, args: &[&str]) -> Guard {
    let spec = SpecBuilder::new(args.iter().copied()).default_root(root.path()).expect("default root").docker_defaults().hostname("exec-box").build();
    let mut c = Guard(Container::create(&unique_id("exec"), &spec, &root.options()).expect("create"));
    c.start().expect("start");
    c
}

#[test]
fn an_execd_process_joins_every_namespace_and_the_cgroup_of_the_init() {
    require_root!();
    let root = StateRoot::new();
    let mut c = running_default(&root, &["sleep", "100"]);
    let init = c.pid();
    let script = "echo host=$(hostname); for n in mnt pid net ipc uts cgroup user; do echo $n=$(readlink /proc/self/ns/$n); done; echo mypid=$$; exit 7";
    let (st, out, err) = exec_captured(&mut c, &process(&["sh", "-c", script])).expect("exec");
    assert_eq!(st.code, Some(7), "{out} {err}");
    assert!(out.contains("host=exec-box"), "{out}");
    for n in ["mnt", "pid", "net", "ipc", "uts", "cgroup", "user"] {
        let theirs = ns_link(&init.to_string(), n);
        assert!(out.contains(&format!("{n}={theirs}")), "{n}: not the init's namespace {theirs}: {out}");
    }
    // Seen from the host, its cgroups are the init's.
    let mut sleeper = c.exec(&process(&["sleep", "100"]), &ExecOptions::default()).expect("exec sleep");
    let host_view = |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    assert_eq!(host_view(sleeper.pid()), host_view(init), "the exec'd process is not in the container's cgroups");
    sleeper.kill(libc::SIGKILL).expect("kill");
    sleeper.wait(Some(Duration::from_secs(20))).expect("wait");
    let pid: i32 = out.lines().find_map(|l| l.strip_prefix("mypid=")).and_then(|v| v.parse().ok()).expect("pid line");
    assert!(pid < 100, "the process is not in the container's pid namespace (pid {pid})");
    c.kill(libc::SIGKILL).expect("kill");
}

#[test]
fn an_execd_process_gets_the_containers_seccomp_profile_and_its_own_user() {
    require_root!();
    let root = StateRoot::new();
    let mut c = running_default(&root, &["sleep", "100"]);
    // unshare(CLONE_NEWUSER) is refused by Docker's profile (EPERM = 1).
    let mut p = process(&["perl", "-e", "$r = syscall(272, 0x10000000); printf(\"unshare=%d uid=%d\\n\", $r < 0 ? $!+0 : 0, $<)"]);
    let mut user = p.user().clone();
    user.set_uid(65534);
    user.set_gid(65534);
    p.set_user(user);
    let (st, out, err) = exec_captured(&mut c, &p).expect("exec");
    assert_eq!(st.code, Some(0), "{out} {err}");
    assert!(out.contains("unshare=1 uid=65534"), "{out} {err}");
}

#[test]
fn exec_failures_and_states_are_clear() {
    require_root!();
    let root = StateRoot::new();
    let mut c = running_default(&root, &["sleep", "100"]);
    let e = c.exec(&process(&["/no/such/binary"]), &ExecOptions::default()).expect_err("a missing binary");
    assert!(e.to_string().contains("/no/such/binary") && e.errno() == Some(libc::ENOENT), "{e}");
    let mut bad = process(&["true"]);
    bad.set_cwd("relative".into());
    assert_eq!(c.exec(&bad, &ExecOptions::default()).expect_err("relative cwd").kind(), rcontainer_core::ErrorKind::InvalidConfig);
    c.pause().expect("pause");
    let e = c.exec(&process(&["true"]), &ExecOptions::default()).expect_err("paused");
    assert_eq!(e.kind(), rcontainer_core::ErrorKind::WrongState, "{e}");
    c.resume().expect("resume");
    c.kill(libc::SIGKILL).expect("kill");
    c.wait(Some(Duration::from_secs(20))).expect("wait");
    let e = c.exec(&process(&["true"]), &ExecOptions::default()).expect_err("stopped");
    assert_eq!(e.kind(), rcontainer_core::ErrorKind::WrongState, "{e}");
}

#[test]
fn an_execd_process_cannot_run_the_host_binary_nor_start_in_a_host_directory() {
    require_root!();
    let root = StateRoot::new();
    let mut c = running_default(&root, &["sleep", "100"]);
    let name = "an_execd_process_cannot_run_the_host_binary_nor_start_in_a_host_directory";
    let (st, out, err) = exec_captured(&mut c, &process(&["/proc/self/exe", "--list"])).expect("exec");
    assert!(!out.contains(name) && !err.contains(name), "the exec'd process ran the test binary: {out}");
    assert_eq!(st.code, Some(127));
    for n in 3..=12 {
        let mut p = process(&["sh", "-c", "cat ../../../../../../../../../etc/hostname"]);
        p.set_cwd(format!("/proc/self/fd/{n}").into());
        match exec_captured(&mut c, &p) {
            Ok((_, out, _)) => assert!(
                !out.contains(&std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim().to_string()) || out.trim().is_empty(),
                "fd {n}: {out}"
            ),
            Err(e) => assert!(e.to_string().contains("cwd"), "fd {n}: {e}"),
        }
    }
    c.kill(libc::SIGKILL).expect("kill");
}

#[test]
fn an_execd_process_with_a_terminal_and_in_a_user_namespace() {
    require_root!();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["sleep", "100"]);
    b.user_namespace((0, 100000, 65536), (0, 100000, 65536));
    let mut c = Guard(Container::create(&unique_id("execuserns"), &b.spec(), &root.options()).expect("create"));
    c.start().expect("start");
    let mut p = process(&["sh", "-c", "tty; id -u; cat /proc/self/uid_map"]);
    p.set_terminal(Some(true));
    let mut proc = c.exec(&p, &ExecOptions::default()).expect("exec with a terminal");
    let master = proc.take_pty().expect("pty");
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(&master, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    let st = proc.wait(Some(Duration::from_secs(20))).expect("wait");
    assert_eq!(st.code, Some(0), "{out}");
    assert!(out.contains("/dev/pts/"), "{out}");
    assert!(out.contains("100000"), "not in the container's user namespace: {out}");
    c.kill(libc::SIGKILL).expect("kill");
}

#[test]
fn the_exec_command_with_runcs_flags() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("execcli");
    cli.run(&["run", "-d", "--bundle", &b.path().to_string_lossy(), &id]).ok();
    let _g = CliGuard { cli: &cli, id: id.clone() };
    let out = cli.run(&["exec", "-e", "FOO=bar", "--cwd", "/tmp", "-u", "65534:65534", &id, "sh", "-c", "echo $FOO $(pwd) $(id -u):$(id -g); exit 3"]);
    assert_eq!(out.code, Some(3), "{out:?}");
    assert_eq!(out.stdout.trim(), "bar /tmp 65534:65534");
    // --process FILE, and -d with --pid-file.
    let dir = tempfile::tempdir().expect("tempdir");
    let pfile = dir.path().join("process.json");
    let mut p = process(&["sh", "-c", "echo from-process-json > /dev/shm/proof; sleep 100"]);
    p.set_cwd("/".into());
    std::fs::write(&pfile, serde_json::to_string(&p).expect("json")).expect("write");
    let pidfile = dir.path().join("pid");
    cli.run(&["exec", "-d", "--pid-file", &pidfile.to_string_lossy(), "--process", &pfile.to_string_lossy(), &id]).ok();
    let pid: i32 = std::fs::read_to_string(&pidfile).expect("pid file").trim().parse().expect("pid");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "the detached process is not running");
    let out = cli.run(&["exec", &id, "sh", "-c", "for i in $(seq 100); do [ -s /dev/shm/proof ] && break; sleep 0.05; done; cat /dev/shm/proof"]).ok();
    assert_eq!(out.stdout.trim(), "from-process-json");
    let out = cli.run(&["exec", &id, "/no/such"]);
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("/no/such"), "{}", out.stderr);
    cli.run(&["kill", &id, "KILL"]).ok();
    cli.wait_status(&id, "stopped");
    let out = cli.run(&["exec", &id, "true"]);
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("stopped"), "{}", out.stderr);
}

/// `exec -d` as containerd's shim and conmon run it: they are child subreapers, read the pid
/// file once the command returns, and collect the process's exit status themselves. The command
/// must leave that status to them: reaped by the command, it is lost, and `docker exec` and
/// `ctr task exec` of a command that ends at once waited for it forever. The subreaper is this
/// test binary again (`exec_detach_subreaper_child`); a command that exits at once, many times,
/// gives the command every chance to reap it first.
#[test]
fn a_detached_execs_exit_status_reaches_the_subreaper() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("execdetach");
    cli.run(&["run", "-d", "--bundle", &b.path().to_string_lossy(), &id]).ok();
    let _g = CliGuard { cli: &cli, id: id.clone() };
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args(["--exact", "exec_detach_subreaper_child", "--nocapture", "--test-threads=1"])
        .env("RCT_EXEC_DETACH_ROOT", root.path())
        .env("RCT_EXEC_DETACH_ID", &id);
    let out = output_timeout(cmd, Duration::from_secs(120));
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("subreaper-done"), "the subreaper did not finish: {text}");
    let statuses: Vec<&str> = text.lines().filter_map(|l| l.find("exec-d ").map(|i| &l[i..])).collect();
    assert_eq!(statuses.len(), 30, "{text}");
    for s in statuses {
        assert!(s.ends_with(": exited 5"), "the subreaper did not get the exit status of the detached process ({s}): {text}");
    }
}

#[test]
fn exec_detach_subreaper_child() {
    let (Ok(root), Ok(id)) = (std::env::var("RCT_EXEC_DETACH_ROOT"), std::env::var("RCT_EXEC_DETACH_ID")) else { return };
    // SAFETY: prctl with integer arguments.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }, 0, "PR_SET_CHILD_SUBREAPER");
    let cli = Cli::new(std::path::Path::new(&root));
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..30 {
        let pidfile = dir.path().join(format!("pid{i}"));
        cli.run(&["exec", "-d", "--pid-file", &pidfile.to_string_lossy(), &id, "sh", "-c", "exit 5"]).ok();
        let pid: i32 = std::fs::read_to_string(&pidfile).expect("pid file").trim().parse().expect("pid");
        let mut status = 0;
        // SAFETY: waitpid on a pid with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        let what = if r != pid {
            format!("waitpid: {}", std::io::Error::last_os_error())
        } else if libc::WIFEXITED(status) {
            format!("exited {}", libc::WEXITSTATUS(status))
        } else {
            format!("status {status:#x}")
        };
        println!("exec-d {i} pid {pid}: {what}");
    }
    println!("subreaper-done");
}
