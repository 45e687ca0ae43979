//! The image verbs (`pull`, `import`, `images`, `rmi`, `prune`) and `run IMAGE [CMD...]`'s
//! part: the container's copy-on-write root and the image's config (rcontainer-image).

use std::io::{IsTerminal, Write};

use clap::Args;
use rcontainer_core::options::Options;
use rcontainer_image::config::Overrides;
use rcontainer_image::{Progress, PullOptions, Store};

use crate::{Cli, Failure};

/// How to reach a registry (`pull`, and `run` of an image not in the store).
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// Talk plain http to the registry (a local one you trust, e.g. 127.0.0.1:5000)
    #[arg(long = "plain-http")]
    pub plain_http: bool,
    /// USER:PASSWORD for the registry (basic auth, or its token service); default: anonymous.
    /// Also from $RCONTAINER_REGISTRY_AUTH
    #[arg(long = "creds")]
    pub creds: Option<String>,
}

impl RegistryArgs {
    fn options(&self) -> Result<PullOptions, Failure> {
        let creds = self.creds.clone().or_else(|| std::env::var("RCONTAINER_REGISTRY_AUTH").ok());
        let credentials = match creds {
            None => None,
            Some(c) => match c.split_once(':') {
                Some((u, p)) if !u.is_empty() => Some((u.to_string(), p.to_string())),
                _ => return Err(Failure::new("--creds: expected USER:PASSWORD", 125)),
            },
        };
        Ok(PullOptions { plain_http: self.plain_http, credentials })
    }
}

fn failure(e: rcontainer_image::Error) -> Failure {
    Failure::new(e.to_string(), 125)
}

pub fn store(cli: &Cli) -> Result<Store, Failure> {
    Store::open(&cli.store).map_err(failure)
}

/// A byte count as docker prints it (1.2MB).
fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes}B"),
        1_000..1_000_000 => format!("{:.1}kB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}MB", b / 1e6),
        _ => format!("{:.2}GB", b / 1e9),
    }
}

/// Pulls with a line per layer on a terminal (stderr), nothing otherwise.
pub fn pull(store: &Store, reference: &str, reg: &RegistryArgs, quiet: bool) -> Result<String, Failure> {
    let tty = !quiet && std::io::stderr().is_terminal();
    let mut layers: Vec<(String, u64)> = Vec::new();
    let mut shown = 0usize;
    let mut last_draw = std::time::Instant::now();
    let mut err = std::io::stderr();
    let mut draw = |p: Progress| {
        if !tty {
            return;
        }
        match p {
            Progress::Layers(l) => {
                layers = l;
                for (d, size) in &layers {
                    let _ = writeln!(err, "{d}: waiting ({})", human(*size));
                }
                shown = layers.len();
            }
            Progress::Layer { index, done, total } => {
                if done < total && last_draw.elapsed() < std::time::Duration::from_millis(100) {
                    return;
                }
                last_draw = std::time::Instant::now();
                let width = 30usize;
                let filled = (done.min(total) * width as u64).checked_div(total).map_or(width, |f| f as usize);
                let up = shown - index;
                let name = layers.get(index).map(|l| l.0.as_str()).unwrap_or("?");
                let bar = format!("[{}{}] {} / {}", "=".repeat(filled), " ".repeat(width - filled), human(done), human(total));
                // Up to the layer's line, rewrite it, back down.
                let _ = write!(err, "\x1b[{up}A\r\x1b[2K{name}: {bar}\x1b[{up}B\r");
            }
            Progress::Cached { index } => {
                let up = shown - index;
                let name = layers.get(index).map(|l| l.0.as_str()).unwrap_or("?");
                let _ = write!(err, "\x1b[{up}A\r\x1b[2K{name}: already in the store\x1b[{up}B\r");
            }
            Progress::Unpacking => {
                let _ = writeln!(err, "unpacking...");
            }
        }
    };
    let (name, record) = rcontainer_image::pull(store, reference, &reg.options()?, &mut draw).map_err(failure)?;
    Ok(format!("{name} {}", record.manifest))
}

pub fn images(cli: &Cli, quiet: bool) -> Result<i32, Failure> {
    let store = store(cli)?;
    let list = store.images().map_err(failure)?;
    if quiet {
        for (_, r) in &list {
            println!("{}", r.id());
        }
        return Ok(0);
    }
    println!("{:<40} {:<12} {:<14} {:<22} SIZE", "REPOSITORY", "TAG", "IMAGE ID", "CREATED");
    for (n, r) in &list {
        let created = r.created.as_deref().map(|c| c.chars().take(19).collect::<String>().replace('T', " ")).unwrap_or_else(|| "-".into());
        let tag = n.tag().or(n.digest()).unwrap_or("<none>");
        println!("{:<40} {:<12} {:<14} {:<22} {}", n.repository(), tag, r.id(), created, human(r.size()));
    }
    Ok(0)
}

pub fn rmi(cli: &Cli, refs: &[String]) -> Result<i32, Failure> {
    let store = store(cli)?;
    for r in refs {
        let name = store.untag(r).map_err(failure)?;
        println!("Untagged: {}:{}", name.repository(), name.tag().or(name.digest()).unwrap_or(""));
    }
    // What only those names used goes now (a running container's layers stay).
    let report = store.prune(std::slice::from_ref(&cli.root)).map_err(failure)?;
    if report.layers > 0 {
        println!("Deleted: {} layer(s), {} blob(s), {}", report.layers, report.blobs, human(report.bytes));
    }
    Ok(0)
}

pub fn prune(cli: &Cli) -> Result<i32, Failure> {
    let report = store(cli)?.prune(std::slice::from_ref(&cli.root)).map_err(failure)?;
    println!("removed {} blob(s), {} layer(s), {} container root(s): {}", report.blobs, report.layers, report.containers, human(report.bytes));
    Ok(0)
}

pub fn import(cli: &Cli, path: &std::path::Path, name: Option<&str>) -> Result<i32, Failure> {
    let store = store(cli)?;
    for (n, r) in rcontainer_image::import::import(&store, path, name).map_err(failure)? {
        println!("{}:{} {}", n.repository(), n.tag().or(n.digest()).unwrap_or(""), r.id());
    }
    Ok(0)
}

/// The image part of `run IMAGE [CMD...]`: pulls the image when the store lacks it, prepares
/// the container's root and applies the image's config to `o`. Returns the stop signal.
pub fn prepare_run(
    cli: &Cli,
    image: &str,
    id: &str,
    over: &Overrides,
    read_only: bool,
    reg: &RegistryArgs,
    o: &mut Options,
) -> Result<(Store, Option<String>), Failure> {
    let store = store(cli)?;
    if store.find(image).map_err(failure)?.is_none() {
        eprintln!("rcontainer: {image} is not in the store {}: pulling it", store.root().display());
        pull(&store, image, reg, false)?;
    }
    let applied = rcontainer_image::config::prepare(&store, image, id, read_only, over, o).map_err(failure)?;
    for note in &applied.notes {
        crate::warn(cli, note);
    }
    Ok((store, applied.stop_signal))
}
