//! The container must never get the caller's terminal (TIOCSTI): a container started from a
//! real pty (a pair made here, the pty being the controlling terminal of the process that starts
//! the container, as a user's shell would have it) tries to push a command line into that
//! terminal's input, directly and after trying to make it its own controlling terminal. The
//! input queue must stay empty. Tried through the command (ad hoc, and a bundle) and through the
//! library (a process of this test binary); `sh -c 'exit 7'` must still return 7.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rcontainer_core::{Container, CreateOptions, SpecBuilder};
use rcontainer_tests::*;

/// Pushes "echo INJECTED" into the input of the terminal on fds 0-2, first as is, then after
/// trying to take it as controlling terminal; prints what happened.
const INJECT: &str = r#"
import fcntl, termios, os
for fd in (0, 1, 2):
    for steal in (False, True):
        try:
            if steal:
                fcntl.ioctl(fd, termios.TIOCSCTTY, 1)
            for c in b"echo INJECTED\n":
                fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))
            print("fd", fd, "steal", steal, "INJECTED-OK", flush=True)
        except OSError as e:
            print("fd", fd, "steal", steal, "refused", e.errno, flush=True)
"#;

struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
}

impl Pty {
    fn new() -> Pty {
        let p = nix::pty::openpty(None, None).expect("openpty");
        for fd in [&p.master, &p.slave] {
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC)).expect("cloexec");
        }
        Pty { master: p.master, slave: p.slave }
    }

    /// Bytes waiting in the terminal's input queue (what a shell reading it would run next).
    fn pending_input(&self) -> i32 {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD into a local int on our own fd.
        let r = unsafe { libc::ioctl(self.slave.as_raw_fd(), libc::FIONREAD, &mut n) };
        assert_eq!(r, 0, "FIONREAD: {}", std::io::Error::last_os_error());
        n
    }

    /// Everything the terminal showed (what the container printed), read from the master.
    fn output(&self) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let mut p = libc::pollfd { fd: self.master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut p, 1, 100) } <= 0 {
                break;
            }
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// `cmd` with the pty as its stdio and controlling terminal (a new session).
    fn attach(&self, cmd: &mut std::process::Command) {
        let slave = self.slave.as_raw_fd();
        for (i, s) in [
            Stdio::from(self.slave.try_clone().expect("dup")),
            Stdio::from(self.slave.try_clone().expect("dup")),
            Stdio::from(self.slave.try_clone().expect("dup")),
        ]
        .into_iter()
        .enumerate()
        {
            match i {
                0 => cmd.stdin(s),
                1 => cmd.stdout(s),
                _ => cmd.stderr(s),
            };
        }
        // SAFETY: setsid and ioctl between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let _ = slave;
                Ok(())
            });
        }
    }
}

fn run_on_pty(pty: &Pty, mut cmd: std::process::Command) -> (Option<i32>, String) {
    pty.attach(&mut cmd);
    let mut child = cmd.spawn().expect("spawn");
    let mut out = String::new();
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        out.push_str(&pty.output());
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "timed out; output so far: {out}");
    };
    out.push_str(&pty.output());
    (status.code(), out)
}

fn assert_refused(what: &str, pty: &Pty, out: &str) {
    assert!(!out.contains("INJECTED-OK"), "{what}: TIOCSTI reached the caller's terminal:\n{out}");
    assert_eq!(pty.pending_input(), 0, "{what}: input was pushed into the caller's terminal:\n{out}");
    assert!(out.contains("fd 0 steal False"), "{what}: the injection did not run:\n{out}");
}

#[test]
fn the_adhoc_command_does_not_hand_its_terminal_to_the_container() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let pty = Pty::new();
    let (code, out) = run_on_pty(&pty, cli.command(&["run", "--", "python3", "-c", INJECT]));
    assert_refused("run --", &pty, &out);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run_on_pty(&pty, cli.command(&["run", "--", "sh", "-c", "exit 7"]));
    assert_eq!(code, Some(7), "{out}");
}

#[test]
fn run_bundle_does_not_hand_its_terminal_to_the_container() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let pty = Pty::new();
    // A busybox bundle with the host's /usr (python3) and its library links.
    let mut b = Bundle::busybox(&["/usr/bin/python3", "-c", INJECT]);
    for name in ["lib", "lib64"] {
        if let Ok(t) = std::fs::read_link(format!("/{name}")) {
            std::os::unix::fs::symlink(t, b.rootfs().join(name)).expect("symlink");
        }
    }
    b.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(serde_json::json!({"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]}))
    });
    let (code, out) = run_on_pty(&pty, cli.command(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("tty")]));
    assert_refused("run --bundle", &pty, &out);
    assert_eq!(code, Some(0), "{out}");
    b.args(&["sh", "-c", "exit 7"]);
    let (code, out) = run_on_pty(&pty, cli.command(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("tty7")]));
    assert_eq!(code, Some(7), "{out}");
}

/// The library, in a process of its own whose controlling terminal is the pty, with the
/// container inheriting that process's stdio (what a Python or C host does by default).
#[test]
fn the_library_does_not_hand_the_hosts_terminal_to_the_container() {
    require_root!();
    let pty = Pty::new();
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--exact", "library_child", "--nocapture", "--test-threads=1"]).env("RCT_TTY_CHILD", "python3");
    let (code, out) = run_on_pty(&pty, cmd);
    assert_refused("library", &pty, &out);
    assert_eq!(code, Some(0), "{out}");
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args(["--exact", "library_child", "--nocapture", "--test-threads=1"]).env("RCT_TTY_CHILD", "exit7");
    let (_, out) = run_on_pty(&pty, cmd);
    assert!(out.contains("container exit code 7"), "{out}");
}

/// Not a test on its own: the body of the library case, run in a child process (see above).
#[test]
fn library_child() {
    let Ok(what) = std::env::var("RCT_TTY_CHILD") else { return };
    let root = StateRoot::new();
    let args: Vec<String> = if what == "exit7" { vec!["sh".into(), "-c".into(), "exit 7".into()] } else { vec!["python3".into(), "-c".into(), INJECT.into()] };
    let spec = SpecBuilder::new(args).default_root(root.path()).expect("default root").docker_defaults().build();
    // stdio: None, inherited (this process's, the pty).
    let opts = CreateOptions { root: root.path().to_path_buf(), ..Default::default() };
    let mut c = Container::create(&unique_id("ttylib"), &spec, &opts).expect("create");
    c.start().expect("start");
    let st = c.wait(Some(Duration::from_secs(60))).expect("wait");
    c.delete(false).expect("delete");
    println!("container exit code {}", st.exit_code());
}
