//! Not a criterion bench: arcade's single-thread throughput on one JSONL file (a `text` field per
//! line, one document each), printed as one JSON line for benches/peers.py to put beside the
//! Python peers. `cargo bench -p arcade-tokenizer --bench throughput -- FILE [REPS]`.
//!
//! `cold` is the first pass of a fresh tokenizer (empty piece cache, as in a new process); `warm`
//! the REPS passes after it, each as `[wall seconds, thread CPU seconds]`. `ids_sha256` hashes every
//! id as u32 little-endian, in document order, so that peers.py can check the ids against
//! tiktoken's without shipping them.

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::thread_cpu_time;

use sha2::{Digest, Sha256};

fn main() {
    // cargo bench appends `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: cargo bench --bench throughput -- FILE.jsonl [REPS]");
        std::process::exit(2);
    };
    let reps: usize = args
        .get(1)
        .map_or(5, |r| r.parse().expect("REPS is a number"));
    let docs: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            v["text"].as_str().expect("a `text` string").to_string()
        })
        .collect();
    let bytes: usize = docs.iter().map(String::len).sum();
    let tok = common::fresh_arcade(&common::ranks_file());

    let timed = |pass: &mut dyn FnMut()| {
        let (wall, cpu) = (Instant::now(), thread_cpu_time());
        pass();
        [
            wall.elapsed().as_secs_f64(),
            (thread_cpu_time() - cpu).as_secs_f64(),
        ]
    };
    let mut ids = Vec::new();
    let cold = timed(&mut || ids = docs.iter().map(|d| tok.encode_ordinary(d)).collect());
    let warm: Vec<[f64; 2]> = (0..reps)
        .map(|_| {
            timed(&mut || {
                for d in &docs {
                    black_box(tok.encode_ordinary(d));
                }
            })
        })
        .collect();

    let mut hash = Sha256::new();
    for id in ids.iter().flatten() {
        hash.update(id.to_le_bytes());
    }
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let tokens: usize = ids.iter().map(Vec::<u32>::len).sum();
    println!(
        "{}",
        serde_json::json!({
            "impl": "arcade", "docs": docs.len(), "bytes": bytes, "tokens": tokens,
            "cold": cold, "warm": warm, "ids_sha256": hex,
        })
    );
}
