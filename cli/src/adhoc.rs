//! Ad-hoc mode: `rcontainer run [flags] -- CMD [ARGS...]` builds a spec from flags, with Docker's
//! defaults, and the embedded default root when no `--rootfs` is given.

use std::path::{Path, PathBuf};

use clap::Args;
use rcontainer_core::oci_spec::runtime::LinuxNamespaceType;
use rcontainer_core::spec::{parse_id_map, parse_limit, SpecBuilder};
use rcontainer_core::Limits;
use rcontainer_core::Spec;

use crate::Failure;

#[derive(Args, Debug, Default)]
pub struct AdhocArgs {
    /// Root filesystem directory (default: a read-only view of the host's /usr, /bin, /lib*, /etc)
    #[arg(long)]
    pub rootfs: Option<PathBuf>,
    /// Hostname inside the container (default: the container id)
    #[arg(long)]
    pub hostname: Option<String>,
    /// Environment variable KEY=VALUE (repeatable)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<PathBuf>,
    /// Give the container a terminal of its own (a new pty, relayed to yours)
    #[arg(short = 't', long)]
    pub tty: bool,
    /// With -t, pass your input to the container's terminal (docker's -i)
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// UID[:GID] to run as
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// User namespace uid mapping CONTAINER:HOST:SIZE (repeatable)
    #[arg(long = "uid-map")]
    pub uid_map: Vec<String>,
    /// User namespace gid mapping CONTAINER:HOST:SIZE (repeatable; default: as --uid-map)
    #[arg(long = "gid-map")]
    pub gid_map: Vec<String>,
    /// Network: none (a new namespace with only lo) or host
    #[arg(long, default_value = "none", value_parser = ["none", "host"])]
    pub net: String,
    /// Memory limit, e.g. 32M or 1G
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory + swap limit, e.g. 64M (-1: unlimited swap)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU limit in CPUs, e.g. 0.5
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPUs allowed, e.g. 0-1 or 0,2
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Maximum number of processes
    #[arg(long, allow_hyphen_values = true)]
    pub pids: Option<i64>,
    /// Cgroup path (absolute, or relative to this process's cgroup)
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
    /// Add a capability to Docker's default set (e.g. NET_ADMIN, ALL; repeatable)
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop a capability (e.g. CHOWN, ALL; repeatable)
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// seccomp=unconfined, seccomp=FILE (an OCI linux.seccomp JSON profile) or no-new-privileges=false
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
}

impl AdhocArgs {
    /// Whether any ad-hoc flag was given (they only make sense with a command).
    pub fn any(&self) -> bool {
        self.rootfs.is_some()
            || self.hostname.is_some()
            || !self.env.is_empty()
            || self.workdir.is_some()
            || self.tty
            || self.interactive
            || self.user.is_some()
            || !self.uid_map.is_empty()
            || !self.gid_map.is_empty()
            || self.net != "none"
            || self.memory.is_some()
            || self.memory_swap.is_some()
            || self.cpus.is_some()
            || self.cpuset_cpus.is_some()
            || self.pids.is_some()
            || self.cgroup.is_some()
            || !self.cap_add.is_empty()
            || !self.cap_drop.is_empty()
            || !self.security_opt.is_empty()
    }
}

/// The size (rows, columns) of the terminal on our stdin or stdout, if there is one.
fn terminal_size() -> Option<(u16, u16)> {
    for fd in [0, 1] {
        let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: ioctl into a live winsize.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 {
            return Some((ws.ws_row, ws.ws_col));
        }
    }
    None
}

fn parse_user(text: &str) -> Result<(u32, u32), Failure> {
    let bad = || Failure::new(format!("invalid --user {text:?}: expected UID or UID:GID (numbers)"), 125);
    match text.split_once(':') {
        Some((u, g)) => Ok((u.parse().map_err(|_| bad())?, g.parse().map_err(|_| bad())?)),
        None => {
            let u = text.parse().map_err(|_| bad())?;
            Ok((u, u))
        }
    }
}

pub fn build_spec(a: &AdhocArgs, id: &str, command: &[String], state_root: &Path) -> Result<Spec, Failure> {
    let invalid = |e: rcontainer_core::Error| Failure::new(e.to_string(), 125);
    let mut b = SpecBuilder::new(command.iter().cloned());
    b = match &a.rootfs {
        Some(dir) => {
            let abs = std::path::absolute(dir).map_err(|e| Failure::new(format!("--rootfs {}: {e}", dir.display()), 125))?;
            b.rootfs(abs).readonly_root(false)
        }
        None => b.default_root(state_root).map_err(invalid)?,
    };
    b = b.hostname(a.hostname.clone().unwrap_or_else(|| id.to_string()));
    for kv in &a.env {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => b = b.env(k, v),
            _ => match std::env::var(kv) {
                // docker's `-e NAME` passes the caller's value through.
                Ok(v) if !kv.is_empty() => b = b.env(kv, &v),
                _ => return Err(Failure::new(format!("invalid --env {kv:?}: expected KEY=VALUE"), 125)),
            },
        }
    }
    if let Some(w) = &a.workdir {
        b = b.cwd(w.clone());
    }
    if a.tty {
        b = b.terminal(true, terminal_size());
        // A terminal program expects TERM (docker sets it too).
        if std::env::var_os("TERM").is_none() || !a.env.iter().any(|e| e.starts_with("TERM=")) {
            b = b.env("TERM", &std::env::var("TERM").unwrap_or_else(|_| "xterm".into()));
        }
    }
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u)?;
        b = b.user(uid, gid);
    }
    if !a.uid_map.is_empty() || !a.gid_map.is_empty() {
        let uid_maps = a.uid_map.iter().map(|m| parse_id_map("--uid-map", m)).collect::<Result<Vec<_>, _>>().map_err(invalid)?;
        let gid_src = if a.gid_map.is_empty() { &a.uid_map } else { &a.gid_map };
        let gid_maps = gid_src.iter().map(|m| parse_id_map("--gid-map", m)).collect::<Result<Vec<_>, _>>().map_err(invalid)?;
        b = b.id_maps(uid_maps, gid_maps);
    }
    let size = |flag: &str, v: &Option<String>| v.as_deref().map(|t| parse_limit(flag, t)).transpose().map_err(invalid);
    let limits = Limits {
        memory: size("--memory", &a.memory)?,
        memory_swap: size("--memory-swap", &a.memory_swap)?,
        cpus: a.cpus,
        cpuset_cpus: a.cpuset_cpus.clone(),
        pids: a.pids,
        ..Default::default()
    };
    if limits != Limits::default() {
        b = b.limits(&limits);
    }
    if let Some(path) = &a.cgroup {
        b = b.cgroups_path(path.clone());
    }
    if a.net == "host" {
        b = b.namespace(LinuxNamespaceType::Network, false, None);
    }
    b = b.docker_defaults();
    // Docker's order: drops first, then adds (so --cap-drop ALL --cap-add X keeps only X).
    for c in &a.cap_drop {
        b = b.cap_drop(c).map_err(invalid)?;
    }
    for c in &a.cap_add {
        b = b.cap_add(c).map_err(invalid)?;
    }
    for opt in &a.security_opt {
        match opt.split_once(['=', ':']) {
            Some(("seccomp", "unconfined")) => b = b.seccomp(None),
            Some(("seccomp", file)) => {
                let text = rcontainer_core::spec::read_bounded(std::path::Path::new(file))
                    .map_err(|e| Failure::new(format!("--security-opt seccomp={file}: {e}"), 125))?;
                let profile =
                    serde_json::from_str(&text).map_err(|e| Failure::new(format!("--security-opt seccomp={file}: not an OCI seccomp profile: {e}"), 125))?;
                b = b.seccomp(Some(profile));
            }
            Some(("no-new-privileges", v)) => b = b.no_new_privileges(v != "false"),
            _ => {
                return Err(Failure::new(
                    format!("invalid --security-opt {opt:?}: expected seccomp=unconfined, seccomp=FILE or no-new-privileges=true|false"),
                    125,
                ))
            }
        }
    }
    Ok(b.build())
}
