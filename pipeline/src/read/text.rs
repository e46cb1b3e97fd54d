//! Plain text: the whole file as one document, or every line as one document.

use std::io::Read;
use std::sync::Arc;

use super::error::{RecordError, RecordErrorKind};
use super::format::Compression;
use super::lines::{decode_utf8, decode_utf8_slice, strip_bom, LineReader};
use super::location::{Document, Location, RecordUnit};
use super::source::ByteStream;

/// Yields the whole input as a single document (record 1), even when it is empty: an empty
/// file is an empty document, for the caller to count, rather than nothing at all.
pub(crate) struct TextReader {
    input: Option<ByteStream>,
    compression: Compression,
    path: Arc<str>,
    lossy_utf8: bool,
}

impl TextReader {
    pub fn new(
        input: ByteStream,
        compression: Compression,
        path: Arc<str>,
        lossy_utf8: bool,
    ) -> Self {
        Self {
            input: Some(input),
            compression,
            path,
            lossy_utf8,
        }
    }
}

impl Iterator for TextReader {
    type Item = Result<Document, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut input = self.input.take()?;
        let location = Location::new(self.path.clone(), 1, RecordUnit::File);
        let mut bytes = Vec::new();
        let decoded = match input.read_to_end(&mut bytes) {
            Ok(_) => {
                let (_, skipped) = strip_bom(&bytes);
                bytes.drain(..skipped as usize);
                decode_utf8(bytes, self.lossy_utf8, skipped)
            }
            Err(err) => Err(RecordErrorKind::from_stream_error(err, self.compression)),
        };
        Some(match decoded {
            Ok(text) => Ok(Document::new(text, location)),
            Err(kind) => Err(RecordError { location, kind }),
        })
    }
}

/// Yields every line as a document, without its `\n` / `\r\n`. Empty lines are documents too,
/// so the caller sees (and can count) them; a final newline does not add an empty document.
pub(crate) struct TextLinesReader {
    lines: LineReader,
    path: Arc<str>,
    lossy_utf8: bool,
}

impl TextLinesReader {
    pub fn new(lines: LineReader, path: Arc<str>, lossy_utf8: bool) -> Self {
        Self {
            lines,
            path,
            lossy_utf8,
        }
    }
}

impl Iterator for TextLinesReader {
    type Item = Result<Document, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let location = |record| Location::new(self.path.clone(), record, RecordUnit::Line);
        Some(match self.lines.next_line()? {
            Ok(line) => match decode_utf8_slice(line.bytes, self.lossy_utf8, line.skipped) {
                Ok(text) => Ok(Document::new(text, location(line.number))),
                Err(kind) => Err(RecordError {
                    location: location(line.number),
                    kind,
                }),
            },
            Err((number, kind)) => Err(RecordError {
                location: location(number),
                kind,
            }),
        })
    }
}
