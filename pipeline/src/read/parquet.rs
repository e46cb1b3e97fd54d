//! Parquet: the text is one column (optionally inside struct columns, `doc.body`), read batch by
//! batch with a projection so only the wanted column chunks are decompressed.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Fields};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use super::error::{ReadError, RecordError, RecordErrorKind};
use super::lines::decode_utf8_slice;
use super::location::{Document, Location, RecordUnit};
use super::source::open_file;

/// Rows per decoded batch: large enough to amortize decoding, small enough that a batch of
/// long documents stays a few tens of MB.
const BATCH_SIZE: usize = 1024;

/// What a column must hold to be used as text or as an id.
#[derive(Clone, Copy)]
enum Role {
    Text,
    Id,
}

impl Role {
    fn expected(self) -> &'static str {
        match self {
            Role::Text => {
                "a string column (Utf8, LargeUtf8, Utf8View) or a binary column holding UTF-8"
            }
            Role::Id => "a string, binary or integer column",
        }
    }

    fn accepts(self, data_type: &DataType) -> bool {
        use DataType::*;
        let textual = matches!(
            data_type,
            Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView
        );
        let integer = matches!(
            data_type,
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64
        );
        match self {
            Role::Text => textual,
            Role::Id => textual || integer,
        }
    }
}

/// A configured column resolved against the file schema: the column names from the top-level
/// column down through struct children.
#[derive(Debug, Clone)]
struct ColumnPath {
    /// As configured, for messages.
    field: String,
    parts: Vec<String>,
}

impl ColumnPath {
    /// A top-level column named exactly `field` wins (column names may contain dots); otherwise
    /// `a.b.c` walks struct children.
    fn resolve(fields: &Fields, field: &str, role: Role, path: &str) -> Result<Self, ReadError> {
        let mut candidates = vec![vec![field.to_string()]];
        if field.contains('.') {
            candidates.push(field.split('.').map(str::to_string).collect());
        }
        for parts in candidates {
            if let Some(data_type) = lookup(fields, &parts) {
                if !role.accepts(data_type) {
                    return Err(ReadError::UnsupportedColumn {
                        path: path.to_string(),
                        field: field.to_string(),
                        found: data_type.to_string(),
                        expected: role.expected(),
                    });
                }
                return Ok(Self {
                    field: field.to_string(),
                    parts,
                });
            }
        }
        Err(ReadError::MissingColumn {
            path: path.to_string(),
            field: field.to_string(),
            available: fields
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// The column in a (projected) batch, with the struct columns above it, whose nulls also
    /// make the value null.
    fn column(&self, batch: &RecordBatch) -> Option<CellReader> {
        let (first, rest) = self.parts.split_first()?;
        let mut array = batch.column_by_name(first)?.clone();
        let mut parents = Vec::new();
        for part in rest {
            let child = array.as_struct_opt()?.column_by_name(part)?.clone();
            parents.push(std::mem::replace(&mut array, child));
        }
        Some(CellReader {
            values: array,
            parents,
        })
    }
}

fn lookup<'a>(fields: &'a Fields, parts: &[String]) -> Option<&'a DataType> {
    let (first, rest) = parts.split_first()?;
    let mut data_type = fields.iter().find(|f| f.name() == first)?.data_type();
    for part in rest {
        let DataType::Struct(children) = data_type else {
            return None;
        };
        data_type = children.iter().find(|f| f.name() == part)?.data_type();
    }
    Some(data_type)
}

/// One cell's value, borrowed from the batch.
enum Cell<'a> {
    Null,
    Str(&'a str),
    Bytes(&'a [u8]),
    Int(i128),
}

struct CellReader {
    values: ArrayRef,
    parents: Vec<ArrayRef>,
}

impl CellReader {
    fn get(&self, row: usize) -> Cell<'_> {
        if self.values.is_null(row) || self.parents.iter().any(|p| p.is_null(row)) {
            return Cell::Null;
        }
        let v = &self.values;
        match v.data_type() {
            DataType::Utf8 => Cell::Str(v.as_string::<i32>().value(row)),
            DataType::LargeUtf8 => Cell::Str(v.as_string::<i64>().value(row)),
            DataType::Utf8View => Cell::Str(v.as_string_view().value(row)),
            DataType::Binary => Cell::Bytes(v.as_binary::<i32>().value(row)),
            DataType::LargeBinary => Cell::Bytes(v.as_binary::<i64>().value(row)),
            DataType::BinaryView => Cell::Bytes(v.as_binary_view().value(row)),
            DataType::Int8 => Cell::Int(v.as_primitive::<Int8Type>().value(row).into()),
            DataType::Int16 => Cell::Int(v.as_primitive::<Int16Type>().value(row).into()),
            DataType::Int32 => Cell::Int(v.as_primitive::<Int32Type>().value(row).into()),
            DataType::Int64 => Cell::Int(v.as_primitive::<Int64Type>().value(row).into()),
            DataType::UInt8 => Cell::Int(v.as_primitive::<UInt8Type>().value(row).into()),
            DataType::UInt16 => Cell::Int(v.as_primitive::<UInt16Type>().value(row).into()),
            DataType::UInt32 => Cell::Int(v.as_primitive::<UInt32Type>().value(row).into()),
            DataType::UInt64 => Cell::Int(v.as_primitive::<UInt64Type>().value(row).into()),
            // Types were checked against the file schema when the reader was opened.
            other => unreachable!("column type {other} was accepted at open"),
        }
    }

    /// The cell as an owned string, or why it cannot be one.
    fn string(
        &self,
        row: usize,
        field: &str,
        role: Role,
        lossy: bool,
    ) -> Result<String, RecordErrorKind> {
        match self.get(row) {
            Cell::Str(s) => Ok(s.to_owned()),
            Cell::Bytes(bytes) => decode_utf8_slice(bytes, lossy, 0),
            Cell::Int(n) => Ok(n.to_string()),
            Cell::Null => Err(RecordErrorKind::NotAString {
                field: field.to_string(),
                found: "null",
                expected: match role {
                    Role::Text => "a string",
                    Role::Id => "a string or number",
                },
            }),
        }
    }
}

/// The batch being handed out row by row.
struct CurrentBatch {
    text: CellReader,
    id: Option<CellReader>,
    extra: Vec<(Arc<str>, CellReader)>,
    /// With `keep_record`: the batch's rows as JSON objects, one per line, and where each
    /// line starts.
    records: Option<(String, Vec<usize>)>,
    rows: usize,
    next: usize,
}

pub(crate) struct ParquetReader {
    batches: ParquetRecordBatchReader,
    path: Arc<str>,
    text: ColumnPath,
    id: Option<ColumnPath>,
    /// Extra columns present in the file with a usable type; others are left out.
    extra: Vec<(Arc<str>, ColumnPath)>,
    lossy_utf8: bool,
    keep_record: bool,
    current: Option<CurrentBatch>,
    /// Rows handed out so far (the next row's 1-based number is this + 1).
    rows_done: u64,
    finished: bool,
}

impl ParquetReader {
    pub fn open(
        path: &Path,
        display: Arc<str>,
        options: &super::ReadOptions,
    ) -> Result<Self, ReadError> {
        let field = options.field.as_str();
        let id_field = options.id_field.as_deref();
        let file = open_file(path, &display)?;
        let invalid = |err: parquet::errors::ParquetError| ReadError::InvalidParquet {
            path: display.to_string(),
            message: err.to_string(),
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(invalid)?;
        let fields = builder.schema().fields().clone();
        let text = ColumnPath::resolve(&fields, field, Role::Text, &display)?;
        let id = id_field
            .map(|id_field| ColumnPath::resolve(&fields, id_field, Role::Id, &display))
            .transpose()?;
        let extra: Vec<(Arc<str>, ColumnPath)> = options
            .extra_fields
            .iter()
            .filter_map(|name| {
                let column = ColumnPath::resolve(&fields, name, Role::Id, &display).ok()?;
                Some((Arc::from(name.as_str()), column))
            })
            .collect();

        // Project the leaf columns under the wanted paths, so other columns are never read
        // (unless the whole record is wanted).
        let schema = builder.parquet_schema();
        let wanted: Vec<usize> = (0..schema.num_columns())
            .filter(|&leaf| {
                let leaf_path = schema.column(leaf).path().parts().to_vec();
                options.keep_record
                    || std::iter::once(&text)
                        .chain(id.as_ref())
                        .chain(extra.iter().map(|(_, c)| c))
                        .any(|c| leaf_path.starts_with(&c.parts))
            })
            .collect();
        let mask = ProjectionMask::leaves(schema, wanted);
        let batches = builder
            .with_projection(mask)
            .with_batch_size(BATCH_SIZE)
            .build()
            .map_err(invalid)?;
        Ok(Self {
            batches,
            path: display,
            text,
            id,
            extra,
            lossy_utf8: options.lossy_utf8,
            keep_record: options.keep_record,
            current: None,
            rows_done: 0,
            finished: false,
        })
    }

    fn location(&self) -> Location {
        Location::new(self.path.clone(), self.rows_done + 1, RecordUnit::Row)
    }

    /// Loads the next non-empty batch; `Ok(false)` at the end of the file.
    fn load_batch(&mut self) -> Result<bool, RecordErrorKind> {
        loop {
            let batch = match self.batches.next() {
                None => return Ok(false),
                Some(batch) => batch.map_err(|err| RecordErrorKind::Parquet(err.to_string()))?,
            };
            if batch.num_rows() == 0 {
                continue;
            }
            let missing = || RecordErrorKind::Parquet("projected column missing from batch".into());
            let text = self.text.column(&batch).ok_or_else(missing)?;
            let id = match &self.id {
                Some(id) => Some(id.column(&batch).ok_or_else(missing)?),
                None => None,
            };
            let mut extra = Vec::with_capacity(self.extra.len());
            for (name, column) in &self.extra {
                extra.push((name.clone(), column.column(&batch).ok_or_else(missing)?));
            }
            let records = if self.keep_record {
                Some(batch_as_json_lines(&batch)?)
            } else {
                None
            };
            self.current = Some(CurrentBatch {
                text,
                id,
                extra,
                records,
                rows: batch.num_rows(),
                next: 0,
            });
            return Ok(true);
        }
    }
}

impl Iterator for ParquetReader {
    type Item = Result<Document, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        if self.current.as_ref().is_none_or(|b| b.next == b.rows) {
            match self.load_batch() {
                Ok(true) => {}
                Ok(false) => {
                    self.finished = true;
                    return None;
                }
                Err(kind) => {
                    self.finished = true;
                    return Some(Err(RecordError {
                        location: self.location(),
                        kind,
                    }));
                }
            }
        }
        let location = self.location();
        let batch = self.current.as_mut()?;
        let row = batch.next;
        batch.next += 1;
        self.rows_done += 1;

        let lossy = self.lossy_utf8;
        let text = batch.text.string(row, &self.text.field, Role::Text, lossy);
        let id = match (&batch.id, &self.id) {
            (Some(cells), Some(column)) => Some(cells.string(row, &column.field, Role::Id, lossy)),
            _ => None,
        };
        let result = text.and_then(|text| Ok((text, id.transpose()?)));
        Some(match result {
            Ok((text, id)) => {
                let fields = batch
                    .extra
                    .iter()
                    .filter_map(|(name, cells)| {
                        let value = cells.string(row, name, Role::Id, lossy).ok()?;
                        Some((name.clone(), value))
                    })
                    .collect();
                let record = batch.records.as_ref().map(|(json, starts)| {
                    let end = starts.get(row + 1).map_or(json.len(), |&next| next - 1);
                    Box::from(&json[starts[row]..end])
                });
                Ok(Document {
                    text,
                    id,
                    location,
                    fields,
                    record,
                    lang: None,
                })
            }
            Err(kind) => Err(RecordError { location, kind }),
        })
    }
}

/// Every row of `batch` as a JSON object, one per line (JSON escapes newlines inside strings, so
/// lines are rows), with the byte offset at which each line starts.
fn batch_as_json_lines(batch: &RecordBatch) -> Result<(String, Vec<usize>), RecordErrorKind> {
    let mut out = Vec::new();
    {
        let mut writer = arrow_json::LineDelimitedWriter::new(&mut out);
        writer
            .write(batch)
            .and_then(|()| writer.finish())
            .map_err(|err| {
                RecordErrorKind::Parquet(format!("cannot convert a row to JSON: {err}"))
            })?;
    }
    let json = String::from_utf8(out)
        .map_err(|_| RecordErrorKind::Parquet("a row converted to invalid UTF-8 JSON".into()))?;
    let mut starts = Vec::with_capacity(batch.num_rows());
    let mut at = 0;
    for line in json.split_inclusive('\n') {
        starts.push(at);
        at += line.len();
    }
    if starts.len() != batch.num_rows() {
        return Err(RecordErrorKind::Parquet(format!(
            "{} rows converted to {} JSON lines",
            batch.num_rows(),
            starts.len()
        )));
    }
    Ok((json, starts))
}
