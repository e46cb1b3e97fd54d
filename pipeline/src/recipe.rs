//! The TOML recipe of `arcade pack`: sources, stages, tokenizer, packing and output.
//!
//! ```toml
//! output = "out/"
//! seq_len = 4096
//! seed = 1234
//!
//! [tokenizer]
//! encoding = "arcade100k"
//!
//! [[source]]
//! name = "web"
//! paths = ["data/web/*.jsonl.zst"]
//! weight = 1.0
//!
//! [[stage]]
//! kind = "length"
//! min_chars = 200
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::read::InputFormat;
use crate::stage::StageSpec;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Output directory.
    pub output: Option<PathBuf>,
    #[serde(default = "default_seq_len")]
    pub seq_len: usize,
    #[serde(default)]
    pub seed: u64,
    /// Shuffle the rows globally (native layout). Off keeps input order.
    #[serde(default = "yes")]
    pub shuffle: bool,
    #[serde(default)]
    pub format: OutputFormat,
    /// Tokens per native shard file (rounded down to whole rows).
    #[serde(default = "default_shard_tokens")]
    pub shard_tokens: u64,
    /// Pad the last partial row with `<|endoftext|>` instead of dropping it.
    #[serde(default)]
    pub pad_final_row: bool,
    /// Prepend this special token to every document (e.g. `"<|endoftext|>"`); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bos: Option<String>,
    /// Documents held out for validation, written to `valid/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
    /// Stop at the first malformed record instead of skipping and counting it.
    #[serde(default)]
    pub strict: bool,
    /// Replace invalid UTF-8 with U+FFFD instead of counting the record as malformed.
    #[serde(default)]
    pub lossy_utf8: bool,
    /// Write the documents that stages drop, with every input field and the reason, to
    /// `DIR/dropped.jsonl.zst` (see `arcade_pipeline::audit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<PathBuf>,
    #[serde(default)]
    pub tokenizer: TokenizerSpec,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceSpec>,
    #[serde(default, rename = "stage")]
    pub stages: Vec<StageSpec>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// `shard-NNNNN.bin` rows of `seq_len` little-endian u32 tokens (numpy.memmap ready).
    #[default]
    Native,
    /// gpt-neox / Megatron-LM indexed dataset: one sequence per document.
    Megatron,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Validation {
    /// This fraction of documents (chosen by a hash of the seed and the document's position).
    Fraction(f64),
    /// About this many tokens: documents are chosen the same way until the split holds them.
    Tokens(u64),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSpec {
    /// `arcade100k` or `cl100k_base`, or the name given to a custom ranks file.
    #[serde(default = "default_encoding")]
    pub encoding: String,
    /// A tiktoken ranks file and its split pattern, for encodings that are not built in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranks: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Special tokens of a custom encoding, name = id; it needs at least `<|endoftext|>`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub specials: std::collections::BTreeMap<String, u32>,
    /// NFC-normalize text before encoding (as the model's original remote-code tokenizer did).
    #[serde(default)]
    pub nfc: bool,
}

impl Default for TokenizerSpec {
    fn default() -> Self {
        TokenizerSpec {
            encoding: default_encoding(),
            ranks: None,
            pattern: None,
            specials: Default::default(),
            nfc: false,
        }
    }
}

/// Why a [`TokenizerSpec`] could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("cannot read ranks file {path}: {source}")]
    RanksFile {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot build an encoding from ranks file {path}: {source}")]
    Custom {
        path: String,
        source: arcade_tokenizer::LoadError,
    },
    #[error(transparent)]
    Builtin(arcade_tokenizer::LoadError),
    #[error("`ranks` and `pattern` go together")]
    Incomplete,
}

impl TokenizerSpec {
    /// Builds the tokenizer: a built-in encoding by name, or a ranks file with its pattern and
    /// special tokens (then `encoding` is the name it goes by); NFC applied if asked.
    pub fn load(&self) -> Result<arcade_tokenizer::Tokenizer, TokenizerError> {
        use arcade_tokenizer::{Normalization, Tokenizer};
        let tokenizer = match (&self.ranks, &self.pattern) {
            (Some(ranks), Some(pattern)) => {
                let path = ranks.display().to_string();
                let data = std::fs::read(ranks).map_err(|source| TokenizerError::RanksFile {
                    path: path.clone(),
                    source,
                })?;
                let specials = self.specials.iter().map(|(name, id)| (name.clone(), *id));
                Tokenizer::from_tiktoken(&self.encoding, &data, pattern, specials)
                    .map_err(|source| TokenizerError::Custom { path, source })?
            }
            (None, None) => Tokenizer::builtin(&self.encoding).map_err(TokenizerError::Builtin)?,
            _ => return Err(TokenizerError::Incomplete),
        };
        Ok(if self.nfc {
            tokenizer.with_normalization(Normalization::Nfc)
        } else {
            tokenizer
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub name: String,
    /// Files or globs; matched files are sorted, so the order is deterministic.
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "format_name")]
    pub format: Option<InputFormat>,
    #[serde(default = "default_field")]
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_field: Option<String>,
    /// How many times this source's documents appear in the output: 0.5 keeps a deterministic
    /// half, 2.0 writes every document twice, 1.5 every document once and half of them twice.
    #[serde(default = "one")]
    pub weight: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("cannot read recipe {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("recipe {path}: {message}")]
    Parse { path: String, message: String },
    #[error("recipe: {0}")]
    Invalid(String),
}

impl Recipe {
    pub fn from_file(path: &std::path::Path) -> Result<Recipe, RecipeError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecipeError::Io {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| RecipeError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Checks what serde cannot: ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), RecipeError> {
        let bad = |m: String| Err(RecipeError::Invalid(m));
        self.validate_sources()?;
        if self.output.is_none() {
            return bad("no output directory: set `output` or pass --output".into());
        }
        if self.seq_len < 2 {
            return bad(format!("seq_len {} is too small", self.seq_len));
        }
        if self.shard_tokens < self.seq_len as u64 {
            return bad(format!(
                "shard_tokens {} is smaller than one row of seq_len {}",
                self.shard_tokens, self.seq_len
            ));
        }
        match self.validation {
            Some(Validation::Fraction(f)) if !(0.0..1.0).contains(&f) => {
                bad(format!("validation fraction {f} must be in [0, 1)"))
            }
            _ => Ok(()),
        }
    }

    /// The checks that matter to any run over the recipe's sources (`pack` and `filter`):
    /// sources exist, have unique names, paths and sane weights, and stages name real sources.
    pub fn validate_sources(&self) -> Result<(), RecipeError> {
        let bad = |m: String| Err(RecipeError::Invalid(m));
        if self.sources.is_empty() {
            return bad("no sources: add a [[source]] table or pass --input".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for s in &self.sources {
            if !names.insert(s.name.as_str()) {
                return bad(format!("source name {:?} is used twice", s.name));
            }
            if !(s.weight.is_finite() && s.weight >= 0.0) {
                return bad(format!(
                    "source {:?}: weight {} must be a number ≥ 0",
                    s.name, s.weight
                ));
            }
            if s.paths.is_empty() {
                return bad(format!("source {:?} has no paths", s.name));
            }
        }
        for stage in &self.stages {
            for name in stage.sources.iter().flatten() {
                if !names.contains(name.as_str()) {
                    return bad(format!(
                        "stage {:?} names unknown source {name:?}",
                        stage.kind
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `InputFormat` as the recipe spells it: jsonl, parquet, text, lines (compression is detected).
mod format_name {
    use super::InputFormat;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &Option<InputFormat>, s: S) -> Result<S::Ok, S::Error> {
        match f {
            Some(f) => s.serialize_str(f.name()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<InputFormat>, D::Error> {
        let name = String::deserialize(d)?;
        super::parse_format(&name)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses a format name as the recipe and the command line spell it. Compressed variants
/// (`jsonl.gz`, `jsonl.zst`) name the same reader: compression is detected from the file.
pub fn parse_format(name: &str) -> Result<InputFormat, String> {
    let base = [".gz", ".zst", ".zstd"]
        .iter()
        .find_map(|c| name.strip_suffix(c))
        .unwrap_or(name);
    base.parse()
}

fn default_seq_len() -> usize {
    4096
}
fn default_shard_tokens() -> u64 {
    1 << 28
}
fn default_encoding() -> String {
    "arcade100k".into()
}
fn default_field() -> String {
    "text".into()
}
fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
