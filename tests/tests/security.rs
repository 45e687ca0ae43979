//! Security defaults (Docker's: capabilities, seccomp, no_new_privileges, masked and read-only
//! paths, device cgroup): real escape attempts from inside a default container must fail.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use rcontainer_core::{Container, SpecBuilder, Stdio};
use rcontainer_tests::{output_timeout, pipe, rcontainer_bin, read_on_thread, require_root, unique_id, Cli, Guard, StateRoot, TIMEOUT};

/// Runs `script` with `sh -c` in a default ad-hoc container (Docker's defaults) via the command.
fn adhoc(root: &StateRoot, extra: &[&str], script: &str) -> rcontainer_tests::Out {
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    Cli::new(root.path()).run(&args)
}

/// errno of a raw syscall made by perl inside the container: `name=<errno>` (0 = it worked).
/// `args` is a perl list (copied into an array: syscall() needs modifiable strings).
fn syscall_line(name: &str, number: u32, args: &str) -> String {
    format!("perl -e 'my @a = ({args}); $r = syscall({number}, @a); printf(\"{name}=%d\\n\", $r < 0 ? $!+0 : 0)'; ")
}

#[cfg(target_arch = "x86_64")]
#[test]
fn privileged_syscalls_fail_in_a_default_container() {
    require_root!();
    let root = StateRoot::new();
    let host_pid = std::process::id();
    // x86_64 numbers: mount 165, umount2 166, pivot_root 155, swapon 167, reboot 169,
    // kexec_load 246, init_module 175, ptrace 101, unshare 272.
    let script = [
        syscall_line("mount", 165, "\"none\", \"/tmp\", \"tmpfs\", 0, 0"),
        syscall_line("umount2", 166, "\"/proc\", 2"),
        syscall_line("pivot_root", 155, "\"/tmp\", \"/tmp\""),
        syscall_line("swapon", 167, "\"/dev/null\", 0"),
        syscall_line("reboot", 169, "0xfee1dead, 672274793, 0x4321fedc, 0"),
        syscall_line("kexec_load", 246, "0, 0, 0, 0"),
        syscall_line("init_module", 175, "0, 0, \"\""),
        syscall_line("ptrace_host", 101, &format!("16, {host_pid}, 0, 0")),
        syscall_line("unshare_user", 272, "0x10000000"),
        syscall_line("unshare_mnt", 272, "0x00020000"),
    ]
    .concat();
    let out = adhoc(&root, &[], &script).ok();
    for name in ["mount", "umount2", "pivot_root", "swapon", "reboot", "kexec_load", "init_module", "unshare_user", "unshare_mnt"] {
        assert!(out.stdout.contains(&format!("{name}=1\n")), "{name} should fail with EPERM: {:?}", out.stdout);
    }
    // The host's pid is not even visible (ESRCH), or ptrace is refused (EPERM).
    assert!(out.stdout.contains("ptrace_host=3\n") || out.stdout.contains("ptrace_host=1\n"), "{:?}", out.stdout);
    // The same mount works once the container is given CAP_SYS_ADMIN (so the check can fail).
    let allowed = adhoc(&root, &["--cap-add", "SYS_ADMIN"], &syscall_line("mount", 165, "\"none\", \"/tmp\", \"tmpfs\", 0, 0")).ok();
    assert!(allowed.stdout.contains("mount=0\n"), "{:?}", allowed.stdout);
}

#[test]
fn proc_and_devices_are_guarded() {
    require_root!();
    let root = StateRoot::new();
    let script = "printf 'kcore bytes: '; head -c 100 /proc/kcore | wc -c; \
                  echo h > /proc/sysrq-trigger && echo SYSRQ-WRITTEN; \
                  echo x > /proc/sys/kernel/domainname && echo SYSCTL-WRITTEN; \
                  mknod /dev/rawdisk b 8 0 && echo mknod-ok; head -c 1 /dev/rawdisk >/dev/null && echo BLOCK-READ; \
                  head -c 1 /dev/urandom | wc -c; ls /dev | tr '\\n' ' '";
    let out = adhoc(&root, &[], script).ok();
    assert!(out.stdout.contains("kcore bytes: 0"), "{:?}", out.stdout);
    for leak in ["SYSRQ-WRITTEN", "SYSCTL-WRITTEN", "BLOCK-READ"] {
        assert!(!out.stdout.contains(leak), "{leak}: {:?} {:?}", out.stdout, out.stderr);
    }
    assert!(out.stderr.contains("Read-only file system"), "{:?}", out.stderr);
    assert!(out.stderr.contains("Operation not permitted"), "the device cgroup should refuse the block device: {:?}", out.stderr);
    let devs: Vec<&str> = out.stdout.lines().last().unwrap_or("").split_whitespace().collect();
    let allowed = ["full", "null", "random", "urandom", "zero", "tty", "ptmx", "pts", "shm", "mqueue", "fd", "stdin", "stdout", "stderr", "rawdisk"];
    for d in &devs {
        assert!(allowed.contains(d), "unexpected /dev entry {d}: {devs:?}");
    }
}

#[test]
fn capabilities_and_seccomp_profiles_from_the_spec() {
    require_root!();
    let root = StateRoot::new();
    // Dropping every capability: CapEff 0.
    let out = adhoc(&root, &["--cap-drop", "ALL"], "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status").ok();
    for line in out.stdout.lines() {
        assert!(line.ends_with("0000000000000000"), "{:?}", out.stdout);
    }
    // Docker's default set: exactly those 14 capabilities.
    let out = adhoc(&root, &[], "grep CapEff /proc/self/status").ok();
    let hex = out.stdout.split_whitespace().last().unwrap_or("0");
    assert_eq!(u64::from_str_radix(hex, 16).expect("hex").count_ones(), 14, "{:?}", out.stdout);

    // An ERRNO rule makes mkdir fail with that errno (EDQUOT = 122).
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 122}]}"#,
    )
    .expect("write");
    let opt = format!("seccomp={}", profile.display());
    let out = adhoc(&root, &["--security-opt", &opt], "mkdir /tmp/x");
    assert_eq!(out.code, Some(1), "{:?}", out.stderr);
    assert!(out.stderr.contains("Disk quota exceeded"), "{:?}", out.stderr);

    // KILL_PROCESS kills with SIGSYS (exit status 128 + 31).
    std::fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#).expect("write");
    let out = adhoc(&root, &["--security-opt", &opt], "exec perl -e 'getppid(); print \"alive\\n\"'");
    assert_eq!(out.code, Some(128 + libc::SIGSYS), "{:?} {:?}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("alive"));

    // Unknown names are refused before anything runs.
    std::fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]}"#).expect("write");
    let out = adhoc(&root, &["--security-opt", &opt], "true");
    assert_eq!(out.code, Some(125));
    assert!(out.stderr.contains("no_such_call"), "{:?}", out.stderr);
    let out = adhoc(&root, &["--cap-add", "CAP_FLY"], "true");
    assert_eq!(out.code, Some(125));
    assert!(out.stderr.contains("CAP_FLY"), "{:?}", out.stderr);
    std::fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_DANCE"}"#).expect("write");
    let out = adhoc(&root, &["--security-opt", &opt], "true");
    assert!(out.code == Some(125) && out.stderr.contains("SCMP_ACT_DANCE"), "{:?}", out.stderr);
}

/// A rootfs whose /usr is the host's, read-only but without nosuid, with a setuid-root copy of
/// `cat` at /suidcat.
fn suid_rootfs(dir: &Path) {
    for (link, target) in [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")] {
        if Path::new("/").join(target).exists() {
            std::os::unix::fs::symlink(target, dir.join(link)).expect("symlink");
        }
    }
    for d in ["usr", "proc", "dev", "tmp", "etc"] {
        std::fs::create_dir_all(dir.join(d)).expect("mkdir");
    }
    std::fs::copy("/usr/bin/cat", dir.join("suidcat")).expect("copy cat");
    std::fs::set_permissions(dir.join("suidcat"), std::fs::Permissions::from_mode(0o4755)).expect("chmod");
}

#[test]
fn no_new_privileges_stops_a_setuid_root_binary() {
    require_root!();
    let root = StateRoot::new();
    let rootfs = tempfile::tempdir().expect("tempdir");
    suid_rootfs(rootfs.path());
    let euid = |nnp: bool| -> String {
        let spec = SpecBuilder::new(["/suidcat", "/proc/self/status"])
            .rootfs(rootfs.path())
            .readonly_root(false)
            .bind("/usr", "/usr", true)
            .user(1000, 1000)
            .no_new_privileges(nnp)
            .build();
        let (out_r, out_w) = pipe();
        let mut opts = root.options();
        opts.stdio = Stdio { stdout: Some(out_w.as_raw_fd()), ..opts.stdio };
        let mut c = Guard(Container::create(&unique_id("suid"), &spec, &opts).expect("create"));
        drop(out_w);
        let reader = read_on_thread(out_r);
        c.start().expect("start");
        c.wait(Some(Duration::from_secs(20))).expect("wait");
        let text = reader.join().expect("reader");
        let uid = text.lines().find(|l| l.starts_with("Uid:")).unwrap_or_else(|| panic!("no Uid line: {text:?}"));
        uid.split_whitespace().nth(2).unwrap_or("?").to_string()
    };
    assert_eq!(euid(false), "0", "control: without no_new_privs the setuid bit works here");
    assert_eq!(euid(true), "1000", "with no_new_privs a setuid-root binary must not gain root");
}

#[test]
fn a_container_cannot_reach_the_runtime_of_a_container_being_set_up() {
    require_root!();
    let root = StateRoot::new();
    // A: a default container waiting for a pid on stdin, then probing /proc/<pid>/exe.
    let (in_r, in_w) = pipe();
    let (out_r, out_w) = pipe();
    let mut opts = root.options();
    opts.stdio = Stdio { stdin: Some(in_r.as_raw_fd()), stdout: Some(out_w.as_raw_fd()), stderr: Some(out_w.as_raw_fd()) };
    let probe = "readlink /proc/1/exe >/dev/null && echo self-ok; read n; \
                 readlink /proc/$n/exe && echo EXE-VISIBLE; cat /proc/$n/exe >/dev/null && echo EXE-READ; \
                 cat /proc/$n/environ >/dev/null && echo ENV-READ; echo done; sleep 60";
    let a_spec = SpecBuilder::new(["sh", "-c", probe]).default_root(root.path()).expect("root").docker_defaults().build();
    let mut a = Guard(Container::create(&unique_id("a"), &a_spec, &opts).expect("create A"));
    drop((in_r, out_w));
    a.start().expect("start A");

    // B joins A's pid namespace and stays created (its init is the exec stub by now).
    let b_spec = SpecBuilder::new(["true"])
        .default_root(root.path())
        .expect("root")
        .docker_defaults()
        .namespace(rcontainer_core::oci_spec::runtime::LinuxNamespaceType::Pid, true, Some(format!("/proc/{}/ns/pid", a.pid()).into()))
        .build();
    let b = Guard(Container::create(&unique_id("b"), &b_spec, &root.options()).expect("create B"));
    let status = std::fs::read_to_string(format!("/proc/{}/status", b.pid())).expect("status of B");
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).and_then(|l| l.split_whitespace().last()).expect("NSpid").to_string();
    let mut w = std::fs::File::from(in_w);
    writeln!(w, "{nspid}").expect("send pid");
    drop(w);
    // Read A's report up to "done" (A then sleeps: if it exited, its pid namespace would wait
    // for B, our child, to be reaped).
    let mut out = String::new();
    let mut lines = std::io::BufReader::new(out_r);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !out.contains("done\n") && std::time::Instant::now() < deadline {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut lines, &mut line).unwrap_or(0) == 0 {
            break;
        }
        out.push_str(&line);
    }
    drop(b);
    drop(a);
    assert!(out.contains("self-ok") && out.contains("done"), "{out:?}");
    for leak in ["EXE-VISIBLE", "EXE-READ", "ENV-READ"] {
        assert!(!out.contains(leak), "{leak}: the init of a container being set up is reachable: {out:?}");
    }
}

/// The embedded default root: the host's secrets are hidden (the known ones, and any file of
/// /etc not readable by everyone: here a private file on a tmpfs over /etc/skel), and every mount
/// below the host directories it shows is read-only too (a tmpfs on /usr/local stands in for a
/// host's submount). Both are made in a mount namespace of their own, so the host does not see
/// them.
#[test]
fn the_default_root_hides_host_secrets_and_is_read_only_all_the_way_down() {
    require_root!();
    let root = StateRoot::new();
    let mut secret_files: Vec<&str> = ["/etc/shadow", "/etc/gshadow"].into_iter().filter(|p| Path::new(p).exists()).collect();
    assert!(!secret_files.is_empty(), "this host has no /etc/shadow to protect");
    secret_files.push("/etc/skel/rct-private");
    let script = format!(
        "for f in {}; do printf '%s:%s\\n' \"$f\" \"$(wc -c <$f)\"; done; ls /etc/ssl/private 2>/dev/null | wc -l; echo x >/usr/local/rct-probe && echo WROTE-SUBMOUNT; echo x >/etc/rct-probe && echo WROTE-ETC; exit 0",
        secret_files.join(" ")
    );
    let bin = rcontainer_bin();
    let setup = r#"mount -t tmpfs rct-sub /usr/local && mount -t tmpfs rct-skel /etc/skel && echo private-host-data >/etc/skel/rct-private && chmod 600 /etc/skel/rct-private && exec "$@""#;
    let out = output_timeout(
        {
            let mut c = std::process::Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "sh", "-c", setup, "sh"])
                .arg(&bin)
                .arg("--root")
                .arg(root.path())
                .args(["run", "--", "sh", "-c", &script]);
            c
        },
        TIMEOUT,
    );
    for f in &secret_files {
        assert!(out.stdout.contains(&format!("{f}:0\n")), "{f} is readable in a default container: {out:?}");
    }
    assert!(!out.stdout.contains("WROTE"), "a host directory is writable from a default container: {out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    assert!(!Path::new("/usr/local/rct-probe").exists() && !Path::new("/etc/rct-probe").exists());
}

/// The on-disk seccomp cache is read back only if nobody else could have written it: here the
/// cache directory is made world-writable and its entries replaced with an allow-all program
/// owned by another user. The next container must still be confined by Docker's profile.
#[cfg(target_arch = "x86_64")]
#[test]
fn a_seccomp_cache_another_user_could_write_is_not_trusted() {
    require_root!();
    let root = StateRoot::new();
    // A cache of this test's own (RCONTAINER_CACHE_DIR), not the machine's.
    let cache_root = tempfile::tempdir().expect("tempdir");
    let adhoc = |root: &StateRoot, extra: &[&str], script: &str| {
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "sh", "-c", script]);
        let mut cmd = Cli::new(root.path()).command(&args);
        cmd.env("RCONTAINER_CACHE_DIR", cache_root.path());
        output_timeout(cmd, TIMEOUT)
    };
    let probe = syscall_line("unshare_user", 272, "0x10000000");
    // First run: compiles Docker's profile and caches it.
    let first = adhoc(&root, &[], &probe).ok();
    assert!(first.stdout.contains("unshare_user=1\n"), "{first:?}");
    let cache = cache_root.path().join("seccomp");
    let entries: Vec<_> = std::fs::read_dir(&cache).expect("the cache exists").flatten().map(|e| e.path()).collect();
    assert!(!entries.is_empty(), "nothing cached");
    // Another user's forgery: same profile text, an allow-all program (BPF_RET|BPF_K ALLOW).
    let allow_all = [0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x7f];
    for e in entries.iter().filter(|e| e.extension().is_some_and(|x| x == "bpf")) {
        let bytes = std::fs::read(e).expect("entry");
        // An entry is the profile text it was compiled from (length-prefixed), then the program;
        // a bare program is forged whole.
        let key_len = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize).unwrap_or(0);
        let mut forged = match bytes.get(8..8 + key_len) {
            Some(key) if key.first() == Some(&b'{') => bytes[..8 + key_len].to_vec(),
            _ => Vec::new(),
        };
        forged.extend_from_slice(&allow_all);
        std::fs::write(e, forged).expect("forge");
        std::os::unix::fs::chown(e, Some(65534), Some(65534)).expect("chown");
    }
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let second = adhoc(&root, &[], &probe).ok();
    assert!(second.stdout.contains("unshare_user=1\n"), "the forged allow-all filter was loaded: {second:?}");
    // And a private directory with a foreign-owned entry is refused the same way.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let third = adhoc(&root, &[], &probe).ok();
    assert!(third.stdout.contains("unshare_user=1\n"), "a foreign-owned cache entry was loaded: {third:?}");
}

/// LSM labels are applied where the LSM is enabled and refused where it is not: never ignored.
#[test]
fn lsm_labels_are_refused_where_the_lsm_is_not_enabled() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y");
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    let cases = [
        ("apparmorProfile", apparmor, "AppArmor is not enabled"),
        ("selinuxLabel", selinux, "SELinux is not enabled"),
        ("mountLabel", selinux, "SELinux is not enabled"),
    ];
    for (field, enabled, message) in cases {
        if enabled {
            eprintln!("SKIP: {field}: the LSM is enabled on this host (the refusal cannot be seen here)");
            continue;
        }
        let mut b = rcontainer_tests::Bundle::busybox(&["true"]);
        b.edit(|c| {
            if field == "mountLabel" {
                c["linux"][field] = "system_u:object_r:container_file_t:s0".into();
            } else {
                c["process"][field] = "some-label".into();
            }
        });
        let out = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("lsm")]);
        assert_ne!(out.code, Some(0), "{field} was silently ignored: {out:?}");
        assert!(out.stderr.contains(field) && out.stderr.contains(message), "{field}: {}", out.stderr);
    }
}

/// Starting a container is writing one byte to its exec fifo: only its owner may. Another
/// user (nobody) tries, and the container must stay created.
#[test]
fn another_user_cannot_start_a_created_container() {
    use std::os::unix::process::CommandExt;
    require_root!();
    let root = StateRoot::new();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod root");
    let cli = Cli::new(root.path());
    let b = rcontainer_tests::Bundle::busybox(&["true"]);
    let id = unique_id("fifo");
    cli.run(&["create", "--bundle", &b.path().to_string_lossy(), &id]).ok();
    let _g = rcontainer_tests::CliGuard { cli: &cli, id: id.clone() };
    let fifo = root.path().join(&id).join("exec.fifo");
    let out = std::process::Command::new("sh")
        .args(["-c", "printf x > \"$0\" && echo STARTED", &fifo.to_string_lossy()])
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run as nobody");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("STARTED"), "nobody started the container: {out:?}");
    assert_eq!(cli.state(&id)["status"], "created");
    cli.run(&["start", &id]).ok();
    cli.wait_status(&id, "stopped");
}

/// A config without any device rules (no `linux.resources`) still gets "deny all but the
/// standard devices", as with runc: a container with CAP_MKNOD must not open a host device it
/// makes (here the kernel log: reading it leaks the host's messages, writing forges them).
#[test]
fn a_config_without_device_rules_gets_no_host_device() {
    require_root!();
    let root = StateRoot::new();
    let mut b = rcontainer_tests::Bundle::busybox(&[
        "sh",
        "-c",
        "mknod /dev/k c 1 11 && echo mknod-ok; \
         dd if=/dev/k bs=8192 count=1 2>/dev/null | grep -q . && echo KMSG-READ; \
         echo rcontainer-device-test > /dev/k && echo KMSG-WRITTEN; \
         cat /dev/null && echo null-ok",
    ]);
    b.add_caps(&["CAP_MKNOD"]);
    b.edit(|c| {
        c["process"]["terminal"] = false.into();
        c["linux"].as_object_mut().expect("linux").remove("resources");
    });
    let out = Cli::new(root.path()).run(&["run", "--bundle", &b.path().display().to_string(), &unique_id("nodevrules")]);
    assert!(out.stdout.contains("mknod-ok"), "mknod is allowed (as runc's c *:* m): {out:?}");
    assert!(out.stdout.contains("null-ok"), "the standard devices work: {out:?}");
    for leak in ["KMSG-READ", "KMSG-WRITTEN"] {
        assert!(!out.stdout.contains(leak), "{leak}: the device cgroup let the container open /dev/kmsg: {out:?}");
    }
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
}

/// `--sandbox`, the preset for code nobody vouches for, seen from inside: nobody's uid, no
/// capability in any set, no_new_privileges, seccomp, a read-only root (writable: tmpfs, /tmp
/// bounded to 64 MiB), only lo, and the limits in its cgroup; a flag given next to it wins.
#[test]
fn the_sandbox_preset() {
    require_root!();
    let root = StateRoot::new();
    let script = "id -u; id -g; grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; \
        touch /etc/x 2>/dev/null || echo root-ro; echo w > /tmp/w && echo tmp-ok; df -k /tmp | tail -1 | tr -s ' ' | cut -d' ' -f2; \
        head -c 70000000 /dev/zero > /tmp/big 2>/dev/null || echo tmp-full; ls /sys/class/net; \
        cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us";
    let out = adhoc(&root, &["--sandbox"], script);
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    let want = [
        "65534",
        "65534",
        "CapPrm:\t0000000000000000",
        "CapEff:\t0000000000000000",
        "CapBnd:\t0000000000000000",
        "CapAmb:\t0000000000000000",
        "NoNewPrivs:\t1",
        "Seccomp:\t2",
        "root-ro",
        "tmp-ok",
        "65536",
        "tmp-full",
        "lo",
        "64",
        "268435456",
        "268435456",
        "100000",
    ];
    assert_eq!(lines, want, "{out:?}");
    // Flags given with it win: a uid, a pids limit.
    let out = adhoc(&root, &["--sandbox", "--user", "1000:1000", "--pids", "10"], "id -u; cat /sys/fs/cgroup/pids/pids.max");
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["1000", "10"], "{out:?}");
}

/// `-u NAME[:GROUP]` as docker takes it: looked up in the container's /etc/passwd and
/// /etc/group (its image's, never the host's), and a name it lacks is refused.
#[test]
fn user_names_come_from_the_containers_own_passwd() {
    require_root!();
    let root = StateRoot::new();
    let image = rcontainer_tests::Rootfs::busybox();
    let rootfs = image.path();
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0::/:/bin/sh\napp:x:1234:4321::/:/bin/sh\n").expect("passwd");
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nstaff:x:50:\n").expect("group");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(rootfs, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let rootfs_arg = rootfs.display().to_string();
    let out = adhoc(&root, &["--rootfs", &rootfs_arg, "-u", "app"], "id -u; id -g");
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["1234", "4321"], "{out:?}");
    let out = adhoc(&root, &["--rootfs", &rootfs_arg, "-u", "app:staff"], "id -u; id -g");
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["1234", "50"], "{out:?}");
    // The host has a "nobody"; this image does not.
    let out = adhoc(&root, &["--rootfs", &rootfs_arg, "-u", "nobody"], "id -u");
    assert_eq!(out.code, Some(125), "{out:?}");
    assert!(out.stderr.contains("no user \"nobody\" in the container's /etc/passwd"), "{}", out.stderr);
}
