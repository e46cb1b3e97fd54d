use std::io;

use super::format::Compression;
use super::location::Location;

/// An input that cannot be read at all. Nothing was yielded from it; the caller should name the
/// file and usually stop (a missing input is almost always a typo, not something to skip).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error("{path}: no such file (check the path; quote glob patterns so the shell does not expand them)")]
    NotFound { path: String },

    #[error("{path}: is a directory; pass the files inside it, e.g. `{path}/*.jsonl`")]
    IsDirectory { path: String },

    #[error("{path}: cannot open: {source}")]
    Open {
        path: String,
        #[source]
        source: io::Error,
    },

    #[error("`{pattern}` matched no files")]
    NoMatch { pattern: String },

    #[error("`{pattern}` is not a valid glob pattern: {message}")]
    InvalidPattern { pattern: String, message: String },

    #[error("{path}: cannot list while expanding `{pattern}`: {source}")]
    Glob {
        pattern: String,
        path: String,
        #[source]
        source: io::Error,
    },

    #[error("{path}: not a readable Parquet file: {message}")]
    InvalidParquet { path: String, message: String },

    #[error("{path}: Parquet file has no column `{field}` (columns: {available})")]
    MissingColumn {
        path: String,
        field: String,
        available: String,
    },

    #[error("{path}: Parquet column `{field}` has type {found}, expected {expected}")]
    UnsupportedColumn {
        path: String,
        field: String,
        found: String,
        expected: &'static str,
    },

    #[error(
        "Parquet cannot be read from stdin (the format needs random access); pass a file path"
    )]
    ParquetFromStdin,

    #[error("{path}: {compression}-compressed Parquet is not supported; Parquet compresses its pages itself, so decompress the file first")]
    CompressedParquet {
        path: String,
        compression: Compression,
    },
}

/// A problem with one record, at a precise location. The iterator that yielded it goes on with
/// the next record unless [`RecordError::is_fatal_for_file`] is true, in which case it has ended.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct RecordError {
    pub location: Location,
    pub kind: RecordErrorKind,
}

impl RecordError {
    /// True when the rest of the file cannot be read (the reader has stopped): a truncated or
    /// corrupt compressed stream, an I/O error, an undecodable Parquet page.
    pub fn is_fatal_for_file(&self) -> bool {
        self.kind.is_fatal_for_file()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordErrorKind {
    /// The line is not one JSON object. `column` is the 1-based byte column serde_json stopped at.
    #[error("malformed JSON at column {column}: {message}")]
    MalformedJson { message: String, column: usize },

    /// The text field (or the requested id field) is absent. Holds the field as configured.
    #[error("missing field `{0}`")]
    MissingField(String),

    /// The field exists but holds the wrong kind of value (`found` is a JSON type name or
    /// `null`, also for a null Parquet cell).
    #[error("field `{field}` is {found}, expected {expected}")]
    NotAString {
        field: String,
        found: &'static str,
        expected: &'static str,
    },

    /// Bytes that are not UTF-8. `byte_offset` counts from the start of the record: the line
    /// for JSONL and line-wise text, the file for whole-file text, the cell for Parquet.
    #[error("invalid UTF-8 at byte {byte_offset} of the record (lossy UTF-8 mode would replace it with U+FFFD)")]
    InvalidUtf8 { byte_offset: u64 },

    /// The gzip/zstd stream ended early or holds bad data. Reported at the line being read
    /// when it happened; nothing after it can be decoded.
    #[error("{compression} stream is truncated or corrupt ({message}); the rest of the file cannot be read")]
    CorruptStream {
        compression: Compression,
        message: String,
    },

    #[error("read error ({0}); the rest of the file cannot be read")]
    Io(io::Error),

    #[error("Parquet data cannot be decoded ({0}); the rest of the file cannot be read")]
    Parquet(String),
}

impl RecordErrorKind {
    pub fn is_fatal_for_file(&self) -> bool {
        matches!(
            self,
            RecordErrorKind::CorruptStream { .. }
                | RecordErrorKind::Io(_)
                | RecordErrorKind::Parquet(_)
        )
    }

    /// A short stable name, for counting skipped records by cause.
    pub fn label(&self) -> &'static str {
        match self {
            RecordErrorKind::MalformedJson { .. } => "malformed_json",
            RecordErrorKind::MissingField(_) => "missing_field",
            RecordErrorKind::NotAString { .. } => "not_a_string",
            RecordErrorKind::InvalidUtf8 { .. } => "invalid_utf8",
            RecordErrorKind::CorruptStream { .. } => "corrupt_stream",
            RecordErrorKind::Io(_) => "io",
            RecordErrorKind::Parquet(_) => "parquet",
        }
    }

    /// Classifies a failed read of a (possibly compressed) byte stream.
    pub(crate) fn from_stream_error(err: io::Error, compression: Compression) -> Self {
        // flate2 reports bad data as InvalidInput/InvalidData, zstd as Other, and both report a
        // stream that stops mid-frame as UnexpectedEof. Any other kind comes from the file
        // underneath (EIO, ...), which is a plain I/O error whatever the compression.
        let from_decoder = matches!(
            err.kind(),
            io::ErrorKind::InvalidInput
                | io::ErrorKind::InvalidData
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::Other
        );
        if compression != Compression::None && from_decoder {
            RecordErrorKind::CorruptStream {
                compression,
                message: err.to_string(),
            }
        } else {
            RecordErrorKind::Io(err)
        }
    }
}
