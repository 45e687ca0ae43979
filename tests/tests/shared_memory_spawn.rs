//! The init is cloned with CLONE_VM (x86_64, in a new pid namespace of its own): during `create`
//! it runs on the host's memory, so a host holding gigabytes pays no page-table copy per
//! container; at the end of `create` it execs the exec stub. What that must not change, seen
//! from outside:
//! - a created container's init is the stub (a sealed memfd), with an address space of its own
//!   (kcmp(2) KCMP_VM), holding no directory of the host, and the host is dumpable again (the
//!   flag belongs to the address space, and the init must be non-dumpable while it shares it),
//!   whether the container then starts, fails, or is deleted unstarted;
//! - a container that runs out of memory before its exec does not take the host down (the OOM
//!   killer kills every process sharing its victim's memory: the init is cloned with CLONE_VFORK,
//!   which the OOM killer never picks);
//! - the container's oom_score_adj is not the host's (without CLONE_VFORK the kernel would tie
//!   them together).
//!
//! Its own test binary, and its tests one at a time (`serial()`): the dumpable flag is
//! process-wide, so no other test may run containers concurrently in this process.

use std::time::Duration;

use rcontainer_core::Container;
use rcontainer_tests::*;

const KCMP_VM: libc::c_int = 1;

/// Whether processes `a` and `b` share their address space (kcmp(2): 0 means equal).
fn same_vm(a: i32, b: i32) -> bool {
    // SAFETY: kcmp with plain integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, a, b, KCMP_VM, 0, 0) };
    assert!(r >= 0, "kcmp({a}, {b}): {}", std::io::Error::last_os_error());
    r == 0
}

fn dumpable() -> i32 {
    // SAFETY: prctl with plain integer arguments.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn a_created_init_is_the_exec_stub_and_the_host_is_dumpable_again() {
    require_root!();
    let _serial = serial();
    let _wd = Watchdog::new(Duration::from_secs(60));
    let root = StateRoot::new();
    let me = std::process::id() as i32;
    assert_eq!(dumpable(), 1, "the test process starts dumpable");
    let marker = tempfile::Builder::new().prefix("rct-host-only-").tempfile().expect("marker");

    let b = Bundle::busybox(&["sleep", "100"]);
    let mut c = Guard(Container::create(&unique_id("vm"), &b.spec(), &root.options()).expect("create"));
    assert!(!same_vm(me, c.pid()), "a created init has an address space of its own");
    assert_eq!(dumpable(), 1, "dumpable again once create has returned");
    let exe = std::fs::read_link(format!("/proc/{}/exe", c.pid())).expect("exe");
    assert!(exe.to_string_lossy().starts_with("/memfd:rcontainer-exec-stub"), "the created init runs {}", exe.display());
    // Its root is the container's, and no fd of it is a directory of the host.
    let proc_root = std::path::PathBuf::from(format!("/proc/{}/root", c.pid()));
    assert!(proc_root.join("bin/busybox").exists(), "the init's root is the bundle's rootfs");
    assert!(!proc_root.join(marker.path().strip_prefix("/").expect("absolute")).exists(), "the init's root reaches a host file");
    for e in std::fs::read_dir(format!("/proc/{}/fd", c.pid())).expect("fds").flatten() {
        let meta = std::fs::metadata(e.path()).expect("stat fd");
        assert!(!meta.is_dir(), "fd {:?} of the created init is a directory: {:?}", e.file_name(), std::fs::read_link(e.path()));
    }

    // A second one is deleted without ever starting, the first starts and ends.
    let mut c2 = Guard(Container::create(&unique_id("vm2"), &b.spec(), &root.options()).expect("create 2"));
    c.start().expect("start");
    assert!(!same_vm(me, c.pid()));
    c2.delete(true).expect("delete unstarted");
    assert_eq!(dumpable(), 1);
    c.kill(libc::SIGKILL).expect("kill");
    wait_or_kill(&mut c, Duration::from_secs(20));
    c.delete(false).expect("delete");
    assert_eq!(dumpable(), 1);

    // A container whose exec fails after start, and one whose setup fails in create.
    let b = Bundle::busybox(&["/bin/no-such-binary"]);
    let e = Container::create(&unique_id("vm-noexec"), &b.spec(), &root.options()).expect_err("create with a missing binary");
    assert!(e.to_string().contains("no-such-binary"), "{e}");
    assert_eq!(dumpable(), 1, "after a failed create");
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|v| v["process"]["cwd"] = "/no/such/dir".into());
    let e = Container::create(&unique_id("vm-nocwd"), &b.spec(), &root.options()).expect_err("create with a missing cwd");
    assert!(e.to_string().contains("/no/such/dir"), "{e}");
    assert_eq!(dumpable(), 1, "after a failed create");
    assert!(root.container_dirs().is_empty(), "{:?}", root.container_dirs());
}

fn own_oom_score_adj() -> String {
    std::fs::read_to_string("/proc/self/oom_score_adj").expect("read /proc/self/oom_score_adj").trim().to_string()
}

#[test]
fn the_containers_oom_score_adj_is_not_the_hosts() {
    require_root!();
    let _serial = serial();
    let _wd = Watchdog::new(Duration::from_secs(60));
    let root = StateRoot::new();
    let before = own_oom_score_adj();
    let mut b = Bundle::busybox(&["sleep", "100"]);
    b.edit(|v| v["process"]["oomScoreAdj"] = 1000.into());
    let mut c = Guard(Container::create(&unique_id("vm-oomadj"), &b.spec(), &root.options()).expect("create"));
    let init = std::fs::read_to_string(format!("/proc/{}/oom_score_adj", c.pid())).expect("read the init's oom_score_adj");
    assert_eq!(init.trim(), "1000", "the init got the spec's oom_score_adj");
    assert_eq!(own_oom_score_adj(), before, "the host's oom_score_adj must not follow the container's");
    c.start().expect("start");
    assert_eq!(own_oom_score_adj(), before);
    c.kill(libc::SIGKILL).expect("kill");
    wait_or_kill(&mut c, Duration::from_secs(20));
    c.delete(false).expect("delete");
}

#[test]
fn a_container_out_of_memory_before_exec_does_not_take_the_host_down() {
    require_root!();
    let _serial = serial();
    let _wd = Watchdog::new(Duration::from_secs(120));
    let root = StateRoot::new();
    // From one page up to a little above what /bin/true needs: some of these run out of memory
    // in the init's setup or in its exec, while it still shares this process's memory. Were this
    // process killed with it, the test binary would die here.
    let mut outcomes = Vec::new();
    for limit in [4096, 16 << 10, 64 << 10, 128 << 10, 160 << 10, 192 << 10, 256 << 10, 1 << 20] {
        let mut b = Bundle::busybox(&["true"]);
        b.edit(|v| v["linux"]["resources"]["memory"] = serde_json::json!({ "limit": limit }));
        let outcome = match Container::create(&unique_id("vm-oom"), &b.spec(), &root.options()) {
            Err(e) => format!("create failed: {e}"),
            Ok(c) => {
                let mut c = Guard(c);
                match c.start() {
                    Err(e) => format!("start failed: {e}"),
                    Ok(()) => format!("{:?}", wait_or_kill(&mut c, Duration::from_secs(20))),
                }
            }
        };
        outcomes.push((limit, outcome));
    }
    eprintln!("outcomes by memory limit: {outcomes:#?}");
    // Still here; and the last, roomy limit ran /bin/true.
    assert!(outcomes.last().is_some_and(|(_, o)| o.contains("code: Some(0)") || o.contains("code: 0")), "{outcomes:#?}");
    assert!(root.container_dirs().is_empty(), "{:?}", root.container_dirs());
}

#[test]
fn the_host_can_change_its_ids_while_a_container_waits_for_start() {
    // glibc's setuid/setgid/setgroups/setegid signal every thread it knows of and wait for each
    // to answer. A created container's process is cloned by a thread that sleeps in the kernel
    // until that process execs; were that thread one glibc knows, this would hang until start.
    require_root!();
    let _serial = serial();
    let _wd = Watchdog::new(Duration::from_secs(60));
    let root = StateRoot::new();
    let b = Bundle::busybox(&["true"]);
    let mut c = Guard(Container::create(&unique_id("vm-setxid"), &b.spec(), &root.options()).expect("create"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: setting the effective gid to the one we have; no change, but glibc broadcasts.
        let r = unsafe { libc::setegid(libc::getegid()) };
        let _ = tx.send(r);
    });
    let answered = rx.recv_timeout(Duration::from_secs(5));
    // Unblock the setegid either way before asserting, so a failure does not hang the binary.
    c.start().expect("start");
    assert_eq!(answered, Ok(0), "setegid() from another thread must not wait for the container to start");
    assert_eq!(wait_or_kill(&mut c, Duration::from_secs(20)).code, Some(0));
}
