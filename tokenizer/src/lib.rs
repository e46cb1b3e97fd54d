//! # arcade-tokenizer
//!
//! An exact, fast implementation of **Arcade100k**, the tokenizer of Stable LM 2: byte-level BPE over
//! the cl100k_base ranks, with a split pattern that keeps every digit its own piece, and 32 special
//! tokens (ids 100257..=100288). cl100k_base is built in too, and any tiktoken-format ranks file can
//! be loaded with its own pattern and special tokens.
//!
//! ```
//! use arcade_tokenizer::Tokenizer;
//!
//! let tok = Tokenizer::arcade100k();
//! let ids = tok.encode_ordinary("Stable LM 2 has 1.6B parameters");
//! assert_eq!(tok.decode(&ids).unwrap(), "Stable LM 2 has 1.6B parameters");
//! assert_eq!(tok.vocab_size(), 100_289);
//! assert_eq!(tok.padded_vocab_size(), 100_352);
//! ```
//!
//! The stages, in the order text meets them: optional NFC normalization ([`Normalization`]), the
//! special-token split (only in [`Tokenizer::encode`]), pre-tokenization (`split.rs`: a hand-written
//! scanner for the built-in patterns, fancy-regex for others), BPE of each piece (`bpe.rs`), and
//! decoding back to bytes.

mod backtrack;
mod backtrack_tables;
mod bpe;
#[cfg(target_endian = "little")]
mod embedded;
mod error;
mod flat_map;
mod ranks;
mod special;
mod split;
mod unicode;
mod unicode_tables;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

pub use error::{DecodeError, EncodeError, LoadError};

/// Arcade100k's split pattern: cl100k_base's with `\p{N}` in place of `\p{N}{1,3}`.
pub const ARCADE100K_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// cl100k_base's split pattern, as published with tiktoken.
pub const CL100K_BASE_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// sha256 of the embedded cl100k_base ranks file (the ordinary vocabulary of both built-ins).
pub const CL100K_BASE_RANKS_SHA256: &str =
    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7";

/// The id of `<|endoftext|>` in both built-in encodings: the end-of-document token.
pub const ENDOFTEXT: u32 = 100_257;

/// Arcade100k's special tokens in id order, from 100257.
pub const ARCADE100K_SPECIALS: [&str; 32] = [
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<gh_stars>",
    "<filename>",
    "<issue_start>",
    "<issue_comment>",
    "<issue_closed>",
    "<jupyter_start>",
    "<jupyter_text>",
    "<jupyter_code>",
    "<jupyter_output>",
    "<empty_output>",
    "<commit_before>",
    "<commit_msg>",
    "<commit_after>",
    "<reponame>",
    "<|endofprompt|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|pause|>",
    "<|reg0|>",
    "<|reg1|>",
    "<|reg2|>",
    "<|reg3|>",
    "<|reg4|>",
    "<|reg5|>",
    "<|reg6|>",
    "<|reg7|>",
    "<|extra0|>",
];

/// cl100k_base's special tokens and their ids.
pub const CL100K_BASE_SPECIALS: [(&str, u32); 5] = [
    ("<|endoftext|>", 100_257),
    ("<|fim_prefix|>", 100_258),
    ("<|fim_middle|>", 100_259),
    ("<|fim_suffix|>", 100_260),
    ("<|endofprompt|>", 100_276),
];

/// The names [`Tokenizer::builtin`] accepts.
pub const BUILTIN_ENCODINGS: [&str; 2] = ["arcade100k", "cl100k_base"];

/// Models pad their embedding to a multiple of this many rows.
const EMBEDDING_PAD: usize = 64;

/// For a pattern of the cl100k family, the longest digit run it keeps in one piece.
pub(crate) fn known_pattern_digits(pattern: &str) -> Option<usize> {
    match pattern {
        ARCADE100K_PATTERN => Some(1),
        // Only the exact published spellings: later tiktoken releases spell cl100k's pattern with
        // possessive quantifiers and a `\s++$` branch, which keeps a trailing white-space run
        // whole where this one cuts it after its last newline. cl100k_base has no token that
        // spans that cut, but other vocabularies might, so that spelling goes to fancy-regex.
        CL100K_BASE_PATTERN => Some(3),
        _ => None,
    }
}

/// Unicode normalization applied to text before it is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalization {
    /// Encode the text as given. This is what the HF fast tokenizer of Stable LM 2 does.
    #[default]
    None,
    /// NFC first, as the model's original remote-code tokenizer did.
    Nfc,
}

/// Which special-token strings [`Tokenizer::encode`] turns into special ids. Any other special
/// token found in the text is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedSpecial {
    /// None: any special-token string in the text is an error.
    #[default]
    None,
    /// Every special token of the encoding.
    All,
    /// Only these.
    Set(BTreeSet<String>),
}

impl AllowedSpecial {
    fn allows(&self, name: &str) -> bool {
        match self {
            AllowedSpecial::None => false,
            AllowedSpecial::All => true,
            AllowedSpecial::Set(set) => set.contains(name),
        }
    }
}

/// A loaded encoding. Cheap to clone (the tables are shared) and safe to use from many threads.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    inner: Arc<Inner>,
    normalization: Normalization,
}

#[derive(Debug)]
struct Inner {
    name: String,
    /// Distinguishes tokenizers in the per-thread piece caches.
    uid: u64,
    vocab: bpe::Vocab,
    splitter: split::Splitter,
    pattern: String,
    specials: special::Specials,
    ranks_sha256: String,
    vocab_size: usize,
}

impl Tokenizer {
    /// Arcade100k, the tokenizer of Stable LM 2. Built once per process, from tables embedded at
    /// compile time (a few milliseconds).
    pub fn arcade100k() -> Tokenizer {
        static ARCADE: OnceLock<Tokenizer> = OnceLock::new();
        ARCADE
            .get_or_init(|| {
                let specials = ARCADE100K_SPECIALS
                    .iter()
                    .zip(ENDOFTEXT..)
                    .map(|(name, id)| (name.to_string(), id));
                Tokenizer::assemble(
                    "arcade100k",
                    CL100K_BASE_RANKS_SHA256.to_string(),
                    bpe::Vocab::embedded(),
                    ARCADE100K_PATTERN,
                    specials,
                )
                .expect("the embedded Arcade100k tables are valid")
            })
            .clone()
    }

    /// OpenAI's cl100k_base.
    pub fn cl100k_base() -> Tokenizer {
        static CL100K: OnceLock<Tokenizer> = OnceLock::new();
        CL100K
            .get_or_init(|| {
                let specials = CL100K_BASE_SPECIALS
                    .iter()
                    .map(|&(name, id)| (name.to_string(), id));
                Tokenizer::assemble(
                    "cl100k_base",
                    CL100K_BASE_RANKS_SHA256.to_string(),
                    bpe::Vocab::embedded(),
                    CL100K_BASE_PATTERN,
                    specials,
                )
                .expect("the embedded cl100k_base tables are valid")
            })
            .clone()
    }

    /// A built-in encoding by name (see [`BUILTIN_ENCODINGS`]).
    pub fn builtin(name: &str) -> Result<Tokenizer, LoadError> {
        match name {
            "arcade100k" => Ok(Tokenizer::arcade100k()),
            "cl100k_base" => Ok(Tokenizer::cl100k_base()),
            _ => Err(LoadError::UnknownEncoding {
                name: name.to_string(),
            }),
        }
    }

    /// Any tiktoken-format encoding: the ranks file's bytes, its split pattern and its special
    /// tokens. The cl100k pattern family uses the built-in scanner; any other pattern fancy-regex.
    pub fn from_tiktoken(
        name: &str,
        ranks_file: &[u8],
        pattern: &str,
        specials: impl IntoIterator<Item = (String, u32)>,
    ) -> Result<Tokenizer, LoadError> {
        let ranks_sha256 = hex(&Sha256::digest(ranks_file));
        // The embedded ranks come with their tables built at compile time; any other file is
        // parsed, gets every split in its pair map, and builds backtracking tables when needed.
        let vocab = if ranks_sha256 == CL100K_BASE_RANKS_SHA256 {
            bpe::Vocab::embedded()
        } else {
            bpe::Vocab::new(ranks::parse(ranks_file)?, None)?
        };
        Tokenizer::assemble(name, ranks_sha256, vocab, pattern, specials)
    }

    /// A tokenizer of `vocab`, read from the ranks file of that sha256, and the split pattern
    /// and special tokens of an encoding.
    fn assemble(
        name: &str,
        ranks_sha256: String,
        vocab: bpe::Vocab,
        pattern: &str,
        specials: impl IntoIterator<Item = (String, u32)>,
    ) -> Result<Tokenizer, LoadError> {
        static NEXT_UID: AtomicU64 = AtomicU64::new(1);
        let specials = special::Specials::new(specials.into_iter().collect())?;
        for (special, id) in specials.tokens() {
            if let Some(bytes) = vocab.bytes_of(*id) {
                return Err(LoadError::SpecialIdClash {
                    name: special.clone(),
                    id: *id,
                    existing: String::from_utf8_lossy(bytes).into_owned(),
                });
            }
        }
        let max_special = specials
            .tokens()
            .iter()
            .map(|(_, id)| *id as usize + 1)
            .max();
        let vocab_size = vocab.id_limit().max(max_special.unwrap_or(0));
        Ok(Tokenizer {
            inner: Arc::new(Inner {
                name: name.to_string(),
                uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
                splitter: split::Splitter::from_pattern(pattern)?,
                pattern: pattern.to_string(),
                vocab,
                specials,
                ranks_sha256,
                vocab_size,
            }),
            normalization: Normalization::None,
        })
    }

    /// The same encoding with another normalization.
    pub fn with_normalization(mut self, normalization: Normalization) -> Tokenizer {
        self.normalization = normalization;
        self
    }

    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn pattern(&self) -> &str {
        &self.inner.pattern
    }

    /// sha256 (hex) of the ranks file this encoding was built from.
    pub fn ranks_sha256(&self) -> &str {
        &self.inner.ranks_sha256
    }

    /// One past the largest id, ordinary or special (100,289 for Arcade100k).
    pub fn vocab_size(&self) -> usize {
        self.inner.vocab_size
    }

    /// The vocabulary size rounded up to a multiple of 64, as model embeddings are padded
    /// (100,352 for Arcade100k).
    pub fn padded_vocab_size(&self) -> usize {
        self.inner.vocab_size.div_ceil(EMBEDDING_PAD) * EMBEDDING_PAD
    }

    /// How many ordinary (ranked) tokens there are.
    pub fn ordinary_token_count(&self) -> usize {
        self.inner.vocab.len()
    }

    /// Special tokens as (name, id), in the encoding's declared order.
    pub fn special_tokens(&self) -> &[(String, u32)] {
        self.inner.specials.tokens()
    }

    /// The id of a special token by name, e.g. `"<|endoftext|>"`.
    pub fn special_token(&self, name: &str) -> Option<u32> {
        self.inner.specials.id(name)
    }

    /// Whether `id` is one of the special tokens.
    pub fn is_special(&self, id: u32) -> bool {
        self.inner.specials.name(id).is_some()
    }

    /// The bytes of a token id, ordinary or special.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.inner
            .vocab
            .bytes_of(id)
            .or_else(|| self.inner.specials.name(id).map(str::as_bytes))
    }

    /// The id of an ordinary token by its bytes.
    pub fn token_id(&self, bytes: &[u8]) -> Option<u32> {
        self.inner.vocab.id_of(bytes)
    }

    /// Encodes text in which special-token strings are plain text. The default for corpus data: a
    /// web page that contains `<|endoftext|>` must not inject a document boundary.
    pub fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_ordinary_into(text, &mut out);
        out
    }

    /// [`Tokenizer::encode_ordinary`], appending to `out`.
    pub fn encode_ordinary_into(&self, text: &str, out: &mut Vec<u32>) {
        let text = self.normalize(text);
        self.encode_pieces(&text, out);
    }

    /// Encodes text, turning the allowed special-token strings into their ids. A special-token
    /// string that is not allowed is an error naming its byte offset (in the normalized text).
    pub fn encode(&self, text: &str, allowed: &AllowedSpecial) -> Result<Vec<u32>, EncodeError> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_into(text, allowed, &mut out)?;
        Ok(out)
    }

    /// [`Tokenizer::encode`], appending to `out`. On error `out` holds the ids before the offence.
    pub fn encode_into(
        &self,
        text: &str,
        allowed: &AllowedSpecial,
        out: &mut Vec<u32>,
    ) -> Result<(), EncodeError> {
        let text = self.normalize(text);
        let mut start = 0;
        while let Some((at, name, id)) = self.inner.specials.find(&text, start) {
            if !allowed.allows(name) {
                self.encode_pieces(&text[start..at], out);
                return Err(EncodeError::DisallowedSpecial {
                    token: name.to_string(),
                    offset: at,
                });
            }
            self.encode_pieces(&text[start..at], out);
            out.push(id);
            start = at + name.len();
        }
        self.encode_pieces(&text[start..], out);
        Ok(())
    }

    /// How many tokens [`Tokenizer::encode_ordinary`] would produce, without building the ids.
    pub fn count_tokens(&self, text: &str) -> usize {
        let text = self.normalize(text);
        let inner = &*self.inner;
        let mut count = 0;
        let mut scratch = Vec::new();
        bpe::with_piece_encoder(&inner.vocab, inner.uid, |pieces| {
            inner.splitter.for_each_piece(&text, |piece| {
                count += match inner.vocab.id_of(piece) {
                    Some(_) => 1,
                    None => pieces.count(piece, &mut scratch),
                };
            })
        });
        count
    }

    /// [`Tokenizer::encode_ordinary`] over many texts in parallel (rayon); results in input order.
    pub fn encode_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Vec<Vec<u32>> {
        texts
            .par_iter()
            .map(|t| self.encode_ordinary(t.as_ref()))
            .collect()
    }

    /// Decodes ids to the exact bytes they stand for. Unknown ids are an error.
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        self.decode_bytes_into(ids, &mut out)?;
        Ok(out)
    }

    /// [`Tokenizer::decode_bytes`], appending to `out`.
    pub fn decode_bytes_into(&self, ids: &[u32], out: &mut Vec<u8>) -> Result<(), DecodeError> {
        for (position, &id) in ids.iter().enumerate() {
            let bytes = self.token_bytes(id).ok_or(DecodeError {
                id,
                position,
                vocab_size: self.vocab_size(),
            })?;
            out.extend_from_slice(bytes);
        }
        Ok(())
    }

    /// Decodes ids to text; byte sequences that are not valid UTF-8 (a character cut between two
    /// slices of ids) become U+FFFD. Unknown ids are an error.
    pub fn decode(&self, ids: &[u32]) -> Result<String, DecodeError> {
        let bytes = self.decode_bytes(ids)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn normalize<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.normalization {
            Normalization::Nfc if is_nfc_quick(text.chars()) != IsNormalized::Yes => {
                Cow::Owned(text.nfc().collect())
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// The hot path: split, then look each piece up whole, and merge only the pieces that are not
    /// tokens (see the comment at the top of `bpe.rs`).
    #[inline]
    fn encode_pieces(&self, text: &str, out: &mut Vec<u32>) {
        let inner = &*self.inner;
        bpe::with_piece_encoder(&inner.vocab, inner.uid, |pieces| {
            inner
                .splitter
                .for_each_piece(text, |piece| match inner.vocab.id_of(piece) {
                    Some(id) => out.push(id),
                    None => pieces.encode(piece, out),
                })
        });
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
