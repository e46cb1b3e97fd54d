//! End-to-end tests of `arcade_pipeline::read` on the real fixtures in `fixtures/`.
//!
//! Expected numbers were computed independently of this crate when the fixtures were made:
//! record counts with `wc -l` / Python's `json`, character counts with Python `len(str)`,
//! the truncation points with Python's `zlib` and `zstd -dc | wc -l` (see fixtures/SOURCES.md).

use std::path::{Path, PathBuf};

use arcade_pipeline::read::{
    self, Compression, Document, InputFormat, ReadError, ReadOptions, RecordError, RecordErrorKind,
    RecordUnit,
};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
}

fn options(field: &str) -> ReadOptions {
    ReadOptions {
        field: field.to_string(),
        ..ReadOptions::default()
    }
}

fn with_id(field: &str, id: &str) -> ReadOptions {
    ReadOptions {
        id_field: Some(id.to_string()),
        ..options(field)
    }
}

fn with_format(format: InputFormat) -> ReadOptions {
    ReadOptions {
        format: Some(format),
        ..ReadOptions::default()
    }
}

fn lossy(mut options: ReadOptions) -> ReadOptions {
    options.lossy_utf8 = true;
    options
}

/// Every item of a reader, in order.
fn items(rel: &str, options: &ReadOptions) -> Vec<Result<Document, RecordError>> {
    read::open(&fixture(rel), options)
        .unwrap_or_else(|e| panic!("open {rel}: {e}"))
        .collect()
}

/// Documents of a reader that must not report any error.
fn docs(rel: &str, options: &ReadOptions) -> Vec<Document> {
    items(rel, options)
        .into_iter()
        .map(|item| item.unwrap_or_else(|e| panic!("unexpected error: {e}")))
        .collect()
}

fn texts(docs: &[Document]) -> Vec<&str> {
    docs.iter().map(|d| d.text.as_str()).collect()
}

/// Splits items into (record number, doc) and (record number, error).
type Split<'a> = (Vec<(u64, &'a Document)>, Vec<(u64, &'a RecordError)>);
fn split(items: &[Result<Document, RecordError>]) -> Split<'_> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        match item {
            Ok(doc) => ok.push((doc.location.record, doc)),
            Err(err) => errors.push((err.location.record, err)),
        }
    }
    (ok, errors)
}

fn record_numbers<T>(pairs: &[(u64, T)]) -> Vec<u64> {
    pairs.iter().map(|(n, _)| *n).collect()
}

// ------------------------------------------------------------------------------------------
// real data, end to end
// ------------------------------------------------------------------------------------------

/// (fixture, text field, records, chars, UTF-8 bytes), from Python's json module.
const JSONL_FIXTURES: &[(&str, &str, usize, usize, usize)] = &[
    ("web/dclm_majority_head.jsonl", "text", 130, 273172, 274444),
    ("web/dolma_cc2019_head.jsonl", "text", 40, 155677, 163004),
    ("web/dolma_cc2019_head.jsonl.gz", "text", 40, 155677, 163004),
    ("web/dolma_cc_en_head-0091.jsonl", "text", 10, 94106, 94424),
    ("web/c4_two_members.json.gz", "text", 20, 35167, 35259),
    ("web/olmo_c4-sample.01.json.gz", "text", 10, 14597, 14624),
    ("web/pile_val_sample.jsonl.zst", "text", 1, 6745, 6750),
    (
        "web/pile_train_00_sample.jsonl.zst",
        "text",
        1,
        13274,
        13424,
    ),
    ("code/code_permissive.jsonl", "content", 147, 325904, 326111),
    (
        "code/code_permissive.jsonl.zst",
        "content",
        147,
        325904,
        326111,
    ),
    ("multilingual/de.jsonl", "text", 298, 57538, 58422),
    ("multilingual/es.jsonl", "text", 259, 60718, 61589),
    ("multilingual/fr.jsonl", "text", 310, 47582, 49265),
    ("multilingual/it.jsonl", "text", 248, 41514, 41995),
    ("multilingual/nl.jsonl", "text", 246, 58284, 58415),
    ("multilingual/pt.jsonl", "text", 269, 69056, 71320),
    ("multilingual/en.jsonl", "text", 151, 73994, 74112),
    ("multilingual/zh.jsonl", "text", 261, 20752, 57310),
    ("multilingual/ja.jsonl", "text", 226, 13761, 40594),
    ("multilingual/ru.jsonl", "text", 220, 41976, 76227),
    ("multilingual/ar.jsonl", "text", 172, 36259, 65310),
    ("multilingual/hi.jsonl", "text", 133, 32931, 83418),
    ("multilingual/ko.jsonl", "text", 299, 20686, 49888),
];

#[test]
fn jsonl_fixtures_match_independent_counts() {
    for &(rel, field, records, chars, bytes) in JSONL_FIXTURES {
        let mut reader = read::open(&fixture(rel), &options(field)).unwrap();
        let docs: Vec<Document> = reader.by_ref().map(Result::unwrap).collect();
        assert_eq!(docs.len(), records, "{rel}: records");
        let got_chars: usize = docs.iter().map(|d| d.text.chars().count()).sum();
        let got_bytes: usize = docs.iter().map(|d| d.text.len()).sum();
        assert_eq!(
            (got_chars, got_bytes),
            (chars, bytes),
            "{rel}: chars, bytes"
        );
        assert_eq!(reader.blank_lines(), 0, "{rel}");
        assert_eq!(reader.format(), InputFormat::Jsonl, "{rel}");
        // Every fixture line is a record, so record numbers are exactly the line numbers.
        let numbers: Vec<u64> = docs.iter().map(|d| d.location.record).collect();
        assert_eq!(numbers, (1..=records as u64).collect::<Vec<_>>(), "{rel}");
        assert!(docs.iter().all(|d| d.id.is_none()));
    }
}

#[test]
fn locations_display_as_path_and_line() {
    let docs = docs("web/dclm_majority_head.jsonl", &ReadOptions::default());
    let location = &docs[16].location;
    assert_eq!(location.unit, RecordUnit::Line);
    let shown = location.to_string();
    assert!(
        shown.ends_with("fixtures/web/dclm_majority_head.jsonl:17"),
        "{shown}"
    );
    // the path is shared, not copied per record
    assert!(std::sync::Arc::ptr_eq(
        &docs[0].location.path,
        &docs[1].location.path
    ));
}

#[test]
fn first_and_last_texts_are_decoded_exactly() {
    let docs = docs("multilingual/fr.jsonl", &ReadOptions::default());
    // Python: json.loads(line)["text"][:30] of lines 1..3 (line 1 has a real C1 control char)
    assert!(docs[0].text.starts_with("Elle ne peut donc, à elle seul"));
    assert!(docs[0].text.contains("s\u{92}engager"));
    assert!(docs[1].text.starts_with("Les motifs personnels se rappo"));
    let c4 = docs_of_c4();
    assert!(c4[0]
        .text
        .starts_with("The woman who died after falling from a bridge"));
    assert!(c4[10]
        .text
        .starts_with("The sport of Bocce Ball is alive and well in Holliston.\n\"Thr"));
}

fn docs_of_c4() -> Vec<Document> {
    docs("web/c4_two_members.json.gz", &ReadOptions::default())
}

#[test]
fn gzip_equals_plain() {
    let plain = docs("web/dolma_cc2019_head.jsonl", &with_id("text", "id"));
    let reader = read::open(
        &fixture("web/dolma_cc2019_head.jsonl.gz"),
        &with_id("text", "id"),
    )
    .unwrap();
    assert_eq!(reader.compression(), Compression::Gzip);
    let gz: Vec<Document> = reader.map(Result::unwrap).collect();
    assert_eq!(texts(&plain), texts(&gz));
    let ids = |d: &[Document]| d.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&plain), ids(&gz));
    assert_eq!(
        plain[0].id.as_deref(),
        Some("blj5uzvcoa4iybpd5o6kom5nir6ngmoj")
    );
}

#[test]
fn zstd_equals_plain() {
    let opts = with_id("content", "hexsha");
    let plain = docs("code/code_permissive.jsonl", &opts);
    let reader = read::open(&fixture("code/code_permissive.jsonl.zst"), &opts).unwrap();
    assert_eq!(reader.compression(), Compression::Zstd);
    let zst: Vec<Document> = reader.map(Result::unwrap).collect();
    assert_eq!(plain.len(), 147);
    for (a, b) in plain.iter().zip(&zst) {
        assert_eq!(
            (&a.text, &a.id, a.location.record),
            (&b.text, &b.id, b.location.record)
        );
    }
    assert_eq!(plain.len(), zst.len());
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    let both = docs_of_c4();
    let first = docs("web/olmo_c4-sample.01.json.gz", &ReadOptions::default());
    assert_eq!(both.len(), 20);
    assert_eq!(texts(&both[..10]), texts(&first));
    assert_eq!(both[10].location.record, 11);
}

#[test]
fn compression_is_sniffed_when_the_name_does_not_say() {
    let dir = tempfile::tempdir().unwrap();
    for (src, name) in [
        ("web/dolma_cc2019_head.jsonl.gz", "gz_in_disguise.jsonl"),
        ("code/code_permissive.jsonl.zst", "zst_in_disguise.jsonl"),
    ] {
        let path = dir.path().join(name);
        std::fs::copy(fixture(src), &path).unwrap();
        let field = if src.starts_with("code") {
            "content"
        } else {
            "text"
        };
        let reader = read::open(&path, &options(field)).unwrap();
        assert_ne!(reader.compression(), Compression::None, "{name}");
        let sniffed: Vec<Document> = reader.map(Result::unwrap).collect();
        assert_eq!(
            texts(&sniffed),
            texts(&docs(src, &options(field))),
            "{name}"
        );
    }
}

#[test]
fn dotted_fields_reach_into_nested_objects() {
    // dolma: metadata.url equals the top-level id for this CCNet sample (checked with Python)
    let docs = docs(
        "web/dolma_cc_en_head-0091.jsonl",
        &with_id("metadata.url", "id"),
    );
    assert_eq!(docs.len(), 10);
    assert_eq!(
        docs[0].text,
        "http://100kinvesting.com/2016/11/28/first-teleconference-calls-invoice-factoring/"
    );
    assert_eq!(
        docs[9].text,
        "http://artsemersonblog.org/2018/09/04/from-russia-with-translation/"
    );
    assert!(docs
        .iter()
        .all(|d| d.id.as_deref() == Some(d.text.as_str())));

    let pile = self::docs(
        "web/pile_val_sample.jsonl.zst",
        &with_id("text", "meta.pile_set_name"),
    );
    assert_eq!(pile[0].id.as_deref(), Some("OpenWebText2"));
    assert!(pile[0]
        .text
        .starts_with("Catalonia election: Puigdemont calls for talks"));
}

#[test]
fn numeric_ids_become_decimal_strings() {
    let docs = docs("web/dclm_majority_head.jsonl", &with_id("text", "label"));
    let labels: Vec<&str> = docs[..5].iter().map(|d| d.id.as_deref().unwrap()).collect();
    assert_eq!(labels, ["0", "1", "0", "0", "1"]); // Python: [r["label"] for r in first 5]
}

#[test]
fn a_missing_nested_field_is_reported_per_record() {
    let items = items(
        "web/dolma_cc_en_head-0091.jsonl",
        &options("metadata.no_such_key"),
    );
    assert_eq!(items.len(), 10);
    for item in &items {
        let err = item.as_ref().unwrap_err();
        assert!(
            matches!(&err.kind, RecordErrorKind::MissingField(f) if f == "metadata.no_such_key")
        );
        assert!(!err.is_fatal_for_file());
    }
}

#[test]
fn explicit_format_overrides_detection() {
    let lines = docs(
        "web/dolma_cc2019_head.jsonl",
        &with_format(InputFormat::TextLines),
    );
    assert_eq!(lines.len(), 40);
    assert!(lines[0]
        .text
        .starts_with(r#"{"id":"blj5uzvcoa4iybpd5o6kom5nir6ngmoj","text":"A New Home?"#));
    assert!(!lines[0].text.ends_with('\n'));
}

// ------------------------------------------------------------------------------------------
// plain text
// ------------------------------------------------------------------------------------------

#[test]
fn whole_text_file_is_one_document() {
    for rel in [
        "text/wiki_demo_head.txt",
        "text/wiki_demo_head.txt.gz",
        "text/wiki_demo_head.txt.zst",
    ] {
        let docs = docs(rel, &ReadOptions::default());
        assert_eq!(docs.len(), 1, "{rel}");
        assert_eq!(docs[0].text.chars().count(), 112476, "{rel}"); // Python len(decode())
        assert_eq!(docs[0].location.unit, RecordUnit::File);
        assert_eq!(docs[0].location.record, 1);
        assert!(docs[0].location.to_string().ends_with(rel), "{rel}");
    }
}

#[test]
fn text_lines_are_documents() {
    for rel in [
        "text/wiki_demo_head.txt",
        "text/wiki_demo_head.txt.gz",
        "text/wiki_demo_head.txt.zst",
    ] {
        let docs = docs(rel, &with_format(InputFormat::TextLines));
        let lengths: Vec<usize> = docs.iter().map(|d| d.text.chars().count()).collect();
        assert_eq!(lengths, [43790, 46577, 22106], "{rel}"); // wc -l = 3; Python lengths
        assert!(docs[0].text.starts_with("Anarchism"), "{rel}");
    }
}

#[test]
fn blns_lines_keep_empty_lines_as_documents() {
    let docs = docs("special/blns.txt", &with_format(InputFormat::TextLines));
    assert_eq!(docs.len(), 742); // wc -l
    assert_eq!(docs.iter().filter(|d| d.text.is_empty()).count(), 76); // Python
    let whole = self::docs("special/blns.txt", &ReadOptions::default());
    assert_eq!(whole[0].text.chars().count(), 25621);
}

#[test]
fn crlf_empty_lines_and_missing_final_newline() {
    let docs = docs(
        "formats/lines_edge.txt",
        &with_format(InputFormat::TextLines),
    );
    assert_eq!(
        texts(&docs),
        [
            "first line",
            "",
            "third line",
            "",
            "fifth line, no newline at the end"
        ]
    );
    let numbers: Vec<u64> = docs.iter().map(|d| d.location.record).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
}

#[test]
fn a_json_array_file_is_not_jsonl_but_can_be_read_as_text() {
    // ftfy's test cases are one pretty-printed JSON array; `.json` means JSONL, so line 1
    // (`[`) is malformed rather than silently taken as something else.
    let items = items("special/ftfy_test_cases.json", &ReadOptions::default());
    let first = items[0].as_ref().unwrap_err();
    assert_eq!(first.location.record, 1);
    assert!(matches!(first.kind, RecordErrorKind::MalformedJson { .. }));
    let whole = docs(
        "special/ftfy_test_cases.json",
        &with_format(InputFormat::Text),
    );
    assert_eq!(whole[0].text.chars().count(), 46352);
}

#[test]
fn an_empty_file_is_no_record_in_jsonl_and_one_empty_document_as_text() {
    assert!(items("bad/empty.jsonl", &ReadOptions::default()).is_empty());
    let whole = docs("bad/empty.jsonl", &with_format(InputFormat::Text));
    assert_eq!(texts(&whole), [""]);
}

// ------------------------------------------------------------------------------------------
// JSONL edge cases and bad records
// ------------------------------------------------------------------------------------------

#[test]
fn crlf_bom_and_blank_lines_in_jsonl() {
    let mut reader = read::open(
        &fixture("formats/crlf_bom_blank.jsonl"),
        &ReadOptions::default(),
    )
    .unwrap();
    let got: Vec<Document> = reader.by_ref().map(Result::unwrap).collect();
    let numbers: Vec<u64> = got.iter().map(|d| d.location.record).collect();
    assert_eq!(numbers, [1, 3, 5]);
    assert_eq!(reader.blank_lines(), 2);
    // the same three records as the first lines of fr.jsonl, which has LF endings
    let fr = docs("multilingual/fr.jsonl", &ReadOptions::default());
    assert_eq!(texts(&got), texts(&fr[..3]));
}

/// Every error's message names the file and line.
fn assert_names_place(err: &RecordError, rel: &str, line: u64) {
    let message = err.to_string();
    assert!(
        message.contains(&format!("{rel}:{line}")),
        "message does not name {rel}:{line}: {message}"
    );
}

#[test]
fn malformed_json_lines_are_reported_and_skipped() {
    let rel = "bad/malformed_json.jsonl";
    let items = items(rel, &ReadOptions::default());
    let (ok, errors) = split(&items);
    assert_eq!(record_numbers(&ok), [1, 3, 7]);
    assert_eq!(record_numbers(&errors), [2, 4, 5, 6]);
    let expected = [
        "EOF while parsing a string",
        "unexpected end of hex escape",
        "trailing characters",
        "expected a JSON object",
    ];
    for ((line, err), needle) in errors.iter().zip(expected) {
        assert!(
            matches!(err.kind, RecordErrorKind::MalformedJson { .. }),
            "{err}"
        );
        assert!(!err.is_fatal_for_file());
        assert_names_place(err, rel, *line);
        assert!(err.to_string().contains(needle), "{err}");
        assert!(err.to_string().contains("column"), "{err}");
    }
    // the real UD German lines around the damage are intact
    let de = docs("multilingual/de.jsonl", &ReadOptions::default());
    assert_eq!(ok[0].1.text, de[0].text);
    assert_eq!(ok[1].1.text, de[2].text);
    assert_eq!(ok[2].1.text, de[3].text);
}

#[test]
fn lossy_mode_repairs_lone_surrogates_only() {
    let items = items("bad/malformed_json.jsonl", &lossy(ReadOptions::default()));
    let (ok, errors) = split(&items);
    assert_eq!(record_numbers(&ok), [1, 3, 4, 7]);
    assert_eq!(ok[2].1.text, "lone surrogate \u{FFFD} here");
    assert_eq!(record_numbers(&errors), [2, 5, 6]);
}

#[test]
fn missing_fields_are_reported_and_skipped() {
    let rel = "bad/missing_field.jsonl";
    let items = items(rel, &ReadOptions::default());
    let (ok, errors) = split(&items);
    assert_eq!(record_numbers(&ok), [1, 3, 4, 5]);
    assert_eq!(record_numbers(&errors), [2]);
    let err = errors[0].1;
    assert!(matches!(&err.kind, RecordErrorKind::MissingField(f) if f == "text"));
    assert_names_place(err, rel, 2);
    assert!(err.to_string().contains("missing field `text`"), "{err}");

    let items = self::items(rel, &with_id("text", "id"));
    let (ok, errors) = split(&items);
    assert_eq!(record_numbers(&ok), [1, 3, 5]);
    assert_eq!(record_numbers(&errors), [2, 4]);
    assert!(matches!(&errors[1].1.kind, RecordErrorKind::MissingField(f) if f == "id"));
    assert_eq!(ok[0].1.id.as_deref(), Some("lingua-es-0000"));
}

#[test]
fn values_of_the_wrong_type_are_reported_with_their_type() {
    let rel = "bad/not_a_string.jsonl";
    let items = items(rel, &with_id("text", "id"));
    let found: Vec<Option<(&str, &str)>> = items
        .iter()
        .map(|item| match item {
            Err(RecordError {
                kind: RecordErrorKind::NotAString { field, found, .. },
                ..
            }) => Some((field.as_str(), *found)),
            Ok(_) => None,
            Err(other) => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        found,
        [
            Some(("text", "a number")),
            Some(("text", "null")),
            Some(("text", "a boolean")),
            Some(("text", "an array")),
            Some(("text", "an object")),
            None,
            Some(("id", "an object")),
        ]
    );
    let doc = items[5].as_ref().unwrap();
    assert_eq!((doc.text.as_str(), doc.id.as_deref()), ("fine", Some("6")));
    let err = items[0].as_ref().unwrap_err();
    assert_names_place(err, rel, 1);
    assert!(
        err.to_string().contains("is a number, expected a string"),
        "{err}"
    );
    let err = items[6].as_ref().unwrap_err();
    assert!(
        err.to_string().contains("expected a string or number"),
        "{err}"
    );
}

#[test]
fn invalid_utf8_in_jsonl_names_the_byte() {
    let rel = "bad/invalid_utf8.jsonl";
    let items = items(rel, &with_id("text", "id"));
    let (ok, errors) = split(&items);
    assert_eq!(record_numbers(&ok), [1, 4]);
    let offsets: Vec<(u64, u64)> = errors
        .iter()
        .map(|(line, err)| match err.kind {
            RecordErrorKind::InvalidUtf8 { byte_offset } => (*line, byte_offset),
            _ => panic!("unexpected {err}"),
        })
        .collect();
    // Python: UnicodeDecodeError.start of lines 2 and 3. Line 3's bad byte is in a field we
    // do not use; it is still reported, so damaged records never pass unnoticed.
    assert_eq!(offsets, [(2, 13), (3, 28)]);
    assert_names_place(errors[0].1, rel, 2);
    assert!(errors[0].1.to_string().contains("byte 13"));

    let items = self::items(rel, &lossy(options("text")));
    let docs: Vec<&Document> = items.iter().map(|i| i.as_ref().unwrap()).collect();
    assert_eq!(docs.len(), 4);
    assert_eq!(docs[1].text, "caf\u{FFFD} au lait");
    assert_eq!(docs[2].text, "ok");
}

#[test]
fn invalid_utf8_in_text() {
    let rel = "bad/invalid_utf8.txt";
    let whole = items(rel, &ReadOptions::default());
    assert_eq!(whole.len(), 1);
    let err = whole[0].as_ref().unwrap_err();
    assert!(
        matches!(err.kind, RecordErrorKind::InvalidUtf8 { byte_offset: 22 }),
        "{err}"
    );
    assert!(err.to_string().contains(rel), "{err}");

    let lines = items(rel, &with_format(InputFormat::TextLines));
    let (ok, errors) = split(&lines);
    assert_eq!(record_numbers(&ok), [1, 3]);
    assert_eq!(record_numbers(&errors), [2]);
    assert!(matches!(
        errors[0].1.kind,
        RecordErrorKind::InvalidUtf8 { byte_offset: 2 }
    ));
    assert_names_place(errors[0].1, rel, 2);

    let repaired = docs(rel, &lossy(with_format(InputFormat::TextLines)));
    assert_eq!(repaired[1].text, "Gr\u{FFFD}\u{FFFD}e aus K\u{FFFD}ln");
}

/// Reads a damaged compressed file: `docs` good records, then one fatal error at line
/// `docs + 1`, then nothing.
fn assert_stream_ends_with_error(rel: &str, field: &str, docs: usize, compression: Compression) {
    let items = items(rel, &options(field));
    let (ok, errors) = split(&items);
    assert_eq!(ok.len(), docs, "{rel}: complete records before the damage");
    assert_eq!(errors.len(), 1, "{rel}");
    assert!(
        items.last().unwrap().is_err(),
        "{rel}: the error is the last item"
    );
    let err = errors[0].1;
    assert!(err.is_fatal_for_file(), "{err}");
    match &err.kind {
        RecordErrorKind::CorruptStream { compression: c, .. } => assert_eq!(*c, compression),
        other => panic!("{rel}: unexpected {other}"),
    }
    assert_names_place(err, rel, docs as u64 + 1);
    assert!(err.to_string().contains("truncated or corrupt"), "{err}");
}

#[test]
fn truncated_gzip_reports_the_line_and_ends() {
    // Python: zlib.decompressobj(wbits=31).decompress(data) holds 17 complete lines.
    assert_stream_ends_with_error("bad/truncated.jsonl.gz", "text", 17, Compression::Gzip);
}

#[test]
fn truncated_zstd_reports_the_line_and_ends() {
    // `zstd -dc bad/truncated.jsonl.zst | wc -l` = 22 (then "premature end").
    assert_stream_ends_with_error("bad/truncated.jsonl.zst", "content", 22, Compression::Zstd);
}

#[test]
fn corrupt_gzip_ends_with_a_fatal_error() {
    // 64 zeroed bytes mid-stream still inflate (to damaged text); gzip's CRC check at the end
    // of the member catches it, as `gzip -t` does.
    let items = items("bad/corrupt.jsonl.gz", &ReadOptions::default());
    let last = items.last().unwrap().as_ref().unwrap_err();
    assert!(last.is_fatal_for_file());
    assert!(matches!(
        last.kind,
        RecordErrorKind::CorruptStream {
            compression: Compression::Gzip,
            ..
        }
    ));
    let fatal = items
        .iter()
        .filter(|i| i.as_ref().is_err_and(RecordError::is_fatal_for_file))
        .count();
    assert_eq!(fatal, 1);
}

// ------------------------------------------------------------------------------------------
// Parquet
// ------------------------------------------------------------------------------------------

#[test]
fn parquet_rows_across_row_groups() {
    let docs = docs("code/code_subset.parquet", &with_id("content", "hexsha"));
    // pyarrow: 60 rows in 3 row groups; sum(len(content)) = 874210 chars, 874349 bytes
    assert_eq!(docs.len(), 60);
    let chars: usize = docs.iter().map(|d| d.text.chars().count()).sum();
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    assert_eq!((chars, bytes), (874210, 874349));
    let rows: Vec<u64> = docs.iter().map(|d| d.location.record).collect();
    assert_eq!(rows, (1..=60).collect::<Vec<u64>>());
    assert_eq!(
        docs[0].id.as_deref(),
        Some("39720a5e4126cd06fdc344bd041488c4bf394389")
    );
    assert_eq!(
        docs[59].id.as_deref(),
        Some("74b682d5cef443dcd8097e0acf28bb4dcd3696ff")
    );
    assert_eq!(docs[11].location.unit, RecordUnit::Row);
    let shown = docs[11].location.to_string();
    assert!(
        shown.ends_with("code/code_subset.parquet row 12"),
        "{shown}"
    );
}

#[test]
fn parquet_integer_ids() {
    let docs = docs("code/code_subset.parquet", &with_id("content", "size"));
    assert_eq!(docs[0].id.as_deref(), Some("5218"));
}

#[test]
fn parquet_string_types_read_alike() {
    let reference = docs("code/code_subset.parquet", &options("content"));
    let lengths: Vec<usize> = reference[..6].iter().map(|d| d.text.len()).collect();
    assert_eq!(lengths, [5218, 3389, 8761, 2644, 3400, 1752]); // pyarrow
    for rel in [
        "formats/content_large_string.parquet",
        "formats/content_string_view.parquet",
        "formats/content_binary.parquet",
    ] {
        let docs = docs(rel, &with_id("content", "hexsha"));
        assert_eq!(texts(&docs), texts(&reference[..6]), "{rel}");
        assert_eq!(
            docs[0].id.as_deref(),
            Some("39720a5e4126cd06fdc344bd041488c4bf394389")
        );
    }
}

#[test]
fn parquet_struct_columns_by_dotted_path() {
    let reference = docs("code/code_subset.parquet", &options("content"));
    let docs = docs(
        "formats/nested_struct.parquet",
        &with_id("doc.content", "doc.meta.path"),
    );
    assert_eq!(texts(&docs), texts(&reference[..6]));
    assert_eq!(docs[0].id.as_deref(), Some("__future__.py"));
    let sized = self::docs(
        "formats/nested_struct.parquet",
        &with_id("doc.content", "doc.meta.size"),
    );
    assert_eq!(sized[0].id.as_deref(), Some("5218"));
}

#[test]
fn parquet_null_cells_are_record_errors() {
    let rel = "bad/null_content.parquet";
    let items = items(rel, &options("content"));
    let (ok, errors) = split(&items);
    assert_eq!(record_numbers(&ok), [1, 3, 4]);
    assert_eq!(record_numbers(&errors), [2]);
    let err = errors[0].1;
    assert!(matches!(
        err.kind,
        RecordErrorKind::NotAString { found: "null", .. }
    ));
    assert!(!err.is_fatal_for_file());
    assert!(err.to_string().contains(&format!("{rel} row 2")), "{err}");
}

#[test]
fn parquet_binary_must_be_utf8_unless_lossy() {
    let rel = "bad/binary_invalid_utf8.parquet";
    let items = items(rel, &options("content"));
    let (ok, errors) = split(&items);
    assert_eq!(record_numbers(&ok), [1, 3]);
    assert!(matches!(
        errors[0].1.kind,
        RecordErrorKind::InvalidUtf8 { byte_offset: 2 }
    ));
    assert!(errors[0].1.to_string().contains(&format!("{rel} row 2")));
    let repaired = docs(rel, &lossy(options("content")));
    assert_eq!(repaired[1].text, "Gr\u{FFFD}\u{FFFD}e");
}

fn open_err(rel: &str, options: &ReadOptions) -> ReadError {
    read::open(&fixture(rel), options).expect_err("open should fail")
}

#[test]
fn parquet_column_problems_are_open_errors() {
    let rel = "code/code_subset.parquet";
    let err = open_err(rel, &options("text"));
    assert!(matches!(&err, ReadError::MissingColumn { field, .. } if field == "text"));
    let message = err.to_string();
    assert!(
        message.contains(rel) && message.contains("`text`"),
        "{message}"
    );
    assert!(message.contains("content"), "lists the columns: {message}");

    for field in ["size", "max_stars_repo_licenses", "avg_line_length"] {
        let err = open_err(rel, &options(field));
        assert!(
            matches!(err, ReadError::UnsupportedColumn { .. }),
            "{field}: {err}"
        );
        assert!(err.to_string().contains(field), "{err}");
    }
    let err = open_err(rel, &with_id("content", "avg_line_length"));
    assert!(matches!(err, ReadError::UnsupportedColumn { .. }), "{err}");
    let err = open_err(rel, &with_id("content", "nope"));
    assert!(matches!(err, ReadError::MissingColumn { .. }), "{err}");
}

#[test]
fn a_truncated_parquet_file_is_an_open_error() {
    let err = open_err("bad/truncated.parquet", &options("content"));
    assert!(matches!(err, ReadError::InvalidParquet { .. }), "{err}");
    assert!(err.to_string().contains("bad/truncated.parquet"), "{err}");
}

// ------------------------------------------------------------------------------------------
// opening and expanding inputs
// ------------------------------------------------------------------------------------------

#[test]
fn open_errors_name_the_path() {
    let err = open_err("web/no_such_file.jsonl", &ReadOptions::default());
    assert!(matches!(err, ReadError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("web/no_such_file.jsonl"), "{err}");

    let err = open_err("web", &ReadOptions::default());
    assert!(matches!(err, ReadError::IsDirectory { .. }), "{err}");

    let err = open_err("web/no_such_file.parquet", &options("content"));
    assert!(matches!(err, ReadError::NotFound { .. }), "{err}");

    let err = open_err(
        "web/dolma_cc2019_head.jsonl.gz",
        &with_format(InputFormat::Parquet),
    );
    assert!(matches!(err, ReadError::CompressedParquet { .. }), "{err}");

    let err = read::open(Path::new("-"), &with_format(InputFormat::Parquet)).unwrap_err();
    assert!(matches!(err, ReadError::ParquetFromStdin), "{err}");
}

#[test]
fn readers_can_move_to_worker_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<read::DocumentReader>();
    assert_send::<RecordError>();
    assert_send::<ReadError>();
}

fn arg(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

#[test]
fn expand_globs_sorted_and_deduplicated() {
    let ml = fixture("multilingual");
    let pattern = arg(&ml.join("*.jsonl"));
    let files = read::expand_inputs(std::slice::from_ref(&pattern)).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    let langs = [
        "ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "nl", "pt", "ru", "zh",
    ];
    let expected: Vec<String> = langs.iter().map(|l| format!("{l}.jsonl")).collect();
    assert_eq!(names, expected);

    // a literal file first, then an overlapping glob: each file once, first position kept
    let de = arg(&ml.join("de.jsonl"));
    let files = read::expand_inputs(&[de.clone(), pattern, "-".into()]).unwrap();
    assert_eq!(files.len(), 14);
    assert_eq!(files[0], PathBuf::from(&de));
    assert_eq!(
        files
            .iter()
            .filter(|p| p.as_path() == Path::new(&de))
            .count(),
        1
    );
    assert_eq!(files[13], PathBuf::from("-"));
}

#[test]
fn expand_reports_what_does_not_exist() {
    let missing = arg(&fixture("web/nope.jsonl"));
    let err = read::expand_inputs(std::slice::from_ref(&missing)).unwrap_err();
    assert!(matches!(err, ReadError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains(&missing), "{err}");

    let no_match = arg(&fixture("web/*.csv"));
    let err = read::expand_inputs(std::slice::from_ref(&no_match)).unwrap_err();
    assert!(matches!(err, ReadError::NoMatch { .. }), "{err}");
    assert!(err.to_string().contains(&no_match), "{err}");

    let err = read::expand_inputs(&[arg(&fixture("web"))]).unwrap_err();
    assert!(matches!(err, ReadError::IsDirectory { .. }), "{err}");

    let err = read::expand_inputs(&[arg(&fixture("web/[.jsonl"))]).unwrap_err();
    assert!(matches!(err, ReadError::InvalidPattern { .. }), "{err}");
}

#[test]
fn expand_skips_hidden_files_and_directories_but_takes_odd_literal_names() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["b.jsonl", "a.jsonl", ".hidden.jsonl", "odd[1].jsonl"] {
        std::fs::write(dir.path().join(name), "{\"text\": \"x\"}\n").unwrap();
    }
    std::fs::create_dir(dir.path().join("sub.jsonl")).unwrap();
    let files = read::expand_inputs(&[arg(&dir.path().join("*.jsonl"))]).unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, ["a.jsonl", "b.jsonl", "odd[1].jsonl"]);

    let literal = arg(&dir.path().join("odd[1].jsonl"));
    assert_eq!(
        read::expand_inputs(std::slice::from_ref(&literal)).unwrap(),
        [PathBuf::from(literal)]
    );
}

// Extra fields and whole records (for stages that read more than the text, and for writers
// that pass every input field through)

#[test]
fn jsonl_extra_fields_and_records_match_an_independent_parse() {
    let wanted = ReadOptions {
        field: "content".into(),
        extra_fields: vec!["lang".into(), "size".into(), "no_such_field".into()],
        keep_record: true,
        ..ReadOptions::default()
    };
    let docs = docs("code/code_permissive.jsonl", &wanted);
    let raw = std::fs::read_to_string(fixture("code/code_permissive.jsonl")).unwrap();
    let lines: Vec<&str> = raw.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(docs.len(), lines.len());
    for (doc, line) in docs.iter().zip(&lines) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(doc.field("lang"), v["lang"].as_str());
        // Numbers come as their decimal text.
        assert_eq!(doc.field("size"), Some(v["size"].to_string().as_str()));
        assert_eq!(doc.field("no_such_field"), None);
        assert_eq!(doc.record.as_deref(), Some(line.trim()));
    }
    // Without asking, nothing extra is kept.
    let plain = docs_first("code/code_permissive.jsonl", &options("content"));
    assert!(plain.fields.is_empty() && plain.record.is_none());
}

fn docs_first(rel: &str, options: &ReadOptions) -> Document {
    docs(rel, options).into_iter().next().unwrap()
}

#[test]
fn parquet_extra_columns_and_rows_as_json() {
    let wanted = ReadOptions {
        field: "content".into(),
        id_field: Some("hexsha".into()),
        extra_fields: vec!["lang".into(), "size".into(), "missing_column".into()],
        keep_record: true,
        ..ReadOptions::default()
    };
    let rich = docs("code/code_subset.parquet", &wanted);
    let reference = docs("code/code_subset.parquet", &with_id("content", "hexsha"));
    assert_eq!(rich.len(), reference.len());
    for (doc, plain) in rich.iter().zip(&reference) {
        assert_eq!(doc.text, plain.text);
        // The row as JSON comes from arrow's JSON writer, a path independent of the cell
        // reader that produced the text, id and fields.
        let v: serde_json::Value = serde_json::from_str(doc.record.as_deref().unwrap()).unwrap();
        assert_eq!(v["content"].as_str(), Some(doc.text.as_str()));
        assert_eq!(v["hexsha"].as_str(), doc.id.as_deref());
        assert_eq!(v["lang"].as_str(), doc.field("lang"));
        assert_eq!(doc.field("size"), Some(v["size"].to_string().as_str()));
        assert_eq!(doc.field("missing_column"), None);
        assert!(
            v.as_object().unwrap().len() > 4,
            "every column is kept: {v}"
        );
    }
}
