//! Typed errors of the tokenizer crate. Each names what was wrong and where.

use thiserror::Error;

/// A ranks file, pattern or special-token list could not be turned into a tokenizer.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("ranks file line {line}: {message}")]
    Ranks { line: usize, message: String },
    #[error(
        "ranks file has no token for byte 0x{byte:02x}; byte-level BPE needs all 256 single bytes"
    )]
    MissingByte { byte: u8 },
    #[error("invalid split pattern: {0}")]
    Pattern(String),
    #[error("special token {name:?} has id {id}, which ordinary token {existing:?} already uses")]
    SpecialIdClash {
        name: String,
        id: u32,
        existing: String,
    },
    #[error("special token {0:?} is given twice")]
    DuplicateSpecial(String),
    #[error("special token name must not be empty")]
    EmptySpecial,
    #[error("unknown encoding {name:?}; built-in encodings are: arcade100k, cl100k_base (for others pass a ranks file and a pattern)")]
    UnknownEncoding { name: String },
}

/// Encoding with an explicit set of allowed special tokens met a special token outside that set.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    #[error("special token {token:?} at byte {offset} is not allowed; allow it, or encode it as plain text with ordinary encoding")]
    DisallowedSpecial { token: String, offset: usize },
    #[error("the split pattern failed on this input: {0}")]
    Pattern(String),
}

/// An id that is neither an ordinary nor a special token of this encoding.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown token id {id} at position {position} (this encoding has ids below {vocab_size})")]
pub struct DecodeError {
    pub id: u32,
    pub position: usize,
    pub vocab_size: usize,
}
