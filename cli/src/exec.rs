//! `rcontainer exec`: runc's verb and flags. The process is `--process FILE` (an OCI Process), or
//! the container's own process with the command and the flags' changes (runc's rules: env is
//! appended, `--cap` adds to every set, no terminal unless `-t`).

use std::path::PathBuf;

use clap::Args;
use rcontainer_core::oci_spec::runtime::{Capability, Process as OciProcess};
use rcontainer_core::{Container, ExecOptions};

use crate::relay::{self, Relay};
use crate::{signals, Cli, Failure};

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Unix socket that receives the pty master of a process with a terminal
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory of the process
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variable KEY=VALUE, added to the container's (repeatable)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Give the process a terminal of its own (a new pty)
    #[arg(short = 't', long)]
    pub tty: bool,
    /// UID[:GID] to run as
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional group ids (repeatable)
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// An OCI process JSON file (instead of the command and the flags above)
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Return once the process has started
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the process's host pid to this file
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// SELinux label of the process
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile of the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privileges for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the process (repeatable)
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Pass N extra file descriptors (3..3+N) to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run the process in a sub-cgroup (not supported: it joins the container's cgroup)
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container (not supported: a frozen process cannot be set up)
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    pub id: String,
    /// The command and its arguments (after the id)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The process to run: `--process FILE`, or the container's with the flags applied.
fn process(base: Option<OciProcess>, a: &ExecArgs) -> Result<OciProcess, Failure> {
    if let Some(path) = &a.process {
        let text = read_bounded(path)?;
        let p: OciProcess = serde_json::from_str(&text).map_err(|e| Failure::new(format!("invalid process JSON {}: {e}", path.display()), 1))?;
        return Ok(p);
    }
    if a.command.is_empty() {
        return Err(Failure::new("exec: a command is required after the container id (or --process FILE)", 1));
    }
    let mut p = base.unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    p.set_terminal(Some(a.tty));
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &a.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &a.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    if let Some(u) = &a.user {
        let bad = || Failure::new(format!("invalid --user {u:?}: expected UID or UID:GID (numbers)"), 1);
        let (uid, gid) = match u.split_once(':') {
            Some((uid, gid)) => (uid.parse().map_err(|_| bad())?, Some(gid.parse().map_err(|_| bad())?)),
            None => (u.parse().map_err(|_| bad())?, None),
        };
        let mut user = p.user().clone();
        user.set_uid(uid);
        if let Some(gid) = gid {
            user.set_gid(gid);
        }
        p.set_user(user);
    }
    if !a.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(user);
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let upper = name.to_ascii_uppercase();
            let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
            let cap: Capability = full.parse().map_err(|_| Failure::new(format!("invalid --cap {name:?}: not a capability"), 1))?;
            let add = |s: &Option<std::collections::HashSet<Capability>>| {
                let mut s = s.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            let (b, e, pm, am) = (add(caps.bounding()), add(caps.effective()), add(caps.permitted()), add(caps.ambient()));
            caps.set_bounding(b);
            caps.set_effective(e);
            caps.set_permitted(pm);
            caps.set_ambient(am);
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

/// A file read with a size limit (a process JSON is small; a symlink to /dev/zero must not
/// exhaust memory, a fifo must not block).
fn read_bounded(path: &std::path::Path) -> Result<String, Failure> {
    Ok(rcontainer_core::spec::read_bounded(path)?)
}

pub fn exec(cli: &Cli, a: &ExecArgs) -> Result<i32, Failure> {
    if !a.cgroup.is_empty() {
        return Err(Failure::new("exec --cgroup: running in a sub-cgroup is not supported (the process joins the container's cgroup)", 1));
    }
    let mut c = Container::load(&cli.root, &a.id)?;
    if a.ignore_paused && c.status()? == rcontainer_core::Status::Paused {
        return Err(Failure::new(format!("exec --ignore-paused: container {:?} is paused, and a frozen container cannot set up a new process", a.id), 1));
    }
    let base = c.config().ok().and_then(|s| s.config().process().clone());
    let p = process(base, a)?;
    let terminal = p.terminal() == Some(true);
    let console = match &a.console_socket {
        Some(path) => Some(std::os::unix::net::UnixStream::connect(path).map_err(|e| Failure::new(format!("--console-socket {}: {e}", path.display()), 1))?),
        None => None,
    };
    if terminal && a.detach && console.is_none() {
        return Err(Failure::new("exec -d: the process has a terminal: give --console-socket to receive its pty", 1));
    }
    let mut opts = ExecOptions {
        console_socket: console.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
        preserve_fds: a.preserve_fds,
        detach: a.detach,
        ..Default::default()
    };
    let mut relay = if a.detach || terminal { None } else { Relay::for_terminals()? };
    let mut _null = None;
    if let Some(r) = &relay {
        let [stdin, stdout, stderr] = r.container_stdio();
        opts.stdio = rcontainer_core::Stdio { stdin, stdout, stderr };
    } else if a.detach {
        let (stdio, null) = relay::detached_stdio()?;
        opts.stdio = rcontainer_core::Stdio { stdin: stdio[0], stdout: stdio[1], stderr: stdio[2] };
        _null = null;
    }
    let mut sfd = if a.detach { None } else { Some(signals::block()?) };
    let mut proc = c.exec(&p, &opts)?;
    if let Some(r) = relay.as_mut() {
        r.close_container_ends();
    }
    if let Some(path) = &a.pid_file {
        let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
        std::fs::write(&tmp, proc.pid().to_string())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Failure::new(format!("write pid file {}: {e}", path.display()), 1))?;
    }
    if a.detach {
        return Ok(0);
    }
    if let Some(master) = proc.take_pty() {
        relay = Some(Relay::for_pty(master, true)?);
    }
    let status = match sfd.as_mut() {
        Some(sfd) => signals::wait_forwarding(&mut proc, sfd, relay.as_mut())?,
        None => proc.wait(None)?,
    };
    drop(relay);
    Ok(status.exit_code())
}
