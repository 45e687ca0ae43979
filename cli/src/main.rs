//! `rcontainer`: a drop-in OCI runtime (runc's verbs and flags) plus an ad-hoc mode for people:
//! `rcontainer run [--rootfs DIR] [flags] -- CMD [ARGS...]`.

mod adhoc;
mod commands;
mod exec;
mod images;
mod relay;
mod signals;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// What `--help` ends with.
const EXAMPLES: &str = "Examples:
  rcontainer run -- sh -c 'hostname; ps'            a command in a container on the default root
  rcontainer run -it busybox sh                     a shell from an image (pulled when missing)
  rcontainer import ./busybox-oci busybox           an OCI layout or docker-save archive, no registry
  rcontainer pull --plain-http 127.0.0.1:5000/app   from a local registry over plain http
  rcontainer run -it --rootfs ./rootfs -- sh        an interactive shell in a root filesystem you have
  rcontainer run --memory 64M --pids 32 -- CMD      with limits
  rcontainer spec && rcontainer run --bundle . ID   an OCI bundle (config.json + rootfs), as runc
  rcontainer create --bundle . ID; rcontainer start ID; rcontainer delete ID";

#[derive(Parser, Debug)]
#[command(name = "rcontainer", version, about = "Run Linux containers: a runc-compatible OCI runtime", long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    /// Directory holding container state
    /// [default: /run/rcontainer for root; $XDG_RUNTIME_DIR/rcontainer or /tmp/rcontainer-UID for another user]
    #[arg(long, global = true, default_value_os_t = rcontainer_core::rootless::default_state_root(), hide_default_value = true)]
    pub root: PathBuf,
    /// Directory holding images (layers, blobs) and containers' copy-on-write roots
    #[arg(long, global = true, env = "RCONTAINER_STORE", default_value = rcontainer_image::DEFAULT_STORE)]
    pub store: PathBuf,
    /// Also write errors to this file (what podman and containerd read)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of --log lines
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Accepted for compatibility
    #[arg(long, global = true, hide = true)]
    pub debug: bool,
    /// Use systemd to manage cgroups (not supported: cgroupfs is used)
    #[arg(long = "systemd-cgroup", global = true, hide = true)]
    pub systemd_cgroup: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by `create` and `run` (runc's).
#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Bundle directory (holding config.json); default: the current directory
    #[arg(short, long)]
    pub bundle: Option<PathBuf>,
    /// Write the container's host pid to this file
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master of a container with a terminal (process.terminal)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Accepted for compatibility (no session keyring is created)
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra file descriptors (3..3+N) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle; it waits for `start` before running its command
    Create {
        #[command(flatten)]
        create: CreateArgs,
        id: String,
    },
    /// Start a created container
    Start { id: String },
    /// Print a container's state as OCI state JSON
    State { id: String },
    /// Send a signal (default TERM) to a container's init
    Kill {
        /// Send the signal to every process of the container (needs cgroups)
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// Delete a container (with --force, also a running one)
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Create, start and wait for a container, then delete it; exits with the container's status.
    /// With a command after `--`, runs ad hoc (no bundle): rcontainer run [flags] -- CMD [ARGS...]
    Run(Box<RunArgs>),
    /// Run a new process in a created or running container (runc's flags)
    Exec(Box<exec::ExecArgs>),
    /// Write a default config.json (runc spec's) into the bundle directory
    Spec {
        #[arg(short, long)]
        bundle: Option<PathBuf>,
        /// A config for an ordinary user: a user namespace mapping your uid and gid to 0 (runc's --rootless)
        #[arg(long)]
        rootless: bool,
    },
    /// List the host pids of a container's processes
    Ps {
        #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        id: String,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Change a running container's cgroup limits (runc's flags, or -r resources.json)
    Update(UpdateArgs),
    /// Print a container's resource usage (with --stats: one JSON object, as runc)
    Events {
        /// Print one stats object and exit
        #[arg(long)]
        stats: bool,
        /// Interval between stats (ignored with --stats)
        #[arg(long, default_value = "5s", hide = true)]
        interval: String,
        id: String,
    },
    /// Print what this runtime supports, as JSON (runc's `features`)
    Features,
    /// Pull an image from a registry into the store
    Pull {
        #[command(flatten)]
        registry: images::RegistryArgs,
        /// No progress display
        #[arg(short, long)]
        quiet: bool,
        /// NAME[:TAG][@DIGEST], e.g. busybox or 127.0.0.1:5000/busybox:latest
        reference: String,
    },
    /// Import an OCI image layout (directory or tar) or a `docker save` archive into the store
    Import {
        path: PathBuf,
        /// Name it this (default: the names the archive gives)
        name: Option<String>,
    },
    /// List the images in the store
    Images {
        /// Print only image ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Remove images' names, and the layers no other image or container uses
    Rmi {
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Remove from the store what no image and no container uses
    Prune,
    /// List containers
    List {
        #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Print only ids
        #[arg(short, long)]
        quiet: bool,
    },
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// OCI linux.resources JSON file ("-" for stdin)
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// Memory limit (e.g. 64M; -1 unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory + swap limit (-1 unlimited)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// CPU CFS quota in microseconds (-1 unlimited)
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs allowed, e.g. 0-1
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container has started
    #[arg(short, long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub adhoc: adhoc::AdhocArgs,
    /// With an image: the container's id (default: generated)
    #[arg(long)]
    pub name: Option<String>,
    /// With an image: run this instead of its Entrypoint ("" for none; drops its Cmd)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// A read-only root (with an image: its layers alone, no writable layer)
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Accepted for docker's habit: the container is deleted after it exits unless --keep
    #[arg(long, hide = true)]
    pub rm: bool,
    #[command(flatten)]
    pub registry: images::RegistryArgs,
    /// IMAGE [CMD [ARGS...]] (docker's order), or the container ID: of a bundle (runc's `run
    /// [--bundle DIR] ID`), or before `--` in ad-hoc mode
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Ad-hoc mode: the command after `--` (split off before parsing: see [`split_run_command`])
    #[arg(skip)]
    pub command: Vec<String>,
}

/// `run [flags] [ID] -- CMD...`: the words after the first `--` of `run`, taken out before clap
/// parses the rest (clap would swallow a leading `--` into IMAGE [CMD...]).
fn split_run_command(args: Vec<std::ffi::OsString>) -> (Vec<std::ffi::OsString>, Vec<String>) {
    let Some(run) = args.iter().skip(1).position(|a| a == "run").map(|i| i + 1) else { return (args, Vec::new()) };
    let Some(dashes) = args.iter().skip(run).position(|a| a == "--").map(|i| i + run) else { return (args, Vec::new()) };
    let command = args[dashes + 1..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
    (args[..dashes].to_vec(), command)
}

/// A failure of the command: the message, and the exit status to leave with.
pub struct Failure {
    pub message: String,
    pub status: i32,
}

impl From<rcontainer_core::Error> for Failure {
    fn from(e: rcontainer_core::Error) -> Self {
        Failure { message: e.to_string(), status: 1 }
    }
}

impl Failure {
    pub fn new(message: impl Into<String>, status: i32) -> Self {
        Failure { message: message.into(), status }
    }
}

/// Where and how to log: `--log FILE` and `--log-format`, as runc writes them (what containerd
/// and podman read back to show the error).
pub struct Log {
    path: Option<PathBuf>,
    json: bool,
}

impl Log {
    fn of(cli: &Cli) -> Log {
        Log { path: cli.log.clone(), json: cli.log_format == "json" }
    }

    /// From the raw arguments, for errors found before they could be parsed.
    fn from_args(args: &[std::ffi::OsString]) -> Log {
        let mut log = Log { path: None, json: false };
        let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
        while let Some(a) = it.next() {
            if a == "--" {
                break;
            }
            match a.split_once('=') {
                Some(("--log", v)) => log.path = Some(PathBuf::from(v)),
                Some(("--log-format", v)) => log.json = v == "json",
                _ if a == "--log" => log.path = it.next().map(PathBuf::from),
                _ if a == "--log-format" => log.json = it.next().as_deref() == Some("json"),
                _ => {}
            }
        }
        log
    }

    /// One line at `level` (error, warning), with runc's fields.
    pub fn write(&self, level: &str, message: &str) {
        let Some(path) = &self.path else { return };
        let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) else { return };
        let time = rcontainer_core::state::now_rfc3339();
        let line = if self.json {
            serde_json::json!({ "level": level, "msg": message, "time": time }).to_string()
        } else {
            format!("time={time:?} level={level} msg={message:?}")
        };
        let _ = writeln!(f, "{line}");
    }
}

/// A warning: on stderr and in the log.
pub fn warn(cli: &Cli, message: &str) {
    eprintln!("rcontainer: warning: {}", rcontainer_core::error::one_line(message));
    Log::of(cli).write("warning", message);
}

fn main() {
    let (args, run_command) = split_run_command(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(&args) {
        Ok(mut cli) => {
            if let Command::Run(r) = &mut cli.command {
                r.command = run_command;
            }
            cli
        }
        Err(e) => {
            // Usage errors go to the log too (the calling tool shows only what is there).
            if !matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
                Log::from_args(&args).write("error", first);
            }
            e.exit();
        }
    };
    let status = match commands::dispatch(&cli) {
        Ok(status) => status,
        Err(f) => {
            eprintln!("rcontainer: {}", rcontainer_core::error::one_line(&f.message));
            Log::of(&cli).write("error", &f.message);
            f.status
        }
    };
    std::process::exit(status);
}
