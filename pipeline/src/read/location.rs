use std::fmt;
use std::sync::Arc;

/// What [`Location::record`] counts; decides how the location is displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordUnit {
    /// 1-based line number (JSONL, text read line by line).
    Line,
    /// 1-based row number across the whole file (Parquet).
    Row,
    /// The whole file is the record (plain text read as one document); `record` is always 1.
    File,
}

/// Where a document or an error came from, precise enough to open the file at that spot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// Path as the user gave it (not canonicalized), or `<stdin>`. Shared by every record of a
    /// file, so cloning a location is a reference-count increment, not a string copy.
    pub path: Arc<str>,
    pub record: u64,
    pub unit: RecordUnit,
}

impl Default for Location {
    fn default() -> Self {
        Self::new("".into(), 0, RecordUnit::File)
    }
}

impl Location {
    pub fn new(path: Arc<str>, record: u64, unit: RecordUnit) -> Self {
        Self { path, record, unit }
    }
}

impl fmt::Display for Location {
    /// `data/a.jsonl:17`, `data/b.parquet row 12`, `notes.txt`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.unit {
            RecordUnit::Line => write!(f, "{}:{}", self.path, self.record),
            RecordUnit::Row => write!(f, "{} row {}", self.path, self.record),
            RecordUnit::File => f.write_str(&self.path),
        }
    }
}

/// One document ready for the next pipeline stage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    pub text: String,
    /// The value of `ReadOptions::id_field` (numbers converted to their decimal text); `None`
    /// when no id field was asked for.
    pub id: Option<String>,
    pub location: Location,
    /// The values of `ReadOptions::extra_fields` that the record has (strings, and numbers as
    /// their decimal text), in the order asked for. Stages read them with [`Document::field`].
    pub fields: Vec<(Arc<str>, String)>,
    /// The whole record as one JSON object (`ReadOptions::keep_record`), for writers that pass
    /// every input field through.
    pub record: Option<Box<str>>,
    /// Set by a language-identification stage.
    pub lang: Option<LangLabel>,
}

impl Document {
    /// A document with only text and location (no id, fields, record or label).
    pub fn new(text: String, location: Location) -> Self {
        Self {
            text,
            location,
            ..Self::default()
        }
    }

    /// A copy for stages to work on: everything but the record, which stages only read (from
    /// the original) and which can be as large as the text again.
    pub fn working_copy(&self) -> Document {
        Document {
            text: self.text.clone(),
            id: self.id.clone(),
            location: self.location.clone(),
            fields: self.fields.clone(),
            record: None,
            lang: self.lang.clone(),
        }
    }

    /// The value of an extra field of the record, when the reader was asked for it and the
    /// record has it as a string or number.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A document's language as identified by a stage: an ISO 639-1 code where one exists (`en`),
/// otherwise ISO 639-3, and the identifier's confidence in 0..=1.
#[derive(Debug, Clone, PartialEq)]
pub struct LangLabel {
    pub code: &'static str,
    pub score: f64,
}
