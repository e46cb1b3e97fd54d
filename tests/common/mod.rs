//! Helpers shared by the end-to-end tests of the `arcade` binary: running it, reading the
//! fixtures independently of the CLI's readers, and assertions that show what was looked at.

#![allow(dead_code)] // each test file uses its own share

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root: tests run there so fixture paths appear in messages as `fixtures/...`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fixture path relative to the workspace root, checked to exist.
pub fn fixture(rel: &str) -> String {
    let path = root().join("fixtures").join(rel);
    assert!(path.is_file(), "fixture {} is missing", path.display());
    format!("fixtures/{rel}")
}

/// A fixture's bytes, decompressed by its extension (gzip, zstd).
pub fn fixture_bytes(rel: &str) -> Vec<u8> {
    let raw = std::fs::read(root().join(fixture(rel))).unwrap();
    if rel.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else if rel.ends_with(".zst") {
        zstd::decode_all(&raw[..]).unwrap()
    } else {
        raw
    }
}

/// The `field` strings of a JSONL fixture, parsed independently of the CLI's reader.
pub fn jsonl_field(rel: &str, field: &str) -> Vec<String> {
    let bytes = fixture_bytes(rel);
    std::str::from_utf8(&bytes)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v[field]
                .as_str()
                .unwrap_or_else(|| panic!("{rel}: no string {field}"))
                .to_string()
        })
        .collect()
}

/// The `text` strings of a JSONL fixture.
pub fn jsonl_texts(rel: &str) -> Vec<String> {
    jsonl_field(rel, "text")
}

/// How a run of the binary ended, and what it printed.
pub struct Run {
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// Asserts exit 0.
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "arcade failed:\n{}", self.printed());
        self
    }

    /// Asserts exit 1, the code of every error that is not a usage error.
    #[track_caller]
    pub fn failed(self) -> Run {
        assert_eq!(self.code, Some(1), "expected exit 1:\n{}", self.printed());
        self
    }

    /// Exit 0 (what `ExitStatus::success` says).
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn stdout_str(&self) -> &str {
        std::str::from_utf8(&self.stdout).expect("stdout is UTF-8")
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}", String::from_utf8_lossy(&self.stdout))
        })
    }

    /// The value of a summary row (`  tokens   1,234` → `1234`), thousands separators removed.
    #[track_caller]
    pub fn summary(&self, label: &str) -> String {
        for line in self.stderr.lines() {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix(label) {
                if rest.starts_with("  ") {
                    return rest.trim().replace(',', "");
                }
            }
        }
        panic!("no summary row `{label}` in:\n{}", self.stderr);
    }

    /// stdout (its start, when long) and stderr, for failure messages.
    fn printed(&self) -> String {
        const SHOWN: usize = 4096;
        let cut = self.stdout.len().min(SHOWN);
        let more = if cut < self.stdout.len() {
            "\n[...]"
        } else {
            ""
        };
        format!(
            "stdout:\n{}{more}\nstderr:\n{}",
            String::from_utf8_lossy(&self.stdout[..cut]),
            self.stderr
        )
    }
}

/// Runs `arcade ARGS` in the workspace root with `stdin` as its input (none: an empty stdin).
pub fn arcade<I, S>(args: I, stdin: Option<&[u8]>) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    arcade_env(args, stdin, &[])
}

/// [`arcade`] with extra environment variables.
pub fn arcade_env<I, S>(args: I, stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_arcade"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run arcade");
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        })
    });
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait for arcade");
    if let Some(writer) = writer {
        writer.join().unwrap();
    }
    Run {
        code: status.code(),
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Asserts that `text` contains every one of `needles`; a failure shows the whole text.
#[track_caller]
pub fn assert_contains(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "`{needle}` not in:\n{text}");
    }
}
