//! `arcade filter`: run the stages alone, as their own batch job, and keep everything they say.
//!
//! ```text
//!  read (reader threads) ─▶ stages + audit line (rayon, in chunks) ─▶ kept / dropped (in order)
//! ```
//!
//! The output directory gets `kept.jsonl.zst` and `dropped.jsonl.zst` (every input field of each
//! record plus an `arcade` object, see [`crate::audit`]) and `stats.json`, where
//! `kept + dropped + malformed = read` for every source and in total.
//!
//! Crash safety: both JSONL files are written under `.tmp` names, renamed when complete, and
//! `stats.json`, which holds their sizes and xxh3 checksums, is written last. A directory
//! without `stats.json` holds no finished run: a new run there starts over (a filter pass has
//! no shuffle state worth resuming, and restarting it is cheap next to packing). A directory
//! with one is refused unless `overwrite` is set. The output is byte-identical at any thread
//! count: records are written in input order and compressed on one thread.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audit::audit_line;
use crate::batch::{run_ordered_sources, BatchConfig};
use crate::durable::{io_err, tmp_path, DurableFile, FileError};
use crate::manifest::{add_by_key, FileInfo};
use crate::read::{self, Document, ReadOptions, RecordError};
use crate::recipe::{Recipe, SourceSpec};
use crate::stage::{fields_read_by, run_stages, ConfiguredStage, Decision, StageRegistry};

pub const KEPT_FILE: &str = "kept.jsonl.zst";
pub const DROPPED_FILE: &str = "dropped.jsonl.zst";
pub const STATS_FILE: &str = "stats.json";
/// The value of [`FilterStats::format`].
pub const STATS_FORMAT: &str = "arcade-filter-stats";
/// Malformed records quoted per source in the stats.
const FIRST_ERRORS: usize = 10;
/// zstd level of the outputs. Level 1 compresses web text about 3× at ~500 MB/s on one core:
/// the writing thread stays a small share of the run's CPU time (level 3 costs twice as much
/// for a few percent smaller files, which are intermediate data).
const ZSTD_LEVEL: i32 = 1;

/// How to run; the recipe gives sources, stages, `strict` and `lossy_utf8`.
pub struct FilterOptions<'a> {
    pub pool: Option<&'a rayon::ThreadPool>,
    /// Replace a finished run in the output directory.
    pub overwrite: bool,
    /// Called after every batch, on the writing thread.
    pub progress: Option<&'a (dyn Fn(&FilterProgress) + Sync)>,
    /// Text bytes per batch of work.
    pub batch_bytes: usize,
}

impl Default for FilterOptions<'_> {
    fn default() -> Self {
        Self {
            pool: None,
            overwrite: false,
            progress: None,
            batch_bytes: 4 << 20,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct FilterProgress {
    pub input_bytes_total: u64,
    /// Bytes of input files read to the end.
    pub input_bytes_done: u64,
    pub documents: u64,
    pub kept: u64,
    pub text_bytes: u64,
}

/// `stats.json`: what a filter run did with every record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FilterStats {
    /// Always [`STATS_FORMAT`].
    pub format: String,
    pub arcade_version: String,
    /// The stages as run, in order.
    pub stages: Vec<crate::stage::StageSpec>,
    pub totals: FilterCounts,
    pub sources: Vec<SourceFilterStats>,
    pub kept_file: FileInfo,
    pub dropped_file: FileInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceFilterStats {
    pub name: String,
    pub files: Vec<String>,
    pub counts: FilterCounts,
    /// The first few malformed records, `file:line: what`.
    pub first_errors: Vec<String>,
}

/// Where every record went. `read == kept + dropped + malformed` always holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FilterCounts {
    pub read: u64,
    pub kept: u64,
    pub dropped: u64,
    pub malformed: u64,
    /// Dropped records by `stage:rule`.
    pub dropped_by: BTreeMap<String, u64>,
    /// Malformed records by kind.
    pub malformed_by: BTreeMap<String, u64>,
    /// Records (kept or dropped later) that a stage changed, by `stage:rule`.
    pub changed_by: BTreeMap<String, u64>,
    /// Text bytes those changes removed (negative: added), by `stage:rule` of the first change
    /// of each record (one record's changes are not told apart).
    pub changed_bytes_by: BTreeMap<String, i64>,
    /// Kept records by language label, when a language stage ran.
    pub kept_by_lang: BTreeMap<String, u64>,
    /// Text bytes of the well-formed records as read, and of the kept ones as written.
    pub text_bytes_read: u64,
    pub text_bytes_kept: u64,
}

impl FilterCounts {
    pub fn reconciles(&self) -> bool {
        self.read == self.kept + self.dropped + self.malformed
            && self.dropped == self.dropped_by.values().sum::<u64>()
            && self.malformed == self.malformed_by.values().sum::<u64>()
    }

    fn add(&mut self, other: &FilterCounts) {
        self.read += other.read;
        self.kept += other.kept;
        self.dropped += other.dropped;
        self.malformed += other.malformed;
        self.text_bytes_read += other.text_bytes_read;
        self.text_bytes_kept += other.text_bytes_kept;
        add_by_key(&mut self.dropped_by, &other.dropped_by);
        add_by_key(&mut self.malformed_by, &other.malformed_by);
        add_by_key(&mut self.changed_by, &other.changed_by);
        add_by_key(&mut self.changed_bytes_by, &other.changed_bytes_by);
        add_by_key(&mut self.kept_by_lang, &other.kept_by_lang);
    }

    /// Counts a well-formed record's decision: its text had `bytes_before` bytes before the
    /// stages and `bytes_after` after them.
    pub fn count(
        &mut self,
        decision: &Decision,
        bytes_before: usize,
        bytes_after: usize,
        lang: Option<&str>,
    ) {
        self.read += 1;
        self.text_bytes_read += bytes_before as u64;
        if let Some(first) = decision.changed().first() {
            for rule in decision.changed() {
                *self.changed_by.entry(rule.clone()).or_default() += 1;
            }
            *self.changed_bytes_by.entry(first.clone()).or_default() +=
                bytes_before as i64 - bytes_after as i64;
        }
        match decision.drop_key() {
            Some(key) => {
                self.dropped += 1;
                *self.dropped_by.entry(key).or_default() += 1;
            }
            None => {
                self.kept += 1;
                self.text_bytes_kept += bytes_after as u64;
                if let Some(lang) = lang {
                    *self.kept_by_lang.entry(lang.to_string()).or_default() += 1;
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("{dir} holds a finished filter run ({STATS_FILE} exists); pass --overwrite to replace it or choose another --output")]
    Exists { dir: String },
    #[error(transparent)]
    Recipe(#[from] crate::recipe::RecipeError),
    #[error(transparent)]
    Read(#[from] read::ReadError),
    #[error(transparent)]
    Stage(#[from] crate::stage::StageError),
    #[error("malformed record (--strict): {0}")]
    Strict(String),
    #[error("cannot {action} {path}: {error}")]
    Io {
        action: &'static str,
        path: String,
        error: io::Error,
    },
}

impl From<FileError> for FilterError {
    fn from(e: FileError) -> Self {
        FilterError::Io {
            action: e.action,
            path: e.path.display().to_string(),
            error: e.error,
        }
    }
}

/// One record on its way: where it came from, and the document or why there is none.
struct Item {
    source: usize,
    file: usize,
    doc: Result<Document, Malformed>,
}

struct Malformed {
    label: &'static str,
    message: String,
}

impl From<RecordError> for Malformed {
    fn from(e: RecordError) -> Self {
        Malformed {
            label: e.kind.label(),
            message: e.to_string(),
        }
    }
}

/// What the parallel step made of one record.
enum Outcome {
    Malformed(Malformed),
    Decided {
        decision: Decision,
        bytes_before: usize,
        bytes_after: usize,
        lang: Option<&'static str>,
        line: Vec<u8>,
    },
}

/// Runs the recipe's stages over its sources into `out`; returns the stats it wrote.
pub fn filter(
    recipe: &Recipe,
    registry: &StageRegistry,
    out: &Path,
    options: &FilterOptions,
) -> Result<FilterStats, FilterError> {
    recipe.validate_sources()?;
    let stages = recipe
        .stages
        .iter()
        .map(|s| registry.build(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut files: Vec<Vec<PathBuf>> = Vec::new();
    let mut sizes = Vec::new();
    for source in &recipe.sources {
        let paths = read::expand_inputs(&source.paths)?;
        for p in &paths {
            // stdin (`-`) has no size: progress counts it as done when it ends.
            let len = if p.as_os_str() == "-" {
                0
            } else {
                fs::metadata(p)
                    .map(|m| m.len())
                    .map_err(io_err("read", p))?
            };
            sizes.push(len);
        }
        files.push(paths);
    }
    prepare_output(out, options.overwrite)?;

    let per_source: Vec<Vec<&ConfiguredStage>> = recipe
        .sources
        .iter()
        .map(|src| {
            stages
                .iter()
                .filter(|st| st.applies_to(&src.name))
                .collect()
        })
        .collect();
    let read_options: Vec<ReadOptions> = recipe
        .sources
        .iter()
        .zip(&per_source)
        .map(|(src, stages)| read_options(recipe, src, stages))
        .collect();

    let mut sources = Vec::new();
    for (s, paths) in files.iter().enumerate() {
        for (f, path) in paths.iter().enumerate() {
            let options = &read_options[s];
            sources.push(move || -> Box<dyn Iterator<Item = Item>> {
                match read::open(path, options) {
                    Ok(reader) => Box::new(reader.map(move |doc| Item {
                        source: s,
                        file: f,
                        doc: doc.map_err(Malformed::from),
                    })),
                    // A file that cannot be opened as its format counts as one malformed
                    // record, so that the numbers still add up.
                    Err(e) => Box::new(std::iter::once(Item {
                        source: s,
                        file: f,
                        doc: Err(Malformed {
                            label: "unreadable_file",
                            message: e.to_string(),
                        }),
                    })),
                }
            });
        }
    }

    let process = |chunk: &[Item]| -> Vec<(usize, usize, Outcome)> {
        chunk
            .iter()
            .map(|item| examine(item, recipe, &per_source))
            .collect()
    };
    let weigh = |item: &Item| item.doc.as_ref().map_or(64, |d| d.text.len() + 64);
    let config = BatchConfig {
        batch_weight: options.batch_bytes.max(1),
        readers: 2,
        ..BatchConfig::default()
    };

    let kept_path = out.join(KEPT_FILE);
    let dropped_path = out.join(DROPPED_FILE);
    let zstd_err = |path: &Path| {
        let tmp = tmp_path(path);
        move |error| FileError {
            action: "write",
            path: tmp.clone(),
            error,
        }
    };
    let mut kept = zstd::Encoder::new(DurableFile::create(&kept_path)?, ZSTD_LEVEL)
        .map_err(zstd_err(&kept_path))?;
    let mut dropped = zstd::Encoder::new(DurableFile::create(&dropped_path)?, ZSTD_LEVEL)
        .map_err(zstd_err(&dropped_path))?;

    let mut counts: Vec<FilterCounts> = vec![FilterCounts::default(); recipe.sources.len()];
    let mut first_errors: Vec<Vec<String>> = vec![Vec::new(); recipe.sources.len()];
    let flat_sizes = sizes;
    let mut progress = FilterProgress {
        input_bytes_total: flat_sizes.iter().sum(),
        ..FilterProgress::default()
    };
    // Position of (source, file) in the flat list of files, for progress by bytes.
    let mut file_starts = Vec::new();
    let mut n = 0;
    for paths in &files {
        file_starts.push(n);
        n += paths.len();
    }
    let mut current_file = 0usize;

    run_ordered_sources(
        &config,
        options.pool,
        sources,
        weigh,
        process,
        |outcomes: Vec<(usize, usize, Outcome)>| -> Result<(), FilterError> {
            for (s, f, outcome) in outcomes {
                let flat = file_starts[s] + f;
                while current_file < flat {
                    progress.input_bytes_done += flat_sizes[current_file];
                    current_file += 1;
                }
                progress.documents += 1;
                let c = &mut counts[s];
                match outcome {
                    Outcome::Malformed(m) => {
                        if recipe.strict {
                            return Err(FilterError::Strict(m.message));
                        }
                        c.read += 1;
                        c.malformed += 1;
                        *c.malformed_by.entry(m.label.to_string()).or_default() += 1;
                        if first_errors[s].len() < FIRST_ERRORS {
                            first_errors[s].push(m.message);
                        }
                    }
                    Outcome::Decided {
                        decision,
                        bytes_before,
                        bytes_after,
                        lang,
                        line,
                    } => {
                        c.count(&decision, bytes_before, bytes_after, lang);
                        progress.text_bytes += bytes_before as u64;
                        let (writer, path) = match decision {
                            Decision::Kept { .. } => {
                                progress.kept += 1;
                                (&mut kept, &kept_path)
                            }
                            Decision::Dropped { .. } => (&mut dropped, &dropped_path),
                        };
                        writer.write_all(&line).map_err(zstd_err(path))?;
                    }
                }
            }
            if let Some(report) = options.progress {
                report(&progress);
            }
            Ok(())
        },
    )?;
    if let Some(report) = options.progress {
        progress.input_bytes_done = progress.input_bytes_total;
        report(&progress);
    }

    let kept = kept.finish().map_err(zstd_err(&kept_path))?.close()?;
    let dropped = dropped.finish().map_err(zstd_err(&dropped_path))?.close()?;
    let kept_file = kept.rename()?;
    let dropped_file = dropped.rename()?;

    let mut totals = FilterCounts::default();
    let sources: Vec<SourceFilterStats> = recipe
        .sources
        .iter()
        .zip(counts)
        .zip(first_errors)
        .zip(&files)
        .map(|(((src, counts), first_errors), paths)| {
            totals.add(&counts);
            SourceFilterStats {
                name: src.name.clone(),
                files: paths.iter().map(|p| p.display().to_string()).collect(),
                counts,
                first_errors,
            }
        })
        .collect();
    let stats = FilterStats {
        format: STATS_FORMAT.into(),
        arcade_version: env!("CARGO_PKG_VERSION").into(),
        stages: recipe.stages.clone(),
        totals,
        sources,
        kept_file,
        dropped_file,
    };
    let stats_path = out.join(STATS_FILE);
    let mut file = DurableFile::create(&stats_path)?;
    let json = serde_json::to_vec_pretty(&stats).expect("stats serialize");
    file.write_all(&json)
        .and_then(|()| file.write_all(b"\n"))
        .map_err(io_err("write", &tmp_path(&stats_path)))?;
    file.finish()?;
    crate::durable::sync_dir(out);
    Ok(stats)
}

fn read_options(recipe: &Recipe, src: &SourceSpec, stages: &[&ConfiguredStage]) -> ReadOptions {
    ReadOptions {
        format: src.format,
        field: src.field.clone(),
        id_field: src.id_field.clone(),
        lossy_utf8: recipe.lossy_utf8,
        extra_fields: fields_read_by(stages.iter().map(|st| &*st.stage)),
        keep_record: true,
    }
}

/// The parallel part: stages, then the audit line.
fn examine(
    item: &Item,
    recipe: &Recipe,
    stages: &[Vec<&ConfiguredStage>],
) -> (usize, usize, Outcome) {
    let outcome = match &item.doc {
        Err(m) => Outcome::Malformed(Malformed {
            label: m.label,
            message: m.message.clone(),
        }),
        Ok(original) => {
            let mut doc = original.working_copy();
            let bytes_before = doc.text.len();
            let src = &recipe.sources[item.source];
            let decision = run_stages(stages[item.source].iter().map(|st| &*st.stage), &mut doc);
            let changed = !decision.changed().is_empty();
            let line = audit_line(
                &doc,
                original.record.as_deref(),
                &src.name,
                &src.field,
                changed,
                &decision,
            );
            Outcome::Decided {
                decision,
                bytes_before,
                bytes_after: doc.text.len(),
                lang: doc.lang.as_ref().map(|l| l.code),
                line,
            }
        }
    };
    (item.source, item.file, outcome)
}

/// Refuses a finished run unless `overwrite`; clears what a previous run left.
fn prepare_output(out: &Path, overwrite: bool) -> Result<(), FilterError> {
    let stats = out.join(STATS_FILE);
    if stats.exists() {
        if !overwrite {
            return Err(FilterError::Exists {
                dir: out.display().to_string(),
            });
        }
        // The stats go first, so that a crash from here on never leaves old stats describing
        // new files.
        fs::remove_file(&stats).map_err(io_err("remove", &stats))?;
    }
    fs::create_dir_all(out).map_err(io_err("create", out))?;
    for name in [KEPT_FILE, DROPPED_FILE] {
        let path = out.join(name);
        if path.exists() {
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
        }
    }
    Ok(())
}
