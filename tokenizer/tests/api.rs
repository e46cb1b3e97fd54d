//! The public API's contract: embedded data, vocabulary sizes, special tokens, error cases,
//! batch encoding, long inputs and `from_tiktoken`. Expected values come from the specification,
//! from an independent parse of the ranks file, or from tiktoken-rs, never from the crate itself.

mod common;

use std::collections::{BTreeSet, HashSet};

use arcade_tokenizer::{
    AllowedSpecial, DecodeError, EncodeError, LoadError, Tokenizer, ARCADE100K_PATTERN,
    ARCADE100K_SPECIALS, CL100K_BASE_PATTERN, CL100K_BASE_RANKS_SHA256, CL100K_BASE_SPECIALS,
    ENDOFTEXT,
};
use common::{
    cl100k_ranks_file, parse_ranks, reference_arcade, reference_cl100k, reference_o200k,
    SPEC_ARCADE_PATTERN, SPEC_ARCADE_SPECIALS, SPEC_CL100K_SPECIALS, SPEC_FIRST_SPECIAL,
    SPEC_O200K_SPECIALS,
};
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use tiktoken_rs::CoreBPE;

const SPEC_RANKS_SHA256: &str = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7";

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Embedded data

#[test]
fn ranks_file_sha256() {
    assert_eq!(
        sha256_hex(cl100k_ranks_file()),
        SPEC_RANKS_SHA256,
        "tokenizer/assets/cl100k_base.tiktoken"
    );
    assert_eq!(Tokenizer::arcade100k().ranks_sha256(), SPEC_RANKS_SHA256);
    assert_eq!(Tokenizer::cl100k_base().ranks_sha256(), SPEC_RANKS_SHA256);
    assert_eq!(CL100K_BASE_RANKS_SHA256, SPEC_RANKS_SHA256);
}

#[test]
fn ranks_file_is_tiktoken_rs_file() {
    // The asset is documented as a byte-for-byte copy of tiktoken-rs's; check it when the registry
    // copy can be found (it always can where tiktoken-rs was built).
    let Some(o200k) = common::o200k_file_path() else {
        eprintln!("NOTICE: tiktoken-rs assets not found; skipped");
        return;
    };
    let theirs = std::fs::read(o200k.with_file_name("cl100k_base.tiktoken")).unwrap();
    assert_eq!(sha256_hex(&theirs), SPEC_RANKS_SHA256);
}

#[test]
fn pattern_and_specials_match_the_specification() {
    assert_eq!(ARCADE100K_PATTERN, SPEC_ARCADE_PATTERN);
    assert_eq!(Tokenizer::arcade100k().pattern(), SPEC_ARCADE_PATTERN);
    assert_eq!(ARCADE100K_SPECIALS, SPEC_ARCADE_SPECIALS);
    assert_eq!(ENDOFTEXT, 100_257);
    assert_eq!(CL100K_BASE_SPECIALS, SPEC_CL100K_SPECIALS);
    // cl100k_base's pattern is Arcade100k's with `\p{N}{1,3}` for `\p{N}`.
    assert_eq!(
        CL100K_BASE_PATTERN,
        SPEC_ARCADE_PATTERN.replace(r"|\p{N}|", r"|\p{N}{1,3}|")
    );
    assert_eq!(Tokenizer::arcade100k().name(), "arcade100k");
    assert_eq!(Tokenizer::cl100k_base().name(), "cl100k_base");
}

#[test]
fn vocabulary_sizes() {
    let ranks = parse_ranks(cl100k_ranks_file());
    assert_eq!(ranks.len(), 100_256);
    let arcade = Tokenizer::arcade100k();
    assert_eq!(arcade.vocab_size(), 100_289);
    assert_eq!(arcade.padded_vocab_size(), 100_352);
    assert_eq!(arcade.ordinary_token_count(), ranks.len());
    let cl = Tokenizer::cl100k_base();
    assert_eq!(cl.vocab_size(), 100_277);
    assert_eq!(cl.padded_vocab_size(), 100_288);
    assert_eq!(cl.ordinary_token_count(), ranks.len());
}

#[test]
fn every_ordinary_token_round_trips() {
    let ranks = parse_ranks(cl100k_ranks_file());
    for tok in [Tokenizer::arcade100k(), Tokenizer::cl100k_base()] {
        for (bytes, &rank) in &ranks {
            assert_eq!(
                tok.token_bytes(rank),
                Some(&bytes[..]),
                "token_bytes({rank})"
            );
            assert_eq!(tok.token_id(bytes), Some(rank), "token_id({bytes:?})");
            assert!(!tok.is_special(rank));
        }
    }
}

#[test]
fn every_special_token() {
    let arcade = Tokenizer::arcade100k();
    let listed: Vec<(String, u32)> = arcade.special_tokens().to_vec();
    let expected: Vec<(String, u32)> = SPEC_ARCADE_SPECIALS
        .iter()
        .zip(SPEC_FIRST_SPECIAL..)
        .map(|(s, id)| (s.to_string(), id))
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(SPEC_FIRST_SPECIAL + 31, 100_288);
    for (name, id) in &expected {
        assert_eq!(arcade.special_token(name), Some(*id), "{name}");
        assert_eq!(arcade.token_bytes(*id), Some(name.as_bytes()), "{id}");
        assert!(arcade.is_special(*id), "{id}");
        assert_eq!(
            arcade.token_id(name.as_bytes()),
            None,
            "{name} is not an ordinary token"
        );
        assert_eq!(arcade.decode(&[*id]).unwrap(), *name);
        assert_eq!(
            arcade.encode(name, &AllowedSpecial::All).unwrap(),
            vec![*id]
        );
        let only = AllowedSpecial::Set(BTreeSet::from([name.clone()]));
        assert_eq!(
            arcade.encode(&format!("a{name}b"), &only).unwrap(),
            vec![64, *id, 65]
        );
        // The reference agrees (a check of the reference's construction as much as of ours).
        assert_eq!(
            reference_arcade().encode_with_special_tokens(name),
            vec![*id]
        );
    }
    assert_eq!(arcade.special_token("<|endoftext"), None);
    assert_eq!(arcade.special_token("<|reg8|>"), None);

    let cl = Tokenizer::cl100k_base();
    let listed: Vec<(String, u32)> = cl.special_tokens().to_vec();
    let expected: Vec<(String, u32)> = SPEC_CL100K_SPECIALS
        .iter()
        .map(|&(s, id)| (s.to_string(), id))
        .collect();
    assert_eq!(listed, expected);
    for (name, id) in &expected {
        assert_eq!(cl.special_token(name), Some(*id));
        assert_eq!(cl.decode(&[*id]).unwrap(), *name);
        assert_eq!(
            reference_cl100k().encode_with_special_tokens(name),
            vec![*id]
        );
    }
    // Arcade-only names are not specials of cl100k_base.
    assert_eq!(cl.special_token("<|im_start|>"), None);
    assert!(!cl.is_special(100_277));
    assert_eq!(
        cl.encode("<|im_start|>", &AllowedSpecial::All).unwrap(),
        reference_cl100k().encode_ordinary("<|im_start|>")
    );
}

#[test]
fn tokenizer_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Tokenizer>();
    let a = Tokenizer::arcade100k();
    let b = a.clone();
    std::thread::spawn(move || assert_eq!(b.encode_ordinary("x"), vec![87]))
        .join()
        .unwrap();
    assert_eq!(
        a.encode_ordinary("x"),
        reference_arcade().encode_ordinary("x")
    );
}

#[test]
fn builtin_by_name() {
    assert_eq!(
        Tokenizer::builtin("arcade100k").unwrap().vocab_size(),
        100_289
    );
    assert_eq!(
        Tokenizer::builtin("cl100k_base").unwrap().vocab_size(),
        100_277
    );
    match Tokenizer::builtin("gpt2") {
        Err(LoadError::UnknownEncoding { name }) => assert_eq!(name, "gpt2"),
        other => panic!("expected UnknownEncoding, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

#[test]
fn unknown_ids_are_decode_errors() {
    let ranks = parse_ranks(cl100k_ranks_file());
    assert!(
        ranks.values().all(|&r| r != 100_256),
        "100256 is unused in cl100k_base"
    );
    let arcade = Tokenizer::arcade100k();
    for (id, position, ids) in [
        (100_256, 1, vec![9906, 100_256]),
        (100_289, 0, vec![100_289]),
        (100_289, 2, vec![100_257, 100_288, 100_289, 100_257]),
        (u32::MAX, 0, vec![u32::MAX]),
    ] {
        let expected = DecodeError {
            id,
            position,
            vocab_size: 100_289,
        };
        assert_eq!(arcade.decode_bytes(&ids), Err(expected.clone()), "{ids:?}");
        assert_eq!(arcade.decode(&ids), Err(expected.clone()), "{ids:?}");
        let message = expected.to_string();
        assert!(
            message.contains(&id.to_string()) && message.contains(&format!("position {position}")),
            "{message}"
        );
    }
    assert_eq!(arcade.token_bytes(100_256), None);
    assert_eq!(arcade.token_bytes(100_289), None);
    assert!(!arcade.is_special(100_256));
    assert_eq!(arcade.decode(&[]).unwrap(), "");
    assert_eq!(arcade.decode_bytes(&[]).unwrap(), b"");
}

#[test]
fn decode_of_a_split_character_is_lossy_but_exact_in_bytes() {
    let arcade = Tokenizer::arcade100k();
    // A rare CJK character is several byte-level tokens.
    let text = "𠜎";
    let ids = reference_arcade().encode_ordinary(text);
    assert!(ids.len() > 1, "{ids:?}");
    assert_eq!(arcade.decode(&ids[..1]).unwrap(), "\u{fffd}");
    let mut bytes = arcade.decode_bytes(&ids[..1]).unwrap();
    bytes.extend(arcade.decode_bytes(&ids[1..]).unwrap());
    assert_eq!(bytes, text.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// Special tokens in text

#[test]
fn special_strings_are_plain_text_in_ordinary_encoding() {
    let arcade = Tokenizer::arcade100k();
    for text in [
        "<|endoftext|>",
        "a web page that says <|endoftext|> in the middle",
        "<|im_start|>user\nhi<|im_end|>\n<filename>x.py",
        "<|endoftext|><|endoftext|>",
    ] {
        let ids = arcade.encode_ordinary(text);
        assert!(!ids.iter().any(|&id| id >= 100_257), "{text:?} -> {ids:?}");
        assert_eq!(ids, reference_arcade().encode_ordinary(text), "{text:?}");
        assert_eq!(arcade.count_tokens(text), ids.len());
        assert_eq!(arcade.decode(&ids).unwrap(), text);
        assert_eq!(arcade.encode_batch(&[text]), vec![ids]);
    }
}

#[test]
fn disallowed_special_error_offsets() {
    let arcade = Tokenizer::arcade100k();
    let err = |token: &str, offset| {
        Err(EncodeError::DisallowedSpecial {
            token: token.to_string(),
            offset,
        })
    };
    assert_eq!(
        arcade.encode("<|endoftext|>", &AllowedSpecial::None),
        err("<|endoftext|>", 0)
    );
    assert_eq!(
        arcade.encode("abc <|im_start|>", &AllowedSpecial::None),
        err("<|im_start|>", 4)
    );
    // Offsets are in bytes: "é" is two, "中" three.
    assert_eq!(
        arcade.encode("é中<filename>", &AllowedSpecial::None),
        err("<filename>", 5)
    );
    assert_eq!(
        arcade.encode("x<<|reg7|>>", &AllowedSpecial::None),
        err("<|reg7|>", 2)
    );
    // The first of several.
    assert_eq!(
        arcade.encode("a<|im_end|>b<|endoftext|>", &AllowedSpecial::None),
        err("<|im_end|>", 1)
    );
    // A set: allowed ones pass, the first other one is the error.
    let set = AllowedSpecial::Set(BTreeSet::from([
        "<|endoftext|>".to_string(),
        "not a special".to_string(),
    ]));
    assert_eq!(
        arcade.encode("a<|endoftext|>b<|im_end|>", &set),
        err("<|im_end|>", 15)
    );
    assert_eq!(
        arcade.encode("a<|endoftext|>b", &set).unwrap(),
        reference_arcade().encode_with_special_tokens("a<|endoftext|>b")
    );
    // Fragments are not special.
    for text in [
        "<|endof",
        "<|endoftext",
        "endoftext|>",
        "<|ENDOFTEXT|>",
        "<| endoftext|>",
        "<filename",
    ] {
        assert_eq!(
            arcade.encode(text, &AllowedSpecial::None).unwrap(),
            reference_arcade().encode_ordinary(text)
        );
    }
    // The message names the token and its offset.
    let message = arcade
        .encode("abc <|im_start|>", &AllowedSpecial::None)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("<|im_start|>") && message.contains('4'),
        "{message}"
    );
    // cl100k_base: its own specials only.
    let cl = Tokenizer::cl100k_base();
    assert_eq!(
        cl.encode("hi <|endofprompt|>", &AllowedSpecial::None),
        err("<|endofprompt|>", 3)
    );
    assert_eq!(
        cl.encode("<|im_start|>", &AllowedSpecial::None).unwrap(),
        reference_cl100k().encode_ordinary("<|im_start|>")
    );
}

#[test]
fn encode_into_appends_and_keeps_the_ids_before_an_offence() {
    let arcade = Tokenizer::arcade100k();
    let mut out = vec![7, 8];
    arcade.encode_ordinary_into("hello world", &mut out);
    let mut expected = vec![7, 8];
    expected.extend(reference_arcade().encode_ordinary("hello world"));
    assert_eq!(out, expected);

    // Documented: "On error `out` holds the ids before the offence."
    let set = AllowedSpecial::Set(BTreeSet::from(["<|endoftext|>".to_string()]));
    let text = "hi<|endoftext|>there<|im_end|>";
    let mut out = Vec::new();
    let result = arcade.encode_into(text, &set, &mut out);
    assert_eq!(
        result,
        Err(EncodeError::DisallowedSpecial {
            token: "<|im_end|>".into(),
            offset: 20
        })
    );
    assert_eq!(
        out,
        reference_arcade().encode_with_special_tokens("hi<|endoftext|>there"),
        "ids before the offence"
    );
}

// ---------------------------------------------------------------------------------------------
// Batch encoding

#[test]
fn encode_batch_equals_sequential() {
    let mut texts: Vec<String> = Vec::new();
    let (docs, _) = common::walk_corpus(&common::fixtures_dir().join("multilingual"));
    texts.extend(docs.into_iter().take(3000).map(|d| d.text));
    texts.extend(["", " ", "<|endoftext|>", "12345", "\n\n\n"].map(String::from));
    assert!(
        texts.len() > 100,
        "fixtures/multilingual gave only {} documents",
        texts.len()
    );
    for tok in [Tokenizer::arcade100k(), Tokenizer::cl100k_base()] {
        let batch = tok.encode_batch(&texts);
        assert_eq!(batch.len(), texts.len());
        for (text, ids) in texts.iter().zip(&batch) {
            assert_eq!(*ids, tok.encode_ordinary(text), "{text:?}");
        }
    }
    let batch = Tokenizer::arcade100k().encode_batch(&texts);
    for (text, ids) in texts.iter().zip(&batch) {
        assert_eq!(*ids, reference_arcade().encode_ordinary(text), "{text:?}");
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    assert_eq!(Tokenizer::arcade100k().encode_batch(&refs), batch);
    assert!(Tokenizer::arcade100k().encode_batch::<&str>(&[]).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Long single pieces (no timing assertions: these only have to finish; timing is for benchmarks)

/// A deterministic xorshift generator, so that inputs are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn long_inputs(len: usize) -> Vec<(&'static str, String)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let punct = b"!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~";
    let punctuation: String = (0..len)
        .map(|_| punct[(rng.next() % punct.len() as u64) as usize] as char)
        .collect();
    let mut cjk = String::with_capacity(len);
    while cjk.len() + 3 <= len {
        cjk.push(char::from_u32(0x4e00 + (rng.next() % (0x9fff - 0x4e00)) as u32).unwrap());
    }
    vec![
        ("single letter run", "a".repeat(len)),
        ("punctuation run", punctuation),
        ("random CJK run", cjk),
        ("space run", format!("{}x", " ".repeat(len - 1))),
        ("digit run", "7".repeat(len)),
    ]
}

#[test]
fn long_runs_encode_exactly() {
    let arcade = Tokenizer::arcade100k();
    // 1 MB: must finish and round-trip (quadratic behaviour would not finish in test time).
    for (what, text) in long_inputs(1 << 20) {
        let ids = arcade.encode_ordinary(&text);
        assert_eq!(arcade.count_tokens(&text), ids.len(), "{what}");
        assert!(
            arcade.decode_bytes(&ids).unwrap() == text.as_bytes(),
            "{what}: round trip"
        );
        if what == "digit run" {
            // Arcade100k: every digit is a piece of its own.
            let seven = parse_ranks(cl100k_ranks_file())[&b"7"[..]];
            assert!(
                ids.len() == text.len() && ids.iter().all(|&id| id == seven),
                "{what}"
            );
        } else {
            assert!(
                ids.len() < text.len(),
                "{what}: {} ids for {} bytes",
                ids.len(),
                text.len()
            );
        }
    }
    // 100 KB: equal to the reference.
    for (what, text) in long_inputs(100_000) {
        assert!(
            arcade.encode_ordinary(&text) == reference_arcade().encode_ordinary(&text),
            "{what} (100 KB)"
        );
        let cl = Tokenizer::cl100k_base();
        assert!(
            cl.encode_ordinary(&text) == reference_cl100k().encode_ordinary(&text),
            "{what} (100 KB, cl100k)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// from_tiktoken

/// A ranks file of the 256 single bytes (rank = byte value, in order) and then `extra` lines.
fn tiny_ranks(skip_byte: Option<u8>, extra: &[&str]) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = String::new();
    for b in 0..=255u8 {
        if Some(b) != skip_byte {
            out.push_str(&format!("{} {b}\n", b64.encode([b])));
        }
    }
    for line in extra {
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn load(ranks: &[u8], pattern: &str, specials: &[(&str, u32)]) -> Result<Tokenizer, LoadError> {
    Tokenizer::from_tiktoken(
        "test",
        ranks,
        pattern,
        specials.iter().map(|&(s, id)| (s.to_string(), id)),
    )
}

#[test]
fn from_tiktoken_accepts_a_small_vocabulary_and_matches_the_reference() {
    let extra = [
        format!("{} 256", b64(b"ab")),
        format!("{} 257", b64(b"abab")),
        format!("{} 258", b64(b" ab")),
    ];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let ranks = tiny_ranks(None, &extra);
    // No specials and exactly 256 ids: the padded size is already a multiple of 64.
    let bytes_only = load(&tiny_ranks(None, &[]), ARCADE100K_PATTERN, &[]).unwrap();
    assert_eq!(
        (bytes_only.vocab_size(), bytes_only.padded_vocab_size()),
        (256, 256)
    );
    assert_eq!(
        bytes_only
            .encode("<|endoftext|>", &AllowedSpecial::All)
            .unwrap(),
        b"<|endoftext|>".map(u32::from)
    );
    let ours = load(&ranks, ARCADE100K_PATTERN, &[("<s>", 300)]).unwrap();
    assert_eq!(ours.vocab_size(), 301);
    assert_eq!(ours.padded_vocab_size(), 320);
    assert_eq!(ours.ordinary_token_count(), 259);
    assert_eq!(ours.ranks_sha256(), sha256_hex(&ranks));
    let specials: FxHashMap<String, u32> = [("<s>".to_string(), 300)].into_iter().collect();
    let reference = CoreBPE::new(parse_ranks(&ranks), specials, SPEC_ARCADE_PATTERN).unwrap();
    for text in ["abab", "ababab ab", "aba<s>bab", "'s 12 ab\n\n ab"] {
        assert_eq!(
            ours.encode_ordinary(text),
            reference.encode_ordinary(text),
            "{text:?}"
        );
        assert_eq!(
            ours.encode(text, &AllowedSpecial::All).unwrap(),
            reference.encode_with_special_tokens(text)
        );
    }
    // An id in neither table (here 299: below the special, above the ranks) is unknown.
    assert_eq!(
        ours.decode(&[299]),
        Err(DecodeError {
            id: 299,
            position: 0,
            vocab_size: 301
        })
    );
}

#[test]
fn from_tiktoken_bad_base64_names_the_line() {
    let ranks = tiny_ranks(None, &["@@not base64@@ 256"]);
    let err = load(&ranks, ARCADE100K_PATTERN, &[]).unwrap_err();
    assert!(matches!(err, LoadError::Ranks { line: 257, .. }), "{err:?}");
    assert!(err.to_string().contains("line 257"), "{err}");
    // Other malformed lines also name their line.
    for (bad, what) in [
        ("YWI= x", "rank not a number"),
        ("YWI=", "one field"),
        ("YWI= 256 7", "three fields"),
    ] {
        let err = load(
            &tiny_ranks(None, &["YWJj 256", bad]),
            ARCADE100K_PATTERN,
            &[],
        )
        .unwrap_err();
        assert!(
            matches!(err, LoadError::Ranks { line: 258, .. }),
            "{what}: {err:?}"
        );
        assert!(err.to_string().contains("line 258"), "{what}: {err}");
    }
    assert!(load(b"", ARCADE100K_PATTERN, &[]).is_err(), "an empty file");
}

#[test]
fn from_tiktoken_duplicate_rank() {
    let line = format!("{} 97", b64(b"ab"));
    let err = load(&tiny_ranks(None, &[&line]), ARCADE100K_PATTERN, &[]).unwrap_err();
    assert!(matches!(err, LoadError::Ranks { line: 257, .. }), "{err:?}");
    assert!(err.to_string().contains("97"), "{err}");
    // The same bytes twice.
    let line = format!("{} 256", b64(b"a"));
    let err = load(&tiny_ranks(None, &[&line]), ARCADE100K_PATTERN, &[]).unwrap_err();
    assert!(matches!(err, LoadError::Ranks { line: 257, .. }), "{err:?}");
}

#[test]
fn from_tiktoken_missing_byte_token() {
    let err = load(&tiny_ranks(Some(0x41), &[]), ARCADE100K_PATTERN, &[]).unwrap_err();
    assert!(
        matches!(err, LoadError::MissingByte { byte: 0x41 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("0x41"), "{err}");
}

#[test]
fn from_tiktoken_special_id_clash() {
    let ranks = tiny_ranks(None, &[]);
    let err = load(&ranks, ARCADE100K_PATTERN, &[("<x>", 97)]).unwrap_err();
    assert!(
        matches!(&err, LoadError::SpecialIdClash { id: 97, name, .. } if name == "<x>"),
        "{err:?}"
    );
    let err = load(&ranks, ARCADE100K_PATTERN, &[("<x>", 300), ("<y>", 300)]).unwrap_err();
    assert!(
        matches!(err, LoadError::SpecialIdClash { id: 300, .. }),
        "{err:?}"
    );
    let err = load(&ranks, ARCADE100K_PATTERN, &[("<x>", 300), ("<x>", 301)]).unwrap_err();
    assert!(
        matches!(err, LoadError::DuplicateSpecial(ref n) if n == "<x>"),
        "{err:?}"
    );
    let err = load(&ranks, ARCADE100K_PATTERN, &[("", 300)]).unwrap_err();
    assert!(matches!(err, LoadError::EmptySpecial), "{err:?}");
}

#[test]
fn from_tiktoken_bad_pattern() {
    let ranks = tiny_ranks(None, &[]);
    for pattern in [r"(unclosed", r"\p{NoSuchClass}", r"[z-a]"] {
        let err = load(&ranks, pattern, &[]).unwrap_err();
        assert!(matches!(err, LoadError::Pattern(_)), "{pattern}: {err:?}");
    }
}

/// tiktoken's current cl100k_base pattern (possessive quantifiers, `\s++$`) as tiktoken-rs 0.12
/// spells it. Its `\s++$` branch keeps a trailing white-space run whole where the original pattern
/// cuts it after its last newline; with cl100k_base's vocabulary no token spans that cut, so the ids
/// agree, but with a vocabulary that has a "\n " token they do not.
const TIKTOKEN_CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

#[test]
fn from_tiktoken_with_tiktokens_cl100k_pattern_matches_the_reference_on_any_vocabulary() {
    let line = format!("{} 256", b64(b"\n "));
    let ranks = tiny_ranks(None, &[&line]);
    let ours = load(&ranks, TIKTOKEN_CL100K_PATTERN, &[]).unwrap();
    let reference = CoreBPE::new(
        parse_ranks(&ranks),
        FxHashMap::default(),
        TIKTOKEN_CL100K_PATTERN,
    )
    .unwrap();
    for text in ["a\n b", "a\n ", "a\n\n ", "x \n  "] {
        assert_eq!(
            ours.encode_ordinary(text),
            reference.encode_ordinary(text),
            "{text:?}"
        );
    }
}

#[test]
fn tiktokens_cl100k_pattern_and_builtin_agree_with_reference_cl100k() {
    let ours = load(cl100k_ranks_file(), TIKTOKEN_CL100K_PATTERN, &[]).unwrap();
    for text in ["a\n ", "a\n\n   ", "x \n\t", "hello world\n  ", "  \n \n  "] {
        let expected = reference_cl100k().encode_ordinary(text);
        assert_eq!(ours.encode_ordinary(text), expected, "{text:?}");
        assert_eq!(
            Tokenizer::cl100k_base().encode_ordinary(text),
            expected,
            "{text:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// o200k_base from its file

#[test]
fn o200k_base_from_file_matches_reference() {
    let Some(ours) = common::ours_o200k() else {
        return;
    };
    let path = common::o200k_file_path().unwrap();
    let ranks = parse_ranks(&std::fs::read(path).unwrap());
    assert_eq!(ours.ordinary_token_count(), ranks.len());
    assert_eq!(ours.vocab_size(), 200_019);
    assert_eq!(ours.padded_vocab_size(), 200_064);
    for (name, id) in SPEC_O200K_SPECIALS {
        assert_eq!(ours.special_token(name), Some(id));
    }
    let reference = reference_o200k();
    for text in [
        "Hello, world! It's 2024-06-01; we'LL see.",
        "HTTPServer parseJSONResponse XMLHttpRequest",
        "path/to/file.rs\n\n  fn main() {}\r\n",
        "数学 الرياضيات гипотеза 123456789 ½ Ⅻ",
        "<|endoftext|> and <|endofprompt|>",
        "  \n\t\u{3000} trailing  ",
    ] {
        assert_eq!(
            ours.encode_ordinary(text),
            reference.encode_ordinary(text),
            "{text:?}"
        );
        assert_eq!(
            ours.count_tokens(text),
            reference.encode_ordinary(text).len(),
            "{text:?}"
        );
        assert_eq!(
            ours.encode(text, &AllowedSpecial::All).unwrap(),
            reference.encode_with_special_tokens(text),
            "{text:?}"
        );
    }
    // Its specials are not Arcade's.
    let set: HashSet<&str> = reference.bpe.special_tokens();
    assert_eq!(set, SPEC_O200K_SPECIALS.iter().map(|(s, _)| *s).collect());
}

// ---------------------------------------------------------------------------------------------
// The per-thread piece cache

/// Texts whose pieces are mostly not tokens, so that they go through the merge loop and the cache.
fn rare_words(count: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut text = String::with_capacity(count * 12);
    for _ in 0..count {
        text.push(' ');
        for _ in 0..(6 + rng.next() % 8) {
            text.push((b'a' + (rng.next() % 26) as u8) as char);
        }
    }
    text
}

#[test]
fn interleaved_tokenizers_do_not_share_cached_pieces() {
    // Same thread, alternating encodings over the same rare pieces: a cache entry of one
    // vocabulary must never answer for another.
    let text = rare_words(2000, 1);
    let custom = load(&tiny_ranks(None, &[]), ARCADE100K_PATTERN, &[]).unwrap();
    let bytes_only: Vec<u32> = text.bytes().map(u32::from).collect();
    let o200k = common::ours_o200k();
    for _ in 0..3 {
        assert!(
            Tokenizer::arcade100k().encode_ordinary(&text)
                == reference_arcade().encode_ordinary(&text)
        );
        assert!(custom.encode_ordinary(&text) == bytes_only);
        if let Some(o200k) = o200k {
            assert!(o200k.encode_ordinary(&text) == reference_o200k().encode_ordinary(&text));
        }
        assert_eq!(
            Tokenizer::arcade100k().count_tokens(&text),
            reference_arcade().encode_ordinary(&text).len()
        );
        assert_eq!(custom.count_tokens(&text), text.len());
    }
}

#[test]
fn piece_cache_overflow_is_exact() {
    // More distinct non-token pieces than the cache holds, encoded twice in one thread.
    let text = rare_words(400_000, 2);
    let expected = reference_arcade().encode_ordinary(&text);
    let arcade = Tokenizer::arcade100k();
    for pass in 0..2 {
        let ids = arcade.encode_ordinary(&text);
        if ids != expected {
            let at = ids
                .iter()
                .zip(&expected)
                .take_while(|(a, b)| a == b)
                .count();
            panic!("pass {pass}: first difference at id #{at}");
        }
        assert_eq!(arcade.count_tokens(&text), expected.len(), "pass {pass}");
    }
}

// ---------------------------------------------------------------------------------------------
// A hostile ranks file: one huge rank

/// Run in a child process (see below): loading a ranks file whose last rank is four billion.
#[test]
#[ignore = "run by from_tiktoken_huge_rank_is_an_error_not_an_abort in a memory-limited child"]
fn huge_rank_child() {
    if std::env::var_os("ARCADE_HUGE_RANK_CHILD").is_none() {
        return;
    }
    let line = format!("{} 4000000000", b64(b"ab"));
    match load(&tiny_ranks(None, &[&line]), ARCADE100K_PATTERN, &[]) {
        Ok(tok) => assert_eq!(tok.encode_ordinary("ab"), vec![4_000_000_000]),
        Err(e) => eprintln!("load error (fine): {e}"),
    }
}

/// One line with rank 4,000,000,000 must give an error (or a working tokenizer), not a process
/// abort from a multi-gigabyte allocation. The child runs under a 4 GiB address-space limit, so
/// that a naive dense table fails fast instead of straining the machine.
#[cfg(target_os = "linux")]
#[test]
fn from_tiktoken_huge_rank_is_an_error_not_an_abort() {
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 4194304 && exec "$0" --ignored --exact huge_rank_child --nocapture --test-threads 1"#)
        .arg(&exe)
        .env("ARCADE_HUGE_RANK_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        stderr.lines().take(8).collect::<Vec<_>>().join("\n")
    );
}
