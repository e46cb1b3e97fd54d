//! Audit records: a document written back out as one JSON line, with every field of its input
//! record, plus an `arcade` object that says what the stages decided.
//!
//! `arcade filter` writes kept and dropped documents this way, and `arcade pack --dropped DIR`
//! the dropped ones, so that a user can open any decision and check it:
//!
//! ```json
//! {"id": "a1", "text": "...", "url": "...",
//!  "arcade": {"source": "web", "location": "web.jsonl:17", "lang": "en", "lang_score": 0.98,
//!             "changed": ["c4:lines-removed"], "stage": "gopher-quality", "rule": "min_words",
//!             "value": 12.0, "threshold": 50.0}}
//! ```
//!
//! The input record's fields are copied byte for byte and in their order (they are never
//! re-encoded), except the text field when a stage changed the text, and an `arcade` field of
//! the input, which is replaced. Records that are not JSON (plain text) become `{"text": ...}`.

use serde::de::{MapAccess, Visitor};
use serde::Deserializer;
use serde_json::value::RawValue;

use crate::read::Document;
use crate::stage::Decision;

/// Builds the JSON line (with its `\n`) for `doc`, whose input record is `record` (usually
/// `doc.record`; when absent, just the text under `text_field`). `text_changed`: a stage changed
/// `doc.text`, so the record's own text is stale.
pub fn audit_line(
    doc: &Document,
    record: Option<&str>,
    source: &str,
    text_field: &str,
    text_changed: bool,
    decision: &Decision,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.text.len() + 256);
    // The common case, an unchanged record without an `arcade` field, needs no parsing: the
    // annotations go in before its closing brace. (Readers only keep records that parsed as
    // objects, so the brace is there.)
    if let Some(record) = record.filter(|r| !text_changed && !r.contains("\"arcade\"")) {
        let inner = record.trim_end().strip_suffix('}').map(str::trim_end);
        if let Some(inner) = inner {
            out.extend_from_slice(inner.as_bytes());
            if inner != "{" {
                out.push(b',');
            }
            out.extend_from_slice(b"\"arcade\":");
            write_annotations(&mut out, doc, source, decision);
            out.extend_from_slice(b"}\n");
            return out;
        }
    }
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, name: &str| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        write_json(out, name);
        out.push(b':');
    };
    let fields = record.and_then(top_level_fields);
    match fields {
        Some(fields) => {
            // The text replaces the record's own only when a stage changed it; a dotted field
            // nested inside an object keeps its stale copy inside that object, since the
            // top-level `text` is added instead (re-encoding nested objects is not worth it).
            let replace = text_changed && fields.iter().any(|(k, _)| *k == text_field);
            for (name, value) in &fields {
                if *name == "arcade" || (replace && *name == text_field) {
                    continue;
                }
                key(&mut out, name);
                out.extend_from_slice(value.get().as_bytes());
            }
            if text_changed {
                key(&mut out, if replace { text_field } else { "text" });
                write_json(&mut out, &doc.text);
            }
        }
        None => {
            key(&mut out, text_field);
            write_json(&mut out, &doc.text);
            if let Some(id) = &doc.id {
                key(&mut out, "id");
                write_json(&mut out, id);
            }
        }
    }
    key(&mut out, "arcade");
    write_annotations(&mut out, doc, source, decision);
    out.extend_from_slice(b"}\n");
    out
}

fn write_annotations(out: &mut Vec<u8>, doc: &Document, source: &str, decision: &Decision) {
    let mut map = serde_json::Map::new();
    map.insert("source".into(), source.into());
    map.insert("location".into(), doc.location.to_string().into());
    if let Some(lang) = &doc.lang {
        map.insert("lang".into(), lang.code.into());
        map.insert("lang_score".into(), number(lang.score));
    }
    if !decision.changed().is_empty() {
        map.insert("changed".into(), decision.changed().into());
    }
    if let Decision::Dropped { stage, reason, .. } = decision {
        map.insert("stage".into(), stage.as_str().into());
        map.insert("rule".into(), reason.rule.as_str().into());
        map.insert("value".into(), number(reason.value));
        map.insert("threshold".into(), number(reason.threshold));
    }
    // serde_json's Map is sorted by key: stable output, whatever order the fields were added.
    serde_json::to_writer(out, &map).expect("writing to a Vec cannot fail");
}

/// Infinite and NaN values (which JSON cannot hold) become `null`.
fn number(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn write_json(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
}

/// The top-level fields of a JSON object, in order, values as raw JSON text. `None` when the
/// record is not an object (readers only keep records that parsed, so this is defensive).
fn top_level_fields(json: &str) -> Option<Vec<(&str, &RawValue)>> {
    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = Vec<(&'de str, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields = Vec::new();
            while let Some(entry) = map.next_entry::<&'de str, &'de RawValue>()? {
                fields.push(entry);
            }
            Ok(fields)
        }
    }
    let mut de = serde_json::Deserializer::from_str(json);
    de.deserialize_map(Fields).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{LangLabel, Location, RecordUnit};
    use crate::stage::DropReason;

    fn doc(record: Option<&str>, text: &str) -> Document {
        Document {
            text: text.into(),
            location: Location::new("in.jsonl".into(), 3, RecordUnit::Line),
            record: record.map(Box::from),
            ..Document::default()
        }
    }

    fn parse(line: &[u8]) -> serde_json::Value {
        assert_eq!(line.last(), Some(&b'\n'));
        serde_json::from_slice(line).unwrap()
    }

    #[test]
    fn fields_are_copied_in_order_and_the_decision_is_added() {
        let record = r#"{"z": 1, "text": "hello", "meta": {"a": [1, 2.50]}, "arcade": "old"}"#;
        let mut d = doc(Some(record), "hello");
        d.lang = Some(LangLabel {
            code: "en",
            score: 0.5,
        });
        let decision = Decision::Dropped {
            stage: "gopher-quality".into(),
            reason: DropReason {
                rule: "min_words".into(),
                value: 1.0,
                threshold: 50.0,
            },
            changed: vec![],
        };
        let line = audit_line(&d, d.record.as_deref(), "web", "text", false, &decision);
        let text = std::str::from_utf8(&line).unwrap();
        // Raw values are copied as written (2.50 stays 2.50), in input order, old arcade gone.
        assert!(
            text.starts_with(r#"{"z":1,"text":"hello","meta":{"a": [1, 2.50]},"arcade":{"#),
            "{text}"
        );
        let v = parse(&line);
        assert_eq!(v["arcade"]["stage"], "gopher-quality");
        assert_eq!(v["arcade"]["rule"], "min_words");
        assert_eq!(v["arcade"]["value"], 1.0);
        assert_eq!(v["arcade"]["threshold"], 50.0);
        assert_eq!(v["arcade"]["lang"], "en");
        assert_eq!(v["arcade"]["lang_score"], 0.5);
        assert_eq!(v["arcade"]["source"], "web");
        assert_eq!(v["arcade"]["location"], "in.jsonl:3");
    }

    #[test]
    fn unchanged_records_are_spliced_byte_for_byte() {
        let decision = Decision::Kept { changed: vec![] };
        for (record, expect) in [
            (
                r#"{"text": "a",  "n": 1.50 }"#,
                r#"{"text": "a",  "n": 1.50,"arcade":"#,
            ),
            ("{}", r#"{"arcade":"#),
            ("{ }", r#"{"arcade":"#),
        ] {
            let d = doc(Some(record), "a");
            let line = audit_line(&d, d.record.as_deref(), "s", "text", false, &decision);
            let text = std::str::from_utf8(&line).unwrap();
            assert!(text.starts_with(expect), "{text}");
            assert_eq!(parse(&line)["arcade"]["source"], "s");
        }
    }

    #[test]
    fn a_changed_text_replaces_the_records_text() {
        let d = doc(Some(r#"{"text": "a\nb", "id": 7}"#), "a");
        let decision = Decision::Kept {
            changed: vec!["c4:lines-removed".into()],
        };
        let v = parse(&audit_line(
            &d,
            d.record.as_deref(),
            "s",
            "text",
            true,
            &decision,
        ));
        assert_eq!(v["text"], "a");
        assert_eq!(v["id"], 7);
        assert_eq!(v["arcade"]["changed"][0], "c4:lines-removed");
        assert!(v["arcade"].get("rule").is_none());
    }

    #[test]
    fn plain_text_documents_become_objects_and_non_finite_values_null() {
        let d = doc(None, "line \"quoted\"\n");
        let decision = Decision::Dropped {
            stage: "x".into(),
            reason: DropReason {
                rule: "r".into(),
                value: f64::NAN,
                threshold: 1.0,
            },
            changed: vec![],
        };
        let v = parse(&audit_line(
            &d,
            d.record.as_deref(),
            "s",
            "text",
            false,
            &decision,
        ));
        assert_eq!(v["text"], "line \"quoted\"\n");
        assert!(v["arcade"]["value"].is_null());
    }
}
