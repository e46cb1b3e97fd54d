//! `manifest.json`: the record of a pack run. It is written last (temporary name, then rename), so
//! its presence means every file it lists is complete; the checksums let `arcade inspect --verify`
//! prove it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The manifest's file name inside an output directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The value of [`Manifest::format`].
pub const FORMAT_NAME: &str = "arcade-shards";
/// Bumped whenever a reader of an older version would misread the files.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    pub format_version: u32,
    pub arcade_version: String,
    /// `native` (`shard-NNNNN.bin`, fixed-length rows) or `megatron` (`PREFIX.bin` + `PREFIX.idx`).
    pub layout: Layout,
    pub tokenizer: TokenizerInfo,
    /// Tokens per row (native layout); documents are rows of their own length in megatron layout.
    pub seq_len: usize,
    /// numpy dtype string of the token files: `<u4` (native) or `<i4` (megatron).
    pub dtype: String,
    pub seed: u64,
    pub shuffled: bool,
    /// `train`, and `valid` when a validation split was asked for.
    pub splits: BTreeMap<String, SplitInfo>,
    pub sources: Vec<SourceStats>,
    pub totals: DocCounts,
    /// `--dropped DIR`: the dropped documents with their reasons (path as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_file: Option<FileInfo>,
    /// The recipe as run, after command-line overrides.
    pub recipe: serde_json::Value,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Native,
    Megatron,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenizerInfo {
    pub name: String,
    pub ranks_sha256: String,
    pub vocab_size: usize,
    pub padded_vocab_size: usize,
    pub eos_id: u32,
    pub bos_id: Option<u32>,
    /// `none` or `nfc`.
    pub normalization: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SplitInfo {
    /// Directory of the split's files, relative to the output directory (`""` for the top level).
    pub dir: String,
    pub sequences: u64,
    pub tokens: u64,
    /// Documents (copies, after weighting) whose tokens are in this split.
    pub documents: u64,
    /// Tokens left over after the last full row: dropped, or padded into one more row.
    pub partial_row_tokens: u64,
    pub partial_row: PartialRow,
    pub shards: Vec<ShardInfo>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PartialRow {
    #[default]
    Dropped,
    Padded,
}

/// One token file and its companion.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardInfo {
    pub file: String,
    /// Rows (native) or documents (megatron) in the file.
    pub sequences: u64,
    pub tokens: u64,
    pub bytes: u64,
    /// xxh3-64 of the file's bytes, 16 hex digits.
    pub xxh3: String,
    /// Native: `shard-NNNNN.starts.bin`, little-endian u64 token offsets (within the shard) at
    /// which a document starts. Megatron: the `.idx` file.
    pub companion: Option<FileInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileInfo {
    pub file: String,
    pub bytes: u64,
    pub xxh3: String,
}

/// Where every input document went. `read == packed + dropped + malformed` always holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DocCounts {
    pub read: u64,
    pub packed: u64,
    pub dropped: u64,
    pub malformed: u64,
    /// Dropped documents by `stage:rule` (`empty`, `mix:weight`, filter rules, ...).
    pub dropped_by: BTreeMap<String, u64>,
    /// Malformed records by kind.
    pub malformed_by: BTreeMap<String, u64>,
}

impl DocCounts {
    pub fn reconciles(&self) -> bool {
        self.read == self.packed + self.dropped + self.malformed
            && self.dropped == self.dropped_by.values().sum::<u64>()
            && self.malformed == self.malformed_by.values().sum::<u64>()
    }

    pub fn add(&mut self, other: &DocCounts) {
        self.read += other.read;
        self.packed += other.packed;
        self.dropped += other.dropped;
        self.malformed += other.malformed;
        add_by_key(&mut self.dropped_by, &other.dropped_by);
        add_by_key(&mut self.malformed_by, &other.malformed_by);
    }
}

/// Adds every count of `from` to the same key of `into`.
pub(crate) fn add_by_key<V: Copy + Default + std::ops::AddAssign>(
    into: &mut BTreeMap<String, V>,
    from: &BTreeMap<String, V>,
) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += *v;
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceStats {
    pub name: String,
    pub weight: f64,
    pub files: Vec<String>,
    pub documents: DocCounts,
    /// Documents (kept or dropped later) that a stage changed, by `stage:rule`.
    pub changed_by: BTreeMap<String, u64>,
    /// Text bytes those changes removed (negative: added), by the `stage:rule` of each
    /// document's first change.
    #[serde(default)]
    pub changed_bytes_by: BTreeMap<String, i64>,
    /// Packed documents by language label, when a language stage ran.
    #[serde(default)]
    pub packed_by_lang: BTreeMap<String, u64>,
    /// Bytes of text of the packed documents.
    pub text_bytes: u64,
    /// Tokens of the packed documents, each once, EOS (and BOS) included.
    pub tokens: u64,
    /// Tokens this source put into the output after weighting (copies counted).
    pub output_tokens: u64,
    /// This source's share of all output tokens.
    pub token_share: f64,
    /// The first few malformed records, `file:line: what`, for a quick look.
    pub first_errors: Vec<String>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ManifestError::Io(path.display().to_string(), e))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| ManifestError::Parse(path.display().to_string(), e.to_string()))?;
        if manifest.format != FORMAT_NAME || manifest.format_version > FORMAT_VERSION {
            return Err(ManifestError::Parse(
                path.display().to_string(),
                format!(
                    "format {:?} version {} is not one this arcade reads ({FORMAT_NAME} up to {FORMAT_VERSION}); upgrade arcade",
                    manifest.format, manifest.format_version
                ),
            ));
        }
        Ok(manifest)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0} is not a valid arcade manifest: {1}")]
    Parse(String, String),
}

/// xxh3-64 of a file, streamed, as 16 hex digits.
pub fn file_xxh3(path: &Path) -> std::io::Result<String> {
    let (hash, _) = crate::durable::hash_stream(std::fs::File::open(path)?, |_| {})?;
    Ok(crate::durable::hex_digest(&hash))
}
