//! `arcade pack`: sources in, fixed-length training rows out.
//!
//! ```text
//!  read (reader thread) ─▶ stages + tokenize (rayon, in chunks) ─▶ account, mix, pack (in order)
//!        ─▶ scatter rows to bucket files ─▶ per bucket: shuffle ─▶ shard-NNNNN.bin ─▶ manifest.json
//! ```
//!
//! Determinism: every decision about a document (its copies under the source weight, whether it
//! goes to validation) is a hash of the seed and the document's position (source, file, record),
//! documents reach the packer in input order whatever the thread count, and the shuffle is seeded.
//! So the same inputs, recipe and seed give the same bytes.
//!
//! Crash safety: the run's state lives in `OUT/.arcade-run/`. During reading, a checkpoint (the
//! position in the inputs, the statistics, the packers' partial rows and the bucket lengths) is
//! written atomically after the bucket files are synced; `--resume` truncates the buckets to it and
//! carries on, which gives the same bytes as an uninterrupted run. Shards are written under
//! temporary names and renamed when complete, and `manifest.json` is written last. Rows are held
//! in memory instead of the bucket files until they outgrow a bucket's worth or a checkpoint
//! comes due (`Buckets::hold`); a run that ends before either never writes its rows twice, and
//! if it is killed while writing its shards it starts over, having no checkpoint to resume from.

mod buckets;
mod dropped;
mod packer;
mod shard_writer;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arcade_tokenizer::{Normalization, Tokenizer};
use serde::{Deserialize, Serialize};

use crate::batch::{pool_threads, run_ordered, BatchConfig};
use crate::manifest::{
    self, DocCounts, Layout, Manifest, PartialRow, SourceStats, SplitInfo, TokenizerInfo,
};
use crate::megatron::{MegatronDtype, MegatronState, MegatronWriter};
use crate::read::{self, Compression, Document, ReadOptions, RecordError};
use crate::recipe::{OutputFormat, Recipe, Validation};
use crate::stage::{run_stages, ConfiguredStage, Decision, StageRegistry};

use buckets::{mix, Buckets};
use packer::Packer;
use shard_writer::ShardWriter;

/// Where the run keeps its temporary state inside the output directory.
pub const STATE_DIR: &str = ".arcade-run";
const CHECKPOINT_FILE: &str = "checkpoint.json";
/// Bucket files are sized so that one fits comfortably in memory during the shuffle.
const BUCKET_TARGET_BYTES: u64 = 256 << 20;
/// Rows held in memory without shuffling (see `hold_bytes` in `Run::new`).
const HOLD_UNSHUFFLED_BYTES: u64 = 64 << 20;
/// Open bucket files per split at most (file-descriptor limits).
const MAX_BUCKETS: u64 = 512;
/// How many malformed records per source are kept verbatim in the manifest.
const FIRST_ERRORS: usize = 10;

/// How a run is carried out (as opposed to what it produces, which the recipe says).
pub struct PackOptions<'a> {
    pub pool: Option<&'a rayon::ThreadPool>,
    /// Continue an interrupted run in the output directory.
    pub resume: bool,
    /// Replace a previous run's files in the output directory.
    pub overwrite: bool,
    /// Minimum time between checkpoints (zero: after every batch).
    pub checkpoint_interval: Duration,
    /// Called after every batch with the progress so far.
    pub progress: Option<&'a (dyn Fn(&Progress) + Sync)>,
    /// Set from another thread (e.g. on Ctrl-C) to stop at the next checkpoint.
    pub stop: Option<&'a AtomicBool>,
    /// Text bytes per batch handed to the workers (also the checkpoint granularity); `None`:
    /// [`default_batch_bytes`] for the pool's thread count.
    pub batch_bytes: Option<usize>,
}

impl Default for PackOptions<'_> {
    fn default() -> Self {
        PackOptions {
            pool: None,
            resume: false,
            overwrite: false,
            checkpoint_interval: Duration::from_secs(30),
            progress: None,
            stop: None,
            batch_bytes: None,
        }
    }
}

/// Text bytes per batch for `threads` workers: 512 KiB each, from 512 KiB to 4 MiB. The batches
/// in flight (a few: see `batch`) hold text that was read but not yet tokenized; smaller ones
/// keep it in the CPU's caches until the workers read it, and give the reader's memory back
/// sooner. With one thread, 512 KiB took 3.4% less CPU than 4 MiB (alternating runs on four times
/// the benchmark input; with two, 1 MiB 3% less at the same wall time); with many threads, large
/// batches keep every worker busy until the end of each batch.
pub fn default_batch_bytes(threads: usize) -> usize {
    (threads << 19).clamp(512 << 10, 4 << 20)
}

/// Progress of the reading phase.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub documents: u64,
    pub text_bytes: u64,
    pub tokens: u64,
    /// Input bytes of the files finished so far, and of all files (on disk, possibly compressed).
    pub input_bytes_done: u64,
    pub input_bytes_total: u64,
    pub phase: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(transparent)]
    Recipe(#[from] crate::recipe::RecipeError),
    #[error(transparent)]
    Stage(#[from] crate::stage::StageError),
    #[error(transparent)]
    Read(#[from] read::ReadError),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("tokenizer: {0}")]
    TokenizerSpec(#[from] crate::recipe::TokenizerError),
    #[error("{0} (--strict stops at the first bad record; without it such records are skipped and counted)")]
    Strict(String),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("output directory {0} already holds an arcade run; pass --resume to continue it or --overwrite to replace it")]
    OutputExists(String),
    #[error("cannot resume in {dir}: {why}; pass --overwrite to start again")]
    CannotResume { dir: String, why: String },
    #[error("{0} exists from an earlier run; pass --overwrite to replace it or choose another --dropped directory")]
    DroppedExists(String),
    #[error("stopped at a checkpoint; run again with --resume to continue")]
    Stopped,
    #[error(transparent)]
    Megatron(#[from] crate::megatron::MegatronError),
}

impl From<crate::durable::FileError> for PackError {
    fn from(e: crate::durable::FileError) -> Self {
        PackError::Io {
            path: e.path.display().to_string(),
            source: io::Error::new(e.error.kind(), format!("cannot {}: {}", e.action, e.error)),
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PackError + '_ {
    move |source| PackError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Runs a recipe to the end and returns the manifest it wrote.
pub fn pack(
    recipe: &Recipe,
    registry: &StageRegistry,
    options: &PackOptions,
) -> Result<Manifest, PackError> {
    recipe.validate()?;
    let out = recipe.output.clone().expect("validated");
    let tokenizer = recipe.tokenizer.load()?;
    let stages = recipe
        .stages
        .iter()
        .map(|s| registry.build(s))
        .collect::<Result<Vec<_>, _>>()?;
    let eos = tokenizer
        .special_token("<|endoftext|>")
        .ok_or_else(|| PackError::Tokenizer("the encoding has no <|endoftext|> token".into()))?;
    let bos = match &recipe.bos {
        Some(name) => Some(tokenizer.special_token(name).ok_or_else(|| {
            PackError::Tokenizer(format!(
                "bos {name:?} is not a special token of {}",
                tokenizer.name()
            ))
        })?),
        None => None,
    };

    let inputs = Inputs::expand(recipe)?;
    let recipe_json = serde_json::to_value(recipe).expect("recipes serialize");
    let fingerprint = inputs.fingerprint(&recipe_json);

    let state_dir = out.join(STATE_DIR);
    let checkpoint = match prepare_output(&out, &state_dir, &fingerprint, options)? {
        Start::Fresh => {
            if let Some(dir) = &recipe.dropped {
                let old = dir.join(dropped::DROPPED_FILE);
                if old.exists() && !options.overwrite {
                    return Err(PackError::DroppedExists(old.display().to_string()));
                }
                if old.exists() {
                    fs::remove_file(&old).map_err(io_err(&old))?;
                }
            }
            None
        }
        Start::Resume(checkpoint) => Some(checkpoint),
        Start::Complete => {
            return Manifest::read(&out).map_err(|e| PackError::CannotResume {
                dir: out.display().to_string(),
                why: e.to_string(),
            })
        }
    };

    let mut run = Run::new(
        recipe,
        &tokenizer,
        &stages,
        &inputs,
        &state_dir,
        eos,
        bos,
        fingerprint,
        checkpoint,
    )?;
    run.read_all(options)?;
    run.finish(&out, recipe_json, &tokenizer, eos, bos)
}

/// The input files of every source, expanded once at the start.
struct Inputs {
    files: Vec<Vec<PathBuf>>,
    sizes: Vec<Vec<u64>>,
}

impl Inputs {
    fn expand(recipe: &Recipe) -> Result<Inputs, PackError> {
        let mut files = Vec::new();
        let mut sizes = Vec::new();
        for source in &recipe.sources {
            let paths = read::expand_inputs(&source.paths)?;
            let s = paths
                .iter()
                .map(|p| fs::metadata(p).map(|m| m.len()).map_err(io_err(p)))
                .collect::<Result<Vec<_>, _>>()?;
            files.push(paths);
            sizes.push(s);
        }
        Ok(Inputs { files, sizes })
    }

    /// Identifies the run: the recipe as run and each input's path and size.
    fn fingerprint(&self, recipe: &serde_json::Value) -> String {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(recipe.to_string().as_bytes());
        for (paths, sizes) in self.files.iter().zip(&self.sizes) {
            for (p, s) in paths.iter().zip(sizes) {
                h.update(p.to_string_lossy().as_bytes());
                h.update(&s.to_le_bytes());
            }
        }
        format!("{:016x}", h.digest())
    }

    fn total_bytes(&self) -> u64 {
        self.sizes.iter().flatten().sum()
    }

    /// Rough size of the rows a source's files turn into (4-byte tokens of about 4 bytes of text
    /// each; compressed files expand about 4×), to size the shuffle buckets.
    fn estimated_row_bytes(&self, recipe: &Recipe) -> u64 {
        let mut total = 0.0;
        for (i, source) in recipe.sources.iter().enumerate() {
            for (p, s) in self.files[i].iter().zip(&self.sizes[i]) {
                let factor = match read::InputFormat::detect(p) {
                    (read::InputFormat::Parquet, _)
                    | (_, Some(Compression::Gzip | Compression::Zstd)) => 4.0,
                    _ => 1.0,
                };
                total += *s as f64 * factor * source.weight.max(0.0);
            }
        }
        total as u64
    }
}

/// How a run begins, given what its output directory holds.
enum Start {
    Fresh,
    Resume(Checkpoint),
    /// `--resume` on a run that had finished: its manifest is the answer.
    Complete,
}

/// Makes sure the output directory may be written, and loads the checkpoint to resume from.
fn prepare_output(
    out: &Path,
    state_dir: &Path,
    fingerprint: &str,
    options: &PackOptions,
) -> Result<Start, PackError> {
    let has_run = out.join(manifest::MANIFEST_FILE).exists() || state_dir.exists();
    let dir = || out.display().to_string();
    if has_run && options.overwrite {
        remove_run(out).map_err(io_err(out))?;
    } else if has_run && options.resume {
        let path = state_dir.join(CHECKPOINT_FILE);
        if !path.exists() {
            if out.join(manifest::MANIFEST_FILE).exists() {
                return Ok(Start::Complete);
            }
            // Killed before the first checkpoint: nothing to keep.
            remove_run(out).map_err(io_err(out))?;
        } else {
            let text = fs::read_to_string(&path).map_err(io_err(&path))?;
            let cp: Checkpoint =
                serde_json::from_str(&text).map_err(|e| PackError::CannotResume {
                    dir: dir(),
                    why: format!("checkpoint is unreadable ({e})"),
                })?;
            if cp.fingerprint != fingerprint {
                return Err(PackError::CannotResume {
                    dir: dir(),
                    why: "the recipe or the input files changed since the interrupted run".into(),
                });
            }
            return Ok(Start::Resume(cp));
        }
    } else if has_run {
        return Err(PackError::OutputExists(dir()));
    }
    fs::create_dir_all(state_dir).map_err(io_err(state_dir))?;
    Ok(Start::Fresh)
}

/// Deletes what a run writes (and nothing else) from an output directory.
fn remove_run(out: &Path) -> io::Result<()> {
    for dir in [out.to_path_buf(), out.join("valid")] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = (name.starts_with("shard-")
                && (name.ends_with(".bin") || name.ends_with(".tmp")))
                || name == manifest::MANIFEST_FILE
                || name.starts_with("megatron")
                || name.starts_with(&format!("{}.", manifest::MANIFEST_FILE));
            if ours {
                fs::remove_file(entry.path())?;
            }
        }
    }
    let state = out.join(STATE_DIR);
    if state.exists() {
        fs::remove_dir_all(state)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Checkpoint {
    fingerprint: String,
    phase: Phase,
    sources: Vec<SourceStats>,
    splits: Vec<SplitCheckpoint>,
    /// Where the `--dropped` file was at the checkpoint.
    #[serde(default)]
    dropped: Option<dropped::DroppedCheckpoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
enum Phase {
    /// Reading: the next record to read is record `records` (0-based count of records already
    /// taken) of file `file` of source `source`.
    Reading {
        source: usize,
        file: usize,
        records: u64,
    },
    /// Every input was read; the buckets are complete.
    Read,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SplitCheckpoint {
    /// Native layout: the packer's partial row, rows written and bucket lengths.
    row: Vec<u32>,
    starts: Vec<u32>,
    rows: u64,
    bucket_lens: Vec<u64>,
    /// Megatron layout: the writer's position.
    megatron: Option<MegatronState>,
    documents: u64,
    tokens: u64,
}

/// One output split (train or valid) during reading.
struct Split {
    name: &'static str,
    /// Directory of the split's files, relative to the output directory.
    dir: &'static str,
    sink: SplitSink,
    documents: u64,
    tokens: u64,
}

enum SplitSink {
    /// Native layout: fixed-length rows, scattered to buckets for the shuffle.
    Rows { packer: Packer, buckets: Buckets },
    /// Megatron layout: one sequence per document, in input order (trainers that read it
    /// build their own shuffled sample index).
    Megatron(Box<MegatronWriter>),
}

/// The file prefix of a megatron split, as gpt-neox names its preprocessed data.
const MEGATRON_PREFIX: &str = "megatron_text_document";

fn state_io(source: io::Error) -> PackError {
    PackError::Io {
        path: STATE_DIR.into(),
        source,
    }
}

impl Split {
    fn push(&mut self, tokens: &[u32]) -> Result<(), PackError> {
        self.documents += 1;
        self.tokens += tokens.len() as u64;
        match &mut self.sink {
            SplitSink::Rows { packer, buckets } => packer
                .push(tokens, |row, starts| buckets.write(row, starts))
                .map_err(state_io),
            SplitSink::Megatron(writer) => Ok(writer.add_document(tokens)?),
        }
    }

    /// Whether every row of this split is held in memory (none in files yet).
    fn holds_rows(&self) -> bool {
        match &self.sink {
            SplitSink::Rows { buckets, .. } => buckets.holds_rows(),
            SplitSink::Megatron(_) => false,
        }
    }

    fn checkpoint(&mut self) -> Result<SplitCheckpoint, PackError> {
        let (documents, tokens) = (self.documents, self.tokens);
        Ok(match &mut self.sink {
            SplitSink::Rows { packer, buckets } => {
                let (row, starts) = packer.carry();
                SplitCheckpoint {
                    row: row.to_vec(),
                    starts: starts.to_vec(),
                    rows: buckets.rows(),
                    bucket_lens: buckets.flush().map_err(state_io)?,
                    megatron: None,
                    documents,
                    tokens,
                }
            }
            SplitSink::Megatron(writer) => SplitCheckpoint {
                row: vec![],
                starts: vec![],
                rows: 0,
                bucket_lens: vec![],
                megatron: Some(writer.state()?),
                documents,
                tokens,
            },
        })
    }
}

/// What stages changed in one document.
#[derive(Default)]
struct Changes {
    rules: Vec<String>,
    bytes_removed: i64,
}

impl Changes {
    fn count(self, stats: &mut SourceStats) {
        if let Some(first) = self.rules.first() {
            *stats.changed_bytes_by.entry(first.clone()).or_default() += self.bytes_removed;
        }
        for rule in self.rules {
            *stats.changed_by.entry(rule).or_default() += 1;
        }
    }
}

/// The outcomes of one chunk of records, and the ids of the kept ones one after the other: one
/// allocation per chunk instead of one per document (which, with the text's, made malloc and
/// free 4% of `arcade pack`'s samples).
struct Examined {
    outcomes: Vec<Outcome>,
    tokens: Vec<u32>,
}

/// What the parallel step found out about one record.
enum Outcome {
    Malformed {
        label: &'static str,
        message: String,
    },
    Dropped {
        key: String,
        changes: Changes,
        /// The audit line, with `--dropped`.
        line: Option<Vec<u8>>,
    },
    Kept {
        /// Where the document's ids are in its chunk's `Examined::tokens`.
        tokens: std::ops::Range<usize>,
        text_bytes: u64,
        copies: u32,
        valid_draw: f64,
        changes: Changes,
        lang: Option<&'static str>,
    },
}

struct Run<'a> {
    recipe: &'a Recipe,
    tokenizer: &'a Tokenizer,
    stages: &'a [ConfiguredStage],
    inputs: &'a Inputs,
    state_dir: PathBuf,
    eos: u32,
    bos: Option<u32>,
    fingerprint: String,
    phase: Phase,
    sources: Vec<SourceStats>,
    /// train, then valid when asked for.
    splits: Vec<Split>,
    valid_rate: f64,
    valid_target_tokens: Option<u64>,
    dropped: Option<dropped::DroppedWriter>,
}

impl<'a> Run<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        recipe: &'a Recipe,
        tokenizer: &'a Tokenizer,
        stages: &'a [ConfiguredStage],
        inputs: &'a Inputs,
        state_dir: &Path,
        eos: u32,
        bos: Option<u32>,
        fingerprint: String,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Run<'a>, PackError> {
        let estimate = inputs.estimated_row_bytes(recipe);
        let (valid_rate, valid_target_tokens) = match recipe.validation {
            None => (0.0, None),
            Some(Validation::Fraction(f)) => (f, None),
            // Draw candidates at a rate that would give about 4× the target over the whole input,
            // and stop taking them once the target is reached: deterministic, and spread over the
            // first quarter of the corpus or so rather than its first few files.
            Some(Validation::Tokens(t)) => (
                (4.0 * 4.0 * t as f64 / estimate.max(1) as f64).min(1.0),
                Some(t),
            ),
        };
        let mut names = vec![("train", estimate)];
        if recipe.validation.is_some() {
            names.push(("valid", (estimate as f64 * valid_rate.min(1.0)) as u64));
        }
        let cp = checkpoint.as_ref();
        // Rows held in memory before the bucket files are used (`Buckets::hold`), in all splits
        // together: when shuffling, one bucket's worth, the memory the shuffle takes anyway;
        // unshuffled rows stream from the file at the end, so there only what a small run needs.
        let hold_bytes = if recipe.shuffle {
            BUCKET_TARGET_BYTES
        } else {
            HOLD_UNSHUFFLED_BYTES
        } / names.len() as u64;
        let out_dir = state_dir
            .parent()
            .expect("the state directory is inside the output");
        let mut splits = Vec::new();
        for (i, (name, bytes)) in names.into_iter().enumerate() {
            let saved = cp.map(|c| &c.splits[i]);
            let dir = if name == "train" { "" } else { name };
            let sink = match recipe.format {
                OutputFormat::Megatron => {
                    let dtype = MegatronDtype::for_vocab_size(tokenizer.vocab_size());
                    let split_dir = out_dir.join(dir);
                    SplitSink::Megatron(Box::new(match saved.and_then(|s| s.megatron.as_ref()) {
                        Some(state) => MegatronWriter::resume(&split_dir, MEGATRON_PREFIX, state)?,
                        None => MegatronWriter::create(&split_dir, MEGATRON_PREFIX, dtype)?,
                    }))
                }
                OutputFormat::Native => {
                    let count = match saved {
                        Some(s) => s.bucket_lens.len(),
                        None if recipe.shuffle => {
                            bytes.div_ceil(BUCKET_TARGET_BYTES).clamp(1, MAX_BUCKETS) as usize
                        }
                        None => 1,
                    };
                    let seed = mix(recipe.seed, i as u64);
                    let resume = saved.map(|s| (s.bucket_lens.as_slice(), s.rows));
                    let buckets =
                        Buckets::open(state_dir, name, count, seed, recipe.shuffle, resume)
                            .map_err(io_err(state_dir))?
                            .hold(hold_bytes);
                    let packer = match saved {
                        Some(s) => {
                            Packer::with_carry(recipe.seq_len, s.row.clone(), s.starts.clone())
                        }
                        None => Packer::new(recipe.seq_len),
                    };
                    SplitSink::Rows { packer, buckets }
                }
            };
            splits.push(Split {
                name,
                dir,
                sink,
                documents: saved.map_or(0, |s| s.documents),
                tokens: saved.map_or(0, |s| s.tokens),
            });
        }
        let sources = match cp {
            Some(c) => c.sources.clone(),
            None => recipe
                .sources
                .iter()
                .enumerate()
                .map(|(i, s)| SourceStats {
                    name: s.name.clone(),
                    weight: s.weight,
                    files: inputs.files[i]
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect(),
                    documents: DocCounts::default(),
                    changed_by: BTreeMap::new(),
                    changed_bytes_by: BTreeMap::new(),
                    packed_by_lang: BTreeMap::new(),
                    text_bytes: 0,
                    tokens: 0,
                    output_tokens: 0,
                    token_share: 0.0,
                    first_errors: Vec::new(),
                })
                .collect(),
        };
        let dropped = match (&recipe.dropped, cp.and_then(|c| c.dropped)) {
            (None, _) => None,
            (Some(dir), Some(at)) => Some(dropped::DroppedWriter::resume(dir, state_dir, at)?),
            (Some(dir), None) => Some(dropped::DroppedWriter::create(dir, state_dir)?),
        };
        let phase = cp.map_or(
            Phase::Reading {
                source: 0,
                file: 0,
                records: 0,
            },
            |c| c.phase.clone(),
        );
        Ok(Run {
            recipe,
            tokenizer,
            stages,
            inputs,
            state_dir: state_dir.to_path_buf(),
            eos,
            bos,
            fingerprint,
            phase,
            sources,
            splits,
            valid_rate,
            valid_target_tokens,
            dropped,
        })
    }

    /// Phase 1: every remaining input file, in order.
    fn read_all(&mut self, options: &PackOptions) -> Result<(), PackError> {
        let Phase::Reading {
            source: s0,
            file: f0,
            records: r0,
        } = self.phase.clone()
        else {
            return Ok(());
        };
        let mut last_checkpoint = Instant::now();
        let mut progress = Progress {
            input_bytes_total: self.inputs.total_bytes(),
            phase: "reading",
            ..Progress::default()
        };
        for s in 0..self.recipe.sources.len() {
            for f in 0..self.inputs.files[s].len() {
                if (s, f) < (s0, f0) {
                    progress.input_bytes_done += self.inputs.sizes[s][f];
                    continue;
                }
                let skip = if (s, f) == (s0, f0) { r0 } else { 0 };
                self.phase = Phase::Reading {
                    source: s,
                    file: f,
                    records: skip,
                };
                self.read_file(s, f, skip, options, &mut last_checkpoint, &mut progress)?;
                progress.input_bytes_done += self.inputs.sizes[s][f];
            }
        }
        self.phase = Phase::Read;
        // Rows all still in memory mean no checkpoint refers to any of them (writing one moves them
        // to the bucket files): a crash from here on goes back to the last checkpoint, or restarts
        // the run if there is none, with at most a checkpoint interval of reading and one bucket
        // of rows to redo. Writing them out only to make this checkpoint was the cost the held
        // rows avoid.
        if !self.splits.iter().all(Split::holds_rows) {
            self.write_checkpoint()?;
        }
        Ok(())
    }

    fn read_file(
        &mut self,
        s: usize,
        f: usize,
        skip: u64,
        options: &PackOptions,
        last_checkpoint: &mut Instant,
        progress: &mut Progress,
    ) -> Result<(), PackError> {
        let spec = &self.recipe.sources[s];
        let path = &self.inputs.files[s][f];
        let stages: Vec<&ConfiguredStage> = self
            .stages
            .iter()
            .filter(|st| st.applies_to(&spec.name))
            .collect();
        let read_options = ReadOptions {
            format: spec.format,
            field: spec.field.clone(),
            id_field: spec.id_field.clone(),
            lossy_utf8: self.recipe.lossy_utf8,
            extra_fields: crate::stage::fields_read_by(stages.iter().map(|st| &*st.stage)),
            keep_record: self.dropped.is_some(),
        };
        let audit = self.dropped.is_some();
        let reader = match read::open(path, &read_options) {
            Ok(r) => r,
            Err(e) => {
                // A file that cannot be opened as its format (an unreadable Parquet footer, say)
                // counts as one malformed record, so that the run's numbers still add up.
                let outcome = Outcome::Malformed {
                    label: "unreadable_file",
                    message: e.to_string(),
                };
                return self.absorb(s, f, outcome, &[]);
            }
        };
        let seed = self.recipe.seed;
        let (tokenizer, eos, bos, weight) = (self.tokenizer, self.eos, self.bos, spec.weight);
        let config = BatchConfig {
            batch_weight: options
                .batch_bytes
                .unwrap_or_else(|| default_batch_bytes(pool_threads(options.pool))),
            ..BatchConfig::default()
        };
        let process = |chunk: &[Result<Document, RecordError>]| -> Examined {
            // Most text has fewer ids than bytes / 3; more rarely grows the vector.
            let bytes: usize = chunk
                .iter()
                .map(|d| d.as_ref().map_or(0, |d| d.text.len()))
                .sum();
            let mut tokens = Vec::with_capacity(bytes / 3 + 2 * chunk.len());
            let outcomes = chunk
                .iter()
                .map(|item| {
                    examine(
                        item,
                        &mut tokens,
                        &stages,
                        tokenizer,
                        eos,
                        bos,
                        &spec.name,
                        &spec.field,
                        audit,
                        weight,
                        seed,
                        s,
                        f,
                    )
                })
                .collect();
            Examined { outcomes, tokens }
        };
        let weigh =
            |item: &Result<Document, RecordError>| item.as_ref().map_or(64, |d| d.text.len() + 64);
        let source = move || reader.skip(skip as usize);
        run_ordered(
            &config,
            options.pool,
            source,
            weigh,
            process,
            |examined: Examined| {
                for outcome in examined.outcomes {
                    if let Outcome::Kept {
                        text_bytes, tokens, ..
                    } = &outcome
                    {
                        progress.text_bytes += text_bytes;
                        progress.tokens += tokens.len() as u64;
                    }
                    progress.documents += 1;
                    self.absorb(s, f, outcome, &examined.tokens)?;
                }
                if let Some(report) = options.progress {
                    report(progress);
                }
                let stop = options.stop.is_some_and(|s| s.load(Ordering::Relaxed));
                if stop || last_checkpoint.elapsed() >= options.checkpoint_interval {
                    self.write_checkpoint()?;
                    *last_checkpoint = Instant::now();
                    test_hooks::after_checkpoint();
                    if stop {
                        return Err(PackError::Stopped);
                    }
                }
                Ok(())
            },
        )
    }

    /// Accounts for one record, in input order, and packs it (a kept one's ids are in `tokens`).
    fn absorb(
        &mut self,
        s: usize,
        f: usize,
        outcome: Outcome,
        tokens: &[u32],
    ) -> Result<(), PackError> {
        if let Phase::Reading {
            source,
            file,
            records,
        } = &mut self.phase
        {
            debug_assert_eq!((*source, *file), (s, f));
            *records += 1;
        }
        let stats = &mut self.sources[s];
        let counts = &mut stats.documents;
        counts.read += 1;
        match outcome {
            Outcome::Malformed { label, message } => {
                if self.recipe.strict {
                    return Err(PackError::Strict(message));
                }
                counts.malformed += 1;
                *counts.malformed_by.entry(label.to_string()).or_default() += 1;
                if stats.first_errors.len() < FIRST_ERRORS {
                    stats.first_errors.push(message);
                }
            }
            Outcome::Dropped { key, changes, line } => {
                counts.dropped += 1;
                *counts.dropped_by.entry(key).or_default() += 1;
                changes.count(stats);
                if let (Some(line), Some(writer)) = (line, &mut self.dropped) {
                    writer.write(&line)?;
                }
            }
            Outcome::Kept {
                tokens: ids,
                text_bytes,
                copies,
                valid_draw,
                changes,
                lang,
            } => {
                counts.packed += 1;
                changes.count(stats);
                if let Some(lang) = lang {
                    *stats.packed_by_lang.entry(lang.to_string()).or_default() += 1;
                }
                let tokens = &tokens[ids];
                stats.text_bytes += text_bytes;
                stats.tokens += tokens.len() as u64;
                let to_valid = self.splits.len() > 1
                    && valid_draw < self.valid_rate
                    && self
                        .valid_target_tokens
                        .is_none_or(|t| self.splits[1].tokens < t);
                if to_valid {
                    stats.output_tokens += tokens.len() as u64;
                    self.splits[1].push(tokens)?;
                } else {
                    stats.output_tokens += tokens.len() as u64 * copies as u64;
                    for _ in 0..copies {
                        self.splits[0].push(tokens)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn write_checkpoint(&mut self) -> Result<(), PackError> {
        let splits = self
            .splits
            .iter_mut()
            .map(Split::checkpoint)
            .collect::<Result<Vec<_>, _>>()?;
        let dropped = self
            .dropped
            .as_mut()
            .map(dropped::DroppedWriter::checkpoint)
            .transpose()?;
        let cp = Checkpoint {
            fingerprint: self.fingerprint.clone(),
            phase: self.phase.clone(),
            sources: self.sources.clone(),
            splits,
            dropped,
        };
        let json = serde_json::to_vec(&cp).expect("checkpoints serialize");
        write_atomically(&self.state_dir.join(CHECKPOINT_FILE), &json)?;
        if let (Some(writer), Some(at)) = (&self.dropped, dropped) {
            writer.checkpointed(at);
        }
        Ok(())
    }

    /// Phase 2: final rows, shuffle, shards, manifest.
    fn finish(
        self,
        out: &Path,
        recipe_json: serde_json::Value,
        tokenizer: &Tokenizer,
        eos: u32,
        bos: Option<u32>,
    ) -> Result<Manifest, PackError> {
        let recipe = self.recipe;
        let rows_per_shard = (recipe.shard_tokens / recipe.seq_len as u64).max(1);
        let mut splits = BTreeMap::new();
        for split in self.splits {
            let dir = out.join(split.dir);
            let info = match split.sink {
                SplitSink::Rows {
                    mut packer,
                    mut buckets,
                } => {
                    let partial_row_tokens = packer.carry().0.len() as u64;
                    let partial_row = if recipe.pad_final_row {
                        PartialRow::Padded
                    } else {
                        PartialRow::Dropped
                    };
                    if let Some((row, starts)) =
                        recipe.pad_final_row.then(|| packer.pad(eos)).flatten()
                    {
                        buckets
                            .write(&row, &starts)
                            .map_err(io_err(&self.state_dir))?;
                    }
                    let mut writer = ShardWriter::new(&dir, recipe.seq_len, rows_per_shard)
                        .map_err(io_err(&dir))?;
                    let rows = buckets.rows();
                    buckets
                        .drain(recipe.seq_len, buckets::MAX_LOADED_BYTES, |row, starts| {
                            writer.write_row(row, starts)
                        })
                        .map_err(io_err(&dir))?;
                    SplitInfo {
                        dir: split.dir.to_string(),
                        sequences: rows,
                        tokens: rows * recipe.seq_len as u64,
                        documents: split.documents,
                        partial_row_tokens,
                        partial_row,
                        shards: writer.finish().map_err(io_err(&dir))?,
                    }
                }
                SplitSink::Megatron(writer) => {
                    let (bin, _idx) = writer.finish()?;
                    SplitInfo {
                        dir: split.dir.to_string(),
                        sequences: bin.sequences,
                        tokens: bin.tokens,
                        documents: split.documents,
                        partial_row_tokens: 0,
                        partial_row: PartialRow::Dropped,
                        shards: vec![bin],
                    }
                }
            };
            splits.insert(split.name.to_string(), info);
        }
        let mut sources = self.sources;
        let total_output: u64 = sources.iter().map(|s| s.output_tokens).sum();
        let mut totals = DocCounts::default();
        for s in &mut sources {
            s.token_share = if total_output == 0 {
                0.0
            } else {
                s.output_tokens as f64 / total_output as f64
            };
            totals.add(&s.documents);
        }
        debug_assert!(totals.reconciles());
        let dropped_file = self.dropped.map(|d| d.finish()).transpose()?;
        let manifest = Manifest {
            format: manifest::FORMAT_NAME.into(),
            format_version: manifest::FORMAT_VERSION,
            arcade_version: env!("CARGO_PKG_VERSION").into(),
            layout: match recipe.format {
                OutputFormat::Native => Layout::Native,
                OutputFormat::Megatron => Layout::Megatron,
            },
            tokenizer: TokenizerInfo {
                name: tokenizer.name().into(),
                ranks_sha256: tokenizer.ranks_sha256().into(),
                vocab_size: tokenizer.vocab_size(),
                padded_vocab_size: tokenizer.padded_vocab_size(),
                eos_id: eos,
                bos_id: bos,
                normalization: match tokenizer.normalization() {
                    Normalization::None => "none".into(),
                    Normalization::Nfc => "nfc".into(),
                },
            },
            seq_len: recipe.seq_len,
            dtype: match recipe.format {
                OutputFormat::Native => "<u4".into(),
                OutputFormat::Megatron => MegatronDtype::for_vocab_size(tokenizer.vocab_size())
                    .numpy()
                    .into(),
            },
            seed: recipe.seed,
            // Megatron datasets keep input order; their trainers build a shuffled sample index.
            shuffled: recipe.shuffle && recipe.format == OutputFormat::Native,
            splits,
            sources,
            totals,
            dropped_file,
            recipe: recipe_json,
        };
        let json = serde_json::to_vec_pretty(&manifest).expect("manifests serialize");
        write_atomically(&out.join(manifest::MANIFEST_FILE), &json)?;
        fs::remove_dir_all(&self.state_dir).map_err(io_err(&self.state_dir))?;
        Ok(manifest)
    }
}

/// The parallel part of handling one record: stages, tokenization, and the document's draws.
/// A kept record's ids are appended to `tokens`.
#[allow(clippy::too_many_arguments)]
fn examine(
    item: &Result<Document, RecordError>,
    tokens: &mut Vec<u32>,
    stages: &[&ConfiguredStage],
    tokenizer: &Tokenizer,
    eos: u32,
    bos: Option<u32>,
    source_name: &str,
    field: &str,
    audit: bool,
    weight: f64,
    seed: u64,
    source: usize,
    file: usize,
) -> Outcome {
    let original = match item {
        Ok(doc) => doc,
        Err(e) => {
            return Outcome::Malformed {
                label: e.kind.label(),
                message: e.to_string(),
            }
        }
    };
    // Stages may change the text, so they work on a copy; without stages nothing is copied.
    let mut working = (!stages.is_empty()).then(|| original.working_copy());
    let decision = match &mut working {
        None => Decision::Kept { changed: vec![] },
        Some(doc) => run_stages(stages.iter().map(|st| &*st.stage), doc),
    };
    let doc = working.as_ref().unwrap_or(original);
    let changes = Changes {
        bytes_removed: original.text.len() as i64 - doc.text.len() as i64,
        rules: decision.changed().to_vec(),
    };
    let drop = |key: String, decision: &Decision, changes: Changes| Outcome::Dropped {
        key,
        changes,
        line: audit.then(|| {
            crate::audit::audit_line(
                doc,
                original.record.as_deref(),
                source_name,
                field,
                !decision.changed().is_empty(),
                decision,
            )
        }),
    };
    if let Some(key) = decision.drop_key() {
        return drop(key, &decision, changes);
    }
    // Not `trim().is_empty()`: that scans back from the end too, where whitespace is common.
    if doc.text.chars().all(char::is_whitespace) {
        let empty = Decision::Dropped {
            stage: "empty".into(),
            reason: crate::stage::DropReason {
                rule: "no_text".into(),
                value: doc.text.len() as f64,
                threshold: 0.0,
            },
            changed: decision.changed().to_vec(),
        };
        return drop("empty".into(), &empty, changes);
    }
    // Draws from the document's position, so that they do not depend on threads or batches.
    let key = mix(
        mix(seed, source as u64),
        mix(file as u64, doc.location.record),
    );
    let unit = |salt: u64| (mix(key, salt) >> 11) as f64 / (1u64 << 53) as f64;
    let copies = weight.floor() as u32 + u32::from(unit(1) < weight.fract());
    if copies == 0 {
        // Not a judgement on the document: its source's weight left it out, so it is not
        // written to the dropped file either.
        return Outcome::Dropped {
            key: "mix:weight".into(),
            changes,
            line: None,
        };
    }
    let start = tokens.len();
    tokens.extend(bos);
    tokenizer.encode_ordinary_into(&doc.text, tokens);
    tokens.push(eos);
    Outcome::Kept {
        tokens: start..tokens.len(),
        text_bytes: doc.text.len() as u64,
        copies,
        valid_draw: unit(2),
        changes,
        lang: doc.lang.as_ref().map(|l| l.code),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PackError> {
    let tmp = path.with_extension("json.tmp");
    let write = || -> io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(io_err(path))
}

/// Lets the resume test stop the process at an exact point: with `ARCADE_ABORT_AFTER_CHECKPOINTS=N`
/// the process aborts (like a kill: no cleanup, no unwinding) right after the N-th checkpoint.
mod test_hooks {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub(super) fn after_checkpoint() {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        abort_at("ARCADE_ABORT_AFTER_CHECKPOINTS", &COUNT);
    }

    /// With `ARCADE_ABORT_AFTER_SHARDS=N`, the same right after the N-th shard is complete.
    pub(super) fn after_shard() {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        abort_at("ARCADE_ABORT_AFTER_SHARDS", &COUNT);
    }

    fn abort_at(var: &str, count: &AtomicU64) {
        if let Some(n) = std::env::var(var).ok().and_then(|v| v.parse::<u64>().ok()) {
            if count.fetch_add(1, Ordering::Relaxed) + 1 >= n {
                std::process::abort();
            }
        }
    }
}
