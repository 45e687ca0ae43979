//! The image functions' errors, from Rust (no container, no root needed): an image the store
//! lacks with no registry to pull it from, references that do not parse, a store path the store
//! cannot use, and what an error leaves (out parameters untouched, the spec unchanged). Each
//! test has a store of its own in a temporary directory, removed when it ends, failed or not.

mod common;

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use common::TempStore;
use container_core::*;

/// (kind, message) of `err` (then freed); None for success.
fn take(err: *mut rcontainer_error_t) -> Option<(i32, String)> {
    if err.is_null() {
        return None;
    }
    // SAFETY: a live error from the library, freed once here.
    unsafe {
        let r = (rcontainer_error_kind(err), CStr::from_ptr(rcontainer_error_message(err)).to_string_lossy().into_owned());
        rcontainer_error_free(err);
        Some(r)
    }
}

fn expect_err(err: *mut rcontainer_error_t, kind: i32, needles: &[&str]) -> String {
    let (k, msg) = take(err).expect("an error");
    assert_eq!(k, kind, "kind {k}, wanted {kind}: {msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} does not name {n:?}");
    }
    msg
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

/// A store handle on a temporary store (freed with the guard).
struct Open {
    store: *mut rcontainer_store_t,
    tmp: TempStore,
}

impl Open {
    fn new() -> Open {
        let tmp = TempStore::new();
        let path = c(tmp.path().to_str().expect("utf-8"));
        let mut store = ptr::null_mut();
        // SAFETY: valid C string and out pointer.
        assert!(take(unsafe { rcontainer_store_open(path.as_ptr(), &mut store) }).is_none());
        Open { store, tmp }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        // SAFETY: our handle, freed once.
        unsafe { rcontainer_store_free(self.store) };
    }
}

#[test]
fn an_image_the_store_lacks_with_no_registry() {
    let o = Open::new();
    let store_path = o.tmp.path().to_str().expect("utf-8").to_string();
    let spec = rcontainer_spec_new();
    let image = c("nothing-here:1");
    let mut before: *mut c_char = ptr::null_mut();
    // SAFETY (every call below): live handles, valid C strings, out pointers or NULL.
    unsafe {
        assert!(take(rcontainer_spec_to_json(spec, &mut before)).is_none());
        // set_image never pulls: NOT_FOUND, naming the image and the store.
        expect_err(
            rcontainer_spec_set_image(spec, o.store, image.as_ptr(), ptr::null(), ptr::null()),
            RCONTAINER_ERROR_NOT_FOUND,
            &["nothing-here:1", &store_path],
        );
        // The spec is as it was.
        let mut after: *mut c_char = ptr::null_mut();
        assert!(take(rcontainer_spec_to_json(spec, &mut after)).is_none());
        assert_eq!(CStr::from_ptr(before), CStr::from_ptr(after));
        rcontainer_string_free(before);
        rcontainer_string_free(after);

        // A registry nobody listens on (port 1 of this host): OS with the connection's errno,
        // naming the reference, and the name out parameter untouched. With IF_MISSING too, since
        // the store lacks it.
        let reference = c("127.0.0.1:1/nothing-here:1");
        for flags in [RCONTAINER_PULL_PLAIN_HTTP, RCONTAINER_PULL_PLAIN_HTTP | RCONTAINER_PULL_IF_MISSING] {
            let mut name = 0x5a5a as *mut c_char;
            let err = rcontainer_image_pull(o.store, reference.as_ptr(), flags, ptr::null(), ptr::null(), &mut name);
            assert_eq!(rcontainer_error_errno(err), libc::ECONNREFUSED);
            expect_err(err, RCONTAINER_ERROR_OS, &["127.0.0.1:1/nothing-here:1"]);
            assert_eq!(name as usize, 0x5a5a);
        }
        // Credentials are passed along (and never appear in the message).
        let (user, password) = (c("someone"), c("s3cret-passw0rd"));
        let msg = expect_err(
            rcontainer_image_pull(o.store, reference.as_ptr(), RCONTAINER_PULL_PLAIN_HTTP, user.as_ptr(), password.as_ptr(), ptr::null_mut()),
            RCONTAINER_ERROR_OS,
            &["nothing-here"],
        );
        assert!(!msg.contains("s3cret-passw0rd"), "{msg}");

        // Removing it: NOT_FOUND too.
        expect_err(rcontainer_image_remove(o.store, image.as_ptr(), ptr::null()), RCONTAINER_ERROR_NOT_FOUND, &["nothing-here:1"]);
        // And the store is still empty and usable.
        let mut list = ptr::null_mut();
        assert!(take(rcontainer_image_list(o.store, &mut list)).is_none());
        assert_eq!(rcontainer_image_list_count(list), 0);
        assert!(
            rcontainer_image_list_name(list, 0).is_null() && rcontainer_image_list_tag(list, 0).is_null() && rcontainer_image_list_created(list, 0).is_null()
        );
        rcontainer_image_list_free(list);
        rcontainer_spec_free(spec);
    }
}

#[test]
fn references_that_do_not_parse() {
    let o = Open::new();
    // SAFETY (every call below): live handles, valid C strings, out pointers or NULL.
    unsafe {
        for bad in ["Not A Reference", "repo/UPPER", "repo@sha256:zz", "", "a\tb"] {
            let r = c(bad);
            let mut name = 0x5a5a as *mut c_char;
            let msg = expect_err(rcontainer_image_pull(o.store, r.as_ptr(), 0, ptr::null(), ptr::null(), &mut name), RCONTAINER_ERROR_INVALID_CONFIG, &[]);
            assert!(msg.contains(&format!("{bad:?}").replace('\t', "\\t")) || msg.contains(bad), "{msg:?} does not name {bad:?}");
            assert_eq!(name as usize, 0x5a5a);
        }
        // An import name that does not parse: named in the error (the path is read first, so a
        // missing path is what is reported for it).
        let missing = c(&o.tmp.path().join("no-such-layout").to_string_lossy());
        let name = c("Bad Name");
        let mut list = 0x5a5a as *mut rcontainer_image_list_t;
        expect_err(rcontainer_image_import(o.store, missing.as_ptr(), name.as_ptr(), &mut list), RCONTAINER_ERROR_OS, &["no-such-layout"]);
        assert_eq!(list as usize, 0x5a5a);
        // set_image on a name that does not parse: not in the store (names never parse into
        // something else).
        let spec = rcontainer_spec_new();
        let bad = c("Not A Reference");
        expect_err(rcontainer_spec_set_image(spec, o.store, bad.as_ptr(), ptr::null(), ptr::null()), RCONTAINER_ERROR_NOT_FOUND, &["Not A Reference"]);
        rcontainer_spec_free(spec);
    }
}

#[test]
fn bad_arguments() {
    let o = Open::new();
    // SAFETY (every call below): live handles or NULL, valid C strings, out pointers or NULL.
    unsafe {
        let r = c("busybox");
        expect_err(
            rcontainer_image_pull(ptr::null_mut(), r.as_ptr(), 0, ptr::null(), ptr::null(), ptr::null_mut()),
            RCONTAINER_ERROR_INVALID_ARGUMENT,
            &["store is NULL"],
        );
        expect_err(
            rcontainer_image_pull(o.store, ptr::null(), 0, ptr::null(), ptr::null(), ptr::null_mut()),
            RCONTAINER_ERROR_INVALID_ARGUMENT,
            &["reference is NULL"],
        );
        let not_utf8 = CString::new(vec![b'b', 0xff]).expect("no NUL");
        expect_err(
            rcontainer_image_pull(o.store, not_utf8.as_ptr(), 0, ptr::null(), ptr::null(), ptr::null_mut()),
            RCONTAINER_ERROR_INVALID_ARGUMENT,
            &["UTF-8"],
        );
        expect_err(
            rcontainer_image_pull(o.store, r.as_ptr(), 4, ptr::null(), ptr::null(), ptr::null_mut()),
            RCONTAINER_ERROR_INVALID_ARGUMENT,
            &["flags = 0x4"],
        );
        let pw = c("pw");
        expect_err(rcontainer_image_pull(o.store, r.as_ptr(), 0, ptr::null(), pw.as_ptr(), ptr::null_mut()), RCONTAINER_ERROR_INVALID_ARGUMENT, &["username"]);
        expect_err(rcontainer_image_list(ptr::null_mut(), &mut ptr::null_mut()), RCONTAINER_ERROR_INVALID_ARGUMENT, &["store is NULL"]);
        expect_err(rcontainer_image_remove(o.store, not_utf8.as_ptr(), ptr::null()), RCONTAINER_ERROR_INVALID_ARGUMENT, &["UTF-8"]);

        // A store path the store cannot use (overlayfs options split at ',' and ':').
        let bad_path = o.tmp.path().join("a:b");
        let p = c(bad_path.to_str().expect("utf-8"));
        let mut s = 0x5a5a as *mut rcontainer_store_t;
        expect_err(rcontainer_store_open(p.as_ptr(), &mut s), RCONTAINER_ERROR_INVALID_CONFIG, &["a:b"]);
        assert_eq!(s as usize, 0x5a5a);
        assert!(!bad_path.exists(), "a refused store path was created");

        // A freed store: refused, never dereferenced.
        let tmp = TempStore::new();
        let path = c(tmp.path().to_str().expect("utf-8"));
        let mut freed = ptr::null_mut();
        assert!(take(rcontainer_store_open(path.as_ptr(), &mut freed)).is_none());
        assert_eq!(CStr::from_ptr(rcontainer_store_path(freed)).to_str().ok(), tmp.path().to_str());
        rcontainer_store_free(freed);
        assert!(rcontainer_store_path(freed).is_null());
        expect_err(rcontainer_image_list(freed, &mut ptr::null_mut()), RCONTAINER_ERROR_INVALID_ARGUMENT, &["freed already"]);
        rcontainer_store_free(freed);
    }
}
