//! Isolation seen from inside and outside: pid, uts, net, mount, ipc and user namespaces.

use std::time::Duration;

use rcontainer_core::{Container, SpecBuilder};
use rcontainer_tests::*;

/// Parses busybox `ps` output into (pid, command) rows.
fn ps_rows(out: &str) -> Vec<(u32, String)> {
    out.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.first()?.parse().ok()?, f.last()?.to_string()))
        })
        .collect()
}

#[test]
fn ps_sees_only_the_container_with_the_command_as_pid_1() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["ps"]);
    let out = run_ok(&unique_id("ps"), &b.spec(), root.path());
    assert_eq!(out.status.code, Some(0), "{out:?}");
    assert_eq!(ps_rows(&out.stdout), vec![(1, "ps".to_string())], "ps output: {}", out.stdout);
}

#[test]
fn ps_under_a_shell_lists_the_shell_as_pid_1_and_nothing_of_the_host() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sh", "-c", "sleep 5 & ps -o pid,comm; kill %1"]);
    let out = run_ok(&unique_id("ps-sh"), &b.spec(), root.path());
    let rows = ps_rows(&out.stdout);
    assert_eq!(rows.first(), Some(&(1, "sh".to_string())), "ps output: {}", out.stdout);
    let cmds: Vec<&str> = rows.iter().map(|(_, c)| c.as_str()).collect();
    // The background job may still be a forked sh (or mid-exec) when ps runs: only count it.
    assert_eq!(rows.len(), 3, "expected sh, the background sleep and ps only: {}", out.stdout);
    assert!(cmds.contains(&"ps"), "{}", out.stdout);
    assert!(rows.iter().all(|(pid, _)| *pid < 100), "host pids visible: {}", out.stdout);
}

#[test]
fn created_container_has_its_own_namespaces_seen_from_outside() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["true"]);
    let mut c = Guard(Container::create(&unique_id("ns"), &b.spec(), &root.options()).expect("create"));
    let pid = c.pid().to_string();
    for kind in ["mnt", "uts", "ipc", "net", "pid", "cgroup"] {
        // For pid, the init's own namespace is the one its children get: pid_for_children of ours.
        let ours = ns_link("self", kind);
        let theirs = ns_link(&pid, kind);
        assert_ne!(ours, theirs, "{kind} namespace is shared with the host");
    }
    assert_eq!(ns_link("self", "user"), ns_link(&pid, "user"), "no user namespace was asked for");
    // NSpid: the host pid, then 1 inside the new pid namespace.
    let nspid = proc_status_field(c.pid(), "NSpid").expect("NSpid");
    assert_eq!(nspid, format!("{} 1", c.pid()), "NSpid of the container's init");
    c.start().expect("start");
    assert_eq!(wait_or_kill(&mut c, TIMEOUT).code, Some(0));
}

#[test]
fn hostname_set_inside_is_not_the_hosts() {
    require_root!();
    let root = StateRoot::new();
    let host_before = nix::unistd::gethostname().expect("gethostname");
    let mut b = Bundle::busybox(&["sh", "-c", "hostname; hostname rct-changed-inside && hostname"]);
    b.hostname("rct-from-spec").add_caps(&["CAP_SYS_ADMIN"]);
    let out = run_ok(&unique_id("uts"), &b.spec(), root.path());
    assert_eq!(out.status.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "rct-from-spec\nrct-changed-inside\n", "{out:?}");
    let host_after = nix::unistd::gethostname().expect("gethostname");
    assert_eq!(host_before, host_after, "the host's hostname changed");
    assert_ne!(host_after.to_string_lossy(), "rct-changed-inside");
}

#[test]
fn cli_hostname_flag_sets_the_hostname_inside() {
    require_root!();
    let root = StateRoot::new();
    let host_before = nix::unistd::gethostname().expect("gethostname");
    let out = Cli::new(root.path()).run(&["run", "--hostname", "rct-demo", "--", "hostname"]).ok();
    assert_eq!(out.stdout, "rct-demo\n");
    assert_eq!(nix::unistd::gethostname().expect("gethostname"), host_before);
}

#[test]
fn new_net_namespace_holds_only_lo_and_it_is_up() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sh", "-c", "ls /sys/class/net; echo ---; ip link"]);
    let out = run_ok(&unique_id("net"), &b.spec(), root.path());
    assert_eq!(out.status.code, Some(0), "{out:?}");
    let (ls, ip) = out.stdout.split_once("---\n").expect("marker");
    assert_eq!(ls.split_whitespace().collect::<Vec<_>>(), vec!["lo"], "interfaces: {ls}");
    let links: Vec<&str> = ip.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(links.len(), 1, "ip link: {ip}");
    assert!(links[0].contains(" lo:") && links[0].contains("UP"), "lo is not up: {ip}");
}

#[test]
fn cli_default_net_is_none_with_only_lo() {
    require_root!();
    let root = StateRoot::new();
    let out = Cli::new(root.path()).run(&["run", "--", "ls", "/sys/class/net"]).ok();
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), vec!["lo"], "{out:?}");
}

#[test]
fn a_mount_made_inside_is_invisible_outside() {
    require_root!();
    let root = StateRoot::new();
    let marker = unique_id("tmpfs-src");
    let script = format!("mount -t tmpfs -o size=1m {marker} /mnt && touch /mnt/made-inside && grep {marker} /proc/self/mountinfo && echo ready && sleep 30");
    let mut b = Bundle::busybox(&["sh", "-c", &script]);
    b.add_caps(&["CAP_SYS_ADMIN"]);
    let mut p = Piped::create(&unique_id("mnt"), &b.spec(), root.path()).expect("create");
    p.container.start().expect("start");
    let seen = p.read_until("ready");
    assert!(seen.contains(&marker), "the mount is not visible inside: {seen}");
    let pid = p.container.pid().to_string();
    assert!(mountinfo(&pid).contains(&marker), "the container's mountinfo lacks the tmpfs");
    assert!(!mountinfo("self").contains(&marker), "the container's tmpfs is visible on the host");
    assert!(!mountinfo("1").contains(&marker), "the container's tmpfs is visible to the host's init");
    assert!(!b.rootfs().join("mnt/made-inside").exists(), "file written to the tmpfs landed in the rootfs");
    p.container.kill(libc::SIGKILL).expect("kill");
    let out = p.finish(TIMEOUT);
    assert_eq!(out.status.signal, Some(libc::SIGKILL));
    assert!(!mountinfo("self").contains(&marker));
}

#[test]
fn the_rootfs_and_spec_mounts_are_invisible_outside() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["sleep", "30"]);
    let mut c = Guard(Container::create(&unique_id("mnt2"), &b.spec(), &root.options()).expect("create"));
    let rootfs = b.rootfs().display().to_string();
    assert!(!mountinfo("self").contains(&rootfs), "rootfs mount visible on the host:\n{}", mountinfo("self"));
    let inside = mountinfo(&c.pid().to_string());
    assert!(inside.lines().any(|l| l.split(' ').nth(4) == Some("/proc")), "no /proc inside:\n{inside}");
    c.kill(libc::SIGKILL).expect("kill");
    wait_or_kill(&mut c, TIMEOUT);
}

/// Keys (as the kernel prints them in /proc/sysvipc/*: signed decimal) of every SysV IPC object.
fn host_ipc_keys() -> Vec<i64> {
    let mut keys = Vec::new();
    for f in ["shm", "msg", "sem"] {
        let text = std::fs::read_to_string(format!("/proc/sysvipc/{f}")).unwrap_or_default();
        keys.extend(text.lines().skip(1).filter_map(|l| l.split_whitespace().next()?.parse::<i64>().ok()));
    }
    keys
}

#[test]
fn sysv_ipc_objects_made_inside_are_invisible_outside() {
    require_root!();
    let root = StateRoot::new();
    // util-linux ipcmk/ipcs from the embedded default root (busybox has none).
    let script = "ipcmk -M 123457 >/dev/null && ipcmk -Q >/dev/null && ipcmk -S 3 >/dev/null && ipcs && echo ready && sleep 30";
    let spec = SpecBuilder::new(["sh", "-c", script]).default_root(root.path()).expect("default root").build();
    let mut p = Piped::create(&unique_id("ipc"), &spec, root.path()).expect("create");
    p.container.start().expect("start");
    let seen = p.read_until("ready");
    let inside_keys: Vec<i64> = seen
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.strip_prefix("0x").and_then(|h| u32::from_str_radix(h, 16).ok()))
        .map(|k| k as i32 as i64)
        .collect();
    assert_eq!(inside_keys.len(), 3, "expected 3 objects (shm, queue, semaphores) inside: {seen}");
    assert!(seen.contains("123457"), "shm segment not listed inside: {seen}");
    let host = host_ipc_keys();
    for k in &inside_keys {
        assert!(*k == 0 || !host.contains(k), "IPC key {k:#x} made inside is visible on the host");
    }
    let host_shm = std::fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
    assert!(!host_shm.lines().any(|l| l.split_whitespace().nth(3) == Some("123457")), "the 123457-byte segment is on the host:\n{host_shm}");
    // And the host's ipcs agrees.
    if let Ok(o) = std::process::Command::new("ipcs").output() {
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(!text.contains("123457"), "host ipcs shows the container's segment:\n{text}");
    }
    p.container.kill(libc::SIGKILL).expect("kill");
    p.finish(TIMEOUT);
}

#[test]
fn user_namespace_root_inside_is_the_mapped_uid_outside() {
    require_root!();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["sh", "-c", "id -u; id -g; cat /proc/self/uid_map; touch /tmp/made-by-container"]);
    b.readonly_root(false).user_namespace((0, 100000, 65536), (0, 100000, 65536));
    let mut p = Piped::create(&unique_id("userns"), &b.spec(), root.path()).expect("create");
    // From outside, before exec: the init already runs as the mapped uid.
    let uid = proc_status_field(p.container.pid(), "Uid").expect("Uid");
    assert!(uid.split(' ').all(|u| u == "100000"), "host view of the init's uids: {uid}");
    assert_ne!(ns_link("self", "user"), ns_link(&p.container.pid().to_string(), "user"));
    p.container.start().expect("start");
    let out = p.finish(TIMEOUT);
    assert_eq!(out.status.code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..2], &["0", "0"], "uid/gid inside: {out:?}");
    assert_eq!(lines[2].split_whitespace().collect::<Vec<_>>(), vec!["0", "100000", "65536"], "{out:?}");
    let meta = std::fs::metadata(b.rootfs().join("tmp/made-by-container")).expect("file made inside");
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), (100000, 100000), "owner of the file outside");
}

#[test]
fn cli_uid_map_makes_root_inside_the_mapped_uid_outside() {
    require_root!();
    let root = StateRoot::new();
    let rootfs = Rootfs::busybox();
    let out = Cli::new(root.path())
        .run(&["run", "--rootfs", &rootfs.path().display().to_string(), "--uid-map", "0:100000:65536", "--", "sh", "-c", "id -u; touch /tmp/cli-made"])
        .ok();
    assert_eq!(out.stdout, "0\n", "{out:?}");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(rootfs.path().join("tmp/cli-made")).expect("file made inside");
    assert_eq!((meta.uid(), meta.gid()), (100000, 100000));
}

#[test]
fn the_init_is_gone_after_wait_and_delete() {
    require_root!();
    let root = StateRoot::new();
    let b = Bundle::busybox(&["true"]);
    let mut c = Guard(Container::create(&unique_id("gone"), &b.spec(), &root.options()).expect("create"));
    let pid = c.pid();
    c.start().expect("start");
    wait_or_kill(&mut c, Duration::from_secs(30));
    c.delete(false).expect("delete");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "init {pid} still exists after wait+delete");
}

#[test]
fn joining_another_containers_net_namespace_by_path() {
    require_root!();
    let root = StateRoot::new();
    let a = Bundle::busybox(&["sleep", "30"]);
    let mut first = Guard(Container::create(&unique_id("join-a"), &a.spec(), &root.options()).expect("create a"));
    let net = format!("/proc/{}/ns/net", first.pid());
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().expect("ns");
        ns.retain(|n| n["type"] != "network");
        ns.push(serde_json::json!({"type": "network", "path": net}));
    });
    let mut second = Guard(Container::create(&unique_id("join-b"), &b.spec(), &root.options()).expect("create b"));
    assert_eq!(ns_link(&second.pid().to_string(), "net"), ns_link(&first.pid().to_string(), "net"), "did not join the net namespace");
    assert_ne!(ns_link(&second.pid().to_string(), "uts"), ns_link(&first.pid().to_string(), "uts"), "joined more than asked");
    second.start().expect("start b");
    assert_eq!(wait_or_kill(&mut second, TIMEOUT).code, Some(0));
    first.kill(libc::SIGKILL).expect("kill a");
    wait_or_kill(&mut first, TIMEOUT);
}

/// A tmpfs whose options name no mode takes the mode of the directory it covers (runc's rule,
/// which Docker's `--tmpfs /tmp` relies on): over an image's 0755 directory an unprivileged
/// user cannot write; over 1777 it can; a new directory gets tmpfs's default, 1777.
#[test]
fn a_tmpfs_without_a_mode_keeps_the_mode_of_the_directory_it_covers() {
    require_root!();
    use std::os::unix::fs::PermissionsExt;
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&[
        "sh",
        "-c",
        "stat -c '%n %a' /locked /open /new; touch /locked/f 2>/dev/null && echo LOCKED-WRITABLE; touch /open/f && echo open-ok",
    ]);
    for (dir, mode) in [("locked", 0o755), ("open", 0o1777)] {
        let d = b.rootfs().join(dir);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    b.edit(|c| {
        c["process"]["terminal"] = false.into();
        c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
        let mounts = c["mounts"].as_array_mut().expect("mounts");
        for dest in ["/locked", "/open", "/new"] {
            mounts.push(serde_json::json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]}));
        }
    });
    let out = run_ok(&unique_id("tmpfsmode"), &b.spec(), root.path());
    assert!(out.stdout.contains("/locked 755\n"), "{out:?}");
    assert!(out.stdout.contains("/open 1777\n"), "{out:?}");
    assert!(out.stdout.contains("/new 1777\n"), "{out:?}");
    assert!(!out.stdout.contains("LOCKED-WRITABLE"), "{out:?}");
    assert!(out.stdout.contains("open-ok"), "{out:?}");
}
