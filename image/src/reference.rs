//! Image names as Docker reads them: `busybox` is `docker.io/library/busybox:latest`,
//! `host:5000/repo` has the tag `latest`, `repo@sha256:...` names a manifest by digest.

use oci_client::Reference;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(Reference);

impl Name {
    pub fn parse(text: &str) -> Result<Name> {
        let bad = |reason: String| Error::InvalidReference { reference: text.to_string(), reason };
        if text.is_empty() || text.len() > 512 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("expected NAME[:TAG][@DIGEST], e.g. busybox, busybox:1.36, 127.0.0.1:5000/busybox".into()));
        }
        let r: Reference = text.parse().map_err(|e: oci_client::ParseError| bad(e.to_string()))?;
        if let Some(d) = r.digest() {
            crate::digest::Digest::parse(&format!("image reference {text}"), d)?;
        }
        Ok(Name(r))
    }

    /// A name as the store keeps it (the full form Display writes), without the reference
    /// grammar's regex (compiling it costs tens of milliseconds a process).
    pub(crate) fn from_stored(text: &str) -> Option<Name> {
        let (registry, rest) = text.split_once('/')?;
        if let Some((repo, digest)) = rest.split_once('@') {
            return Some(Name(Reference::with_digest(registry.into(), repo.into(), digest.into())));
        }
        let (repo, tag) = rest.rsplit_once(':')?;
        Some(Name(Reference::with_tag(registry.into(), repo.into(), tag.into())))
    }

    /// The store key `text` would have, computed without the regex for the common forms
    /// (`busybox`, `user/app:tag`, `host:5000/app`); None: parse it for real.
    pub(crate) fn quick_key(text: &str) -> Option<String> {
        if text.is_empty() || text.contains(['@', ' ']) || text.chars().any(|c| c.is_ascii_uppercase() || c.is_control()) {
            return None;
        }
        let (path, tag) = match text.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p, t),
            _ => (text, "latest"),
        };
        let first = path.split('/').next()?;
        let full = if path.contains('/') && (first.contains(['.', ':']) || first == "localhost") {
            path.to_string()
        } else if path.contains('/') {
            format!("docker.io/{path}")
        } else {
            format!("docker.io/library/{path}")
        };
        Some(format!("{full}:{tag}"))
    }

    pub fn reference(&self) -> &Reference {
        &self.0
    }

    /// `registry/repository`, Docker's short form for Docker Hub (`busybox`, `user/app`).
    pub fn repository(&self) -> String {
        let repo = self.0.repository();
        match self.0.registry() {
            "docker.io" | "index.docker.io" => repo.strip_prefix("library/").unwrap_or(repo).to_string(),
            reg => format!("{reg}/{repo}"),
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.0.tag()
    }

    pub fn digest(&self) -> Option<&str> {
        self.0.digest()
    }

    /// The same repository with another tag (an import names its images this way).
    pub fn with_tag(&self, tag: &str) -> Result<Name> {
        Name::parse(&format!("{}:{tag}", self.repository()))
    }
}

impl std::fmt::Display for Name {
    /// The full form (`docker.io/library/busybox:latest`): the key in the store.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.whole())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names() {
        let n = Name::parse("busybox").expect("parse");
        assert_eq!(n.to_string(), "docker.io/library/busybox:latest");
        assert_eq!((n.repository().as_str(), n.tag()), ("busybox", Some("latest")));
        let n = Name::parse("127.0.0.1:5000/tools/busybox:1.36").expect("parse");
        assert_eq!((n.repository().as_str(), n.tag()), ("127.0.0.1:5000/tools/busybox", Some("1.36")));
        assert_eq!(n.with_tag("x").expect("tag").to_string(), "127.0.0.1:5000/tools/busybox:x");
        for text in ["busybox", "busybox:1.36", "user/app:v1", "127.0.0.1:5000/tools/busybox", "localhost/x:y", "quay.io/a/b"] {
            let key = Name::quick_key(text).expect("quick");
            assert_eq!(key, Name::parse(text).expect("parse").to_string(), "{text}");
            assert_eq!(Name::from_stored(&key).map(|n| n.to_string()), Some(key.clone()));
        }
        for bad in ["", "Busy Box", "a@sha256:zz", "repo/UPPER"] {
            assert!(Name::parse(bad).is_err(), "{bad}");
        }
    }
}
