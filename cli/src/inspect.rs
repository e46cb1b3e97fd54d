//! `arcade inspect`: what is in an output directory of `arcade pack` (native shards or a
//! megatron dataset, by its manifest) or in a bare megatron dataset (`PREFIX.bin` +
//! `PREFIX.idx`): the manifest, the index headers, a pass over all tokens (documents by EOS
//! count, top tokens), `--verify` against the manifest's checksums and `--show N` decoded rows.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use arcade_pipeline::manifest::{Layout, Manifest, SplitInfo, MANIFEST_FILE};
use arcade_pipeline::megatron::{self, MegatronIndex, Sequence};
use arcade_pipeline::shards::{self, OutputDir, VerifyReport};
use arcade_tokenizer::Tokenizer;
use rayon::prelude::*;
use serde::Serialize;

use crate::encoding::EncodingArgs;
use crate::summary::{bytes, thousands};

pub const AFTER_HELP: &str = "\
PATH is an output directory of `arcade pack` (with manifest.json, native or megatron layout) or \
a megatron dataset prefix: PREFIX.bin + PREFIX.idx without a manifest (PREFIX.bin or \
PREFIX.idx are accepted too). Without a manifest, --encoding (default arcade100k) names the \
tokenizer used for decoding; with one, the manifest's tokenizer is used.

The token pass reads every token of every split (memory-mapped, in parallel); --no-scan skips \
it on very large outputs.

Examples:
  arcade inspect out/
  arcade inspect out/ --verify
  arcade inspect out/ --show 2 --split valid
  arcade inspect data/train_text_document --json | jq .scans";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output directory, or megatron dataset PREFIX
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// Check every file against the manifest (byte size, xxh3, shard shape, document starts,
    /// token ids); exit 1 on any mismatch. Without a manifest: check the index against the .bin
    #[arg(long)]
    pub verify: bool,

    /// Decode the first N sequences (rows, or megatron documents) of the split --split
    #[arg(long, value_name = "N")]
    pub show: Option<usize>,

    /// The split --show decodes
    #[arg(long, value_name = "NAME", default_value = "train")]
    pub split: String,

    /// Skip the pass over all tokens (document count, top tokens)
    #[arg(long)]
    pub no_scan: bool,

    /// Print the report as JSON on stdout
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub encoding: EncodingArgs,
}

/// Everything `inspect` found; printed as text or as JSON.
#[derive(Serialize)]
struct Report {
    path: String,
    /// `native`, `megatron` (both with a manifest) or `megatron-prefix` (no manifest).
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<Manifest>,
    /// Index headers of megatron datasets.
    datasets: Vec<DatasetInfo>,
    scans: Vec<Scan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verify: Option<Verification>,
    shown: Vec<Shown>,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct DatasetInfo {
    split: String,
    prefix: String,
    version: u64,
    dtype: &'static str,
    dtype_code: u8,
    sequences: u64,
    doc_idx_entries: u64,
    documents: u64,
    tokens: u64,
    bin_bytes: u64,
    idx_bytes: u64,
}

#[derive(Serialize)]
struct Scan {
    split: String,
    sequences: u64,
    tokens: u64,
    /// Documents, counted as end-of-document tokens.
    documents: u64,
    eos_id: u32,
    /// Tokens that are not ids of the vocabulary.
    out_of_vocab: u64,
    top_tokens: Vec<TopToken>,
}

#[derive(Serialize)]
struct TopToken {
    id: u32,
    count: u64,
    share: f64,
    /// The token's text; a token that is not whole UTF-8 (part of a character) is written as
    /// its escaped bytes, e.g. `\xf0\x9f`.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

fn token_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.escape_ascii().to_string(),
    }
}

#[derive(Serialize)]
struct Verification {
    ok: bool,
    /// What was checked.
    scope: String,
    files_checked: u64,
    bytes_checked: u64,
    problems: Vec<String>,
    extra_files: Vec<String>,
}

#[derive(Serialize)]
struct Shown {
    split: String,
    index: u64,
    tokens: usize,
    /// Decoded, special tokens written as their names.
    text: String,
}

/// What PATH turned out to be.
enum Target {
    Dir(Box<OutputDir>),
    /// A megatron dataset prefix (`PREFIX.idx` exists).
    Prefix(PathBuf),
}

const TOP: usize = 10;

pub fn run(args: Args) -> Result<()> {
    let target = resolve(&args.path)?;
    let mut notes = Vec::new();
    let tokenizer = match &target {
        Target::Dir(out) => manifest_tokenizer(out.manifest(), &args.encoding, &mut notes)?,
        Target::Prefix(_) => Some(args.encoding.load()?),
    };
    let mut report = Report {
        path: args.path.display().to_string(),
        kind: match &target {
            Target::Dir(out) if out.manifest().layout == Layout::Native => "native",
            Target::Dir(_) => "megatron",
            Target::Prefix(_) => "megatron-prefix",
        },
        manifest: match &target {
            Target::Dir(out) => Some(out.manifest().clone()),
            Target::Prefix(_) => None,
        },
        datasets: Vec::new(),
        scans: Vec::new(),
        verify: None,
        shown: Vec::new(),
        notes,
    };

    // Verify first: a damaged output may not even open for the rest.
    if args.verify {
        if let Target::Dir(out) = &target {
            let v = shards::verify(out.dir())?;
            report.verify = Some(verification(&v));
        }
    }
    let verify_failed = report.verify.as_ref().is_some_and(|v| !v.ok);

    if !verify_failed {
        let eos = match &target {
            Target::Dir(out) => out.manifest().tokenizer.eos_id,
            Target::Prefix(_) => tokenizer
                .as_ref()
                .and_then(|t| t.special_token("<|endoftext|>"))
                .unwrap_or(arcade_tokenizer::ENDOFTEXT),
        };
        let vocab = match &target {
            Target::Dir(out) => out.manifest().tokenizer.vocab_size,
            Target::Prefix(_) => tokenizer.as_ref().map_or(1 << 17, |t| t.vocab_size()),
        };
        let datasets = megatron_datasets(&target)?;
        for (split, index) in &datasets {
            report.datasets.push(dataset_info(split, index));
        }
        // Without a manifest, --verify means the index checks (done by opening) plus the ids.
        let scan = !args.no_scan || (args.verify && matches!(target, Target::Prefix(_)));
        if scan {
            report.scans = scan_all(&target, &datasets, eos, vocab, tokenizer.as_ref())?;
        }
        if let (Target::Prefix(_), Some((_, index))) = (&target, datasets.first()) {
            if args.verify {
                let mut problems = Vec::new();
                for s in &report.scans {
                    if s.out_of_vocab > 0 {
                        problems.push(format!(
                            "{}: {} tokens are not ids of the vocabulary ({} ids)",
                            index.bin_path().display(),
                            thousands(s.out_of_vocab),
                            thousands(vocab as u64)
                        ));
                    }
                }
                report.verify = Some(Verification {
                    ok: problems.is_empty(),
                    scope: "the index header, sizes, pointers and document index against the \
                            .bin, and the token ids (no manifest, so no checksums)"
                        .to_string(),
                    files_checked: 2,
                    bytes_checked: index.bin_bytes() + index.idx_bytes(),
                    problems,
                    extra_files: Vec::new(),
                });
            }
        }
        if let Some(n) = args.show {
            let Some(tokenizer) = tokenizer.as_ref() else {
                bail!(
                    "--show needs the tokenizer `{}` of the manifest, which is not built in; pass \
                     its ranks with --ranks FILE --pattern REGEX",
                    report
                        .manifest
                        .as_ref()
                        .map_or("?", |m| m.tokenizer.name.as_str())
                );
            };
            report.shown = show(&target, &datasets, &args.split, n, tokenizer)?;
        }
    }

    let color = !args.json && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        render(&report, color)
    };
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;

    if let Some(v) = &report.verify {
        if !v.ok {
            bail!(
                "verification of {} failed: {} problem{}{}",
                args.path.display(),
                v.problems.len(),
                if v.problems.len() == 1 { "" } else { "s" },
                match v.problems.first() {
                    Some(p) if args.json => format!(" (first: {p})"),
                    _ => String::new(),
                }
            );
        }
    }
    Ok(())
}

fn resolve(path: &Path) -> Result<Target> {
    if path.is_dir() {
        if path.join(MANIFEST_FILE).is_file() {
            return Ok(Target::Dir(Box::new(OutputDir::open(path)?)));
        }
        let mut prefixes: Vec<String> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read directory {}", path.display()))?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".idx")
                    .map(|p| path.join(p).display().to_string())
            })
            .collect();
        prefixes.sort();
        if prefixes.is_empty() {
            bail!(
                "{} is a directory without {MANIFEST_FILE}: not an output directory of `arcade \
                 pack` (for a megatron dataset, pass its PREFIX: the path without .bin/.idx)",
                path.display()
            );
        }
        bail!(
            "{} has no {MANIFEST_FILE}; it holds the megatron dataset{} {}: pass a PREFIX",
            path.display(),
            if prefixes.len() == 1 { "" } else { "s" },
            prefixes.join(", ")
        );
    }
    let prefix = megatron::prefix_of(path);
    let idx = megatron::idx_path(&prefix);
    if !idx.is_file() {
        bail!(
            "{} is neither an output directory nor a megatron dataset: {} does not exist",
            path.display(),
            idx.display()
        );
    }
    Ok(Target::Prefix(prefix))
}

/// The manifest's tokenizer when it is built in (or given with --ranks), else none (ids only).
fn manifest_tokenizer(
    m: &Manifest,
    encoding: &EncodingArgs,
    notes: &mut Vec<String>,
) -> Result<Option<Tokenizer>> {
    let name = &m.tokenizer.name;
    let tokenizer = match Tokenizer::builtin(name) {
        Ok(t) => t,
        Err(_) if encoding.ranks.is_some() => encoding.load()?,
        Err(_) => {
            notes.push(format!(
                "the manifest's tokenizer `{name}` is not built in: tokens are shown as ids (pass \
                 --ranks FILE --pattern REGEX to decode them)"
            ));
            return Ok(None);
        }
    };
    if !m.tokenizer.ranks_sha256.is_empty() && m.tokenizer.ranks_sha256 != tokenizer.ranks_sha256()
    {
        notes.push(format!(
            "the manifest's ranks sha256 {} differs from {} of the tokenizer used to decode; the \
             decoded text may be wrong",
            m.tokenizer.ranks_sha256,
            tokenizer.ranks_sha256()
        ));
    }
    Ok(Some(tokenizer))
}

/// The megatron datasets of the target, by split.
fn megatron_datasets(target: &Target) -> Result<Vec<(String, MegatronIndex)>> {
    match target {
        Target::Prefix(prefix) => Ok(vec![(String::new(), MegatronIndex::open(prefix)?)]),
        Target::Dir(out) if out.manifest().layout == Layout::Megatron => {
            let mut datasets = Vec::new();
            for (name, split) in &out.manifest().splits {
                for shard in &split.shards {
                    datasets.push((name.clone(), out.open_megatron(split, shard)?));
                }
            }
            Ok(datasets)
        }
        Target::Dir(_) => Ok(Vec::new()),
    }
}

fn dataset_info(split: &str, index: &MegatronIndex) -> DatasetInfo {
    let h = index.header();
    DatasetInfo {
        split: split.to_string(),
        prefix: index.prefix().display().to_string(),
        version: h.version,
        dtype: h.dtype.name(),
        dtype_code: h.dtype.code(),
        sequences: h.sequences,
        doc_idx_entries: h.doc_idx_entries,
        documents: index.num_documents(),
        tokens: index.num_tokens(),
        bin_bytes: index.bin_bytes(),
        idx_bytes: index.idx_bytes(),
    }
}

fn verification(v: &VerifyReport) -> Verification {
    Verification {
        ok: v.is_ok(),
        scope: "every file against the manifest (byte size, xxh3, shard shape, document \
                starts, token ids), and for files it does not list"
            .to_string(),
        files_checked: v.files_checked,
        bytes_checked: v.bytes_checked,
        problems: v.problems.iter().map(|p| p.to_string()).collect(),
        extra_files: v.extra_files.clone(),
    }
}

/// A token histogram: counts of ids below `vocab`, and how many were not.
struct Histogram {
    counts: Vec<u64>,
    out_of_vocab: u64,
}

impl Histogram {
    fn new(vocab: usize) -> Histogram {
        Histogram {
            counts: vec![0; vocab],
            out_of_vocab: 0,
        }
    }

    fn add(&mut self, id: u64) {
        match usize::try_from(id)
            .ok()
            .and_then(|i| self.counts.get_mut(i))
        {
            Some(c) => *c += 1,
            None => self.out_of_vocab += 1,
        }
    }

    fn merge(mut self, other: Histogram) -> Histogram {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        self.out_of_vocab += other.out_of_vocab;
        self
    }

    /// Counts the tokens of a memory-mapped slice in parallel.
    fn of<T: Copy + Sync>(tokens: &[T], vocab: usize, id: impl Fn(T) -> u64 + Sync) -> Histogram {
        tokens
            .par_chunks(1 << 20)
            .fold(
                || Histogram::new(vocab),
                |mut h, chunk| {
                    for &t in chunk {
                        h.add(id(t));
                    }
                    h
                },
            )
            .reduce(|| Histogram::new(vocab), Histogram::merge)
    }
}

fn sequence_histogram(seq: Sequence<'_>, vocab: usize) -> Histogram {
    match seq {
        // A negative int32 is out of the vocabulary: map it past every id.
        Sequence::Int32(s) => Histogram::of(s, vocab, |t| if t < 0 { u64::MAX } else { t as u64 }),
        Sequence::Uint16(s) => Histogram::of(s, vocab, |t| t as u64),
    }
}

fn scan_all(
    target: &Target,
    datasets: &[(String, MegatronIndex)],
    eos: u32,
    vocab: usize,
    tokenizer: Option<&Tokenizer>,
) -> Result<Vec<Scan>> {
    // split -> (sequences, tokens, histogram), in split order.
    let mut per_split: BTreeMap<String, (u64, u64, Histogram)> = BTreeMap::new();
    match target {
        Target::Dir(out) if out.manifest().layout == Layout::Native => {
            for (name, split) in &out.manifest().splits {
                let entry = per_split
                    .entry(name.clone())
                    .or_insert_with(|| (0, 0, Histogram::new(vocab)));
                for shard in &split.shards {
                    let s = out.open_native(split, shard)?;
                    let h = Histogram::of(s.tokens(), vocab, |t| t as u64);
                    entry.0 += s.num_rows() as u64;
                    entry.1 += s.tokens().len() as u64;
                    let old = std::mem::replace(&mut entry.2, Histogram::new(0));
                    entry.2 = old.merge(h);
                }
            }
        }
        _ => {
            for (name, index) in datasets {
                let entry = per_split
                    .entry(name.clone())
                    .or_insert_with(|| (0, 0, Histogram::new(vocab)));
                let h = sequence_histogram(index.all_tokens(), vocab);
                entry.0 += index.len() as u64;
                entry.1 += index.num_tokens();
                let old = std::mem::replace(&mut entry.2, Histogram::new(0));
                entry.2 = old.merge(h);
            }
        }
    }
    Ok(per_split
        .into_iter()
        .map(|(split, (sequences, tokens, h))| {
            let mut top: Vec<(u32, u64)> = h
                .counts
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(id, &c)| (id as u32, c))
                .collect();
            top.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            top.truncate(TOP);
            Scan {
                split,
                sequences,
                tokens,
                documents: h.counts.get(eos as usize).copied().unwrap_or(0),
                eos_id: eos,
                out_of_vocab: h.out_of_vocab,
                top_tokens: top
                    .into_iter()
                    .map(|(id, count)| TopToken {
                        id,
                        count,
                        share: if tokens == 0 {
                            0.0
                        } else {
                            count as f64 / tokens as f64
                        },
                        text: tokenizer.and_then(|t| t.token_bytes(id)).map(token_text),
                    })
                    .collect(),
            }
        })
        .collect())
}

fn show(
    target: &Target,
    datasets: &[(String, MegatronIndex)],
    split_name: &str,
    n: usize,
    tokenizer: &Tokenizer,
) -> Result<Vec<Shown>> {
    let mut shown = Vec::new();
    let label = match target {
        Target::Prefix(_) => String::new(),
        Target::Dir(_) => split_name.to_string(),
    };
    let mut push = |index: u64, ids: &[u32]| {
        shown.push(Shown {
            split: label.clone(),
            index,
            tokens: ids.len(),
            text: decode_visible(ids, tokenizer),
        });
    };
    match target {
        Target::Prefix(_) => {
            for (_, index) in datasets {
                for i in 0..n.min(index.len()) {
                    push(i as u64, &index.sequence(i).to_vec());
                }
            }
        }
        Target::Dir(out) => {
            let split = find_split(out, split_name)?;
            let mut next = 0u64;
            if out.manifest().layout == Layout::Native {
                'shards: for shard in &split.shards {
                    let s = out.open_native(split, shard)?;
                    for row in s.rows() {
                        if next as usize >= n {
                            break 'shards;
                        }
                        push(next, row);
                        next += 1;
                    }
                }
            } else {
                'datasets: for (_, index) in datasets.iter().filter(|(name, _)| name == split_name)
                {
                    for i in 0..index.len() {
                        if next as usize >= n {
                            break 'datasets;
                        }
                        push(next, &index.sequence(i).to_vec());
                        next += 1;
                    }
                }
            }
        }
    }
    Ok(shown)
}

fn find_split<'a>(out: &'a OutputDir, name: &str) -> Result<&'a SplitInfo> {
    out.split(name).ok_or_else(|| {
        anyhow!(
            "{} has no split `{name}`; its splits are: {}",
            out.dir().display(),
            out.manifest()
                .splits
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Decodes ids to text with every special token written as its name. Text cut inside a
/// character (at a row boundary) shows U+FFFD; an id outside the vocabulary shows as
/// `<unknown id N>`.
fn decode_visible(ids: &[u32], tokenizer: &Tokenizer) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let flush = |pending: &mut Vec<u8>, out: &mut String| {
        out.push_str(&String::from_utf8_lossy(pending));
        pending.clear();
    };
    for &id in ids {
        if tokenizer.is_special(id) {
            flush(&mut pending, &mut out);
            out.push_str(&String::from_utf8_lossy(
                tokenizer.token_bytes(id).unwrap_or_default(),
            ));
        } else if let Some(bytes) = tokenizer.token_bytes(id) {
            pending.extend_from_slice(bytes);
        } else {
            flush(&mut pending, &mut out);
            let _ = write!(out, "<unknown id {id}>");
        }
    }
    flush(&mut pending, &mut out);
    out
}

fn percent(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

fn render(r: &Report, color: bool) -> String {
    let mut o = String::new();
    let bold = |s: &str| {
        if color {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    match &r.manifest {
        Some(m) => {
            let _ = writeln!(
                o,
                "{}: arcade output, {} layout ({} v{}, written by arcade {})",
                bold(&r.path),
                match m.layout {
                    Layout::Native => "native",
                    Layout::Megatron => "megatron",
                },
                m.format,
                m.format_version,
                m.arcade_version
            );
            let t = &m.tokenizer;
            let _ = writeln!(
                o,
                "  tokenizer  {} (vocab {}, padded {}; eos {}, bos {}; normalization {})",
                t.name,
                thousands(t.vocab_size as u64),
                thousands(t.padded_vocab_size as u64),
                t.eos_id,
                t.bos_id.map_or("none".to_string(), |b| b.to_string()),
                t.normalization
            );
            match m.layout {
                Layout::Native => {
                    let _ = writeln!(
                        o,
                        "  rows       seq_len {} x {}",
                        thousands(m.seq_len as u64),
                        m.dtype
                    );
                }
                Layout::Megatron => {
                    let _ = writeln!(o, "  tokens     {} (one sequence per document)", m.dtype);
                }
            }
            let _ = writeln!(
                o,
                "  order      {}",
                if m.shuffled {
                    format!("shuffled (seed {})", m.seed)
                } else {
                    "not shuffled".to_string()
                }
            );
            for (name, s) in &m.splits {
                let _ = writeln!(
                    o,
                    "  split {name:<5} {} sequences, {} tokens, {} documents, {} shard{}{}{}",
                    thousands(s.sequences),
                    thousands(s.tokens),
                    thousands(s.documents),
                    s.shards.len(),
                    if s.shards.len() == 1 { "" } else { "s" },
                    if s.dir.is_empty() {
                        String::new()
                    } else {
                        format!(" in {}/", s.dir)
                    },
                    if s.partial_row_tokens > 0 {
                        format!(
                            "; partial row of {} tokens {}",
                            thousands(s.partial_row_tokens),
                            match s.partial_row {
                                arcade_pipeline::manifest::PartialRow::Dropped => "dropped",
                                arcade_pipeline::manifest::PartialRow::Padded => "padded",
                            }
                        )
                    } else {
                        String::new()
                    }
                );
            }
            let d = &m.totals;
            let _ = writeln!(
                o,
                "  documents  read {}, packed {}, dropped {}, malformed {}",
                thousands(d.read),
                thousands(d.packed),
                thousands(d.dropped),
                thousands(d.malformed)
            );
            if !d.dropped_by.is_empty() {
                let _ = writeln!(o, "    dropped by    {}", by_reason(&d.dropped_by));
            }
            if !d.malformed_by.is_empty() {
                let _ = writeln!(o, "    malformed by  {}", by_reason(&d.malformed_by));
            }
            if !m.sources.is_empty() {
                let _ = writeln!(o, "  sources");
                let name_w = m
                    .sources
                    .iter()
                    .map(|s| s.name.chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(6);
                let _ = writeln!(
                    o,
                    "    {:<name_w$}  {:>7}  {:>12}  {:>14}  {:>15}  {:>7}  dropped",
                    "source", "weight", "packed docs", "tokens", "output tokens", "share"
                );
                for s in &m.sources {
                    let _ = writeln!(
                        o,
                        "    {:<name_w$}  {:>7}  {:>12}  {:>14}  {:>15}  {:>7}  {}",
                        s.name,
                        format!("{}", s.weight),
                        thousands(s.documents.packed),
                        thousands(s.tokens),
                        thousands(s.output_tokens),
                        percent(s.token_share),
                        if s.documents.dropped_by.is_empty() {
                            "-".to_string()
                        } else {
                            by_reason(&s.documents.dropped_by)
                        }
                    );
                    if !s.changed_by.is_empty() {
                        let _ = writeln!(
                            o,
                            "    {:<name_w$}  changed {}",
                            "",
                            by_reason(&s.changed_by)
                        );
                    }
                    if s.documents.malformed > 0 {
                        let _ = writeln!(
                            o,
                            "    {:<name_w$}  malformed {}: {}",
                            "",
                            thousands(s.documents.malformed),
                            by_reason(&s.documents.malformed_by)
                        );
                    }
                    for e in &s.first_errors {
                        let _ = writeln!(o, "    {:<name_w$}  {e}", "");
                    }
                }
            }
        }
        None => {
            let _ = writeln!(o, "{}: megatron dataset (no manifest)", bold(&r.path));
        }
    }
    for d in &r.datasets {
        let split = if d.split.is_empty() {
            String::new()
        } else {
            format!("{} ", d.split)
        };
        let _ = writeln!(
            o,
            "  {split}dataset {}.bin + .idx: MMIDIDX v{}, {} (code {}), {} sequences, {} doc_idx \
             entries ({} documents), {} tokens; .bin {}, .idx {}",
            d.prefix,
            d.version,
            d.dtype,
            d.dtype_code,
            thousands(d.sequences),
            thousands(d.doc_idx_entries),
            thousands(d.documents),
            thousands(d.tokens),
            bytes(d.bin_bytes),
            bytes(d.idx_bytes)
        );
    }
    for s in &r.scans {
        let name = if s.split.is_empty() {
            "dataset".to_string()
        } else {
            format!("split {}", s.split)
        };
        let _ = writeln!(
            o,
            "\n{}: {} sequences, {} tokens, {} documents (count of eos {})",
            bold(&format!("tokens of {name}")),
            thousands(s.sequences),
            thousands(s.tokens),
            thousands(s.documents),
            s.eos_id
        );
        if s.out_of_vocab > 0 {
            let _ = writeln!(
                o,
                "  {} tokens are not ids of the vocabulary",
                thousands(s.out_of_vocab)
            );
        }
        if !s.top_tokens.is_empty() {
            let _ = writeln!(o, "  top tokens");
            for (k, t) in s.top_tokens.iter().enumerate() {
                let text = t
                    .text
                    .as_deref()
                    .map_or(String::new(), |x| format!("{x:?}"));
                let _ = writeln!(
                    o,
                    "    {:>2}. {:>7}  {:<24} {:>14}  {:>7}",
                    k + 1,
                    t.id,
                    text,
                    thousands(t.count),
                    percent(t.share)
                );
            }
        }
    }
    for sh in &r.shown {
        let _ = writeln!(
            o,
            "\n{}",
            bold(&format!(
                "── {}sequence {} ({} tokens) ──",
                if sh.split.is_empty() {
                    String::new()
                } else {
                    format!("{} ", sh.split)
                },
                sh.index,
                sh.tokens
            ))
        );
        // End-of-document tokens end a line, so documents start on lines of their own.
        let text = if color {
            sh.text
                .replace("<|endoftext|>", "\x1b[7m<|endoftext|>\x1b[0m\n")
        } else {
            sh.text.replace("<|endoftext|>", "<|endoftext|>\n")
        };
        o.push_str(&text);
        if !text.ends_with('\n') {
            o.push('\n');
        }
    }
    if let Some(v) = &r.verify {
        if v.ok {
            let _ = writeln!(
                o,
                "\nverify: {}: {} files, {} read",
                if color { "\x1b[1;32mOK\x1b[0m" } else { "OK" },
                v.files_checked,
                bytes(v.bytes_checked)
            );
        } else {
            let _ = writeln!(
                o,
                "\nverify: {}: {} problem{}",
                if color {
                    "\x1b[1;31mFAILED\x1b[0m"
                } else {
                    "FAILED"
                },
                v.problems.len(),
                if v.problems.len() == 1 { "" } else { "s" }
            );
            for p in &v.problems {
                let _ = writeln!(o, "  {p}");
            }
        }
        let _ = writeln!(o, "  checked {}", v.scope);
    }
    for n in &r.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}

fn by_reason(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {}", thousands(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}
