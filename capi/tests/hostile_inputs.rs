//! Property tests over the C ABI's entry points with hostile arguments: random bytes (control
//! characters, `..`, long strings, invalid UTF-8) as every string, NULLs, and strings that are
//! JSON-shaped but wrong. No call may crash or leak; each returns success or an error object
//! whose message is one line of text.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use container_core::*;
use proptest::prelude::*;

/// The message of `err` (then freed); None for success.
fn take(err: *mut rcontainer_error_t) -> Option<String> {
    if err.is_null() {
        return None;
    }
    // SAFETY: a live error object from the library; its message lives until it is freed.
    let msg = unsafe { CStr::from_ptr(rcontainer_error_message(err)) }.to_string_lossy().into_owned();
    // SAFETY: ours to free, once.
    unsafe { rcontainer_error_free(err) };
    Some(msg)
}

fn one_line(msg: &Option<String>) -> Result<(), TestCaseError> {
    if let Some(m) = msg {
        prop_assert!(!m.is_empty() && !m.chars().any(char::is_control), "{m:?}");
    }
    Ok(())
}

fn text() -> impl Strategy<Value = CString> {
    prop_oneof![
        prop::collection::vec(1u8..=255, 0..80),
        "[ -~]{0,40}".prop_map(String::into_bytes),
        prop_oneof![Just("a\nforged\u{1b}[2J"), Just("../../etc"), Just("/proc/self/fd/3"), Just("{\"ociVersion\": 1}"), Just("x=y"), Just("net"), Just("")]
            .prop_map(|s| s.as_bytes().to_vec()),
        Just(vec![b'x'; 5000]),
    ]
    .prop_map(|b| CString::new(b).unwrap_or_default())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn spec_entry_points_take_hostile_strings(a in text(), b in text(), c in text(), args in prop::collection::vec(text(), 0..4)) {
        let bundle = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let bundle_c = CString::new(bundle.path().as_os_str().as_encoded_bytes()).unwrap_or_default();
        let mut parsed: *mut rcontainer_spec_t = ptr::null_mut();
        // SAFETY: valid C strings and out-pointer, as a C caller would pass them.
        let r = take(unsafe { rcontainer_spec_from_json(a.as_ptr(), bundle_c.as_ptr(), &mut parsed) });
        one_line(&r)?;
        prop_assert!(r.is_some() || !parsed.is_null());
        // SAFETY: NULL or a spec from the library, freed once.
        unsafe { rcontainer_spec_free(parsed) };

        let spec = rcontainer_spec_new();
        let mut argv: Vec<*const c_char> = args.iter().map(|s| s.as_ptr()).collect();
        argv.push(ptr::null());
        // SAFETY (every call below): `spec` is live; strings are valid C strings or NULL;
        // arrays are NULL-terminated.
        unsafe {
            one_line(&take(rcontainer_spec_set_args(spec, argv.as_ptr())))?;
            one_line(&take(rcontainer_spec_set_env(spec, a.as_ptr(), b.as_ptr())))?;
            one_line(&take(rcontainer_spec_set_cwd(spec, c.as_ptr())))?;
            one_line(&take(rcontainer_spec_set_hostname(spec, a.as_ptr())))?;
            one_line(&take(rcontainer_spec_set_namespace(spec, b.as_ptr(), true, c.as_ptr())))?;
            one_line(&take(rcontainer_spec_set_namespace(spec, a.as_ptr(), false, ptr::null())))?;
            one_line(&take(rcontainer_spec_add_mount(spec, a.as_ptr(), b.as_ptr(), c.as_ptr(), argv.as_ptr())))?;
            one_line(&take(rcontainer_spec_add_mount(spec, ptr::null(), ptr::null(), ptr::null(), ptr::null())))?;
            one_line(&take(rcontainer_spec_add_bind(spec, a.as_ptr(), c.as_ptr(), true)))?;
            one_line(&take(rcontainer_spec_set_rootfs(spec, b.as_ptr())))?;
            one_line(&take(rcontainer_spec_set_memory(spec, i64::MIN)))?;
            let mut json: *mut c_char = ptr::null_mut();
            one_line(&take(rcontainer_spec_to_json(spec, &mut json)))?;
            rcontainer_string_free(json);
            rcontainer_spec_free(spec);
        }

        // Loading a container by a hostile id from an empty state root: an error, never a path
        // outside it.
        let root = CString::new(bundle.path().join("state").as_os_str().as_encoded_bytes()).unwrap_or_default();
        let mut c_out: *mut rcontainer_container_t = ptr::null_mut();
        // SAFETY: valid C strings and out-pointer.
        let r = take(unsafe { rcontainer_container_load(root.as_ptr(), a.as_ptr(), &mut c_out) });
        one_line(&r)?;
        prop_assert!(r.is_some(), "a container was found in an empty state root");
        // SAFETY: NULL (nothing was loaded).
        unsafe { rcontainer_container_free(c_out) };
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    /// The image entry points over an empty store of their own: hostile names, references,
    /// entrypoints, arguments and indices give one-line errors (never a pull: the flags given to
    /// rcontainer_image_pull() are refused before any network I/O), out parameters untouched.
    #[test]
    fn image_entry_points_take_hostile_strings(a in text(), b in text(), args in prop::collection::vec(text(), 0..4), index in any::<usize>()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let dir_c = CString::new(dir.path().join("store").as_os_str().as_encoded_bytes()).unwrap_or_default();
        let missing = CString::new(dir.path().join("no-layout").as_os_str().as_encoded_bytes()).unwrap_or_default();
        let mut store: *mut rcontainer_store_t = ptr::null_mut();
        // SAFETY: a valid C string and out pointer.
        let opened = take(unsafe { rcontainer_store_open(dir_c.as_ptr(), &mut store) });
        prop_assert!(opened.is_none(), "{opened:?}");
        let spec = rcontainer_spec_new();
        let mut argv: Vec<*const c_char> = args.iter().map(|s| s.as_ptr()).collect();
        argv.push(ptr::null());
        // SAFETY (every call below): live handles; valid C strings or NULL; NULL-terminated arrays;
        // writable out pointers.
        unsafe {
            let r = take(rcontainer_spec_set_image(spec, store, a.as_ptr(), b.as_ptr(), argv.as_ptr()));
            one_line(&r)?;
            prop_assert!(r.is_some(), "an image was found in an empty store");
            one_line(&take(rcontainer_spec_set_image(spec, store, b.as_ptr(), ptr::null(), ptr::null())))?;
            let mut name = 0x5a5a as *mut c_char;
            let r = take(rcontainer_image_pull(store, a.as_ptr(), 1 << 31, b.as_ptr(), a.as_ptr(), &mut name));
            one_line(&r)?;
            prop_assert!(r.is_some() && name as usize == 0x5a5a);
            let mut list = 0x5a5a as *mut rcontainer_image_list_t;
            let r = take(rcontainer_image_import(store, missing.as_ptr(), a.as_ptr(), &mut list));
            one_line(&r)?;
            prop_assert!(r.is_some() && list as usize == 0x5a5a);
            let r = take(rcontainer_image_remove(store, a.as_ptr(), b.as_ptr()));
            one_line(&r)?;
            prop_assert!(r.is_some(), "an image was removed from an empty store");
            let mut list = ptr::null_mut();
            prop_assert!(take(rcontainer_image_list(store, &mut list)).is_none());
            prop_assert!(rcontainer_image_list_name(list, index).is_null() && rcontainer_image_list_size(list, index) == 0);
            rcontainer_image_list_free(list);
            rcontainer_spec_free(spec);
            rcontainer_store_free(store);
        }
    }
}
