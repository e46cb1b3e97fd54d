//! Language identification: the `lang` stage.
//!
//! Every document gets a label ([`Document::lang`]): the language `whatlang` finds, as an
//! ISO 639-1 code (`en`, `de`, `zh`, ...), and whatlang's confidence. The identifier is
//! [whatlang](https://docs.rs/whatlang) 0.16, which ships its own trigram model (69 languages,
//! nothing is downloaded) and is pure Rust.
//!
//! # What the score means
//!
//! whatlang's confidence is **not a probability** (FineWeb's/datatrove's fastText score is). It is
//! how far the best language's score is ahead of the runner-up, relative to a margin that shrinks
//! as the text gets longer: `(best - second) / second`, divided by `3 / trigrams + 0.015`, capped
//! at 1.0. So a score of 1.0 means "clearly ahead", and most documents of a few hundred characters
//! score exactly 1.0. Scripts used by one language only (Hangul, Greek, Hebrew, Georgian,
//! Armenian, Thai, ...) always score 1.0. Han text scores 1.0 (Chinese) or 0.5 (mixed with a few
//! percent kana, Chinese or Japanese). The default `min_score = 0.65` is datatrove's
//! `LanguageFilter` default, kept for familiarity; on whatlang it separates "clearly ahead" from
//! "close call" rather than a calibrated 65%.
//!
//! # Parameters (`[[stage]] kind = "lang"`, or `--stages lang:en+de`)
//!
//! | param | default | meaning |
//! |---|---|---|
//! | `languages` | `[]` | languages to keep, ISO 639-1 (`en`) or whatlang's ISO 639-3 (`eng`, `cmn`); empty = only label, keep everything |
//! | `min_score` | `0.65` | keep a document only when its score is at least this (0..=1) |
//! | `max_chars` | `2000` | identify on the first this many characters (speed); `0` = the whole document |
//!
//! # Rules (only when `languages` is not empty)
//!
//! | rule | value | threshold | when |
//! |---|---|---|---|
//! | `undetected` | `0` | `min_score` | whatlang finds no language (no letters of a script it knows: empty, digits, punctuation, emoji) |
//! | `low_score` | the score | `min_score` | score below `min_score`, whatever the language |
//! | `language_not_allowed` | the score | `min_score` | the language is confidently (score ≥ `min_score`) not one of `languages`; the label says which it is |
//!
//! # Differences from datatrove's `LanguageFilter`
//!
//! - datatrove keeps a document when the score is strictly above the threshold; arcade keeps it at
//!   or above (`min_score = 1.0` is then a meaningful "fully confident only" setting, since
//!   whatlang's scores pile up at exactly 1.0).
//! - datatrove without `languages` still drops low scores; arcade with no `languages` only labels.
//! - datatrove asks fastText for the scores of the wanted languages only; whatlang has no
//!   per-language scores (restricting it to a list makes the lone candidate win with 1.0), so
//!   arcade identifies among all 69 languages and then checks the list.
//!
//! # Measured (`examples/lang_accuracy.rs` on the shared corpus' labelled sentences)
//!
//! On 23 600 mostly short texts (median 37–136 characters) of 13 languages, the label is right
//! for 95.6%: 99% or more for zh, ja, ko, ar; 94–98% for de, en, es, fr, it, pt, hi; 89% for
//! ru (confused with bg, uk) and 83% for nl (confused with af). Paragraphs (XQuAD, ~700
//! characters) are 99.6–100% right. On such short text whatlang is often unsure: the default
//! `min_score` keeps 83% of all texts in their right language (55% for nl, 69% for ru, hi), so
//! lower it for sentence-level data. Speed: about 10–20 MB/s of text per core, which is why only
//! a prefix is looked at.

use arcade_pipeline::read::{Document, LangLabel};
use arcade_pipeline::stage::{parse_params, Stage, StageRegistry, Verdict};
use serde::Deserialize;
use whatlang::Lang;

pub(crate) fn register(registry: &mut StageRegistry) {
    registry.register("lang", LanguageFilter::from_params);
    registry.register_shorthand("lang", "languages");
}

/// Parameters of the `lang` stage; see the module documentation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageParams {
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default = "default_min_score")]
    pub min_score: f64,
    #[serde(default = "default_max_chars")]
    pub max_chars: usize,
}

/// datatrove's `LanguageFilter(language_threshold=0.65)`.
pub const DEFAULT_MIN_SCORE: f64 = 0.65;
/// Characters looked at by default. whatlang's confidence reaches 1.0 well before this on real
/// text, and identification time grows with the length, so a long document costs no more than a
/// page of text.
pub const DEFAULT_MAX_CHARS: usize = 2000;

fn default_min_score() -> f64 {
    DEFAULT_MIN_SCORE
}

fn default_max_chars() -> usize {
    DEFAULT_MAX_CHARS
}

impl Default for LanguageParams {
    fn default() -> Self {
        Self {
            languages: Vec::new(),
            min_score: DEFAULT_MIN_SCORE,
            max_chars: DEFAULT_MAX_CHARS,
        }
    }
}

/// The `lang` stage: labels every document, and drops those not in `languages`.
#[derive(Debug, Clone)]
pub struct LanguageFilter {
    /// Indexed by `whatlang::Lang as usize`.
    allowed: [bool; LANGS.len()],
    any_allowed: bool,
    min_score: f64,
    max_chars: usize,
}

impl LanguageFilter {
    pub fn new(params: LanguageParams) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&params.min_score) {
            return Err(format!(
                "min_score {} is outside 0..=1 (whatlang's confidence range)",
                params.min_score
            ));
        }
        let mut allowed = [false; LANGS.len()];
        for code in &params.languages {
            let lang = lang_from_code(code).ok_or_else(|| {
                format!(
                    "unknown language {code:?}; whatlang knows (ISO 639-1): {}",
                    LANGS.iter().map(|(_, c)| *c).collect::<Vec<_>>().join(", ")
                )
            })?;
            allowed[lang as usize] = true;
        }
        Ok(Self {
            allowed,
            any_allowed: !params.languages.is_empty(),
            min_score: params.min_score,
            max_chars: params.max_chars,
        })
    }

    fn from_params(params: &toml::Table) -> Result<Box<dyn Stage>, String> {
        Ok(Box::new(Self::new(parse_params(params)?)?))
    }
}

impl Stage for LanguageFilter {
    fn name(&self) -> &str {
        "lang"
    }

    fn apply(&self, doc: &mut Document) -> Verdict {
        let detected = detect(&doc.text, self.max_chars);
        doc.lang = detected.as_ref().map(|(_, label)| label.clone());
        if !self.any_allowed {
            return Verdict::Keep;
        }
        match detected {
            None => Verdict::drop("undetected", 0.0, self.min_score),
            Some((_, label)) if label.score < self.min_score => {
                Verdict::drop("low_score", label.score, self.min_score)
            }
            Some((lang, label)) if !self.allowed[lang as usize] => {
                Verdict::drop("language_not_allowed", label.score, self.min_score)
            }
            Some(_) => Verdict::Keep,
        }
    }
}

/// Identifies the language of `text` (its first `max_chars` characters; `0` = all of it).
/// `None` when whatlang finds nothing to go on (no letters of a script it knows).
pub fn identify(text: &str, max_chars: usize) -> Option<LangLabel> {
    detect(text, max_chars).map(|(_, label)| label)
}

fn detect(text: &str, max_chars: usize) -> Option<(Lang, LangLabel)> {
    let info = whatlang::detect(prefix_chars(text, max_chars))?;
    let lang = info.lang();
    Some((
        lang,
        LangLabel {
            code: iso639_1(lang),
            score: info.confidence(),
        },
    ))
}

/// The first `max_chars` characters of `text` (all of it when `max_chars` is 0).
fn prefix_chars(text: &str, max_chars: usize) -> &str {
    // A string of at most `max_chars` bytes has at most `max_chars` characters.
    if max_chars == 0 || text.len() <= max_chars {
        return text;
    }
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// The ISO 639-1 code of a whatlang language (every language whatlang 0.16 knows has one).
pub fn iso639_1(lang: Lang) -> &'static str {
    LANGS
        .iter()
        .find(|(l, _)| *l == lang)
        .map(|(_, code)| *code)
        // Unreachable for whatlang 0.16 (the table covers `Lang::all()`, checked by a test); a
        // newer whatlang's language falls back to its ISO 639-3 code, as `LangLabel` allows.
        .unwrap_or_else(|| lang.code())
}

/// A language by ISO 639-1 code (`de`) or whatlang's ISO 639-3 code (`deu`), case-insensitive.
pub fn lang_from_code(code: &str) -> Option<Lang> {
    let code = code.trim().to_ascii_lowercase();
    LANGS
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(l, _)| *l)
        .or_else(|| Lang::from_code(code.as_str()))
}

/// whatlang 0.16's languages with their ISO 639-1 codes, in `Lang as usize` order.
const LANGS: [(Lang, &str); 69] = [
    (Lang::Epo, "eo"),
    (Lang::Eng, "en"),
    (Lang::Rus, "ru"),
    (Lang::Cmn, "zh"),
    (Lang::Spa, "es"),
    (Lang::Por, "pt"),
    (Lang::Ita, "it"),
    (Lang::Ben, "bn"),
    (Lang::Fra, "fr"),
    (Lang::Deu, "de"),
    (Lang::Ukr, "uk"),
    (Lang::Kat, "ka"),
    (Lang::Ara, "ar"),
    (Lang::Hin, "hi"),
    (Lang::Jpn, "ja"),
    (Lang::Heb, "he"),
    (Lang::Yid, "yi"),
    (Lang::Pol, "pl"),
    (Lang::Amh, "am"),
    (Lang::Jav, "jv"),
    (Lang::Kor, "ko"),
    (Lang::Nob, "nb"),
    (Lang::Dan, "da"),
    (Lang::Swe, "sv"),
    (Lang::Fin, "fi"),
    (Lang::Tur, "tr"),
    (Lang::Nld, "nl"),
    (Lang::Hun, "hu"),
    (Lang::Ces, "cs"),
    (Lang::Ell, "el"),
    (Lang::Bul, "bg"),
    (Lang::Bel, "be"),
    (Lang::Mar, "mr"),
    (Lang::Kan, "kn"),
    (Lang::Ron, "ro"),
    (Lang::Slv, "sl"),
    (Lang::Hrv, "hr"),
    (Lang::Srp, "sr"),
    (Lang::Mkd, "mk"),
    (Lang::Lit, "lt"),
    (Lang::Lav, "lv"),
    (Lang::Est, "et"),
    (Lang::Tam, "ta"),
    (Lang::Vie, "vi"),
    (Lang::Urd, "ur"),
    (Lang::Tha, "th"),
    (Lang::Guj, "gu"),
    (Lang::Uzb, "uz"),
    (Lang::Pan, "pa"),
    (Lang::Aze, "az"),
    (Lang::Ind, "id"),
    (Lang::Tel, "te"),
    (Lang::Pes, "fa"),
    (Lang::Mal, "ml"),
    (Lang::Ori, "or"),
    (Lang::Mya, "my"),
    (Lang::Nep, "ne"),
    (Lang::Sin, "si"),
    (Lang::Khm, "km"),
    (Lang::Tuk, "tk"),
    (Lang::Aka, "ak"),
    (Lang::Zul, "zu"),
    (Lang::Sna, "sn"),
    (Lang::Afr, "af"),
    (Lang::Lat, "la"),
    (Lang::Slk, "sk"),
    (Lang::Cat, "ca"),
    (Lang::Tgl, "tl"),
    (Lang::Hye, "hy"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_whatlang_in_order() {
        assert_eq!(LANGS.len(), Lang::all().len());
        for (i, (lang, code)) in LANGS.iter().enumerate() {
            assert_eq!(*lang as usize, i, "{code}");
            assert_eq!(code.len(), 2);
        }
    }

    #[test]
    fn prefix_respects_char_boundaries() {
        assert_eq!(prefix_chars("héllo", 2), "hé");
        assert_eq!(prefix_chars("héllo", 0), "héllo");
        assert_eq!(prefix_chars("héllo", 5), "héllo");
        assert_eq!(prefix_chars("héllo", 9), "héllo");
    }
}
