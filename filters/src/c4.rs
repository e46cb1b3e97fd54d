//! C4's cleaning heuristics (Raffel et al. 2020, section 2.2, and the reference implementation in
//! TensorFlow Datasets' `c4_utils.py`), as datatrove 0.10's `C4QualityFilter` implements them,
//! as the `c4` stage ([`C4Quality`]).
//!
//! Line by line (lines as Python's `str.splitlines()` gives them, each stripped):
//! 1. a line with a whitespace-separated word longer than `max_word_length` (1000) characters
//!    is removed;
//! 2. Wikipedia citation marks (`[1]`, `[edit]`, `[citation needed]`) are removed from the line;
//! 3. with `filter_no_terminal_punct` (off by default, as in the FineWeb recipe), a line that
//!    does not end in `.`, `?`, `!`, `"` or `'`, or ends in `...`, is removed;
//! 4. a line with fewer than `min_words_per_line` (3) words is removed;
//! 5. a line containing "lorem ipsum" drops the document (`lorem_ipsum`);
//! 6. a line containing "javascript" is removed;
//! 7. a line containing `{` drops the document (`curly_bracket`);
//! 8. a line containing one of the policy phrases ("terms of use", "privacy policy",
//!    "cookie policy", "uses cookies", "use of cookies", "use cookies") is removed.
//!
//! The document is dropped when its kept lines hold fewer than `min_num_sentences` (5)
//! sentences (`too_few_sentences`), or when no line is left (`no_lines_left`). Otherwise the
//! text becomes the kept lines joined by `\n`; the verdict is `Changed` with rule
//! `lines-removed` (some line was removed), `citations-removed` (only citation marks were) or
//! `whitespace-normalized` (only stripping and line breaks changed), or `Keep`.
//!
//! Matching of the phrases is ASCII case-insensitive. See [`crate::text`] for how sentences are
//! counted and other differences from datatrove.

use std::sync::OnceLock;

use arcade_pipeline::read::Document;
use arcade_pipeline::stage::{parse_params, Stage, StageRegistry, Verdict};
use regex::bytes::Regex as BytesRegex;
use regex::Regex;
use serde::Deserialize;

use crate::text::{char_len, count_sentences, limit_usize, py_splitlines, py_strip, WordSplitter};

pub(crate) fn register(registry: &mut StageRegistry) {
    registry.register("c4", C4Quality::from_params);
}

/// datatrove's `POLICY_SUBSTRINGS`.
pub const POLICY_SUBSTRINGS: [&str; 6] = [
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
];

/// Parameters of `c4`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct C4Config {
    /// Remove `[1]`, `[edit]`, `[citation needed]` marks. Default true.
    #[serde(default = "d_true")]
    pub remove_citations: bool,
    /// Remove lines that do not end in terminal punctuation. Default false (FineWeb).
    #[serde(default)]
    pub filter_no_terminal_punct: bool,
    /// Drop documents whose kept lines have fewer sentences; `false` disables. Default 5.
    #[serde(default = "d_5", deserialize_with = "limit_usize")]
    pub min_num_sentences: Option<usize>,
    /// Remove lines with fewer words; `false` disables. Default 3.
    #[serde(default = "d_3", deserialize_with = "limit_usize")]
    pub min_words_per_line: Option<usize>,
    /// Remove lines with a longer word (in characters); `false` disables. Default 1000.
    #[serde(default = "d_1000", deserialize_with = "limit_usize")]
    pub max_word_length: Option<usize>,
    /// Drop documents containing "lorem ipsum". Default true.
    #[serde(default = "d_true")]
    pub filter_lorem_ipsum: bool,
    /// Remove lines mentioning "javascript". Default true.
    #[serde(default = "d_true")]
    pub filter_javascript: bool,
    /// Drop documents containing `{`. Default true.
    #[serde(default = "d_true")]
    pub filter_curly_bracket: bool,
    /// Remove lines containing a policy phrase. Default true.
    #[serde(default = "d_true")]
    pub filter_policy: bool,
}

fn d_true() -> bool {
    true
}
fn d_5() -> Option<usize> {
    Some(5)
}
fn d_3() -> Option<usize> {
    Some(3)
}
fn d_1000() -> Option<usize> {
    Some(1000)
}

impl Default for C4Config {
    fn default() -> Self {
        parse_params(&toml::Table::new()).expect("defaults parse")
    }
}

/// The `c4` stage.
#[derive(Debug, Clone)]
pub struct C4Quality {
    config: C4Config,
}

fn citation_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\[\d*\]|\[edit\]|\[citation needed\]").expect("valid regex"))
}

/// Any of the phrases the line rules look for, ASCII case-insensitively (a fast pre-check).
fn phrase_regex() -> &'static BytesRegex {
    static RE: OnceLock<BytesRegex> = OnceLock::new();
    RE.get_or_init(|| {
        let mut alternatives = vec!["lorem ipsum", "javascript"];
        alternatives.extend(POLICY_SUBSTRINGS);
        BytesRegex::new(&format!("(?i-u){}", alternatives.join("|"))).expect("valid regex")
    })
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.len() >= n.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

impl C4Quality {
    pub fn new(config: C4Config) -> Result<Self, String> {
        Ok(C4Quality { config })
    }

    pub fn from_params(params: &toml::Table) -> Result<Box<dyn Stage>, String> {
        Ok(Box::new(Self::new(parse_params(params)?)?))
    }

    pub fn config(&self) -> &C4Config {
        &self.config
    }
}

/// How a kept line changed.
enum LineEdit {
    Removed,
    Citations,
}

impl Stage for C4Quality {
    fn name(&self) -> &str {
        "c4"
    }

    fn apply(&self, doc: &mut Document) -> Verdict {
        let c = &self.config;
        let splitter = WordSplitter::default();
        let mut out = String::with_capacity(doc.text.len());
        let mut kept_lines = 0usize;
        let mut sentences = 0usize;
        let mut edit: Option<LineEdit> = None;
        let need_sentences = c.min_num_sentences.unwrap_or(0);

        for raw in py_splitlines(&doc.text) {
            let line = py_strip(raw);
            let mut words = 0usize;
            let mut too_long = false;
            for w in line.split(crate::text::is_py_whitespace) {
                if w.is_empty() {
                    continue;
                }
                words += 1;
                if let Some(max) = c.max_word_length {
                    if w.len() > max && char_len(w) > max {
                        too_long = true;
                    }
                }
            }
            if too_long {
                edit = Some(LineEdit::Removed);
                continue;
            }
            let cleaned;
            let line: &str =
                if c.remove_citations && memchr::memchr(b'[', line.as_bytes()).is_some() {
                    cleaned = citation_regex().replace_all(line, "");
                    if cleaned.len() != line.len() && edit.is_none() {
                        edit = Some(LineEdit::Citations);
                    }
                    &cleaned
                } else {
                    line
                };
            if c.filter_no_terminal_punct
                && (!line.ends_with(['.', '?', '!', '"', '\'']) || line.ends_with("..."))
            {
                edit = Some(LineEdit::Removed);
                continue;
            }
            if c.min_words_per_line.is_some_and(|min| words < min) {
                edit = Some(LineEdit::Removed);
                continue;
            }
            let phrase = phrase_regex().is_match(line.as_bytes());
            if phrase && c.filter_lorem_ipsum && contains_ci(line, "lorem ipsum") {
                return Verdict::drop("lorem_ipsum", 1.0, 0.0);
            }
            if phrase && c.filter_javascript && contains_ci(line, "javascript") {
                edit = Some(LineEdit::Removed);
                continue;
            }
            if c.filter_curly_bracket && memchr::memchr(b'{', line.as_bytes()).is_some() {
                return Verdict::drop("curly_bracket", 1.0, 0.0);
            }
            if phrase && c.filter_policy && POLICY_SUBSTRINGS.iter().any(|p| contains_ci(line, p)) {
                edit = Some(LineEdit::Removed);
                continue;
            }
            if sentences < need_sentences {
                sentences += count_sentences(&splitter, line);
            }
            if kept_lines > 0 {
                out.push('\n');
            }
            out.push_str(line);
            kept_lines += 1;
        }
        if let Some(min) = c.min_num_sentences {
            if sentences < min {
                return Verdict::drop("too_few_sentences", sentences as f64, min as f64);
            }
        }
        if kept_lines == 0 {
            return Verdict::drop("no_lines_left", 0.0, 1.0);
        }
        // datatrove strips the joined text; lines are already stripped, but a kept line can
        // be empty when `min_words_per_line` is disabled.
        let stripped = py_strip(&out);
        if stripped.len() != out.len() {
            out = stripped.to_string();
        }
        if out == doc.text {
            return Verdict::Keep;
        }
        doc.text = out;
        let rule = match edit {
            Some(LineEdit::Removed) => "lines-removed",
            Some(LineEdit::Citations) => "citations-removed",
            None => "whitespace-normalized",
        };
        Verdict::Changed {
            rule: rule.to_string(),
        }
    }
}
