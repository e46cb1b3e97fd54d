//! Reading and verifying output directories (`arcade_pipeline::shards`), and
//! `tests/read_shards.py` on native shards.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use arcade_pipeline::manifest::{
    file_xxh3, DocCounts, FileInfo, Layout, Manifest, PartialRow, ShardInfo, SplitInfo,
    TokenizerInfo, FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE,
};
use arcade_pipeline::megatron::{MegatronDtype, MegatronWriter};
use arcade_pipeline::shards::{self, DocStarts, NativeShard, OutputDir};

mod common;
use common::{lcg, python_with_numpy, read_shards_py, write_expected};

const EOS: u32 = 100_257;

fn documents(count: usize, seed: u64) -> Vec<Vec<u32>> {
    let mut next = lcg(seed);
    (0..count)
        .map(|_| {
            (0..1 + next() as usize % 30)
                .map(|_| next() % 100_000)
                .collect()
        })
        .collect()
}

fn manifest(
    layout: Layout,
    seq_len: usize,
    dtype: &str,
    splits: BTreeMap<String, SplitInfo>,
) -> Manifest {
    Manifest {
        format: FORMAT_NAME.to_string(),
        format_version: FORMAT_VERSION,
        arcade_version: "test".to_string(),
        layout,
        tokenizer: TokenizerInfo {
            name: "arcade100k".to_string(),
            ranks_sha256: String::new(),
            vocab_size: 100_289,
            padded_vocab_size: 100_352,
            eos_id: EOS,
            bos_id: None,
            normalization: "none".to_string(),
        },
        seq_len,
        dtype: dtype.to_string(),
        seed: 0,
        shuffled: false,
        splits,
        sources: Vec::new(),
        totals: DocCounts::default(),
        dropped_file: None,
        recipe: serde_json::Value::Null,
    }
}

fn write_manifest(dir: &Path, m: &Manifest) {
    fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_string_pretty(m).unwrap(),
    )
    .unwrap();
}

fn file_info(path: &Path) -> FileInfo {
    FileInfo {
        file: path.file_name().unwrap().to_string_lossy().into_owned(),
        bytes: fs::metadata(path).unwrap().len(),
        xxh3: file_xxh3(path).unwrap(),
    }
}

/// Packs `docs` (+ EOS each) into rows of `seq_len`, unshuffled, `rows_per_shard` rows a
/// shard, the partial last row dropped, as a native output directory. Returns the manifest.
fn write_native(dir: &Path, docs: &[Vec<u32>], seq_len: usize, rows_per_shard: usize) -> Manifest {
    fs::create_dir_all(dir).unwrap();
    let mut stream = Vec::new();
    let mut starts = Vec::new();
    for d in docs {
        starts.push(stream.len() as u64);
        stream.extend_from_slice(d);
        stream.push(EOS);
    }
    let rows = stream.len() / seq_len;
    let mut split = SplitInfo {
        dir: String::new(),
        partial_row_tokens: (stream.len() % seq_len) as u64,
        partial_row: PartialRow::Dropped,
        ..SplitInfo::default()
    };
    for (k, first_row) in (0..rows).step_by(rows_per_shard).enumerate() {
        let last_row = (first_row + rows_per_shard).min(rows);
        let (from, to) = (first_row * seq_len, last_row * seq_len);
        let path = dir.join(format!("shard-{k:05}.bin"));
        let bytes: Vec<u8> = stream[from..to]
            .iter()
            .flat_map(|t| t.to_le_bytes())
            .collect();
        fs::write(&path, bytes).unwrap();
        let starts_path = shards::starts_path(&path);
        let local: Vec<u8> = starts
            .iter()
            .filter(|&&s| s >= from as u64 && s < to as u64)
            .flat_map(|s| (s - from as u64).to_le_bytes())
            .collect();
        fs::write(&starts_path, local).unwrap();
        let info = file_info(&path);
        split.shards.push(ShardInfo {
            file: info.file,
            sequences: (last_row - first_row) as u64,
            tokens: (to - from) as u64,
            bytes: info.bytes,
            xxh3: info.xxh3,
            companion: Some(file_info(&starts_path)),
        });
    }
    split.sequences = rows as u64;
    split.tokens = (rows * seq_len) as u64;
    split.documents = docs.len() as u64;
    let m = manifest(
        Layout::Native,
        seq_len,
        "<u4",
        BTreeMap::from([("train".to_string(), split)]),
    );
    write_manifest(dir, &m);
    m
}

fn problems(dir: &Path) -> Vec<String> {
    shards::verify(dir)
        .unwrap()
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect()
}

fn assert_one_problem(dir: &Path, needles: &[&str]) {
    let found = problems(dir);
    assert_eq!(found.len(), 1, "{found:#?}");
    for n in needles {
        assert!(found[0].contains(n), "`{n}` not in {found:?}");
    }
}

#[test]
fn reads_native_shards_and_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = documents(100, 1);
    write_native(tmp.path(), &docs, 16, 10);
    let out = OutputDir::open(tmp.path()).unwrap();
    let split = out.split("train").unwrap();
    assert!(split.shards.len() > 2);

    let mut stream = Vec::new();
    let mut starts = Vec::new();
    let mut base = 0;
    for shard in &split.shards {
        let s = out.open_native(split, shard).unwrap();
        assert_eq!(s.num_rows() as u64, shard.sequences);
        assert_eq!(s.rows().len(), s.num_rows());
        assert!(s.rows().all(|r| r.len() == 16));
        assert_eq!(s.row(0), &s.tokens()[..16]);
        stream.extend_from_slice(s.tokens());
        starts.extend(
            out.open_starts(split, shard)
                .unwrap()
                .iter()
                .map(|o| o + base),
        );
        base += shard.tokens;
    }
    let mut expected = Vec::new();
    let mut expected_starts = Vec::new();
    for d in &docs {
        expected_starts.push(expected.len() as u64);
        expected.extend_from_slice(d);
        expected.push(EOS);
    }
    assert_eq!(stream, expected[..stream.len()]);
    expected_starts.retain(|&s| s < stream.len() as u64);
    assert_eq!(starts, expected_starts);
    assert!(out.open_megatron(split, &split.shards[0]).is_err());
}

#[test]
fn native_shard_of_the_wrong_length_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("shard-00000.bin");
    fs::write(&path, vec![0u8; 4 * 16 * 3 + 4]).unwrap();
    let err = NativeShard::open(&path, 16).unwrap_err().to_string();
    assert!(
        err.contains("shard-00000.bin") && err.contains("whole number of rows"),
        "{err}"
    );
    fs::write(&path, vec![0u8; 4 * 16 * 3]).unwrap();
    assert_eq!(NativeShard::open(&path, 16).unwrap().num_rows(), 3);
    fs::write(&path, []).unwrap();
    assert_eq!(NativeShard::open(&path, 16).unwrap().num_rows(), 0);

    let starts = tmp.path().join("shard-00000.starts.bin");
    fs::write(&starts, [0u8; 12]).unwrap();
    let err = DocStarts::open(&starts).unwrap_err().to_string();
    assert!(err.contains("starts.bin") && err.contains("u64"), "{err}");
}

#[test]
fn verify_passes_an_intact_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let m = write_native(tmp.path(), &documents(80, 2), 32, 8);
    let report = shards::verify(tmp.path()).unwrap();
    assert!(report.is_ok(), "{:#?}", report.problems);
    let files = 2 * m.splits["train"].shards.len() as u64;
    assert_eq!(report.files_checked, files);
    assert!(report.extra_files.is_empty());
}

#[test]
fn verify_finds_changed_missing_and_extra_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_native(dir, &documents(80, 3), 32, 8);
    let shard1 = dir.join("shard-00001.bin");
    let original = fs::read(&shard1).unwrap();

    // One flipped bit.
    let mut bytes = original.clone();
    bytes[100] ^= 4;
    fs::write(&shard1, &bytes).unwrap();
    assert_one_problem(dir, &["shard-00001.bin", "xxh3", "corrupt"]);

    // Truncated.
    fs::write(&shard1, &original[..original.len() - 128]).unwrap();
    assert_one_problem(dir, &["shard-00001.bin", "bytes, the manifest says"]);

    // Missing.
    fs::remove_file(&shard1).unwrap();
    assert_one_problem(dir, &["shard-00001.bin", "missing"]);
    fs::write(&shard1, &original).unwrap();
    assert!(problems(dir).is_empty());

    // Leftovers of a killed run.
    fs::write(dir.join("shard-00099.bin"), [0u8; 128]).unwrap();
    fs::write(dir.join("shard-00099.starts.bin"), [0u8; 8]).unwrap();
    fs::write(dir.join("shard-00100.bin.tmp"), [0u8; 8]).unwrap();
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    let report = shards::verify(dir).unwrap();
    assert_eq!(report.extra_files.len(), 3, "{:?}", report.extra_files);
    assert!(
        report.extra_files[0].ends_with("shard-00099.bin"),
        "{:?}",
        report.extra_files
    );
    assert_eq!(report.problems.len(), 3);
    assert!(report.problems[0]
        .message
        .contains("not listed in the manifest"));
}

#[test]
fn verify_checks_shape_starts_and_vocabulary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = write_native(dir, &documents(60, 4), 16, 4);
    let shard0 = dir.join("shard-00000.bin");
    let starts0 = dir.join("shard-00000.starts.bin");
    let original = fs::read(&shard0).unwrap();
    let original_starts = fs::read(&starts0).unwrap();
    // Rewrites a file and its manifest entry, so only the semantic check can catch it.
    let rewrite = |path: &Path, bytes: &[u8], companion: bool| {
        fs::write(path, bytes).unwrap();
        let mut m = good.clone();
        let shard = &mut m.splits.get_mut("train").unwrap().shards[0];
        let info = file_info(path);
        if companion {
            shard.companion = Some(info);
        } else {
            shard.bytes = info.bytes;
            shard.xxh3 = info.xxh3;
        }
        write_manifest(dir, &m);
    };

    let mut bytes = original.clone();
    bytes[4 * 21..4 * 22].copy_from_slice(&200_000u32.to_le_bytes());
    rewrite(&shard0, &bytes, false);
    assert_one_problem(
        dir,
        &[
            "shard-00000.bin",
            "token 21 (row 1, column 5) is id 200000",
            "vocabulary",
        ],
    );
    rewrite(&shard0, &original, false);

    let mut starts: Vec<u64> = original_starts
        .chunks(8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    starts.swap(1, 2);
    rewrite(
        &starts0,
        &starts
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect::<Vec<u8>>(),
        true,
    );
    assert_one_problem(dir, &["shard-00000.starts.bin", "start 2", "not after"]);
    starts.swap(1, 2);
    starts.push(64);
    rewrite(
        &starts0,
        &starts
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect::<Vec<u8>>(),
        true,
    );
    assert_one_problem(
        dir,
        &[
            "shard-00000.starts.bin",
            "is token 64, past the shard's 64 tokens",
        ],
    );
    rewrite(&starts0, &original_starts, true);
    assert!(problems(dir).is_empty());

    // The manifest's own numbers must fit seq_len.
    let mut m = good.clone();
    m.splits.get_mut("train").unwrap().shards[0].sequences += 1;
    write_manifest(dir, &m);
    let found = problems(dir);
    assert!(
        found.iter().any(|p| p.contains("with seq_len 16")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|p| p.contains("its shards add up to")),
        "{found:?}"
    );

    let mut m = good.clone();
    m.totals.read = 5;
    write_manifest(dir, &m);
    assert_one_problem(dir, &["manifest.json", "totals do not add up"]);
}

#[test]
fn verify_reads_a_validation_split_in_its_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut m = write_native(dir, &documents(40, 5), 16, 4);
    let valid_m = write_native(&dir.join("valid"), &documents(10, 6), 16, 4);
    fs::remove_file(dir.join("valid").join(MANIFEST_FILE)).unwrap();
    let mut valid = valid_m.splits["train"].clone();
    valid.dir = "valid".to_string();
    m.splits.insert("valid".to_string(), valid);
    write_manifest(dir, &m);
    assert!(problems(dir).is_empty(), "{:?}", problems(dir));
    fs::write(dir.join("valid/shard-00000.bin"), [1u8; 64]).unwrap();
    assert_one_problem(dir, &["valid/shard-00000.bin", "bytes, the manifest says"]);
}

fn write_megatron_output(dir: &Path, docs: &[Vec<u32>]) -> Manifest {
    let mut w = MegatronWriter::create(dir, "train", MegatronDtype::Int32).unwrap();
    for d in docs {
        let mut doc = d.clone();
        doc.push(EOS);
        w.add_document(&doc).unwrap();
    }
    let (bin, _idx) = w.finish().unwrap();
    let split = SplitInfo {
        dir: String::new(),
        sequences: bin.sequences,
        tokens: bin.tokens,
        documents: bin.sequences,
        shards: vec![bin],
        ..SplitInfo::default()
    };
    let m = manifest(
        Layout::Megatron,
        0,
        "<i4",
        BTreeMap::from([("train".to_string(), split)]),
    );
    write_manifest(dir, &m);
    m
}

#[test]
fn verify_megatron_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = write_megatron_output(dir, &documents(50, 7));
    let report = shards::verify(dir).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.files_checked, 2);

    let mut m = good.clone();
    m.splits.get_mut("train").unwrap().shards[0].sequences = 49;
    m.splits.get_mut("train").unwrap().sequences = 49;
    write_manifest(dir, &m);
    assert_one_problem(
        dir,
        &["train.idx", "holds 50 sequences", "manifest says 49"],
    );
    write_manifest(dir, &good);

    let idx = dir.join("train.idx");
    let original = fs::read(&idx).unwrap();
    let mut bytes = original.clone();
    bytes[40] ^= 1;
    fs::write(&idx, &bytes).unwrap();
    assert_one_problem(dir, &["train.idx", "xxh3"]);
    fs::write(&idx, &original).unwrap();

    fs::write(dir.join("old.bin"), [0u8; 4]).unwrap();
    fs::write(dir.join("train.sizes.tmp"), [0u8; 4]).unwrap();
    let report = shards::verify(dir).unwrap();
    assert_eq!(report.extra_files.len(), 2, "{:?}", report.extra_files);
}

#[test]
fn verify_without_manifest_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = shards::verify(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("manifest.json"), "{err}");
    fs::write(tmp.path().join(MANIFEST_FILE), "{\"format\": 3}").unwrap();
    let err = shards::verify(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("not a valid arcade manifest"), "{err}");
}

// ------------------------------------------------------------------ tests/read_shards.py

/// read_shards.py on `dir`, expecting `docs`.
fn run_script(python: &str, dir: &Path, docs: &[Vec<u32>]) -> (bool, String) {
    let expected = dir.with_extension("expected.jsonl");
    write_expected(&expected, docs);
    read_shards_py(python, dir, &expected, &[])
}

#[test]
fn read_shards_py_checks_native_shards() {
    let Some(python) = python_with_numpy() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let docs = documents(120, 8);
    let good = write_native(&dir, &docs, 32, 7);
    let (ok, out) = run_script(&python, &dir, &docs);
    assert!(ok, "{out}");
    assert!(out.contains("OK") && out.contains("starts match"), "{out}");

    // A wrong token in the expected ids.
    let mut wrong = docs.clone();
    wrong[30][0] ^= 1;
    let (ok, out) = run_script(&python, &dir, &wrong);
    assert!(!ok && out.contains("differ from the expected ids"), "{out}");

    // Missing documents: more than a row's worth of tokens unaccounted for.
    let (ok, out) = run_script(&python, &dir, &docs[..100]);
    assert!(!ok && out.contains("MISMATCH"), "{out}");

    // A starts file off by one.
    let starts0 = dir.join("shard-00000.starts.bin");
    let original = fs::read(&starts0).unwrap();
    let mut bytes = original.clone();
    bytes[8] += 1;
    fs::write(&starts0, &bytes).unwrap();
    let (ok, out) = run_script(&python, &dir, &docs);
    assert!(
        !ok && out.contains("starts files do not list the document starts"),
        "{out}"
    );
    fs::write(&starts0, &original).unwrap();

    // Shuffled rows: a permutation passes, a changed row does not.
    let mut m = good.clone();
    m.shuffled = true;
    write_manifest(&dir, &m);
    let shard0 = dir.join("shard-00000.bin");
    let rows0 = fs::read(&shard0).unwrap();
    let mut swapped = rows0[128..256].to_vec();
    swapped.extend_from_slice(&rows0[..128]);
    swapped.extend_from_slice(&rows0[256..]);
    fs::write(&shard0, &swapped).unwrap();
    let (ok, out) = run_script(&python, &dir, &docs);
    assert!(ok && out.contains("permutation"), "{out}");
    swapped[0] ^= 1;
    fs::write(&shard0, &swapped).unwrap();
    let (ok, out) = run_script(&python, &dir, &docs);
    assert!(!ok && out.contains("not a permutation"), "{out}");
}

#[test]
fn read_shards_py_checks_megatron_layout_with_manifest() {
    let Some(python) = python_with_numpy() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let docs = documents(40, 9);
    write_megatron_output(&dir, &docs);
    let (ok, out) = run_script(&python, &dir, &docs);
    assert!(
        ok && out.contains("sequence i == document i + EOD"),
        "{out}"
    );
    let mut wrong = docs.clone();
    wrong.swap(3, 4);
    let (ok, out) = run_script(&python, &dir, &wrong);
    assert!(!ok && out.contains("sequence 3"), "{out}");
}

#[test]
fn read_shards_py_counts_tokens_across_splits() {
    let Some(python) = python_with_numpy() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let train_docs = documents(80, 10);
    let valid_docs = documents(15, 11);
    let mut m = write_native(&dir, &train_docs, 16, 8);
    let valid_m = write_native(&dir.join("valid"), &valid_docs, 16, 8);
    fs::remove_file(dir.join("valid").join(MANIFEST_FILE)).unwrap();
    let mut valid = valid_m.splits["train"].clone();
    valid.dir = "valid".to_string();
    m.splits.insert("valid".to_string(), valid);
    m.shuffled = true;
    write_manifest(&dir, &m);
    // Expected documents in any order across the splits.
    let mut all: Vec<Vec<u32>> = valid_docs.iter().chain(&train_docs).cloned().collect();
    let (ok, out) = run_script(&python, &dir, &all);
    assert!(ok && out.contains("token counts match"), "{out}");
    // One token more in the input than in the shards (beyond the dropped partial rows).
    all[3].push(99_999);
    let (ok, out) = run_script(&python, &dir, &all);
    assert!(
        !ok && out.contains("dropped partial rows account for"),
        "{out}"
    );
    // One token in the shards that the input does not have that often.
    all[3].pop();
    let t = all[3].pop().unwrap();
    all[3].push(if t == 5 { 6 } else { 5 });
    let (ok, out) = run_script(&python, &dir, &all);
    assert!(!ok && out.contains(&format!("token {t} occurs")), "{out}");
}
