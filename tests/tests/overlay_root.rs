//! A copy-on-write root (core's RootOverlay): the container writes into its upper directory,
//! the layers stay as they were, the host never sees the overlay mount, a whiteout in an upper
//! layer hides a lower file, names are looked up through the layers, and delete removes the
//! container's directory.

use std::io::Read;
use std::path::{Path, PathBuf};

use rcontainer_core::{RootOverlay, SpecBuilder};
use rcontainer_tests::*;

struct Layers {
    dir: tempfile::TempDir,
}

impl Layers {
    /// Layer `base` (busybox), layer `top` (a file, a whiteout of /etc/group and a passwd with
    /// user `app`), and a container dir with upper, work, the mount point and the marker.
    fn new() -> Layers {
        let dir = tempfile::Builder::new().prefix("rct-overlay-").tempdir().expect("tempdir");
        let base = dir.path().join("base");
        make_busybox_rootfs(&base);
        let top = dir.path().join("top");
        std::fs::create_dir_all(top.join("etc")).expect("mkdir");
        std::fs::write(top.join("hello"), "from top\n").expect("write");
        std::fs::write(top.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n").expect("write");
        nix::sys::stat::mknod(&top.join("etc/group"), nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::empty(), 0).expect("whiteout");
        let c = dir.path().join("c");
        for d in ["rootfs", "upper", "work"] {
            std::fs::create_dir_all(c.join(d)).expect("mkdir");
        }
        std::fs::write(c.join(rcontainer_core::rootfs::overlay::CONTAINER_DIR_MARKER), "").expect("marker");
        Layers { dir }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn overlay(&self) -> RootOverlay {
        RootOverlay {
            lower: vec![self.p("top"), self.p("base")],
            upper: Some(self.p("c/upper")),
            work: Some(self.p("c/work")),
            container_dir: Some(self.p("c")),
        }
    }
}

fn run(spec: &rcontainer_core::Spec, root: &Path) -> (String, i32) {
    let id = unique_id("ovl");
    let mut p = Piped::create(&id, spec, root).expect("create");
    p.container.start().expect("start");
    let status = p.container.wait(None).expect("wait");
    let mut out = String::new();
    p.stdout.read_to_string(&mut out).expect("read");
    (out, status.code.unwrap_or(-1))
}

#[test]
fn the_container_writes_to_its_upper_and_the_layers_stay() {
    require_root!();
    let l = Layers::new();
    let root = StateRoot::new();
    // Without container_dir, delete leaves upper in place to be looked at.
    let overlay = RootOverlay { container_dir: None, ..l.overlay() };
    let spec =
        SpecBuilder::new(["sh", "-c", "cat /hello; echo new > /written && rm /bin/true && test ! -e /bin/true; test -e /etc/group || echo no-group; echo ok"])
            .root_overlay(l.p("c/rootfs"), &overlay)
            .readonly_root(false)
            .build();
    let (out, code) = run(&spec, root.path());
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "from top\nno-group\nok\n");
    assert_eq!(std::fs::read_to_string(l.p("c/upper/written")).ok().as_deref(), Some("new\n"), "the write went to the upper dir");
    assert!(l.p("base/bin/true").exists(), "a removal in the container touched the lower layer");
    assert!(!l.p("base/written").exists() && !l.p("top/written").exists());
    // The host never had the mount: the mount point is empty here.
    assert_eq!(std::fs::read_dir(l.p("c/rootfs")).expect("readdir").count(), 0, "the overlay was mounted on the host");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mountinfo.contains(&l.p("c/rootfs").display().to_string()));
}

#[test]
fn delete_removes_the_container_dir_and_names_resolve_through_the_layers() {
    require_root!();
    let l = Layers::new();
    let root = StateRoot::new();
    let mut o = rcontainer_core::options::Options { args: Some(vec!["id".into(), "-u".into()]), user_name: Some("app".into()), ..Default::default() };
    o.rootfs = None;
    let spec = SpecBuilder::new(["id", "-u"]).root_overlay(l.p("c/rootfs"), &l.overlay()).build();
    o.spec = Some(spec);
    let spec = o.to_spec("x", root.path()).expect("to_spec: the user name from the top layer's /etc/passwd");
    let (out, code) = run(&spec, root.path());
    assert_eq!((out.as_str(), code), ("1000\n", 0));
    assert!(!l.p("c").exists(), "delete left the container's overlay dir");
    assert!(l.p("base/bin/busybox").exists() && l.p("top/hello").exists(), "delete touched a layer");
}

#[test]
fn an_unmarked_dir_is_never_removed_and_a_read_only_overlay_needs_two_layers() {
    require_root!();
    let l = Layers::new();
    std::fs::remove_file(l.p("c").join(rcontainer_core::rootfs::overlay::CONTAINER_DIR_MARKER)).expect("rm marker");
    let root = StateRoot::new();
    let spec = SpecBuilder::new(["true"]).root_overlay(l.p("c/rootfs"), &l.overlay()).build();
    let (_, code) = run(&spec, root.path());
    assert_eq!(code, 0);
    assert!(l.p("c/upper").exists(), "a directory without the marker was removed");

    let ro = RootOverlay { lower: vec![l.p("base")], upper: None, work: None, container_dir: None };
    let spec = SpecBuilder::new(["true"]).root_overlay(l.p("c/rootfs"), &ro).build();
    let e = spec.validate().expect_err("one lower dir and no upper");
    assert!(e.to_string().contains("two layers"), "{e}");
    let ro = RootOverlay { lower: vec![l.p("top"), l.p("base")], upper: None, work: None, container_dir: None };
    let spec = SpecBuilder::new(["sh", "-c", "touch /x 2>/dev/null && echo wrote || echo read-only"]).root_overlay(l.p("c/rootfs"), &ro).build();
    let (out, _) = run(&spec, root.path());
    assert_eq!(out, "read-only\n");
}
