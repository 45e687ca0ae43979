//! CVE-2021-30465 / CVE-2019-19921 class: mount destinations, device nodes and masks must be
//! resolved inside the container's root at the moment of use, after the earlier mounts, and a
//! symlink in an image or a volume must never send one of them outside the root, nor make one be
//! silently skipped.

use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::Path;

use rcontainer_tests::*;

fn bind(dest: &str, src: &Path) -> serde_json::Value {
    serde_json::json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rw"]})
}

fn tmpfs(dest: &str) -> serde_json::Value {
    serde_json::json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "size=1m"]})
}

/// Every entry below `dir` (recursively), for "nothing appeared here".
fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            out.push(e.path().display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(entries(&e.path()));
            }
        }
    }
    out
}

/// Character or block devices anywhere in `dir` (the image must never get one).
fn devices_in(dir: &Path) -> Vec<String> {
    entries(dir).into_iter().filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device() || m.file_type().is_block_device())).collect()
}

#[test]
fn a_symlink_in_a_volume_cannot_send_later_mounts_to_the_host() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    // On the host: the target the attacker aims at, and the volume holding the symlinks.
    let target = tempfile::Builder::new().prefix("rct-target-").tempdir().expect("tempdir");
    let volume = tempfile::Builder::new().prefix("rct-volume-").tempdir().expect("tempdir");
    symlink(target.path(), volume.path().join("abs")).expect("symlink");
    symlink(format!("{}{}", "../".repeat(16), target.path().display()), volume.path().join("rel")).expect("symlink");
    let file = tempfile::NamedTempFile::new().expect("file");
    let mut b =
        Bundle::busybox(&["sh", "-c", "for d in /data/abs/sub /data/rel/sub; do stat -f -c \"$d %T\" $d; done; test -f /data/abs/file && echo file-bound"]);
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().expect("mounts");
        m.push(bind("/data", volume.path()));
        m.push(tmpfs("/data/abs/sub"));
        m.push(tmpfs("/data/rel/sub"));
        m.push(serde_json::json!({"destination": "/data/abs/file", "type": "bind", "source": file.path(), "options": ["bind", "ro"]}));
    });
    let out = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("vol")]);
    assert!(entries(target.path()).is_empty(), "mounts of the container made things on the host: {:?} ({out:?})", entries(target.path()));
    assert_eq!(std::fs::read_dir(volume.path()).expect("volume").count(), 2, "the volume changed: {:?}", entries(volume.path()));
    // The container saw its mounts, inside its own root.
    let out = out.ok();
    assert!(out.stdout.contains("/data/abs/sub tmpfs") && out.stdout.contains("/data/rel/sub tmpfs"), "{out:?}");
    assert!(out.stdout.contains("file-bound"), "{out:?}");
    assert!(!mountinfo("self").contains(&target.path().display().to_string()), "a mount landed on the host");
}

#[test]
fn an_image_whose_dev_null_is_a_symlink_gets_its_masks_and_no_device() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let mut b = Bundle::busybox(&["sh", "-c", "wc -c </proc/keys; ls /sys/firmware | wc -l; ls -l /dev/null"]);
    std::fs::create_dir_all(b.rootfs().join("dev")).expect("mkdir");
    symlink("/etc/evil", b.rootfs().join("dev/null")).expect("symlink");
    symlink("/etc/evil-zero", b.rootfs().join("dev/zero")).expect("symlink");
    b.edit(|_| {});
    let out = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("devnull")]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first().map(|l| l.trim()), Some("0"), "/proc/keys is not masked: {out:?}");
    assert_eq!(lines.get(1).map(|l| l.trim()), Some("0"), "/sys/firmware is not masked: {out:?}");
    assert!(lines.get(2).is_some_and(|l| l.starts_with('c')), "/dev/null is not a device: {out:?}");
    assert!(devices_in(&b.rootfs()).is_empty(), "devices written into the image: {:?}", devices_in(&b.rootfs()));
}

#[test]
fn procfs_and_sysfs_are_never_mounted_through_a_symlink() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    for (dir, target) in [("proc", "/etc"), ("sys", "/tmp")] {
        let b = Bundle::busybox(&["true"]);
        std::fs::remove_dir(b.rootfs().join(dir)).expect("rmdir");
        symlink(target, b.rootfs().join(dir)).expect("symlink");
        let out = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id(dir)]);
        assert_ne!(out.code, Some(0), "{dir} -> {target} was accepted: {out:?}");
        assert!(out.stderr.contains(&format!("on /{dir}")) && out.stderr.contains("ELOOP"), "{dir}: {}", out.stderr);
        assert!(!mountinfo("self").contains(&b.rootfs().display().to_string()), "mounts left behind");
        assert!(root.container_dirs().is_empty());
    }
}

#[test]
fn an_image_whose_dev_shm_is_a_symlink_keeps_its_files_and_gets_shm_at_dev_shm() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let mut b = Bundle::busybox(&["sh", "-c", "cat /etc/passwd | head -1; grep -c ' /dev/shm ' /proc/mounts; grep -c ' /etc ' /proc/mounts; exit 0"]);
    std::fs::create_dir_all(b.rootfs().join("dev")).expect("mkdir");
    symlink("/etc", b.rootfs().join("dev/shm")).expect("symlink");
    b.edit(|_| {});
    let out = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("shm")]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.first().is_some_and(|l| l.starts_with("root:")), "the image's /etc was hidden: {out:?}");
    assert_eq!(lines.get(1).map(|l| l.trim()), Some("1"), "no shm at /dev/shm: {out:?}");
    assert_eq!(lines.get(2).map(|l| l.trim()), Some("0"), "something was mounted on /etc: {out:?}");
}

#[test]
fn a_mask_source_that_is_not_the_null_device_is_an_error() {
    require_root!();
    let root = StateRoot::new();
    let cli = Cli::new(root.path());
    let mut b = Bundle::busybox(&["true"]);
    // /dev/null made as the zero device: the masks would read as endless zeros.
    b.edit(|c| c["linux"]["devices"] = serde_json::json!([{"path": "/dev/null", "type": "c", "major": 1, "minor": 5, "fileMode": 438}]));
    let out = cli.run(&["run", "--bundle", &b.path().to_string_lossy(), &unique_id("fakenull")]);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("/dev/null") && out.stderr.contains("1:3"), "{}", out.stderr);
}
