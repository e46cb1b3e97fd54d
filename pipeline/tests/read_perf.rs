//! Throughput check for the JSONL reader (ignored by default: it measures, it does not test
//! behaviour). Run with:
//!     cargo test -p arcade-pipeline --release --test read_perf -- --ignored --nocapture
//! It asserts a floor far below the expected speed so that it only fails on a gross regression.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use arcade_pipeline::read::{self, ReadOptions};

const WEB_FIXTURES: &[&str] = &[
    "web/dclm_majority_head.jsonl",
    "web/dolma_cc2019_head.jsonl",
    "web/dolma_cc_en_head-0091.jsonl",
];

/// Reads `path` once and returns (MB/s of input, documents).
fn measure(path: &Path, options: &ReadOptions) -> (f64, usize) {
    let size = std::fs::metadata(path).unwrap().len() as f64;
    let start = Instant::now();
    let mut docs = 0;
    let mut text_bytes = 0;
    for item in read::open(path, options).unwrap() {
        let doc = item.unwrap();
        docs += 1;
        text_bytes += doc.text.len();
    }
    std::hint::black_box(text_bytes);
    (size / 1e6 / start.elapsed().as_secs_f64(), docs)
}

#[test]
#[ignore = "benchmark; run explicitly"]
fn jsonl_reader_throughput() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut web = Vec::new();
    for rel in WEB_FIXTURES {
        web.extend(std::fs::read(fixtures.join(rel)).unwrap());
    }
    // ~200 MB of real web JSONL: big enough to measure, small enough for the page cache.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let copies = 200_000_000 / web.len();
    for _ in 0..copies {
        out.write_all(&web).unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();

    let text = ReadOptions::default();
    let _warm_page_cache = measure(&path, &text);
    let (with_text, docs) = measure(&path, &text);
    // The floor: splitting lines and validating UTF-8, without any JSON parsing.
    let lines = ReadOptions {
        format: Some(read::InputFormat::TextLines),
        ..ReadOptions::default()
    };
    let (split_only, _) = measure(&path, &lines);
    println!(
        "{docs} docs: JSONL text extraction {with_text:.0} MB/s; \
         line splitting + UTF-8 check alone {split_only:.0} MB/s"
    );
    assert!(
        with_text > 50.0,
        "JSONL reading collapsed to {with_text:.0} MB/s"
    );
}
