//! Plan snapshots, without root: the setup a spec turns into (clone flags, id maps, rlimits,
//! every step the child will execute, in order, by what it does, and the exec candidates) for
//! runc's default config, Docker's defaults, a user namespace, and joined namespaces, over a
//! temporary root filesystem. A change to the plan shows as a diff of a small text file under
//! core/tests/snapshots/; when the change is meant, regenerate them with
//!   UPDATE_SNAPSHOTS=1 cargo test -p rcontainer-core --lib plan_snapshot
//! and commit the new files with the change.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespaceType};

use crate::plan::{Plan, PlanInputs};
use crate::spec::SpecBuilder;

fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// A bundle with an empty `rootfs`: what the plan resolves against (nothing is mounted).
fn bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("rootfs")).expect("mkdir rootfs");
    dir
}

/// The plan of `b` as text: stable across machines and runs (the bundle's path and fd numbers
/// replaced).
fn render(b: SpecBuilder, bundle: &Path) -> String {
    let spec = b.bundle(bundle).build();
    let null = std::fs::File::open("/dev/null").expect("/dev/null");
    let fd = null.as_raw_fd();
    let inputs = PlanInputs::for_tests(fd);
    let plan = Plan::build(&spec, &inputs).unwrap_or_else(|e| panic!("plan: {e}"));
    let mut out = String::new();
    out += &format!("clone flags: {}\n", clone_flag_names(plan.clone_flags));
    out += &format!("uid_map: {:?}\ngid_map: {:?}\n", plan.uid_map, plan.gid_map);
    out += &format!("oom_score_adj: {:?}\n", plan.oom_score_adj);
    for (_, limit, what) in &plan.rlimits {
        out += &format!("rlimit: {what} = {}/{}\n", limit.rlim_cur, limit.rlim_max);
    }
    out += "steps:\n";
    // The cgroup hierarchies mounted in the container follow the host's layout (v1 controllers,
    // hybrid or v2): one line for them, so the snapshot holds on any host.
    let mut steps: Vec<&str> = Vec::new();
    for step in &plan.steps {
        let host_cgroup = step.what.contains("/sys/fs/cgroup");
        if host_cgroup {
            if steps.last() != Some(&HOST_CGROUPS) {
                steps.push(HOST_CGROUPS);
            }
        } else {
            steps.push(&step.what);
        }
    }
    for (i, what) in steps.iter().enumerate() {
        out += &format!("  {i:2} {what}\n");
    }
    out += &format!("exec candidates: {:?}\n", plan.exec_candidates);
    out.replace(&bundle.display().to_string(), "$BUNDLE")
}

const HOST_CGROUPS: &str = "mount /sys/fs/cgroup (its hierarchies as the host has them: v1, hybrid or v2)";

fn clone_flag_names(flags: u64) -> String {
    let names = [
        (libc::CLONE_NEWNS, "NEWNS"),
        (libc::CLONE_NEWCGROUP, "NEWCGROUP"),
        (libc::CLONE_NEWUTS, "NEWUTS"),
        (libc::CLONE_NEWIPC, "NEWIPC"),
        (libc::CLONE_NEWUSER, "NEWUSER"),
        (libc::CLONE_NEWPID, "NEWPID"),
        (libc::CLONE_NEWNET, "NEWNET"),
        (0x80, "NEWTIME"),
    ];
    let mut left = flags;
    let mut out: Vec<String> = Vec::new();
    for (f, name) in names {
        if flags & f as u64 != 0 {
            out.push(name.into());
            left &= !(f as u64);
        }
    }
    if left != 0 {
        out.push(format!("{left:#x}"));
    }
    out.join("|")
}

/// Compares with (or, under UPDATE_SNAPSHOTS, writes) core/tests/snapshots/plan-NAME.txt.
fn snapshot(name: &str, text: &str) {
    let path = snapshot_dir().join(format!("plan-{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(snapshot_dir()).expect("mkdir snapshots");
        std::fs::write(&path, text).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", path.display()));
    if want != text {
        let diff: Vec<String> = diff_lines(&want, text);
        panic!("the plan of {name} changed ({}); if that is meant, UPDATE_SNAPSHOTS=1 and commit:\n{}", path.display(), diff.join("\n"));
    }
}

/// Lines only in `a` (-) or only in `b` (+), in order: enough to read a plan change.
fn diff_lines(a: &str, b: &str) -> Vec<String> {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut out: Vec<String> = al.iter().filter(|l| !bl.contains(l)).map(|l| format!("- {l}")).collect();
    out.extend(bl.iter().filter(|l| !al.contains(l)).map(|l| format!("+ {l}")));
    out
}

fn map(container: u32, host: u32, size: u32) -> LinuxIdMapping {
    LinuxIdMappingBuilder::default().container_id(container).host_id(host).size(size).build().expect("id map")
}

#[test]
fn plan_snapshot_runc_default() {
    let b = bundle();
    snapshot("runc-default", &render(SpecBuilder::new(["sh"]), b.path()));
}

#[test]
fn plan_snapshot_docker_defaults() {
    let b = bundle();
    let spec = SpecBuilder::new(["sh", "-c", "echo hi"]).docker_defaults().hostname("box").env("FOO", "bar").cwd("/tmp").user(1000, 1000);
    snapshot("docker-defaults", &render(spec, b.path()));
}

#[test]
fn plan_snapshot_user_namespace() {
    let b = bundle();
    let spec = SpecBuilder::new(["id"]).id_maps(vec![map(0, 100000, 65536)], vec![map(0, 100000, 65536)]);
    snapshot("user-namespace", &render(spec, b.path()));
}

#[test]
fn plan_snapshot_joined_namespaces() {
    let b = bundle();
    let spec = SpecBuilder::new(["true"])
        .namespace(LinuxNamespaceType::Network, true, Some("/proc/self/ns/net".into()))
        .namespace(LinuxNamespaceType::Uts, true, Some("/proc/self/ns/uts".into()))
        .namespace(LinuxNamespaceType::Ipc, false, None);
    snapshot("joined-namespaces", &render(spec, b.path()));
}

#[test]
fn a_changed_plan_fails_its_snapshot() {
    let b = bundle();
    let text = render(SpecBuilder::new(["sh"]).hostname("changed"), b.path());
    let caught = std::panic::catch_unwind(|| snapshot("runc-default", &text));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_none() {
        let message = caught.expect_err("a different plan matched the snapshot");
        let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("changed") && message.contains("+ "), "{message}");
    }
}
