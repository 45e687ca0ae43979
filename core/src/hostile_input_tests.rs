//! Property tests over hostile configs: runc's default config with random fields replaced by
//! random JSON (control characters, `..`, huge and negative numbers, wrong types, long strings),
//! through everything create does before it makes anything: parse, validate, resources checks,
//! plan building (seccomp compilation, mount and device planning). Nothing may panic, and every
//! rejection is a one-line error.

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;

use proptest::prelude::*;
use serde_json::Value;

use crate::plan::{Plan, PlanInputs};
use crate::spec::Spec;

/// Where the mutations go (JSON pointers into runc's default config; missing parents are made).
const TARGETS: &[&str] = &[
    "/process/args",
    "/process/args/0",
    "/process/env",
    "/process/env/0",
    "/process/cwd",
    "/process/user/uid",
    "/process/user/gid",
    "/process/user/additionalGids",
    "/process/terminal",
    "/process/consoleSize",
    "/process/capabilities/bounding",
    "/process/capabilities/effective/0",
    "/process/rlimits",
    "/process/rlimits/0/type",
    "/process/rlimits/0/hard",
    "/process/noNewPrivileges",
    "/process/oomScoreAdj",
    "/process/apparmorProfile",
    "/root/path",
    "/root/readonly",
    "/hostname",
    "/domainname",
    "/mounts",
    "/mounts/0/destination",
    "/mounts/0/type",
    "/mounts/0/source",
    "/mounts/0/options",
    "/mounts/1/options/0",
    "/mounts/2/destination",
    "/linux/namespaces",
    "/linux/namespaces/0/type",
    "/linux/namespaces/1/path",
    "/linux/uidMappings",
    "/linux/gidMappings",
    "/linux/resources/memory/limit",
    "/linux/resources/memory/swap",
    "/linux/resources/cpu/quota",
    "/linux/resources/cpu/period",
    "/linux/resources/cpu/cpus",
    "/linux/resources/pids/limit",
    "/linux/resources/devices",
    "/linux/resources/devices/0/access",
    "/linux/resources/devices/0/major",
    "/linux/resources/blockIO/weight",
    "/linux/resources/hugepageLimits",
    "/linux/devices",
    "/linux/seccomp",
    "/linux/seccomp/defaultAction",
    "/linux/seccomp/syscalls",
    "/linux/maskedPaths",
    "/linux/maskedPaths/0",
    "/linux/readonlyPaths/0",
    "/linux/sysctl",
    "/linux/rootfsPropagation",
    "/linux/cgroupsPath",
    "/linux/mountLabel",
    "/hooks",
    "/annotations",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![Just(-1i64), Just(0), Just(1), Just(4095), Just(1 << 31), Just(i64::MAX)].prop_map(Value::from),
        "[ -~]{0,40}".prop_map(Value::from),
        prop_oneof![
            Just("..".to_string()),
            Just("/../../etc/shadow".to_string()),
            Just("/proc/self/fd/3".to_string()),
            Just("a\nrcontainer: forged\u{1b}[2J".to_string()),
            Just("/dev/../proc".to_string()),
            Just("rwmx".to_string()),
            Just("SCMP_ACT_NOTIFY".to_string()),
            Just("mkdir".to_string()),
            Just("bind".to_string()),
            Just("rbind".to_string()),
            Just("tmpfs".to_string()),
            Just("cgroup".to_string()),
            Just("proc".to_string()),
            Just("ro".to_string()),
            Just("rro".to_string()),
            Just("mode=0777".to_string()),
            Just("network".to_string()),
            Just("user".to_string()),
            Just("x".repeat(5000)),
            Just("\u{0}".to_string()),
        ]
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Sets `pointer` in `v` to `new`, making missing parents (objects; array slots past the end
/// are appended).
fn set(v: &mut Value, pointer: &str, new: Value) {
    let mut cur = v;
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        let next = if last { new.clone() } else { Value::Object(Default::default()) };
        cur = match cur {
            Value::Object(m) => {
                if last {
                    m.insert(part.to_string(), next);
                    return;
                }
                m.entry(part.to_string()).or_insert(next)
            }
            Value::Array(a) => {
                let idx = part.parse::<usize>().unwrap_or(0).min(a.len());
                if idx == a.len() {
                    a.push(next);
                } else if last {
                    a[idx] = next;
                    return;
                }
                &mut a[idx]
            }
            _ => return,
        };
    }
}

/// `new` made to the shape of `orig` (its type; arrays element-wise), so that a mutation gets
/// past parsing and reaches the checks behind it.
fn coerce(orig: Option<&Value>, new: Value) -> Value {
    match (orig, new) {
        (None, new) => new,
        (Some(Value::String(_)), Value::String(s)) => Value::String(s),
        (Some(Value::String(_)), other) => Value::String(other.to_string()),
        (Some(Value::Number(_)), Value::Number(n)) => Value::Number(n),
        (Some(Value::Number(_)), other) => Value::from(other.to_string().len() as i64 - 3),
        (Some(Value::Bool(_)), Value::Bool(b)) => Value::Bool(b),
        (Some(Value::Bool(_)), other) => Value::Bool(other.to_string().len() % 2 == 0),
        (Some(Value::Array(a)), Value::Array(items)) => Value::Array(items.into_iter().map(|e| coerce(a.first(), e)).collect()),
        (Some(Value::Array(a)), other) => Value::Array(vec![coerce(a.first(), other)]),
        (Some(Value::Object(_)), Value::Object(m)) => Value::Object(m),
        (Some(o), _) => o.clone(),
    }
}

fn config() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(TARGETS), json(), any::<bool>()), 1..6).prop_map(|edits| {
        let mut v: Value = serde_json::from_str(&Spec::runc_default("/").to_json()).unwrap_or_default();
        for (target, value, typed) in edits {
            let value = if typed { coerce(v.pointer(target), value) } else { value };
            set(&mut v, target, value);
        }
        v.to_string()
    })
}

/// The shape of a rejection, for counting distinct ones: the field of an invalid value, else the
/// message up to its first value.
fn shape(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid configuration: ") {
        return rest.split(" = ").next().unwrap_or("").chars().filter(|c| !c.is_ascii_digit()).collect();
    }
    if let Some(rest) = message.strip_prefix("invalid OCI config (json text): ") {
        return format!("parse: {}", rest.split(['`', '"', ',']).next().unwrap_or("").split(" at line").next().unwrap_or(""));
    }
    message.split([':', '"']).next().unwrap_or("").to_string()
}

/// Everything create does with a config before it makes anything.
fn check(text: &str, dev_null: &std::fs::File) -> Result<(), String> {
    let bundle = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::create_dir(bundle.path().join("rootfs")).map_err(|e| e.to_string())?;
    let spec = Spec::from_json(text, bundle.path()).map_err(|e| e.to_string())?;
    spec.validate().map_err(|e| e.to_string())?;
    if let Some(r) = spec.config().linux().as_ref().and_then(|l| l.resources().as_ref()) {
        crate::cgroups::validate_resources(r).map_err(|e| e.to_string())?;
    }
    let fd = dev_null.as_raw_fd();
    let inputs = PlanInputs { console_socket: Some(fd), ..PlanInputs::for_tests(fd) };
    Plan::build(&spec, &inputs).map(drop).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_configs_never_panic_and_every_rejection_is_one_line(text in config()) {
        let dev_null = std::fs::File::open("/dev/null").map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Err(message) = check(&text, &dev_null) {
            prop_assert!(!message.contains('\n') && !message.chars().any(char::is_control), "{message:?}");
            prop_assert!(!message.is_empty());
        }
    }
}

/// The same run as a figure (cases, distinct rejections, time), printed with --nocapture.
#[test]
fn hostile_config_figures() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let started = std::time::Instant::now();
    let mut runner = TestRunner::deterministic();
    let strategy = config();
    let dev_null = std::fs::File::open("/dev/null").expect("/dev/null");
    let mut kinds = BTreeSet::new();
    let mut accepted = 0;
    let cases = 1500;
    for _ in 0..cases {
        let text = strategy.new_tree(&mut runner).expect("a case").current();
        match check(&text, &dev_null) {
            Ok(()) => accepted += 1,
            // The shape of the rejection: its text up to the first value.
            Err(m) => {
                kinds.insert(shape(&m));
            }
        }
    }
    eprintln!("hostile configs: {cases} cases, {accepted} accepted, {} distinct rejections, {:?}", kinds.len(), started.elapsed());
    if std::env::var_os("RCONTAINER_SHOW_REJECTIONS").is_some() {
        kinds.iter().for_each(|k| eprintln!("  {k}"));
    }
    assert!(kinds.len() > 10, "the mutations reach few checks: {kinds:?}");
}
