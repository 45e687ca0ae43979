//! The lifecycle through the library: states, a second handle loaded by id (as another process
//! would), wrong-state errors, wait timeouts, double delete.

use std::time::{Duration, Instant};

use rcontainer_core::{Container, ErrorKind, Status};
use rcontainer_tests::*;

#[test]
fn states_created_running_stopped_and_a_loaded_handle_sees_them() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("lib");
    let mut c = Guard(Container::create(&id, &b.spec(), &root.options()).expect("create"));
    assert_eq!(c.status().expect("status"), Status::Created);
    let mut other = Container::load(root.path(), &id).expect("load");
    assert_eq!(other.status().expect("status"), Status::Created);
    assert_eq!(other.pid(), c.pid());
    let st = other.state().expect("state");
    assert_eq!(st.id, id);
    assert_eq!(st.bundle, b.path());

    // start from the other handle (as `rcontainer start` would)
    other.start().expect("start via loaded handle");
    assert_eq!(c.status().expect("status"), Status::Running);
    assert_eq!(Container::load(root.path(), &id).expect("load").status().expect("status"), Status::Running);

    other.kill(libc::SIGKILL).expect("kill");
    let exit = wait_or_kill(&mut c, Duration::from_secs(20));
    assert_eq!(exit.signal, Some(libc::SIGKILL));
    assert_eq!(c.status().expect("status"), Status::Stopped);
    assert_eq!(Container::load(root.path(), &id).expect("load").status().expect("status"), Status::Stopped);

    c.delete(false).expect("delete");
    c.delete(false).expect("deleting twice is harmless");
    let e = Container::load(root.path(), &id).expect_err("load after delete");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains(&id), "{e}");
}

#[test]
fn wrong_state_errors_name_the_state() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("lib-wrong");
    let mut c = Guard(Container::create(&id, &b.spec(), &root.options()).expect("create"));

    let e = c.delete(false).expect_err("delete of a created container");
    assert_eq!(e.kind(), ErrorKind::WrongState);
    assert!(e.to_string().contains("created") && e.to_string().contains(&id), "{e}");

    c.start().expect("start");
    let e = c.start().expect_err("second start");
    assert_eq!(e.kind(), ErrorKind::WrongState);
    assert!(e.to_string().contains("running"), "{e}");
    let e = Container::load(root.path(), &id).expect("load").start().expect_err("start from another handle");
    assert!(e.to_string().contains("running"), "{e}");

    let e = c.delete(false).expect_err("delete of a running container");
    assert_eq!(e.kind(), ErrorKind::WrongState);
    assert!(e.to_string().contains("running"), "{e}");

    c.kill(libc::SIGKILL).expect("kill");
    wait_or_kill(&mut c, Duration::from_secs(20));
    let e = c.start().expect_err("start of a stopped container");
    assert!(e.to_string().contains("stopped"), "{e}");
    let e = c.kill(libc::SIGTERM).expect_err("kill of a stopped container");
    assert_eq!(e.kind(), ErrorKind::WrongState);
    assert!(e.to_string().contains("stopped"), "{e}");
    c.delete(false).expect("delete");
}

#[test]
fn wait_with_a_timeout_times_out_then_succeeds() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let mut c = Guard(Container::create(&unique_id("timeout"), &b.spec(), &root.options()).expect("create"));
    c.start().expect("start");
    let t = Instant::now();
    let e = c.wait(Some(Duration::from_millis(200))).expect_err("wait should time out");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(t.elapsed() >= Duration::from_millis(200) && t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(c.try_wait().expect("try_wait"), None);
    c.kill(libc::SIGKILL).expect("kill");
    assert_eq!(wait_or_kill(&mut c, Duration::from_secs(20)).signal, Some(libc::SIGKILL));
    // The status is remembered.
    assert_eq!(c.wait(None).expect("wait again").signal, Some(libc::SIGKILL));
}

#[test]
fn delete_force_of_created_and_running_containers() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    for start in [false, true] {
        let id = unique_id("lib-force");
        let mut c = Container::create(&id, &b.spec(), &root.options()).expect("create");
        let pid = c.pid();
        if start {
            c.start().expect("start");
        }
        c.delete(true).expect("delete --force");
        assert!(!root.path().join(&id).exists(), "state dir left");
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "init {pid} survived delete(force) (started: {start})");
    }
}

#[test]
fn dropping_a_handle_does_not_kill_the_container() {
    // Container handles are not owners: the state stays, another handle can manage it.
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("drop");
    let c = Container::create(&id, &b.spec(), &root.options()).expect("create");
    let pid = c.pid();
    drop(c);
    let mut again = Container::load(root.path(), &id).expect("load");
    assert_eq!(again.pid(), pid);
    assert_eq!(again.status().expect("status"), Status::Created);
    again.delete(true).expect("delete");
}

#[test]
fn list_reports_every_container() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    let ids: Vec<String> = (0..3).map(|_| unique_id("many")).collect();
    let mut guards: Vec<Guard> = ids.iter().map(|id| Guard(Container::create(id, &b.spec(), &root.options()).expect("create"))).collect();
    guards[1].start().expect("start");
    let states = rcontainer_core::list(root.path()).expect("list");
    let mut got: Vec<(String, Status)> = states.into_iter().map(|s| (s.id, s.status)).collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want = vec![(ids[0].clone(), Status::Created), (ids[1].clone(), Status::Running), (ids[2].clone(), Status::Created)];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
}

#[test]
fn concurrent_containers_in_one_process() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sh", "-c", "echo $$ $(hostname)"]);
    let spec = b.spec();
    let outs: Vec<Captured> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| run_ok(&unique_id("conc"), &spec, root.path()))).collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for o in outs {
        assert_eq!(o.status.code, Some(0), "{o:?}");
        assert_eq!(o.stdout, "1 runc\n", "each container is its own pid 1 with the spec's hostname: {o:?}");
    }
    assert!(root.container_dirs().is_empty());
}
