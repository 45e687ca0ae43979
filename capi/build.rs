//! Gives the shared library its SONAME: libcontainer_core.so.<major>, so programs linked against
//! one major version refuse to load another. (Only `rcontainer_*` symbols are exported: rustc's
//! cdylib version script exports exactly the `#[no_mangle] extern "C"` functions.)
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcontainer_core.so.{major}");
    println!("cargo:rerun-if-changed=build.rs");
}
