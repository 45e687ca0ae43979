//! In-process library loop: N × (create + start + wait + delete) of the bundle's container with
//! the rcontainer-core API, each timed on its own. Optionally from a parent that first allocates
//! and touches a big buffer (the "1 GiB parent" row).
//!
//! usage: inproc --bundle DIR --root DIR [--count N] [--warmup N] [--touch-mib MIB]
//!               [--name NAME] [--json FILE]
//! The JSON is shaped like hyperfine's export (`{"results":[{"command","times",...}]}`), so
//! run.sh reads it with the hyperfine results.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use rcontainer_core::{Container, CreateOptions, Spec};

fn usage() -> ! {
    eprintln!("usage: inproc --bundle DIR --root DIR [--count N] [--warmup N] [--touch-mib MIB] [--name NAME] [--json FILE]");
    std::process::exit(2)
}

fn main() {
    let mut bundle = None;
    let mut root = None;
    let mut count = 200usize;
    let mut warmup = 10usize;
    let mut touch_mib = 0usize;
    let mut name = String::from("inproc");
    let mut json = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--bundle" => bundle = Some(PathBuf::from(val())),
            "--root" => root = Some(PathBuf::from(val())),
            "--count" => count = val().parse().unwrap_or_else(|_| usage()),
            "--warmup" => warmup = val().parse().unwrap_or_else(|_| usage()),
            "--touch-mib" => touch_mib = val().parse().unwrap_or_else(|_| usage()),
            "--name" => name = val(),
            "--json" => json = Some(PathBuf::from(val())),
            _ => usage(),
        }
    }
    let (Some(bundle), Some(root)) = (bundle, root) else { usage() };

    // The big parent: allocated and touched page by page, kept alive across the loop.
    let mut ballast: Vec<u8> = Vec::with_capacity(touch_mib << 20);
    if touch_mib > 0 {
        // SAFETY: u8 has no invalid values; every byte is written right below.
        unsafe { ballast.set_len(touch_mib << 20) };
        for i in (0..ballast.len()).step_by(4096) {
            ballast[i] = (i >> 12) as u8 | 1;
        }
        black_box(&mut ballast);
    }

    let spec = match Spec::from_bundle(&bundle) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("inproc: {}: {e}", bundle.display());
            std::process::exit(1)
        }
    };
    let opts = CreateOptions { root, ..CreateOptions::default() };
    let pid = std::process::id();
    let mut times = Vec::with_capacity(count);
    // Per phase (create, start, wait, delete), to see where a container's time goes.
    let mut phases: [Vec<f64>; 4] = Default::default();
    for i in 0..warmup + count {
        let id = format!("rcontainer-bench-inproc-{pid}-{i}");
        let t0 = Instant::now();
        let mut marks = [t0; 4];
        let mut run = || -> rcontainer_core::Result<i32> {
            let mut c = Container::create(&id, &spec, &opts)?;
            marks[0] = Instant::now();
            let res = c.start().inspect(|()| marks[1] = Instant::now()).and_then(|()| c.wait(None));
            marks[2] = Instant::now();
            let del = c.delete(true);
            marks[3] = Instant::now();
            let st = res?;
            del?;
            Ok(st.exit_code())
        };
        match run() {
            Ok(0) => {}
            Ok(code) => {
                eprintln!("inproc: container {id} exited {code}");
                std::process::exit(1)
            }
            Err(e) => {
                eprintln!("inproc: container {id}: {e}");
                std::process::exit(1)
            }
        }
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64());
            let mut prev = t0;
            for (k, m) in marks.iter().enumerate() {
                phases[k].push((*m - prev).as_secs_f64());
                prev = *m;
            }
        }
    }
    black_box(&ballast);

    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.is_empty() { 0.0 } else { sorted[sorted.len() / 2] };
    let min = sorted.first().copied().unwrap_or(0.0);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let phase_medians: Vec<String> = ["create", "start", "wait", "delete"]
        .iter()
        .zip(phases.iter_mut())
        .map(|(n, v)| {
            v.sort_by(f64::total_cmp);
            format!("{n} {:.3}", v.get(v.len() / 2).copied().unwrap_or(0.0) * 1e3)
        })
        .collect();
    eprintln!(
        "inproc {name}: {count} containers, median {:.3} ms, min {:.3} ms, mean {:.3} ms (phase medians, ms: {})",
        median * 1e3,
        min * 1e3,
        mean * 1e3,
        phase_medians.join(", ")
    );
    if let Some(path) = json {
        let list: Vec<String> = times.iter().map(|t| format!("{t:.9}")).collect();
        let text =
            format!("{{\"results\":[{{\"command\":\"{name}\",\"mean\":{mean:.9},\"median\":{median:.9},\"min\":{min:.9},\"times\":[{}]}}]}}\n", list.join(","));
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("inproc: {}: {e}", path.display());
            std::process::exit(1)
        }
    }
}
