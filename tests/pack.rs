//! End-to-end tests of `arcade pack`: the binary run on the fixtures, its shards read back and
//! compared with what the tokenizer library says the documents encode to.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use arcade_pipeline::manifest::{file_xxh3, Manifest};
use arcade_tokenizer::{Tokenizer, ENDOFTEXT};

mod common;
use common::{arcade_env, assert_contains, fixture, jsonl_texts, root, Run};

/// `arcade ARGS...` in the workspace root.
fn arcade(args: &[&str]) -> Run {
    common::arcade(args, None)
}

/// Every file of an output directory (recursively) with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Asserts two output directories hold the same files with the same bytes. The manifests may
/// differ only in the output path they record.
fn assert_same_output(a: &Path, b: &Path, what: &str) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(
        fa.keys().collect::<Vec<_>>(),
        fb.keys().collect::<Vec<_>>(),
        "{what}: different files"
    );
    for (name, bytes) in &fa {
        if name == "manifest.json" {
            let strip = |bytes: &[u8]| {
                let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                v["recipe"]["output"] = serde_json::Value::Null;
                v
            };
            assert_eq!(strip(bytes), strip(&fb[name]), "{what}: manifests differ");
        } else {
            assert!(bytes == &fb[name], "{what}: {name} differs");
        }
    }
}

fn u32s(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn u64s(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// All rows of a split, shard after shard, and the document starts as offsets into that stream.
fn split_rows(dir: &Path, m: &Manifest, split: &str) -> (Vec<u32>, Vec<u64>) {
    let info = &m.splits[split];
    let mut tokens = Vec::new();
    let mut starts = Vec::new();
    for shard in &info.shards {
        let base = tokens.len() as u64;
        let d = dir.join(&info.dir);
        tokens.extend(u32s(&std::fs::read(d.join(&shard.file)).unwrap()));
        let companion = shard
            .companion
            .as_ref()
            .expect("native shards have a starts file");
        starts.extend(
            u64s(&std::fs::read(d.join(&companion.file)).unwrap())
                .into_iter()
                .map(|s| s + base),
        );
    }
    (tokens, starts)
}

#[test]
fn unshuffled_rows_are_the_documents_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let rels = ["multilingual/de.jsonl", "multilingual/ja.jsonl"];
    let inputs = rels.map(fixture);
    let o = out.to_str().unwrap();
    arcade(&[
        "pack",
        "-q",
        "--input",
        &inputs[0],
        &inputs[1],
        "--output",
        o,
        "--no-shuffle",
        "--seq-len",
        "128",
        "--shard-tokens",
        "10000",
    ])
    .ok();
    let m = Manifest::read(&out).unwrap();

    let tok = Tokenizer::arcade100k();
    let mut expected = Vec::new();
    let mut expected_starts = Vec::new();
    let mut packed = 0;
    for rel in rels {
        for text in jsonl_texts(rel) {
            if text.trim().is_empty() {
                continue;
            }
            packed += 1;
            expected_starts.push(expected.len() as u64);
            expected.extend(tok.encode_ordinary(&text));
            expected.push(ENDOFTEXT);
        }
    }
    let (rows, starts) = split_rows(&out, &m, "train");
    let full = expected.len() / 128 * 128;
    assert_eq!(
        rows.len(),
        full,
        "rows hold every full row of the token stream"
    );
    assert_eq!(rows, expected[..full]);
    assert_eq!(
        m.splits["train"].partial_row_tokens as usize,
        expected.len() - full
    );
    let expected_starts: Vec<u64> = expected_starts
        .into_iter()
        .filter(|&s| (s as usize) < full)
        .collect();
    assert_eq!(starts, expected_starts);
    assert_eq!(m.totals.packed, packed);
    assert!(m.totals.reconciles(), "{:?}", m.totals);
    assert!(
        m.splits["train"].shards.len() > 1,
        "several shards expected"
    );
    for shard in &m.splits["train"].shards {
        assert_eq!(shard.bytes, shard.sequences * 128 * 4);
        assert_eq!(shard.xxh3, file_xxh3(&out.join(&shard.file)).unwrap());
    }
}

#[test]
fn shuffling_permutes_whole_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let input = fixture("multilingual/fr.jsonl");
    arcade(&[
        "pack",
        "-q",
        "-i",
        &input,
        "-o",
        a.to_str().unwrap(),
        "--no-shuffle",
        "--seq-len",
        "64",
    ])
    .ok();
    arcade(&[
        "pack",
        "-q",
        "-i",
        &input,
        "-o",
        b.to_str().unwrap(),
        "--seq-len",
        "64",
    ])
    .ok();
    let (ra, _) = split_rows(&a, &Manifest::read(&a).unwrap(), "train");
    let (rb, _) = split_rows(&b, &Manifest::read(&b).unwrap(), "train");
    assert_ne!(ra, rb, "shuffled output equals input order");
    let mut rows_a: Vec<&[u32]> = ra.chunks(64).collect();
    let mut rows_b: Vec<&[u32]> = rb.chunks(64).collect();
    rows_a.sort();
    rows_b.sort();
    assert_eq!(rows_a, rows_b);
}

#[test]
fn one_and_two_threads_write_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let recipe = "fixtures/recipe.toml";
    arcade(&[
        "pack",
        "-q",
        "-r",
        recipe,
        "-o",
        a.to_str().unwrap(),
        "--threads",
        "1",
    ])
    .ok();
    arcade(&[
        "pack",
        "-q",
        "-r",
        recipe,
        "-o",
        b.to_str().unwrap(),
        "--threads",
        "2",
    ])
    .ok();
    assert!(
        files(&a).keys().any(|k| k.starts_with("valid/")),
        "the recipe's validation split is written"
    );
    assert_same_output(&a, &b, "1 vs 2 threads");
}

#[test]
fn weights_scale_each_source_and_the_numbers_reconcile() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    arcade(&[
        "pack",
        "-q",
        "-r",
        "fixtures/recipe.toml",
        "-o",
        out.to_str().unwrap(),
    ])
    .ok();
    let m = Manifest::read(&out).unwrap();
    assert!(m.totals.reconciles());
    let by_name: BTreeMap<_, _> = m.sources.iter().map(|s| (s.name.as_str(), s)).collect();
    let code = by_name["code"];
    // Weight 2: every code document twice (validation documents, written once, aside).
    assert!(code.output_tokens > code.tokens * 19 / 10 && code.output_tokens <= code.tokens * 2);
    let multi = by_name["multilingual"];
    let sampled_out = multi
        .documents
        .dropped_by
        .get("mix:weight")
        .copied()
        .unwrap_or(0);
    // Documents the stages dropped never reach the weight draw.
    let filtered: u64 = multi.documents.dropped - sampled_out;
    let candidates = multi.documents.read - multi.documents.malformed - filtered;
    assert!(
        sampled_out * 10 > candidates * 4 && sampled_out * 10 < candidates * 6,
        "weight 0.5 should drop about half: {sampled_out} of {candidates}"
    );
    let shares: f64 = m.sources.iter().map(|s| s.token_share).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    let output_tokens: u64 = m.sources.iter().map(|s| s.output_tokens).sum();
    let split_tokens: u64 = m
        .splits
        .values()
        .map(|s| s.tokens + s.partial_row_tokens)
        .sum();
    assert_eq!(
        output_tokens, split_tokens,
        "every output token is in a row or the partial row"
    );
    assert!(m.totals.dropped_by.contains_key("length:min_chars"));
}

#[test]
fn resume_after_a_crash_gives_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, resumed) = (tmp.path().join("whole"), tmp.path().join("resumed"));
    let recipe = "fixtures/recipe.toml";
    // The dropped documents (with their reasons) are part of the output that must resume.
    let (whole_dropped, resumed_dropped) = (tmp.path().join("wd"), tmp.path().join("rd"));
    let (wd, rd) = (
        whole_dropped.to_str().unwrap(),
        resumed_dropped.to_str().unwrap(),
    );
    arcade(&[
        "pack",
        "-q",
        "-r",
        recipe,
        "-o",
        whole.to_str().unwrap(),
        "--dropped",
        wd,
    ])
    .ok();

    let r = resumed.to_str().unwrap();
    let crashed = arcade_env(
        // Small batches, so that the abort falls inside a file, not at a file boundary.
        [
            "pack",
            "-q",
            "-r",
            recipe,
            "-o",
            r,
            "--dropped",
            rd,
            "--checkpoint-every",
            "0",
            "--batch-bytes",
            "20000",
        ],
        None,
        &[("ARCADE_ABORT_AFTER_CHECKPOINTS", "5")],
    );
    assert!(
        !crashed.success(),
        "the test hook should have aborted the run"
    );
    assert!(
        !resumed.join("manifest.json").exists(),
        "a crashed run must not look complete"
    );
    let checkpoint = std::fs::read_to_string(resumed.join(".arcade-run/checkpoint.json")).unwrap();
    let cp: serde_json::Value = serde_json::from_str(&checkpoint).unwrap();
    // The recipe's first file is the first of `fixtures/web/*.jsonl` in sorted order.
    let first =
        std::fs::read_to_string(root().join("fixtures/web/dclm_majority_head.jsonl")).unwrap();
    let reading = &cp["phase"]["Reading"];
    let records = reading["records"].as_u64().unwrap();
    assert!(
        reading["source"] == 0
            && reading["file"] == 0
            && records > 0
            && records < first.lines().count() as u64,
        "the abort should fall inside the first file: {}",
        cp["phase"]
    );

    let refused = arcade(&["pack", "-q", "-r", recipe, "-o", r, "--dropped", rd]);
    assert!(!refused.success());
    assert_contains(&refused.stderr, &["--resume"]);

    arcade(&[
        "pack",
        "-q",
        "-r",
        recipe,
        "-o",
        r,
        "--dropped",
        rd,
        "--resume",
    ])
    .ok();
    // The manifests name their own --dropped paths; everything else must be identical.
    let strip_dropped = |dir: &Path| {
        let path = dir.join("manifest.json");
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let f = v["dropped_file"].take();
        v["recipe"]["dropped"] = serde_json::Value::Null;
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        f
    };
    let (fw, fr) = (strip_dropped(&whole), strip_dropped(&resumed));
    assert_eq!(fw["xxh3"], fr["xxh3"], "dropped files differ");
    assert_same_output(&whole, &resumed, "resumed after abort");
    let a = std::fs::read(whole_dropped.join("dropped.jsonl.zst")).unwrap();
    let b = std::fs::read(resumed_dropped.join("dropped.jsonl.zst")).unwrap();
    assert!(
        a == b,
        "the resumed dropped file differs from the uninterrupted one"
    );
    assert_eq!(
        fw["xxh3"].as_str().unwrap(),
        file_xxh3(&whole_dropped.join("dropped.jsonl.zst")).unwrap()
    );

    // Every document a stage dropped is in the file, with its reason; weight draws are not.
    let m = Manifest::read(&whole).unwrap();
    let lines = zstd::decode_all(&a[..]).unwrap();
    let records: Vec<serde_json::Value> = lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let judged: u64 = m
        .totals
        .dropped_by
        .iter()
        .filter(|(k, _)| !k.starts_with("mix:"))
        .map(|(_, v)| v)
        .sum();
    assert!(judged > 0, "the recipe's stages should drop something");
    assert_eq!(records.len() as u64, judged);
    for r in &records {
        let a = &r["arcade"];
        let key = format!(
            "{}:{}",
            a["stage"].as_str().unwrap(),
            a["rule"].as_str().unwrap()
        );
        assert!(
            m.totals.dropped_by.contains_key(&key) || key == "empty:no_text",
            "{key}"
        );
        assert!(a["location"].as_str().unwrap().starts_with("fixtures/"));
        assert!(r["text"].is_string() || r["content"].is_string(), "{r}");
    }
}

#[test]
fn a_killed_run_resumes_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));
    let input = "fixtures/multilingual/*.jsonl";
    let common = ["--seq-len", "256", "--input", input];
    let mut args = vec!["pack", "-q", "-o", whole.to_str().unwrap()];
    args.extend(common);
    arcade(&args).ok();

    let mut child = Command::new(env!("CARGO_BIN_EXE_arcade"))
        .current_dir(root())
        .args([
            "pack",
            "-q",
            "-o",
            killed.to_str().unwrap(),
            "--checkpoint-every",
            "0",
        ])
        .args(common)
        .spawn()
        .unwrap();
    let checkpoint = killed.join(".arcade-run/checkpoint.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !checkpoint.exists()
        && std::time::Instant::now() < deadline
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().ok(); // SIGKILL: no cleanup of any kind
    child.wait().unwrap();

    let mut args = vec!["pack", "-q", "-o", killed.to_str().unwrap(), "--resume"];
    args.extend(common);
    arcade(&args).ok();
    assert_same_output(&whole, &killed, "resumed after SIGKILL");
}

/// A run short enough to hold its rows in memory writes no checkpoint (one would move them to the
/// bucket files); killed while writing its shards, it leaves no manifest, and `--resume` starts it
/// over, to the same bytes.
#[test]
fn a_run_killed_while_writing_shards_before_any_checkpoint_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));
    let common = [
        "--seq-len",
        "256",
        "--shard-tokens",
        "25600",
        "--input",
        "fixtures/multilingual/*.jsonl",
    ];
    let mut args = vec!["pack", "-q", "-o", whole.to_str().unwrap()];
    args.extend(common);
    arcade(&args).ok();
    assert!(
        Manifest::read(&whole).unwrap().splits["train"].shards.len() > 3,
        "the test needs several shards"
    );

    let mut args = vec!["pack", "-q", "-o", killed.to_str().unwrap()];
    args.extend(common);
    let crashed = arcade_env(args.clone(), None, &[("ARCADE_ABORT_AFTER_SHARDS", "2")]);
    assert!(
        !crashed.success(),
        "the test hook should have aborted the run"
    );
    assert!(killed.join("shard-00001.bin").exists());
    assert!(!killed.join("manifest.json").exists());
    assert!(
        !killed.join(".arcade-run/checkpoint.json").exists(),
        "rows held in memory: no checkpoint to resume from"
    );
    args.push("--resume");
    arcade(&args).ok();
    assert_same_output(
        &whole,
        &killed,
        "restarted after a crash in the shard phase",
    );
}

#[test]
fn documents_of_only_whitespace_are_dropped_as_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("blank.jsonl");
    // As JSON escapes: empty, ASCII white space, Unicode white space (ideographic space, NEL, line
    // separator), and three that have text: at the end, at the start, and a zero-width space,
    // which is not white space.
    let texts = [
        r"",
        r" \t\n\r ",
        r"\u3000\u0085\u2028",
        r"  \n x",
        r"x \n\n   ",
        r"\u200b",
    ];
    let lines: Vec<String> = texts
        .iter()
        .map(|t| format!("{{\"text\": \"{t}\"}}\n"))
        .collect();
    std::fs::write(&input, lines.concat()).unwrap();
    let out = tmp.path().join("out");
    arcade(&[
        "pack",
        "-q",
        "--input",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--seq-len",
        "4",
        "--no-shuffle",
    ])
    .ok();
    let m = Manifest::read(&out).unwrap();
    let docs = &m.totals;
    assert_eq!((docs.read, docs.packed, docs.dropped), (6, 3, 3));
    assert_eq!(docs.dropped_by.get("empty").copied(), Some(3), "{docs:?}");
    assert!(docs.reconciles());
}

#[test]
fn bad_records_are_counted_or_stop_the_run_with_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    let bad = [
        "fixtures/bad/malformed_json.jsonl",
        "fixtures/bad/missing_field.jsonl",
        "fixtures/bad/not_a_string.jsonl",
        "fixtures/bad/invalid_utf8.jsonl",
        "fixtures/bad/truncated.jsonl.gz",
    ];
    let mut args = vec!["pack", "-q", "-o", o, "--seq-len", "16", "--input"];
    args.extend(bad);
    arcade(&args).ok();
    let m = Manifest::read(&out).unwrap();
    assert!(m.totals.reconciles());
    for kind in [
        "malformed_json",
        "missing_field",
        "not_a_string",
        "invalid_utf8",
        "corrupt_stream",
    ] {
        assert!(
            m.totals.malformed_by.contains_key(kind),
            "{kind} not counted: {:?}",
            m.totals.malformed_by
        );
    }
    assert!(m.sources[0]
        .first_errors
        .iter()
        .any(|e| e.contains("malformed_json.jsonl:")));

    let strict = arcade(&[
        "pack",
        "-q",
        "-o",
        o,
        "--overwrite",
        "--strict",
        "--input",
        "fixtures/bad/malformed_json.jsonl",
    ]);
    assert!(!strict.success());
    assert_contains(&strict.stderr, &["fixtures/bad/malformed_json.jsonl:"]);
    assert!(
        !out.join("manifest.json").exists(),
        "a stopped run must not leave a manifest"
    );
}

#[test]
fn missing_inputs_and_bad_recipes_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let o = tmp.path().join("out");
    let missing = arcade(&[
        "pack",
        "-q",
        "-i",
        "fixtures/nope/*.jsonl",
        "-o",
        o.to_str().unwrap(),
    ]);
    assert!(!missing.success());
    assert_contains(&missing.stderr, &["fixtures/nope"]);

    let recipe = tmp.path().join("r.toml");
    std::fs::write(
        &recipe,
        "output = 'x'\n[[source]]\nname = 'a'\npaths = ['fixtures/web/*.jsonl']\nwieght = 2\n",
    )
    .unwrap();
    let typo = arcade(&["pack", "-q", "-r", recipe.to_str().unwrap()]);
    assert!(!typo.success());
    assert_contains(&typo.stderr, &["wieght"]);

    let no_output = arcade(&["pack", "-q", "-i", "fixtures/web/dclm_majority_head.jsonl"]);
    assert!(!no_output.success());
    assert_contains(&no_output.stderr, &["no output directory", "--output"]);
}

/// Runs tests/read_shards.py (numpy only) on an output directory: the independent reader a
/// trainer would use. numpy is installed by tests/run.sh; set ARCADE_SKIP_PYTHON=1 to skip.
fn numpy_check(out: &Path, expected: &Path) {
    if std::env::var_os("ARCADE_SKIP_PYTHON").is_some() {
        eprintln!("ARCADE_SKIP_PYTHON is set: numpy check skipped");
        return;
    }
    let has_numpy = Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_numpy,
        "python3 with numpy is needed (tests/run.sh installs it); ARCADE_SKIP_PYTHON=1 skips"
    );
    let check = Command::new("python3")
        .current_dir(root())
        .args([
            "tests/read_shards.py",
            out.to_str().unwrap(),
            "--expect-ids",
            expected.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "numpy reader disagrees:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn numpy_reads_native_and_megatron_output_as_the_tokenizer_encodes() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = [
        fixture("multilingual/de.jsonl"),
        fixture("multilingual/ko.jsonl"),
        fixture("code/code_permissive.jsonl"),
    ];
    let expected = tmp.path().join("expected.jsonl");
    // The code fixture keeps its text in `content`, so it gets a run of its own below.
    let prose = &inputs[..2];
    let mut args = vec![
        "tokenize",
        "--quiet",
        "--format",
        "jsonl",
        "-o",
        expected.to_str().unwrap(),
    ];
    args.extend(prose.iter().map(String::as_str));
    arcade(&args).ok();

    let native = tmp.path().join("native");
    let mut args = vec![
        "pack",
        "-q",
        "--no-shuffle",
        "--seq-len",
        "512",
        "-o",
        native.to_str().unwrap(),
        "--input",
    ];
    args.extend(prose.iter().map(String::as_str));
    arcade(&args).ok();
    numpy_check(&native, &expected);

    let megatron = tmp.path().join("megatron");
    let mut args = vec![
        "pack",
        "-q",
        "--format",
        "megatron",
        "-o",
        megatron.to_str().unwrap(),
        "--input",
    ];
    args.extend(prose.iter().map(String::as_str));
    arcade(&args).ok();
    numpy_check(&megatron, &expected);

    let code_expected = tmp.path().join("code.jsonl");
    arcade(&[
        "tokenize",
        "--quiet",
        "--format",
        "jsonl",
        "--field",
        "content",
        "-o",
        code_expected.to_str().unwrap(),
        &inputs[2],
    ])
    .ok();
    let code = tmp.path().join("code");
    arcade(&[
        "pack",
        "-q",
        "--format",
        "megatron",
        "--field",
        "content",
        "-o",
        code.to_str().unwrap(),
        "--input",
        &inputs[2],
    ])
    .ok();
    numpy_check(&code, &code_expected);
}

#[test]
fn megatron_output_resumes_to_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, resumed) = (tmp.path().join("whole"), tmp.path().join("resumed"));
    let recipe = "fixtures/recipe.toml";
    arcade(&[
        "pack",
        "-q",
        "-r",
        recipe,
        "--format",
        "megatron",
        "-o",
        whole.to_str().unwrap(),
    ])
    .ok();
    let r = resumed.to_str().unwrap();
    let crashed = arcade_env(
        [
            "pack",
            "-q",
            "-r",
            recipe,
            "--format",
            "megatron",
            "-o",
            r,
            "--checkpoint-every",
            "0",
            "--batch-bytes",
            "20000",
        ],
        None,
        &[("ARCADE_ABORT_AFTER_CHECKPOINTS", "6")],
    );
    assert!(!crashed.success());
    assert!(!resumed.join("manifest.json").exists());
    arcade(&[
        "pack", "-q", "-r", recipe, "--format", "megatron", "-o", r, "--resume",
    ])
    .ok();
    assert_same_output(&whole, &resumed, "megatron resumed after abort");
    let m = Manifest::read(&whole).unwrap();
    assert_eq!(m.dtype, "<i4");
    assert!(m.splits["train"].shards[0].file.ends_with(".bin"));
}
