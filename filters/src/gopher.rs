//! Gopher's quality and repetition heuristics (Rae et al. 2021, "Scaling Language Models",
//! appendix A.1.1 and table A1), as datatrove 0.10 implements them:
//!
//! - `gopher-quality` ([`GopherQuality`]): word count, mean word length, `#` and ellipsis per
//!   word, bullet and ellipsis lines, words with a letter, stop words.
//! - `gopher-repetition` ([`GopherRepetition`]): duplicate lines and paragraphs, top 2..4-gram
//!   and duplicated 5..10-gram character fractions.
//!
//! Words come from [`WordSplitter`] (an approximation of the spaCy tokenizer datatrove uses);
//! see [`crate::text`] for every place where arcade differs from datatrove.

use std::cell::RefCell;

use arcade_pipeline::read::Document;
use arcade_pipeline::stage::{parse_params, Stage, StageRegistry, Verdict};
use serde::Deserialize;
use xxhash_rust::xxh3::xxh3_64;

use crate::text::{
    char_len, is_punctuation_char, limit_f64, limit_usize, py_lstrip, py_rstrip, py_splitlines,
    py_strip, stop_words, with_words, WordSplitter,
};

pub(crate) fn register(registry: &mut StageRegistry) {
    registry.register("gopher-quality", GopherQuality::from_params);
    registry.register("gopher-repetition", GopherRepetition::from_params);
}

// ---------------------------------------------------------------------------------------------
// gopher-quality
// ---------------------------------------------------------------------------------------------

/// Parameters of `gopher-quality`. Every threshold can be set to `false` to disable its rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GopherQualityConfig {
    /// Drop when fewer non-symbol words (rule `min_words`). Default 50.
    #[serde(default = "d_min_words", deserialize_with = "limit_usize")]
    pub min_words: Option<usize>,
    /// Drop when more non-symbol words (rule `max_words`). Default 100 000.
    #[serde(default = "d_max_words", deserialize_with = "limit_usize")]
    pub max_words: Option<usize>,
    /// Drop when the mean length of the non-symbol words is below (`min_avg_word_length`). 3.
    #[serde(default = "d_min_avg", deserialize_with = "limit_f64")]
    pub min_avg_word_length: Option<f64>,
    /// ... or above (`max_avg_word_length`). 10.
    #[serde(default = "d_max_avg", deserialize_with = "limit_f64")]
    pub max_avg_word_length: Option<f64>,
    /// Drop when `#` characters per word exceed this (`max_symbol_word_ratio`). 0.1.
    #[serde(default = "d_01", deserialize_with = "limit_f64")]
    pub max_symbol_word_ratio: Option<f64>,
    /// Drop when ellipses (`...` or `…`) per word exceed this (`max_ellipsis_word_ratio`). 0.1.
    #[serde(default = "d_01", deserialize_with = "limit_f64")]
    pub max_ellipsis_word_ratio: Option<f64>,
    /// Drop when the fraction of lines starting with `•` or `-` exceeds this. 0.9.
    #[serde(default = "d_09", deserialize_with = "limit_f64")]
    pub max_bullet_lines_ratio: Option<f64>,
    /// Drop when the fraction of lines ending with `...` or `…` exceeds this. 0.3.
    #[serde(default = "d_03", deserialize_with = "limit_f64")]
    pub max_ellipsis_lines_ratio: Option<f64>,
    /// Drop when the fraction of words containing a letter is below this. 0.8.
    #[serde(default = "d_08", deserialize_with = "limit_f64")]
    pub min_alpha_words_ratio: Option<f64>,
    /// Drop when fewer distinct stop words occur. 2.
    #[serde(default = "d_2", deserialize_with = "limit_usize")]
    pub min_stop_words: Option<usize>,
    /// Replaces the stop-word list (for every document, whatever its language label).
    #[serde(default)]
    pub stop_words: Option<Vec<String>>,
    /// Language of the default stop-word list and word splitting: en, de, es, fr, it, nl, pt.
    #[serde(default = "d_en")]
    pub language: String,
    /// Use the list of the document's language label, when a language-id stage set one that
    /// has a list. Default true.
    #[serde(default = "d_true")]
    pub stop_words_from_label: bool,
}

fn d_min_words() -> Option<usize> {
    Some(50)
}
fn d_max_words() -> Option<usize> {
    Some(100_000)
}
fn d_min_avg() -> Option<f64> {
    Some(3.0)
}
fn d_max_avg() -> Option<f64> {
    Some(10.0)
}
fn d_01() -> Option<f64> {
    Some(0.1)
}
fn d_09() -> Option<f64> {
    Some(0.9)
}
fn d_03() -> Option<f64> {
    Some(0.3)
}
fn d_08() -> Option<f64> {
    Some(0.8)
}
fn d_2() -> Option<usize> {
    Some(2)
}
fn d_en() -> String {
    "en".to_string()
}
fn d_true() -> bool {
    true
}

impl Default for GopherQualityConfig {
    fn default() -> Self {
        parse_params(&toml::Table::new()).expect("defaults parse")
    }
}

/// The `gopher-quality` stage.
#[derive(Debug, Clone)]
pub struct GopherQuality {
    config: GopherQualityConfig,
    /// The list used when the label does not choose one.
    default_stop_words: Vec<String>,
    default_splitter: WordSplitter,
}

/// Longest stop-word list: distinct matches are tracked in a 128-bit mask.
const MAX_STOP_WORDS: usize = 128;

impl GopherQuality {
    pub fn new(config: GopherQualityConfig) -> Result<Self, String> {
        let default_stop_words: Vec<String> = match (&config.stop_words, stop_words(&config.language)) {
            (Some(list), _) => list.clone(),
            (None, Some(list)) => list.iter().map(|s| s.to_string()).collect(),
            (None, None) => {
                return Err(format!(
                    "no stop-word list for language {:?} (lists: en, de, es, fr, it, nl, pt); give `stop_words`",
                    config.language
                ))
            }
        };
        if default_stop_words.len() > MAX_STOP_WORDS {
            return Err(format!(
                "stop_words has {} entries; at most {MAX_STOP_WORDS} are supported",
                default_stop_words.len()
            ));
        }
        if let (Some(min), Some(max)) = (config.min_words, config.max_words) {
            if min > max {
                return Err(format!("min_words {min} is above max_words {max}"));
            }
        }
        Ok(GopherQuality {
            default_splitter: WordSplitter::for_language(&config.language),
            default_stop_words,
            config,
        })
    }

    pub fn from_params(params: &toml::Table) -> Result<Box<dyn Stage>, String> {
        Ok(Box::new(Self::new(parse_params(params)?)?))
    }

    pub fn config(&self) -> &GopherQualityConfig {
        &self.config
    }
}

/// What `gopher-quality` measures in one pass over the words.
#[derive(Debug, Default)]
struct WordStats {
    words: usize,
    non_symbol_words: usize,
    non_symbol_chars: usize,
    alpha_words: usize,
    stop_words_seen: u128,
}

const ALPHA: u8 = 1;
const NOT_PUNCT: u8 = 2;
const NON_ASCII: u8 = 4;

/// Per byte: an ASCII letter; an ASCII character that is not punctuation for datatrove (its
/// punctuation set holds the ASCII punctuation and the control characters but tab and newline);
/// part of a non-ASCII character. One table lookup per byte decides an ASCII word.
const BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c >= 0x80 {
            NON_ASCII
        } else {
            let punct = c.is_ascii_punctuation() || (c < 0x20 && c != 9 && c != 10) || c == 0x7F;
            (if c.is_ascii_alphabetic() { ALPHA } else { 0 }) | (if punct { 0 } else { NOT_PUNCT })
        };
        b += 1;
    }
    table
};

fn word_stats<S: AsRef<str>>(text: &str, splitter: WordSplitter, stop: &[S]) -> WordStats {
    with_words(splitter, text, |words| word_stats_of(text, words, stop))
}

fn word_stats_of<S: AsRef<str>>(text: &str, words: &[(usize, usize)], stop: &[S]) -> WordStats {
    let mut st = WordStats::default();
    // Lengths of the stop words, so that most words skip the comparisons.
    let stop_lens = stop
        .iter()
        .fold(0u64, |m, s| m | (1u64 << s.as_ref().len().min(63)));
    words.iter().for_each(|&(a, b)| {
        let w = &text[a..b];
        st.words += 1;
        let (mut non_punct, mut alpha, mut chars) = (false, false, 0usize);
        let class = w.bytes().fold(0u8, |acc, b| acc | BYTE_CLASS[b as usize]);
        if class & NON_ASCII == 0 {
            chars = w.len();
            alpha = class & ALPHA != 0;
            non_punct = class & NOT_PUNCT != 0;
        } else {
            for c in w.chars() {
                chars += 1;
                // The Unicode table lookups are the costly part: stop asking once answered.
                if !alpha {
                    alpha = c.is_alphabetic();
                }
                if !non_punct {
                    non_punct = !is_punctuation_char(c);
                }
            }
        }
        if non_punct {
            st.non_symbol_words += 1;
            st.non_symbol_chars += chars;
        }
        if alpha {
            st.alpha_words += 1;
        }
        if stop_lens & (1u64 << w.len().min(63)) != 0 {
            for (i, s) in stop.iter().enumerate() {
                if s.as_ref() == w {
                    st.stop_words_seen |= 1u128 << i;
                }
            }
        }
    });
    st
}

/// Python's `str.count("...")`: non-overlapping occurrences.
fn count_triple_dots(text: &str) -> usize {
    let mut n = 0;
    let mut run = 0;
    for &b in text.as_bytes() {
        if b == b'.' {
            run += 1;
        } else {
            n += run / 3;
            run = 0;
        }
    }
    n + run / 3
}

impl Stage for GopherQuality {
    fn name(&self) -> &str {
        "gopher-quality"
    }

    fn apply(&self, doc: &mut Document) -> Verdict {
        let c = &self.config;
        let text = doc.text.as_str();
        let label_list = match (&c.stop_words, c.stop_words_from_label, &doc.lang) {
            (None, true, Some(label)) => stop_words(label.code).map(|l| (l, label.code)),
            _ => None,
        };
        let st = match label_list {
            Some((list, code)) => word_stats(text, WordSplitter::for_language(code), list),
            None => word_stats(text, self.default_splitter, &self.default_stop_words),
        };

        let n = st.non_symbol_words;
        if let Some(min) = c.min_words {
            if n < min {
                return Verdict::drop("min_words", n as f64, min as f64);
            }
        }
        if let Some(max) = c.max_words {
            if n > max {
                return Verdict::drop("max_words", n as f64, max as f64);
            }
        }
        if n > 0 {
            let avg = st.non_symbol_chars as f64 / n as f64;
            if let Some(min) = c.min_avg_word_length {
                if avg < min {
                    return Verdict::drop("min_avg_word_length", avg, min);
                }
            }
            if let Some(max) = c.max_avg_word_length {
                if avg > max {
                    return Verdict::drop("max_avg_word_length", avg, max);
                }
            }
        }
        if st.words > 0 {
            let words = st.words as f64;
            if let Some(max) = c.max_symbol_word_ratio {
                let ratio = memchr::memchr_iter(b'#', text.as_bytes()).count() as f64 / words;
                if ratio > max {
                    return Verdict::drop("max_symbol_word_ratio", ratio, max);
                }
            }
            if let Some(max) = c.max_ellipsis_word_ratio {
                let ellipses = count_triple_dots(text) + text.matches('…').count();
                let ratio = ellipses as f64 / words;
                if ratio > max {
                    return Verdict::drop("max_ellipsis_word_ratio", ratio, max);
                }
            }
        }
        if c.max_bullet_lines_ratio.is_some() || c.max_ellipsis_lines_ratio.is_some() {
            let (mut lines, mut bullets, mut ellipses) = (0usize, 0usize, 0usize);
            for line in py_splitlines(text) {
                lines += 1;
                let l = py_lstrip(line);
                if l.starts_with('•') || l.starts_with('-') {
                    bullets += 1;
                }
                let r = py_rstrip(line);
                if r.ends_with("...") || r.ends_with('…') {
                    ellipses += 1;
                }
            }
            if lines > 0 {
                if let Some(max) = c.max_bullet_lines_ratio {
                    let ratio = bullets as f64 / lines as f64;
                    if ratio > max {
                        return Verdict::drop("max_bullet_lines_ratio", ratio, max);
                    }
                }
                if let Some(max) = c.max_ellipsis_lines_ratio {
                    let ratio = ellipses as f64 / lines as f64;
                    if ratio > max {
                        return Verdict::drop("max_ellipsis_lines_ratio", ratio, max);
                    }
                }
            }
        }
        if let Some(min) = c.min_alpha_words_ratio {
            if st.words > 0 {
                let ratio = st.alpha_words as f64 / st.words as f64;
                if ratio < min {
                    return Verdict::drop("min_alpha_words_ratio", ratio, min);
                }
            }
        }
        if let Some(min) = c.min_stop_words {
            let found = st.stop_words_seen.count_ones() as usize;
            if found < min {
                return Verdict::drop("min_stop_words", found as f64, min as f64);
            }
        }
        Verdict::Keep
    }
}

// ---------------------------------------------------------------------------------------------
// gopher-repetition
// ---------------------------------------------------------------------------------------------

/// Parameters of `gopher-repetition`. The four fractions can be `false` (rule disabled); an
/// n-gram rule is removed by leaving it out of its list (`top_n_grams = []` removes them all).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GopherRepetitionConfig {
    /// Drop when duplicate lines / lines exceeds this (`dup_line_frac`). 0.3.
    #[serde(default = "d_03", deserialize_with = "limit_f64")]
    pub dup_line_frac: Option<f64>,
    /// Drop when duplicate paragraphs / paragraphs exceeds this (`dup_para_frac`). 0.3.
    #[serde(default = "d_03", deserialize_with = "limit_f64")]
    pub dup_para_frac: Option<f64>,
    /// Drop when characters in duplicate lines / characters exceeds this. 0.2.
    #[serde(default = "d_02", deserialize_with = "limit_f64")]
    pub dup_line_char_frac: Option<f64>,
    /// Drop when characters in duplicate paragraphs / characters exceeds this. 0.2.
    #[serde(default = "d_02", deserialize_with = "limit_f64")]
    pub dup_para_char_frac: Option<f64>,
    /// `[n, fraction]` pairs: drop when the most frequent n-gram's characters (times its count)
    /// over the document's characters exceed the fraction (rule `top_{n}_gram`).
    #[serde(default = "d_top")]
    pub top_n_grams: Vec<(usize, f64)>,
    /// `[n, fraction]` pairs: drop when the characters of duplicated n-grams over the
    /// document's characters exceed the fraction (rule `dup_{n}_gram`).
    #[serde(default = "d_dup")]
    pub dup_n_grams: Vec<(usize, f64)>,
}

fn d_02() -> Option<f64> {
    Some(0.2)
}
fn d_top() -> Vec<(usize, f64)> {
    vec![(2, 0.2), (3, 0.18), (4, 0.16)]
}
fn d_dup() -> Vec<(usize, f64)> {
    vec![
        (5, 0.15),
        (6, 0.14),
        (7, 0.13),
        (8, 0.12),
        (9, 0.11),
        (10, 0.10),
    ]
}

impl Default for GopherRepetitionConfig {
    fn default() -> Self {
        parse_params(&toml::Table::new()).expect("defaults parse")
    }
}

/// The `gopher-repetition` stage.
#[derive(Debug, Clone)]
pub struct GopherRepetition {
    config: GopherRepetitionConfig,
    top_rules: Vec<(usize, f64, String)>,
    dup_rules: Vec<(usize, f64, String)>,
}

impl GopherRepetition {
    pub fn new(config: GopherRepetitionConfig) -> Result<Self, String> {
        for &(n, _) in config.top_n_grams.iter().chain(&config.dup_n_grams) {
            if n == 0 {
                return Err("n-gram sizes must be at least 1".to_string());
            }
        }
        Ok(GopherRepetition {
            top_rules: config
                .top_n_grams
                .iter()
                .map(|&(n, f)| (n, f, format!("top_{n}_gram")))
                .collect(),
            dup_rules: config
                .dup_n_grams
                .iter()
                .map(|&(n, f)| (n, f, format!("dup_{n}_gram")))
                .collect(),
            config,
        })
    }

    pub fn from_params(params: &toml::Table) -> Result<Box<dyn Stage>, String> {
        Ok(Box::new(Self::new(parse_params(params)?)?))
    }

    pub fn config(&self) -> &GopherRepetitionConfig {
        &self.config
    }
}

/// Per-thread buffers reused across documents.
#[derive(Default)]
struct Scratch {
    hashes: Vec<u64>,
    /// Hash states of the n-grams of `ngram_len` words starting at each word (see
    /// [`advance_ngrams`]); 0 means not computed for this document.
    ngrams: Vec<u64>,
    ngram_len: usize,
    /// See [`refine_repeated`]: whether the `repeated_len`-gram at each word occurs twice or
    /// more; 0 means not computed for this document.
    repeated: Vec<bool>,
    repeated_len: usize,
    /// Candidate positions of the level being counted, with their table slots.
    candidates: Vec<(u32, u32)>,
    /// The set of the duplicated-n-gram walk.
    seen: HashTable,
    /// prefix sums of word lengths in characters: `lens[i]` = chars of words `0..i`.
    lens: Vec<usize>,
    table: HashTable,
}

impl Scratch {
    /// Drops buffers that one huge document grew, so that clearing stays cheap.
    fn trim(&mut self) {
        const KEEP: usize = 1 << 16;
        if self.table.keys.len() > 4 * KEEP {
            self.table = HashTable::default();
        }
        if self.seen.keys.len() > 4 * KEEP {
            self.seen = HashTable::default();
        }
        if self.hashes.capacity() > 4 * KEEP {
            self.hashes = Vec::new();
            self.lens = Vec::new();
            self.ngrams = Vec::new();
            self.repeated = Vec::new();
            self.candidates = Vec::new();
        }
    }
}

/// A counting set of 64-bit hashes (n-grams, lines, paragraphs), cleared for every pass.
///
/// Why not `HashMap`: the keys are already uniformly mixed hashes, every pass knows how many
/// keys it will insert at most, and nothing is ever removed. So the table is sized once per
/// pass to a power of two at least twice that count, indexed by the key's top bits and probed
/// linearly, with `0` as the empty mark (a key that is 0 is stored as 1: two n-grams that
/// differ only there would be counted as one, as would any 64-bit hash collision). That is
/// about half the time of hashbrown's entry API here, and the n-gram passes are the largest
/// cost of the Gopher repetition filter.
#[derive(Default)]
struct HashTable {
    keys: Vec<u64>,
    /// (count, first position) per key.
    values: Vec<(u32, u32)>,
    shift: u32,
}

impl HashTable {
    /// Empties the table, sized for up to `n` keys.
    fn reset(&mut self, n: usize) {
        let slots = (2 * n).next_power_of_two().max(16);
        if self.keys.len() == slots {
            self.keys.fill(0);
        } else {
            self.keys = vec![0; slots];
            self.values = vec![(0, 0); slots];
        }
        self.shift = 64 - slots.trailing_zeros();
    }

    /// The slot of `key`, inserting it (count 0, first position `at`) if absent.
    #[inline]
    fn slot(&mut self, key: u64, at: u32) -> &mut (u32, u32) {
        self.slot_index(key, at).1
    }

    /// [`slot`](Self::slot), with the slot's index.
    #[inline]
    fn slot_index(&mut self, key: u64, at: u32) -> (usize, &mut (u32, u32)) {
        let key = key.max(1);
        let mask = self.keys.len() - 1;
        let mut i = (key >> self.shift) as usize;
        loop {
            let k = self.keys[i];
            if k == key {
                return (i, &mut self.values[i]);
            }
            if k == 0 {
                self.keys[i] = key;
                self.values[i] = (0, at);
                return (i, &mut self.values[i]);
            }
            i = (i + 1) & mask;
        }
    }

    /// Inserts `key`; false when it was there already.
    #[inline]
    fn insert(&mut self, key: u64) -> bool {
        let v = self.slot(key, 0);
        v.0 += 1;
        v.0 == 1
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// datatrove's `find_duplicates`: (number of elements equal to an earlier one, their chars).
/// `max_items` bounds the number of items (one more than the newlines they were split at).
fn find_duplicates<'a>(
    items: impl Iterator<Item = &'a str>,
    max_items: usize,
    table: &mut HashTable,
) -> (usize, usize, usize) {
    table.reset(max_items);
    let (mut total, mut dups, mut dup_chars) = (0, 0, 0);
    for item in items {
        total += 1;
        if !table.insert(xxh3_64(item.as_bytes())) {
            dups += 1;
            dup_chars += char_len(item);
        }
    }
    (total, dups, dup_chars)
}

/// `re.split(r"\n{2,}", s)`.
fn split_paragraphs(s: &str) -> impl Iterator<Item = &str> {
    let bytes = s.as_bytes();
    let mut pos = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut search = pos;
        loop {
            match memchr::memchr(b'\n', &bytes[search..]) {
                Some(k) => {
                    let at = search + k;
                    let run = bytes[at..].iter().take_while(|&&b| b == b'\n').count();
                    if run >= 2 {
                        let part = &s[pos..at];
                        pos = at + run;
                        return Some(part);
                    }
                    search = at + run;
                }
                None => {
                    done = true;
                    return Some(&s[pos..]);
                }
            }
        }
    })
}

/// `re.split("\n+", s)`.
fn split_newline_runs(s: &str) -> impl Iterator<Item = &str> {
    let bytes = s.as_bytes();
    let mut pos = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        match memchr::memchr(b'\n', &bytes[pos..]) {
            Some(k) => {
                let at = pos + k;
                let run = bytes[at..].iter().take_while(|&&b| b == b'\n').count();
                let part = &s[pos..at];
                pos = at + run;
                Some(part)
            }
            None => {
                done = true;
                Some(&s[pos..])
            }
        }
    })
}

/// A 64-bit hash of one word. Words are short: up to 16 bytes they are loaded as two
/// little-endian integers and mixed with their length (a few multiplies, no loop and no call),
/// longer ones go through xxh3. Only equality matters (n-grams are compared by these hashes),
/// so the two kinds of word never need to agree.
#[inline]
fn word_hash(w: &[u8]) -> u64 {
    if w.len() > 16 {
        return xxh3_64(w);
    }
    let mut buf = [0u8; 16];
    buf[..w.len()].copy_from_slice(w);
    let lo = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
    let hi = u64::from_le_bytes(buf[8..].try_into().expect("8 bytes"));
    let m = |a: u64, b: u64| {
        let p = (a as u128).wrapping_mul(b as u128);
        (p as u64) ^ ((p >> 64) as u64)
    };
    // The length goes in separately: zero padding must not make "ab" equal "ab\0".
    m(
        m(lo ^ 0x2D35_8DCC_AA6C_78A5, hi ^ 0x8BB8_4B93_962E_ACC9),
        w.len() as u64 ^ 0x4F1B_BCDC_BFA5_3E0B,
    )
}

const NGRAM_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// One step of the n-gram hash: the state of words `i..i+n` and word `i+n` give the state of
/// `i..i+n+1`.
#[inline]
fn ngram_step(state: u64, word: u64) -> u64 {
    (state.rotate_left(23) ^ word).wrapping_mul(0xA24B_AED4_963E_E407)
}

#[inline]
fn ngram_finish(state: u64) -> u64 {
    state ^ (state >> 29)
}

/// Brings `s.ngrams[i]` to the hash state of the n-gram of `n` words starting at word `i`.
///
/// Why incremental: the default rules look at n = 2, 3, 4 and then 5..10, in increasing order.
/// Hashing every n-gram from scratch costs n steps per position and pass (54 per word over
/// the nine passes); extending the previous pass's states by one word costs one.
fn advance_ngrams(s: &mut Scratch, n: usize) {
    let words = s.hashes.len();
    if n < s.ngram_len || s.ngram_len == 0 {
        s.ngrams.clear();
        s.ngrams
            .extend(s.hashes.iter().map(|&w| ngram_step(NGRAM_SEED, w)));
        s.ngram_len = 1;
    }
    while s.ngram_len < n {
        let k = s.ngram_len;
        // Positions that still start a (k+1)-gram.
        for i in 0..words - k {
            s.ngrams[i] = ngram_step(s.ngrams[i], s.hashes[i + k]);
        }
        s.ngram_len += 1;
    }
}

/// Brings `s.repeated` to level `n`: `repeated[i]` is whether the n-gram starting at word `i`
/// occurs more than once in the document. Returns the most frequent n-gram as (count, first
/// position); (1, 0) when every n-gram is unique.
///
/// Why levels: an n-gram can only repeat if both of its (n-1)-grams repeat, so each level counts
/// only the positions that passed the level below (the candidates). Counting among candidates
/// alone is exact for them (every occurrence of a repeated n-gram is itself a candidate), and
/// every other n-gram occurs once. On ordinary prose the candidates shrink to a few percent by
/// n = 4, so the nine passes of the default rules cost little more than the first.
fn refine_repeated(s: &mut Scratch, n: usize) -> (u32, u32) {
    let words = s.hashes.len();
    if n < s.repeated_len || s.repeated_len == 0 {
        // Level 1 as a superset: every position is a candidate for level 2.
        s.repeated.clear();
        s.repeated.resize(words, true);
        s.repeated_len = 1;
    }
    let mut best = (1u32, 0u32);
    while s.repeated_len < n {
        let k = s.repeated_len + 1;
        advance_ngrams(s, k);
        let positions = words + 1 - k;
        s.candidates.clear();
        for i in 0..positions {
            if s.repeated[i] && s.repeated[i + 1] {
                s.candidates.push((i as u32, 0));
            }
        }
        s.table.reset(s.candidates.len());
        let (mut best_count, mut best_first) = (1u32, 0u32);
        for c in s.candidates.iter_mut() {
            let (slot, entry) = s
                .table
                .slot_index(ngram_finish(s.ngrams[c.0 as usize]), c.0);
            entry.0 += 1;
            let (count, first) = *entry;
            if count > best_count || (count == best_count && first < best_first) {
                best_count = count;
                best_first = first;
            }
            c.1 = slot as u32;
        }
        s.repeated.fill(false);
        for &(i, slot) in &s.candidates {
            s.repeated[i as usize] = s.table.values[slot as usize].0 > 1;
        }
        s.repeated_len = k;
        best = (best_count, best_first);
    }
    best
}

/// datatrove's `find_top_duplicate`: characters of the most frequent n-gram (joined with
/// spaces) times its count; ties go to the n-gram seen first. Also returns the top count.
fn top_ngram_chars(s: &mut Scratch, n: usize) -> (usize, u32) {
    let (count, first) = refine_repeated(s, n);
    let first = first as usize;
    let chars = s.lens[first + n] - s.lens[first] + (n - 1);
    (chars * count as usize, count)
}

/// datatrove's `find_all_duplicate`: characters (joined without spaces) of n-grams equal to an
/// earlier one, skipping past each duplicate found. Only n-grams that occur more than once can
/// be found again, so only those go into the set; the walk (and so every skip) is unchanged.
fn duplicated_ngram_chars(s: &mut Scratch, n: usize) -> usize {
    refine_repeated(s, n);
    let words = s.hashes.len();
    let repeated_positions = s.repeated.iter().filter(|&&r| r).count();
    if repeated_positions == 0 {
        return 0;
    }
    s.seen.reset(repeated_positions);
    let (mut repeated, mut i) = (0, 0);
    while i + n <= words {
        if !s.repeated[i] || s.seen.insert(ngram_finish(s.ngrams[i])) {
            i += 1;
        } else {
            repeated += s.lens[i + n] - s.lens[i];
            i += n;
        }
    }
    repeated
}

impl Stage for GopherRepetition {
    fn name(&self) -> &str {
        "gopher-repetition"
    }

    fn apply(&self, doc: &mut Document) -> Verdict {
        let text = doc.text.as_str();
        if text.is_empty() {
            return Verdict::drop("empty", 0.0, 1.0);
        }
        let text_chars = char_len(text) as f64;
        SCRATCH.with(|cell| {
            let mut guard = cell.borrow_mut();
            let s = &mut *guard;
            let verdict = self.judge(text, text_chars, s);
            s.trim();
            verdict
        })
    }
}

impl GopherRepetition {
    fn judge(&self, text: &str, text_chars: f64, s: &mut Scratch) -> Verdict {
        let c = &self.config;
        // Paragraphs and lines are both split at newlines: this bounds how many there are.
        let max_parts = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
        if c.dup_para_frac.is_some() || c.dup_para_char_frac.is_some() {
            let (paras, dups, chars) =
                find_duplicates(split_paragraphs(py_strip(text)), max_parts, &mut s.table);
            if let Some(max) = c.dup_para_frac {
                let ratio = dups as f64 / paras as f64;
                if ratio > max {
                    return Verdict::drop("dup_para_frac", ratio, max);
                }
            }
            if let Some(max) = c.dup_para_char_frac {
                let ratio = chars as f64 / text_chars;
                if ratio > max {
                    return Verdict::drop("dup_para_char_frac", ratio, max);
                }
            }
        }
        if c.dup_line_frac.is_some() || c.dup_line_char_frac.is_some() {
            let (lines, dups, chars) =
                find_duplicates(split_newline_runs(text), max_parts, &mut s.table);
            if let Some(max) = c.dup_line_frac {
                let ratio = dups as f64 / lines as f64;
                if ratio > max {
                    return Verdict::drop("dup_line_frac", ratio, max);
                }
            }
            if let Some(max) = c.dup_line_char_frac {
                let ratio = chars as f64 / text_chars;
                if ratio > max {
                    return Verdict::drop("dup_line_char_frac", ratio, max);
                }
            }
        }
        if self.top_rules.is_empty() && self.dup_rules.is_empty() {
            return Verdict::Keep;
        }

        s.hashes.clear();
        s.ngram_len = 0;
        s.repeated_len = 0;
        s.lens.clear();
        s.lens.push(0);
        let mut total = 0usize;
        let (hashes, lens) = (&mut s.hashes, &mut s.lens);
        with_words(WordSplitter::default(), text, |words| {
            for &(a, b) in words {
                let w = &text[a..b];
                hashes.push(word_hash(w.as_bytes()));
                total += char_len(w);
                lens.push(total);
            }
        });
        let words = s.hashes.len();

        // If every m-gram is unique, so is every n-gram for n > m.
        let mut all_unique_from: Option<usize> = None;
        for (n, max, rule) in &self.top_rules {
            let n = *n;
            if words < n {
                continue;
            }
            let chars = if all_unique_from.is_some_and(|m| m < n) {
                s.lens[n] + n - 1
            } else {
                let (chars, count) = top_ngram_chars(s, n);
                if count == 1 {
                    all_unique_from = Some(all_unique_from.map_or(n, |m| m.min(n)));
                }
                chars
            };
            let ratio = chars as f64 / text_chars;
            if ratio > *max {
                return Verdict::drop(rule.as_str(), ratio, *max);
            }
        }
        for (n, max, rule) in &self.dup_rules {
            let n = *n;
            let chars = if all_unique_from.is_some_and(|m| m < n) || words < n {
                0
            } else {
                let chars = duplicated_ngram_chars(s, n);
                if chars == 0 {
                    all_unique_from = Some(all_unique_from.map_or(n, |m| m.min(n)));
                }
                chars
            };
            let ratio = chars as f64 / text_chars;
            if ratio > *max {
                return Verdict::drop(rule.as_str(), ratio, *max);
            }
        }
        Verdict::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_splits() {
        let p: Vec<&str> = split_paragraphs("a\nb\n\n\nc\n\n").collect();
        assert_eq!(p, ["a\nb", "c", ""]);
        let l: Vec<&str> = split_newline_runs("\na\n\nb\n").collect();
        assert_eq!(l, ["", "a", "b", ""]);
        assert_eq!(count_triple_dots("a...... b.... c.."), 3);
    }

    /// datatrove's definitions written the plain way, on word ids: the most frequent n-gram
    /// (first seen wins ties) and the greedy duplicated-n-gram walk.
    fn naive(words: &[u64], lens: &[usize], n: usize) -> (usize, usize) {
        let grams: Vec<&[u64]> = words.windows(n).collect();
        let mut counts: Vec<(&[u64], usize, usize)> = Vec::new(); // gram, count, first
        for (i, g) in grams.iter().enumerate() {
            match counts.iter_mut().find(|(h, _, _)| h == g) {
                Some(c) => c.1 += 1,
                None => counts.push((g, 1, i)),
            }
        }
        let best = counts
            .iter()
            .fold((0, 0), |b, c| if c.1 > b.0 { (c.1, c.2) } else { b });
        let top = (lens[best.1 + n] - lens[best.1] + n - 1) * best.0;
        let mut seen: Vec<&[u64]> = Vec::new();
        let (mut dup, mut i) = (0, 0);
        while i + n <= words.len() {
            let g = &words[i..i + n];
            if seen.contains(&g) {
                dup += lens[i + n] - lens[i];
                i += n;
            } else {
                seen.push(g);
                i += 1;
            }
        }
        (top, dup)
    }

    /// The levelled candidate counting and the incremental hashes must give exactly the plain
    /// definitions, for every n in any order, on texts with many repeats.
    #[test]
    fn ngram_statistics_equal_the_plain_definitions() {
        let mut state = 0x1234_5678_u64;
        let mut next = move |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        for case in 0..300 {
            let len = 1 + next(120) as usize;
            let alphabet = 1 + next(if case % 3 == 0 { 3 } else { 40 });
            // Repeated phrases too, not only random words.
            let mut ids: Vec<u64> = (0..len).map(|_| next(alphabet)).collect();
            if case % 2 == 0 && len > 20 {
                let (from, to, k) = (
                    next(10) as usize,
                    10 + next(10) as usize,
                    1 + next(8) as usize,
                );
                for j in 0..k.min(len - to) {
                    ids[to + j] = ids[from + j];
                }
            }
            let lens: Vec<usize> = std::iter::once(0)
                .chain(ids.iter().scan(0, |t, &w| {
                    *t += 1 + (w % 7) as usize;
                    Some(*t)
                }))
                .collect();
            let mut s = Scratch {
                hashes: ids.iter().map(|&w| word_hash(&w.to_le_bytes())).collect(),
                lens: lens.clone(),
                ..Scratch::default()
            };
            let mut order: Vec<usize> = (2..=10).collect();
            if case % 5 == 0 {
                order.reverse();
            }
            for n in order {
                if n > len {
                    continue;
                }
                let (top, dup) = naive(&ids, &lens, n);
                assert_eq!(
                    top_ngram_chars(&mut s, n).0,
                    top,
                    "top, n = {n}, ids {ids:?}"
                );
                assert_eq!(
                    duplicated_ngram_chars(&mut s, n),
                    dup,
                    "dup, n = {n}, ids {ids:?}"
                );
            }
        }
    }
}
