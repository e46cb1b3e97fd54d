//! Helpers shared by the web-filter tests.
#![allow(dead_code)]

use std::path::PathBuf;

use arcade_pipeline::read::{Document, LangLabel};
use arcade_pipeline::stage::{DropReason, Stage, StageSpec, Verdict};

/// Builds a stage of `kind` from TOML parameters, through the crate's registry.
pub fn stage(kind: &str, params: &str) -> Box<dyn Stage> {
    try_stage(kind, params).unwrap_or_else(|e| panic!("{kind} {params}: {e}"))
}

pub fn try_stage(kind: &str, params: &str) -> Result<Box<dyn Stage>, String> {
    let spec = StageSpec {
        kind: kind.to_string(),
        sources: None,
        params: params.parse::<toml::Table>().expect("test params are TOML"),
    };
    arcade_filters::registry()
        .build(&spec)
        .map(|s| s.stage)
        .map_err(|e| e.to_string())
}

pub fn doc(text: &str) -> Document {
    Document {
        text: text.to_string(),
        ..Document::default()
    }
}

pub fn doc_lang(text: &str, code: &'static str) -> Document {
    Document {
        lang: Some(LangLabel { code, score: 0.99 }),
        ..doc(text)
    }
}

pub fn run(stage: &dyn Stage, text: &str) -> Verdict {
    stage.apply(&mut doc(text))
}

/// Rules whose drop means "value below threshold"; every other rule means "above".
const MIN_RULES: &[&str] = &[
    "min_words",
    "min_avg_word_length",
    "min_alpha_words_ratio",
    "min_stop_words",
    "line_punct_ratio",
    "too_few_sentences",
    "no_lines_left",
    "empty",
];

/// Asserts that a drop's value lies on the dropping side of its threshold.
pub fn assert_consistent(reason: &DropReason) {
    if MIN_RULES.contains(&reason.rule.as_str()) {
        assert!(reason.value < reason.threshold, "{reason} should be below");
    } else {
        assert!(reason.value > reason.threshold, "{reason} should be above");
    }
}

/// Asserts a drop for `rule` with the given value (to 1e-9) and threshold, consistently.
#[track_caller]
pub fn assert_drop(verdict: &Verdict, rule: &str, value: f64, threshold: f64) {
    match verdict {
        Verdict::Drop(r) => {
            assert_eq!(r.rule, rule, "{r}");
            assert!(
                (r.value - value).abs() < 1e-9,
                "value: {r}, expected {value}"
            );
            assert!((r.threshold - threshold).abs() < 1e-12, "threshold: {r}");
            assert_consistent(r);
        }
        other => panic!("expected drop by {rule}, got {other:?}"),
    }
}

#[track_caller]
pub fn assert_not_dropped(verdict: &Verdict) {
    assert!(
        !matches!(verdict, Verdict::Drop(_)),
        "unexpected {verdict:?}"
    );
}

#[track_caller]
pub fn drop_rule(verdict: &Verdict) -> Option<&str> {
    match verdict {
        Verdict::Drop(r) => {
            assert_consistent(r);
            Some(r.rule.as_str())
        }
        _ => None,
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `text` field of every record of a JSONL fixture (path relative to `fixtures/`).
pub fn fixture_texts(rel: &str) -> Vec<String> {
    let path = repo_root().join("fixtures").join(rel);
    let data = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    data.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("fixture line is JSON");
            v["text"].as_str().expect("text field").to_string()
        })
        .collect()
}

/// `count` distinct lowercase words of 5 letters (none of them a stop word).
pub fn unique_words(count: usize) -> Vec<String> {
    (0..count)
        .map(|mut i| {
            let mut w = String::from("q");
            for _ in 0..4 {
                w.push((b'a' + (i % 26) as u8) as char);
                i /= 26;
            }
            w
        })
        .collect()
}
