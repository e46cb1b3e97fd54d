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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub text: String,
    /// The value of `ReadOptions::id_field` (numbers converted to their decimal text); `None`
    /// when no id field was asked for.
    pub id: Option<String>,
    pub location: Location,
}
