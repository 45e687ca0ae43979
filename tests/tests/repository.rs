//! The project stands alone: a fresh clone with nothing beside it runs every test. This checks
//! that no script or test of the repository reaches for a path outside it (such as a tools
//! directory next to the clone).

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "node_modules" || name == ".venv" || name == "target" || name == "out" || name.starts_with('.') && name != ".ci" {
            continue;
        }
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn no_script_or_test_uses_a_path_outside_the_repository() {
    let root = repo();
    let mut all = Vec::new();
    for d in ["scripts", "tests", "bench", ".ci", "capi/tests", "bindings-python/tests", "bindings-node/test", "cli", "examples"] {
        files(&root.join(d), &mut all);
    }
    for f in ["bindings-python/test.sh", "bindings-node/test.sh", "capi/install.sh"] {
        all.push(root.join(f));
    }
    let this = Path::new(file!()).file_name().expect("name").to_owned();
    let mut offenders = Vec::new();
    for f in all.iter().filter(|f| f.file_name() != Some(this.as_os_str())) {
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        for (i, line) in text.lines().enumerate() {
            if line.contains("../shared") || line.contains("shared/tools") || line.contains("/work/") {
                offenders.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "paths outside the repository:\n{}", offenders.join("\n"));
}
