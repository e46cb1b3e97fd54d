//! `fineweb-quality`: every rule at, just under and just over its threshold, parameters,
//! fixtures.

mod common;

use arcade_pipeline::stage::Verdict;
use common::*;

/// `total` distinct lines of 40+ characters and 6 words, the first `marked` ending in ".".
fn lines(total: usize, marked: usize) -> String {
    unique_words(total)
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let line = format!("{w} is a long line with words in it");
            if i < marked {
                format!("{line}.")
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn only(params: &str) -> Box<dyn arcade_pipeline::stage::Stage> {
    let mut table: toml::Table = "line_punct_thr = false\nshort_line_thr = false\n\
        char_duplicates_ratio = false\nnew_line_ratio = false"
        .parse()
        .unwrap();
    table.extend(params.parse::<toml::Table>().unwrap());
    stage("fineweb-quality", &toml::to_string(&table).unwrap())
}

#[test]
fn line_punct_ratio_at_under_over() {
    let s = stage("fineweb-quality", "");
    assert_eq!(run(&*s, &lines(100, 12)), Verdict::Keep); // 0.12
    assert_eq!(run(&*s, &lines(100, 13)), Verdict::Keep);
    assert_drop(&run(&*s, &lines(100, 11)), "line_punct_ratio", 0.11, 0.12);
    // Blank lines are not lines; lines are not stripped ("x. " does not end in ".").
    let text = lines(100, 12)
        .replacen('\n', "\n \n\n", 10)
        .replacen(".\n", ". \n", 1);
    assert_drop(&run(&*s, &text), "line_punct_ratio", 0.11, 0.12);
    // Other scripts' terminal marks count; quotes do not.
    let text = lines(100, 11) + "\u{3002}";
    assert_eq!(run(&*s, &text), Verdict::Keep);
    let text = lines(100, 11) + "\"";
    assert_drop(&run(&*s, &text), "line_punct_ratio", 0.11, 0.12);
    let q = stage("fineweb-quality", "stop_chars = [\".\", \"\\\"\"]");
    assert_eq!(run(&*q, &text), Verdict::Keep);
    // No punctuated line at all: excluded on request.
    assert_drop(&run(&*s, &lines(100, 0)), "line_punct_ratio", 0.0, 0.12);
    let q = stage("fineweb-quality", "line_punct_exclude_zero = true");
    assert_eq!(run(&*q, &lines(100, 0)), Verdict::Keep);
}

#[test]
fn short_line_ratio_at_under_over() {
    let s = only("short_line_thr = 0.67");
    // Short lines: exactly 30 characters (a short line); long ones 31.
    let make = |short: usize| {
        unique_words(100)
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{w}{}", "x".repeat(if i < short { 25 } else { 26 })))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(make(0).lines().next().unwrap().len(), 31);
    assert_eq!(run(&*s, &make(67)), Verdict::Keep);
    assert_eq!(run(&*s, &make(66)), Verdict::Keep);
    assert_drop(&run(&*s, &make(68)), "short_line_ratio", 0.68, 0.67);
    let q = stage(
        "fineweb-quality",
        "short_line_length = 29\nline_punct_thr = false\nnew_line_ratio = false",
    );
    assert_eq!(run(&*q, &make(100)), Verdict::Keep);
}

#[test]
fn char_dup_ratio_at_under_over() {
    let s = only("char_duplicates_ratio = 0.01");
    // A + "\n" + D + "\n" + D, |D| = 10: 10 / (|A| + 20) characters without the newlines.
    let make = |a: usize| format!("{}\n{}\n{}", "a".repeat(a), "d".repeat(10), "d".repeat(10));
    assert_eq!(run(&*s, &make(980)), Verdict::Keep); // 10 / 1000
    assert_eq!(run(&*s, &make(981)), Verdict::Keep);
    assert_drop(&run(&*s, &make(979)), "char_dup_ratio", 10.0 / 999.0, 0.01);
    // Blank lines are never duplicates.
    let blank = format!("{}\n\n\n   \n{}", "a".repeat(50), "b".repeat(50));
    assert_eq!(run(&*s, &blank), Verdict::Keep);
}

#[test]
fn list_ratio_at_under_over() {
    let s = only("new_line_ratio = 0.3");
    // 3 newlines over 10, 11 and 9 words.
    assert_eq!(run(&*s, "a b c\nd e f\ng h\ni j"), Verdict::Keep);
    assert_eq!(run(&*s, "a b c\nd e f\ng h\ni j k"), Verdict::Keep);
    assert_drop(
        &run(&*s, "a b c\nd e f\ng h\ni"),
        "list_ratio",
        3.0 / 9.0,
        0.3,
    );
    // Punctuation tokens are words; blank lines still count their newlines.
    // "ab , cd . ef": 5 words, 3 newlines.
    assert_drop(&run(&*s, "ab, cd.\n\n\nef"), "list_ratio", 0.6, 0.3);
}

#[test]
fn empty_and_params() {
    let s = stage("fineweb-quality", "");
    assert_drop(&run(&*s, ""), "empty", 0.0, 1.0);
    assert_drop(&run(&*s, " \n\t\n"), "empty", 0.0, 1.0);
    for bad in [
        "line_punct = 0.1",
        "short_line_length = false",
        "stop_chars = [\"\"]",
        "new_line_ratio = \"x\"",
    ] {
        assert!(try_stage("fineweb-quality", bad).is_err(), "{bad}");
    }
}

#[test]
fn fixtures() {
    let s = stage("fineweb-quality", "");
    let cc = fixture_texts("web/dolma_cc_en_head-0091.jsonl");
    for (i, text) in cc.iter().enumerate() {
        assert_eq!(run(&*s, text), Verdict::Keep, "cc_en {i}");
    }
    let web = fixture_texts("web/dolma_cc2019_head.jsonl");
    // The wiki stub ("User Tools", "Site Tools", ...): short lines.
    assert_eq!(drop_rule(&run(&*s, &web[5])), Some("short_line_ratio"));
    // A conference page repeating its photo credit lines.
    assert_eq!(drop_rule(&run(&*s, &web[19])), Some("char_dup_ratio"));
    // A blog index of titles and bylines.
    assert_eq!(drop_rule(&run(&*s, &web[39])), Some("line_punct_ratio"));
    assert_eq!(drop_rule(&run(&*s, &web[16])), Some("empty"));
    for file in [
        "web/dclm_majority_head.jsonl",
        "web/dolma_cc2019_head.jsonl",
        "multilingual/en.jsonl",
    ] {
        for text in fixture_texts(file) {
            drop_rule(&run(&*s, &text));
        }
    }
}
