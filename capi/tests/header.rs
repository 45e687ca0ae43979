//! include/container_core.h: regenerated with cbindgen's library and compared with the committed
//! file; compiled alone as C11 and C++17 with -Wall -Wextra -Werror; its version macros checked
//! against Cargo's version (and against rcontainer_version() of the built library).
//!
//! To update the committed header after changing the API:
//!   UPDATE_HEADER=1 cargo test -p rcontainer-capi --test header

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn header_path() -> PathBuf {
    crate_dir().join("../include/container_core.h")
}

fn generate() -> String {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("read capi/cbindgen.toml");
    // lib.rs: cbindgen follows its `mod spec; mod container;` declarations.
    let bindings = cbindgen::Builder::new().with_config(config).with_src(dir.join("src/lib.rs")).generate().expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

#[test]
fn committed_header_is_current() {
    let fresh = generate();
    let path = header_path();
    if std::env::var_os("UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write include/container_core.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let first = committed.lines().zip(fresh.lines()).position(|(a, b)| a != b).unwrap_or(committed.lines().count().min(fresh.lines().count()));
        panic!(
            "include/container_core.h is stale (first difference at line {}):\n  committed: {:?}\n  generated: {:?}\n\
             regenerate it with: UPDATE_HEADER=1 cargo test -p rcontainer-capi --test header",
            first + 1,
            committed.lines().nth(first).unwrap_or("<end of file>"),
            fresh.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

fn compile_alone(compiler: &str, std: &str, ext: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join(format!("t.{ext}"));
    // Included twice to check the include guard; nothing else included before it.
    std::fs::write(&src, "#include \"container_core.h\"\n#include \"container_core.h\"\nint main(void) { return rcontainer_version() == 0; }\n")
        .expect("write");
    let include = header_path().parent().expect("include dir").to_path_buf();
    let out = Command::new(compiler)
        .args([&format!("-std={std}"), "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-I"])
        .arg(&include)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(out.status.success(), "{compiler} -std={std} rejects the header:\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn header_compiles_alone_as_c11() {
    compile_alone("gcc", "c11", "c");
}

#[test]
fn header_compiles_alone_as_cpp17() {
    compile_alone("g++", "c++17", "cpp");
}

fn macro_value(header: &str, name: &str) -> String {
    header.lines().find_map(|l| l.strip_prefix(&format!("#define {name} "))).unwrap_or_else(|| panic!("header has no #define {name}")).trim().to_string()
}

#[test]
fn version_macros_match_cargo() {
    let header = std::fs::read_to_string(header_path()).expect("read header");
    assert_eq!(macro_value(&header, "RCONTAINER_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(macro_value(&header, "RCONTAINER_VERSION_MINOR"), env!("CARGO_PKG_VERSION_MINOR"));
    assert_eq!(macro_value(&header, "RCONTAINER_VERSION_PATCH"), env!("CARGO_PKG_VERSION_PATCH"));
    // And the built library agrees, seen from C.
    let v = unsafe { std::ffi::CStr::from_ptr(container_core::rcontainer_version()) };
    assert_eq!(v.to_str().expect("utf-8"), env!("CARGO_PKG_VERSION"));
}

#[test]
fn version_from_c_matches_macros_and_cargo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("v.c");
    std::fs::write(
        &src,
        r#"#include <stdio.h>
#include <string.h>
#include "container_core.h"
int main(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", RCONTAINER_VERSION_MAJOR, RCONTAINER_VERSION_MINOR, RCONTAINER_VERSION_PATCH);
    printf("%s\n", rcontainer_version());
    return strcmp(want, rcontainer_version()) != 0;
}
"#,
    )
    .expect("write");
    let exe = dir.path().join("v");
    common::compile(&src, &exe, common::Link::Shared);
    let out = common::run_program(&exe, &[] as &[&str]);
    assert!(out.status.success(), "macros and rcontainer_version() differ: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn soname_and_exports() {
    let so = common::lib_dir().join("libcontainer_core.so");
    let out = Command::new("readelf").arg("-d").arg(&so).output().expect("readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("[libcontainer_core.so.{}]", env!("CARGO_PKG_VERSION_MAJOR"));
    assert!(text.lines().any(|l| l.contains("SONAME") && l.contains(&want)), "no SONAME {want}:\n{text}");

    let syms = common::exported_symbols(&so);
    assert!(syms.len() > 20, "too few exports: {syms:?}");
    let foreign: Vec<_> = syms.iter().filter(|s| !s.starts_with("rcontainer_")).collect();
    assert!(foreign.is_empty(), "exports outside rcontainer_*: {foreign:?}");
    // Every function the header declares is exported, and the other way round.
    let header = std::fs::read_to_string(header_path()).expect("read header");
    for s in &syms {
        assert!(header.contains(&format!("{s}(")), "{s} is exported but not in the header");
    }
    let declared = header.lines().filter_map(|l| {
        let i = l.find("rcontainer_")?;
        let rest = &l[i..];
        let end = rest.find('(')?;
        let name = &rest[..end];
        (!name.contains(' ') && !l.trim_start().starts_with('*') && !l.trim_start().starts_with("/*")).then(|| name.to_string())
    });
    for d in declared {
        assert!(syms.contains(&d), "{d} is declared in the header but not exported");
    }
    let _ = Path::new(".");
}

/// A caller that drops an error object gets a compiler warning (an error with -Werror): every
/// function returning rcontainer_error_t * is RCONTAINER_NODISCARD.
#[test]
fn ignoring_an_error_result_is_a_compiler_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let include = header_path().parent().expect("include dir").to_path_buf();
    let compile = |body: &str| {
        let src = dir.path().join("t.c");
        std::fs::write(&src, format!("#include \"container_core.h\"\nvoid f(rcontainer_spec_t *s) {{ {body} }}\n")).expect("write");
        Command::new("gcc").args(["-std=c11", "-Wall", "-Werror", "-c", "-o", "/dev/null", "-I"]).arg(&include).arg(&src).output().expect("gcc")
    };
    let ignored = compile("rcontainer_spec_set_hostname(s, \"x\");");
    assert!(!ignored.status.success(), "an ignored rcontainer_error_t * compiled without a warning");
    assert!(String::from_utf8_lossy(&ignored.stderr).contains("warn_unused_result"), "{}", String::from_utf8_lossy(&ignored.stderr));
    let used = compile("rcontainer_error_free(rcontainer_spec_set_hostname(s, \"x\"));");
    assert!(used.status.success(), "{}", String::from_utf8_lossy(&used.stderr));
}
