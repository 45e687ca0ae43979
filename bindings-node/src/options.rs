//! The options object of `Container.create` / `run`, read key by key with messages that name the
//! option and the value, onto core's `Options` (rcontainer_core::options: what each option means,
//! its values' rules and the defaults, shared with the command and the Python package), which
//! makes the spec.

use std::path::PathBuf;

use rcontainer_core::oci_spec::runtime::{LinuxIdMapping, Mount};
use rcontainer_core::options::{limit_bytes, limit_text, validate_limits, Naming, Network, Options};
use rcontainer_core::spec::{self, parse_id_map, parse_namespace_type};
use rcontainer_core::{Limits, Spec, DEFAULT_STATE_ROOT};
use serde_json::Value;

use crate::error::{BResult, Failure};

/// What one of the three standard streams of the container is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdioKind {
    Inherit,
    Ignore,
    Pipe,
    Fd(i32),
}

/// Everything `Container.create` needs, parsed.
pub struct Parsed {
    pub id: String,
    pub root: PathBuf,
    pub spec: Spec,
    pub stdio: [Option<StdioKind>; 3],
    /// A terminal of its own (the pty is its stdio; `stdio` is then all None).
    pub tty: bool,
}

pub const CREATE_KEYS: &[&str] = &[
    "id",
    "args",
    "rootfs",
    "hostname",
    "env",
    "cwd",
    "user",
    "namespaces",
    "uidMap",
    "gidMap",
    "mounts",
    "network",
    "memory",
    "memorySwap",
    "cpus",
    "pids",
    "stdio",
    "spec",
    "root",
    "bundle",
    "tty",
    "ttySize",
    "sandbox",
];
/// The keys of `container.exec(args, options)` (besides RUN_KEYS: capture, timeout, input, encoding, maxBuffer).
pub const EXEC_KEYS: &[&str] = &["env", "cwd", "user", "tty", "ttySize", "stdio"];
/// The keys of `container.limit(options)` (also accepted by `Container.create`).
pub const LIMIT_KEYS: &[&str] = &["memory", "memorySwap", "cpus", "pids"];
pub const RUN_KEYS: &[&str] = &["capture", "timeout", "input", "encoding", "maxBuffer"];

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..s.char_indices().take_while(|(i, _)| *i < 77).last().map(|(i, c)| i + c.len_utf8()).unwrap_or(0)])
    } else {
        s
    }
}

fn present(v: &Value) -> bool {
    !v.is_null()
}

fn string(op: &str, name: &str, v: &Value) -> BResult<String> {
    v.as_str().map(str::to_string).ok_or_else(|| Failure::invalid(op, format!("options.{name} must be a string, got {}", show(v))))
}

fn u32_of(op: &str, name: &str, v: &Value) -> BResult<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| Failure::invalid(op, format!("options.{name} must be an integer 0..2^32, got {}", show(v))))
}

pub fn string_array(op: &str, name: &str, v: &Value) -> BResult<Vec<String>> {
    let bad = || Failure::invalid(op, format!("{name} must be an array of strings, got {}", show(v)));
    let arr = v.as_array().ok_or_else(bad)?;
    arr.iter().map(|s| s.as_str().map(str::to_string).ok_or_else(bad)).collect()
}

fn id_maps(op: &str, name: &str, v: &Value) -> BResult<Vec<LinuxIdMapping>> {
    let field = format!("options.{name}");
    let one = |e: &Value| -> BResult<LinuxIdMapping> {
        match e {
            Value::String(s) => parse_id_map(&field, s).map_err(|e| Failure::core(op, &e)),
            Value::Object(m) => {
                let num = |k: &str| m.get(k).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
                match (num("containerId"), num("hostId"), num("size")) {
                    (Some(c), Some(h), Some(s)) => parse_id_map(&field, &format!("{c}:{h}:{s}")).map_err(|e| Failure::core(op, &e)),
                    _ => Err(Failure::invalid(op, format!("{field} entries must be {{containerId, hostId, size}} or 'C:H:N', got {}", show(e)))),
                }
            }
            _ => Err(Failure::invalid(op, format!("{field} entries must be {{containerId, hostId, size}} or 'C:H:N', got {}", show(e)))),
        }
    };
    match v {
        Value::Array(a) => a.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

pub fn parse_stdio(op: &str, v: &Value) -> BResult<[Option<StdioKind>; 3]> {
    let one = |i: usize, e: &Value| -> BResult<Option<StdioKind>> {
        match e {
            Value::Null => Ok(None),
            Value::String(s) if s == "inherit" => Ok(Some(StdioKind::Inherit)),
            Value::String(s) if s == "ignore" => Ok(Some(StdioKind::Ignore)),
            Value::String(s) if s == "pipe" => Ok(Some(StdioKind::Pipe)),
            Value::Number(n) if n.as_u64().is_some_and(|n| n <= i32::MAX as u64) => Ok(Some(StdioKind::Fd(n.as_u64().unwrap_or(0) as i32))),
            _ => Err(Failure::invalid(op, format!("options.stdio[{i}] must be 'inherit', 'ignore', 'pipe' or a file descriptor, got {}", show(e)))),
        }
    };
    match v {
        Value::Null => Ok([None; 3]),
        Value::String(_) => {
            let k = one(0, v)?;
            Ok([k; 3])
        }
        Value::Array(a) if a.len() <= 3 => {
            let mut out = [None; 3];
            for (i, e) in a.iter().enumerate() {
                out[i] = one(i, e)?;
            }
            Ok(out)
        }
        _ => Err(Failure::invalid(op, format!("options.stdio must be an array of up to 3 entries or one of 'inherit', 'ignore', 'pipe', got {}", show(v)))),
    }
}

fn mounts(op: &str, v: &Value) -> BResult<Vec<Mount>> {
    let arr = v.as_array().ok_or_else(|| Failure::invalid(op, format!("options.mounts must be an array, got {}", show(v))))?;
    arr.iter().enumerate().map(|(i, m)| spec::mount_from_json(&format!("options.mounts[{i}]"), m).map_err(|e| Failure::core(op, &e))).collect()
}

pub fn parse_user(op: &str, v: &Value) -> BResult<(u32, u32)> {
    let bad = || Failure::invalid(op, format!("options.user must be a uid, 'UID:GID' or {{uid, gid}}, got {}", show(v)));
    match v {
        Value::Number(_) => {
            let u = u32_of(op, "user", v)?;
            Ok((u, u))
        }
        Value::String(s) => match s.split_once(':') {
            Some((u, g)) => Ok((u.trim().parse().map_err(|_| bad())?, g.trim().parse().map_err(|_| bad())?)),
            None => {
                let u: u32 = s.trim().parse().map_err(|_| bad())?;
                Ok((u, u))
            }
        },
        Value::Object(m) => {
            let uid = m.get("uid").map(|x| u32_of(op, "user.uid", x)).transpose()?.ok_or_else(bad)?;
            let gid = m.get("gid").map(|x| u32_of(op, "user.gid", x)).transpose()?.unwrap_or(uid);
            Ok((uid, gid))
        }
        _ => Err(bad()),
    }
}

/// Reads the create options (`get(key)` returns the value of a key, Null when absent).
pub fn parse(op: &str, get: &dyn Fn(&str) -> BResult<Value>) -> BResult<Parsed> {
    let id = match get("id")? {
        Value::Null => rcontainer_core::state::generate_id(),
        v => string(op, "id", &v)?,
    };
    let root = match get("root")? {
        Value::Null => PathBuf::from(DEFAULT_STATE_ROOT),
        v => std::path::absolute(string(op, "root", &v)?).map_err(|e| Failure::os(op, &e))?,
    };
    let bundle = match get("bundle")? {
        Value::Null => std::env::current_dir().map_err(|e| Failure::os(op, &e))?,
        v => PathBuf::from(string(op, "bundle", &v)?),
    };
    let core = |e: rcontainer_core::Error| Failure::core(op, &e);
    // The JavaScript shapes are read here; what the options mean, their values' rules and the
    // defaults are core's (rcontainer_core::options).
    let mut o = Options { naming: Naming::Camel, bundle: Some(bundle.clone()), ..Options::default() };

    let spec_value = get("spec")?;
    let args = get("args")?;
    if present(&spec_value) {
        if !spec_value.is_object() {
            return Err(Failure::invalid(op, format!("options.spec must be an OCI runtime config object, got {}", show(&spec_value))));
        }
        o.spec = Some(Spec::from_json(&spec_value.to_string(), &bundle).map_err(core)?);
        if present(&args) {
            o.args = Some(string_array(op, "options.args", &args)?);
        }
    } else {
        if !present(&args) {
            return Err(Failure::invalid(op, "options.args is required (the command and its arguments, e.g. ['sh', '-c', 'echo hi'])"));
        }
        let args = string_array(op, "options.args", &args)?;
        if args.is_empty() || args[0].is_empty() {
            return Err(Failure::invalid(op, "options.args must not be empty (the command to run)"));
        }
        o.args = Some(args);
    }
    match get("rootfs")? {
        Value::Null => {}
        v => o.rootfs = Some(PathBuf::from(string(op, "rootfs", &v)?)),
    }
    match get("hostname")? {
        Value::Null => {}
        v => o.hostname = Some(string(op, "hostname", &v)?),
    }
    o.env = parse_env(op, &get("env")?)?;
    match get("cwd")? {
        Value::Null => {}
        v => o.cwd = Some(PathBuf::from(string(op, "cwd", &v)?)),
    }
    match get("user")? {
        Value::Null => {}
        // A name (docker's -u NAME[:GROUP]): from the container's /etc/passwd, by core.
        Value::String(s) if s.split(':').any(|p| !p.trim().is_empty() && p.trim().parse::<u32>().is_err()) => o.user_name = Some(s),
        v => o.user = Some(parse_user(op, &v)?),
    }
    match get("namespaces")? {
        Value::Null => {}
        v @ Value::Array(_) => {
            let names = string_array(op, "options.namespaces", &v)?;
            o.namespaces = Some(names.iter().map(|n| parse_namespace_type(n).map(|t| (t, None)).map_err(core)).collect::<BResult<Vec<_>>>()?);
        }
        Value::Object(m) => {
            for (k, v) in &m {
                let t = parse_namespace_type(k).map_err(core)?;
                o.namespace_changes.push(match v {
                    Value::Bool(on) => (t, *on, None),
                    Value::String(p) => (t, true, Some(PathBuf::from(p))),
                    o => return Err(Failure::invalid(op, format!("options.namespaces.{k} must be true, false or a path to join, got {}", show(o)))),
                });
            }
        }
        v => {
            return Err(Failure::invalid(
                op,
                format!("options.namespaces must be an array of types or an object {{type: true | false | path}}, got {}", show(&v)),
            ))
        }
    }
    let uid_map = get("uidMap")?;
    if present(&uid_map) {
        o.uid_map = id_maps(op, "uidMap", &uid_map)?;
    }
    let gid_map = get("gidMap")?;
    if present(&gid_map) {
        o.gid_map = id_maps(op, "gidMap", &gid_map)?;
    }
    match get("mounts")? {
        Value::Null => {}
        v => o.mounts = mounts(op, &v)?,
    }
    match get("network")? {
        Value::Null => {}
        Value::String(s) => o.network = Some(Network::parse(Naming::Camel, &s).map_err(core)?),
        v => return Err(Failure::invalid(op, format!("options.network must be 'none', 'host' or a network namespace path, got {}", show(&v)))),
    }
    o.limits = parse_limits(op, get)?;
    let stdio_value = get("stdio")?;
    let tty = parse_tty(op, &get("tty")?, &get("ttySize")?, &stdio_value)?;
    o.terminal = tty;
    let stdio = parse_stdio(op, &stdio_value)?;
    o.sandbox = match get("sandbox")? {
        Value::Null => false,
        Value::Bool(on) => on,
        v => return Err(Failure::invalid(op, format!("options.sandbox must be true or false, got {}", show(&v)))),
    };
    let spec = o.to_spec(&id, &root).map_err(core)?;
    Ok(Parsed { id, root, spec, stdio, tty: tty.is_some() })
}

/// `env`: an object {KEY: 'value'} or an array of 'KEY=VALUE' (Null: none).
pub fn parse_env(op: &str, v: &Value) -> BResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, v) in m {
                let val = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(x) => x.to_string(),
                    o => return Err(Failure::invalid(op, format!("options.env.{k} must be a string, got {}", show(o)))),
                };
                if k.is_empty() || k.contains('=') {
                    return Err(Failure::invalid(op, format!("options.env key {k:?} is not a variable name")));
                }
                out.push((k.clone(), val));
            }
        }
        v @ Value::Array(_) => {
            for kv in string_array(op, "options.env", v)? {
                match kv.split_once('=') {
                    Some((k, val)) if !k.is_empty() => out.push((k.to_string(), val.to_string())),
                    _ => return Err(Failure::invalid(op, format!("options.env entry {kv:?} must look like KEY=VALUE"))),
                }
            }
        }
        v => return Err(Failure::invalid(op, format!("options.env must be an object {{KEY: 'value'}} or an array of 'KEY=VALUE', got {}", show(v)))),
    }
    Ok(out)
}

/// `tty` (a boolean) and `ttySize` ({ rows, cols }): None without a terminal, else its size if
/// given. A terminal is the stdio, so `stdio` must not be given with it.
pub fn parse_tty(op: &str, tty: &Value, size: &Value, stdio: &Value) -> BResult<Option<Option<(u16, u16)>>> {
    let on = match tty {
        Value::Null | Value::Bool(false) => false,
        Value::Bool(true) => true,
        v => return Err(Failure::invalid(op, format!("options.tty must be a boolean, got {}", show(v)))),
    };
    let size = match size {
        Value::Null => None,
        _ if !on => return Err(Failure::invalid(op, "options.ttySize needs options.tty: true")),
        Value::Object(m) => {
            let dim = |k: &str| m.get(k).and_then(Value::as_u64).and_then(|n| u16::try_from(n).ok()).filter(|n| *n > 0);
            match (dim("rows"), dim("cols")) {
                (Some(r), Some(c)) => Some((r, c)),
                _ => return Err(Failure::invalid(op, format!("options.ttySize must be {{ rows, cols }}, each 1..65535, got {}", show(size)))),
            }
        }
        v => return Err(Failure::invalid(op, format!("options.ttySize must be {{ rows, cols }}, got {}", show(v)))),
    };
    if on && present(stdio) {
        return Err(Failure::invalid(op, "options.stdio cannot be given with options.tty: the terminal is stdin, stdout and stderr"));
    }
    Ok(on.then_some(size))
}

/// A size in bytes: a whole number or a string like '32M' (shape read here), positive or -1 for
/// unlimited (core's rule, options::limit_bytes / limit_text). `option` is its snake_case name.
fn size(op: &str, option: &str, v: &Value) -> BResult<i64> {
    let core = |e: rcontainer_core::Error| Failure::core(op, &e);
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(b) => limit_bytes(Naming::Camel, option, b).map_err(core),
            None => Err(Failure::invalid(
                op,
                format!("{} must be a whole number of bytes, a size like '32M', or -1 (unlimited), got {}", Naming::Camel.name(option), show(v)),
            )),
        },
        Value::String(t) => limit_text(Naming::Camel, option, t).map_err(core),
        _ => Err(Failure::invalid(op, format!("{} must be a number of bytes or a size like '32M', got {}", Naming::Camel.name(option), show(v)))),
    }
}

/// The resource options shared by `Container.create` and `container.limit`: memory, memorySwap
/// (memory plus swap, as Docker's --memory-swap; -1 = unlimited swap), cpus, pids.
pub fn parse_limits(op: &str, get: &dyn Fn(&str) -> BResult<Value>) -> BResult<Limits> {
    let mut l = Limits::default();
    match get("memory")? {
        Value::Null => {}
        v => l.memory = Some(size(op, "memory", &v)?),
    }
    match get("memorySwap")? {
        Value::Null => {}
        v => l.memory_swap = Some(size(op, "memory_swap", &v)?),
    }
    match get("cpus")? {
        Value::Null => {}
        v => match v.as_f64() {
            Some(c) => l.cpus = Some(c),
            None => return Err(Failure::invalid(op, format!("options.cpus must be a positive number of CPUs (0.5 = half a CPU), got {}", show(&v)))),
        },
    }
    match get("pids")? {
        Value::Null => {}
        v => match v.as_i64() {
            Some(p) => l.pids = Some(p),
            None => return Err(Failure::invalid(op, format!("options.pids must be a positive integer or -1 (unlimited), got {}", show(&v)))),
        },
    }
    validate_limits(Naming::Camel, &l).map_err(|e| Failure::core(op, &e))?;
    Ok(l)
}
