//! Ad-hoc mode: `rcontainer run [flags] -- CMD [ARGS...]` builds a spec from flags, with Docker's
//! defaults, and the embedded default root when no `--rootfs` is given.

use std::path::{Path, PathBuf};

use clap::Args;
use rcontainer_core::options::{limit_text, parse_env_entry, parse_user, Naming, Network, Options, Seccomp};
use rcontainer_core::spec::parse_id_map;
use rcontainer_core::{Limits, Spec};

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
    /// USER[:GROUP] to run as: numbers, or names from the container's /etc/passwd and /etc/group
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
    /// For code you do not trust: uid/gid 65534, no capabilities, a read-only root with a 64 MiB
    /// /tmp, only lo, 256M memory (no swap), 1 CPU, 64 processes (flags given here still win)
    #[arg(long)]
    pub sandbox: bool,
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
            || self.sandbox
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

/// The flags as core's [`Options`] (the one definition of ad-hoc options, shared with the
/// bindings), then the spec.
pub fn build_spec(a: &AdhocArgs, id: &str, command: &[String], state_root: &Path) -> Result<Spec, Failure> {
    let o = options(a, Some(command))?;
    o.to_spec(id, state_root).map_err(|e| Failure::new(e.to_string(), 125))
}

/// The flags as core's [`Options`]; `command` None: the image gives it.
pub fn options(a: &AdhocArgs, command: Option<&[String]>) -> Result<Options, Failure> {
    let invalid = |e: rcontainer_core::Error| Failure::new(e.to_string(), 125);
    let naming = Naming::Flag;
    let mut o = Options { args: command.map(<[String]>::to_vec), naming, ..Options::default() };
    o.rootfs = a.rootfs.clone();
    o.hostname = a.hostname.clone();
    for kv in &a.env {
        o.env.push(match kv.split_once('=') {
            Some(_) => parse_env_entry(naming, kv).map_err(invalid)?,
            // docker's `-e NAME` passes the caller's value through.
            None => match std::env::var(kv) {
                Ok(v) if !kv.is_empty() => (kv.clone(), v),
                _ => return Err(Failure::new(format!("invalid --env {kv:?}: expected KEY=VALUE (or the name of a variable you have)"), 125)),
            },
        });
    }
    o.cwd = a.workdir.clone();
    if a.tty {
        o.terminal = Some(terminal_size());
        // A terminal program expects TERM (docker sets it too).
        if !a.env.iter().any(|e| e.starts_with("TERM=")) {
            o.env.push(("TERM".into(), std::env::var("TERM").unwrap_or_else(|_| "xterm".into())));
        }
    }
    if let Some(u) = a.user.as_deref() {
        // Numbers as they are; a name (docker's -u NAME[:GROUP]) from the container's /etc/passwd.
        match parse_user(naming, u) {
            Ok(ids) => o.user = Some(ids),
            Err(_) => o.user_name = Some(u.to_string()),
        }
    }
    o.uid_map = a.uid_map.iter().map(|m| parse_id_map("--uid-map", m)).collect::<Result<Vec<_>, _>>().map_err(invalid)?;
    o.gid_map = a.gid_map.iter().map(|m| parse_id_map("--gid-map", m)).collect::<Result<Vec<_>, _>>().map_err(invalid)?;
    let size = |flag: &str, v: &Option<String>| v.as_deref().map(|t| limit_text(naming, flag, t)).transpose().map_err(invalid);
    o.limits = Limits {
        memory: size("memory", &a.memory)?,
        memory_swap: size("memory_swap", &a.memory_swap)?,
        cpus: a.cpus,
        cpuset_cpus: a.cpuset_cpus.clone(),
        pids: a.pids,
        ..Default::default()
    };
    o.cgroups_path = a.cgroup.clone();
    o.network = Some(Network::parse(naming, &a.net).map_err(invalid)?);
    o.sandbox = a.sandbox;
    o.cap_drop = a.cap_drop.clone();
    o.cap_add = a.cap_add.clone();
    for opt in &a.security_opt {
        match opt.split_once(['=', ':']) {
            Some(("seccomp", "unconfined")) => o.seccomp = Seccomp::Unconfined,
            Some(("seccomp", file)) => {
                let text = rcontainer_core::spec::read_bounded(std::path::Path::new(file))
                    .map_err(|e| Failure::new(format!("--security-opt seccomp={file}: {e}"), 125))?;
                let profile =
                    serde_json::from_str(&text).map_err(|e| Failure::new(format!("--security-opt seccomp={file}: not an OCI seccomp profile: {e}"), 125))?;
                o.seccomp = Seccomp::Profile(Box::new(profile));
            }
            Some(("no-new-privileges", v)) => o.no_new_privileges = Some(v != "false"),
            _ => {
                return Err(Failure::new(
                    format!("invalid --security-opt {opt:?}: expected seccomp=unconfined, seccomp=FILE or no-new-privileges=true|false"),
                    125,
                ))
            }
        }
    }
    Ok(o)
}
