//! The C side of the C ABI: the examples in examples/c/ and the programs in tests/c/ (misuse.c,
//! exec.c, terminal.c, pipes.c, image.c) are compiled with gcc against the shared and the static library and run
//! (real containers: needs root), once under valgrind (no definite leak, no invalid access), and
//! the install script is checked with pkg-config.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{compile, image_layout, repo_dir, require_root, rootfs, run_program, Link, StateRoot, TempStore};

fn example(name: &str) -> PathBuf {
    repo_dir().join("examples/c").join(format!("{name}.c"))
}

fn misuse_src() -> PathBuf {
    c_test("misuse")
}

/// A C program of tests/c/ (also readable as an example of the API it exercises).
fn c_test(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c").join(format!("{name}.c"))
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn build(src: &Path, link: Link) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = dir.path().join(src.file_stem().expect("stem"));
    compile(src, &exe, link);
    (dir, exe)
}

fn check_ps_pid1(stdout: &str) {
    assert!(stdout.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "ps"]), "no '1 ps' line:\n{stdout}");
    assert!(stdout.contains("ps ran as PID 1"), "{stdout}");
}

fn check_poll_pidfds(stdout: &str) {
    let ends: Vec<&str> = stdout.lines().filter(|l| l.contains(": exited") || l.contains(": killed")).collect();
    assert_eq!(ends.len(), 4, "{stdout}");
    for (i, want) in ["exited with code 10", "exited with code 11", "exited with code 12", "killed by signal 9"].iter().enumerate() {
        assert!(ends[i].ends_with(want) && ends[i].contains(&format!("-{i}:")), "line {i} is {:?}, want ...-{i}: {want}\n{stdout}", ends[i]);
    }
}

fn check_oom_limit(stdout: &str) {
    assert!(stdout.contains("memory limit 32 MiB, pids limit 32"), "{stdout}");
    assert!(stdout.contains("oom_killed 1"), "{stdout}");
    assert!(stdout.contains("the OOM killer ended the container, as expected"), "{stdout}");
}

fn run_example(name: &str, link: Link, check: fn(&str)) {
    let state = StateRoot::new();
    let (_dir, exe) = build(&example(name), link);
    let out = run_program(&exe, &[rootfs().as_os_str(), state.path().as_os_str()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{name} ({link:?}) failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    check(&stdout);
    assert!(state.ids().is_empty(), "{name} left containers behind: {:?}", state.ids());
}

fn check_sandbox(stdout: &str) {
    assert!(stdout.contains("exit 0 signal 0, 9 bytes kept: \"65534\\nlo\\n\""), "{stdout}");
    assert!(stdout.contains("echo two                   exit 0 signal 0, 4 bytes kept: \"two\\n\""), "{stdout}");
    assert!(stdout.contains("yes                        exit -1 signal 9 (killed at 2 s), 1048576 bytes kept (the rest dropped)"), "{stdout}");
}

#[test]
fn example_sandbox_shared() {
    if require_root("example_sandbox_shared") {
        run_example("sandbox", Link::Shared, check_sandbox);
    }
}

#[test]
fn example_sandbox_static() {
    if require_root("example_sandbox_static") {
        run_example("sandbox", Link::Static, check_sandbox);
    }
}

#[test]
fn example_ps_pid1_shared() {
    if require_root("example_ps_pid1_shared") {
        run_example("ps_pid1", Link::Shared, check_ps_pid1);
    }
}

#[test]
fn example_ps_pid1_static() {
    if require_root("example_ps_pid1_static") {
        run_example("ps_pid1", Link::Static, check_ps_pid1);
    }
}

#[test]
fn example_poll_pidfds_shared() {
    if require_root("example_poll_pidfds_shared") {
        run_example("poll_pidfds", Link::Shared, check_poll_pidfds);
    }
}

#[test]
fn example_poll_pidfds_static() {
    if require_root("example_poll_pidfds_static") {
        run_example("poll_pidfds", Link::Static, check_poll_pidfds);
    }
}

#[test]
fn example_oom_limit_shared() {
    if require_root("example_oom_limit_shared") {
        run_example("oom_limit", Link::Shared, check_oom_limit);
    }
}

#[test]
fn example_oom_limit_static() {
    if require_root("example_oom_limit_static") {
        run_example("oom_limit", Link::Static, check_oom_limit);
    }
}

fn check_exec(stdout: &str) {
    assert!(stdout.contains("exec said: out:from-the-container:bar:/tmp:0:"), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

fn check_pipes(stdout: &str) {
    assert!(stdout.contains("run_pipes: id rc-") && stdout.contains("status 7, 200022 bytes out, stderr err"), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

fn check_terminal(stdout: &str) {
    assert!(stdout.contains("/dev/pts/0") && stdout.contains("got:hello") && stdout.contains("got:typed"), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

/// Runs a C test program of tests/c/ with the rootfs and a state root of its own; it must succeed
/// and leave no container behind.
fn run_c_test(name: &str, link: Link, check: fn(&str)) {
    let state = StateRoot::new();
    let (_dir, exe) = build(&c_test(name), link);
    let out = run_program(&exe, &[rootfs().as_os_str(), state.path().as_os_str()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{name} ({link:?}) failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    check(&stdout);
    assert!(state.ids().is_empty(), "{name} left containers behind: {:?}", state.ids());
}

#[test]
fn run_pipes_from_c_shared() {
    if require_root("run_pipes_from_c_shared") {
        run_c_test("pipes", Link::Shared, check_pipes);
    }
}

#[test]
fn run_pipes_from_c_static() {
    if require_root("run_pipes_from_c_static") {
        run_c_test("pipes", Link::Static, check_pipes);
    }
}

#[test]
fn exec_from_c_shared() {
    if require_root("exec_from_c_shared") {
        run_c_test("exec", Link::Shared, check_exec);
    }
}

#[test]
fn exec_from_c_static() {
    if require_root("exec_from_c_static") {
        run_c_test("exec", Link::Static, check_exec);
    }
}

#[test]
fn terminal_from_c_shared() {
    if require_root("terminal_from_c_shared") {
        run_c_test("terminal", Link::Shared, check_terminal);
    }
}

#[test]
fn terminal_from_c_static() {
    if require_root("terminal_from_c_static") {
        run_c_test("terminal", Link::Static, check_terminal);
    }
}

fn check_image_common(stdout: &str) {
    assert!(stdout.contains("1: exit 7: pid 1\nuser 0:0\ncwd /\n"), "{stdout}");
    assert!(stdout.contains("2: exit 0: from entrypoint\n"), "{stdout}");
    assert!(stdout.contains("4: read-only\n"), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

fn check_image(stdout: &str) {
    check_image_common(stdout);
    assert!(stdout.contains("3: exit 0: from-extra\nhello from layer 2\n") && stdout.contains("3: exit 0: 1000:1000 /extra bar\n"), "{stdout}");
}

/// Under valgrind (no openat2(2)) an image's User name cannot be looked up: image.c says so.
fn check_image_under_valgrind(stdout: &str) {
    check_image_common(stdout);
    assert!(stdout.contains("3: valgrind has no openat2"), "{stdout}");
}

/// tests/c/image.c with the busybox layout, a state root and an image store of its own: it must
/// succeed and leave no container, no container root and no image behind.
fn run_image(link: Link) {
    let store = TempStore::new();
    let state = StateRoot::new();
    let (_dir, exe) = build(&c_test("image"), link);
    let out = run_program(&exe, &[image_layout().as_os_str(), state.path().as_os_str(), store.path().as_os_str()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "image ({link:?}) failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    check_image(&stdout);
    assert!(state.ids().is_empty(), "image left containers behind: {:?}", state.ids());
    let roots: Vec<_> = std::fs::read_dir(store.path().join("containers")).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(roots.is_empty(), "image left container roots in the store: {roots:?}");
}

fn check_image_run(stdout: &str) {
    assert_eq!(stdout, "from-extra\nhello from layer 2\n");
}

/// examples/c/image_run.c: imports the layout, runs an image's own command (nothing pulled: the
/// store has it), then another image with a command of ours and its exit status.
fn run_image_example(link: Link) {
    let store = TempStore::new();
    let state = StateRoot::new();
    let (_dir, exe) = build(&example("image_run"), link);
    let (s, r) = (store.path().as_os_str(), state.path().as_os_str());
    let out = run_program(&exe, &["-s".as_ref(), s, "-r".as_ref(), r, "-i".as_ref(), image_layout().as_os_str(), "capi-busybox:busybox-extra".as_ref()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "image_run ({link:?}) failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    check_image_run(&stdout);
    assert!(stderr.contains("imported docker.io/library/capi-busybox:latest (sha256:"), "{stderr}");
    let out =
        run_program(&exe, &["-s", &store.path().to_string_lossy(), "-r", &state.path().to_string_lossy(), "capi-busybox", "sh", "-c", "echo pid $$; exit 3"]);
    let (stdout, stderr) = text(&out);
    assert_eq!((out.status.code(), stdout.as_str()), (Some(3), "pid 1\n"), "stderr:\n{stderr}");
    assert!(state.ids().is_empty(), "image_run left containers behind: {:?}", state.ids());
    let roots: Vec<_> = std::fs::read_dir(store.path().join("containers")).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(roots.is_empty(), "image_run left container roots in the store: {roots:?}");
}

#[test]
fn example_image_run_shared() {
    if require_root("example_image_run_shared") {
        run_image_example(Link::Shared);
    }
}

#[test]
fn example_image_run_static() {
    if require_root("example_image_run_static") {
        run_image_example(Link::Static);
    }
}

#[test]
fn images_from_c_shared() {
    if require_root("images_from_c_shared") {
        run_image(Link::Shared);
    }
}

#[test]
fn images_from_c_static() {
    if require_root("images_from_c_static") {
        run_image(Link::Static);
    }
}

fn run_misuse(link: Link) {
    let state = StateRoot::new();
    let (_dir, exe) = build(&misuse_src(), link);
    let out = run_program(&exe, &[rootfs().as_os_str(), state.path().as_os_str()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success() && stdout.contains(" 0 failed"), "misuse ({link:?}): {:?}\n{stdout}\n{stderr}", out.status);
    assert!(!stdout.contains("under valgrind"), "{stdout}");
    assert!(state.ids().is_empty(), "misuse left containers behind: {:?}", state.ids());
}

#[test]
fn bad_input_from_c_shared() {
    if require_root("bad_input_from_c_shared") {
        run_misuse(Link::Shared);
    }
}

#[test]
fn bad_input_from_c_static() {
    if require_root("bad_input_from_c_static") {
        run_misuse(Link::Static);
    }
}

/// Valgrind keeps emulating a forked child until it execs, so each container's init (between clone
/// and exec) runs under valgrind too, with its own log (`%p` is 1 there: pid 1 of its pid
/// namespace), and so does each exec'd process (a small pid of the namespace it joined). Two
/// things about that:
/// - The spec's RLIMIT_NOFILE (runc's default: 1024) is applied to the init by the parent with
///   prlimit(2), which valgrind cannot see. Valgrind keeps its own fds just below the hard limit it
///   started with; above 1024 they become unusable in the init, and valgrind aborts there
///   ("Assertion 'newfd >= VG_(fd_hard_limit)' failed"). So valgrind starts with RLIMIT_NOFILE
///   1024 (soft and hard), which keeps its fds inside the init's limit, and the containers run.
/// - Valgrind 3.19 lacks pidfd_open(2) (and pidfd_send_signal(2), which kill falls back from), so
///   misuse.c, told by RCONTAINER_UNDER_VALGRIND=1, accepts a loaded handle without a pidfd.
///
/// Checked: the program succeeds with its usual output; the library's process (every log but the
/// inits') has 0 errors and no definite leak; the inits' logs have no invalid access either (their
/// only reports are valgrind's mount(2) check, which wants a type string even where the kernel
/// ignores it: bind mounts, remounts, propagation changes).
const NOFILE_UNDER_VALGRIND: u32 = 1024;

/// The error kinds memcheck reports as the headline of an error (besides syscall-param checks).
const MEMCHECK_ERRORS: [&str; 9] = [
    "Invalid read",
    "Invalid write",
    "Invalid free",
    "Mismatched free",
    "uninitialised value",
    "uninitialised byte",
    "Uninitialised value",
    "Source and destination overlap",
    "Argument 'size' of function",
];

fn valgrind(name: &str, src: &Path, check: fn(&str)) {
    let state = StateRoot::new();
    valgrind_with(name, src, &[rootfs().as_os_str(), state.path().as_os_str()], &state, check);
}

/// Runs `src`, built against the shared library, under valgrind with `args`; `state` is the state
/// root among them (it must be left empty).
fn valgrind_with(name: &str, src: &Path, args: &[&std::ffi::OsStr], state: &StateRoot, check: fn(&str)) {
    let have = Command::new("valgrind").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(have, "valgrind is not installed (apt-get install valgrind): the C examples must run under it");
    let (dir, exe) = build(src, Link::Shared);
    let logs = dir.path().join("vglogs");
    std::fs::create_dir_all(&logs).expect("mkdir vglogs");
    let out = Command::new("timeout")
        .args(["--kill-after=5", "300", "sh", "-c", r#"ulimit -n "$0" && exec "$@""#])
        .arg(NOFILE_UNDER_VALGRIND.to_string())
        .args(["valgrind", "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite"])
        .arg(format!("--log-file={}/valgrind.%p.log", logs.display()))
        .arg(&exe)
        .args(args)
        .env("RCONTAINER_UNDER_VALGRIND", "1")
        .output()
        .expect("run valgrind");
    // One log per process: the program's own, and those of the containers' inits (pid 1 of their
    // namespace) and exec'd processes (which join one): born in a pid namespace whose parent is
    // outside it, they have "Parent PID: 0".
    let mut own_logs = Vec::new();
    let mut init_logs = String::new();
    for e in std::fs::read_dir(&logs).expect("read vglogs").filter_map(|e| e.ok()) {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        if e.file_name() == "valgrind.1.log" || text.lines().any(|l| l.ends_with("Parent PID: 0")) {
            init_logs.push_str(&text);
        } else {
            own_logs.push(text);
        }
    }
    let (stdout, stderr) = text(&out);
    let report = own_logs.join("\n");
    assert_eq!(own_logs.len(), 1, "{name}: expected one valgrind log for the program's own process:\n{report}");
    assert!(report.contains("ERROR SUMMARY: 0 errors"), "{name}: valgrind found errors:\n{report}");
    assert!(report.contains("definitely lost: 0 bytes") || report.contains("no leaks are possible"), "{name}: definite leak:\n{report}");
    assert_ne!(out.status.code(), Some(99), "{name}: valgrind reported errors:\n{report}");
    assert!(
        !init_logs.contains("VG_(fd_hard_limit)") && !init_logs.contains("the 'impossible' happened"),
        "{name}: valgrind aborted inside a container's init (RLIMIT_NOFILE {NOFILE_UNDER_VALGRIND} did not keep its fds usable):\n{init_logs}"
    );
    for e in MEMCHECK_ERRORS {
        assert!(!init_logs.contains(e), "{name}: valgrind found \"{e}\" in a container's init:\n{init_logs}");
    }
    for line in init_logs.lines().filter(|l| l.contains("Syscall param")) {
        assert!(line.ends_with("Syscall param mount(type) points to unaddressable byte(s)"), "{name}: valgrind in a container's init: {line}\n{init_logs}");
    }
    assert!(out.status.success(), "{name} failed under valgrind: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}\n{report}\ninit:\n{init_logs}", out.status);
    check(&stdout);
    assert!(state.ids().is_empty(), "{name} left containers behind: {:?}", state.ids());
}

#[test]
fn examples_under_valgrind() {
    if !require_root("examples_under_valgrind") {
        return;
    }
    valgrind("sandbox", &example("sandbox"), check_sandbox);
    valgrind("ps_pid1", &example("ps_pid1"), check_ps_pid1);
    valgrind("oom_limit", &example("oom_limit"), check_oom_limit);
    valgrind("poll_pidfds", &example("poll_pidfds"), check_poll_pidfds);
    valgrind("misuse", &misuse_src(), |stdout| assert!(stdout.contains(" 0 failed"), "{stdout}"));
    valgrind("exec", &c_test("exec"), check_exec);
    valgrind("terminal", &c_test("terminal"), check_terminal);
    valgrind("pipes", &c_test("pipes"), check_pipes);
    let store = TempStore::new();
    let state = StateRoot::new();
    valgrind_with(
        "image",
        &c_test("image"),
        &[image_layout().as_os_str(), state.path().as_os_str(), store.path().as_os_str()],
        &state,
        check_image_under_valgrind,
    );
    let store = TempStore::new();
    let state = StateRoot::new();
    let (s, r) = (store.path().as_os_str(), state.path().as_os_str());
    // An image without a User name (valgrind has no openat2(2) to read the image's /etc/passwd).
    let args = ["-s".as_ref(), s, "-r".as_ref(), r, "-i".as_ref(), image_layout().as_os_str(), "capi-busybox:multi".as_ref()];
    valgrind_with("image_run", &example("image_run"), &args, &state, |stdout| assert!(stdout.starts_with("linux/"), "{stdout}"));
}

/// The static archive's link flags (capi/native-static-libs.txt) name every system library that
/// the dependencies link, so `gcc app.c libcontainer_core.a $(cat native-static-libs.txt)` and the
/// pkg-config file's Libs.private stay right as core gains dependencies.
#[test]
fn static_link_flags_are_complete() {
    let flags = common::static_deps();
    for (i, std_lib) in ["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"].iter().enumerate() {
        assert!(flags.iter().any(|f| f == std_lib), "capi/native-static-libs.txt lacks {std_lib} (rustc --print native-static-libs, item {i})");
    }
    for lib in common::linked_libs() {
        assert!(flags.contains(&format!("-l{lib}")), "a dependency links {lib}: add -l{lib} to capi/native-static-libs.txt");
    }
}

#[test]
fn install_script_and_pkg_config() {
    let have = Command::new("pkg-config").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(have, "pkg-config is not installed (apt-get install pkg-config)");
    let prefix = tempfile::tempdir().expect("tempdir");
    let out = Command::new("sh")
        .arg(repo_dir().join("capi/install.sh"))
        .arg(format!("PREFIX={}", prefix.path().display()))
        .arg(format!("LIB_SRC={}", common::lib_dir().display()))
        .arg("LDCONFIG=0")
        .output()
        .expect("run install.sh");
    assert!(out.status.success(), "install.sh failed:\n{}", String::from_utf8_lossy(&out.stderr));

    let lib = prefix.path().join("lib");
    let (major, version) = (env!("CARGO_PKG_VERSION_MAJOR"), env!("CARGO_PKG_VERSION"));
    for f in [format!("libcontainer_core.so.{version}"), format!("libcontainer_core.so.{major}"), "libcontainer_core.so".into(), "libcontainer_core.a".into()] {
        assert!(lib.join(&f).exists(), "{f} not installed");
    }
    assert_eq!(
        std::fs::read_link(lib.join(format!("libcontainer_core.so.{major}"))).expect("soname link"),
        PathBuf::from(format!("libcontainer_core.so.{version}"))
    );
    assert!(prefix.path().join("include/container_core.h").exists());

    let pc_path = lib.join("pkgconfig");
    let modversion = Command::new("pkg-config").env("PKG_CONFIG_PATH", &pc_path).args(["--modversion", "container_core"]).output().expect("pkg-config");
    assert_eq!(String::from_utf8_lossy(&modversion.stdout).trim(), version);

    // Exactly the command the issue promises, on a program using the API.
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app.c");
    std::fs::write(
        &app,
        r#"#include <stdio.h>
#include <string.h>
#include <container_core.h>
int main(void) {
    rcontainer_spec_t *spec = rcontainer_spec_new();
    const char *argv[] = {"echo", "hi", NULL};
    rcontainer_error_t *err = rcontainer_spec_set_args(spec, argv);
    char *json = NULL;
    if (!err) err = rcontainer_spec_to_json(spec, &json);
    if (err) { fprintf(stderr, "%s\n", rcontainer_error_message(err)); rcontainer_error_free(err); return 1; }
    printf("%s %d\n", rcontainer_version(), strstr(json, "\"echo\"") != NULL);
    rcontainer_string_free(json);
    rcontainer_spec_free(spec);
    return 0;
}
"#,
    )
    .expect("write app.c");
    let exe = dir.path().join("app");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("gcc -Wall -Wextra -Werror {} -o {} $(pkg-config --cflags --libs container_core)", app.display(), exe.display()))
        .env("PKG_CONFIG_PATH", &pc_path)
        .output()
        .expect("gcc");
    assert!(out.status.success(), "gcc with pkg-config failed:\n{}", String::from_utf8_lossy(&out.stderr));
    // Under a prefix outside the linker's default directories, the .pc file's rpath finds the
    // library: no LD_LIBRARY_PATH.
    let out = Command::new(&exe).env_remove("LD_LIBRARY_PATH").output().expect("run app");
    assert!(out.status.success(), "app failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{version} 1"));
    // It loaded the installed library, through its SONAME.
    let ldd = Command::new("ldd").arg(&exe).env_remove("LD_LIBRARY_PATH").output().expect("ldd");
    let ldd = String::from_utf8_lossy(&ldd.stdout);
    assert!(ldd.contains(&format!("libcontainer_core.so.{major} => {}", lib.display())), "{ldd}");
}

/// The C example in examples/c/README.md (the README's C section) compiles as shown.
#[test]
fn readme_example_compiles() {
    let readme = std::fs::read_to_string(repo_dir().join("examples/c/README.md")).expect("read README");
    let start = readme.find("```c\n").expect("a ```c block") + 5;
    let code = &readme[start..start + readme[start..].find("```").expect("end of block")];
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("readme.c");
    std::fs::write(&src, code).expect("write");
    compile(&src, &dir.path().join("readme"), Link::Shared);
}
