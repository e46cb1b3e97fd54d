//! arcade against Hugging Face `tokenizers` 1.0.0-rc.3 (Rust crate), configured as Arcade100k.
//!
//! `cargo bench -p arcade-tokenizer --bench hf_tokenizers [-- FILTER]`. HF has no tiktoken loader,
//! so the tokenizer.json is built here from the ranks, the way tiktoken vocabularies are converted
//! for HF (Llama 3, Qwen2): byte-level BPE whose vocab is every token's bytes spelled through
//! GPT-2's byte-to-unicode table; merge i makes the token of the i-th lowest multi-byte rank from the
//! two parts BPE reaches it by when only lower ranks may merge; `ignore_merges` so that a piece
//! which is a token is taken whole, as tiktoken does; Split(Arcade100k pattern, Isolated) then
//! ByteLevel(use_regex = false); the 32 specials as added tokens. Its ids are checked against
//! arcade's on every subset first.
//!
//! Both sides are warm: HF keeps a word cache per encode scratch, arcade a piece cache per thread.
//! The `-cold` rows (mixed only: building HF from JSON takes about a second) start both empty.

mod common;

use std::hint::black_box;
use std::time::Duration;

use arcade_tokenizer::{Tokenizer, ARCADE100K_PATTERN};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use rustc_hash::FxHashMap;
use serde_json::{json, Map, Value};
use tokenizers::pipeline::{EncodeOptions, PipelinePreTokenizer, PipelineTokenizer};

/// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the other bytes for
/// U+0100 onwards, in byte order.
fn byte_chars() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 0x100;
    for (b, slot) in table.iter_mut().enumerate() {
        let b = b as u8;
        *slot = if matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF) {
            char::from(b)
        } else {
            next += 1;
            char::from_u32(next - 1).expect("below U+0200")
        };
    }
    table
}

/// Where BPE, allowed only ranks below `rank`, splits `token` in its last step.
fn last_merge(ranks: &FxHashMap<Vec<u8>, u32>, token: &[u8], rank: u32) -> usize {
    let mut bounds: Vec<usize> = (0..=token.len()).collect();
    while let Some((_, i)) = (0..bounds.len() - 2)
        .filter_map(|i| {
            let r = *ranks.get(&token[bounds[i]..bounds[i + 2]])?;
            (r < rank).then_some((r, i))
        })
        .min()
    {
        bounds.remove(i + 1);
    }
    assert_eq!(
        bounds.len(),
        3,
        "token of rank {rank} is not one merge of two lower ranks"
    );
    bounds[1]
}

/// Arcade100k as a `tokenizer.json` in the ordinary (version 1.0) format, which the Python
/// `tokenizers` reads as well.
fn arcade_tokenizer_json() -> String {
    let ranks = common::parse_ranks(&common::ranks_file());
    let table = byte_chars();
    let spell = |bytes: &[u8]| -> String { bytes.iter().map(|&b| table[b as usize]).collect() };
    let mut by_rank: Vec<(&Vec<u8>, u32)> = ranks.iter().map(|(t, &r)| (t, r)).collect();
    by_rank.sort_by_key(|&(_, r)| r);
    let specials = common::arcade_specials();
    // The specials are in the model vocab too: HF numbers an added token that is not from the
    // number after the vocab (100256 here, which cl100k leaves unused), whatever id it is given.
    let vocab: Map<String, Value> = by_rank
        .iter()
        .map(|&(t, r)| (spell(t), json!(r)))
        .chain(specials.iter().map(|(s, id)| (s.clone(), json!(id))))
        .collect();
    let merges: Vec<Value> = by_rank
        .iter()
        .filter(|(t, _)| t.len() > 1)
        .map(|&(t, r)| {
            let at = last_merge(&ranks, t, r);
            json!([spell(&t[..at]), spell(&t[at..])])
        })
        .collect();
    let added: Vec<Value> = specials
        .into_iter()
        .map(|(content, id)| {
            json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": ARCADE100K_PATTERN}, "behavior": "Isolated",
             "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
             "use_regex": false},
        ]},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                    "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null,
                  "continuing_subword_prefix": null, "end_of_word_suffix": null,
                  "fuse_unk": false, "byte_fallback": false, "ignore_merges": true,
                  "vocab": vocab, "merges": merges},
    })
    .to_string()
}

fn load_hf(canonical: &str) -> PipelineTokenizer {
    tokenizers::from_json(canonical).expect("HF reads the canonical tokenizer.json")
}

/// `encode_ordinary`: special-token strings are text, and nothing is added around the ids.
fn options() -> EncodeOptions {
    EncodeOptions {
        add_special_tokens: false,
        encode_special_tokens: true,
        ..EncodeOptions::default()
    }
}

fn hf_encode(hf: &PipelineTokenizer, opts: &EncodeOptions, doc: &str) -> usize {
    let mut out = Vec::new();
    hf.encode_into(doc, opts, &mut out).expect("HF encodes");
    black_box(out).len()
}

fn hf_ids(hf: &PipelineTokenizer, opts: &EncodeOptions, doc: &str) -> Vec<u32> {
    let mut out = Vec::new();
    hf.encode_into(doc, opts, &mut out).expect("HF encodes");
    out.into_iter().map(u32::from).collect()
}

/// Timed in thread CPU time (see `common::CpuTime`).
fn hf_tokenizers(c: &mut Criterion<common::CpuTime>) {
    let legacy = arcade_tokenizer_json();
    let path = std::env::temp_dir().join("arcade100k-hf-tokenizer.json");
    std::fs::write(&path, &legacy).expect("write tokenizer.json");
    eprintln!(
        "HF tokenizer.json (version 1.0) written to {}",
        path.display()
    );
    let canonical = tokenizers::canonicalize_str(&legacy).expect("tk-convert upgrades it");
    let hf = load_hf(&canonical);
    // The fast path needs the pattern recognised as a native grammar, not run by fancy-regex.
    match hf.get_pre_tokenizer() {
        PipelinePreTokenizer::Split(split) => {
            eprintln!(
                "HF pre-tokenizer: Split, native grammar {:?}",
                split.grammar()
            )
        }
        other => eprintln!("HF pre-tokenizer: {other:?}"),
    }
    let opts = options();
    let arcade = Tokenizer::arcade100k();
    let ranks = common::ranks_file();

    let mixed = common::subsets().last().expect("mixed is last");
    common::assert_single_threaded("HF tokenizers", || {
        mixed.docs.iter().for_each(|d| {
            hf_encode(&hf, &opts, d);
        })
    });

    for s in common::subsets() {
        if s.name != "mixed" {
            common::assert_same_ids(
                &format!("arcade100k/{} vs HF tokenizers", s.name),
                &s.docs,
                |d| arcade.encode_ordinary(d),
                |d| hf_ids(&hf, &opts, d),
            );
        }
        let mut g = c.benchmark_group(format!("hf/{}", s.name));
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_millis(1500))
            .throughput(Throughput::Bytes(s.bytes()));
        g.bench_function("arcade", |b| {
            b.iter(|| {
                s.docs
                    .iter()
                    .map(|d| black_box(arcade.encode_ordinary(d)).len())
                    .sum::<usize>()
            })
        });
        g.bench_function("hf-tokenizers", |b| {
            b.iter(|| {
                s.docs
                    .iter()
                    .map(|d| hf_encode(&hf, &opts, d))
                    .sum::<usize>()
            })
        });
        if s.name == "mixed" {
            g.bench_function("arcade-cold", |b| {
                b.iter_batched_ref(
                    || common::fresh_arcade(&ranks),
                    |t| {
                        s.docs
                            .iter()
                            .map(|d| black_box(t.encode_ordinary(d)).len())
                            .sum::<usize>()
                    },
                    BatchSize::PerIteration,
                )
            });
            g.bench_function("hf-tokenizers-cold", |b| {
                b.iter_batched_ref(
                    || load_hf(&canonical),
                    |t| s.docs.iter().map(|d| hf_encode(t, &opts, d)).sum::<usize>(),
                    BatchSize::PerIteration,
                )
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::thread_cpu_criterion();
    targets = hf_tokenizers
}
criterion_main!(benches);
