//! Layer extraction (`rcontainer_image::unpack`) against hostile layers: every test builds a
//! crafted tar, unpacks it into `dest` inside a temporary directory that also holds `outside/canary`,
//! and checks that nothing outside `dest` changed (the canary directory, the host's /etc/passwd, the
//! host's root) and that the error or the outcome is the right one. Runs as root.

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcontainer_image::unpack::{unpack_layer, Compression, IdMapping, IdShift, UnpackError, UnpackOptions, UnpackStats};
use tar::{EntryType, Header};

/// A layer being written, entry by entry, with names and link targets put into the header as raw
/// bytes (the tar crate's own setters refuse the hostile ones).
struct Layer(tar::Builder<Vec<u8>>);

fn header(kind: EntryType, name: &[u8], link: &[u8], mode: u32) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(kind);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h
}

impl Layer {
    fn new() -> Layer {
        Layer(tar::Builder::new(Vec::new()))
    }

    fn raw(mut self, mut h: Header, data: &[u8]) -> Layer {
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.0.append(&h, data).expect("append");
        self
    }

    /// Appends `h` with its size field as given (no data follows unless the caller adds it).
    fn raw_sized(mut self, mut h: Header, size: u64) -> Layer {
        h.set_size(size);
        h.set_cksum();
        self.0.get_mut().extend_from_slice(h.as_bytes());
        self
    }

    fn file(self, name: &str, mode: u32, data: &[u8]) -> Layer {
        self.raw(header(EntryType::Regular, name.as_bytes(), b"", mode), data)
    }

    fn owned_file(self, name: &str, mode: u32, uid: u64, gid: u64) -> Layer {
        let mut h = header(EntryType::Regular, name.as_bytes(), b"", mode);
        h.set_uid(uid);
        h.set_gid(gid);
        self.raw(h, b"")
    }

    fn dir(self, name: &str, mode: u32) -> Layer {
        self.raw(header(EntryType::Directory, name.as_bytes(), b"", mode), b"")
    }

    fn symlink(self, name: &str, target: &str) -> Layer {
        self.raw(header(EntryType::Symlink, name.as_bytes(), target.as_bytes(), 0o777), b"")
    }

    fn link(self, name: &str, target: &str) -> Layer {
        self.raw(header(EntryType::Link, name.as_bytes(), target.as_bytes(), 0o644), b"")
    }

    fn device(self, kind: EntryType, name: &str, mode: u32, major: u32, minor: u32) -> Layer {
        let mut h = header(kind, name.as_bytes(), b"", mode);
        h.set_device_major(major).expect("major");
        h.set_device_minor(minor).expect("minor");
        self.raw(h, b"")
    }

    /// A PAX extended header for the next entry.
    fn pax(mut self, records: &[(&str, &[u8])]) -> Layer {
        self.0.append_pax_extensions(records.iter().copied()).expect("pax");
        self
    }

    /// A GNU long name for the next entry, raw.
    fn gnu_long_name(self, name: &[u8]) -> Layer {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::GNULongName);
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        self.raw(h, name)
    }

    fn tar(self) -> Vec<u8> {
        self.0.into_inner().expect("finish")
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).expect("zstd")
}

/// `dest` (empty) and `outside/canary` side by side in a temporary directory, and what the host
/// looked like before.
struct Sandbox {
    tmp: tempfile::TempDir,
    dest: PathBuf,
    outside: PathBuf,
    passwd: (Vec<u8>, u64, u64),
}

fn passwd() -> (Vec<u8>, u64, u64) {
    let meta = fs::symlink_metadata("/etc/passwd").expect("/etc/passwd");
    (fs::read("/etc/passwd").expect("/etc/passwd"), meta.nlink(), meta.ino())
}

fn sandbox() -> Sandbox {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("dest");
    let outside = tmp.path().join("outside");
    fs::create_dir(&dest).expect("dest");
    fs::create_dir(&outside).expect("outside");
    fs::write(outside.join("canary"), "canary").expect("canary");
    Sandbox { tmp, dest, outside, passwd: passwd() }
}

/// A name at the host's root that no test creates on purpose, so its existence means an escape.
fn host_root_name(tag: &str) -> String {
    format!("rcontainer-unpack-test-{}-{tag}", std::process::id())
}

impl Sandbox {
    fn unpack(&self, layer: Layer) -> Result<UnpackStats, UnpackError> {
        self.unpack_bytes(&layer.tar(), None, &UnpackOptions::default())
    }

    fn unpack_bytes(&self, blob: &[u8], media_type: Option<&str>, opts: &UnpackOptions) -> Result<UnpackStats, UnpackError> {
        unpack_layer(blob, media_type, &self.dest, opts)
    }

    fn outside_abs(&self) -> String {
        self.outside.to_str().expect("utf-8 temp path").to_string()
    }

    /// Nothing outside `dest` changed: the canary directory, the temporary directory, /etc/passwd.
    fn host_untouched(&self) {
        let names = |p: &Path| {
            let mut v: Vec<String> = fs::read_dir(p).expect("read_dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
            v.sort();
            v
        };
        assert_eq!(names(self.tmp.path()), ["dest", "outside"]);
        assert_eq!(names(&self.outside), ["canary"]);
        let canary = self.outside.join("canary");
        let meta = fs::symlink_metadata(&canary).expect("canary");
        assert!(meta.file_type().is_file());
        assert_eq!(meta.nlink(), 1, "a hard link to the canary was made");
        assert_eq!(fs::read_to_string(&canary).expect("canary"), "canary");
        assert_eq!(xattr(&self.outside, "trusted.overlay.opaque"), None);
        assert_eq!(passwd(), self.passwd, "/etc/passwd changed");
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn meta(&self, rel: &str) -> fs::Metadata {
        fs::symlink_metadata(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn exists(&self, rel: &str) -> bool {
        fs::symlink_metadata(self.path(rel)).is_ok()
    }
}

/// An xattr of `path` itself (not followed).
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    let n = CString::new(name).expect("name");
    let mut buf = vec![0u8; 65536];
    // SAFETY: `p` and `n` are NUL-terminated; `buf` has `buf.len()` writable bytes.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

fn mode(meta: &fs::Metadata) -> u32 {
    meta.permissions().mode() & 0o7777
}

// ---------------------------------------------------------------------------------------------
// Real layers

fn busybox_layer() -> Vec<u8> {
    let busybox = fs::read("/bin/busybox").expect("/bin/busybox (busybox-static)");
    Layer::new()
        .dir("bin/", 0o755)
        .file("bin/busybox", 0o755, &busybox)
        .symlink("bin/sh", "busybox")
        .link("bin/ls", "bin/busybox")
        .dir("usr/bin/", 0o755)
        .symlink("usr/bin/env", "/bin/busybox")
        .tar()
}

fn check_busybox(s: &Sandbox, stats: &UnpackStats) {
    let busybox = fs::read("/bin/busybox").expect("/bin/busybox");
    assert_eq!(fs::read(s.path("bin/busybox")).expect("busybox"), busybox);
    assert_eq!(stats.bytes, busybox.len() as u64);
    assert_eq!(stats.entries, 6);
    let bb = s.meta("bin/busybox");
    assert_eq!(mode(&bb), 0o755);
    assert_eq!((bb.uid(), bb.gid()), (0, 0));
    assert_eq!(bb.mtime(), 1_600_000_000);
    assert_eq!(bb.nlink(), 2);
    assert_eq!(s.meta("bin/ls").ino(), bb.ino());
    assert_eq!(fs::read_link(s.path("bin/sh")).expect("sh"), Path::new("busybox"));
    assert_eq!(fs::read_link(s.path("usr/bin/env")).expect("env"), Path::new("/bin/busybox"));
    assert_eq!(mode(&s.meta("bin")), 0o755);
    assert_eq!(s.meta("bin").mtime(), 1_600_000_000, "a directory's mtime is set after its entries");
    // The unpacked busybox runs.
    let out = std::process::Command::new(s.path("bin/busybox")).arg("true").status().expect("run busybox");
    assert!(out.success());
    s.host_untouched();
}

#[test]
fn busybox_gzip_layer() {
    let s = sandbox();
    let blob = gzip(&busybox_layer());
    let start = Instant::now();
    let stats = s.unpack_bytes(&blob, Some("application/vnd.oci.image.layer.v1.tar+gzip"), &UnpackOptions::default()).expect("unpack");
    let took = start.elapsed();
    assert_eq!(stats.compression, Compression::Gzip);
    check_busybox(&s, &stats);
    // Milliseconds in a release build; generous for a debug build on a loaded machine.
    assert!(took < Duration::from_secs(5), "unpacking busybox took {took:?}");
}

#[test]
fn busybox_zstd_layer() {
    let s = sandbox();
    let blob = zstd(&busybox_layer());
    let stats = s.unpack_bytes(&blob, Some("application/vnd.oci.image.layer.v1.tar+zstd"), &UnpackOptions::default()).expect("unpack");
    assert_eq!(stats.compression, Compression::Zstd);
    check_busybox(&s, &stats);
}

#[test]
fn busybox_plain_layer_and_magic_over_media_type() {
    let s = sandbox();
    let stats = s.unpack_bytes(&busybox_layer(), Some("application/vnd.oci.image.layer.v1.tar"), &UnpackOptions::default()).expect("unpack");
    assert_eq!(stats.compression, Compression::None);
    check_busybox(&s, &stats);

    // Docker's gzip media type on a gzip blob, and a media type that says gzip on a plain tar: the
    // magic bytes decide.
    let s = sandbox();
    let stats = s.unpack_bytes(&busybox_layer(), Some("application/vnd.docker.image.rootfs.diff.tar.gzip"), &UnpackOptions::default()).expect("unpack");
    assert_eq!(stats.compression, Compression::None);
    check_busybox(&s, &stats);
}

#[test]
fn media_types_that_are_not_tar_layers_are_refused_before_reading() {
    let s = sandbox();
    for mt in ["application/vnd.oci.image.layer.v1.tar+gzip+encrypted", "application/vnd.oci.image.config.v1+json", "application/x-bzip2"] {
        let r = s.unpack_bytes(&busybox_layer(), Some(mt), &UnpackOptions::default());
        assert!(matches!(&r, Err(UnpackError::MediaType { media_type }) if media_type == mt), "{r:?}");
    }
    assert!(!s.exists("bin"));
}

#[test]
fn empty_blob_and_empty_archive() {
    let s = sandbox();
    assert_eq!(s.unpack_bytes(b"", None, &UnpackOptions::default()).expect("empty blob").entries, 0);
    assert_eq!(s.unpack(Layer::new()).expect("empty archive").entries, 0);
}

#[test]
fn long_names_gnu_and_pax() {
    let s = sandbox();
    let long_gnu = format!("{}/gnu-file", "d".repeat(150));
    let long_pax = format!("{}/pax-file", "p".repeat(200));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(3);
    b.append_data(&mut h, &long_gnu, &b"gnu"[..]).expect("gnu long name");
    let layer = Layer(b).pax(&[("path", long_pax.as_bytes())]).file("short-name-overridden", 0o600, b"pax");
    s.unpack(layer).expect("unpack");
    assert_eq!(s.read(&long_gnu), "gnu");
    assert_eq!(s.read(&long_pax), "pax");
    assert_eq!(mode(&s.meta(&long_pax)), 0o600);
    assert!(!s.exists("short-name-overridden"));
}

#[test]
fn large_file_is_streamed() {
    let s = sandbox();
    let data: Vec<u8> = (0..5_000_003u32).map(|i| (i % 251) as u8).collect();
    let stats = s.unpack_bytes(&gzip(&Layer::new().file("big", 0o644, &data).tar()), None, &UnpackOptions::default()).expect("unpack");
    assert_eq!(stats.bytes, data.len() as u64);
    assert_eq!(fs::read(s.path("big")).expect("big"), data);
}

// ---------------------------------------------------------------------------------------------
// Names

#[test]
fn dotdot_names_are_refused() {
    for name in ["../../etc/x", "../outside/canary", "a/../../outside/canary", "/../outside/canary", "./.."] {
        let s = sandbox();
        let r = s.unpack(Layer::new().file(name, 0o644, b"owned"));
        assert!(matches!(&r, Err(UnpackError::PathEscapes { path }) if path == name), "{name}: {r:?}");
        assert!(r.expect_err("refused").to_string().contains(name));
        s.host_untouched();
    }
    // A `..` that stays inside is resolved.
    let s = sandbox();
    s.unpack(Layer::new().file("a/../b", 0o644, b"b")).expect("unpack");
    assert_eq!(s.read("b"), "b");
}

#[test]
fn absolute_names_land_inside_dest() {
    let s = sandbox();
    let top = host_root_name("abs");
    s.unpack(Layer::new().file(&format!("/{top}/x"), 0o644, b"inside").file("//etc/passwd", 0o644, b"inside too")).expect("unpack");
    assert_eq!(s.read(&format!("{top}/x")), "inside");
    assert_eq!(s.read("etc/passwd"), "inside too");
    assert!(!Path::new("/").join(&top).exists());
    s.host_untouched();
}

#[test]
fn nul_and_empty_names_are_refused() {
    let s = sandbox();
    // An empty name in the header.
    let r = s.unpack(Layer::new().raw(header(EntryType::Regular, b"", b"", 0o644), b"x"));
    assert!(matches!(&r, Err(UnpackError::InvalidPath { .. })), "{r:?}");
    // A NUL in a PAX path, a GNU long name, a PAX symlink target, a PAX hard link target.
    let r = s.unpack(Layer::new().pax(&[("path", b"a\0/../../outside/canary")]).file("x", 0o644, b""));
    assert!(matches!(&r, Err(UnpackError::InvalidPath { what, .. }) if what.contains("NUL")), "{r:?}");
    let r = s.unpack(Layer::new().gnu_long_name(b"a\0b\0").file("x", 0o644, b""));
    assert!(matches!(&r, Err(UnpackError::InvalidPath { what, .. }) if what.contains("NUL")), "{r:?}");
    let r = s.unpack(Layer::new().pax(&[("linkpath", b"/etc\0x")]).symlink("s", "t"));
    assert!(matches!(&r, Err(UnpackError::InvalidPath { path, .. }) if path == "s"), "{r:?}");
    let r = s.unpack(Layer::new().file("t", 0o644, b"").pax(&[("linkpath", b"t\0x")]).link("l", "t"));
    assert!(matches!(&r, Err(UnpackError::LinkTarget { path, .. }) if path == "l"), "{r:?}");
    // A file that names the root.
    for root in ["/", "./", "."] {
        let s = sandbox();
        let r = s.unpack(Layer::new().file(root, 0o644, b""));
        assert!(matches!(&r, Err(UnpackError::InvalidPath { .. })), "{root}: {r:?}");
    }
    // An empty symlink target.
    let s = sandbox();
    let r = s.unpack(Layer::new().symlink("s", ""));
    assert!(matches!(&r, Err(UnpackError::InvalidPath { .. })), "{r:?}");
    s.host_untouched();
}

#[test]
fn names_longer_than_path_max_are_refused_without_reading_them() {
    let s = sandbox();
    let long = "a/".repeat(2500);
    let r = s.unpack(Layer::new().pax(&[("path", long.as_bytes())]).file("x", 0o644, b""));
    assert!(matches!(&r, Err(UnpackError::InvalidPath { what, .. }) if what.contains("PATH_MAX")), "{r:?}");
    // A GNU long name header announcing 5000 bytes: refused from its size.
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::GNULongName);
    let r = s.unpack(Layer::new().raw_sized(h, 5000));
    assert!(matches!(&r, Err(UnpackError::Malformed { .. })), "{r:?}");
    // A PAX header announcing a terabyte (a decompression bomb would supply it): refused, not allocated.
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::XHeader);
    let start = Instant::now();
    let r = s.unpack(Layer::new().raw_sized(h, 1 << 40));
    assert!(matches!(&r, Err(UnpackError::Malformed { what, .. }) if what.contains("limit")), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(!s.exists("x"));
}

// ---------------------------------------------------------------------------------------------
// Symlinks on the way

#[test]
fn symlink_to_root_resolves_to_dest() {
    let s = sandbox();
    let top = host_root_name("root");
    s.unpack(Layer::new().symlink("evil", "/").file(&format!("evil/{top}"), 0o644, b"inside").dir(&format!("evil/{top}.d/"), 0o755)).expect("unpack");
    assert_eq!(s.read(&top), "inside");
    assert!(s.meta(&format!("{top}.d")).is_dir());
    assert!(!Path::new("/").join(&top).exists());
    assert!(!Path::new("/").join(format!("{top}.d")).exists());
    s.host_untouched();
}

#[test]
fn symlink_to_etc_then_passwd() {
    // No etc/ in the layer: `evil` points to nothing inside dest, the entry is refused.
    let s = sandbox();
    let r = s.unpack(Layer::new().symlink("evil", "/etc").file("evil/passwd", 0o644, b"root::0:0::/:/bin/sh\n"));
    assert!(matches!(&r, Err(UnpackError::Io { path, .. }) if path == "evil/passwd"), "{r:?}");
    assert!(!s.exists("etc"));
    s.host_untouched();

    // With the layer's own etc/: the file lands in dest/etc/passwd.
    let s = sandbox();
    s.unpack(Layer::new().dir("etc/", 0o755).symlink("evil", "/etc").file("evil/passwd", 0o644, b"root::0:0::/:/bin/sh\n")).expect("unpack");
    assert_eq!(s.read("etc/passwd"), "root::0:0::/:/bin/sh\n");
    s.host_untouched();

    // Through /proc/self/root (a magic link on the host): /proc is looked up inside dest.
    let s = sandbox();
    let r = s.unpack(Layer::new().symlink("evil", "/proc/self/root/etc").file("evil/passwd", 0o644, b"x"));
    assert!(r.is_err(), "{r:?}");
    s.host_untouched();
}

#[test]
fn symlinks_to_the_canary_directory() {
    // Absolute and relative, to the directory.
    let s = sandbox();
    let out = s.outside_abs();
    let r = s.unpack(Layer::new().symlink("abs", &out).file("abs/canary", 0o644, b"owned"));
    assert!(matches!(&r, Err(UnpackError::Io { path, .. }) if path == "abs/canary"), "{r:?}");
    s.host_untouched();
    let s = sandbox();
    let r = s.unpack(Layer::new().symlink("rel", "../outside").file("rel/new", 0o644, b"owned"));
    assert!(matches!(&r, Err(UnpackError::Io { path, .. }) if path == "rel/new"), "{r:?}");
    s.host_untouched();
    // `..` stops at dest: deep/new is dest/new.
    let s = sandbox();
    s.unpack(Layer::new().symlink("deep", "../../../../../../../../..").file("deep/new", 0o644, b"inside")).expect("unpack");
    assert_eq!(s.read("new"), "inside");
    s.host_untouched();

    // A symlink at the leaf is replaced, never written through.
    let s = sandbox();
    s.unpack(Layer::new().symlink("c", &format!("{out}/canary")).file("c", 0o644, b"replaced")).expect("unpack");
    assert_eq!(s.read("c"), "replaced");
    assert!(s.meta("c").is_file());
    s.host_untouched();

    // With the same path created inside dest by the layer, the entry goes there.
    let s = sandbox();
    let inner = out.trim_start_matches('/');
    s.unpack(Layer::new().dir(&format!("{inner}/"), 0o755).symlink("abs", &out).file("abs/canary", 0o644, b"inside")).expect("unpack");
    assert_eq!(s.read(&format!("{inner}/canary")), "inside");
    s.host_untouched();
}

#[test]
fn symlink_chains_and_loops() {
    let s = sandbox();
    let out = s.outside_abs();
    let r = s
        .unpack(Layer::new().symlink("a", "b").symlink("b", "c/../d").dir("c/", 0o755).symlink("d", &format!("/x/../{out}")).file("a/canary", 0o644, b"owned"));
    assert!(r.is_err(), "{r:?}");
    s.host_untouched();

    let s = sandbox();
    s.unpack(Layer::new().dir("z/", 0o755).symlink("x", "y").symlink("y", "/w").symlink("w", "../../z").file("x/f", 0o644, b"chained")).expect("unpack");
    assert_eq!(s.read("z/f"), "chained");
    s.host_untouched();

    let s = sandbox();
    let r = s.unpack(Layer::new().symlink("a", "b").symlink("b", "a").file("a/f", 0o644, b""));
    assert!(matches!(&r, Err(UnpackError::Io { source, .. }) if source.raw_os_error() == Some(libc::ELOOP)), "{r:?}");
    s.host_untouched();
}

// ---------------------------------------------------------------------------------------------
// Hard links

#[test]
fn hard_link_to_host_passwd_is_refused() {
    for target in ["/etc/passwd", "etc/passwd", "../../../../etc/passwd"] {
        let s = sandbox();
        let r = s.unpack(Layer::new().link("x", target));
        assert!(matches!(&r, Err(UnpackError::LinkTarget { path, target: t, .. }) if path == "x" && t == target), "{target}: {r:?}");
        assert!(!s.exists("x"));
        s.host_untouched();
    }
}

#[test]
fn hard_link_escaping_with_dotdot_is_refused() {
    for target in ["../../x", "../outside/canary", "a/../../outside/canary"] {
        let s = sandbox();
        let r = s.unpack(Layer::new().dir("a/", 0o755).link("x", target));
        assert!(matches!(&r, Err(UnpackError::LinkTarget { what, .. }) if what.contains("climbs")), "{target}: {r:?}");
        s.host_untouched();
    }
}

#[test]
fn hard_link_through_symlink_out_of_dest_is_refused() {
    let s = sandbox();
    let out = s.outside_abs();
    for (link, target) in [(out.as_str(), "evil/canary"), ("../outside", "evil/canary"), ("/etc", "evil/passwd")] {
        let r = s.unpack(Layer::new().symlink("evil", link).link("x", target));
        assert!(matches!(&r, Err(UnpackError::LinkTarget { .. })), "{link} {target}: {r:?}");
        assert!(!s.exists("x"));
        fs::remove_file(s.path("evil")).expect("reset");
    }
    s.host_untouched();
}

#[test]
fn hard_link_to_a_symlink_links_the_symlink() {
    let s = sandbox();
    let out = s.outside_abs();
    s.unpack(Layer::new().symlink("s", "/etc/passwd").link("x", "s").symlink("c", &format!("{out}/canary")).link("y", "/c")).expect("unpack");
    let x = s.meta("x");
    assert!(x.file_type().is_symlink());
    assert_eq!(x.ino(), s.meta("s").ino());
    assert!(s.meta("y").file_type().is_symlink());
    s.host_untouched();
}

#[test]
fn hard_link_to_a_missing_or_later_target() {
    let s = sandbox();
    let r = s.unpack(Layer::new().link("x", "later").file("later", 0o644, b"too late"));
    let e = r.expect_err("missing target");
    assert!(matches!(&e, UnpackError::LinkTarget { path, target, what } if path == "x" && target == "later" && what.contains("no such file")), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("\"x\"") && msg.contains("\"later\""), "{msg}");

    let s = sandbox();
    let r = s.unpack(Layer::new().link("x", "nodir/missing"));
    assert!(matches!(&r, Err(UnpackError::LinkTarget { .. })), "{r:?}");

    let s = sandbox();
    let r = s.unpack(Layer::new().dir("d/", 0o755).link("x", "d"));
    assert!(matches!(&r, Err(UnpackError::LinkTarget { what, .. }) if what.contains("directory")), "{r:?}");
    s.host_untouched();
}

#[test]
fn hard_links_inside_the_layer() {
    let s = sandbox();
    s.unpack(Layer::new().file("a", 0o644, b"a").link("b", "a").link("/c", "/a").link("a", "a").file("d", 0o644, b"d").link("d", "a")).expect("unpack");
    let ino = s.meta("a").ino();
    for n in ["b", "c", "d"] {
        assert_eq!(s.meta(n).ino(), ino, "{n}");
    }
    assert_eq!(s.meta("a").nlink(), 4);
    s.host_untouched();
}

// ---------------------------------------------------------------------------------------------
// Whiteouts

#[test]
fn whiteouts_in_overlay_format() {
    let s = sandbox();
    let stats = s
        .unpack(
            Layer::new()
                .dir("d/", 0o755)
                .file("d/.wh.gone", 0o644, b"")
                .file("o/.wh..wh..opq", 0o644, b"")
                .file(".wh..wh.plnk", 0o644, b"")
                .file("same/.wh.kept", 0o644, b"")
                .file("same/kept", 0o644, b"this layer's")
                .file("same/mine", 0o644, b"this layer's")
                .file("same/.wh.mine", 0o644, b"")
                .file("same/.wh.dir", 0o644, b"")
                .dir("same/dir/", 0o755)
                .dir("same/dir2/", 0o755)
                .file("same/.wh.dir2", 0o644, b""),
        )
        .expect("unpack");
    let gone = s.meta("d/gone");
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert!(!s.exists("d/.wh.gone"));
    assert_eq!(xattr(&s.path("o"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert!(!s.exists("o/.wh..wh..opq"));
    assert!(!s.exists(".wh..wh.plnk") && !s.exists(".wh.plnk"));
    // Same-layer entries win over the whiteout either way round; a directory becomes opaque.
    assert_eq!(s.read("same/kept"), "this layer's");
    assert_eq!(s.read("same/mine"), "this layer's");
    assert_eq!(xattr(&s.path("same/dir"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert_eq!(xattr(&s.path("same/dir2"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert_eq!(xattr(&s.path("same"), "trusted.overlay.opaque"), None);
    assert_eq!((stats.whiteouts, stats.opaque_dirs), (3, 3));
    s.host_untouched();
}

#[test]
fn whiteouts_cannot_reach_outside() {
    let s = sandbox();
    let r = s.unpack(Layer::new().file("../outside/.wh.canary", 0o644, b""));
    assert!(matches!(&r, Err(UnpackError::PathEscapes { .. })), "{r:?}");
    let r = s.unpack(Layer::new().file("../.wh.outside", 0o644, b""));
    assert!(matches!(&r, Err(UnpackError::PathEscapes { .. })), "{r:?}");
    let r = s.unpack(Layer::new().file(".wh...", 0o644, b""));
    assert!(matches!(&r, Err(UnpackError::InvalidPath { .. })), "{r:?}");
    s.host_untouched();

    let out = s.outside_abs();
    for link in [out.as_str(), "../outside"] {
        for marker in [".wh.canary", ".wh..wh..opq"] {
            let s = sandbox();
            let r = s.unpack(Layer::new().symlink("evil", link).file(&format!("evil/{marker}"), 0o644, b""));
            assert!(matches!(&r, Err(UnpackError::Io { .. })), "{link} {marker}: {r:?}");
            s.host_untouched();
        }
    }

    // Through a symlink to `/`: the whiteout and the opaque marker land on dest.
    let s = sandbox();
    let top = host_root_name("wh");
    s.unpack(Layer::new().symlink("evil", "/").file(&format!("evil/.wh.{top}"), 0o644, b"").file("evil/.wh..wh..opq", 0o644, b"")).expect("unpack");
    assert!(s.meta(&top).file_type().is_char_device());
    assert_eq!(xattr(&s.dest, "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert_eq!(xattr(Path::new("/"), "trusted.overlay.opaque"), None);
    assert!(!Path::new("/").join(&top).exists());
    s.host_untouched();
}

// ---------------------------------------------------------------------------------------------
// Xattrs

#[test]
fn xattrs_are_set_and_overlay_ones_refused() {
    let s = sandbox();
    // A v2 capability set (cap_dac_override, cap_fowner: 0x0a, a newline byte) for the PAX parser.
    let caps: &[u8] = &[0x01, 0, 0, 0x02, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    s.unpack(
        Layer::new()
            .pax(&[("SCHILY.xattr.user.dir", b"d")])
            .dir("d/", 0o755)
            .pax(&[("SCHILY.xattr.security.capability", caps), ("SCHILY.xattr.user.note", b"multi\nline")])
            .owned_file("d/ping", 0o755, 1000, 1000)
            .pax(&[("SCHILY.xattr.trusted.link", b"l")])
            .symlink("d/link", "ping"),
    )
    .expect("unpack");
    assert_eq!(xattr(&s.path("d"), "user.dir").as_deref(), Some(&b"d"[..]));
    assert_eq!(xattr(&s.path("d/ping"), "security.capability").as_deref(), Some(caps), "set after chown, which clears it");
    assert_eq!(xattr(&s.path("d/ping"), "user.note").as_deref(), Some(&b"multi\nline"[..]));
    assert_eq!(xattr(&s.path("d/link"), "trusted.link").as_deref(), Some(&b"l"[..]));
    assert_eq!(s.meta("d/ping").uid(), 1000);

    for name in ["trusted.overlay.opaque", "trusted.overlay.redirect", "user.overlay.opaque"] {
        let s = sandbox();
        let r = s.unpack(Layer::new().pax(&[(&format!("SCHILY.xattr.{name}"), b"y")]).dir("d/", 0o755));
        assert!(matches!(&r, Err(UnpackError::ForbiddenXattr { path, name: n, .. }) if path == "d/" && n == name), "{r:?}");
        assert!(!s.exists("d"), "nothing is created for a refused entry");
    }
    s.host_untouched();
}

// ---------------------------------------------------------------------------------------------
// Entry types, modes, owners, times

#[test]
fn devices_and_fifos() {
    let s = sandbox();
    s.unpack(
        Layer::new()
            .device(EntryType::Char, "dev/null", 0o666, 1, 3)
            .device(EntryType::Block, "dev/loop0", 0o660, 7, 0)
            .raw(header(EntryType::Fifo, b"run/fifo", b"", 0o620), b""),
    )
    .expect("unpack");
    let null = s.meta("dev/null");
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert_eq!(mode(&null), 0o666);
    let lo = s.meta("dev/loop0");
    assert!(lo.file_type().is_block_device());
    assert_eq!(lo.rdev(), libc::makedev(7, 0));
    assert_eq!(mode(&lo), 0o660);
    let fifo = s.meta("run/fifo");
    assert!(fifo.file_type().is_fifo());
    assert_eq!(mode(&fifo), 0o620);
    assert_eq!(fifo.mtime(), 1_600_000_000);
}

#[test]
fn modes_setuid_and_restrictive_directories() {
    let s = sandbox();
    s.unpack(
        Layer::new()
            .raw(header(EntryType::Directory, b"./", b"", 0o750), b"")
            .dir("ro/", 0o555)
            .file("ro/f", 0o444, b"f")
            .dir("none/", 0o000)
            .dir("none/sub/", 0o000)
            .file("none/sub/f", 0o000, b"f")
            .owned_file("su", 0o4755, 1000, 1000)
            .owned_file("wall", 0o2755, 0, 5)
            .dir("shared/", 0o2775)
            .dir("tmp/", 0o1777),
    )
    .expect("unpack");
    assert_eq!(mode(&fs::metadata(&s.dest).expect("dest")), 0o750);
    assert_eq!(mode(&s.meta("ro")), 0o555);
    assert_eq!(s.read("ro/f"), "f");
    assert_eq!(mode(&s.meta("none")), 0o000);
    assert_eq!(mode(&s.meta("none/sub")), 0o000);
    assert_eq!(s.read("none/sub/f"), "f");
    let su = s.meta("su");
    assert_eq!((mode(&su), su.uid(), su.gid()), (0o4755, 1000, 1000));
    let wall = s.meta("wall");
    assert_eq!((mode(&wall), wall.gid()), (0o2755, 5));
    assert_eq!(mode(&s.meta("shared")), 0o2775);
    assert_eq!(mode(&s.meta("tmp")), 0o1777);
}

#[test]
fn times() {
    let s = sandbox();
    let mut d = header(EntryType::Directory, b"d/", b"", 0o755);
    d.set_mtime(1_400_000_000);
    let mut f = header(EntryType::Regular, b"d/f", b"", 0o644);
    f.set_mtime(1_500_000_000);
    let mut l = header(EntryType::Symlink, b"d/l", b"f", 0o777);
    l.set_mtime(1_300_000_000);
    s.unpack(Layer::new().raw(d, b"").raw(f, b"f").raw(l, b"").pax(&[("mtime", b"1500000000.5"), ("atime", b"1200000000")]).file("d/p", 0o644, b""))
        .expect("unpack");
    assert_eq!(s.meta("d").mtime(), 1_400_000_000);
    assert_eq!(s.meta("d/f").mtime(), 1_500_000_000);
    assert_eq!(s.meta("d/l").mtime(), 1_300_000_000);
    let p = s.meta("d/p");
    assert_eq!((p.mtime(), p.mtime_nsec(), p.atime()), (1_500_000_000, 500_000_000, 1_200_000_000));
}

#[test]
fn user_namespace_shift() {
    let s = sandbox();
    let opts = UnpackOptions { id_map: Some(IdShift::single(100_000, 65536)) };
    let layer =
        Layer::new().owned_file("a/f", 0o644, 1000, 2000).symlink("a/l", "f").dir("d/", 0o755).pax(&[("uid", b"65535")]).owned_file("top", 0o4755, 1, 1);
    s.unpack_bytes(&layer.tar(), None, &opts).expect("unpack");
    let f = s.meta("a/f");
    assert_eq!((f.uid(), f.gid()), (101_000, 102_000));
    let a = s.meta("a");
    assert_eq!((a.uid(), a.gid(), mode(&a)), (100_000, 100_000, 0o755), "a missing parent belongs to the container's root");
    let l = s.meta("a/l");
    assert_eq!((l.uid(), l.gid()), (100_000, 100_000));
    assert_eq!(s.meta("d").uid(), 100_000);
    let top = s.meta("top");
    assert_eq!((top.uid(), top.gid(), mode(&top)), (165_535, 100_001, 0o4755));

    // Ids the mapping does not cover.
    let s = sandbox();
    let r = s.unpack_bytes(&Layer::new().owned_file("x", 0o644, 70_000, 0).tar(), None, &opts);
    assert!(matches!(&r, Err(UnpackError::IdNotMapped { path, kind: "uid", id: 70_000 }) if path == "x"), "{r:?}");
    assert!(!s.exists("x"));
    let split = UnpackOptions { id_map: Some(IdShift { uid: vec![IdMapping { container_id: 0, host_id: 5000, size: 10 }], gid: vec![] }) };
    let r = s.unpack_bytes(&Layer::new().owned_file("y", 0o644, 1, 1).tar(), None, &split);
    assert!(matches!(&r, Err(UnpackError::IdNotMapped { kind: "gid", id: 1, .. })), "{r:?}");
    // Without a mapping, an id beyond 32 bits (PAX) is refused too.
    let r = s.unpack(Layer::new().pax(&[("uid", b"4294967296")]).file("z", 0o644, b""));
    assert!(matches!(&r, Err(UnpackError::IdNotMapped { .. })), "{r:?}");
}

#[test]
fn later_entries_replace_earlier_ones() {
    let s = sandbox();
    s.unpack(
        Layer::new()
            .file("f", 0o644, b"one")
            .file("f", 0o600, b"two")
            .dir("d/", 0o755)
            .file("d/x", 0o644, b"x")
            .dir("d/", 0o700)
            .file("s", 0o644, b"file")
            .symlink("s", "f")
            .dir("t/", 0o755)
            .dir("t/u/", 0o555)
            .file("t/u/v", 0o644, b"v")
            .file("t", 0o644, b"was a tree")
            .symlink("n", "/")
            .dir("n/", 0o711),
    )
    .expect("unpack");
    assert_eq!(s.read("f"), "two");
    assert_eq!(mode(&s.meta("f")), 0o600);
    assert_eq!(s.read("d/x"), "x");
    assert_eq!(mode(&s.meta("d")), 0o700);
    assert_eq!(fs::read_link(s.path("s")).expect("s"), Path::new("f"));
    assert_eq!(s.read("t"), "was a tree");
    assert!(s.meta("n").is_dir());
    assert_eq!(mode(&s.meta("n")), 0o711);
    s.host_untouched();
}

// ---------------------------------------------------------------------------------------------
// Broken and unsupported input

#[test]
fn destination_must_be_empty() {
    let s = sandbox();
    fs::write(s.path("old"), "x").expect("old");
    let r = s.unpack(Layer::new().file("f", 0o644, b""));
    assert!(matches!(&r, Err(UnpackError::Dest { what, .. }) if what.contains("not empty")), "{r:?}");
}

#[test]
fn truncated_and_corrupt_blobs() {
    let s = sandbox();
    let tar = Layer::new().file("f", 0o644, &[7u8; 10_000]).tar();
    let r = s.unpack_bytes(&tar[..3000], None, &UnpackOptions::default());
    assert!(matches!(&r, Err(UnpackError::Truncated { path, .. }) if path == "f"), "{r:?}");

    let s = sandbox();
    let r = s.unpack_bytes(&tar[..700], None, &UnpackOptions::default());
    assert!(matches!(&r, Err(UnpackError::Truncated { .. })), "{r:?}");

    // A gzip blob whose CRC is wrong: found when the blob is read to its end.
    let s = sandbox();
    let mut gz = gzip(&tar);
    let n = gz.len();
    gz[n - 8] ^= 0xff;
    let r = s.unpack_bytes(&gz, None, &UnpackOptions::default());
    assert!(matches!(&r, Err(UnpackError::Read { .. })), "{r:?}");

    // A header with a bad checksum.
    let s = sandbox();
    let mut tar = Layer::new().file("f", 0o644, b"").tar();
    tar[0] = b'g';
    let r = s.unpack_bytes(&tar, None, &UnpackOptions::default());
    assert!(matches!(&r, Err(UnpackError::Malformed { what, .. }) if what.contains("checksum")), "{r:?}");
}

#[test]
fn unsupported_entry_types() {
    let s = sandbox();
    let r = s.unpack(Layer::new().raw(header(EntryType::GNUSparse, b"sparse", b"", 0o644), b""));
    assert!(matches!(&r, Err(UnpackError::Unsupported { path, .. }) if path == "sparse"), "{r:?}");
    let r = s.unpack(Layer::new().pax(&[("GNU.sparse.major", b"1")]).file("sparse", 0o644, b""));
    assert!(matches!(&r, Err(UnpackError::Unsupported { .. })), "{r:?}");
    let r = s.unpack(Layer::new().raw(header(EntryType::new(b'V'), b"volume", b"", 0o644), b""));
    assert!(matches!(&r, Err(UnpackError::Unsupported { .. })), "{r:?}");
    // A global PAX header is skipped.
    let mut g = Header::new_ustar();
    g.set_entry_type(EntryType::XGlobalHeader);
    let s = sandbox();
    s.unpack(Layer::new().raw(g, b"52 comment=cf6d8b8d1a0c6bbce3cc23a3a9d25dfa34b3e3d4\n").file("f", 0o644, b"f")).expect("unpack");
    assert_eq!(s.read("f"), "f");
}
