//! `arcade tokenize`: documents in, token ids out.
//!
//! The work runs in three overlapping stages (see `arcade_pipeline::batch`): reader threads
//! parse the inputs into batches of documents (one thread per input; with several inputs,
//! `--readers` of them are read at once), the rayon pool tokenizes each batch in parallel chunks
//! and formats each chunk's output bytes (ids text, JSON, u32 LE, counts) right there, and the
//! main thread writes the chunks in input order through a 1 MiB buffer. The queues between the
//! stages are bounded, so memory stays bounded for any input size.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use arcade_pipeline::batch::{self, BatchConfig};
use arcade_pipeline::read::{
    self, Document, DocumentReader, InputFormat, ReadError, ReadOptions, RecordError,
    RecordErrorKind,
};
use arcade_tokenizer::{AllowedSpecial, EncodeError, Tokenizer};
use clap::builder::TypedValueParser as _;
use clap::error::ErrorKind;
use clap::ValueEnum;

use crate::encoding::EncodingArgs;
use crate::output::Output;
use crate::progress::Progress;
use crate::summary::{self, Summary};

pub const AFTER_HELP: &str = "\
Input formats follow the file name: .jsonl/.json/.ndjson are JSON Lines, .parquet is Parquet, \
anything else is plain text (one document per file, or per line with --lines); .gz, .zst and \
.zstd are decompressed. stdin is read as JSON Lines unless --input-format or --lines says \
otherwise.

Output order is input order, whatever --threads is.

Examples:
  arcade tokenize data/*.jsonl.zst --format bin --eos -o train.bin
  arcade tokenize corpus.parquet --field content --format count
  zcat dump.jsonl.gz | arcade tokenize --id-field url --format jsonl > tokens.jsonl
  arcade tokenize notes.txt --lines --specials all";

/// Output formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// One line per document: its ids separated by spaces
    Ids,
    /// One JSON object per document: {"ids":[...]}, plus "id" with --id-field
    Jsonl,
    /// Raw little-endian u32 ids, documents back to back (use --eos to mark their ends)
    Bin,
    /// One line per document: its number of tokens
    Count,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Input files or glob patterns (quote globs); `-` or nothing reads stdin
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Read inputs as this format instead of guessing from the file name (lines: plain text, a
    /// document per line)
    #[arg(
        long,
        value_name = "FORMAT",
        value_parser = clap::builder::PossibleValuesParser::new(["jsonl", "parquet", "text", "lines"])
            .map(|s| s.parse::<InputFormat>().expect("a listed format")),
        help_heading = "Input"
    )]
    pub input_format: Option<InputFormat>,

    /// Plain-text inputs: every line is a document (instead of the whole file)
    #[arg(long, help_heading = "Input")]
    pub lines: bool,

    /// JSON field (dotted path for nested objects, e.g. meta.body) or Parquet column holding the
    /// text
    #[arg(
        long,
        value_name = "NAME",
        default_value = "text",
        help_heading = "Input"
    )]
    pub field: String,

    /// Field or column with a document id, copied into --format jsonl output as "id"
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub id_field: Option<String>,

    /// Replace invalid UTF-8 with U+FFFD instead of treating it as a bad record
    #[arg(long, help_heading = "Input")]
    pub lossy: bool,

    /// Skip bad records (malformed JSON, missing or non-string field, invalid UTF-8, disallowed
    /// special token, a corrupt rest of a compressed file) and count them in the summary,
    /// instead of stopping at the first
    #[arg(long, help_heading = "Input")]
    pub skip_bad: bool,

    #[command(flatten)]
    pub encoding: EncodingArgs,

    /// Special-token strings in the text: `none` encodes them as plain text; `all` turns every
    /// special token of the encoding into its id; a comma-separated list allows only those,
    /// and any other special token in a document makes it a bad record
    #[arg(
        long,
        value_name = "none|all|LIST",
        default_value = "none",
        help_heading = "Encoding"
    )]
    pub specials: String,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Ids, help_heading = "Output")]
    pub format: OutputFormat,

    /// Write to this file instead of stdout (written in full or not at all)
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,

    /// Append <|endoftext|> (100257) after each document (also counted by --format count)
    #[arg(long, help_heading = "Output")]
    pub eos: bool,

    /// Worker threads for tokenization [default: all cores]
    #[arg(short = 't', long, value_name = "N", help_heading = "Performance")]
    pub threads: Option<usize>,

    /// Input files read at the same time (output order stays input order) [default: one per
    /// four threads]
    #[arg(long, value_name = "N", help_heading = "Performance")]
    pub readers: Option<usize>,

    /// Text bytes per batch handed from the reader to the workers [default: 1 MiB per thread,
    /// 4 MiB to 64 MiB]
    #[arg(long, value_name = "BYTES", hide = true)]
    pub batch_bytes: Option<usize>,

    /// Text bytes per parallel task within a batch [default: automatic]
    #[arg(long, value_name = "BYTES", hide = true)]
    pub chunk_bytes: Option<usize>,

    /// No progress line and no summary (errors are still reported)
    #[arg(short, long, help_heading = "Reporting")]
    pub quiet: bool,
}

/// Exits with clap's usage-error status (2) and message style.
fn usage_error(message: impl std::fmt::Display) -> ! {
    clap::Error::raw(ErrorKind::ArgumentConflict, format!("{message}\n")).exit()
}

/// How special-token strings in documents are treated.
#[derive(Debug)]
enum SpecialPolicy {
    /// Plain text: `encode_ordinary`.
    Ordinary,
    /// `encode` with this set allowed; other special tokens are a per-record error.
    Allowed(AllowedSpecial),
}

fn parse_specials(spec: &str, tokenizer: &Tokenizer) -> Result<SpecialPolicy> {
    match spec.trim() {
        "none" | "" => Ok(SpecialPolicy::Ordinary),
        "all" => Ok(SpecialPolicy::Allowed(AllowedSpecial::All)),
        list => {
            let mut set = std::collections::BTreeSet::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if tokenizer.special_token(name).is_none() {
                    let known: Vec<&str> = tokenizer
                        .special_tokens()
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect();
                    bail!(
                        "--specials: `{name}` is not a special token of {}; its special tokens are: {}",
                        tokenizer.name(),
                        if known.is_empty() { "(none)".to_string() } else { known.join(", ") }
                    );
                }
                set.insert(name.to_string());
            }
            Ok(SpecialPolicy::Allowed(AllowedSpecial::Set(set)))
        }
    }
}

/// What the reader thread hands on: documents, bad records, and markers for the statistics.
enum Item {
    /// Input number `index` (1-based) starts here.
    File {
        index: u64,
    },
    Doc(Document),
    Bad(RecordError),
    /// An input that could not be opened as a whole (e.g. not a Parquet file).
    Unreadable(ReadError),
    /// Whitespace-only JSONL lines of the input just finished.
    Blank(u64),
}

impl Item {
    fn weight(&self) -> usize {
        // The fixed part stands for the per-document overhead, so batches of many tiny
        // documents (one word per line) stay bounded too.
        const OVERHEAD: usize = 64;
        match self {
            Item::Doc(doc) => doc.text.len() + OVERHEAD,
            _ => OVERHEAD,
        }
    }
}

/// `--lines` turns inputs that are read as plain text (by name, by --input-format text, or
/// stdin without --input-format) into line-per-document inputs; JSONL and Parquet inputs in the
/// same run are unaffected.
fn options_for(path: &Path, options: &ReadOptions, lines: bool) -> ReadOptions {
    let mut options = options.clone();
    if lines {
        let resolved = match options.format {
            Some(format) => format,
            None if path == Path::new("-") => InputFormat::Text,
            None => InputFormat::detect(path).0,
        };
        if resolved == InputFormat::Text {
            options.format = Some(InputFormat::TextLines);
        }
    }
    options
}

/// The items of input number `index` (1-based): a start marker, then its documents and bad
/// records (or why it cannot be read), then its count of blank lines. Opened lazily, on the
/// reader thread that reads it.
fn file_items(index: u64, path: &Path, options: &ReadOptions) -> impl Iterator<Item = Item> {
    let (unreadable, reader) = match read::open(path, options) {
        Ok(reader) => (None, Some(reader)),
        Err(err) => (Some(Item::Unreadable(err)), None),
    };
    std::iter::once(Item::File { index })
        .chain(unreadable)
        .chain(FileDocuments { reader })
}

struct FileDocuments {
    reader: Option<DocumentReader>,
}

impl Iterator for FileDocuments {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let reader = self.reader.as_mut()?;
        match reader.next() {
            Some(Ok(doc)) => Some(Item::Doc(doc)),
            Some(Err(err)) => Some(Item::Bad(err)),
            None => {
                let blank = reader.blank_lines();
                self.reader = None;
                (blank > 0).then_some(Item::Blank(blank))
            }
        }
    }
}

/// The per-document work, shared read-only by the worker threads.
struct Encoder {
    tokenizer: Tokenizer,
    specials: SpecialPolicy,
    eos: Option<u32>,
    format: OutputFormat,
    with_id: bool,
    skip_bad: bool,
}

/// Ordinary skipped records whose location is printed (per chunk; the writer prints the first
/// few of the whole run). Skips that lose the rest of a file are always printed.
const NOTES_PER_CHUNK: usize = 4;

/// The formatted output and statistics of one chunk of consecutive items.
#[derive(Default)]
struct ChunkOut {
    bytes: Vec<u8>,
    documents: u64,
    tokens: u64,
    text_bytes: u64,
    blank_lines: u64,
    /// The last input that started in this chunk.
    file: Option<u64>,
    /// Skipped records by reason.
    skipped: Vec<(&'static str, u64)>,
    /// (always print, message) for skipped records.
    notes: Vec<(bool, String)>,
    /// Skipped records whose message was not kept.
    notes_dropped: bool,
    /// The bad record that stops the run (only without --skip-bad). `bytes` holds the output
    /// of the documents before it.
    error: Option<anyhow::Error>,
}

impl ChunkOut {
    fn skip(&mut self, reason: &'static str, message: String, always_note: bool) {
        match self.skipped.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.skipped.push((reason, 1)),
        }
        let ordinary_notes = self.notes.iter().filter(|(always, _)| !always).count();
        if always_note || ordinary_notes < NOTES_PER_CHUNK {
            self.notes.push((always_note, message));
        } else {
            self.notes_dropped = true;
        }
    }
}

impl Encoder {
    fn process(&self, items: &[Item]) -> ChunkOut {
        let text_bytes: usize = items
            .iter()
            .map(|item| {
                if let Item::Doc(doc) = item {
                    doc.text.len()
                } else {
                    0
                }
            })
            .sum();
        let capacity = match self.format {
            OutputFormat::Ids | OutputFormat::Jsonl => text_bytes + text_bytes / 2,
            OutputFormat::Bin => text_bytes + 64,
            OutputFormat::Count => items.len() * 8,
        };
        let mut out = ChunkOut {
            bytes: Vec::with_capacity(capacity),
            ..ChunkOut::default()
        };
        let mut ids = Vec::new();
        for item in items {
            match item {
                Item::File { index } => out.file = Some(*index),
                Item::Blank(n) => out.blank_lines += n,
                Item::Doc(doc) => match self.encode(&doc.text, &mut ids) {
                    Ok(count) => {
                        self.write_document(doc, &ids, count, &mut out.bytes);
                        out.documents += 1;
                        out.tokens += count as u64;
                        out.text_bytes += doc.text.len() as u64;
                    }
                    Err(err) => {
                        let (reason, message) = describe_encode_error(&doc.location, &err);
                        if self.skip_bad {
                            out.skip(reason, message, false);
                        } else {
                            out.error = Some(anyhow!(
                                "{message}\nhint: allow it with --specials, encode special-token \
                                 strings as plain text with --specials none, or skip such \
                                 documents with --skip-bad"
                            ));
                            break;
                        }
                    }
                },
                Item::Bad(err) => {
                    if self.skip_bad {
                        let fatal = err.is_fatal_for_file();
                        let message = if fatal {
                            format!("{err}; going on with the next input")
                        } else {
                            err.to_string()
                        };
                        out.skip(err.kind.label(), message, fatal);
                    } else {
                        out.error = Some(anyhow!("{err}\nhint: {}", record_hint(err)));
                        break;
                    }
                }
                Item::Unreadable(err) => {
                    if self.skip_bad && skippable_input_error(err) {
                        out.skip(
                            "unreadable_file",
                            format!("{err}; skipping this input"),
                            true,
                        );
                    } else {
                        let hint = match err {
                            _ if skippable_input_error(err) => {
                                "\nhint: use --skip-bad to skip unreadable inputs and go on"
                            }
                            ReadError::MissingColumn { .. } => {
                                "\nhint: name the text column with --field (and the id column \
                                 with --id-field)"
                            }
                            _ => "",
                        };
                        out.error = Some(anyhow!("{err}{hint}"));
                        break;
                    }
                }
            }
        }
        out
    }

    /// Encodes one document into `ids` (cleared first), returning its token count. For
    /// `--format count` without special tokens the ids are only counted, never stored.
    fn encode(&self, text: &str, ids: &mut Vec<u32>) -> Result<usize, EncodeError> {
        ids.clear();
        let eos = usize::from(self.eos.is_some());
        match &self.specials {
            SpecialPolicy::Ordinary if self.format == OutputFormat::Count => {
                return Ok(self.tokenizer.count_tokens(text) + eos);
            }
            SpecialPolicy::Ordinary => self.tokenizer.encode_ordinary_into(text, ids),
            SpecialPolicy::Allowed(allowed) => self.tokenizer.encode_into(text, allowed, ids)?,
        }
        if let Some(eos) = self.eos {
            ids.push(eos);
        }
        Ok(ids.len())
    }

    fn write_document(&self, doc: &Document, ids: &[u32], count: usize, out: &mut Vec<u8>) {
        let mut number = itoa::Buffer::new();
        match self.format {
            OutputFormat::Ids => {
                write_joined(ids, b' ', out, &mut number);
                out.push(b'\n');
            }
            OutputFormat::Jsonl => {
                out.push(b'{');
                if self.with_id {
                    out.extend_from_slice(b"\"id\":");
                    match &doc.id {
                        Some(id) => serde_json::to_writer(&mut *out, id.as_str())
                            .expect("writing JSON to memory cannot fail"),
                        None => out.extend_from_slice(b"null"),
                    }
                    out.push(b',');
                }
                out.extend_from_slice(b"\"ids\":[");
                write_joined(ids, b',', out, &mut number);
                out.extend_from_slice(b"]}\n");
            }
            OutputFormat::Bin => {
                out.reserve(ids.len() * 4);
                for id in ids {
                    out.extend_from_slice(&id.to_le_bytes());
                }
            }
            OutputFormat::Count => {
                out.extend_from_slice(number.format(count).as_bytes());
                out.push(b'\n');
            }
        }
    }
}

fn write_joined(ids: &[u32], separator: u8, out: &mut Vec<u8>, number: &mut itoa::Buffer) {
    out.reserve(ids.len() * 7);
    if let Some((first, rest)) = ids.split_first() {
        out.extend_from_slice(number.format(*first).as_bytes());
        for id in rest {
            out.push(separator);
            out.extend_from_slice(number.format(*id).as_bytes());
        }
    }
}

fn describe_encode_error(location: &read::Location, err: &EncodeError) -> (&'static str, String) {
    match err {
        EncodeError::DisallowedSpecial { token, offset } => (
            "disallowed_special",
            format!(
                "{location}: special token {token:?} at byte {offset} of the document is not \
                 allowed by --specials"
            ),
        ),
        other => ("encode_error", format!("{location}: {other}")),
    }
}

/// What the user can do about a bad record.
fn record_hint(err: &RecordError) -> String {
    let stdin = &*err.location.path == read::STDIN_PATH;
    match &err.kind {
        RecordErrorKind::InvalidUtf8 { .. } => {
            "use --lossy to replace invalid UTF-8 with U+FFFD, or --skip-bad to skip such records"
                .to_string()
        }
        RecordErrorKind::MalformedJson { .. } if stdin => {
            "stdin is read as JSON Lines: for plain text pass --input-format text (or --lines); \
             to skip malformed records use --skip-bad"
                .to_string()
        }
        RecordErrorKind::MissingField(_) => {
            "name the text field with --field (dotted for nested fields, e.g. meta.body), or use \
             --skip-bad to skip records without it"
                .to_string()
        }
        RecordErrorKind::NotAString { .. } => {
            "use --skip-bad to skip records whose field is not text (or pick another field with \
             --field)"
                .to_string()
        }
        kind if kind.is_fatal_for_file() => {
            "the input is damaged from here on; use --skip-bad to keep the documents read before \
             the damage and go on with the next input"
                .to_string()
        }
        _ => "fix the record, or use --skip-bad to skip such records".to_string(),
    }
}

/// Inputs that --skip-bad may pass over: damaged files. A missing column, a compressed Parquet
/// file or Parquet on stdin are mistakes in the command, which skipping would only hide.
fn skippable_input_error(err: &ReadError) -> bool {
    matches!(err, ReadError::InvalidParquet { .. })
}

/// Run-wide statistics, kept by the writer.
#[derive(Default)]
struct Totals {
    files: u64,
    documents: u64,
    tokens: u64,
    text_bytes: u64,
    blank_lines: u64,
    skipped: BTreeMap<&'static str, u64>,
    notes_printed: usize,
    notes_suppressed: bool,
}

/// Ordinary skip notes printed for the whole run; the rest are only counted.
const MAX_NOTES: usize = 5;

impl Totals {
    fn absorb(
        &mut self,
        chunk: ChunkOut,
        output: &mut Output,
        progress: &Progress,
        quiet: bool,
    ) -> Result<()> {
        output.write_all(&chunk.bytes)?;
        self.documents += chunk.documents;
        self.tokens += chunk.tokens;
        self.text_bytes += chunk.text_bytes;
        self.blank_lines += chunk.blank_lines;
        for (reason, n) in chunk.skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
        if !quiet {
            let mut unprinted = chunk.notes_dropped;
            for (always, note) in chunk.notes {
                if always || self.notes_printed < MAX_NOTES {
                    progress.println(&format!("warning: skipped {note}"));
                    self.notes_printed += usize::from(!always);
                } else {
                    unprinted = true;
                }
            }
            if unprinted && !self.notes_suppressed {
                self.notes_suppressed = true;
                progress.println("warning: more records skipped; they are counted in the summary");
            }
        }
        if let Some(file) = chunk.file {
            self.files = file;
            progress.file(file);
        }
        progress.update(self.documents, self.tokens, self.text_bytes);
        match chunk.error {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn summary(&self, started: Instant, output: Option<&Path>) -> Summary {
        let elapsed = started.elapsed();
        let mut s = Summary::new("arcade tokenize: done");
        s.row("files", summary::thousands(self.files));
        s.row("documents", summary::thousands(self.documents));
        let skipped: u64 = self.skipped.values().sum();
        s.row("skipped", summary::thousands(skipped));
        let mut reasons: Vec<_> = self.skipped.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (reason, n) in reasons {
            s.sub_row(*reason, summary::thousands(*n));
        }
        if self.blank_lines > 0 {
            s.row("blank lines", summary::thousands(self.blank_lines));
        }
        s.row("text bytes", summary::thousands(self.text_bytes));
        s.row("tokens", summary::thousands(self.tokens));
        s.row("bytes/token", summary::ratio(self.text_bytes, self.tokens));
        s.row("elapsed", summary::seconds(elapsed));
        s.row("throughput", summary::rate(self.text_bytes, elapsed));
        if let Some(path) = output {
            s.text_row("output", path.display().to_string());
        }
        s
    }
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    if args.lines
        && matches!(
            args.input_format,
            Some(InputFormat::Jsonl | InputFormat::Parquet)
        )
    {
        usage_error(format!(
            "--lines applies to plain-text inputs and cannot be combined with --input-format {}",
            args.input_format.expect("matched above")
        ));
    }
    if args.id_field.is_some() && args.format != OutputFormat::Jsonl {
        usage_error("--id-field is only written by --format jsonl");
    }

    let tokenizer = args.encoding.load()?;
    let specials = parse_specials(&args.specials, &tokenizer)?;
    let eos = match args.eos {
        false => None,
        true => Some(tokenizer.special_token("<|endoftext|>").ok_or_else(|| {
            anyhow!(
                "--eos: encoding {} has no <|endoftext|> token; declare it with \
                 --special '<|endoftext|>=ID'",
                tokenizer.name()
            )
        })?),
    };

    let inputs = if args.inputs.is_empty() {
        vec!["-".to_string()]
    } else {
        args.inputs.clone()
    };
    let files = read::expand_inputs(&inputs)?;
    let mut output = Output::open(args.output.as_deref())?;
    if args.format == OutputFormat::Bin && output.is_terminal() {
        bail!("--format bin writes binary data; redirect stdout or use -o FILE");
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .thread_name(|i| format!("arcade-worker-{i}"))
        .build()
        .context("cannot start the worker threads")?;
    let threads = pool.current_num_threads();
    let config = BatchConfig {
        batch_weight: args
            .batch_bytes
            .unwrap_or((threads << 20).clamp(4 << 20, 64 << 20)),
        chunk_weight: args.chunk_bytes.unwrap_or(0),
        // One reader keeps about four workers busy (parsing and decompressing are several
        // times faster than tokenizing); more help only with several input files.
        readers: args.readers.unwrap_or(threads.div_ceil(4)).clamp(1, 16),
        ..BatchConfig::default()
    };

    let progress = Progress::new(args.quiet, files.len());
    if !args.quiet && files.iter().any(|f| f == Path::new("-")) && io::stdin().is_terminal() {
        progress.println("arcade: reading documents from stdin (end with Ctrl-D)");
    }

    let encoder = Encoder {
        tokenizer,
        specials,
        eos,
        format: args.format,
        with_id: args.id_field.is_some(),
        skip_bad: args.skip_bad,
    };
    let options = ReadOptions {
        format: args.input_format,
        field: args.field.clone(),
        id_field: args.id_field.clone(),
        lossy_utf8: args.lossy,
        ..ReadOptions::default()
    };
    let lines = args.lines;
    let quiet = args.quiet;
    let mut totals = Totals::default();
    let sources: Vec<_> = (1u64..)
        .zip(files)
        .map(|(index, path)| {
            let options = options_for(&path, &options, lines);
            move || file_items(index, &path, &options)
        })
        .collect();
    batch::run_ordered_sources(
        &config,
        Some(&pool),
        sources,
        Item::weight,
        |chunk: &[Item]| encoder.process(chunk),
        |chunk| totals.absorb(chunk, &mut output, &progress, quiet),
    )?;
    output.commit()?;
    progress.finish();
    if !args.quiet {
        totals.summary(started, args.output.as_deref()).print();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_policies() {
        let tok = Tokenizer::arcade100k();
        assert!(matches!(
            parse_specials("none", &tok).unwrap(),
            SpecialPolicy::Ordinary
        ));
        assert!(matches!(
            parse_specials("all", &tok).unwrap(),
            SpecialPolicy::Allowed(AllowedSpecial::All)
        ));
        match parse_specials("<|endoftext|>, <|im_start|>", &tok).unwrap() {
            SpecialPolicy::Allowed(AllowedSpecial::Set(set)) => {
                assert_eq!(set.len(), 2);
                assert!(set.contains("<|im_start|>"));
            }
            _ => panic!("expected a set"),
        }
        let err = parse_specials("<|nope|>", &tok).unwrap_err().to_string();
        assert!(
            err.contains("<|nope|>") && err.contains("<|endoftext|>"),
            "{err}"
        );
    }

    #[test]
    fn joins_ids() {
        let mut out = Vec::new();
        let mut n = itoa::Buffer::new();
        write_joined(&[1, 22, 333], b' ', &mut out, &mut n);
        write_joined(&[], b' ', &mut out, &mut n);
        assert_eq!(out, b"1 22 333");
    }
}
