//! The Megatron MMapIndexedDataset writer, reader and merge.

use std::fs;
use std::path::{Path, PathBuf};

use arcade_pipeline::manifest::file_xxh3;
use arcade_pipeline::megatron::{
    self, merge, MegatronDtype, MegatronIndex, MegatronState, MegatronWriter,
};

mod common;
use common::{lcg, python_with_numpy, read_shards_py, write_expected};

const EOD: u32 = 100_257;

/// Deterministic documents of varied lengths (1..=40 tokens, the last one EOD).
fn documents(count: usize, seed: u64, max_id: u32) -> Vec<Vec<u32>> {
    let mut next = lcg(seed);
    next(); // the stream starts from the seed stepped once
    (0..count)
        .map(|_| {
            let len = 1 + next() as usize % 40;
            let mut doc: Vec<u32> = (0..len - 1).map(|_| next() % max_id).collect();
            doc.push(max_id.min(EOD));
            doc
        })
        .collect()
}

fn write(dir: &Path, prefix: &str, dtype: MegatronDtype, docs: &[Vec<u32>]) -> PathBuf {
    let mut w = MegatronWriter::create(dir, prefix, dtype).unwrap();
    for d in docs {
        w.add_document(d).unwrap();
    }
    w.finish().unwrap();
    dir.join(prefix)
}

fn read_all(index: &MegatronIndex) -> Vec<Vec<u32>> {
    (0..index.len())
        .map(|i| index.sequence(i).to_vec())
        .collect()
}

fn err_of(prefix: &Path) -> String {
    MegatronIndex::open(prefix).unwrap_err().to_string()
}

#[test]
fn int32_round_trip_and_shard_info() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = documents(200, 1, 100_289);
    let mut w = MegatronWriter::create(tmp.path(), "train", MegatronDtype::Int32).unwrap();
    for d in &docs {
        w.add_document(d).unwrap();
    }
    assert_eq!(w.documents(), 200);
    let (bin, idx) = w.finish().unwrap();
    let prefix = tmp.path().join("train");
    let tokens: u64 = docs.iter().map(|d| d.len() as u64).sum();

    assert_eq!(bin.file, "train.bin");
    assert_eq!(bin.sequences, 200);
    assert_eq!(bin.tokens, tokens);
    assert_eq!(bin.bytes, tokens * 4);
    assert_eq!(bin.xxh3, file_xxh3(&prefix.with_extension("bin")).unwrap());
    assert_eq!(bin.companion.as_ref(), Some(&idx));
    assert_eq!(idx.file, "train.idx");
    assert_eq!(idx.bytes, 34 + 200 * 12 + 201 * 8);
    assert_eq!(
        idx.bytes,
        fs::metadata(tmp.path().join("train.idx")).unwrap().len()
    );
    assert_eq!(idx.xxh3, file_xxh3(&tmp.path().join("train.idx")).unwrap());
    // No temporary files remain.
    let mut names: Vec<String> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["train.bin", "train.idx"]);

    let index = MegatronIndex::open(&prefix).unwrap();
    assert_eq!(index.len(), 200);
    assert_eq!(index.dtype(), MegatronDtype::Int32);
    assert_eq!(index.num_tokens(), tokens);
    assert_eq!(index.num_documents(), 200);
    assert_eq!(read_all(&index), docs);
    assert_eq!(index.doc_idx().to_vec(), (0..=200).collect::<Vec<i64>>());
    let mut pointer = 0;
    for (i, d) in docs.iter().enumerate() {
        assert_eq!(index.size(i) as usize, d.len());
        assert_eq!(index.pointer(i), pointer);
        pointer += d.len() as u64 * 4;
    }
    assert_eq!(index.all_tokens().to_vec(), docs.concat());
}

/// The bytes of a two-document dataset, spelled out as gpt-neox writes them.
#[test]
fn exact_byte_layout() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "x",
        MegatronDtype::Int32,
        &[vec![5, 6, EOD], vec![EOD]],
    );
    let mut idx = Vec::new();
    idx.extend_from_slice(b"MMIDIDX\x00\x00");
    idx.extend_from_slice(&1u64.to_le_bytes()); // version
    idx.push(4); // int32
    idx.extend_from_slice(&2u64.to_le_bytes()); // sequences
    idx.extend_from_slice(&3u64.to_le_bytes()); // doc_idx entries
    for s in [3i32, 1] {
        idx.extend_from_slice(&s.to_le_bytes());
    }
    for p in [0i64, 12] {
        idx.extend_from_slice(&p.to_le_bytes());
    }
    for d in [0i64, 1, 2] {
        idx.extend_from_slice(&d.to_le_bytes());
    }
    assert_eq!(fs::read(tmp.path().join("x.idx")).unwrap(), idx);
    let mut bin = Vec::new();
    for t in [5i32, 6, EOD as i32, EOD as i32] {
        bin.extend_from_slice(&t.to_le_bytes());
    }
    assert_eq!(fs::read(tmp.path().join("x.bin")).unwrap(), bin);

    // uint16: code 8, 2-byte tokens, pointers in bytes.
    write(
        tmp.path(),
        "y",
        MegatronDtype::Uint16,
        &[vec![1, 2, 3], vec![65535, 0]],
    );
    let idx = fs::read(tmp.path().join("y.idx")).unwrap();
    assert_eq!(idx[17], 8);
    assert_eq!(&idx[34 + 8..34 + 16], &0i64.to_le_bytes());
    assert_eq!(&idx[34 + 16..34 + 24], &6i64.to_le_bytes());
    assert_eq!(
        fs::read(tmp.path().join("y.bin")).unwrap(),
        [1, 0, 2, 0, 3, 0, 255, 255, 0, 0]
    );
}

#[test]
fn uint16_round_trip_and_range_check() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = documents(300, 2, 50_277);
    let prefix = write(tmp.path(), "small", MegatronDtype::Uint16, &docs);
    let index = MegatronIndex::open(&prefix).unwrap();
    assert_eq!(index.dtype(), MegatronDtype::Uint16);
    assert_eq!(read_all(&index), docs);
    let tokens: u64 = docs.iter().map(|d| d.len() as u64).sum();
    assert_eq!(index.bin_bytes(), tokens * 2);
    assert_eq!(index.doc_idx().to_vec(), (0..=300).collect::<Vec<i64>>());

    let mut w = MegatronWriter::create(tmp.path(), "bad", MegatronDtype::Uint16).unwrap();
    w.add_document(&[1, 2]).unwrap();
    let err = w.add_document(&[3, 70_000, EOD]).unwrap_err().to_string();
    assert!(
        err.contains("bad.bin.tmp") && err.contains("document 1") && err.contains("70000"),
        "{err}"
    );
    assert!(
        err.contains("position 1") && err.contains("uint16"),
        "{err}"
    );
}

#[test]
fn dtype_choice_follows_best_fitting_dtype() {
    assert_eq!(MegatronDtype::for_vocab_size(50_257), MegatronDtype::Uint16);
    assert_eq!(MegatronDtype::for_vocab_size(65_499), MegatronDtype::Uint16);
    assert_eq!(MegatronDtype::for_vocab_size(65_500), MegatronDtype::Int32);
    assert_eq!(MegatronDtype::for_vocab_size(100_289), MegatronDtype::Int32);
    assert_eq!(
        (MegatronDtype::Int32.code(), MegatronDtype::Uint16.code()),
        (4, 8)
    );
}

#[test]
fn empty_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = write(tmp.path(), "empty", MegatronDtype::Int32, &[]);
    let index = MegatronIndex::open(&prefix).unwrap();
    assert!(index.is_empty());
    assert_eq!(index.doc_idx().to_vec(), [0]);
    assert_eq!(index.idx_bytes(), 34 + 8);
    assert_eq!(index.bin_bytes(), 0);
}

#[test]
fn merge_of_three_equals_one_written_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = documents(150, 3, 100_289);
    let whole = write(tmp.path(), "whole", MegatronDtype::Int32, &docs);
    let a = write(tmp.path(), "a", MegatronDtype::Int32, &docs[..40]);
    let b = write(tmp.path(), "b", MegatronDtype::Int32, &docs[40..41]);
    let c = write(tmp.path(), "c", MegatronDtype::Int32, &docs[41..]);
    let e = write(tmp.path(), "e", MegatronDtype::Int32, &[]);
    let out = tmp.path().join("merged");
    let (bin, idx) = merge(&[&a, &e, &b, &c], &out).unwrap();
    for ext in ["bin", "idx"] {
        assert_eq!(
            fs::read(out.with_extension(ext)).unwrap(),
            fs::read(whole.with_extension(ext)).unwrap(),
            "merged .{ext} differs from the one written whole"
        );
    }
    assert_eq!(bin.sequences, 150);
    assert_eq!(bin.xxh3, file_xxh3(&out.with_extension("bin")).unwrap());
    assert_eq!(idx.xxh3, file_xxh3(&out.with_extension("idx")).unwrap());
    assert!(!tmp.path().join("merged.bin.tmp").exists());
}

/// Writes a dataset the way gpt-neox's builder does with several sequences per document
/// (`add_item` per sequence, `end_document` per document).
fn write_raw(prefix: &Path, sequences: &[Vec<u32>], doc_idx: &[i64]) {
    let mut idx = Vec::new();
    idx.extend_from_slice(b"MMIDIDX\x00\x00");
    idx.extend_from_slice(&1u64.to_le_bytes());
    idx.push(4);
    idx.extend_from_slice(&(sequences.len() as u64).to_le_bytes());
    idx.extend_from_slice(&(doc_idx.len() as u64).to_le_bytes());
    for s in sequences {
        idx.extend_from_slice(&(s.len() as i32).to_le_bytes());
    }
    let mut pointer = 0i64;
    for s in sequences {
        idx.extend_from_slice(&pointer.to_le_bytes());
        pointer += s.len() as i64 * 4;
    }
    for d in doc_idx {
        idx.extend_from_slice(&d.to_le_bytes());
    }
    let bin: Vec<u8> = sequences
        .concat()
        .iter()
        .flat_map(|t| (*t as i32).to_le_bytes())
        .collect();
    fs::write(megatron::idx_path(prefix), idx).unwrap();
    fs::write(megatron::bin_path(prefix), bin).unwrap();
}

#[test]
fn merge_shifts_doc_idx_of_multi_sequence_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    // a: 3 sequences, documents [0,2) and [2,3); b: 4 sequences, documents [0,1) and [1,4).
    write_raw(&a, &[vec![1, 2], vec![3], vec![4, EOD]], &[0, 2, 3]);
    write_raw(
        &b,
        &[vec![5], vec![6, 7], vec![8], vec![9, EOD]],
        &[0, 1, 4],
    );
    let out = tmp.path().join("out");
    merge(&[&a, &b], &out).unwrap();
    let index = MegatronIndex::open(&out).unwrap();
    assert_eq!(index.doc_idx().to_vec(), [0, 2, 3, 4, 7]);
    assert_eq!(index.num_documents(), 4);
    assert_eq!(
        read_all(&index),
        [
            vec![1, 2],
            vec![3],
            vec![4, EOD],
            vec![5],
            vec![6, 7],
            vec![8],
            vec![9, EOD]
        ]
    );
    assert_eq!(index.pointers().to_vec(), [0, 8, 12, 20, 24, 32, 36]);
}

#[test]
fn merge_refuses_mixed_dtypes_and_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let a = write(tmp.path(), "a", MegatronDtype::Int32, &[vec![1, EOD]]);
    let b = write(tmp.path(), "b", MegatronDtype::Uint16, &[vec![1, 2]]);
    let err = merge(&[&a, &b], tmp.path().join("out"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("b.idx") && err.contains("uint16") && err.contains("int32"),
        "{err}"
    );
    assert!(!tmp.path().join("out.bin").exists());
    let none: [&Path; 0] = [];
    let err = merge(&none, tmp.path().join("out"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no input"), "{err}");
    let err = merge(&[tmp.path().join("missing")], tmp.path().join("out"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.idx"), "{err}");
}

#[test]
fn corrupt_indexes_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = documents(20, 4, 100_289);
    let prefix = write(tmp.path(), "good", MegatronDtype::Int32, &docs);
    let good_idx = fs::read(megatron::idx_path(&prefix)).unwrap();
    let good_bin = fs::read(megatron::bin_path(&prefix)).unwrap();
    let p = tmp.path().join("bad");
    let case = |idx: &[u8], bin: &[u8]| {
        fs::write(megatron::idx_path(&p), idx).unwrap();
        fs::write(megatron::bin_path(&p), bin).unwrap();
        err_of(&p)
    };
    let expect = |err: String, needles: &[&str]| {
        for n in needles {
            assert!(err.contains(n), "`{n}` not in: {err}");
        }
    };

    // Truncated index: by one byte, and inside the header.
    expect(
        case(&good_idx[..good_idx.len() - 1], &good_bin),
        &["bad.idx", "truncated", "20 sequences"],
    );
    expect(
        case(&good_idx[..20], &good_bin),
        &["bad.idx", "truncated", "20 bytes"],
    );
    expect(case(&[], &good_bin), &["bad.idx", "truncated", "0 bytes"]);
    // Extra bytes.
    let mut longer = good_idx.clone();
    longer.extend_from_slice(&[0; 8]);
    expect(case(&longer, &good_bin), &["bad.idx", "more than"]);
    // Not an index at all.
    expect(
        case(b"{\"hello\": \"world\", \"this is\": \"json\"}", &good_bin),
        &["bad.idx", "not a Megatron"],
    );
    let mut old = b"TNTIDX\x00\x00".to_vec();
    old.extend_from_slice(&[0; 40]);
    expect(case(&old, &good_bin), &["bad.idx", "TNTIDX"]);
    // Version, dtype.
    let mut bad = good_idx.clone();
    bad[9] = 2;
    expect(case(&bad, &good_bin), &["bad.idx", "version 2"]);
    let mut bad = good_idx.clone();
    bad[17] = 5;
    expect(case(&bad, &good_bin), &["bad.idx", "dtype code 5", "int64"]);
    // A corrupt size moves every pointer after it.
    let mut bad = good_idx.clone();
    bad[34 + 3 * 4] ^= 1;
    expect(
        case(&bad, &good_bin),
        &["bad.idx", "sequence 4 points at byte"],
    );
    // A negative size.
    let mut bad = good_idx.clone();
    bad[34 + 7] = 0xff;
    expect(
        case(&bad, &good_bin),
        &["bad.idx", "sequence 1 has a negative size"],
    );
    // Truncated / extended .bin.
    expect(
        case(&good_idx, &good_bin[..good_bin.len() - 4]),
        &["bad.bin", "truncated .bin"],
    );
    let mut longer_bin = good_bin.clone();
    longer_bin.extend_from_slice(&[0; 4]);
    expect(case(&good_idx, &longer_bin), &["bad.bin", "trailing data"]);
    // doc_idx: not starting at 0, decreasing, not ending at N.
    let doc_idx_at = 34 + 20 * 12;
    let mut bad = good_idx.clone();
    bad[doc_idx_at] = 1;
    expect(case(&bad, &good_bin), &["bad.idx", "starts with 1"]);
    let mut bad = good_idx.clone();
    bad[doc_idx_at + 5 * 8] = 9;
    expect(
        case(&bad, &good_bin),
        &["bad.idx", "entry 6 is 6", "previous one is 9"],
    );
    let mut bad = good_idx.clone();
    bad[doc_idx_at + 20 * 8] = 19;
    expect(
        case(&bad, &good_bin),
        &["bad.idx", "ends at 19", "20 sequences"],
    );
    // Missing files.
    fs::remove_file(megatron::bin_path(&p)).unwrap();
    fs::write(megatron::idx_path(&p), &good_idx).unwrap();
    expect(err_of(&p), &["bad.bin", "cannot open"]);
    expect(
        err_of(&tmp.path().join("nope")),
        &["nope.idx", "cannot open"],
    );

    // And the good one still opens.
    MegatronIndex::open(&prefix).unwrap();
}

#[test]
fn resume_is_byte_identical_to_an_uninterrupted_write() {
    for dtype in [MegatronDtype::Int32, MegatronDtype::Uint16] {
        let tmp = tempfile::tempdir().unwrap();
        let docs = documents(120, 5, 60_000);
        let whole_dir = tmp.path().join("whole");
        let (whole_bin, whole_idx) = {
            let mut w = MegatronWriter::create(&whole_dir, "train", dtype).unwrap();
            for d in &docs {
                w.add_document(d).unwrap();
            }
            w.finish().unwrap()
        };

        let dir = tmp.path().join("resumed");
        let mut w = MegatronWriter::create(&dir, "train", dtype).unwrap();
        for d in &docs[..50] {
            w.add_document(d).unwrap();
        }
        let state = w.state().unwrap();
        assert_eq!(state.documents, 50);
        assert_eq!(state.sizes_bytes, 200);
        assert_eq!(state.bin_bytes, state.tokens * dtype.itemsize());
        // Written after the checkpoint, then the process dies: all of it must be dropped.
        for d in &docs[50..70] {
            w.add_document(d).unwrap();
        }
        let _ = w.state().unwrap();
        drop(w);
        assert!(dir.join("train.bin.tmp").exists() && !dir.join("train.bin").exists());

        // The state survives a checkpoint file.
        let json = serde_json::to_string(&state).unwrap();
        let state: MegatronState = serde_json::from_str(&json).unwrap();
        let mut w = MegatronWriter::resume(&dir, "train", &state).unwrap();
        assert_eq!((w.documents(), w.tokens()), (state.documents, state.tokens));
        for d in &docs[50..] {
            w.add_document(d).unwrap();
        }
        let (bin, idx) = w.finish().unwrap();
        for name in ["train.bin", "train.idx"] {
            assert_eq!(
                fs::read(dir.join(name)).unwrap(),
                fs::read(whole_dir.join(name)).unwrap(),
                "{dtype}: resumed {name} differs"
            );
        }
        assert_eq!(bin, whole_bin, "{dtype}");
        assert_eq!(idx, whole_idx, "{dtype}");
        assert!(!dir.join("train.sizes.tmp").exists());
    }
}

#[test]
fn resume_rejects_files_that_do_not_match_the_state() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = documents(30, 6, 100_289);
    let mut w = MegatronWriter::create(tmp.path(), "t", MegatronDtype::Int32).unwrap();
    for d in &docs {
        w.add_document(d).unwrap();
    }
    let state = w.state().unwrap();
    drop(w);
    let lengths =
        |dir: &Path| ["t.bin.tmp", "t.sizes.tmp"].map(|n| fs::metadata(dir.join(n)).unwrap().len());
    let before = lengths(tmp.path());

    // Claims more than was written.
    let more = MegatronState {
        documents: state.documents + 1,
        tokens: state.tokens + 2,
        bin_bytes: state.bin_bytes + 8,
        sizes_bytes: state.sizes_bytes + 4,
        ..state
    };
    let err = MegatronWriter::resume(tmp.path(), "t", &more)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("t.bin.tmp") && err.contains("fewer than"),
        "{err}"
    );

    // Sizes and tokens from different runs.
    let shifted = MegatronState {
        documents: state.documents - 1,
        sizes_bytes: state.sizes_bytes - 4,
        ..state
    };
    let err = MegatronWriter::resume(tmp.path(), "t", &shifted)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("t.sizes.tmp") && err.contains("add up to"),
        "{err}"
    );

    // Inconsistent state.
    let broken = MegatronState {
        bin_bytes: 3,
        ..state
    };
    let err = MegatronWriter::resume(tmp.path(), "t", &broken)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("inconsistent"), "{err}");

    // No temporary files at all.
    let err = MegatronWriter::resume(tmp.path(), "other", &state)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("other.bin.tmp"), "{err}");

    // A refused resume leaves the files alone.
    assert_eq!(lengths(tmp.path()), before);

    // The real state still works.
    let w = MegatronWriter::resume(tmp.path(), "t", &state).unwrap();
    w.finish().unwrap();
    let index = MegatronIndex::open(tmp.path().join("t")).unwrap();
    assert_eq!(read_all(&index), docs);
}

#[test]
fn prefix_helpers() {
    assert_eq!(megatron::prefix_of(Path::new("d/x.bin")), Path::new("d/x"));
    assert_eq!(megatron::prefix_of(Path::new("d/x.idx")), Path::new("d/x"));
    assert_eq!(
        megatron::prefix_of(Path::new("d/x.v2")),
        Path::new("d/x.v2")
    );
    assert_eq!(
        megatron::bin_path(Path::new("d/x.v2")),
        Path::new("d/x.v2.bin")
    );
    let err = MegatronWriter::create(Path::new("/tmp"), "a/b", MegatronDtype::Int32)
        .err()
        .unwrap();
    assert!(err.to_string().contains("not a dataset prefix"), "{err}");
}

// ------------------------------------------------------------------ tests/read_shards.py

#[test]
fn read_shards_py_checks_megatron_files() {
    let Some(python) = python_with_numpy() else {
        return;
    };
    for dtype in [MegatronDtype::Int32, MegatronDtype::Uint16] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        // Expected ids without EOD; the dataset holds each document + EOD.
        let raw: Vec<Vec<u32>> = documents(60, 7, 50_000)
            .into_iter()
            .map(|mut d| {
                d.pop();
                d
            })
            .collect();
        let eod = if dtype == MegatronDtype::Uint16 {
            50_256
        } else {
            EOD
        };
        let with_eod: Vec<Vec<u32>> = raw
            .iter()
            .map(|d| d.iter().copied().chain([eod]).collect())
            .collect();
        write(&dir, "train", dtype, &with_eod);
        let expected = tmp.path().join("expected.jsonl");
        write_expected(&expected, &raw);
        let eod_arg = eod.to_string();
        let (ok, out) = read_shards_py(&python, &dir, &expected, &["--eos", &eod_arg]);
        assert!(ok, "{dtype}: {out}");
        assert!(out.contains("OK") && out.contains("60 sequences"), "{out}");

        // A changed token is found.
        let mut wrong = raw.clone();
        wrong[17][0] += 1;
        write_expected(&expected, &wrong);
        let (ok, out) = read_shards_py(&python, &dir, &expected, &["--eos", &eod_arg]);
        assert!(
            !ok && out.contains("sequence 17") && out.contains("MISMATCH"),
            "{out}"
        );
        // A missing document is found.
        write_expected(&expected, &raw[..59]);
        let (ok, out) = read_shards_py(&python, &dir, &expected, &["--eos", &eod_arg]);
        assert!(!ok && out.contains("60 sequences"), "{out}");
        // The wrong end-of-document id is found.
        write_expected(&expected, &raw);
        let (ok, out) = read_shards_py(&python, &dir, &expected, &["--eos", "7"]);
        assert!(!ok, "{out}");
        // A corrupt pointer is found by the independent pointer computation.
        let idx_path = dir.join("train.idx");
        let mut idx = fs::read(&idx_path).unwrap();
        idx[34 + 60 * 4 + 5 * 8] ^= 2;
        fs::write(&idx_path, &idx).unwrap();
        let (ok, out) = read_shards_py(&python, &dir, &expected, &["--eos", &eod_arg]);
        assert!(!ok && out.contains("pointer 5"), "{out}");
    }
}
