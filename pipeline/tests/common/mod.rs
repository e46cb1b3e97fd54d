//! Helpers shared by the pipeline's integration tests: running `tests/read_shards.py`, the
//! independent numpy reader a trainer would use, on what the tests write.

#![allow(dead_code)] // each test file uses its own share

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A python3 with numpy (ARCADE_PYTHON, python3 or /usr/bin/python3), as tests/pack.rs
/// expects: missing numpy fails the test unless ARCADE_SKIP_PYTHON is set.
pub fn python_with_numpy() -> Option<String> {
    if std::env::var_os("ARCADE_SKIP_PYTHON").is_some() {
        eprintln!("ARCADE_SKIP_PYTHON is set: tests/read_shards.py not exercised");
        return None;
    }
    let candidates = std::env::var("ARCADE_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_string(), "/usr/bin/python3".to_string()]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import numpy"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
    }
    panic!("python3 with numpy is needed (tests/run.sh installs it); ARCADE_SKIP_PYTHON=1 skips");
}

/// A deterministic stream of pseudo-random u32s from `state`: a 64-bit LCG (Knuth's MMIX
/// constants), the high bits of each new state.
pub fn lcg(mut state: u64) -> impl FnMut() -> u32 {
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/read_shards.py")
}

/// Writes `docs` as the `{"ids": [...]}` lines that read_shards.py's `--expect-ids` reads.
pub fn write_expected(path: &Path, docs: &[Vec<u32>]) {
    let mut text = String::new();
    for d in docs {
        text.push_str(&serde_json::json!({ "ids": d }).to_string());
        text.push('\n');
    }
    fs::write(path, text).unwrap();
}

/// Runs read_shards.py on `dir` against the ids in `expected`, with `extra` arguments; returns
/// whether it passed and everything it printed.
pub fn read_shards_py(python: &str, dir: &Path, expected: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(python)
        .arg(script())
        .arg(dir)
        .arg("--expect-ids")
        .arg(expected)
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
