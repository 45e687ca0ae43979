//! Helpers shared by the C ABI tests: where the built libraries are, compiling C programs against
//! the .so or the .a, a busybox root filesystem, a state root that cleans up its containers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// target/<profile>, holding libcontainer_core.so and .a, built fresh: `cargo test` builds the
/// library only as an rlib for the tests, so the first call runs `cargo build -p rcontainer-capi`
/// (same profile and target dir; a no-op when they are current).
pub fn lib_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // The test binary is target/<profile>/deps/<name>.
        let exe = std::env::current_exe().expect("current_exe");
        let dir = exe.parent().and_then(Path::parent).expect("profile dir").to_path_buf();
        let target = dir.parent().expect("target dir");
        let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--message-format=json", "-p", "rcontainer-capi", "--lib", "--target-dir"]).arg(target);
        if profile != "debug" {
            cmd.args(["--profile", profile]);
        }
        let out = cmd.current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("run cargo build");
        assert!(out.status.success(), "cargo build -p rcontainer-capi failed:\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(dir.join("libcontainer_core.so").exists(), "{} has no libcontainer_core.so", dir.display());
        // Build scripts' "linked_libs" (e.g. ["dylib=seccomp"]): what the .a needs from the system.
        let mut libs = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(i) = line.find("\"linked_libs\":[") else { continue };
            let rest = &line[i + "\"linked_libs\":[".len()..];
            let list = &rest[..rest.find(']').unwrap_or(0)];
            for item in list.split(',').map(|x| x.trim().trim_matches('"')).filter(|x| !x.is_empty()) {
                let (kind, name) = item.split_once('=').unwrap_or(("dylib", item));
                if kind != "static" && !libs.contains(&name.to_string()) {
                    libs.push(name.to_string());
                }
            }
        }
        let _ = LINKED_LIBS.set(libs);
        dir
    })
    .clone()
}

static LINKED_LIBS: OnceLock<Vec<String>> = OnceLock::new();

/// System libraries the dependencies' build scripts link (what the static archive needs beyond
/// Rust's std), as cargo reported them.
pub fn linked_libs() -> Vec<String> {
    lib_dir();
    LINKED_LIBS.get().cloned().unwrap_or_default()
}

/// Linker flags the static archive needs: capi/native-static-libs.txt (also used by install.sh
/// for the pkg-config file's Libs.private, and by examples/c/Makefile).
pub fn static_deps() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("native-static-libs.txt");
    std::fs::read_to_string(&path).expect("read capi/native-static-libs.txt").split_whitespace().map(str::to_string).collect()
}

/// A per-process scratch directory under the system temp dir; directories that earlier test
/// processes left (their pid is gone) are removed first.
fn scratch(kind: &str) -> PathBuf {
    let tmp = std::env::temp_dir();
    let prefix = format!("rcontainer-capi-{kind}-");
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(&prefix).and_then(|p| p.parse::<u32>().ok()) {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
    let dir = tmp.join(format!("{prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir scratch dir");
    remove_at_exit(&dir);
    dir
}

static AT_EXIT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes the scratch directories when the test binary exits (the harness returns from main, so
/// atexit handlers run); a killed run leaves them to the next run's sweep in `scratch`.
fn remove_at_exit(dir: &Path) {
    extern "C" fn cleanup() {
        let dirs = std::mem::take(&mut *AT_EXIT.lock().unwrap_or_else(|p| p.into_inner()));
        for d in dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
    let mut dirs = AT_EXIT.lock().unwrap_or_else(|p| p.into_inner());
    if dirs.is_empty() {
        // SAFETY: registers a plain extern "C" function with no preconditions.
        unsafe { libc::atexit(cleanup) };
    }
    dirs.push(dir.to_path_buf());
}

pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("repo dir")
}

pub fn include_dir() -> PathBuf {
    repo_dir().join("include")
}

#[derive(Clone, Copy, Debug)]
pub enum Link {
    Shared,
    Static,
}

/// A directory holding the shared library under its SONAME (and the dev symlink), as an install
/// would: the loader looks for libcontainer_core.so.MAJOR.
pub fn shared_lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("lib");
        let soname = format!("libcontainer_core.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
        std::fs::copy(lib_dir().join("libcontainer_core.so"), dir.join(&soname)).expect("copy .so");
        std::os::unix::fs::symlink(&soname, dir.join("libcontainer_core.so")).expect("symlink");
        dir
    })
}

/// Compiles one C file (C11, -Wall -Wextra -Werror) against the header and the library.
pub fn compile(src: &Path, exe: &Path, link: Link) {
    let mut cmd = Command::new("gcc");
    cmd.args(["-std=c11", "-g", "-O1", "-Wall", "-Wextra", "-Werror", "-o"]).arg(exe).arg("-I").arg(include_dir()).arg(src);
    match link {
        Link::Shared => {
            let dir = shared_lib_dir();
            cmd.arg("-L").arg(dir).arg("-lcontainer_core").arg(format!("-Wl,-rpath,{}", dir.display()));
        }
        Link::Static => {
            cmd.arg(lib_dir().join("libcontainer_core.a")).args(static_deps());
        }
    }
    let out = cmd.output().expect("run gcc");
    assert!(out.status.success(), "gcc {} ({link:?}) failed:\n{}", src.display(), String::from_utf8_lossy(&out.stderr));
}

/// Runs a program with a time limit (so a hang fails the test instead of blocking it).
pub fn run_program<S: AsRef<std::ffi::OsStr>>(exe: &Path, args: &[S]) -> Output {
    Command::new("timeout").arg("--kill-after=5").arg("120").arg(exe).args(args).output().expect("run program")
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Tests that run real containers need root: rcontainer_tests::root_or_skip's policy (they fail
/// without it unless RCONTAINER_SKIP_ROOT_TESTS is set, and then say SKIPPED).
pub fn require_root(test: &str) -> bool {
    rcontainer_tests::root_or_skip(test)
}

/// The busybox root filesystem shared by the tests of one test binary.
pub fn rootfs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("rootfs");
        let out = Command::new("sh").arg(repo_dir().join("examples/c/make-rootfs.sh")).arg(&dir).output().expect("run make-rootfs.sh");
        assert!(out.status.success(), "make-rootfs.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        dir
    })
}

/// A private state root; on drop it force-deletes every container left in it (also when the
/// test failed), then removes the directory.
pub struct StateRoot {
    pub dir: tempfile::TempDir,
}

impl StateRoot {
    pub fn new() -> StateRoot {
        StateRoot { dir: tempfile::Builder::new().prefix("rcontainer-capi-state-").tempdir().expect("tempdir") }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Ids of the containers currently under this root.
    pub fn ids(&self) -> Vec<String> {
        rcontainer_core::list(self.path()).map(|v| v.into_iter().map(|s| s.id).collect()).unwrap_or_default()
    }
}

impl Drop for StateRoot {
    fn drop(&mut self) {
        for id in self.ids() {
            if let Ok(mut c) = rcontainer_core::Container::load(self.path(), &id) {
                if let Err(e) = c.delete(true) {
                    eprintln!("cleanup: delete {id}: {e}");
                }
            }
        }
    }
}

/// The dynamic symbols a shared library defines.
pub fn exported_symbols(so: &Path) -> Vec<String> {
    let out = Command::new("nm").args(["-D", "--defined-only"]).arg(so).output().expect("nm");
    assert!(out.status.success(), "nm failed");
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().nth(2).map(str::to_string)).collect()
}

/// The OCI image layout of tests/images/make-image.sh --extra (built offline from Debian's
/// busybox-static, the same bytes every run), shared by the tests of one test binary. Its
/// directory is named capi-busybox, so an import without a name gives capi-busybox:latest,
/// capi-busybox:busybox-extra and capi-busybox:multi.
pub fn image_layout() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("image").join("capi-busybox");
        let out = Command::new("bash")
            .arg(repo_dir().join("tests/images/make-image.sh"))
            .arg(&dir)
            .args(["--extra", "--no-check"])
            .output()
            .expect("run tests/images/make-image.sh");
        assert!(out.status.success(), "make-image.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        dir
    })
}

/// A private image store, removed with everything in it on drop (declare it before the
/// [`StateRoot`] whose containers use it: their delete removes their roots from it first).
pub struct TempStore {
    pub dir: tempfile::TempDir,
}

impl TempStore {
    pub fn new() -> TempStore {
        TempStore { dir: tempfile::Builder::new().prefix("rcontainer-capi-store-").tempdir().expect("tempdir") }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
