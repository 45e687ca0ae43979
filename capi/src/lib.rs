//! The C ABI (issue: stable C ABI). Empty until that issue lands.
