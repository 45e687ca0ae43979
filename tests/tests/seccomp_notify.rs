//! SCMP_ACT_NOTIFY: a seccomp profile whose chosen syscalls are decided by a listener outside
//! the container. The runtime sends the listener fd to `listenerPath` with the container's
//! state (runc's protocol); here the listener is this test: it answers every mkdir with
//! "success" without making anything, which neither allowing nor denying the call could do.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rcontainer_tests::*;
use serde_json::{json, Value};

// struct seccomp_notif / seccomp_notif_resp and their ioctls (linux/seccomp.h).
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}
#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}
const NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const NOTIF_SEND: libc::c_ulong = 0xc018_2101;

/// Reads the listener message (JSON) and its fd from a connection.
fn receive(conn: &std::os::unix::net::UnixStream) -> (Value, OwnedFd) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = vec![0u8; 65536];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC).expect("recvmsg");
    let mut fd = None;
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            assert_eq!(fds.len(), 1, "one fd, the listener");
            // SAFETY: a fresh fd installed for us.
            fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let n = msg.bytes;
    (serde_json::from_slice(&buf[..n]).expect("the message is JSON"), fd.expect("an fd came with the message"))
}

/// What the listener saw: the messages, and the syscall numbers it answered.
#[derive(Default, Debug)]
struct Seen {
    messages: Vec<Value>,
    calls: Vec<i32>,
}

/// A seccomp agent, until `stop`: takes every runtime connection on `sock` (a message and a
/// listener fd) and answers every notification on those fds with "success, 0", doing nothing.
fn agent(sock: UnixListener, stop: Arc<AtomicBool>) -> Seen {
    let mut seen = Seen::default();
    let mut fds: Vec<OwnedFd> = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let mut polls: Vec<libc::pollfd> = std::iter::once(sock.as_raw_fd())
            .chain(fds.iter().map(|f| f.as_raw_fd()))
            .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
            .collect();
        // SAFETY: valid pollfds.
        if unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, 50) } <= 0 {
            continue;
        }
        if polls[0].revents & libc::POLLIN != 0 {
            let (conn, _) = sock.accept().expect("accept the runtime's connection");
            let (message, fd) = receive(&conn);
            seen.messages.push(message);
            fds.push(fd);
        }
        for p in &polls[1..] {
            if p.revents & libc::POLLIN == 0 {
                continue;
            }
            let mut n = Notif::default();
            // SAFETY: the kernel fills a zeroed seccomp_notif.
            if unsafe { libc::ioctl(p.fd, NOTIF_RECV, &mut n) } < 0 {
                continue; // the caller died meanwhile (ENOENT)
            }
            seen.calls.push(n.nr);
            let mut resp = NotifResp { id: n.id, val: 0, error: 0, flags: 0 };
            // SAFETY: a valid response for the notification just received.
            unsafe { libc::ioctl(p.fd, NOTIF_SEND, &mut resp) };
        }
    }
    seen
}

fn start_agent(dir: &Path) -> (std::path::PathBuf, Arc<AtomicBool>, std::thread::JoinHandle<Seen>) {
    let path = dir.join("listener.sock");
    let sock = UnixListener::bind(&path).expect("bind the listener socket");
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    (path, stop, std::thread::spawn(move || agent(sock, s)))
}

fn mkdir_answered(seen: &Seen) -> bool {
    seen.calls.contains(&(libc::SYS_mkdir as i32)) || seen.calls.contains(&(libc::SYS_mkdirat as i32))
}

fn notify_profile(listener: &Path, names: &[&str]) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": listener,
        "listenerMetadata": "rcontainer-test-metadata",
        "syscalls": [{ "names": names, "action": "SCMP_ACT_NOTIFY" }]
    })
}

#[test]
fn the_listener_gets_the_fd_and_the_state_and_decides_the_calls() {
    require_root!();
    let root = StateRoot::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, stop, agent) = start_agent(dir.path());
    let mut b = Bundle::busybox(&["sh", "-c", "mkdir /tmp/made && echo mkdir-said-ok; if [ -d /tmp/made ]; then echo EXISTS; else echo absent; fi"]);
    let profile = notify_profile(&path, &["mkdir", "mkdirat"]);
    b.edit(|c| {
        c["process"]["terminal"] = false.into();
        c["linux"]["seccomp"] = profile;
    });
    assert_eq!(b.config()["process"]["noNewPrivileges"], true, "also with no_new_privileges (the filter is then loaded by the stub otherwise)");
    let id = unique_id("notify");
    let out = run_captured(&id, &b.spec(), root.path());
    stop.store(true, Ordering::SeqCst);
    let seen = agent.join().expect("agent thread");
    let out = out.expect("run");
    assert!(out.stdout.contains("mkdir-said-ok\nabsent"), "the listener answered mkdir (success, nothing made): {out:?}");
    assert!(mkdir_answered(&seen), "{seen:?}");
    assert_eq!(seen.messages.len(), 1, "{seen:?}");
    let message = &seen.messages[0];
    assert_eq!(message["fds"], json!(["seccompFd"]), "{message}");
    assert_eq!(message["metadata"], "rcontainer-test-metadata", "{message}");
    assert_eq!(message["state"]["id"], id.as_str(), "{message}");
    assert_eq!(message["state"]["status"], "creating", "{message}");
    assert_eq!(message["state"]["bundle"], b.path().display().to_string(), "{message}");
    let pid = message["pid"].as_i64().expect("pid");
    assert!(pid > 1 && message["state"]["pid"] == pid, "{message}");
}

/// An exec'd process gets the container's profile, so its own listener fd goes to the agent too
/// (status "running"), as with runc.
#[test]
fn an_execd_process_hands_its_own_listener_over() {
    require_root!();
    use rcontainer_core::{Container, ExecOptions, Stdio};
    let root = StateRoot::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, stop, agent) = start_agent(dir.path());
    let mut b = Bundle::busybox(&["sleep", "100"]);
    let profile = notify_profile(&path, &["mkdir", "mkdirat"]);
    b.edit(|c| {
        c["process"]["terminal"] = false.into();
        c["linux"]["seccomp"] = profile;
    });
    let mut c = Guard(Container::create(&unique_id("notifyexec"), &b.spec(), &root.options()).expect("create"));
    c.start().expect("start");
    let mut p = b.spec().config().process().clone().expect("process");
    p.set_args(Some(vec!["sh".into(), "-c".into(), "mkdir /tmp/e && echo exec-mkdir-ok; [ -d /tmp/e ] || echo absent".into()]));
    let (out_r, out_w) = pipe();
    let opts = ExecOptions { stdio: Stdio { stdin: None, stdout: Some(out_w.as_raw_fd()), stderr: None }, ..Default::default() };
    let mut proc = c.exec(&p, &opts).expect("exec");
    drop(out_w);
    let out = read_on_thread(out_r);
    let st = proc.wait(Some(TIMEOUT)).expect("wait");
    stop.store(true, Ordering::SeqCst);
    let seen = agent.join().expect("agent thread");
    let out = out.join().expect("reader");
    assert!(st.success(), "{st:?} {out}");
    assert!(out.contains("exec-mkdir-ok\nabsent"), "{out}");
    let statuses: Vec<&Value> = seen.messages.iter().map(|m| &m["state"]["status"]).collect();
    assert_eq!(statuses, [&json!("creating"), &json!("running")], "{seen:?}");
    assert_eq!(seen.messages[1]["pid"], proc.pid(), "{seen:?}");
}

#[test]
fn notify_profiles_the_runtime_cannot_honour_are_refused_up_front() {
    require_root!();
    let root = StateRoot::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nobody.sock");
    let cases: Vec<(Value, &str)> = vec![
        (notify_profile(&path, &["write"]), "read or write"),
        (
            {
                let mut p = notify_profile(&path, &["mkdir"]);
                p.as_object_mut().expect("object").remove("listenerPath");
                p
            },
            "listenerPath",
        ),
        (json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": path}), "default action"),
        // Nobody listens there: create fails naming the path, and leaves nothing.
        (notify_profile(&path, &["mkdir"]), "nobody.sock"),
    ];
    for (profile, needle) in cases {
        let mut b = Bundle::busybox(&["true"]);
        b.edit(|c| {
            c["process"]["terminal"] = false.into();
            c["linux"]["seccomp"] = profile.clone();
        });
        let err = run_captured(&unique_id("notifybad"), &b.spec(), root.path()).expect_err("must fail");
        assert!(err.to_string().contains(needle), "{profile}: {err}");
        assert!(root.container_dirs().is_empty(), "nothing left: {:?}", root.container_dirs());
    }
}
