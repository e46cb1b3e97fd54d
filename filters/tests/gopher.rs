//! `gopher-quality` and `gopher-repetition`: every rule at, just under and just over its
//! threshold on constructed text (expected values computed by hand in the test), parameters,
//! and real documents from `fixtures/` (expected decisions checked against datatrove 0.10.1).

mod common;

use arcade_pipeline::stage::Verdict;
use common::*;

fn quality() -> Box<dyn arcade_pipeline::stage::Stage> {
    stage("gopher-quality", "")
}

/// `n` plain words: "the and" followed by `n - 2` copies of `word`, one line.
fn plain(n: usize, word: &str) -> String {
    let mut words = vec!["the", "and"];
    words.extend(std::iter::repeat_n(word, n - 2));
    words.join(" ")
}

// ------------------------------------------------------------------ gopher-quality

#[test]
fn min_words_at_under_over() {
    let q = quality();
    assert_eq!(run(&*q, &plain(50, "word")), Verdict::Keep);
    assert_eq!(run(&*q, &plain(51, "word")), Verdict::Keep);
    assert_drop(&run(&*q, &plain(49, "word")), "min_words", 49.0, 50.0);
    // Punctuation tokens are not words: 49 words and 10 commas are still 49.
    let text = format!("{} , , , , , , , , , ,", plain(49, "word"));
    assert_drop(&run(&*q, &text), "min_words", 49.0, 50.0);
}

#[test]
fn max_words_at_under_over() {
    let q = quality();
    assert_eq!(run(&*q, &plain(100_000, "word")), Verdict::Keep);
    assert_eq!(run(&*q, &plain(99_999, "word")), Verdict::Keep);
    assert_drop(
        &run(&*q, &plain(100_001, "word")),
        "max_words",
        100_001.0,
        100_000.0,
    );
}

#[test]
fn min_avg_word_length_at_under_over() {
    let q = quality();
    // 50 words of 3 letters: mean exactly 3.
    assert_eq!(run(&*q, &plain(50, "abc")), Verdict::Keep);
    // One word of 2 letters: 149 / 50 = 2.98.
    let under = format!("{} ab", plain(49, "abc"));
    assert_drop(&run(&*q, &under), "min_avg_word_length", 149.0 / 50.0, 3.0);
    let over = format!("{} abcd", plain(49, "abc"));
    assert_eq!(run(&*q, &over), Verdict::Keep);
}

#[test]
fn max_avg_word_length_at_under_over() {
    let q = quality();
    // "the" + "and" (6) + 46 words of 10 + two of 17 = 500 chars over 50 words = 10.0.
    let ten = "abcdefghij";
    let make = |last: usize| {
        let mut words = vec!["the".to_string(), "and".to_string()];
        words.extend(std::iter::repeat_n(ten.to_string(), 46));
        words.push("a".repeat(17));
        words.push("b".repeat(last));
        words.join(" ")
    };
    assert_eq!(run(&*q, &make(17)), Verdict::Keep);
    assert_eq!(run(&*q, &make(16)), Verdict::Keep);
    assert_drop(
        &run(&*q, &make(18)),
        "max_avg_word_length",
        501.0 / 50.0,
        10.0,
    );
}

#[test]
fn hash_ratio_at_under_over() {
    let q = quality();
    // 60 tokens, `hashes` of them "#": the ratio is hashes / 60 (all tokens count).
    let make = |hashes: usize| {
        let mut t = plain(60 - hashes, "word");
        for _ in 0..hashes {
            t.push_str(" #");
        }
        t
    };
    assert_eq!(run(&*q, &make(6)), Verdict::Keep); // 0.1
    assert_eq!(run(&*q, &make(5)), Verdict::Keep);
    assert_drop(
        &run(&*q, &make(7)),
        "max_symbol_word_ratio",
        7.0 / 60.0,
        0.1,
    );
}

#[test]
fn ellipsis_ratio_at_under_over() {
    let q = quality();
    // Ellipsis tokens mid-line (the line ends in a word), "..." and "…" both count.
    let make = |dots: usize| {
        let mut words: Vec<String> = vec!["the".into(), "and".into()];
        for i in 0..dots {
            words.push(if i % 2 == 0 {
                "...".into()
            } else {
                "…".into()
            });
        }
        words.extend(std::iter::repeat_n("word".to_string(), 60 - 2 - dots));
        words.join(" ")
    };
    assert_eq!(run(&*q, &make(6)), Verdict::Keep);
    assert_eq!(run(&*q, &make(5)), Verdict::Keep);
    assert_drop(
        &run(&*q, &make(7)),
        "max_ellipsis_word_ratio",
        7.0 / 60.0,
        0.1,
    );
    // "......" is two non-overlapping "..." (one token): 7 ellipses among 57 tokens.
    let text = format!(
        "{} ...... ...... ...... ...... ...... ...",
        plain(51, "word")
    );
    assert_drop(
        &run(&*q, &text),
        "max_ellipsis_word_ratio",
        11.0 / 57.0,
        0.1,
    );
}

/// `total` lines of 6 words, the first `marked` of them transformed by `mark`. (`•` is not in
/// datatrove's punctuation set, so it counts as a one-letter word.)
fn lines(total: usize, marked: usize, mark: impl Fn(&str) -> String) -> String {
    (0..total)
        .map(|i| {
            let line = "the house and the garden stood";
            if i < marked {
                mark(line)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn bullet_lines_at_under_over() {
    let q = quality();
    let bullet = |l: &str| format!("  • {l}");
    let dash = |l: &str| format!("- {l}");
    assert_eq!(run(&*q, &lines(20, 18, bullet)), Verdict::Keep); // 0.9
    assert_eq!(run(&*q, &lines(20, 17, dash)), Verdict::Keep);
    assert_drop(
        &run(&*q, &lines(20, 19, bullet)),
        "max_bullet_lines_ratio",
        0.95,
        0.9,
    );
    assert_drop(
        &run(&*q, &lines(20, 19, dash)),
        "max_bullet_lines_ratio",
        0.95,
        0.9,
    );
}

#[test]
fn ellipsis_lines_at_under_over() {
    let q = quality();
    // Trailing whitespace after the ellipsis is stripped before the test.
    let ell = |l: &str| format!("{l} … ");
    let dots = |l: &str| format!("{l}...");
    assert_eq!(run(&*q, &lines(10, 3, ell)), Verdict::Keep); // 0.3
    assert_eq!(run(&*q, &lines(10, 2, dots)), Verdict::Keep);
    assert_drop(
        &run(&*q, &lines(10, 4, ell)),
        "max_ellipsis_lines_ratio",
        0.4,
        0.3,
    );
    assert_drop(
        &run(&*q, &lines(10, 4, dots)),
        "max_ellipsis_lines_ratio",
        0.4,
        0.3,
    );
}

#[test]
fn alpha_words_at_under_over() {
    let q = quality();
    // 50 tokens, `numbers` of them "1234" (no letter): ratio (50 - numbers) / 50.
    let make = |numbers: usize| {
        let mut t = plain(50 - numbers, "word");
        for _ in 0..numbers {
            t.push_str(" 1234");
        }
        t
    };
    assert_eq!(run(&*q, &make(10)), Verdict::Keep); // 0.8
    assert_eq!(run(&*q, &make(9)), Verdict::Keep);
    assert_drop(
        &run(&*q, &make(11)),
        "min_alpha_words_ratio",
        39.0 / 50.0,
        0.8,
    );
    // Punctuation tokens count as words without a letter here: 50 words + 13 commas.
    let text = format!("{}{}", plain(50, "word"), " ,".repeat(13));
    assert_drop(&run(&*q, &text), "min_alpha_words_ratio", 50.0 / 63.0, 0.8);
}

#[test]
fn stop_words_at_under_over() {
    let q = quality();
    let filler = vec!["word"; 50].join(" ");
    assert_eq!(run(&*q, &format!("the and {filler}")), Verdict::Keep); // 2 distinct
    assert_eq!(run(&*q, &format!("the and of {filler}")), Verdict::Keep);
    // Distinct words count, not occurrences; and the match is case-sensitive.
    let one = format!("the the the The AND {filler}");
    assert_drop(&run(&*q, &one), "min_stop_words", 1.0, 2.0);
}

#[test]
fn stop_words_follow_language_label_and_overrides() {
    let german = format!("der Hund und {}", vec!["Katze"; 50].join(" "));
    let english = plain(52, "word");
    let q = quality();
    assert_eq!(q.apply(&mut doc_lang(&german, "de")), Verdict::Keep);
    assert_drop(&q.apply(&mut doc(&german)), "min_stop_words", 0.0, 2.0);
    assert_drop(
        &q.apply(&mut doc_lang(&english, "de")),
        "min_stop_words",
        0.0,
        2.0,
    );
    // A label without a list falls back to the configured language.
    assert_eq!(q.apply(&mut doc_lang(&english, "ja")), Verdict::Keep);
    // The label can be ignored.
    let q = stage("gopher-quality", "stop_words_from_label = false");
    assert_eq!(q.apply(&mut doc_lang(&english, "de")), Verdict::Keep);
    // Default language.
    let q = stage("gopher-quality", "language = \"de\"");
    assert_eq!(q.apply(&mut doc(&german)), Verdict::Keep);
    // Explicit list, for every document whatever its label.
    let q = stage("gopher-quality", "stop_words = [\"Hund\", \"Katze\"]");
    assert_eq!(q.apply(&mut doc_lang(&german, "en")), Verdict::Keep);
    assert_drop(&q.apply(&mut doc(&english)), "min_stop_words", 0.0, 2.0);
    // Each language has a list of 8.
    for lang in ["en", "de", "es", "fr", "it", "nl", "pt"] {
        let list = arcade_filters::text::stop_words(lang).unwrap();
        assert_eq!(list.len(), 8, "{lang}");
        let text = format!("{} {} {}", list[0], list[1], vec!["palabra"; 50].join(" "));
        assert_eq!(q_lang(lang).apply(&mut doc(&text)), Verdict::Keep, "{lang}");
    }
}

fn q_lang(lang: &str) -> Box<dyn arcade_pipeline::stage::Stage> {
    stage("gopher-quality", &format!("language = \"{lang}\""))
}

#[test]
fn quality_params_override_and_disable() {
    let q = stage("gopher-quality", "min_words = 10\nmin_stop_words = 0");
    assert_eq!(run(&*q, &["word"; 10].join(" ")), Verdict::Keep);
    assert_drop(&run(&*q, &["word"; 9].join(" ")), "min_words", 9.0, 10.0);
    let q = stage(
        "gopher-quality",
        "min_words = false\nmin_stop_words = false",
    );
    assert_eq!(run(&*q, "word word"), Verdict::Keep);
    let q = stage("gopher-quality", "max_avg_word_length = 3.5");
    assert_drop(
        &run(&*q, &plain(50, "word")),
        "max_avg_word_length",
        198.0 / 50.0,
        3.5,
    );
    let q = stage("gopher-quality", "max_bullet_lines_ratio = false");
    let all = lines(20, 20, |l| format!("• {l}"));
    assert_eq!(run(&*q, &all), Verdict::Keep);
    assert_eq!(
        drop_rule(&run(&*quality(), &all)),
        Some("max_bullet_lines_ratio")
    );
}

#[test]
fn quality_rejects_bad_params() {
    for bad in [
        "min_word = 5",
        "language = \"xx\"",
        "min_words = true",
        "min_words = -1",
        "min_words = 2.5",
        "min_words = 10\nmax_words = 5",
        "max_symbol_word_ratio = \"a lot\"",
    ] {
        assert!(try_stage("gopher-quality", bad).is_err(), "{bad}");
    }
    // Whole numbers are fine for float thresholds.
    assert!(try_stage("gopher-quality", "max_avg_word_length = 12").is_ok());
    // A language without a list is fine with an explicit list.
    assert!(try_stage("gopher-quality", "language = \"xx\"\nstop_words = [\"a\"]").is_ok());
}

#[test]
fn quality_check_order_follows_datatrove() {
    // Too short *and* no stop words: min_words comes first.
    assert_eq!(drop_rule(&run(&*quality(), "word word")), Some("min_words"));
    // Long words and many hashes: the word length is checked first.
    let text = format!("{}{}", plain(50, "abcdefghijklmnop"), " #".repeat(30));
    assert_eq!(
        drop_rule(&run(&*quality(), &text)),
        Some("max_avg_word_length")
    );
}

// ------------------------------------------------------------------ gopher-repetition

/// A `gopher-repetition` stage with only the given rules (TOML), all others disabled.
fn only(params: &str) -> Box<dyn arcade_pipeline::stage::Stage> {
    let mut table: toml::Table = "dup_line_frac = false\ndup_para_frac = false\n\
        dup_line_char_frac = false\ndup_para_char_frac = false\n\
        top_n_grams = []\ndup_n_grams = []"
        .parse()
        .unwrap();
    table.extend(params.parse::<toml::Table>().unwrap());
    stage("gopher-repetition", &toml::to_string(&table).unwrap())
}

/// 100 elements: `100 - dups - 1` distinct ones, then `dups + 1` copies of "dup".
fn with_dups(dups: usize) -> Vec<String> {
    let mut items = unique_words(99 - dups);
    items.extend(std::iter::repeat_n("dup".to_string(), dups + 1));
    items
}

#[test]
fn dup_para_frac_at_under_over() {
    let s = only("dup_para_frac = 0.3");
    assert_eq!(run(&*s, &with_dups(30).join("\n\n")), Verdict::Keep);
    assert_eq!(run(&*s, &with_dups(29).join("\n\n")), Verdict::Keep);
    assert_drop(
        &run(&*s, &with_dups(31).join("\n\n\n")),
        "dup_para_frac",
        0.31,
        0.3,
    );
    // Single line breaks do not separate paragraphs.
    assert_eq!(run(&*s, &with_dups(31).join("\n")), Verdict::Keep);
    // Defaults are the published 0.3.
    let d = stage("gopher-repetition", "dup_para_char_frac = false\ndup_line_frac = false\ndup_line_char_frac = false\ntop_n_grams = []\ndup_n_grams = []");
    assert_drop(
        &run(&*d, &with_dups(31).join("\n\n")),
        "dup_para_frac",
        0.31,
        0.3,
    );
}

#[test]
fn dup_para_char_frac_at_under_over() {
    let s = only("dup_para_char_frac = 0.2");
    // A + "\n\n" + B + "\n\n" + B with |B| = 20: ratio 20 / (|A| + 44).
    let make = |a: usize| {
        format!(
            "{}\n\n{}\n\n{}",
            "a".repeat(a),
            "b".repeat(20),
            "b".repeat(20)
        )
    };
    assert_eq!(make(56).len(), 100);
    assert_eq!(run(&*s, &make(56)), Verdict::Keep); // 0.2
    assert_eq!(run(&*s, &make(57)), Verdict::Keep);
    assert_drop(&run(&*s, &make(55)), "dup_para_char_frac", 20.0 / 99.0, 0.2);
    // Characters, not bytes: 2-byte letters.
    let wide = format!(
        "{}\n\n{}\n\n{}",
        "é".repeat(55),
        "ü".repeat(20),
        "ü".repeat(20)
    );
    assert_drop(&run(&*s, &wide), "dup_para_char_frac", 20.0 / 99.0, 0.2);
}

#[test]
fn dup_line_frac_at_under_over() {
    let s = only("dup_line_frac = 0.3");
    assert_eq!(run(&*s, &with_dups(30).join("\n")), Verdict::Keep);
    assert_eq!(run(&*s, &with_dups(29).join("\n")), Verdict::Keep);
    assert_drop(
        &run(&*s, &with_dups(31).join("\n")),
        "dup_line_frac",
        0.31,
        0.3,
    );
    // Runs of newlines are one separator.
    assert_drop(
        &run(&*s, &with_dups(31).join("\n\n\n")),
        "dup_line_frac",
        0.31,
        0.3,
    );
}

#[test]
fn dup_line_char_frac_at_under_over() {
    let s = only("dup_line_char_frac = 0.2");
    let make = |a: usize| format!("{}\n{}\n{}", "a".repeat(a), "b".repeat(20), "b".repeat(20));
    assert_eq!(make(58).len(), 100);
    assert_eq!(run(&*s, &make(58)), Verdict::Keep);
    assert_eq!(run(&*s, &make(59)), Verdict::Keep);
    assert_drop(&run(&*s, &make(57)), "dup_line_char_frac", 20.0 / 99.0, 0.2);
}

/// `count` copies of `gram` separated by distinct filler words, the last filler padded so
/// that the text is exactly `len` characters.
fn grams(gram: &str, count: usize, len: usize) -> String {
    let fillers = unique_words(count);
    let mut parts = Vec::new();
    for f in &fillers[..count - 1] {
        parts.push(gram.to_string());
        parts.push(f.clone());
    }
    parts.push(gram.to_string());
    let mut text = parts.join(" ");
    text.push(' ');
    assert!(text.len() < len, "{len} too short");
    text.push_str(&"z".repeat(len - text.len()));
    assert_eq!(text.chars().count(), len);
    text
}

#[test]
fn top_n_grams_at_under_over() {
    // "aa bb" (5 chars) 4 times: 20 / len.
    let s = only("top_n_grams = [[2, 0.2]]");
    assert_eq!(run(&*s, &grams("aa bb", 4, 100)), Verdict::Keep);
    assert_eq!(run(&*s, &grams("aa bb", 4, 101)), Verdict::Keep);
    assert_drop(
        &run(&*s, &grams("aa bb", 4, 99)),
        "top_2_gram",
        20.0 / 99.0,
        0.2,
    );
    // "aa bb cc" (8 chars) 9 times: 72 / len.
    let s = only("top_n_grams = [[3, 0.18]]");
    assert_eq!(run(&*s, &grams("aa bb cc", 9, 400)), Verdict::Keep);
    assert_eq!(run(&*s, &grams("aa bb cc", 9, 401)), Verdict::Keep);
    assert_drop(
        &run(&*s, &grams("aa bb cc", 9, 399)),
        "top_3_gram",
        72.0 / 399.0,
        0.18,
    );
    // "aa bb cc dd" (11 chars) 8 times: 88 / len.
    let s = only("top_n_grams = [[4, 0.16]]");
    assert_eq!(run(&*s, &grams("aa bb cc dd", 8, 550)), Verdict::Keep);
    assert_eq!(run(&*s, &grams("aa bb cc dd", 8, 551)), Verdict::Keep);
    assert_drop(
        &run(&*s, &grams("aa bb cc dd", 8, 549)),
        "top_4_gram",
        88.0 / 549.0,
        0.16,
    );
}

#[test]
fn top_n_gram_counts_unique_grams_too() {
    // As in datatrove, the "top" n-gram of a text without repetition is its first n-gram:
    // "abcdefghij klmnopqrst" alone is 21 / 21 of the text.
    let s = only("top_n_grams = [[2, 0.2]]");
    assert_drop(&run(&*s, "abcdefghij klmnopqrst"), "top_2_gram", 1.0, 0.2);
    // Ties go to the n-gram seen first: "aaaa b" (6) and "b c" (3) twice each in
    // "aaaa b c ... aaaa b c": the first top bigram is "aaaa b", 12 chars.
    let text = format!("aaaa b c {} aaaa b c", "x".repeat(40));
    let len = text.chars().count() as f64;
    let s = only("top_n_grams = [[2, 0.2]]");
    assert_drop(&run(&*s, &text), "top_2_gram", 12.0 / len, 0.2);
}

#[test]
fn dup_n_grams_at_under_over() {
    // 5-gram "aa bb cc dd ee": each repeat adds 10 characters (joined without spaces).
    let s = only("dup_n_grams = [[5, 0.15]]");
    assert_eq!(run(&*s, &grams("aa bb cc dd ee", 4, 200)), Verdict::Keep); // 30 / 200
    assert_eq!(run(&*s, &grams("aa bb cc dd ee", 4, 201)), Verdict::Keep);
    assert_drop(
        &run(&*s, &grams("aa bb cc dd ee", 4, 199)),
        "dup_5_gram",
        30.0 / 199.0,
        0.15,
    );
    // 10-gram of 20 characters, twice.
    let g10 = "aa bb cc dd ee ff gg hh ii jj";
    let s = only("dup_n_grams = [[10, 0.1]]");
    assert_eq!(run(&*s, &grams(g10, 2, 200)), Verdict::Keep);
    assert_eq!(run(&*s, &grams(g10, 2, 201)), Verdict::Keep);
    assert_drop(
        &run(&*s, &grams(g10, 2, 199)),
        "dup_10_gram",
        20.0 / 199.0,
        0.1,
    );
    // After a duplicate, the scan jumps past it: "a a a a a a a a a a" has 10 words; 5-grams
    // at 0 (new), 1..: position 1 repeats (5 chars), jump to 6 which is past the last start
    // (5): 5 repeated characters of 19.
    let s = only("dup_n_grams = [[5, 0.2]]");
    assert_drop(
        &run(&*s, "a a a a a a a a a a"),
        "dup_5_gram",
        5.0 / 19.0,
        0.2,
    );
}

#[test]
fn repetition_defaults_and_params() {
    let d = stage("gopher-repetition", "");
    assert_drop(&run(&*d, ""), "empty", 0.0, 1.0);
    // The 7-gram rule fires at its own default threshold (0.13) when 5- and 6-grams are off.
    let g7 = "aa bb cc dd ee ff gg"; // 14 chars joined
    let s = stage(
        "gopher-repetition",
        "dup_n_grams = [[7, 0.13]]\ntop_n_grams = []",
    );
    assert_eq!(run(&*s, &grams(g7, 2, 108)), Verdict::Keep); // 14/108 = 0.1296
    assert_drop(
        &run(&*s, &grams(g7, 2, 107)),
        "dup_7_gram",
        14.0 / 107.0,
        0.13,
    );
    for bad in [
        "dup_line_frac = true",
        "top_n_grams = [[0, 0.1]]",
        "dup_n_gram = []",
        "top_n_grams = [2, 0.2]",
    ] {
        assert!(try_stage("gopher-repetition", bad).is_err(), "{bad}");
    }
}

// ------------------------------------------------------------------ fixtures

#[test]
fn fixtures_clean_documents_pass_both() {
    let (q, r) = (quality(), stage("gopher-repetition", ""));
    let cc = fixture_texts("web/dolma_cc_en_head-0091.jsonl");
    for i in [1, 3, 5, 6, 7, 8, 9] {
        assert_eq!(run(&*q, &cc[i]), Verdict::Keep, "cc_en {i}");
        assert_eq!(run(&*r, &cc[i]), Verdict::Keep, "cc_en {i}");
    }
    let udhr = fixture_texts("multilingual/en.jsonl")
        .into_iter()
        .find(|t| t.starts_with("Universal Declaration of Human Rights"))
        .unwrap();
    assert_eq!(run(&*q, &udhr), Verdict::Keep);
    assert_eq!(run(&*r, &udhr), Verdict::Keep);
}

#[test]
fn fixtures_bad_documents_dropped_for_the_expected_rule() {
    let (q, r) = (quality(), stage("gopher-repetition", ""));
    let web = fixture_texts("web/dolma_cc2019_head.jsonl");
    // An empty record.
    assert_eq!(drop_rule(&run(&*q, &web[16])), Some("min_words"));
    assert_eq!(drop_rule(&run(&*r, &web[16])), Some("empty"));
    // "User Tools / Site Tools / This topic does not exist yet": a wiki stub.
    assert_eq!(drop_rule(&run(&*q, &web[5])), Some("min_words"));
    // Congress.gov "Actions" pages repeating "<date>, 7:00 pm ET -" lines.
    assert_eq!(drop_rule(&run(&*r, &web[27])), Some("dup_5_gram"));
    assert_eq!(drop_rule(&run(&*r, &web[28])), Some("dup_5_gram"));
    assert_eq!(drop_rule(&run(&*r, &web[8])), Some("dup_para_frac"));
    assert_eq!(drop_rule(&run(&*r, &web[23])), Some("dup_line_frac"));
    // Macedonian, French, Polish, Spanish, Portuguese pages: no English stop words.
    for i in [7, 15, 17, 24, 25, 32, 35] {
        assert_eq!(drop_rule(&run(&*q, &web[i])), Some("min_stop_words"), "{i}");
    }
    // With their language labels the Romance-language pages have their stop words.
    for (i, lang) in [(15, "fr"), (24, "fr"), (25, "es"), (35, "es"), (32, "pt")] {
        let verdict = q.apply(&mut doc_lang(&web[i], lang));
        assert_ne!(drop_rule(&verdict), Some("min_stop_words"), "{i} {lang}");
    }
    // A dictionary page of "|definition" lines: too many words without letters.
    let dclm = fixture_texts("web/dclm_majority_head.jsonl");
    assert_eq!(
        drop_rule(&run(&*q, &dclm[0])),
        Some("min_alpha_words_ratio")
    );
}

#[test]
fn every_fixture_drop_is_consistent() {
    let stages = [quality(), stage("gopher-repetition", "")];
    for file in [
        "web/dclm_majority_head.jsonl",
        "web/dolma_cc2019_head.jsonl",
        "multilingual/en.jsonl",
    ] {
        for text in fixture_texts(file) {
            for s in &stages {
                drop_rule(&run(&**s, &text)); // asserts value vs threshold
            }
        }
    }
}
