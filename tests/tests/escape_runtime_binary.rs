//! CVE-2019-5736: the container must never execute, nor be able to write, the runtime's binary
//! (the command, or the host program using the library). Until it execs, a container's init is a
//! clone of the host, so `/proc/self/exe` names the host binary; the init therefore never execs
//! the container's command itself but a sealed memfd stub that does. Tried with the command
//! named directly, as a `#!` interpreter and as an ELF interpreter, and with the classic attack:
//! a neighbour in the same pid namespace holds `/proc/<pid>/exe` open and rewrites it once the
//! process is gone. Each against a copy of the command, compared byte for byte afterwards.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rcontainer_tests::*;

/// A copy of the command under test, in a directory of its own: the attack's target.
struct BinCopy {
    _dir: tempfile::TempDir,
    path: PathBuf,
    original: Vec<u8>,
}

impl BinCopy {
    fn new() -> BinCopy {
        let dir = tempfile::Builder::new().prefix("rct-bin-").tempdir().expect("tempdir");
        let path = dir.path().join("rcontainer");
        std::fs::copy(rcontainer_bin(), &path).expect("copy the command");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let original = std::fs::read(&path).expect("read copy");
        BinCopy { _dir: dir, path, original }
    }
    fn cli(&self, root: &Path) -> Cli {
        Cli::with_bin(root, &self.path)
    }
    fn assert_untouched(&self) {
        let now = std::fs::read(&self.path).expect("read copy");
        assert!(now == self.original, "the runtime binary was modified ({} bytes, was {})", now.len(), self.original.len());
    }
}

/// Gives a busybox bundle the host's shared libraries (read-only binds, and the host's
/// /lib -> usr/lib style links), so that a dynamically linked host binary *could* run inside:
/// the attacks below must fail because of the runtime, not for want of a loader.
fn with_host_libs(b: &mut Bundle) {
    let rootfs = b.rootfs();
    let mut binds = Vec::new();
    for name in ["lib", "lib64", "usr/lib", "usr/lib64"] {
        let host = Path::new("/").join(name);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&host).expect("readlink");
                let link = rootfs.join(name);
                let _ = std::fs::remove_dir_all(&link);
                std::os::unix::fs::symlink(target, link).expect("symlink");
            }
            Ok(m) if m.is_dir() => binds.push(serde_json::json!({"destination": host, "type": "bind", "source": host, "options": ["rbind", "ro"]})),
            _ => {}
        }
    }
    b.edit(|c| c["mounts"].as_array_mut().expect("mounts").extend(binds));
}

/// What the command prints for `--version`: seeing it in a container's output means the host
/// binary ran inside the container.
fn ran_the_runtime(out: &str) -> bool {
    out.contains("rcontainer 0.") || out.contains("Usage: rcontainer") || out.contains("rcontainer:")
}

#[test]
fn proc_self_exe_as_the_command_does_not_run_the_runtime() {
    require_root!();
    let root = StateRoot::new();
    let bin = BinCopy::new();
    let cli = bin.cli(root.path());
    // Ad hoc, and from a bundle.
    let out = cli.run(&["run", "--", "/proc/self/exe", "--version"]);
    assert!(!ran_the_runtime(&out.stdout) && !ran_the_runtime(&out.stderr), "{out:?}");
    // The stub, run as its own command or interpreter with none of its arguments, exits 127.
    assert_eq!(out.code, Some(127), "{out:?}");
    let mut b = Bundle::busybox(&["/proc/self/exe", "--version"]);
    with_host_libs(&mut b);
    let out = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("exe")]);
    assert!(!ran_the_runtime(&out.stdout) && !ran_the_runtime(&out.stderr), "{out:?}");
    // The stub, run as its own command or interpreter with none of its arguments, exits 127.
    assert_eq!(out.code, Some(127), "{out:?}");
    bin.assert_untouched();
}

#[test]
fn proc_self_exe_as_a_script_interpreter_does_not_run_the_runtime() {
    require_root!();
    let root = StateRoot::new();
    let bin = BinCopy::new();
    let mut b = Bundle::busybox(&["/evil.sh"]);
    with_host_libs(&mut b);
    std::fs::write(b.rootfs().join("evil.sh"), "#!/proc/self/exe --version\n").expect("script");
    std::fs::set_permissions(b.rootfs().join("evil.sh"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = bin.cli(root.path()).run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("shebang")]);
    assert!(!ran_the_runtime(&out.stdout) && !ran_the_runtime(&out.stderr), "{out:?}");
    // The stub, run as its own command or interpreter with none of its arguments, exits 127.
    assert_eq!(out.code, Some(127), "{out:?}");
    bin.assert_untouched();
}

#[test]
fn proc_self_exe_as_an_elf_interpreter_does_not_run_the_runtime() {
    require_root!();
    let root = StateRoot::new();
    let bin = BinCopy::new();
    let mut b = Bundle::busybox(&["/evil"]);
    with_host_libs(&mut b);
    let src = b.path().join("evil.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").expect("source");
    let built = std::process::Command::new("gcc")
        .arg("-o")
        .arg(b.rootfs().join("evil"))
        .arg(&src)
        .arg("-Wl,--dynamic-linker=/proc/self/exe")
        .output()
        .expect("gcc (apt-get install gcc)");
    assert!(built.status.success(), "gcc: {}", String::from_utf8_lossy(&built.stderr));
    let out = bin.cli(root.path()).run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("interp")]);
    assert!(!ran_the_runtime(&out.stdout) && !ran_the_runtime(&out.stderr), "{out:?}");
    // The stub, run as its own command or interpreter with none of its arguments, exits 127.
    assert_eq!(out.code, Some(127), "{out:?}");
    bin.assert_untouched();
}

/// The library: the host program is the test binary itself; `--list` would print its tests.
#[test]
fn proc_self_exe_through_the_library_does_not_run_the_host_program() {
    require_root!();
    let root = StateRoot::new();
    let mut b = Bundle::busybox(&["/proc/self/exe", "--list"]);
    with_host_libs(&mut b);
    let c = run_captured(&unique_id("libexe"), &b.spec(), root.path()).expect("run");
    let name = "proc_self_exe_through_the_library_does_not_run_the_host_program";
    assert!(!c.stdout.contains(name) && !c.stderr.contains(name), "the container ran the test binary: {c:?}");
    assert_eq!(c.status.code, Some(127), "{c:?}");
}

/// The attack of CVE-2019-5736: an attacker container (1) watches its pid namespace; a victim
/// container (2), created into that namespace, runs `/proc/self/exe` (blocking on its stdin, so
/// that on a vulnerable runtime the runtime's binary stays up in it). The attacker opens
/// `/proc/<pid>/exe` of every process there that is not busybox, waits for the victim to end,
/// then writes through the fds it holds. The command's copy must be unchanged.
#[test]
fn a_neighbour_cannot_rewrite_the_runtime_through_proc_pid_exe() {
    require_root!();
    let root = StateRoot::new();
    let bin = BinCopy::new();
    let cli = bin.cli(root.path());
    let out = tempfile::Builder::new().prefix("rct-out-").tempdir().expect("tempdir");

    // The attacker: logs every process it sees, holds the exe of each non-busybox one.
    let script = r#"
        seen=""; n=10
        end=$(( $(date +%s) + 30 ))
        while [ "$(date +%s)" -lt "$end" ] && [ ! -e /out/go ]; do
            for d in /proc/[0-9]*; do
                p=${d#/proc/}
                [ "$p" = 1 ] || [ "$p" = "$$" ] && continue
                case " $seen " in *" $p "*) continue;; esac
                cmd=$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null) || continue
                [ -n "$cmd" ] || continue
                exe=$(readlink /proc/$p/exe 2>/dev/null)
                echo "saw pid $p cmd $cmd exe ${exe:-(unreadable)}"
                case "$exe" in /bin/busybox) seen="$seen $p"; continue;; esac
                if command eval "exec $n</proc/$p/exe" 2>/dev/null; then
                    echo "grabbed pid $p fd $n"; n=$((n+1)); seen="$seen $p"
                fi
            done
            sleep 0.02
        done
        i=10; while [ "$i" -lt "$n" ]; do
            if echo PWNED 2>/dev/null >/proc/self/fd/$i; then echo "wrote through fd $i"; else echo "write through fd $i refused"; fi
            i=$((i+1))
        done
        echo done
    "#;
    let mut b1 = Bundle::busybox(&["sh", "-c", &format!("({script}) >/out/log 2>&1")]);
    let src = out.path().to_string_lossy().into_owned();
    b1.edit(|c| {
        c["mounts"].as_array_mut().expect("mounts").push(serde_json::json!({"destination": "/out", "type": "bind", "source": src, "options": ["rbind", "rw"]}))
    });
    let id1 = unique_id("attacker");
    cli.run(&["run", "-d", "--bundle", &b1.path().to_string_lossy(), &id1]).ok();
    let _g1 = CliGuard { cli: &cli, id: id1.clone() };
    let pid = cli.state(&id1)["pid"].as_i64().expect("pid");
    let log = out.path().join("log");
    let wait_log = |needle: &str, secs: u64| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !std::fs::read_to_string(&log).unwrap_or_default().contains(needle) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    // The victim, in the attacker's pid namespace, its stdin a pipe we hold.
    let mut b2 = Bundle::busybox(&["/proc/self/exe", "update", "-r", "-", "victim"]);
    with_host_libs(&mut b2);
    b2.edit(|c| {
        for ns in c["linux"]["namespaces"].as_array_mut().expect("namespaces") {
            if ns["type"] == "pid" {
                ns["path"] = format!("/proc/{pid}/ns/pid").into();
            }
        }
    });
    let id2 = unique_id("victim");
    let (stdin_r, mut stdin_w) = std::io::pipe().expect("pipe");
    let mut create = cli.command(&["create", "--bundle", &b2.path().to_string_lossy(), &id2]);
    create.stdin(Stdio::from(stdin_r)).stdout(Stdio::null()).stderr(Stdio::null());
    assert!(create.status().expect("create").success(), "create the victim");
    let _g2 = CliGuard { cli: &cli, id: id2.clone() };
    wait_log("victim", 10);
    cli.run(&["start", &id2]).ok();
    // Give the attacker time to grab what runs now, then let the victim's command end.
    wait_log("grabbed", 2);
    std::thread::sleep(Duration::from_millis(300));
    stdin_w.write_all(b"{}").ok();
    drop(stdin_w);
    cli.wait_status(&id2, "stopped");
    std::fs::write(out.path().join("go"), "").expect("go");
    wait_log("done", 20);
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    eprintln!("attacker's log:\n{log}");
    assert!(log.contains("done"), "the attacker did not finish: {log}");
    assert!(log.contains("victim"), "the attacker never saw the victim's process (the attack did not run): {log}");
    assert!(!log.contains("exe /tmp/rct-bin-"), "the victim ran the runtime's binary: {log}");
    bin.assert_untouched();
}
