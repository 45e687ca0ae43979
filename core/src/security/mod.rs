//! Privilege setup computed in the parent: capabilities (here), later seccomp and friends.

pub mod caps;
pub mod seccomp;
