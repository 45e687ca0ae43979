//! An image's config onto the runtime's options, as `docker run` reads it: Entrypoint + Cmd
//! (`--entrypoint` and extra arguments override them as Docker does), Env (the caller's
//! variables win), WorkingDir, User (a name resolved in the image's /etc/passwd by core), and
//! StopSignal; ExposedPorts and Volumes are only noted.

use oci_spec::image::ImageConfiguration;
use rcontainer_core::options::Options;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::store::{ImageRecord, Store};

/// The annotation that carries the image's StopSignal (containerd's and podman's name for it):
/// `rcontainer kill ID` without a signal sends it.
pub const STOP_SIGNAL_ANNOTATION: &str = "org.opencontainers.image.stopSignal";

/// What the caller of `run IMAGE` overrides.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--entrypoint`: Some("") clears the image's, Some(x) replaces it (and drops its Cmd).
    pub entrypoint: Option<String>,
    /// The arguments after the image name (replace Cmd).
    pub cmd: Vec<String>,
}

/// What applying a config leaves for the caller.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub stop_signal: Option<String>,
    /// Things of the image that are not applied, one line each (for a warning).
    pub notes: Vec<String>,
}

/// The config of `image`, from the store.
pub fn load(store: &Store, image: &ImageRecord) -> Result<ImageConfiguration> {
    let d = Digest::parse("image config", &image.config)?;
    let bytes = store.read_blob(&d, 16 << 20)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::bad(format!("config {d}"), e))
}

/// Sets the command, environment, working directory and user of `o` from the image's config,
/// where `o` (the caller) does not say otherwise. `name` is the image's, for messages.
pub fn apply(name: &str, config: &ImageConfiguration, over: &Overrides, o: &mut Options) -> Result<Applied> {
    let c = config.config().as_ref();
    let image_entrypoint = c.and_then(|c| c.entrypoint().clone()).unwrap_or_default();
    let image_cmd = c.and_then(|c| c.cmd().clone()).unwrap_or_default();
    let entrypoint = match over.entrypoint.as_deref() {
        Some("") => Vec::new(),
        Some(e) => vec![e.to_string()],
        None => image_entrypoint,
    };
    let cmd = if !over.cmd.is_empty() {
        over.cmd.clone()
    } else if over.entrypoint.is_some() {
        // Docker: a new entrypoint does not take the image's Cmd.
        Vec::new()
    } else {
        image_cmd
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::bad(format!("image {name}"), "has no command (no Entrypoint or Cmd): give one after the image name"));
    }
    o.args = Some(args);

    // The image's variables first: the caller's (set after) replace them.
    let mut env = Vec::new();
    for kv in c.and_then(|c| c.env().as_ref()).into_iter().flatten() {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => env.push((k.to_string(), v.to_string())),
            _ => return Err(Error::bad(format!("image {name}"), format!("Env entry {kv:?} is not KEY=VALUE"))),
        }
    }
    env.append(&mut o.env);
    o.env = env;

    if o.cwd.is_none() {
        if let Some(w) = c.and_then(|c| c.working_dir().as_deref()).filter(|w| !w.is_empty()) {
            if !w.starts_with('/') {
                return Err(Error::bad(format!("image {name}"), format!("WorkingDir {w:?} is not absolute")));
            }
            o.cwd = Some(w.into());
        }
    }
    if o.user.is_none() && o.user_name.is_none() {
        if let Some(u) = c.and_then(|c| c.user().as_deref()).filter(|u| !u.is_empty()) {
            match rcontainer_core::options::parse_user(o.naming, u) {
                Ok(ids) => o.user = Some(ids),
                // A name: core looks it up in the image's /etc/passwd (through its layers).
                Err(_) => o.user_name = Some(u.to_string()),
            }
        }
    }
    let mut applied = Applied { stop_signal: c.and_then(|c| c.stop_signal().clone()), notes: Vec::new() };
    if let Some(ports) = c.and_then(|c| c.exposed_ports().as_ref()).filter(|p| !p.is_empty()) {
        applied.notes.push(format!("image {name} exposes {}: ports are not published (the network is private or the host's)", ports.join(", ")));
    }
    if let Some(vols) = c.and_then(|c| c.volumes().as_ref()).filter(|v| !v.is_empty()) {
        applied.notes.push(format!("image {name} declares volumes {}: they are part of the container's root, not separate volumes", vols.join(", ")));
    }
    Ok(applied)
}

/// Everything a container from an image needs: finds `image` in `store`, prepares the
/// container's copy-on-write root (read-only: the layers alone) and applies the image's config
/// to `o` (whose own settings win). The root is removed with the container (core's delete);
/// if the caller does not create the container after all, [`Store::release_container`].
pub fn prepare(store: &Store, image: &str, id: &str, read_only: bool, over: &Overrides, o: &mut Options) -> Result<Applied> {
    let (name, record) = store.find(image)?.ok_or_else(|| Error::ImageNotFound { reference: image.to_string(), store: store.root().to_path_buf() })?;
    let config = load(store, &record)?;
    let applied = apply(&name.repository(), &config, over, o)?;
    let root = store.prepare_container(id, &name, &record, read_only)?;
    o.rootfs = None;
    o.root_overlay = Some((root.rootfs, root.overlay));
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> ImageConfiguration {
        serde_json::from_value(json).expect("config")
    }

    fn image() -> ImageConfiguration {
        config(serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["PATH=/bin", "FOO=bar"], "WorkingDir": "/extra",
                       "User": "app", "StopSignal": "SIGINT", "ExposedPorts": {"80/tcp": {}}},
            "rootfs": {"type": "layers", "diff_ids": []}
        }))
    }

    #[test]
    fn docker_run_semantics() {
        let mut o = Options::default();
        let a = apply("x", &image(), &Overrides::default(), &mut o).expect("apply");
        assert_eq!(o.args.as_deref(), Some(&["/bin/sh".to_string(), "-c".into(), "echo hi".into()][..]));
        assert_eq!(o.env, vec![("PATH".to_string(), "/bin".to_string()), ("FOO".into(), "bar".into())]);
        assert_eq!(o.cwd.as_deref(), Some(std::path::Path::new("/extra")));
        assert_eq!(o.user_name.as_deref(), Some("app"));
        assert_eq!(a.stop_signal.as_deref(), Some("SIGINT"));
        assert!(a.notes[0].contains("80/tcp"), "{:?}", a.notes);

        // Extra arguments replace Cmd; the caller's env wins; -u and -w win.
        let mut o = Options { env: vec![("FOO".into(), "mine".into())], user: Some((5, 5)), cwd: Some("/".into()), ..Default::default() };
        apply("x", &image(), &Overrides { entrypoint: None, cmd: vec!["id".into()] }, &mut o).expect("apply");
        assert_eq!(o.args.as_deref(), Some(&["/bin/sh".to_string(), "-c".into(), "id".into()][..]));
        assert_eq!(o.env.last(), Some(&("FOO".to_string(), "mine".to_string())));
        assert_eq!((o.user, o.user_name.as_deref(), o.cwd.as_deref()), (Some((5, 5)), None, Some(std::path::Path::new("/"))));

        // --entrypoint drops the image's Cmd; --entrypoint "" clears it.
        let mut o = Options::default();
        apply("x", &image(), &Overrides { entrypoint: Some("/bin/ls".into()), cmd: vec![] }, &mut o).expect("apply");
        assert_eq!(o.args.as_deref(), Some(&["/bin/ls".to_string()][..]));
        let mut o = Options::default();
        apply("x", &image(), &Overrides { entrypoint: Some("".into()), cmd: vec!["true".into()] }, &mut o).expect("apply");
        assert_eq!(o.args.as_deref(), Some(&["true".to_string()][..]));
        let mut o = Options::default();
        let e = apply("x", &image(), &Overrides { entrypoint: Some("".into()), cmd: vec![] }, &mut o).expect_err("no command");
        assert!(e.to_string().contains("no command"), "{e}");
    }
}
