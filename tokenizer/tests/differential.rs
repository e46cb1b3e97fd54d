//! Differential tests: our encodings against tiktoken-rs on every document of the fixtures and,
//! when present, of `shared/corpus`.
//!
//! Per document (Arcade100k, every document): `encode_ordinary` == reference `encode_ordinary`;
//! `count_tokens` == the reference's id count; `decode`/`decode_bytes` give the text back;
//! `encode(All)` == reference `encode_with_special_tokens`; `encode(None)` errors exactly at the
//! first special-token string (found by substring search) and otherwise equals the ordinary ids.
//! cl100k_base gets the same ordinary / special / count checks; o200k_base (loaded through
//! `from_tiktoken` from tiktoken-rs's own file) the ordinary and special ones on a sample.
//!
//! Knobs: `ARCADE_DIFF_FULL=1` checks every document with every encoding (no sampling);
//! `ARCADE_DIFF_O200K_EVERY=N` sets the o200k_base sampling rate (default: 1 in 4 on the corpus).

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use arcade_tokenizer::{AllowedSpecial, EncodeError, Tokenizer};
use common::{
    describe_mismatch, first_special, reference_arcade, reference_cl100k, reference_o200k,
    walk_corpus, Doc, Reference,
};
use rayon::prelude::*;

/// At most this many failure reports are kept (the count covers all).
const MAX_REPORTS: usize = 12;

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load(label: &str, root: &Path) -> Vec<Doc> {
    let t = Instant::now();
    let (docs, stats) = walk_corpus(root);
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    eprintln!(
        "{label}: {} files read, {} documents, {:.1} MB of text, loaded in {:.1?}; skipped (format not handled here): {}",
        stats.files,
        docs.len(),
        bytes as f64 / 1e6,
        t.elapsed(),
        stats.skipped_files.len()
    );
    if !stats.skipped_files.is_empty() {
        eprintln!("{label}: skipped: {}", stats.skipped_files.join(", "));
    }
    for note in &stats.notes {
        eprintln!("{label}: note: {note}");
    }
    docs
}

fn fixtures() -> &'static [Doc] {
    static DOCS: OnceLock<Vec<Doc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let docs = load("fixtures", &common::fixtures_dir());
        assert!(!docs.is_empty(), "no documents found under fixtures/");
        docs
    })
}

fn corpus() -> Option<&'static [Doc]> {
    static DOCS: OnceLock<Option<Vec<Doc>>> = OnceLock::new();
    DOCS.get_or_init(|| match common::shared_corpus_dir() {
        Some(dir) => Some(load("shared/corpus", &dir)),
        None => {
            eprintln!("NOTICE: ../shared/corpus not found beside the workspace; corpus differential tests skipped");
            None
        }
    })
    .as_deref()
}

/// What to check for each document.
#[derive(Clone, Copy)]
struct Checks {
    /// decode round trip (the same for every encoding of a byte-level BPE: done once, for Arcade).
    round_trip: bool,
    /// `encode(None)` semantics.
    disallowed: bool,
    /// Call the reference `encode_with_special_tokens` even when no special string occurs (it then
    /// equals `encode_ordinary` by construction, so this only costs time).
    always_reference_specials: bool,
}

#[derive(Default)]
struct Failures {
    count: AtomicUsize,
    reports: Mutex<Vec<String>>,
}

impl Failures {
    fn add(&self, report: String) {
        if self.count.fetch_add(1, Ordering::Relaxed) < MAX_REPORTS {
            self.reports.lock().unwrap().push(report);
        }
    }
}

/// Runs the checks over the selected documents in parallel and panics with diagnostics on failure.
fn run(
    label: &str,
    docs: &[Doc],
    ours: &Tokenizer,
    reference: &Reference,
    checks: Checks,
    select: impl Fn(usize, &Doc) -> bool + Sync,
) {
    let t = Instant::now();
    let failures = Failures::default();
    let checked = AtomicUsize::new(0);
    let bytes = AtomicUsize::new(0);
    let with_special = AtomicUsize::new(0);
    docs.par_iter()
        .enumerate()
        .filter(|(i, d)| select(*i, d))
        .for_each(|(_, doc)| {
            checked.fetch_add(1, Ordering::Relaxed);
            bytes.fetch_add(doc.text.len(), Ordering::Relaxed);
            check_doc(doc, ours, reference, checks, &failures, &with_special);
        });
    let n = failures.count.load(Ordering::Relaxed);
    eprintln!(
        "{label} [{}]: {} documents ({:.1} MB, {} containing special-token strings) checked in {:.1?}; {n} failures",
        reference.name,
        checked.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed) as f64 / 1e6,
        with_special.load(Ordering::Relaxed),
        t.elapsed()
    );
    assert!(
        checked.load(Ordering::Relaxed) > 0,
        "{label}: no document was checked"
    );
    if n > 0 {
        let reports = failures.reports.into_inner().unwrap();
        panic!(
            "{label} [{}]: {n} failures; the first {}:\n\n{}",
            reference.name,
            reports.len(),
            reports.join("\n\n")
        );
    }
}

fn check_doc(
    doc: &Doc,
    ours: &Tokenizer,
    reference: &Reference,
    checks: Checks,
    failures: &Failures,
    with_special: &AtomicUsize,
) {
    let text = doc.text.as_str();
    let origin = doc.origin.as_str();
    let expected = reference.encode_ordinary(text);

    let ids = ours.encode_ordinary(text);
    if ids != expected {
        failures.add(describe_mismatch(
            "encode_ordinary",
            origin,
            text,
            &ids,
            &expected,
            reference,
        ));
    }
    let count = ours.count_tokens(text);
    if count != expected.len() {
        failures.add(format!(
            "count_tokens [{}] in {origin}: {count}, reference has {} ids",
            reference.name,
            expected.len()
        ));
    }

    let has_special = reference.has_special(text);
    if has_special {
        with_special.fetch_add(1, Ordering::Relaxed);
    }
    let expected_special = if has_special || checks.always_reference_specials {
        reference.encode_with_special_tokens(text)
    } else {
        expected.clone()
    };
    match ours.encode(text, &AllowedSpecial::All) {
        Ok(got) if got == expected_special => {}
        Ok(got) => failures.add(describe_mismatch(
            "encode(All)",
            origin,
            text,
            &got,
            &expected_special,
            reference,
        )),
        Err(e) => failures.add(format!(
            "encode(All) [{}] in {origin}: unexpected error {e}",
            reference.name
        )),
    }

    if checks.disallowed {
        let got = ours.encode(text, &AllowedSpecial::None);
        match (first_special(text, &reference.specials), got) {
            (None, Ok(got)) if got == expected => {}
            (None, Ok(got)) => failures.add(describe_mismatch(
                "encode(None)",
                origin,
                text,
                &got,
                &expected,
                reference,
            )),
            (Some((at, name)), Err(EncodeError::DisallowedSpecial { token, offset }))
                if offset == at && token == name => {}
            (first, got) => failures.add(format!(
                "encode(None) [{}] in {origin}: first special-token string is {first:?}, got {:?}",
                reference.name,
                got.map(|ids| ids.len())
            )),
        }
    }

    if checks.round_trip {
        match ours.decode_bytes(&ids) {
            Ok(b) if b == text.as_bytes() => {}
            Ok(b) => failures.add(format!(
                "decode_bytes(encode_ordinary(x)) != x in {origin}: {} bytes back for {}",
                b.len(),
                text.len()
            )),
            Err(e) => failures.add(format!("decode_bytes in {origin}: {e}")),
        }
        match ours.decode(&ids) {
            Ok(s) if s == text => {}
            Ok(_) => failures.add(format!("decode(encode_ordinary(x)) != x in {origin}")),
            Err(e) => failures.add(format!("decode in {origin}: {e}")),
        }
        if let Ok(got) = ours.encode(text, &AllowedSpecial::All) {
            match ours.decode(&got) {
                Ok(s) if s == text => {}
                other => failures.add(format!(
                    "decode(encode(x, All)) != x in {origin}: {other:?}"
                )),
            }
        }
    }
}

const ARCADE_CHECKS: Checks = Checks {
    round_trip: true,
    disallowed: true,
    always_reference_specials: false,
};
const OTHER_CHECKS: Checks = Checks {
    round_trip: false,
    disallowed: false,
    always_reference_specials: false,
};

// ---------------------------------------------------------------------------------------------
// fixtures/ (small: every document, every encoding; o200k_base on every document too)

#[test]
fn fixtures_arcade100k() {
    let checks = Checks {
        always_reference_specials: true,
        ..ARCADE_CHECKS
    };
    run(
        "fixtures",
        fixtures(),
        &Tokenizer::arcade100k(),
        reference_arcade(),
        checks,
        |_, _| true,
    );
}

#[test]
fn fixtures_cl100k_base() {
    let checks = Checks {
        always_reference_specials: true,
        disallowed: true,
        ..OTHER_CHECKS
    };
    run(
        "fixtures",
        fixtures(),
        &Tokenizer::cl100k_base(),
        reference_cl100k(),
        checks,
        |_, _| true,
    );
}

#[test]
fn fixtures_o200k_base() {
    let Some(ours) = common::ours_o200k() else {
        return;
    };
    run(
        "fixtures",
        fixtures(),
        ours,
        reference_o200k(),
        OTHER_CHECKS,
        |_, _| true,
    );
}

// ---------------------------------------------------------------------------------------------
// shared/corpus (tens of MB: Arcade100k and cl100k_base on every document, o200k_base sampled)

#[test]
fn corpus_arcade100k() {
    let Some(docs) = corpus() else { return };
    run(
        "shared/corpus",
        docs,
        &Tokenizer::arcade100k(),
        reference_arcade(),
        ARCADE_CHECKS,
        |_, _| true,
    );
}

#[test]
fn corpus_cl100k_base() {
    let Some(docs) = corpus() else { return };
    run(
        "shared/corpus",
        docs,
        &Tokenizer::cl100k_base(),
        reference_cl100k(),
        OTHER_CHECKS,
        |_, _| true,
    );
}

#[test]
fn corpus_o200k_base() {
    let Some(docs) = corpus() else { return };
    let Some(ours) = common::ours_o200k() else {
        return;
    };
    let every = if env_flag("ARCADE_DIFF_FULL") {
        1
    } else {
        env_usize("ARCADE_DIFF_O200K_EVERY", 4).max(1)
    } as u64;
    run(
        "shared/corpus",
        docs,
        ours,
        reference_o200k(),
        OTHER_CHECKS,
        |_, d| common::fnv1a(&d.origin).checked_rem(every) == Some(0),
    );
}

// ---------------------------------------------------------------------------------------------
// Hand-picked inputs at the pattern's edges, each a document of its own.

/// Inputs that exercise one branch of the split pattern each, plus their combinations.
fn edge_cases() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "  ",
        "\n",
        " \n",
        "\n ",
        "a\n ",
        "a\n  ",
        "a\n\n ",
        "a \n ",
        "a\r\n\t",
        "a\t\n \t",
        "x  \n  y",
        "x\u{a0}\u{a0}y",
        "x \u{3000}y",
        "\u{85}a",
        "\u{2028}a",
        "\t\ta",
        "  !",
        " !",
        " 1",
        "  1",
        "'s",
        "'S",
        "'sa",
        " 's",
        "!'s",
        "'ſ",
        "'K",
        "'\u{212a}",
        "'RE",
        "'rE",
        "'Ll",
        "'lL",
        "'dve",
        "''s",
        "can't",
        "I'M",
        "we'VE",
        "ſ",
        "K",
        "1234567",
        "١٢٣٤",
        "Ⅻ²½",
        "e\u{301}",
        "\u{301}\u{301}x",
        "👨\u{200d}👩\u{200d}👧",
        "👍🏽",
        "\u{200b}\u{feff}\u{180e}",
        "\r\r\n\n\r",
        "a\r",
        "hello\r\n",
        "<|endoftext|>",
        "<|endof",
        "x<|im_start|>y<|im_end|>",
        "<filename><reponame>",
        "<<|endoftext|>>",
        "<|endoftext|><|endoftext|>",
        "trailing space ",
        "trailing spaces   ",
        "trailing newline space\n ",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for n in [1, 2, 3, 99, 100, 101, 127, 128, 129, 255, 256, 257, 1000] {
        for unit in [
            "a", " ", "\n", "1", "!", "中", "é", "ab", " a", "\r\n", "'s", "🙂",
        ] {
            v.push(unit.repeat(n));
        }
    }
    v
}

#[test]
fn edge_cases_all_encodings() {
    let docs: Vec<Doc> = edge_cases()
        .into_iter()
        .enumerate()
        .map(|(i, text)| Doc {
            origin: format!("edge case #{i} {:?}", common::excerpt(&text, 0, 40)),
            text,
        })
        .collect();
    let checks = Checks {
        always_reference_specials: true,
        ..ARCADE_CHECKS
    };
    run(
        "edge cases",
        &docs,
        &Tokenizer::arcade100k(),
        reference_arcade(),
        checks,
        |_, _| true,
    );
    let checks = Checks {
        always_reference_specials: true,
        disallowed: true,
        ..OTHER_CHECKS
    };
    run(
        "edge cases",
        &docs,
        &Tokenizer::cl100k_base(),
        reference_cl100k(),
        checks,
        |_, _| true,
    );
    if let Some(ours) = common::ours_o200k() {
        run(
            "edge cases",
            &docs,
            ours,
            reference_o200k(),
            checks,
            |_, _| true,
        );
    }
}
