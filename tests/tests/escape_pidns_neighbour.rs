//! A container created into another container's pid namespace is visible to it. Before its
//! command runs, its init was a clone of the host: through `/proc/<pid>/mem` a neighbour with
//! CAP_SYS_PTRACE could read and write the host application's memory (the init shared it, with
//! CLONE_VM), and through `/proc/<pid>/fd` reach the host's directories. Here the attack, through
//! the library: container A (CAP_SYS_PTRACE, python3 from the host's /usr) finds container B's
//! created init in its pid namespace and tries all of that; then B must still start and run.

use std::time::Duration;

use rcontainer_core::SpecBuilder;
use rcontainer_tests::*;

const ATTACK: &str = r#"
import os, sys, time
addr, secret, marker = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
found, deadline = None, time.time() + 20
while found is None and time.time() < deadline:
    # The only other process in this pid namespace is B's init (its cmdline is not a clue: a
    # CLONE_VM child shows the host's).
    for p in os.listdir('/proc'):
        if p.isdigit() and int(p) != os.getpid():
            found = p
            break
    time.sleep(0.02)
print('found', found, flush=True)
if found is None:
    sys.exit(3)
try:
    with open(f'/proc/{found}/mem', 'rb') as f:
        f.seek(addr)
        print('read-at-host-address', f.read(len(secret)) == secret)
except OSError as e:
    print('read-at-host-address refused', e.errno)
hits = 0
try:
    for line in open(f'/proc/{found}/maps'):
        rng, perms = line.split()[:2]
        if 'r' not in perms:
            continue
        a, b = (int(x, 16) for x in rng.split('-'))
        try:
            with open(f'/proc/{found}/mem', 'rb') as f:
                f.seek(a)
                if secret in f.read(min(b - a, 64 << 20)):
                    hits += 1
        except (OSError, OverflowError, ValueError):
            pass
except OSError as e:
    print('maps refused', e.errno)
print('secret-hits', hits)
try:
    with open(f'/proc/{found}/mem', 'r+b', buffering=0) as f:
        f.seek(addr)
        f.write(b'PWNED')
        print('wrote-host-address')
except OSError as e:
    print('write refused', e.errno)
links = ['root', 'cwd']
try:
    links += ['fd/' + n for n in os.listdir(f'/proc/{found}/fd')]
except OSError as e:
    print('fds refused', e.errno)
for link in links:
    path = f'/proc/{found}/{link}'
    try:
        print('link', link, os.readlink(path))
    except OSError as e:
        print('link', link, 'refused', e.errno)
    for probe in (path + marker, path + '/..' * 12 + marker):
        try:
            if open(probe).read():
                print('HOST-REACHED through', link)
        except OSError:
            pass
print('attack-done', flush=True)
# Stay up (as the pid namespace's init) until B has run and is gone.
while time.time() < deadline + 30:
    try:
        open(f'/proc/{found}/cmdline', 'rb').read()
    except OSError:
        break
    time.sleep(0.05)
"#;

#[test]
fn a_ptrace_capable_neighbour_gets_nothing_of_the_host_from_a_created_container() {
    require_root!();
    let root = StateRoot::new();
    // What the attacker is after: a string in this process's heap, and a file on the host.
    let secret = format!("RCT-HOST-SECRET-{}", unique_id("s"));
    let addr = secret.as_ptr() as usize;
    let mut marker = tempfile::Builder::new().prefix("rct-host-only-").tempfile_in("/tmp").expect("marker");
    std::io::Write::write_all(&mut marker, b"host file").expect("write marker");
    let marker_path = marker.path().to_string_lossy().into_owned();
    let token = unique_id("victim-token");

    let spec_a = SpecBuilder::new(["python3", "-c", ATTACK, &addr.to_string(), &secret, &marker_path])
        .default_root(root.path())
        .expect("default root")
        .docker_defaults()
        .cap_add("SYS_PTRACE")
        .expect("cap")
        .build();
    let mut a = Piped::create(&unique_id("attacker"), &spec_a, root.path()).expect("create A");
    a.container.start().expect("start A");

    // B: a busybox container joining A's pid namespace, created and left waiting.
    let mut b = Bundle::busybox(&["echo", &token]);
    let pid_a = a.container.pid();
    b.edit(|c| {
        for ns in c["linux"]["namespaces"].as_array_mut().expect("namespaces") {
            if ns["type"] == "pid" {
                ns["path"] = format!("/proc/{pid_a}/ns/pid").into();
            }
        }
    });
    let bp = Piped::create(&unique_id("victim"), &b.spec(), root.path()).expect("create B in A's pid namespace");
    let b_out = read_on_thread(bp.stdout.into_inner());
    let mut b_c = bp.container;

    let out = a.read_until("attack-done");
    eprintln!("attacker:\n{out}");
    assert!(!out.contains("found None"), "the attacker never saw B's init: {out}");
    assert!(!out.contains("read-at-host-address True"), "A read the host's memory through B's init: {out}");
    assert!(out.contains("secret-hits 0"), "A found the host's secret in B's memory: {out}");
    assert!(!out.contains("wrote-host-address"), "A wrote into B's init's memory: {out}");
    assert!(!out.contains("HOST-REACHED"), "A reached a host file through B's init: {out}");
    assert!(secret.starts_with("RCT-HOST-SECRET-"), "the host's memory was changed: {secret}");

    // B still works: a container created into a joined pid namespace.
    b_c.start().expect("start B");
    let st = wait_or_kill(&mut b_c, Duration::from_secs(20));
    assert_eq!(st.code, Some(0), "{st:?}");
    assert_eq!(b_out.join().unwrap_or_default().trim(), token);
    // A, the namespace's init, ends once B is gone.
    let a_end = a.finish(Duration::from_secs(60));
    assert_eq!(a_end.status.code, Some(0), "{a_end:?}");
}
