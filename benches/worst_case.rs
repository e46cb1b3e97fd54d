//! Inputs with no split point, where BPE must merge one huge piece: is the cost per byte flat from
//! 10 KB to 1 MB? Quadratic merging would make the 1 MB case ~100x slower per byte than 10 KB.
//!
//! `cargo bench -p arcade-tokenizer --bench worst_case`; criterion prints throughput, and
//! benches/criterion_table.py turns it into ns/byte. tiktoken-rs is checked and timed alongside at
//! every size: since 0.12 it merges pieces of 100+ bytes with a heap too, so it is not quadratic.

mod common;

use std::hint::black_box;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use arcade_tokenizer::Tokenizer;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};

const SIZES: [(usize, &str); 3] = [(10_000, "10KB"), (100_000, "100KB"), (1_000_000, "1MB")];

/// Deterministic input of at least `len` bytes: characters drawn from `alphabet` by xorshift.
fn random_text(alphabet: &[char], len: usize) -> String {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut s = String::with_capacity(len + 4);
    while s.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        s.push(alphabet[(state % alphabet.len() as u64) as usize]);
    }
    s
}

/// Each is one piece under the Arcade100k pattern (spaces through `\s+(?!\S)`, which reaches the
/// end of the text), except digits: one piece per digit, a test of the splitter rather than BPE.
fn kinds() -> Vec<(&'static str, Vec<char>)> {
    vec![
        ("letters", ('a'..='z').collect()),
        (
            "punct",
            "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~".chars().collect(),
        ),
        ("cjk", ('\u{4e00}'..='\u{9fff}').collect()),
        ("digits", ('0'..='9').collect()),
        ("spaces", vec![' ']),
    ]
}

/// Timed in thread CPU time (see `common::CpuTime`).
fn worst_case(c: &mut Criterion<common::CpuTime>) {
    let arcade = Tokenizer::arcade100k();
    let tiktoken = common::tiktoken_arcade();
    for (kind, alphabet) in kinds() {
        let mut g = c.benchmark_group(format!("worst/{kind}"));
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for (len, label) in SIZES {
            let text = random_text(&alphabet, len);
            // fancy-regex (in tiktoken-rs) can give up on a long run: that is a result, not a bug.
            let peer = catch_unwind(AssertUnwindSafe(|| tiktoken.encode_ordinary(&text)));
            match &peer {
                Ok(ids) => assert!(
                    *ids == arcade.encode_ordinary(&text),
                    "worst/{kind}/{label}"
                ),
                Err(_) => eprintln!("NOTICE: tiktoken-rs fails on worst/{kind}/{label}; not timed"),
            }
            g.throughput(Throughput::Bytes(text.len() as u64));
            g.bench_with_input(BenchmarkId::new("arcade", label), &text, |b, t| {
                b.iter(|| black_box(arcade.encode_ordinary(t)))
            });
            if peer.is_ok() {
                g.bench_with_input(BenchmarkId::new("tiktoken-rs", label), &text, |b, t| {
                    b.iter(|| black_box(tiktoken.encode_ordinary(t)))
                });
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::thread_cpu_criterion();
    targets = worst_case
}
criterion_main!(benches);
