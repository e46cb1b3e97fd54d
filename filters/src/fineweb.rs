//! FineWeb's additional quality heuristics (Penedo et al. 2024), as datatrove 0.10's
//! `FineWebQualityFilter` implements them, as the `fineweb-quality` stage ([`FineWebQuality`]).
//!
//! Lines are the text split on `\n`, without the ones that are empty or whitespace after
//! stripping; the lines themselves are *not* stripped (a line ending in `". "` does not end in
//! punctuation). In order:
//!
//! 1. `line_punct_ratio`: the fraction of lines ending in one of `stop_chars` (default
//!    datatrove's `TERMINAL_PUNCTUATION`: `.`, `!`, `?` and their equivalents in other scripts)
//!    must be at least `line_punct_thr` (0.12): dropped when below. With
//!    `line_punct_exclude_zero`, a ratio of exactly 0 is not dropped.
//! 2. `short_line_ratio`: the fraction of lines of at most `short_line_length` (30) characters
//!    must be at most `short_line_thr` (0.67).
//! 3. `char_dup_ratio`: the characters of lines equal to an earlier line, over the characters
//!    of the text without its `\n`s, must be at most `char_duplicates_ratio` (0.01).
//! 4. `list_ratio`: the number of `\n` in the text over the number of words must be at most
//!    `new_line_ratio` (0.3).
//!
//! A text with no non-blank line is dropped with rule `empty`.

use arcade_pipeline::read::Document;
use arcade_pipeline::stage::{parse_params, Stage, StageRegistry, Verdict};
use rustc_hash::FxHashSet;
use serde::Deserialize;
use xxhash_rust::xxh3::xxh3_64;

use crate::text::{
    char_len, is_py_whitespace, is_terminal_punctuation, limit_f64, with_words, WordSplitter,
};

pub(crate) fn register(registry: &mut StageRegistry) {
    registry.register("fineweb-quality", FineWebQuality::from_params);
}

/// Parameters of `fineweb-quality`; the thresholds accept `false` to disable their rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FineWebConfig {
    /// Minimum fraction of lines ending in a stop character. 0.12.
    #[serde(default = "d_012", deserialize_with = "limit_f64")]
    pub line_punct_thr: Option<f64>,
    /// Keep documents where no line ends in a stop character. false.
    #[serde(default)]
    pub line_punct_exclude_zero: bool,
    /// Characters that end a line "in punctuation"; default datatrove's TERMINAL_PUNCTUATION.
    #[serde(default)]
    pub stop_chars: Option<Vec<String>>,
    /// Maximum fraction of short lines. 0.67.
    #[serde(default = "d_067", deserialize_with = "limit_f64")]
    pub short_line_thr: Option<f64>,
    /// A line of at most this many characters is short. 30.
    #[serde(default = "d_30")]
    pub short_line_length: usize,
    /// Maximum fraction of characters in duplicated lines. 0.01.
    #[serde(default = "d_001", deserialize_with = "limit_f64")]
    pub char_duplicates_ratio: Option<f64>,
    /// Maximum number of newlines per word. 0.3.
    #[serde(default = "d_03", deserialize_with = "limit_f64")]
    pub new_line_ratio: Option<f64>,
}

fn d_012() -> Option<f64> {
    Some(0.12)
}
fn d_067() -> Option<f64> {
    Some(0.67)
}
fn d_30() -> usize {
    30
}
fn d_001() -> Option<f64> {
    Some(0.01)
}
fn d_03() -> Option<f64> {
    Some(0.3)
}

impl Default for FineWebConfig {
    fn default() -> Self {
        parse_params(&toml::Table::new()).expect("defaults parse")
    }
}

/// The `fineweb-quality` stage.
#[derive(Debug, Clone)]
pub struct FineWebQuality {
    config: FineWebConfig,
}

impl FineWebQuality {
    pub fn new(config: FineWebConfig) -> Result<Self, String> {
        if let Some(chars) = &config.stop_chars {
            if chars.iter().any(|s| s.is_empty()) {
                return Err("stop_chars entries must not be empty".to_string());
            }
        }
        Ok(FineWebQuality { config })
    }

    pub fn from_params(params: &toml::Table) -> Result<Box<dyn Stage>, String> {
        Ok(Box::new(Self::new(parse_params(params)?)?))
    }

    pub fn config(&self) -> &FineWebConfig {
        &self.config
    }

    fn ends_in_stop_char(&self, line: &str) -> bool {
        match &self.config.stop_chars {
            None => line
                .chars()
                .next_back()
                .is_some_and(is_terminal_punctuation),
            Some(chars) => chars.iter().any(|s| line.ends_with(s.as_str())),
        }
    }
}

impl Stage for FineWebQuality {
    fn name(&self) -> &str {
        "fineweb-quality"
    }

    fn apply(&self, doc: &mut Document) -> Verdict {
        let c = &self.config;
        let text = doc.text.as_str();
        let lines = || {
            text.split('\n')
                .filter(|l| !l.chars().all(is_py_whitespace))
        };

        let (mut n_lines, mut punct, mut short) = (0usize, 0usize, 0usize);
        for line in lines() {
            n_lines += 1;
            if self.ends_in_stop_char(line) {
                punct += 1;
            }
            if line.len() <= c.short_line_length || char_len(line) <= c.short_line_length {
                short += 1;
            }
        }
        if n_lines == 0 {
            return Verdict::drop("empty", 0.0, 1.0);
        }
        let n = n_lines as f64;
        if let Some(min) = c.line_punct_thr {
            let ratio = punct as f64 / n;
            if ratio < min && !(ratio == 0.0 && c.line_punct_exclude_zero) {
                return Verdict::drop("line_punct_ratio", ratio, min);
            }
        }
        if let Some(max) = c.short_line_thr {
            let ratio = short as f64 / n;
            if ratio > max {
                return Verdict::drop("short_line_ratio", ratio, max);
            }
        }
        let newlines = memchr::memchr_iter(b'\n', text.as_bytes()).count();
        if let Some(max) = c.char_duplicates_ratio {
            let mut seen = FxHashSet::default();
            let mut dup_chars = 0usize;
            for line in lines() {
                if !seen.insert(xxh3_64(line.as_bytes())) {
                    dup_chars += char_len(line);
                }
            }
            let ratio = dup_chars as f64 / (char_len(text) - newlines) as f64;
            if ratio > max {
                return Verdict::drop("char_dup_ratio", ratio, max);
            }
        }
        if let Some(max) = c.new_line_ratio {
            let words = with_words(WordSplitter::default(), text, |w| w.len());
            if words > 0 {
                let ratio = newlines as f64 / words as f64;
                if ratio > max {
                    return Verdict::drop("list_ratio", ratio, max);
                }
            }
        }
        Verdict::Keep
    }
}
