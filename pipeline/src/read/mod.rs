//! Document readers: stream [`Document`]s out of JSONL, Parquet and plain-text inputs.
//!
//! Every reader holds one record (plus fixed-size I/O buffers) in memory at a time, and every
//! document and error carries a [`Location`] (`data/a.jsonl:17`, `data/b.parquet row 12`).
//!
//! ```no_run
//! use arcade_pipeline::read::{self, ReadOptions};
//!
//! let options = ReadOptions { id_field: Some("id".into()), ..ReadOptions::default() };
//! for path in read::expand_inputs(&["data/*.jsonl.gz".to_string()])? {
//!     let mut docs = read::open(&path, &options)?;
//!     for doc in &mut docs {
//!         match doc {
//!             Ok(doc) => println!("{}: {} bytes", doc.location, doc.text.len()),
//!             // Per-record problems are reported and skipped; the reader goes on unless the
//!             // error says the rest of the file is unreadable.
//!             Err(err) => eprintln!("skipped {err}"),
//!         }
//!     }
//!     eprintln!("{} blank lines", docs.blank_lines());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Decisions worth knowing:
//! * JSONL lines holding only whitespace are not records: they are counted
//!   ([`DocumentReader::blank_lines`]) instead of being yielded or reported.
//! * In [`InputFormat::TextLines`] every line is a document, empty ones included, so the caller
//!   decides what to do with empties. `\r\n` and `\n` both end a line.
//! * A UTF-8 byte-order mark at the start of a file is dropped.
//! * Compression comes from the file name (`.gz`, `.zst`); without such a suffix the first bytes
//!   are sniffed, so stdin and misnamed files are decompressed too.
//! * A corrupt compressed stream is detected when the decoder hits it; with gzip a damaged
//!   member may only be noticed at its checksum, after its (damaged) lines were yielded.

mod error;
mod format;
mod inputs;
mod json_fields;
mod jsonl;
mod lines;
mod location;
mod parquet;
mod source;
mod text;

use std::path::Path;
use std::sync::Arc;

pub use error::{ReadError, RecordError, RecordErrorKind};
pub use format::{Compression, InputFormat};
pub use inputs::expand_inputs;
pub use location::{Document, LangLabel, Location, RecordUnit};

use jsonl::JsonlReader;
use lines::LineReader;
use parquet::ParquetReader;
use text::{TextLinesReader, TextReader};

/// Opens `path` (`-` for stdin) as a buffered stream of decompressed bytes: `compression` as
/// given, or, when `None`, sniffed from the first bytes. Returns the compression used. For
/// byte formats other than JSONL and text (whose first bytes can look like a magic number), pass
/// `Some(Compression::None)` unless the name says otherwise.
pub fn open_bytes(
    path: &Path,
    compression: Option<Compression>,
) -> Result<(Box<dyn std::io::BufRead + Send>, Compression), ReadError> {
    let display = if path == Path::new("-") {
        STDIN_PATH.to_string()
    } else {
        path.display().to_string()
    };
    source::open_stream(path, &display, compression)
}

/// The display path used for stdin.
pub const STDIN_PATH: &str = "<stdin>";

/// How to read an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Overrides the format detected from the file name. stdin (`-`) is JSONL unless set.
    pub format: Option<InputFormat>,
    /// JSONL field / Parquet column holding the text. Dotted for nested objects or struct
    /// columns (`meta.body`); a key or column literally named `meta.body` is preferred.
    pub field: String,
    /// Optional field / column holding a document id (string or number, kept as text).
    /// When set, a record without it is a [`RecordErrorKind::MissingField`] error.
    pub id_field: Option<String>,
    /// Replace invalid UTF-8 (and, in JSON, escaped lone surrogates) with U+FFFD instead of
    /// reporting [`RecordErrorKind::InvalidUtf8`] / [`RecordErrorKind::MalformedJson`].
    pub lossy_utf8: bool,
    /// Further fields / columns to copy into [`Document::fields`] (dotted like `field`) when a
    /// record has them as a string or number. A record without one is not an error.
    pub extra_fields: Vec<String>,
    /// Keep each whole record as JSON in [`Document::record`] (Parquet rows are converted), for
    /// writers that pass every input field through. Costs a copy of every record.
    pub keep_record: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            format: None,
            field: "text".to_string(),
            id_field: None,
            lossy_utf8: false,
            extra_fields: Vec::new(),
            keep_record: false,
        }
    }
}

/// Opens one input (`-` is stdin) and returns an iterator over its documents.
///
/// Fails only when the input cannot be read at all; problems with single records come out of
/// the iterator as `Err` items.
pub fn open(path: &Path, options: &ReadOptions) -> Result<DocumentReader, ReadError> {
    let stdin = path == Path::new("-");
    let display: Arc<str> = if stdin {
        STDIN_PATH.into()
    } else {
        path.display().to_string().into()
    };
    let (detected, named_compression) = if stdin {
        (InputFormat::Jsonl, None)
    } else {
        InputFormat::detect(path)
    };
    let format = options.format.unwrap_or(detected);
    let lossy = options.lossy_utf8;

    if format == InputFormat::Parquet {
        if stdin {
            return Err(ReadError::ParquetFromStdin);
        }
        if let Some(compression) = named_compression {
            return Err(ReadError::CompressedParquet {
                path: display.to_string(),
                compression,
            });
        }
        let reader = ParquetReader::open(path, display.clone(), options)?;
        return Ok(DocumentReader {
            inner: Inner::Parquet(Box::new(reader)),
            format,
            compression: Compression::None,
            path: display,
        });
    }

    let (stream, compression) = source::open_stream(path, &display, named_compression)?;
    let inner = match format {
        InputFormat::Jsonl => Inner::Jsonl(JsonlReader::new(
            LineReader::new(stream, compression),
            display.clone(),
            options,
        )),
        InputFormat::TextLines => Inner::Lines(TextLinesReader::new(
            LineReader::new(stream, compression),
            display.clone(),
            lossy,
        )),
        InputFormat::Text => {
            Inner::Text(TextReader::new(stream, compression, display.clone(), lossy))
        }
        InputFormat::Parquet => unreachable!("handled above"),
    };
    Ok(DocumentReader {
        inner,
        format,
        compression,
        path: display,
    })
}

/// Documents of one input, in file order. See [`open`].
pub struct DocumentReader {
    inner: Inner,
    format: InputFormat,
    compression: Compression,
    path: Arc<str>,
}

enum Inner {
    Jsonl(JsonlReader),
    Lines(TextLinesReader),
    Text(TextReader),
    Parquet(Box<ParquetReader>),
}

impl DocumentReader {
    /// The display path (`<stdin>` for stdin).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// The compression in use (from the name, or sniffed).
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Whitespace-only JSONL lines skipped so far (always 0 for other formats).
    pub fn blank_lines(&self) -> u64 {
        match &self.inner {
            Inner::Jsonl(reader) => reader.blank_lines(),
            _ => 0,
        }
    }
}

impl Iterator for DocumentReader {
    type Item = Result<Document, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Jsonl(reader) => reader.next(),
            Inner::Lines(reader) => reader.next(),
            Inner::Text(reader) => reader.next(),
            Inner::Parquet(reader) => reader.next(),
        }
    }
}

impl std::fmt::Debug for DocumentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}
