//! Privilege setup computed in the parent: capabilities, seccomp, LSM labels; and the trust
//! checks on files the runtime reads back (caches).

pub mod caps;
pub mod lsm;
pub mod seccomp;
pub(crate) mod trust;
