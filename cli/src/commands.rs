//! One function per verb, runc's semantics.

use std::path::PathBuf;

use rcontainer_core::{Container, CreateOptions, Error, ErrorKind, Spec, Status};

use crate::relay::{self, Relay};
use crate::{adhoc, signals, Cli, Command, CreateArgs, Failure, RunArgs};

pub fn dispatch(cli: &Cli) -> Result<i32, Failure> {
    if cli.systemd_cgroup {
        return Err(Failure::new("--systemd-cgroup is not supported: rcontainer manages cgroups through cgroupfs", 1));
    }
    match &cli.command {
        Command::Create { create, id } => {
            let spec = Spec::from_bundle(bundle_dir(create)?)?;
            let (mut opts, _console) = create_options(cli, create)?;
            if wants_terminal(&spec) && opts.console_socket.is_none() {
                return Err(Failure::new("create: the container has a terminal (process.terminal): give --console-socket to receive its pty", 1));
            }
            let (stdio, _null) = relay::detached_stdio()?;
            opts.stdio = rcontainer_core::Stdio { stdin: stdio[0], stdout: stdio[1], stderr: stdio[2] };
            // The init stays blocked on the exec fifo; `start` (another process) releases it.
            Container::create(id, &spec, &opts)?;
            Ok(0)
        }
        Command::Start { id } => {
            let mut c = Container::load(&cli.root, id)?;
            let r = c.start();
            warnings(cli, &mut c);
            r?;
            Ok(0)
        }
        Command::State { id } => {
            println!("{}", Container::load(&cli.root, id)?.state()?.to_oci_json());
            Ok(0)
        }
        Command::Kill { all, id, signal } => {
            let mut c = Container::load(&cli.root, id)?;
            // Without a signal: the image's StopSignal, else TERM.
            let image_signal = c.state().ok().and_then(|st| st.annotations.get(rcontainer_image::config::STOP_SIGNAL_ANNOTATION).cloned());
            let sig = signals::parse(signal.as_deref().or(image_signal.as_deref()).unwrap_or("TERM"))?;
            if *all {
                c.kill_all(sig)?;
            } else {
                c.kill(sig)?;
            }
            Ok(0)
        }
        Command::Delete { force, id } => {
            match Container::load(&cli.root, id) {
                Ok(mut c) => {
                    let r = c.delete(*force);
                    warnings(cli, &mut c);
                    r?
                }
                // runc: deleting a missing container with --force is not an error (what a create
                // killed early may have left of it goes).
                Err(e) if e.kind() == ErrorKind::NotFound && *force => rcontainer_core::container::remove_abandoned(&cli.root, id)?,
                // A state that cannot be read: --force removes the entry (and an init still
                // blocked on its exec fifo).
                Err(rcontainer_core::Error::StateCorrupt { .. }) if *force => rcontainer_core::container::remove_corrupt(&cli.root, id)?,
                Err(e) => return Err(e.into()),
            }
            Ok(0)
        }
        Command::Run(args) => run(cli, args),
        Command::Pull { registry, quiet, reference } => {
            let store = crate::images::store(cli)?;
            println!("{}", crate::images::pull(&store, reference, registry, *quiet)?);
            Ok(0)
        }
        Command::Import { path, name } => crate::images::import(cli, path, name.as_deref()),
        Command::Images { quiet } => crate::images::images(cli, *quiet),
        Command::Rmi { images } => crate::images::rmi(cli, images),
        Command::Prune => crate::images::prune(cli),
        Command::Exec(args) => crate::exec::exec(cli, args),
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&features()).unwrap_or_default());
            Ok(0)
        }
        Command::Ps { format, id } => {
            let pids = Container::load(&cli.root, id)?.processes()?;
            if format == "json" {
                println!("{}", serde_json::json!(pids));
            } else {
                println!("PID");
                pids.iter().for_each(|p| println!("{p}"));
            }
            Ok(0)
        }
        Command::Pause { id } => {
            Container::load(&cli.root, id)?.pause()?;
            Ok(0)
        }
        Command::Resume { id } => {
            Container::load(&cli.root, id)?.resume()?;
            Ok(0)
        }
        Command::Update(args) => {
            let resources = update_resources(args)?;
            Container::load(&cli.root, &args.id)?.limit(&resources)?;
            Ok(0)
        }
        Command::Events { stats, id, .. } => {
            if !stats {
                return Err(Failure::new("events: only --stats is supported (one JSON object)", 1));
            }
            let mut c = Container::load(&cli.root, id)?;
            let s = c.stats()?;
            let v = serde_json::json!({
                "type": "stats",
                "id": id,
                "data": {
                    "cpu": { "usage": { "total": s.cpu_usage_ns, "user": s.cpu_user_ns, "kernel": s.cpu_system_ns } },
                    "memory": {
                        "usage": { "usage": s.memory_usage, "max": s.memory_peak, "limit": s.memory_limit },
                        "oom_kill": s.oom_kills
                    },
                    "pids": { "current": s.pids_current, "limit": s.pids_limit }
                }
            });
            println!("{v}");
            Ok(0)
        }
        Command::Spec { bundle, rootless } => {
            let dir = bundle.clone().unwrap_or_else(|| PathBuf::from("."));
            let path = dir.join("config.json");
            if path.exists() {
                return Err(Failure::new(format!("{} exists: remove it first", path.display()), 1));
            }
            let spec = if *rootless { Spec::runc_rootless(&dir) } else { Spec::runc_default(&dir) };
            std::fs::write(&path, spec.to_json() + "\n").map_err(|e| Failure::new(format!("write {}: {e}", path.display()), 1))?;
            Ok(0)
        }
        Command::List { format, quiet } => {
            // A corrupt entry is skipped with a warning (runc's behaviour), not the end of the list.
            let (states, corrupt) = rcontainer_core::container::list_all(&cli.root)?;
            for e in &corrupt {
                crate::warn(cli, &format!("{e} (skipped; `delete --force` removes it)"));
            }
            if *quiet {
                states.iter().for_each(|s| println!("{}", s.id));
            } else if format == "json" {
                let v: Vec<serde_json::Value> = states.iter().map(|s| serde_json::from_str(&s.to_oci_json()).unwrap_or_default()).collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                println!("{:<20} {:<8} {:<10} {:<40} CREATED", "ID", "PID", "STATUS", "BUNDLE");
                for s in states {
                    let pid = if s.status == Status::Stopped { 0 } else { s.pid };
                    println!("{:<20} {:<8} {:<10} {:<40} {}", s.id, pid, s.status, s.bundle.display(), s.created);
                }
            }
            Ok(0)
        }
    }
}

/// What `features` prints: the OCI runtime features document, from what this build and this
/// kernel can do.
fn features() -> serde_json::Value {
    use rcontainer_core::security::{caps, lsm};
    let last = caps::last_cap() as usize;
    let caps: Vec<&str> = caps::NAMES.iter().take(last + 1).copied().collect();
    let mut namespaces = vec!["cgroup", "ipc", "mount", "network", "pid", "user", "uts"];
    if std::path::Path::new("/proc/self/ns/time").exists() {
        namespaces.push("time");
    }
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime", "nodev", "nodiratime",
            "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime", "remount", "ro",
            "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave", "strictatime", "suid", "sync", "unbindable",
            "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnoatime", "ratime", "rstrictatime",
            "rnodiratime", "rdiratime", "rrelatime", "rnorelatime", "rnosymfollow", "rsymfollow", "tmpcopyup"
        ],
        "linux": {
            "namespaces": namespaces,
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false },
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
            },
            "apparmor": { "enabled": lsm::apparmor_enabled() },
            "selinux": { "enabled": lsm::selinux_enabled() },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } }
        },
        "annotations": { "io.github.rcontainer.version": rcontainer_core::VERSION }
    })
}

/// The warnings a call left on the container (failed poststart or poststop hooks).
fn warnings(cli: &Cli, c: &mut Container) {
    for w in c.take_warnings() {
        crate::warn(cli, &w);
    }
}

/// runc update's flags (or -r FILE) as OCI resources.
fn update_resources(a: &crate::UpdateArgs) -> Result<rcontainer_core::oci_spec::runtime::LinuxResources, Failure> {
    let size = |flag: &str, v: &Option<String>| v.as_deref().map(|t| rcontainer_core::spec::parse_limit(flag, t)).transpose().map_err(Failure::from);
    let mut r = match &a.resources {
        None => rcontainer_core::Limits::default().to_resources(),
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| Failure::new(format!("read resources from stdin: {e}"), 1))?
            } else {
                rcontainer_core::spec::read_bounded(path)?
            };
            serde_json::from_str(&text).map_err(|e| Failure::new(format!("invalid resources JSON {}: {e}", path.display()), 1))?
        }
    };
    let limits = rcontainer_core::Limits {
        memory: size("--memory", &a.memory)?,
        memory_swap: size("--memory-swap", &a.memory_swap)?,
        memory_reservation: size("--memory-reservation", &a.memory_reservation)?,
        cpu_shares: a.cpu_shares,
        cpu_quota: a.cpu_quota,
        cpu_period: a.cpu_period,
        cpuset_cpus: a.cpuset_cpus.clone(),
        cpuset_mems: a.cpuset_mems.clone(),
        // runc: 0 leaves the limit as it is, any negative value lifts it.
        pids: a.pids_limit.filter(|n| *n != 0).map(|n| n.max(-1)),
        ..Default::default()
    };
    limits.apply_to(&mut r);
    Ok(r)
}

fn bundle_dir(create: &CreateArgs) -> Result<PathBuf, Failure> {
    let dir = create.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    std::path::absolute(&dir).map_err(|e| Failure::new(format!("bundle {}: {e}", dir.display()), 1))
}

/// The options of `create` and `run`; with `--console-socket`, the connected socket too (it must
/// stay open until the container is created).
fn create_options(cli: &Cli, create: &CreateArgs) -> Result<(CreateOptions, Option<std::os::unix::net::UnixStream>), Failure> {
    let console = match &create.console_socket {
        Some(path) => Some(std::os::unix::net::UnixStream::connect(path).map_err(|e| Failure::new(format!("--console-socket {}: {e}", path.display()), 1))?),
        None => None,
    };
    let opts = CreateOptions {
        root: cli.root.clone(),
        pid_file: create.pid_file.clone(),
        no_pivot: create.no_pivot,
        preserve_fds: create.preserve_fds,
        console_socket: console.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
        ..Default::default()
    };
    Ok((opts, console))
}

/// Whether the spec asks for a terminal.
fn wants_terminal(spec: &Spec) -> bool {
    spec.config().process().as_ref().and_then(|p| p.terminal()) == Some(true)
}

/// Docker's exit statuses for the ad-hoc mode: 125 the runtime failed, 126 the command cannot
/// be executed, 127 it was not found.
fn adhoc_failure(e: Error) -> Failure {
    let status = match (&e, e.errno()) {
        (Error::Setup { what, .. }, Some(libc::ENOENT)) if what.starts_with("exec ") => 127,
        (Error::Setup { what, .. }, Some(_)) if what.starts_with("exec ") => 126,
        _ => 125,
    };
    Failure::new(e.to_string(), status)
}

fn run(cli: &Cli, args: &RunArgs) -> Result<i32, Failure> {
    // `run IMAGE CMD -- X`: that `--` is the command's (docker passes it on).
    let (words, command): (Vec<String>, Vec<String>) = if args.args.len() >= 2 && !args.command.is_empty() {
        (args.args.iter().chain(std::iter::once(&"--".to_string())).chain(&args.command).cloned().collect(), Vec::new())
    } else {
        (args.args.clone(), args.command.clone())
    };
    let with_dashes = !command.is_empty();
    let image_flags = args.name.is_some() || args.entrypoint.is_some() || args.registry.plain_http || args.registry.creds.is_some();
    // `run ID` alone in a bundle directory is runc's; any other `run X [ARGS...]` without `--`
    // names an image (docker's order).
    let runc_bundle = args.create.bundle.is_some()
        || (words.len() == 1
            && !args.adhoc.any()
            && !image_flags
            && !args.read_only
            && bundle_dir(&args.create).is_ok_and(|d| d.join("config.json").is_file()));
    let image_mode = !with_dashes && !runc_bundle && !words.is_empty();
    let adhoc_mode = with_dashes || image_mode;
    let mut store = None;
    let (id, spec, map_err): (String, Spec, fn(Error) -> Failure) = if image_mode {
        if args.adhoc.rootfs.is_some() {
            return Err(Failure::new(format!("run: give either an image ({}) or --rootfs, not both", words[0]), 125));
        }
        let id = args.name.clone().unwrap_or_else(rcontainer_core::state::generate_id);
        let mut o = adhoc::options(&args.adhoc, None)?;
        let over = rcontainer_image::config::Overrides { entrypoint: args.entrypoint.clone(), cmd: words[1..].to_vec() };
        let (s, stop_signal) = crate::images::prepare_run(cli, &words[0], &id, &over, args.read_only, &args.registry, &mut o)?;
        let mut spec = match o.to_spec(&id, &cli.root) {
            Ok(spec) => spec,
            Err(e) => {
                let _ = s.release_container(&id);
                return Err(Failure::new(e.to_string(), 125));
            }
        };
        if let Some(sig) = stop_signal {
            spec.config_mut().annotations_mut().get_or_insert_with(Default::default).insert(rcontainer_image::config::STOP_SIGNAL_ANNOTATION.into(), sig);
        }
        store = Some(s);
        (id, spec, adhoc_failure)
    } else if with_dashes {
        if args.create.bundle.is_some() {
            return Err(Failure::new("run: give either --bundle or a command after --, not both", 125));
        }
        if image_flags {
            return Err(Failure::new("run: --name, --entrypoint, --plain-http and --creds go with an image: rcontainer run [flags] IMAGE [CMD...]", 125));
        }
        if words.len() > 1 {
            return Err(Failure::new(format!("run: one container id before `--`, got {:?} (an image goes without `--`: run IMAGE CMD...)", words), 125));
        }
        let id = words.first().cloned().unwrap_or_else(rcontainer_core::state::generate_id);
        let mut spec = adhoc::build_spec(&args.adhoc, &id, &command, &cli.root)?;
        if args.read_only {
            if let Some(r) = spec.config_mut().root_mut() {
                r.set_readonly(Some(true));
            }
        }
        (id, spec, adhoc_failure)
    } else {
        if args.adhoc.any() || image_flags || args.read_only {
            return Err(Failure::new("run: ad-hoc flags (--rootfs, --env, ...) need an image or a command after --", 1));
        }
        let id = match words.as_slice() {
            [id] => id.clone(),
            [] => return Err(Failure::new("run: give an IMAGE [CMD...], a command after -- (ad-hoc mode) or a bundle's container ID", 1)),
            more => return Err(Failure::new(format!("run: a bundle takes one container id, got {more:?}"), 1)),
        };
        (id, Spec::from_bundle(bundle_dir(&args.create)?)?, Failure::from)
    };
    // Nothing of an image's container stays when it cannot be created.
    let release = |store: &Option<rcontainer_image::Store>| {
        if let Some(s) = store {
            let _ = s.release_container(&id);
        }
    };
    let (mut opts, _console) = create_options(cli, &args.create)?;
    let terminal = wants_terminal(&spec);
    if terminal && args.detach && opts.console_socket.is_none() {
        return Err(Failure::new(
            "run -d: the container has a terminal (process.terminal): give --console-socket to receive its pty",
            if adhoc_mode { 125 } else { 1 },
        ));
    }
    // In the foreground, a terminal of ours reaches the container only through a pipe, or the
    // container has a pty of its own that this process relays; a detached container gets
    // /dev/null in place of a terminal.
    let mut relay = if args.detach || terminal { None } else { Relay::for_terminals()? };
    let mut _null = None;
    if let Some(r) = &relay {
        let [stdin, stdout, stderr] = r.container_stdio();
        opts.stdio = rcontainer_core::Stdio { stdin, stdout, stderr };
    } else if args.detach {
        let (stdio, null) = relay::detached_stdio()?;
        opts.stdio = rcontainer_core::Stdio { stdin: stdio[0], stdout: stdio[1], stderr: stdio[2] };
        _null = null;
    }
    let mut sfd = if args.detach { None } else { Some(signals::block()?) };
    let mut c = match Container::create(&id, &spec, &opts) {
        Ok(c) => c,
        Err(e) => {
            // Also when the id is taken: the root was prepared by this run (a root of that id
            // already in the store makes prepare_run fail before).
            release(&store);
            return Err(map_err(e));
        }
    };
    if let Some(r) = relay.as_mut() {
        r.close_container_ends();
    }
    if let Some(master) = c.take_pty() {
        // Stdin goes to the container's terminal: from a bundle always (runc), ad hoc with -i.
        let stdin = !adhoc_mode || args.adhoc.interactive;
        match Relay::for_pty(master, stdin) {
            Ok(r) => relay = Some(r),
            Err(f) => {
                let _ = c.delete(true);
                return Err(f);
            }
        }
    }
    let started = c.start();
    warnings(cli, &mut c);
    if let Err(e) = started {
        let _ = c.delete(true);
        return Err(map_err(e));
    }
    if args.detach {
        return Ok(0);
    }
    let status = match sfd.as_mut() {
        Some(sfd) => signals::wait_forwarding(&mut c, sfd, relay.as_mut()),
        None => c.wait(None).map_err(Failure::from),
    };
    let status = match status {
        Ok(s) => s,
        Err(f) => {
            let _ = c.delete(true);
            return Err(f);
        }
    };
    if !args.keep {
        let deleted = c.delete(false);
        warnings(cli, &mut c);
        deleted.map_err(map_err)?;
    }
    if status.oom_killed {
        eprintln!("rcontainer: container {id}: OOM: a process was killed by the kernel's out-of-memory killer");
    }
    Ok(status.exit_code())
}
