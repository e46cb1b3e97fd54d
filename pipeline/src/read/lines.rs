//! Splitting a byte stream into lines without copying or re-allocating per line.

use std::io::BufRead;

use super::error::RecordErrorKind;
use super::format::Compression;
use super::source::ByteStream;

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// A line buffer that grew past this (one huge record) is shrunk back afterwards, so a single
/// outlier does not pin its memory for the rest of the file.
const KEEP_CAPACITY: usize = 16 * 1024 * 1024;

/// One line, terminator (`\n` or `\r\n`) removed.
pub(crate) struct Line<'a> {
    /// 1-based line number.
    pub number: u64,
    pub bytes: &'a [u8],
    /// Bytes dropped from the front of `bytes` (a UTF-8 byte-order mark on line 1), so error
    /// offsets can still count from the start of the line as stored in the file.
    pub skipped: u64,
}

/// Reads lines with `read_until` into one reused buffer.
pub(crate) struct LineReader {
    input: ByteStream,
    compression: Compression,
    buf: Vec<u8>,
    number: u64,
    finished: bool,
}

impl LineReader {
    pub fn new(input: ByteStream, compression: Compression) -> Self {
        Self {
            input,
            compression,
            buf: Vec::with_capacity(64 * 1024),
            number: 0,
            finished: false,
        }
    }

    /// The next line; `None` at the end. An `Err` carries the number of the line that was
    /// being read and is the last item: a failed stream cannot be resumed.
    pub fn next_line(&mut self) -> Option<Result<Line<'_>, (u64, RecordErrorKind)>> {
        if self.finished {
            return None;
        }
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::with_capacity(64 * 1024);
        }
        self.buf.clear();
        match self.input.read_until(b'\n', &mut self.buf) {
            Ok(0) => {
                self.finished = true;
                None
            }
            Ok(_) => {
                self.number += 1;
                let mut bytes = &self.buf[..];
                if let Some(rest) = bytes.strip_suffix(b"\n") {
                    bytes = rest.strip_suffix(b"\r").unwrap_or(rest);
                }
                let mut skipped = 0;
                if self.number == 1 {
                    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
                        bytes = rest;
                        skipped = UTF8_BOM.len() as u64;
                    }
                }
                Some(Ok(Line {
                    number: self.number,
                    bytes,
                    skipped,
                }))
            }
            Err(err) => {
                self.finished = true;
                self.number += 1;
                Some(Err((
                    self.number,
                    RecordErrorKind::from_stream_error(err, self.compression),
                )))
            }
        }
    }
}

/// Strips the UTF-8 byte-order mark some Windows tools put in front of a file.
pub(crate) fn strip_bom(bytes: &[u8]) -> (&[u8], u64) {
    match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, UTF8_BOM.len() as u64),
        None => (bytes, 0),
    }
}

/// std's UTF-8 check behind a SIMD one: simdutf8 (AVX2, SSE4.2 or NEON, picked at run time)
/// validates text several times faster than std off pure ASCII (the reader thread spent 2% of an
/// `arcade pack` run in std's check); a line it rejects goes through std for the offset of the
/// first bad byte.
#[inline]
pub(crate) fn check_utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes))
}

/// Decodes UTF-8, or replaces bad sequences with U+FFFD when `lossy`. `skipped` is added to the
/// reported offset (bytes the caller already removed from the front of the record).
pub(crate) fn decode_utf8(
    bytes: Vec<u8>,
    lossy: bool,
    skipped: u64,
) -> Result<String, RecordErrorKind> {
    if check_utf8(&bytes).is_ok() {
        // SAFETY: just validated.
        return Ok(unsafe { String::from_utf8_unchecked(bytes) });
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(err) if lossy => Ok(String::from_utf8_lossy(err.as_bytes()).into_owned()),
        Err(err) => Err(RecordErrorKind::InvalidUtf8 {
            byte_offset: skipped + err.utf8_error().valid_up_to() as u64,
        }),
    }
}

/// Like [`decode_utf8`] for a borrowed slice, copying once.
pub(crate) fn decode_utf8_slice(
    bytes: &[u8],
    lossy: bool,
    skipped: u64,
) -> Result<String, RecordErrorKind> {
    match check_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(_) if lossy => Ok(String::from_utf8_lossy(bytes).into_owned()),
        Err(err) => Err(RecordErrorKind::InvalidUtf8 {
            byte_offset: skipped + err.valid_up_to() as u64,
        }),
    }
}
