//! Reading an output directory: the manifest, memory-mapped native shards and their document
//! starts, and [`verify`], which checks every file the manifest lists (size, xxh3, shape) and
//! looks for shard files it does not list.
//!
//! Native layout, per split directory (`""` for train, `valid/` for the validation split):
//!
//! ```text
//! shard-NNNNN.bin         little-endian u32 tokens, rows of seq_len back to back:
//!                         numpy.memmap(path, dtype='<u4').reshape(-1, seq_len)
//! shard-NNNNN.starts.bin  little-endian u64 token offsets within the shard (not within a row)
//!                         at which a document starts, strictly increasing
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::durable;
use crate::manifest::{Layout, Manifest, ManifestError, ShardInfo, SplitInfo};
use crate::megatron::{self, Mapped, MegatronIndex};

#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        /// Shown in the message, not chained, so `{:#}` does not print it twice.
        error: io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Megatron(#[from] megatron::MegatronError),
}

pub type Result<T, E = ShardError> = std::result::Result<T, E>;

fn invalid(path: &Path, message: impl Into<String>) -> ShardError {
    ShardError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Maps a file of little-endian integers (which needs a little-endian host).
fn map_le(path: &Path) -> Result<Mapped> {
    if cfg!(target_endian = "big") {
        return Err(invalid(
            path,
            "memory-mapped reading needs a little-endian host",
        ));
    }
    Mapped::open(path).map_err(|error| ShardError::Io {
        action: "open",
        path: path.to_path_buf(),
        error,
    })
}

/// `shard-00003.bin` -> `shard-00003.starts.bin`.
pub fn starts_path(shard: &Path) -> PathBuf {
    let name = shard
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".bin").unwrap_or(&name);
    shard.with_file_name(format!("{stem}.starts.bin"))
}

/// An output directory of `arcade pack`, by its manifest.
#[derive(Debug, Clone)]
pub struct OutputDir {
    dir: PathBuf,
    manifest: Manifest,
}

impl OutputDir {
    pub fn open(dir: impl AsRef<Path>) -> Result<OutputDir> {
        let dir = dir.as_ref().to_path_buf();
        let manifest = Manifest::read(&dir)?;
        Ok(OutputDir { dir, manifest })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn split(&self, name: &str) -> Option<&SplitInfo> {
        self.manifest.splits.get(name)
    }

    /// The directory of a split's files.
    pub fn split_dir(&self, split: &SplitInfo) -> PathBuf {
        if split.dir.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(&split.dir)
        }
    }

    /// The path of a shard's token file.
    pub fn shard_path(&self, split: &SplitInfo, shard: &ShardInfo) -> PathBuf {
        self.split_dir(split).join(&shard.file)
    }

    /// The path of a shard's companion (`.starts.bin` or `.idx`), if it lists one.
    pub fn companion_path(&self, split: &SplitInfo, shard: &ShardInfo) -> Option<PathBuf> {
        shard
            .companion
            .as_ref()
            .map(|c| self.split_dir(split).join(&c.file))
    }

    /// Maps a native shard.
    pub fn open_native(&self, split: &SplitInfo, shard: &ShardInfo) -> Result<NativeShard> {
        if self.manifest.layout != Layout::Native {
            return Err(invalid(
                &self.dir,
                "is a megatron-layout output, not native shards",
            ));
        }
        NativeShard::open(self.shard_path(split, shard), self.manifest.seq_len)
    }

    /// Maps a native shard's document starts.
    pub fn open_starts(&self, split: &SplitInfo, shard: &ShardInfo) -> Result<DocStarts> {
        let path = self
            .companion_path(split, shard)
            .unwrap_or_else(|| starts_path(&self.shard_path(split, shard)));
        DocStarts::open(path)
    }

    /// Maps a megatron-layout dataset (the shard's `.bin` and its `.idx`).
    pub fn open_megatron(&self, split: &SplitInfo, shard: &ShardInfo) -> Result<MegatronIndex> {
        if self.manifest.layout != Layout::Megatron {
            return Err(invalid(
                &self.dir,
                "is a native-layout output, not a megatron dataset",
            ));
        }
        let bin = self.shard_path(split, shard);
        Ok(MegatronIndex::open(megatron::prefix_of(&bin))?)
    }
}

/// A memory-mapped native shard: `rows x seq_len` little-endian u32 tokens.
pub struct NativeShard {
    path: PathBuf,
    seq_len: usize,
    map: Mapped,
}

impl std::fmt::Debug for NativeShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeShard")
            .field("path", &self.path)
            .field("seq_len", &self.seq_len)
            .field("rows", &self.num_rows())
            .finish()
    }
}

impl NativeShard {
    /// Maps a shard; its length must be a whole number of rows.
    pub fn open(path: impl AsRef<Path>, seq_len: usize) -> Result<NativeShard> {
        let path = path.as_ref().to_path_buf();
        if seq_len == 0 {
            return Err(invalid(&path, "seq_len is 0"));
        }
        let map = map_le(&path)?;
        let len = map.bytes().len();
        let row_bytes = seq_len * 4;
        if len % row_bytes != 0 {
            return Err(invalid(
                &path,
                format!(
                    "has {len} bytes, not a whole number of rows of {seq_len} u32 tokens \
                     ({row_bytes} bytes); truncated, or written with another seq_len"
                ),
            ));
        }
        Ok(NativeShard { path, seq_len, map })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Every token, row after row.
    pub fn tokens(&self) -> &[u32] {
        // Whole rows of u32s: checked in `open`.
        self.map.as_slice(&self.path)
    }

    pub fn num_rows(&self) -> usize {
        self.map.bytes().len() / (self.seq_len * 4)
    }

    /// Row `i`. Panics when `i >= num_rows()`.
    pub fn row(&self, i: usize) -> &[u32] {
        &self.tokens()[i * self.seq_len..(i + 1) * self.seq_len]
    }

    pub fn rows(&self) -> std::slice::ChunksExact<'_, u32> {
        self.tokens().chunks_exact(self.seq_len)
    }
}

/// A memory-mapped `shard-NNNNN.starts.bin`.
pub struct DocStarts {
    path: PathBuf,
    map: Mapped,
}

impl std::fmt::Debug for DocStarts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocStarts")
            .field("path", &self.path)
            .field("len", &self.len())
            .finish()
    }
}

impl DocStarts {
    pub fn open(path: impl AsRef<Path>) -> Result<DocStarts> {
        let path = path.as_ref().to_path_buf();
        let map = map_le(&path)?;
        let len = map.bytes().len();
        if len % 8 != 0 {
            return Err(invalid(
                &path,
                format!("has {len} bytes, not a whole number of u64 offsets (truncated?)"),
            ));
        }
        Ok(DocStarts { path, map })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Token offsets within the shard at which a document starts.
    pub fn as_slice(&self) -> &[u64] {
        // Whole u64s: checked in `open`.
        self.map.as_slice(&self.path)
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> std::iter::Copied<std::slice::Iter<'_, u64>> {
        self.as_slice().iter().copied()
    }
}

/// One thing [`verify`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file (path as reached from the directory given to [`verify`]).
    pub file: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// What [`verify`] checked and found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub dir: String,
    pub layout: Layout,
    /// Files read in full and compared with the manifest.
    pub files_checked: u64,
    pub bytes_checked: u64,
    /// Everything wrong, extra files included. Empty means the output is intact.
    pub problems: Vec<Problem>,
    /// Shard-like files the manifest does not list (leftovers of an interrupted run, or of an
    /// earlier run into the same directory): a loader that globs `shard-*.bin` would read them.
    pub extra_files: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks an output directory against its manifest:
/// * every listed file exists with the listed byte size and xxh3;
/// * native: each shard is `sequences x seq_len x 4` bytes, its tokens are in the vocabulary,
///   its starts file is whole u64s, strictly increasing and below the shard's token count;
/// * megatron: each `.idx` is valid and agrees with its `.bin` and the manifest's counts;
/// * split and source counts add up;
/// * no `shard-*` / `*.tmp` file (megatron: also `*.bin` / `*.idx`) the manifest does not list.
///
/// Returns `Err` only when the manifest cannot be read; everything else is a [`Problem`].
pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport> {
    let out = OutputDir::open(dir)?;
    let m = out.manifest();
    let mut v = Verifier {
        out: &out,
        report: VerifyReport {
            dir: out.dir().display().to_string(),
            layout: m.layout,
            files_checked: 0,
            bytes_checked: 0,
            problems: Vec::new(),
            extra_files: Vec::new(),
        },
    };
    let manifest_path = out.dir().join(crate::manifest::MANIFEST_FILE);
    if m.layout == Layout::Native && m.seq_len == 0 {
        v.problem(&manifest_path, "seq_len is 0");
    }
    if !m.totals.reconciles() {
        v.problem(
            &manifest_path,
            format!(
                "totals do not add up: read {} != packed {} + dropped {} + malformed {} (or the \
                 by-reason counts differ from the totals)",
                m.totals.read, m.totals.packed, m.totals.dropped, m.totals.malformed
            ),
        );
    }
    for source in &m.sources {
        if !source.documents.reconciles() {
            v.problem(
                &manifest_path,
                format!("the counts of source `{}` do not add up", source.name),
            );
        }
    }

    // Files listed per directory, for the search for unlisted ones.
    let mut listed: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for (name, split) in &m.splits {
        let split_dir = out.split_dir(split);
        let names = listed.entry(split_dir.clone()).or_default();
        for shard in &split.shards {
            names.insert(shard.file.clone());
            if let Some(c) = &shard.companion {
                names.insert(c.file.clone());
            }
        }
        if !split_dir.is_dir() {
            v.problem(
                &split_dir,
                format!("the directory of split `{name}` is missing"),
            );
            continue;
        }
        let sequences: u64 = split.shards.iter().map(|s| s.sequences).sum();
        let tokens: u64 = split.shards.iter().map(|s| s.tokens).sum();
        if sequences != split.sequences || tokens != split.tokens {
            v.problem(
                &manifest_path,
                format!(
                    "split `{name}` lists {} sequences and {} tokens, but its shards add up to \
                     {sequences} and {tokens}",
                    split.sequences, split.tokens
                ),
            );
        }
        for shard in &split.shards {
            match m.layout {
                Layout::Native => v.native_shard(split, shard),
                Layout::Megatron => v.megatron_shard(split, shard),
            }
        }
    }

    for (split_dir, names) in &listed {
        let Ok(entries) = std::fs::read_dir(split_dir) else {
            continue;
        };
        let mut extra = Vec::new();
        for entry in entries.flatten() {
            if !entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if names.contains(&name) || name == crate::manifest::MANIFEST_FILE {
                continue;
            }
            let shard_like = name.starts_with("shard-")
                || name.ends_with(".tmp")
                || (m.layout == Layout::Megatron
                    && (name.ends_with(".bin") || name.ends_with(".idx")));
            if shard_like {
                extra.push(split_dir.join(&name));
            }
        }
        extra.sort();
        for path in extra {
            v.problem(
                &path,
                "is not listed in the manifest (left over from an interrupted or earlier run?); \
                 delete it, or a loader that globs the directory will read it",
            );
            v.report.extra_files.push(path.display().to_string());
        }
    }
    Ok(v.report)
}

struct Verifier<'a> {
    out: &'a OutputDir,
    report: VerifyReport,
}

/// The first token outside the vocabulary seen by a [`TokenScan`].
struct BadToken {
    offset: u64,
    id: u64,
}

/// Checks that every token of a file is below `vocab_size`, chunk by chunk.
struct TokenScan {
    itemsize: usize,
    signed: bool,
    vocab_size: u64,
    seen: u64,
    bad: Option<BadToken>,
}

impl TokenScan {
    fn feed(&mut self, chunk: &[u8]) {
        if self.bad.is_some() {
            return;
        }
        let n = chunk.len() / self.itemsize;
        let position = match (self.itemsize, self.signed) {
            (4, false) => chunk
                .chunks_exact(4)
                .position(|b| u32::from_le_bytes(b.try_into().unwrap()) as u64 >= self.vocab_size),
            (4, true) => chunk.chunks_exact(4).position(|b| {
                let t = i32::from_le_bytes(b.try_into().unwrap());
                t < 0 || t as u64 >= self.vocab_size
            }),
            _ => chunk
                .chunks_exact(2)
                .position(|b| u16::from_le_bytes(b.try_into().unwrap()) as u64 >= self.vocab_size),
        };
        if let Some(p) = position {
            let b = &chunk[p * self.itemsize..(p + 1) * self.itemsize];
            let id = match (self.itemsize, self.signed) {
                (4, false) => u32::from_le_bytes(b.try_into().unwrap()) as i64,
                (4, true) => i32::from_le_bytes(b.try_into().unwrap()) as i64,
                _ => u16::from_le_bytes(b.try_into().unwrap()) as i64,
            };
            self.bad = Some(BadToken {
                offset: self.seen + p as u64,
                id: id as u64,
            });
        }
        self.seen += n as u64;
    }
}

impl Verifier<'_> {
    fn problem(&mut self, path: &Path, message: impl Into<String>) {
        self.report.problems.push(Problem {
            file: path.display().to_string(),
            message: message.into(),
        });
    }

    /// Checks a file's size and xxh3 against the manifest, streaming its bytes through `scan`.
    /// Returns whether the file is as listed.
    fn check_file(
        &mut self,
        path: &Path,
        bytes: u64,
        xxh3: &str,
        mut scan: Option<&mut TokenScan>,
    ) -> bool {
        let actual = match std::fs::metadata(path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.problem(path, "is missing");
                return false;
            }
            Err(e) => {
                self.problem(path, format!("cannot be read: {e}"));
                return false;
            }
        };
        if actual != bytes {
            self.problem(
                path,
                format!("has {actual} bytes, the manifest says {bytes}"),
            );
            return false;
        }
        let hashed = match File::open(path).and_then(|file| {
            durable::hash_stream(file, |chunk| {
                if let Some(scan) = scan.as_deref_mut() {
                    scan.feed(chunk);
                }
            })
        }) {
            Ok(hashed) => hashed,
            Err(e) => {
                self.problem(path, format!("cannot be read: {e}"));
                return false;
            }
        };
        self.report.bytes_checked += hashed.1;
        self.report.files_checked += 1;
        let digest = durable::hex_digest(&hashed.0);
        if !digest.eq_ignore_ascii_case(xxh3) {
            self.problem(
                path,
                format!(
                    "xxh3 is {digest}, the manifest says {xxh3}: the file changed or is corrupt"
                ),
            );
            return false;
        }
        true
    }

    fn token_scan(&self, itemsize: usize, signed: bool) -> TokenScan {
        TokenScan {
            itemsize,
            signed,
            vocab_size: self.out.manifest().tokenizer.vocab_size as u64,
            seen: 0,
            bad: None,
        }
    }

    fn report_bad_token(&mut self, path: &Path, scan: &TokenScan, row_len: Option<usize>) {
        if let Some(bad) = &scan.bad {
            let tokenizer = &self.out.manifest().tokenizer;
            let whereabouts = match row_len {
                Some(len) if len > 0 => format!(
                    "token {} (row {}, column {})",
                    bad.offset,
                    bad.offset / len as u64,
                    bad.offset % len as u64
                ),
                _ => format!("token {}", bad.offset),
            };
            let id = bad.id as i64;
            let id = if scan.signed && id > i32::MAX as i64 {
                id - (1 << 32)
            } else {
                id
            };
            self.problem(
                path,
                format!(
                    "{whereabouts} is id {id}, outside the vocabulary of {} ({} ids)",
                    tokenizer.name, tokenizer.vocab_size
                ),
            );
        }
    }

    fn native_shard(&mut self, split: &SplitInfo, shard: &ShardInfo) {
        let seq_len = self.out.manifest().seq_len as u64;
        let path = self.out.shard_path(split, shard);
        if shard.bytes != shard.sequences * seq_len * 4 || shard.tokens != shard.sequences * seq_len
        {
            self.problem(
                &path,
                format!(
                    "the manifest lists {} sequences, {} tokens and {} bytes; with seq_len \
                     {seq_len} that should be {} tokens and {} bytes",
                    shard.sequences,
                    shard.tokens,
                    shard.bytes,
                    shard.sequences * seq_len,
                    shard.sequences * seq_len * 4
                ),
            );
        }
        let mut scan = self.token_scan(4, false);
        if self.check_file(&path, shard.bytes, &shard.xxh3, Some(&mut scan)) {
            self.report_bad_token(&path, &scan, Some(seq_len as usize));
        }
        let Some(companion) = &shard.companion else {
            self.problem(&path, "the manifest lists no document-starts file for it");
            return;
        };
        let starts = self.out.split_dir(split).join(&companion.file);
        if !self.check_file(&starts, companion.bytes, &companion.xxh3, None) {
            return;
        }
        // The file matches its checksum; now check what it says.
        match DocStarts::open(&starts) {
            Err(e) => self.problem(&starts, e.to_string()),
            Ok(ds) => {
                let mut prev: Option<u64> = None;
                for (k, s) in ds.iter().enumerate() {
                    if s >= shard.tokens {
                        self.problem(
                            &starts,
                            format!(
                                "start {k} is token {s}, past the shard's {} tokens",
                                shard.tokens
                            ),
                        );
                        break;
                    }
                    if prev.is_some_and(|p| s <= p) {
                        self.problem(
                            &starts,
                            format!(
                                "start {k} ({s}) is not after the one before it ({})",
                                prev.unwrap()
                            ),
                        );
                        break;
                    }
                    prev = Some(s);
                }
            }
        }
    }

    fn megatron_shard(&mut self, split: &SplitInfo, shard: &ShardInfo) {
        let path = self.out.shard_path(split, shard);
        let dtype = self.out.manifest().dtype.clone();
        let mut scan = match dtype.as_str() {
            "<i4" | "int32" => Some(self.token_scan(4, true)),
            "<u2" | "uint16" => Some(self.token_scan(2, false)),
            _ => None,
        };
        if scan.is_none() {
            let manifest_path = self.out.dir().join(crate::manifest::MANIFEST_FILE);
            self.problem(
                &manifest_path,
                format!("dtype `{dtype}` is not a megatron token dtype (<i4 or <u2)"),
            );
        }
        if self.check_file(&path, shard.bytes, &shard.xxh3, scan.as_mut()) {
            if let Some(scan) = &scan {
                self.report_bad_token(&path, scan, None);
            }
        }
        let Some(companion) = &shard.companion else {
            self.problem(&path, "the manifest lists no .idx file for it");
            return;
        };
        let idx = self.out.split_dir(split).join(&companion.file);
        if !self.check_file(&idx, companion.bytes, &companion.xxh3, None) {
            return;
        }
        let prefix = megatron::prefix_of(&path);
        if megatron::idx_path(&prefix) != idx {
            self.problem(
                &idx,
                format!(
                    "is not named after its .bin ({}): loaders will not find it",
                    path.display()
                ),
            );
            return;
        }
        match MegatronIndex::open(&prefix) {
            Err(e) => self.problem(&idx, format!("invalid index: {e}")),
            Ok(index) => {
                if index.len() as u64 != shard.sequences || index.num_tokens() != shard.tokens {
                    self.problem(
                        &idx,
                        format!(
                            "holds {} sequences and {} tokens, the manifest says {} and {}",
                            index.len(),
                            index.num_tokens(),
                            shard.sequences,
                            shard.tokens
                        ),
                    );
                }
                if index.dtype().numpy() != dtype && index.dtype().name() != dtype {
                    self.problem(
                        &idx,
                        format!(
                            "holds {} tokens, the manifest says {dtype}",
                            index.dtype().numpy()
                        ),
                    );
                }
            }
        }
    }
}
