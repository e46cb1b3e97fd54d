//! Long pieces (no split point for thousands of bytes) against tiktoken-rs: the inputs that take
//! the backtracking encoder (`src/backtrack.rs`, from 4096 bytes on) rather than the merge loops.
//! Small alphabets make long and deep merge trees; real text with its split points removed makes
//! realistic tokens; CJK exercises multi-byte tokens and byte-level fallbacks. Each input is also
//! embedded between ordinary text, so that long pieces follow and precede short ones.

mod common;

use std::fs;
use std::io::BufRead;

use arcade_tokenizer::Tokenizer;
use common::{
    describe_mismatch, fixtures_dir, ours_o200k, reference_arcade, reference_cl100k,
    reference_o200k, Reference,
};

/// Deterministic text of at least `len` bytes: characters drawn from `alphabet` by xorshift.
fn random_text(alphabet: &[char], len: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut s = String::with_capacity(len + 4);
    while s.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        s.push(alphabet[(state % alphabet.len() as u64) as usize]);
    }
    s
}

/// The `text` fields of a fixture file, concatenated.
fn fixture_text(name: &str) -> String {
    let path = fixtures_dir().join("multilingual").join(name);
    let file = fs::File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut out = String::new();
    for line in std::io::BufReader::new(file).lines() {
        let value: serde_json::Value = serde_json::from_str(&line.expect("read")).expect("json");
        out.push_str(value["text"].as_str().expect("text field"));
    }
    out
}

fn inputs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let alphabets: [(&str, Vec<char>); 8] = [
        ("ab", "ab".chars().collect()),
        ("abc", "abc".chars().collect()),
        ("letters", ('a'..='z').collect()),
        ("vowels+nst", "aeiounst".chars().collect()),
        (
            "punct",
            "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~".chars().collect(),
        ),
        ("=-*", "=-*".chars().collect()),
        ("cjk", ('\u{4e00}'..='\u{9fff}').collect()),
        ("hangul", ('\u{ac00}'..='\u{ac80}').collect()),
    ];
    for (name, alphabet) in &alphabets {
        for (seed, len) in [(1, 4096), (2, 5000), (3, 20_000), (4, 100_000)] {
            out.push((format!("{name}/{len}"), random_text(alphabet, len, seed)));
        }
    }
    // Real words and real Han text, with everything between them removed: one long piece each.
    let en: String = fixture_text("en.jsonl")
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .collect();
    out.push(("en-joined".into(), en.clone()));
    out.push(("en-joined-lower".into(), en.to_lowercase()));
    for (name, file) in [("zh-joined", "zh.jsonl"), ("ja-joined", "ja.jsonl")] {
        let text: String = fixture_text(file)
            .chars()
            .filter(|&c| ('\u{4e00}'..='\u{9fff}').contains(&c))
            .collect();
        assert!(text.len() > 10_000, "{name}: {} bytes", text.len());
        out.push((name.into(), text));
    }
    // Long pieces between short ones.
    let mut embedded = Vec::new();
    for (name, text) in &out {
        let cut = text.char_indices().nth(5000).map_or(text.len(), |(i, _)| i);
        embedded.push((
            format!("embedded {name}"),
            format!(
                "Hello, world! 你好。 {} and then\n  some more: {}",
                &text[..cut],
                &text[..cut]
            ),
        ));
    }
    out.extend(embedded);
    out
}

fn check(ours: &Tokenizer, reference: &Reference) {
    let mut failures = Vec::new();
    for (name, text) in inputs() {
        let expected = reference.encode_ordinary(&text);
        let got = ours.encode_ordinary(&text);
        if got != expected {
            failures.push(describe_mismatch(
                "encode_ordinary",
                &format!("{} {name}", reference.name),
                &text,
                &got,
                &expected,
                reference,
            ));
        }
        assert_eq!(ours.count_tokens(&text), expected.len(), "{name}: count");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn arcade100k_long_pieces_match_reference() {
    check(&Tokenizer::arcade100k(), reference_arcade());
}

#[test]
fn cl100k_base_long_pieces_match_reference() {
    check(&Tokenizer::cl100k_base(), reference_cl100k());
}

#[test]
fn o200k_base_long_pieces_match_reference() {
    if let Some(ours) = ours_o200k() {
        check(ours, reference_o200k());
    }
}
