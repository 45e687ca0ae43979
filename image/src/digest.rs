//! sha256 digests: parsed (`sha256:` and 64 lowercase hex digits, nothing else, so a digest is
//! safe as a file name), computed while content is written.

use std::io::{Read, Write};

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// A verified-shape sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// `what` names where the digest came from, for the error.
    pub fn parse(what: &str, text: &str) -> Result<Digest> {
        let bad = || Error::BadDigest { what: what.to_string(), digest: text.to_string() };
        let hex = text.strip_prefix("sha256:").ok_or_else(bad)?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(bad());
        }
        Ok(Digest(text.to_string()))
    }

    pub fn of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex(&Sha256::digest(bytes))))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// Docker's short id: the first 12 hex digits.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies `from` to `to`, returning the sha256 digest and the length of what was copied.
pub fn copy_hashing(mut from: impl Read, mut to: impl Write) -> std::io::Result<(Digest, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..k]);
        to.write_all(&buf[..k])?;
        n += k as u64;
    }
    to.flush()?;
    Ok((Digest(format!("sha256:{}", hex(&h.finalize()))), n))
}

/// A reader that hashes what passes through it (a layer's diff_id: the digest of its
/// uncompressed tar).
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new() }
    }
    /// The digest of everything read so far.
    pub fn digest(&self) -> Digest {
        Digest(format!("sha256:{}", hex(&self.hasher.clone().finalize())))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sha256_with_64_lowercase_hex_digits() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert!(Digest::parse("t", &good).is_ok());
        for bad in [
            "sha256:".to_string(),
            format!("sha512:{}", "a".repeat(128)),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:../../{}", "a".repeat(58)),
            format!("sha256:{}/", "a".repeat(63)),
        ] {
            assert!(Digest::parse("t", &bad).is_err(), "{bad}");
        }
        assert_eq!(Digest::of(b"").as_str(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
