//! JSON Lines: one object per line, the document text in a configurable (dotted) field.

use std::borrow::Cow;
use std::sync::Arc;

use super::error::{RecordError, RecordErrorKind};
use super::json_fields::JsonFields;
use super::lines::LineReader;
use super::location::{Document, Location, RecordUnit};

pub(crate) struct JsonlReader {
    lines: LineReader,
    path: Arc<str>,
    fields: JsonFields,
    lossy_utf8: bool,
    keep_record: bool,
    blank_lines: u64,
}

impl JsonlReader {
    pub fn new(lines: LineReader, path: Arc<str>, options: &super::ReadOptions) -> Self {
        Self {
            lines,
            path,
            fields: JsonFields::new(
                &options.field,
                options.id_field.as_deref(),
                &options.extra_fields,
            ),
            lossy_utf8: options.lossy_utf8,
            keep_record: options.keep_record,
            blank_lines: 0,
        }
    }

    /// Lines holding only whitespace seen so far. They are not records (so they are neither
    /// yielded nor errors) but are counted so that statistics account for every line.
    pub fn blank_lines(&self) -> u64 {
        self.blank_lines
    }
}

impl Iterator for JsonlReader {
    type Item = Result<Document, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let location = |record| Location::new(self.path.clone(), record, RecordUnit::Line);
            let line = match self.lines.next_line()? {
                Ok(line) => line,
                Err((number, kind)) => {
                    return Some(Err(RecordError {
                        location: location(number),
                        kind,
                    }))
                }
            };
            if line.bytes.iter().all(u8::is_ascii_whitespace) {
                self.blank_lines += 1;
                continue;
            }
            let parsed = parse_line(
                line.bytes,
                line.skipped,
                &mut self.fields,
                self.lossy_utf8,
                self.keep_record,
            );
            return Some(match parsed {
                Ok((fields, record)) => Ok(Document {
                    text: fields.text,
                    id: fields.id,
                    location: location(line.number),
                    fields: fields.extra,
                    record,
                    lang: None,
                }),
                Err(kind) => Err(RecordError {
                    location: location(line.number),
                    kind,
                }),
            });
        }
    }
}

fn parse_line(
    bytes: &[u8],
    skipped: u64,
    fields: &mut JsonFields,
    lossy: bool,
    keep_record: bool,
) -> Result<(super::json_fields::Extracted, Option<Box<str>>), RecordErrorKind> {
    // Validating the whole line up front (SIMD, see `check_utf8`) gives one precise error for
    // bad bytes anywhere in the record, and lets serde_json parse from &str, which skips its own
    // per-string UTF-8 checks.
    let json: Cow<'_, str> = match super::lines::check_utf8(bytes) {
        Ok(json) => Cow::Borrowed(json),
        Err(_) if lossy => String::from_utf8_lossy(bytes),
        Err(err) => {
            return Err(RecordErrorKind::InvalidUtf8 {
                byte_offset: skipped + err.valid_up_to() as u64,
            })
        }
    };
    let extracted = fields.extract(&json, lossy)?;
    let record = keep_record.then(|| Box::from(json.trim()));
    Ok((extracted, record))
}
