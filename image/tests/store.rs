//! The store against content that lies about itself: a layer whose uncompressed tar is not what
//! the image's config says (its diff_id) must be refused, leaving no layer and no temporary
//! behind, so that one image cannot plant content under another image's layer key. Runs as root
//! (unpacking keeps owners).

use std::fs;
use std::path::Path;

use rcontainer_image::digest::Digest;
use rcontainer_image::{Error, LayerRecord, Store};

const PLAIN_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// A one-file plain tar layer.
fn layer(content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_path("etc/motd").expect("path");
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    b.append(&h, content).expect("append");
    b.into_inner().expect("tar")
}

fn entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir).map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
}

#[test]
fn a_layer_whose_content_is_not_its_diff_id_is_refused_and_nothing_stays() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: unpacking keeps owners, run as root");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("store")).expect("store");
    let evil = layer(b"planted\n");
    let digest = Digest::of(&evil);
    store.put_blob("layer", &digest, Some(evil.len() as u64), &evil[..]).expect("put the blob (its digest is right)");
    // The config claims the diff_id of another, innocent layer.
    let innocent = Digest::of(&layer(b"hello\n"));
    let record = LayerRecord { digest: digest.to_string(), media_type: PLAIN_TAR.into(), size: evil.len() as u64, diff_id: innocent.to_string() };
    match store.ensure_layer(&record) {
        Err(Error::DigestMismatch { expected, actual, .. }) => {
            assert_eq!(expected, innocent.to_string());
            assert_eq!(actual, digest.to_string(), "a plain tar's diff_id is its digest");
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert!(!store.layer_path(&innocent).exists(), "the innocent layer's key got the planted content");
    assert_eq!(entries(&dir.path().join("store/layers")), Vec::<String>::new(), "a layer stayed");
    assert_eq!(entries(&dir.path().join("store/tmp")), Vec::<String>::new(), "a temporary stayed");

    // The same blob under its true diff_id unpacks.
    let honest = LayerRecord { diff_id: digest.to_string(), ..record };
    let path = store.ensure_layer(&honest).expect("unpack under the true diff_id");
    assert_eq!(fs::read_to_string(path.join("etc/motd")).expect("motd"), "planted\n");
}
