//! `c4`: line rules, document rules, the rewritten text, parameters and fixtures.

mod common;

use arcade_pipeline::stage::Verdict;
use common::*;

/// Five one-sentence lines of 5 words each.
const BODY: &str = "The first line is here.\nThe second line is here.\nThe third line is here.\n\
The fourth line is here.\nThe fifth line is here.";

fn c4() -> Box<dyn arcade_pipeline::stage::Stage> {
    stage("c4", "")
}

/// Applies `c4` and returns the verdict and the text afterwards.
fn apply(s: &dyn arcade_pipeline::stage::Stage, text: &str) -> (Verdict, String) {
    let mut d = doc(text);
    let v = s.apply(&mut d);
    (v, d.text)
}

fn changed(rule: &str) -> Verdict {
    Verdict::Changed {
        rule: rule.to_string(),
    }
}

#[test]
fn clean_text_is_kept_unchanged() {
    assert_eq!(apply(&*c4(), BODY), (Verdict::Keep, BODY.to_string()));
}

#[test]
fn min_words_per_line_at_under_over() {
    let text = format!("{BODY}\nexactly three words\ntwo words\nfour words right here");
    let (v, out) = apply(&*c4(), &text);
    assert_eq!(v, changed("lines-removed"));
    assert_eq!(
        out,
        format!("{BODY}\nexactly three words\nfour words right here")
    );
    let s = stage("c4", "min_words_per_line = 4");
    let (_, out) = apply(&*s, &text);
    assert_eq!(out, format!("{BODY}\nfour words right here"));
    let s = stage("c4", "min_words_per_line = false");
    let (_, out) = apply(&*s, &text);
    assert_eq!(out, text);
}

#[test]
fn max_word_length_at_under_over() {
    let at = format!("a b {}", "x".repeat(1000));
    let over = format!("a b {}", "y".repeat(1001));
    let text = format!("{BODY}\n{at}\n{over}");
    let (v, out) = apply(&*c4(), &text);
    assert_eq!(v, changed("lines-removed"));
    assert_eq!(out, format!("{BODY}\n{at}"));
    // Characters, not bytes: 1000 two-byte letters are fine.
    let wide = format!("a b {}", "é".repeat(1000));
    assert_eq!(apply(&*c4(), &format!("{BODY}\n{wide}")).0, Verdict::Keep);
    let s = stage("c4", "max_word_length = 999");
    assert_eq!(apply(&*s, &format!("{BODY}\n{at}")).1, BODY);
}

#[test]
fn javascript_and_policy_lines_are_removed() {
    let text = format!(
        "{BODY}\nPlease enable JavaScript to view this.\nRead our Privacy Policy now.\n\
         This site uses cookies to work.\nWe changed the Terms of Use today.\nUse Cookies wisely here."
    );
    let (v, out) = apply(&*c4(), &text);
    assert_eq!(v, changed("lines-removed"));
    assert_eq!(out, BODY);
    let s = stage("c4", "filter_javascript = false\nfilter_policy = false");
    assert_eq!(apply(&*s, &text).0, Verdict::Keep);
}

#[test]
fn lorem_ipsum_and_curly_bracket_drop_the_document() {
    let lorem = format!("{BODY}\nLorem Ipsum dolor sit amet.");
    assert_drop(&apply(&*c4(), &lorem).0, "lorem_ipsum", 1.0, 0.0);
    let curly = format!("{BODY}\nfunction f() {{ return 1; }}");
    assert_drop(&apply(&*c4(), &curly).0, "curly_bracket", 1.0, 0.0);
    // Only lines that survive the earlier line rules count: a 2-word line, or a javascript
    // line, with a bracket is removed before the bracket check.
    let short = format!("{BODY}\nx {{");
    assert_eq!(apply(&*c4(), &short).0, changed("lines-removed"));
    let js = format!("{BODY}\nvar javascript = {{ a: 1 }}");
    assert_eq!(apply(&*c4(), &js).0, changed("lines-removed"));
    // lorem ipsum is checked before javascript on the same line.
    let both = format!("{BODY}\nlorem ipsum in javascript here");
    assert_drop(&apply(&*c4(), &both).0, "lorem_ipsum", 1.0, 0.0);
    let s = stage(
        "c4",
        "filter_lorem_ipsum = false\nfilter_curly_bracket = false",
    );
    assert_eq!(apply(&*s, &lorem).0, Verdict::Keep);
    assert_eq!(apply(&*s, &curly).0, Verdict::Keep);
}

#[test]
fn min_num_sentences_at_under_over() {
    // Exactly 5 sentences (BODY): kept. Four: dropped. Six: kept.
    assert_eq!(apply(&*c4(), BODY).0, Verdict::Keep);
    let four =
        "One sentence is here. Two sentences are here.\nThree is here now. Four is here now.";
    assert_drop(&apply(&*c4(), four).0, "too_few_sentences", 4.0, 5.0);
    let six = format!("{four}\nFive is here now. Six is here now.");
    assert_eq!(apply(&*c4(), &six).0, Verdict::Keep);
    // Sentences in removed lines do not count.
    let text = format!("{four}\nFive. Six. Seven. javascript");
    assert_drop(&apply(&*c4(), &text).0, "too_few_sentences", 4.0, 5.0);
    // Abbreviations do not end sentences.
    let mr = "Mr. Smith met Dr. Jones there.\nHe said no to it.\nShe said yes to it.\nThey left at once.";
    assert_drop(&apply(&*c4(), mr).0, "too_few_sentences", 4.0, 5.0);
    let s = stage("c4", "min_num_sentences = 4");
    assert_eq!(apply(&*s, four).0, Verdict::Keep);
    let s = stage("c4", "min_num_sentences = false");
    assert_eq!(apply(&*s, "just three words").0, Verdict::Keep);
}

#[test]
fn no_lines_left() {
    let s = stage("c4", "min_num_sentences = false");
    assert_drop(&apply(&*s, "a b\nc d\n\n").0, "no_lines_left", 0.0, 1.0);
    assert_drop(&apply(&*s, "").0, "no_lines_left", 0.0, 1.0);
    // With the sentence rule on, too_few_sentences comes first.
    assert_drop(&apply(&*c4(), "a b").0, "too_few_sentences", 0.0, 5.0);
}

#[test]
fn terminal_punctuation_rule_is_optional() {
    let text = format!(
        "{BODY}\nA heading without a period\nIt ended with an ellipsis...\nHe said \"yes.\"\nShe said 'no'"
    );
    assert_eq!(apply(&*c4(), &text).0, Verdict::Keep);
    let s = stage("c4", "filter_no_terminal_punct = true");
    let (v, out) = apply(&*s, &text);
    assert_eq!(v, changed("lines-removed"));
    assert_eq!(out, format!("{BODY}\nHe said \"yes.\"\nShe said 'no'"));
}

#[test]
fn citations_and_whitespace() {
    let text = format!("{BODY}\nThis is cited here.[1][23] Really[citation needed] so[edit].");
    let (v, out) = apply(&*c4(), &text);
    assert_eq!(v, changed("citations-removed"));
    assert_eq!(out, format!("{BODY}\nThis is cited here. Really so."));
    let s = stage("c4", "remove_citations = false");
    assert_eq!(apply(&*s, &text).0, Verdict::Keep);
    // Stripped lines, \r\n line ends and blank lines (0 words) are normalized away.
    let messy = format!("  {}\r\n\r\n", BODY.replace('\n', "  \r\n\t"));
    let (v, out) = apply(&*c4(), &messy);
    assert_eq!(v, changed("lines-removed"));
    assert_eq!(out, BODY);
    let s = stage("c4", "min_words_per_line = false");
    let (v, out) = apply(&*s, &format!("  {}", BODY.replace('\n', " \n ")));
    assert_eq!(v, changed("whitespace-normalized"));
    assert_eq!(out, BODY);
}

#[test]
fn bad_params_are_errors() {
    for bad in [
        "min_sentences = 5",
        "filter_javascript = 1",
        "min_num_sentences = -1",
        "max_word_length = true",
    ] {
        assert!(try_stage("c4", bad).is_err(), "{bad}");
    }
}

#[test]
fn fixtures() {
    let s = c4();
    // Clean news and encyclopedic text passes (C4's own sample: all lines end in
    // punctuation, at least 5 sentences).
    let cc = fixture_texts("web/dolma_cc_en_head-0091.jsonl");
    for i in [1, 3, 5, 6, 7, 8, 9] {
        assert!(drop_rule(&apply(&*s, &cc[i]).0).is_none(), "cc_en {i}");
    }
    let udhr = fixture_texts("multilingual/en.jsonl")
        .into_iter()
        .find(|t| t.starts_with("Universal Declaration of Human Rights"))
        .unwrap();
    assert!(drop_rule(&apply(&*s, &udhr).0).is_none());
    // Short pages: the wiki stub, and a bare name.
    let web = fixture_texts("web/dolma_cc2019_head.jsonl");
    assert_eq!(drop_rule(&apply(&*s, &web[5]).0), Some("too_few_sentences"));
    assert_eq!(
        drop_rule(&apply(&*s, &web[10]).0),
        Some("too_few_sentences")
    );
    // Every drop on the fixtures is consistent, and a changed text never grows.
    for file in [
        "web/dclm_majority_head.jsonl",
        "web/dolma_cc2019_head.jsonl",
        "multilingual/en.jsonl",
    ] {
        for text in fixture_texts(file) {
            let (v, out) = apply(&*s, &text);
            drop_rule(&v);
            if matches!(v, Verdict::Changed { .. }) {
                assert!(out.len() < text.len());
                assert!(out.lines().all(|l| l.split_whitespace().count() >= 3));
            }
        }
    }
}
