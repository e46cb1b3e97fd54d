//! End-to-end tests of `arcade inspect` and `arcade merge`: the real binary on megatron
//! datasets and output directories written here with the pipeline's writers.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use arcade_pipeline::manifest::{
    file_xxh3, DocCounts, FileInfo, Layout, Manifest, PartialRow, ShardInfo, SourceStats,
    SplitInfo, TokenizerInfo, FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE,
};
use arcade_pipeline::megatron::{MegatronDtype, MegatronIndex, MegatronWriter};
use arcade_tokenizer::{Tokenizer, ENDOFTEXT};

mod common;
use common::{arcade_env, assert_contains, Run};

const TEXTS: [&str; 4] = [
    "The quick brown fox jumps over the lazy dog.",
    "Stable LM 2 uses the Arcade100k tokenizer.\nSecond line, with digits 12345.",
    "naïve café — “quotes” and emoji 🦀",
    "def f(x):\n    return x * 2\n",
];

/// `arcade ARGS...`, without colour.
fn arcade<S: AsRef<OsStr>>(args: &[S]) -> Run {
    arcade_env(args, None, &[("NO_COLOR", "1")])
}

/// `arcade inspect ARGS...`
fn inspect<S: AsRef<OsStr>>(args: &[S]) -> Run {
    let mut all = vec![OsStr::new("inspect")];
    all.extend(args.iter().map(AsRef::as_ref));
    arcade(&all)
}

fn encode(texts: &[&str]) -> Vec<Vec<u32>> {
    let t = Tokenizer::arcade100k();
    texts
        .iter()
        .map(|text| {
            let mut ids = t.encode_ordinary(text);
            ids.push(ENDOFTEXT);
            ids
        })
        .collect()
}

/// Writes `dir/prefix.{bin,idx}` holding `docs`, one sequence each.
fn write_megatron(dir: &Path, prefix: &str, docs: &[Vec<u32>]) -> (ShardInfo, PathBuf) {
    let mut w = MegatronWriter::create(dir, prefix, MegatronDtype::Int32).unwrap();
    for d in docs {
        w.add_document(d).unwrap();
    }
    let (bin, _) = w.finish().unwrap();
    (bin, dir.join(prefix))
}

fn manifest(layout: Layout, seq_len: usize, dtype: &str, split: SplitInfo) -> Manifest {
    let documents = DocCounts {
        read: 5,
        packed: 4,
        dropped: 1,
        malformed: 0,
        dropped_by: BTreeMap::from([("empty".to_string(), 1)]),
        malformed_by: BTreeMap::new(),
    };
    Manifest {
        format: FORMAT_NAME.to_string(),
        format_version: FORMAT_VERSION,
        arcade_version: "0.1.0".to_string(),
        layout,
        tokenizer: TokenizerInfo {
            name: "arcade100k".to_string(),
            ranks_sha256: Tokenizer::arcade100k().ranks_sha256().to_string(),
            vocab_size: 100_289,
            padded_vocab_size: 100_352,
            eos_id: ENDOFTEXT,
            bos_id: None,
            normalization: "none".to_string(),
        },
        seq_len,
        dtype: dtype.to_string(),
        seed: 7,
        shuffled: false,
        sources: vec![SourceStats {
            name: "webtext".to_string(),
            weight: 1.0,
            files: vec!["web.jsonl".to_string()],
            documents: documents.clone(),
            changed_by: BTreeMap::from([("clean:strip_html".to_string(), 2)]),
            changed_bytes_by: BTreeMap::from([("clean:strip_html".to_string(), 40)]),
            packed_by_lang: BTreeMap::new(),
            text_bytes: 200,
            tokens: split.tokens,
            output_tokens: split.tokens,
            token_share: 1.0,
            first_errors: Vec::new(),
        }],
        splits: BTreeMap::from([("train".to_string(), split)]),
        totals: documents,
        dropped_file: None,
        recipe: serde_json::json!({}),
    }
}

fn write_megatron_output(dir: &Path, docs: &[Vec<u32>]) {
    let (bin, _) = write_megatron(dir, "train", docs);
    let split = SplitInfo {
        dir: String::new(),
        sequences: bin.sequences,
        tokens: bin.tokens,
        documents: bin.sequences,
        shards: vec![bin],
        ..SplitInfo::default()
    };
    let m = manifest(Layout::Megatron, 0, "<i4", split);
    fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
}

/// Native shards of rows of `seq_len`, two rows a shard, the partial row dropped.
fn write_native_output(dir: &Path, docs: &[Vec<u32>], seq_len: usize) {
    fs::create_dir_all(dir).unwrap();
    let stream: Vec<u32> = docs.concat();
    let mut starts = Vec::new();
    let mut at = 0u64;
    for d in docs {
        starts.push(at);
        at += d.len() as u64;
    }
    let rows = stream.len() / seq_len;
    let mut split = SplitInfo {
        partial_row_tokens: (stream.len() % seq_len) as u64,
        partial_row: PartialRow::Dropped,
        documents: docs.len() as u64,
        ..SplitInfo::default()
    };
    for (k, first) in (0..rows).step_by(2).enumerate() {
        let last = (first + 2).min(rows);
        let (from, to) = (first * seq_len, last * seq_len);
        let path = dir.join(format!("shard-{k:05}.bin"));
        fs::write(
            &path,
            stream[from..to]
                .iter()
                .flat_map(|t| t.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        let spath = dir.join(format!("shard-{k:05}.starts.bin"));
        let local: Vec<u8> = starts
            .iter()
            .filter(|&&s| s >= from as u64 && s < to as u64)
            .flat_map(|s| (s - from as u64).to_le_bytes())
            .collect();
        fs::write(&spath, local).unwrap();
        split.shards.push(ShardInfo {
            file: format!("shard-{k:05}.bin"),
            sequences: (last - first) as u64,
            tokens: (to - from) as u64,
            bytes: fs::metadata(&path).unwrap().len(),
            xxh3: file_xxh3(&path).unwrap(),
            companion: Some(FileInfo {
                file: format!("shard-{k:05}.starts.bin"),
                bytes: fs::metadata(&spath).unwrap().len(),
                xxh3: file_xxh3(&spath).unwrap(),
            }),
        });
    }
    split.sequences = rows as u64;
    split.tokens = (rows * seq_len) as u64;
    let m = manifest(Layout::Native, seq_len, "<u4", split);
    fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
}

#[test]
fn inspect_megatron_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = encode(&TEXTS);
    let tokens: usize = docs.iter().map(Vec::len).sum();
    let (_, prefix) = write_megatron(tmp.path(), "corpus_text_document", &docs);

    let run = inspect(&[prefix.as_os_str()]).ok();
    let out = run.stdout_str();
    assert_contains(
        out,
        &[
            "megatron dataset (no manifest)",
            "MMIDIDX v1, int32 (code 4), 4 sequences, 5 doc_idx entries (4 documents)",
        ],
    );
    assert_contains(
        out,
        &[&format!(
            "4 sequences, {tokens} tokens, 4 documents (count of eos 100257)"
        )],
    );
    assert_contains(out, &["\"<|endoftext|>\"", "top tokens"]);

    // PREFIX.bin and PREFIX.idx name the same dataset.
    for ext in ["bin", "idx"] {
        let p = prefix.with_extension(ext);
        let run = inspect(&[p.as_os_str()]).ok();
        assert_contains(run.stdout_str(), &["4 sequences"]);
    }
}

#[test]
fn inspect_json_counts_and_show() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = encode(&TEXTS);
    let (_, prefix) = write_megatron(tmp.path(), "d", &docs);
    let prefix = prefix.display().to_string();
    let run = inspect(&[prefix.as_str(), "--json", "--show", "3"]).ok();
    let j = run.json();
    assert_eq!(j["kind"], "megatron-prefix");
    assert_eq!(j["datasets"][0]["sequences"], 4);
    assert_eq!(j["datasets"][0]["dtype"], "int32");
    let scan = &j["scans"][0];
    assert_eq!(scan["documents"], 4);
    assert_eq!(scan["tokens"], docs.iter().map(Vec::len).sum::<usize>());
    assert_eq!(scan["out_of_vocab"], 0);
    // The top tokens, recounted here.
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    for &t in docs.concat().iter() {
        *counts.entry(t).or_default() += 1;
    }
    let top = scan["top_tokens"].as_array().unwrap();
    assert_eq!(top.len(), 10.min(counts.len()));
    let best = counts.values().max().unwrap();
    assert_eq!(top[0]["count"], *best);
    for t in top {
        let id = t["id"].as_u64().unwrap() as u32;
        assert_eq!(t["count"], counts[&id], "count of {id}");
        let text = Tokenizer::arcade100k()
            .token_bytes(id)
            .map(|b| String::from_utf8_lossy(b).into_owned());
        assert_eq!(t["text"].as_str(), text.as_deref());
    }
    let shown = j["shown"].as_array().unwrap();
    assert_eq!(shown.len(), 3);
    for (k, s) in shown.iter().enumerate() {
        assert_eq!(s["index"], k);
        assert_eq!(s["text"], format!("{}<|endoftext|>", TEXTS[k]));
    }
}

#[test]
fn inspect_show_marks_document_boundaries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    // Rows of 16 tokens: documents run across rows and shards.
    let docs = encode(&TEXTS);
    write_native_output(&dir, &docs, 16);
    // Documents whose end is in a full row.
    let full = docs.concat().len() / 16 * 16;
    let ends = docs
        .iter()
        .scan(0, |at, d| {
            *at += d.len();
            Some(*at)
        })
        .filter(|&end| end <= full)
        .count();
    let run = inspect(&[
        dir.as_os_str(),
        "--show".as_ref(),
        "100".as_ref(),
        "--no-scan".as_ref(),
    ])
    .ok();
    let out = run.stdout_str();
    assert_contains(
        out,
        &["native layout", "── train sequence 0 (16 tokens) ──"],
    );
    // Each end of document is shown and ends its line.
    assert_eq!(out.matches("<|endoftext|>\n").count(), ends, "{out}");
    assert!(ends >= 2, "{ends}");
    assert_contains(
        out,
        &["The quick brown fox jumps over the lazy dog.<|endoftext|>\n"],
    );
    assert!(!out.contains("top tokens"), "{out}");
    // Everything shown is the stream, up to the dropped partial row.
    let run = inspect(&[
        dir.as_os_str(),
        "--show".as_ref(),
        "100".as_ref(),
        "--json".as_ref(),
    ])
    .ok();
    let shown: String = run.json()["shown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_string())
        .collect();
    let expected = Tokenizer::arcade100k()
        .decode(&docs.concat()[..full])
        .unwrap();
    assert_eq!(shown, expected);

    let run = inspect(&[
        dir.as_os_str(),
        "--show".as_ref(),
        "1".as_ref(),
        "--split".as_ref(),
        "valid".as_ref(),
    ])
    .failed();
    assert_contains(&run.stderr, &["no split `valid`", "train"]);
}

#[test]
fn inspect_manifest_summary_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let docs = encode(&TEXTS);
    write_megatron_output(&dir, &docs);
    let run = inspect(&[dir.as_os_str(), "--verify".as_ref()]).ok();
    let out = run.stdout_str();
    assert_contains(
        out,
        &[
            "arcade output, megatron layout",
            "tokenizer  arcade100k (vocab 100,289, padded 100,352; eos 100257",
            "split train",
            "dropped by    empty 1",
            "webtext",
            "100.00%",
            "changed clean:strip_html 2",
            "verify: OK: 2 files",
        ],
    );

    // One changed byte in the .bin.
    let bin = dir.join("train.bin");
    let mut bytes = fs::read(&bin).unwrap();
    bytes[8] ^= 1;
    fs::write(&bin, &bytes).unwrap();
    let run = inspect(&[dir.as_os_str(), "--verify".as_ref()]).failed();
    assert_contains(
        run.stdout_str(),
        &["verify: FAILED: 1 problem", "train.bin: xxh3 is"],
    );
    assert_contains(&run.stderr, &["verification of", "failed: 1 problem"]);

    // --json still reports, and still fails.
    let run = inspect(&[dir.as_os_str(), "--verify".as_ref(), "--json".as_ref()]).failed();
    let j = run.json();
    assert_eq!(j["verify"]["ok"], false);
    assert!(j["verify"]["problems"][0]
        .as_str()
        .unwrap()
        .contains("train.bin"));
    assert_contains(&run.stderr, &["train.bin: xxh3"]);
}

#[test]
fn inspect_verify_native_finds_leftover_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    write_native_output(&dir, &encode(&TEXTS), 8);
    let run = inspect(&[dir.as_os_str(), "--verify".as_ref(), "--json".as_ref()]).ok();
    let j = run.json();
    assert_eq!(j["kind"], "native");
    assert_eq!(j["verify"]["ok"], true);
    let documents = j["scans"][0]["documents"].as_u64().unwrap();
    assert!((2..=4).contains(&documents), "{documents}");

    fs::write(dir.join("shard-00042.bin"), [0u8; 32]).unwrap();
    let run = inspect(&[dir.as_os_str(), "--verify".as_ref()]).failed();
    assert_contains(
        run.stdout_str(),
        &["shard-00042.bin: is not listed in the manifest"],
    );
}

#[test]
fn inspect_rejects_what_it_cannot_read() {
    let tmp = tempfile::tempdir().unwrap();
    let run = inspect(&[tmp.path()]).failed();
    assert_contains(&run.stderr, &["without manifest.json"]);

    let (_, prefix) = write_megatron(tmp.path(), "ds", &encode(&TEXTS[..2]));
    let run = inspect(&[tmp.path()]).failed();
    assert_contains(&run.stderr, &["holds the megatron dataset", "ds"]);

    let run = inspect(&[tmp.path().join("nothing")]).failed();
    assert_contains(&run.stderr, &["nothing.idx does not exist"]);

    // A truncated index: a clear error naming the file, with or without --verify.
    let idx = prefix.with_extension("idx");
    let bytes = fs::read(&idx).unwrap();
    fs::write(&idx, &bytes[..bytes.len() - 3]).unwrap();
    for extra in [None, Some("--verify")] {
        let mut args = vec![prefix.as_os_str()];
        args.extend(extra.map(std::ffi::OsStr::new));
        let run = inspect(&args).failed();
        assert_contains(&run.stderr, &["ds.idx: truncated"]);
    }
}

#[test]
fn merge_concatenates_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let texts: Vec<String> = (0..30)
        .map(|i| format!("document number {i}: {}", TEXTS[i % 4]))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let docs = encode(&texts);
    let (_, whole) = write_megatron(d, "whole", &docs);
    let (_, a) = write_megatron(d, "a", &docs[..10]);
    let (_, b) = write_megatron(d, "b", &docs[10..25]);
    let (_, c) = write_megatron(d, "c", &docs[25..]);
    let out = d.join("sub/merged");
    let run = arcade(&[
        "merge".as_ref(),
        "--output".as_ref(),
        out.as_os_str(),
        a.as_os_str(),
        b.with_extension("bin").as_os_str(),
        c.with_extension("idx").as_os_str(),
    ])
    .ok();
    assert_contains(&run.stderr, &["sequences", "30"]);
    for ext in ["bin", "idx"] {
        assert_eq!(
            fs::read(out.with_extension(ext)).unwrap(),
            fs::read(whole.with_extension(ext)).unwrap(),
            ".{ext}"
        );
    }
    let merged = MegatronIndex::open(&out).unwrap();
    assert_eq!(merged.len(), 30);
    assert_eq!(merged.sequence(12).to_vec(), docs[12]);

    // The merged dataset inspects like any other.
    let run = inspect(&[out.as_os_str(), "--json".as_ref(), "--verify".as_ref()]).ok();
    assert_eq!(run.json()["scans"][0]["documents"], 30);

    // No overwriting without --overwrite.
    let before = fs::read(out.with_extension("bin")).unwrap();
    let run = arcade(&[
        "merge".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
        a.as_os_str(),
    ])
    .failed();
    assert_contains(&run.stderr, &["merged.bin already exists", "--overwrite"]);
    assert_eq!(fs::read(out.with_extension("bin")).unwrap(), before);
    arcade(&[
        "merge".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
        a.as_os_str(),
        "--overwrite".as_ref(),
        "-q".as_ref(),
    ])
    .ok();
    assert_eq!(MegatronIndex::open(&out).unwrap().len(), 10);

    // Bad inputs.
    let run = arcade(&[
        "merge".as_ref(),
        "-o".as_ref(),
        d.join("x").as_os_str(),
        d.join("missing").as_os_str(),
    ])
    .failed();
    assert_contains(&run.stderr, &["missing.idx"]);
    let mut w = MegatronWriter::create(d, "small", MegatronDtype::Uint16).unwrap();
    w.add_document(&[1, 2, 3]).unwrap();
    w.finish().unwrap();
    let run = arcade(&[
        "merge".as_ref(),
        "-o".as_ref(),
        d.join("x").as_os_str(),
        a.as_os_str(),
        d.join("small").as_os_str(),
    ])
    .failed();
    assert_contains(&run.stderr, &["small.idx", "different dtypes"]);
    assert!(!d.join("x.bin").exists());
    let run = arcade(&["merge", "-o", "x"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn inspect_uint16_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    // Ids below 65,536 only, so they fit uint16 (a real uint16 dataset has a small vocabulary).
    let docs: Vec<Vec<u32>> = encode(&["a b c a b a", "the the cat"])
        .into_iter()
        .map(|d| d.into_iter().filter(|&t| t < 65_536).collect())
        .collect();
    let mut w = MegatronWriter::create(tmp.path(), "u16", MegatronDtype::Uint16).unwrap();
    for d in &docs {
        w.add_document(d).unwrap();
    }
    w.finish().unwrap();
    let prefix = tmp.path().join("u16");
    let run = inspect(&[
        prefix.as_os_str(),
        "--json".as_ref(),
        "--show".as_ref(),
        "2".as_ref(),
    ])
    .ok();
    let j = run.json();
    assert_eq!(j["datasets"][0]["dtype"], "uint16");
    assert_eq!(j["datasets"][0]["dtype_code"], 8);
    assert_eq!(
        j["scans"][0]["tokens"],
        docs.iter().map(Vec::len).sum::<usize>()
    );
    assert_eq!(j["scans"][0]["documents"], 0, "no <|endoftext|> in these");
    assert_eq!(j["scans"][0]["top_tokens"][0]["text"], " a");
    assert_eq!(j["scans"][0]["top_tokens"][0]["count"], 2);
    assert_eq!(j["shown"][0]["text"], "a b c a b a");
    assert_eq!(j["shown"][1]["text"], "the the cat");
}
