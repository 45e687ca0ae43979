//! Containers with a terminal of their own (process.terminal): a new pty from the container's
//! devpts, the slave as stdio, controlling terminal and /dev/console, the master handed over as
//! runc does (a unix socket, SCM_RIGHTS) or kept by the library's handle; and the ad-hoc
//! `run -it`, relaying the caller's terminal in raw mode (Ctrl-C reaches the container, window
//! sizes follow, the caller's terminal settings come back).

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use rcontainer_core::{Container, SpecBuilder};
use rcontainer_tests::*;

/// Everything readable from `fd` until EOF/EIO (a pty master once every slave is closed) or
/// `timeout`.
fn read_all(fd: &OwnedFd, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).as_millis() as i32;
        let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        if left <= 0 || unsafe { libc::poll(&mut p, 1, left) } <= 0 {
            break;
        }
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn the_library_keeps_the_pty_master_of_a_container_with_a_terminal() {
    require_root!();
    let root = StateRoot::new();
    let spec = SpecBuilder::new(["sh", "-c", "tty; stty size; ls -l /dev/console; ps -o pid,comm | grep ' sh'; exit 4"])
        .default_root(root.path())
        .expect("default root")
        .docker_defaults()
        .terminal(true, Some((24, 81)))
        .build();
    let mut c = Guard(Container::create(&unique_id("tty"), &spec, &root.options()).expect("create"));
    let master = c.take_pty().expect("a pty master");
    c.start().expect("start");
    let out = read_all(&master, Duration::from_secs(20));
    let st = c.wait(Some(Duration::from_secs(20))).expect("wait");
    assert_eq!(st.code, Some(4), "{out}");
    assert!(out.contains("/dev/pts/0"), "{out}");
    assert!(out.contains("24 81"), "{out}");
    assert!(out.contains(" 136, 0 ") || out.contains("136,   0"), "/dev/console is not the pty: {out}");
    assert!(out.contains("1 sh"), "{out}");
}

#[test]
fn a_console_socket_receives_the_pty_master_as_runc_sends_it() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let mut b = Bundle::busybox(&["sh", "-c", "tty; echo out-$((6*7))"]);
    b.edit(|c| c["process"]["terminal"] = true.into());
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).expect("bind");
    let id = unique_id("consock");
    let accept = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 256];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = nix::sys::socket::recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), nix::sys::socket::MsgFlags::empty()).expect("recvmsg");
        let mut got = None;
        for c in msg.cmsgs().expect("cmsgs") {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
                got = fds.first().copied();
            }
        }
        let len = msg.bytes;
        let name = String::from_utf8_lossy(&buf[..len]).into_owned();
        // SAFETY: the fd the kernel just gave us.
        (name, got.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }))
    });
    cli.run(&["create", "--bundle", &b.path().to_string_lossy(), "--console-socket", &sock_path.to_string_lossy(), &id]).ok();
    let _g = CliGuard { cli: &cli, id: id.clone() };
    let (name, master) = accept.join().expect("accept thread");
    let master = master.expect("an fd came with the message");
    assert_eq!(name, "/dev/ptmx");
    cli.run(&["start", &id]).ok();
    let out = read_all(&master, Duration::from_secs(20));
    assert!(out.contains("/dev/pts/0") && out.contains("out-42"), "{out}");
    cli.wait_status(&id, "stopped");
    // Without a console socket, a container with a terminal cannot be created detached.
    let out = cli.run(&["create", "--bundle", &b.path().to_string_lossy(), &unique_id("nosock")]);
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("--console-socket"), "{}", out.stderr);
}

/// `rcontainer run -it` from a real pty (made here; the command's controlling terminal): the
/// command's output and exit status, Ctrl-C delivered to the container, a window resize passed
/// on, and the caller's terminal settings put back.
#[test]
fn run_it_relays_the_callers_terminal_in_raw_mode() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let pty = nix::pty::openpty(Some(&nix::pty::Winsize { ws_row: 30, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0 }), None).expect("openpty");
    for fd in [&pty.master, &pty.slave] {
        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC)).expect("cloexec");
    }
    let before = nix::sys::termios::tcgetattr(&pty.slave).expect("tcgetattr");
    let script = "trap 'echo GOT-INT; exit 9' INT; trap 'echo size-$(stty size | tr \" \" x)' WINCH; echo size-$(stty size | tr ' ' x); echo ready; while :; do sleep 0.05; done";
    let mut cmd = cli.command(&["run", "-it", "--", "sh", "-c", script]);
    cmd.stdin(pty.slave.try_clone().expect("dup")).stdout(pty.slave.try_clone().expect("dup")).stderr(pty.slave.try_clone().expect("dup"));
    // SAFETY: setsid and ioctl between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn");
    let mut seen = String::new();
    let wait_for = |needle: &str, seen: &mut String| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !seen.contains(needle) {
            assert!(Instant::now() < deadline, "never saw {needle:?}: {seen:?}");
            seen.push_str(&read_all(&pty.master, Duration::from_millis(100)));
        }
    };
    wait_for("ready", &mut seen);
    assert!(seen.contains("size-30x100"), "the container's terminal did not get ours' size: {seen:?}");
    // A resize of our terminal (the kernel sends SIGWINCH to the command).
    let ws = libc::winsize { ws_row: 41, ws_col: 132, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: ioctl with a live winsize on our master.
    unsafe { libc::ioctl(pty.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    wait_for("size-41x132", &mut seen);
    // Ctrl-C, typed.
    nix::unistd::write(&pty.master, b"\x03").expect("write ^C");
    wait_for("GOT-INT", &mut seen);
    let status = wait_child(&mut child, Duration::from_secs(20)).expect("the command ended");
    assert_eq!(status.code(), Some(9), "the command must exit with the container's status: {seen:?}");
    let after = nix::sys::termios::tcgetattr(&pty.slave).expect("tcgetattr");
    assert_eq!(before.local_flags, after.local_flags, "the caller's terminal was not put back");
    assert_eq!(before.input_flags, after.input_flags);
    let _ = child.stdout.take().map(|mut o| o.read_to_end(&mut Vec::new()));
}
