//! Property tests against tiktoken-rs, with generators aimed at the split pattern's edges.
//!
//! Every property runs `PROPTEST_CASES` cases (default 5000) on texts built from "atoms": ASCII
//! letters, digits and punctuation; apostrophe contractions in mixed case (with U+017F LONG S and
//! U+212A KELVIN SIGN, which case-fold to ASCII letters); every Unicode white-space character and
//! some non-space lookalikes; letters and numbers of many scripts; combining marks; emoji with ZWJ
//! sequences and skin tones; CR/LF mixes; long runs (past both BPE implementations' large-piece
//! thresholds); special-token strings and fragments of them; and arbitrary characters. A quarter
//! of the cases are fully random strings.
//!
//! Properties: ordinary ids == tiktoken-rs (Arcade100k, cl100k_base, and o200k_base loaded with
//! `from_tiktoken`), with `count_tokens` and the decode round trip; `encode(All)` == the reference's
//! `encode_with_special_tokens`; `encode(None)` / `encode(Set)` fail exactly at the first
//! special-token string that is not allowed (found by substring search) and otherwise equal the
//! reference; NFC mode == the reference on NFC-normalized text; `decode_bytes` concatenates across
//! any cut of the ids (including cuts inside a UTF-8 character) and `decode` of any slice is the
//! lossy decoding of those bytes.

mod common;

use std::collections::{BTreeSet, HashSet};

use arcade_tokenizer::{AllowedSpecial, EncodeError, Normalization, Tokenizer};
use common::{reference_arcade, reference_cl100k, scan_specials, Reference, SPEC_ARCADE_SPECIALS};
use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use unicode_normalization::UnicodeNormalization;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    // No regression files are written into the source tree; failures found are pinned as
    // explicit cases in `regressions` below instead.
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const ASCII: &[&str] = &[
    "a", "b", "e", "s", "t", "z", "A", "Q", "Z", "0", "1", "5", "9", "!", "\"", "#", "$", "%", "&",
    "'", "(", ")", "*", "+", ",", "-", ".", "/", ":", ";", "<", "=", ">", "?", "@", "[", "\\", "]",
    "^", "_", "`", "{", "|", "}", "~", "\u{7f}", "\u{0}", "\u{1b}", "\u{1c}", "\u{1f}",
];

/// Every `White_Space` character.
const WHITESPACE: &[&str] = &[
    "\t", "\n", "\u{b}", "\u{c}", "\r", " ", "\u{85}", "\u{a0}", "\u{1680}", "\u{2000}",
    "\u{2001}", "\u{2002}", "\u{2003}", "\u{2004}", "\u{2005}", "\u{2006}", "\u{2007}", "\u{2008}",
    "\u{2009}", "\u{200a}", "\u{2028}", "\u{2029}", "\u{202f}", "\u{205f}", "\u{3000}",
];

/// Not white space, though they look or once counted as such.
const LOOKALIKES: &[&str] = &[
    "\u{200b}", "\u{feff}", "\u{180e}", "\u{200c}", "\u{200d}", "\u{2060}",
];

const SCRIPTS: &[&str] = &[
    "中文",
    "字",
    "漢字テキスト",
    "カタカナ",
    "ひらがな",
    "한국어",
    "한",
    "\u{1100}\u{1161}",
    "हिन्दी",
    "क्षि",
    "ि",
    "العربية",
    "ـ",
    "русский",
    "Ё",
    "ελληνικά",
    "Σς",
    "ǅ",
    "ß",
    "İ",
    "ﬁ",
    "Ⅻ",
    "ⅻ",
    "²",
    "³",
    "½",
    "¼",
    "٣",
    "٠١٢",
    "۴",
    "५",
    "๓",
    "𝟘",
    "①",
    "〇",
    "ↂ",
    "𐌰",
    "ª",
    "º",
    "ᵃ",
    "ʰ",
    "Ǆ",
    "ı",
    "ſ",
    "\u{212a}",
    "Å",
    "µ",
    "Ω",
];

const COMBINING: &[&str] = &[
    "\u{301}",
    "\u{300}\u{323}",
    "\u{308}",
    "\u{94d}",
    "\u{93f}",
    "\u{64b}",
    "\u{20dd}",
    "\u{fe0f}",
];

const EMOJI: &[&str] = &[
    "🙂",
    "👍",
    "👍🏽",
    "👩\u{200d}💻",
    "👨\u{200d}👩\u{200d}👧\u{200d}👦",
    "🏳\u{fe0f}\u{200d}🌈",
    "🇺🇸",
    "❤\u{fe0f}",
    "1\u{fe0f}\u{20e3}",
    "🧑🏿\u{200d}🤝\u{200d}🧑🏻",
];

const NEWLINES: &[&str] = &["\r", "\n", "\r\n", "\n\r", "\n\n", "\r\r\n", " \n", "\n "];

const RUN_UNITS: &[&str] = &[
    " ", "\n", "\t", "\r\n", "1", "٣", "!", "-", "=", ".", "a", "Z", "ab", "é", "中", "한",
    "\u{3000}", "\u{a0}", "🙂", "'s", " a", "<|",
];

const FRAGMENTS: &[&str] = &[
    "<|",
    "|>",
    "<",
    ">",
    "<|endof",
    "endoftext|>",
    "<|endoftext",
    "<|im_start",
    "<|im_start|",
    "im_end|>",
    "<filename",
    "filename>",
    "<|reg",
    "<|reg8|>",
    "<|extra1|>",
    "<|fim_",
    "<commit_",
    "<|endoftext|>",
    "<|im_start|>",
    "<filename>",
];

/// `'` and a contraction suffix in a random mix of cases (or a near miss).
fn contraction() -> impl Strategy<Value = String> {
    let suffixes = vec![
        "s", "t", "re", "ve", "m", "ll", "d", "\u{17f}", "\u{212a}", "k", "r", "v", "l", "x", "ſt",
    ];
    (select(suffixes), any::<u8>()).prop_map(|(s, mask)| {
        let mut out = String::from("'");
        for (i, c) in s.chars().enumerate() {
            if mask >> i & 1 == 1 {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
        }
        out
    })
}

fn long_run() -> impl Strategy<Value = String> {
    (select(RUN_UNITS), 1usize..300).prop_map(|(u, n)| u.repeat(n))
}

fn atom() -> impl Strategy<Value = String> {
    let s = |list: &'static [&'static str]| select(list).prop_map(String::from);
    prop_oneof![
        6 => s(ASCII),
        2 => contraction(),
        3 => s(WHITESPACE),
        1 => s(LOOKALIKES),
        3 => s(SCRIPTS),
        1 => s(COMBINING),
        1 => s(EMOJI),
        2 => s(NEWLINES),
        1 => long_run(),
        1 => select(SPEC_ARCADE_SPECIALS.to_vec()).prop_map(String::from),
        1 => s(FRAGMENTS),
        1 => any::<char>().prop_map(String::from),
    ]
}

/// Texts aimed at the pattern's edges, and fully random ones.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(atom(), 0..40).prop_map(|v| v.concat()),
        1 => any::<String>(),
        1 => prop::collection::vec(any::<char>(), 0..64).prop_map(|v| v.into_iter().collect()),
    ]
}

fn show(reference: &Reference, ids: &[u32]) -> String {
    ids.iter()
        .map(|&id| format!("{id}={}", reference.piece(id)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The ordinary-encoding properties for one encoding.
fn check_ordinary(
    ours: &Tokenizer,
    reference: &Reference,
    text: &str,
) -> Result<(), TestCaseError> {
    let expected = reference.encode_ordinary(text);
    let ids = ours.encode_ordinary(text);
    prop_assert!(
        ids == expected,
        "[{}] encode_ordinary({text:?})\n  ours:      {}\n  reference: {}",
        reference.name,
        show(reference, &ids),
        show(reference, &expected)
    );
    prop_assert_eq!(
        ours.count_tokens(text),
        expected.len(),
        "[{}] count_tokens({:?})",
        reference.name,
        text
    );
    prop_assert_eq!(ours.decode_bytes(&ids).unwrap(), text.as_bytes());
    prop_assert_eq!(ours.decode(&ids).unwrap(), text);
    Ok(())
}

/// `encode` with a set of allowed specials: the reference's answer when every special-token string
/// the scan meets is allowed, else an error at the first one that is not.
fn check_allowed(
    ours: &Tokenizer,
    reference: &Reference,
    text: &str,
    allowed: &BTreeSet<String>,
) -> Result<(), TestCaseError> {
    let as_api = if allowed.len() == reference.specials.len() {
        AllowedSpecial::All
    } else if allowed.is_empty() {
        AllowedSpecial::None
    } else {
        AllowedSpecial::Set(allowed.clone())
    };
    let got = ours.encode(text, &as_api);
    let offence = scan_specials(text, &reference.specials)
        .into_iter()
        .find(|(_, name)| !allowed.contains(*name));
    match offence {
        Some((at, name)) => prop_assert_eq!(
            got,
            Err(EncodeError::DisallowedSpecial {
                token: name.to_string(),
                offset: at
            }),
            "[{}] encode({:?}, {:?})",
            reference.name,
            text,
            as_api
        ),
        None => {
            let set: HashSet<&str> = allowed.iter().map(String::as_str).collect();
            let expected = reference
                .bpe
                .encode(text, &set)
                .expect("reference encodes")
                .0;
            let ids = got.map_err(|e| {
                TestCaseError::fail(format!("[{}] encode({text:?}): {e}", reference.name))
            })?;
            prop_assert!(
                ids == expected,
                "[{}] encode({text:?}, {as_api:?})\n  ours:      {}\n  reference: {}",
                reference.name,
                show(reference, &ids),
                show(reference, &expected)
            );
            prop_assert_eq!(ours.decode(&ids).unwrap(), text);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arcade100k_ordinary_matches_reference(text in text()) {
        check_ordinary(&Tokenizer::arcade100k(), reference_arcade(), &text)?;
    }

    #[test]
    fn cl100k_base_ordinary_matches_reference(text in text()) {
        check_ordinary(&Tokenizer::cl100k_base(), reference_cl100k(), &text)?;
    }

    #[test]
    fn o200k_base_from_file_matches_reference(text in text()) {
        // The regex splitter (any pattern outside the cl100k family) against tiktoken-rs.
        if let Some(ours) = common::ours_o200k() {
            let reference = common::reference_o200k();
            check_ordinary(ours, reference, &text)?;
            prop_assert_eq!(
                ours.encode(&text, &AllowedSpecial::All).unwrap(),
                reference.encode_with_special_tokens(&text)
            );
        }
    }

    #[test]
    fn all_specials_match_reference(text in text()) {
        for (ours, reference) in [(Tokenizer::arcade100k(), reference_arcade()), (Tokenizer::cl100k_base(), reference_cl100k())] {
            let expected = reference.encode_with_special_tokens(&text);
            let ids = ours.encode(&text, &AllowedSpecial::All);
            prop_assert!(
                ids.as_ref() == Ok(&expected),
                "[{}] encode({text:?}, All)\n  ours:      {:?}\n  reference: {}",
                reference.name, ids.as_ref().map(|ids| show(reference, ids)), show(reference, &expected)
            );
            prop_assert_eq!(ours.decode(&expected).unwrap(), text.clone());
        }
    }

    #[test]
    fn disallowed_specials_error_at_first_occurrence(text in text()) {
        let none = BTreeSet::new();
        check_allowed(&Tokenizer::arcade100k(), reference_arcade(), &text, &none)?;
        check_allowed(&Tokenizer::cl100k_base(), reference_cl100k(), &text, &none)?;
        // `encode(None)` of a text free of special strings is the ordinary encoding.
        if scan_specials(&text, &reference_arcade().specials).is_empty() {
            prop_assert_eq!(
                Tokenizer::arcade100k().encode(&text, &AllowedSpecial::None).unwrap(),
                reference_arcade().encode_ordinary(&text)
            );
        }
    }

    #[test]
    fn allowed_subsets_match_reference(
        text in text(),
        allowed in subsequence(SPEC_ARCADE_SPECIALS.to_vec(), 0..=SPEC_ARCADE_SPECIALS.len()),
    ) {
        let allowed: BTreeSet<String> = allowed.into_iter().map(String::from).collect();
        check_allowed(&Tokenizer::arcade100k(), reference_arcade(), &text, &allowed)?;
    }

    #[test]
    fn nfc_mode_matches_reference_on_normalized_text(text in text()) {
        let ours = Tokenizer::arcade100k().with_normalization(Normalization::Nfc);
        let reference = reference_arcade();
        let normalized: String = text.nfc().collect();
        let expected = reference.encode_ordinary(&normalized);
        let ids = ours.encode_ordinary(&text);
        prop_assert!(
            ids == expected,
            "NFC encode_ordinary({text:?}) (normalized {normalized:?})\n  ours:      {}\n  reference: {}",
            show(reference, &ids), show(reference, &expected)
        );
        prop_assert_eq!(ours.count_tokens(&text), expected.len());
        prop_assert_eq!(ours.decode(&ids).unwrap(), normalized.clone());
        prop_assert_eq!(
            ours.encode(&text, &AllowedSpecial::All).unwrap(),
            reference.encode_with_special_tokens(&normalized)
        );
        // Error offsets are offsets in the normalized text.
        let first = scan_specials(&normalized, &reference.specials).into_iter().next();
        match (first, ours.encode(&text, &AllowedSpecial::None)) {
            (None, Ok(got)) => prop_assert_eq!(got, expected),
            (Some((at, name)), Err(EncodeError::DisallowedSpecial { token, offset })) => {
                prop_assert_eq!(offset, at);
                prop_assert_eq!(token, name);
            }
            (first, got) => prop_assert!(false, "NFC encode({text:?}, None): expected {first:?}, got {got:?}"),
        }
    }

    #[test]
    fn byte_api_concatenates_across_any_cut(text in text(), cut in any::<Index>(), a in any::<Index>(), b in any::<Index>()) {
        let ours = Tokenizer::arcade100k();
        let reference = reference_arcade();
        let ids = reference.encode_with_special_tokens(&text);
        let k = cut.index(ids.len() + 1);
        let (left, right) = ids.split_at(k);
        let mut joined = ours.decode_bytes(left).unwrap();
        joined.extend(ours.decode_bytes(right).unwrap());
        prop_assert_eq!(&joined, &ours.decode_bytes(&ids).unwrap());
        prop_assert_eq!(&joined[..], text.as_bytes());
        // Any sub-slice: exact bytes, the reference's bytes, and a lossy but panic-free decode.
        let (i, j) = {
            let (x, y) = (a.index(ids.len() + 1), b.index(ids.len() + 1));
            (x.min(y), x.max(y))
        };
        let sub = &ids[i..j];
        let bytes = ours.decode_bytes(sub).unwrap();
        prop_assert_eq!(&bytes, &reference.bpe.decode_bytes(sub).unwrap());
        prop_assert_eq!(ours.decode(sub).unwrap(), String::from_utf8_lossy(&bytes).into_owned());
        // decode_bytes_into appends.
        let mut out = b"prefix".to_vec();
        ours.decode_bytes_into(sub, &mut out).unwrap();
        prop_assert_eq!(&out[6..], &bytes[..]);
    }
}

/// Inputs that once failed a property (or were written to pin a suspected edge), kept explicit.
#[test]
fn regressions() {
    let cases: &[&str] = &[
        "'ſ",
        "'\u{212a}",
        "\u{a0}\u{a0}a",
        " \u{85}x",
        "a\u{2028} b",
        "\u{301}'S",
    ];
    for text in cases {
        check_ordinary(&Tokenizer::arcade100k(), reference_arcade(), text).unwrap();
        check_ordinary(&Tokenizer::cl100k_base(), reference_cl100k(), text).unwrap();
    }
}
