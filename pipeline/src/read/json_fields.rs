//! Pulling the text (and id) field out of one JSON line without building a `serde_json::Value`.
//!
//! The line is walked once with serde visitors: keys that lead to a wanted field are followed,
//! everything else is skipped with `IgnoredAny` (validated, never allocated), and only the
//! wanted strings are decoded into owned `String`s.

use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;

use super::error::RecordErrorKind;

/// What was found at one wanted path in the current record.
#[derive(Debug, Default, Clone)]
enum Found {
    #[default]
    Missing,
    Str(String),
    /// A JSON number, kept as its decimal text (ids may be numbers).
    Number(String),
    /// Any other JSON value; holds its type for the error message.
    Other(&'static str),
}

/// A path tree of the wanted keys. A node with a `slot` is a wanted value; `children` lead
/// deeper into nested objects.
#[derive(Debug, Default)]
struct Node {
    children: Vec<(Box<str>, Node)>,
    slot: Option<usize>,
}

impl Node {
    /// Adds `path` and returns its slot (shared when two wanted fields are the same path).
    fn insert(&mut self, path: &[&str], next_slot: &mut usize) -> usize {
        let Some((first, rest)) = path.split_first() else {
            return *self.slot.get_or_insert_with(|| {
                *next_slot += 1;
                *next_slot - 1
            });
        };
        let index = match self.children.iter().position(|(k, _)| &**k == *first) {
            Some(index) => index,
            None => {
                self.children.push(((*first).into(), Node::default()));
                self.children.len() - 1
            }
        };
        self.children[index].1.insert(rest, next_slot)
    }
}

/// One configured field: its name for messages and the slots to try, in priority order.
#[derive(Debug)]
struct Wanted {
    name: String,
    slots: Vec<usize>,
}

/// The values of one record.
#[derive(Debug)]
pub(crate) struct Extracted {
    pub text: String,
    pub id: Option<String>,
    /// The extra fields the record has as strings or numbers.
    pub extra: Vec<(Arc<str>, String)>,
}

/// Extracts the configured text and id fields from JSON lines, reusing its state across lines.
#[derive(Debug)]
pub(crate) struct JsonFields {
    tree: Node,
    text: Wanted,
    id: Option<Wanted>,
    extra: Vec<(Arc<str>, Wanted)>,
    found: Vec<Found>,
}

impl JsonFields {
    /// `field` and `id_field` are dotted paths (`meta.body`). A name containing dots is first
    /// looked up as a literal key, since some datasets do have keys like `"meta.body"`; the
    /// nested path is used when that key is absent.
    pub fn new(field: &str, id_field: Option<&str>, extra_fields: &[String]) -> Self {
        let mut tree = Node::default();
        let mut next_slot = 0;
        let mut want = |name: &str| {
            let mut slots = vec![tree.insert(&[name], &mut next_slot)];
            if name.contains('.') {
                let parts: Vec<&str> = name.split('.').collect();
                slots.push(tree.insert(&parts, &mut next_slot));
            }
            Wanted {
                name: name.to_string(),
                slots,
            }
        };
        let text = want(field);
        let id = id_field.map(&mut want);
        let extra = extra_fields
            .iter()
            .map(|name| (Arc::from(name.as_str()), want(name)))
            .collect();
        let found = (0..next_slot).map(|_| Found::Missing).collect();
        Self {
            tree,
            text,
            id,
            extra,
            found,
        }
    }

    /// Parses one line (which must hold exactly one JSON object) and returns its fields.
    /// With `lossy`, escaped lone UTF-16 surrogates (`\ud800`), which serde_json rejects, are
    /// replaced with U+FFFD and the line is parsed again.
    pub fn extract(&mut self, json: &str, lossy: bool) -> Result<Extracted, RecordErrorKind> {
        if let Err(err) = self.parse(json) {
            let repaired = if lossy {
                replace_lone_surrogates(json)
            } else {
                None
            };
            match repaired {
                Some(repaired) => self.parse(&repaired).map_err(malformed)?,
                None => return Err(malformed(err)),
            }
        }
        // The id is looked at first because it is copied (ids are short), while the text is
        // moved out; both may name the same slot.
        let id = self
            .id
            .as_ref()
            .map(|wanted| (wanted, first_found(&self.found, &wanted.slots).clone()));
        let extra = self
            .extra
            .iter()
            .filter_map(
                |(name, wanted)| match first_found(&self.found, &wanted.slots) {
                    Found::Str(v) | Found::Number(v) => Some((name.clone(), v.clone())),
                    Found::Missing | Found::Other(_) => None,
                },
            )
            .collect();
        let text = match take(&mut self.found, &self.text.slots) {
            Found::Str(text) => text,
            Found::Missing => return Err(RecordErrorKind::MissingField(self.text.name.clone())),
            Found::Number(_) => return Err(wrong_type(&self.text, "a number", "a string")),
            Found::Other(found) => return Err(wrong_type(&self.text, found, "a string")),
        };
        let id = match id {
            None => None,
            Some((_, Found::Str(id) | Found::Number(id))) => Some(id),
            Some((wanted, Found::Missing)) => {
                return Err(RecordErrorKind::MissingField(wanted.name.clone()))
            }
            Some((wanted, Found::Other(found))) => {
                return Err(wrong_type(wanted, found, "a string or number"))
            }
        };
        Ok(Extracted { text, id, extra })
    }

    fn parse(&mut self, json: &str) -> Result<(), serde_json::Error> {
        self.found.iter_mut().for_each(|f| *f = Found::Missing);
        let mut de = serde_json::Deserializer::from_str(json);
        RootSeed {
            node: &self.tree,
            found: &mut self.found,
        }
        .deserialize(&mut de)?;
        de.end() // rejects trailing characters after the object
    }
}

/// The first candidate slot that was found: the literal key before the nested path.
fn first_found<'a>(found: &'a [Found], slots: &[usize]) -> &'a Found {
    slots
        .iter()
        .map(|&slot| &found[slot])
        .find(|value| !matches!(value, Found::Missing))
        .unwrap_or(&Found::Missing)
}

/// Moves out the first found candidate (slots are reset before every parse).
fn take(found: &mut [Found], slots: &[usize]) -> Found {
    match slots
        .iter()
        .find(|&&slot| !matches!(found[slot], Found::Missing))
    {
        Some(&slot) => std::mem::take(&mut found[slot]),
        None => Found::Missing,
    }
}

fn wrong_type(wanted: &Wanted, found: &'static str, expected: &'static str) -> RecordErrorKind {
    RecordErrorKind::NotAString {
        field: wanted.name.clone(),
        found,
        expected,
    }
}

/// serde_json's message without its position suffix (the line is always 1: one record per line).
fn malformed(err: serde_json::Error) -> RecordErrorKind {
    let full = err.to_string();
    let message = match full.rfind(" at line ") {
        Some(cut) => full[..cut].to_string(),
        None => full,
    };
    RecordErrorKind::MalformedJson {
        message,
        column: err.column(),
    }
}

/// Walks the top-level value, which must be an object.
struct RootSeed<'a> {
    node: &'a Node,
    found: &'a mut [Found],
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        walk_map(self.node, self.found, map)
    }
}

fn walk_map<'de, A: MapAccess<'de>>(
    node: &Node,
    found: &mut [Found],
    mut map: A,
) -> Result<(), A::Error> {
    while let Some(child) = map.next_key_seed(KeySeed(node))? {
        match child {
            Some(index) => map.next_value_seed(ValueSeed {
                node: &node.children[index].1,
                found: &mut *found,
            })?,
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// Matches an object key against a node's children without allocating.
struct KeySeed<'a>(&'a Node);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.children.iter().position(|(k, _)| &**k == key))
    }
}

/// The value under a wanted key: recorded if the node is a wanted field, descended into if it
/// leads to deeper wanted fields, skipped otherwise.
struct ValueSeed<'a> {
    node: &'a Node,
    found: &'a mut [Found],
}

impl ValueSeed<'_> {
    fn record(&mut self, value: Found) {
        if let Some(slot) = self.node.slot {
            // Later duplicates win, as with serde_json::Value.
            self.found[slot] = value;
        }
    }

    fn record_number(mut self, number: impl fmt::Display) {
        if self.node.slot.is_some() {
            self.record(Found::Number(number.to_string()));
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(mut self, v: &str) -> Result<(), E> {
        if self.node.slot.is_some() {
            self.record(Found::Str(v.to_owned()));
        }
        Ok(())
    }

    fn visit_string<E>(mut self, v: String) -> Result<(), E> {
        self.record(Found::Str(v));
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.record_number(v);
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.record_number(v);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.record_number(v);
        Ok(())
    }

    fn visit_bool<E>(mut self, _: bool) -> Result<(), E> {
        self.record(Found::Other("a boolean"));
        Ok(())
    }

    fn visit_unit<E>(mut self) -> Result<(), E> {
        self.record(Found::Other("null"));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.record(Found::Other("an array"));
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<(), A::Error> {
        self.record(Found::Other("an object"));
        walk_map(self.node, self.found, map)
    }
}

/// Rewrites escaped lone UTF-16 surrogates (`\ud800` not followed by a low surrogate, or a
/// stray `\udc00`) to `\ufffd`. Returns `None` when there is nothing to replace.
/// Escapes are scanned left to right, so `\\ud800` (an escaped backslash, then text) is left
/// alone.
fn replace_lone_surrogates(json: &str) -> Option<String> {
    let bytes = json.as_bytes();
    let hex4 = |at: usize| -> Option<u16> {
        let digits = bytes.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let is_unicode_escape =
        |at: usize| bytes.get(at) == Some(&b'\\') && bytes.get(at + 1) == Some(&b'u');

    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        if !is_unicode_escape(i) {
            i += 2; // a two-byte escape such as \\ or \"
            continue;
        }
        let lone = match hex4(i + 2) {
            Some(0xD800..=0xDBFF) => {
                let paired =
                    is_unicode_escape(i + 6) && matches!(hex4(i + 8), Some(0xDC00..=0xDFFF));
                if paired {
                    i += 12;
                    continue;
                }
                true
            }
            Some(0xDC00..=0xDFFF) => true,
            _ => false,
        };
        if lone {
            let out = out.get_or_insert_with(|| String::with_capacity(json.len()));
            out.push_str(&json[copied..i]);
            out.push_str("\\ufffd");
            copied = i + 6;
        }
        i += 6;
    }
    out.map(|mut out| {
        out.push_str(&json[copied..]);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(field: &str, id: Option<&str>, json: &str) -> Result<Extracted, RecordErrorKind> {
        JsonFields::new(field, id, &[]).extract(json, false)
    }

    #[test]
    fn takes_top_level_and_nested_fields() {
        let json = r#"{"a": 1, "meta": {"body": "nested \"x\"", "n": 7}, "text": "top"}"#;
        assert_eq!(extract("text", None, json).unwrap().text, "top");
        let got = extract("meta.body", Some("meta.n"), json).unwrap();
        assert_eq!(got.text, "nested \"x\"");
        assert_eq!(got.id.as_deref(), Some("7"));
    }

    #[test]
    fn literal_dotted_key_wins_over_nested_path() {
        let json = r#"{"meta": {"body": "nested"}, "meta.body": "literal"}"#;
        assert_eq!(extract("meta.body", None, json).unwrap().text, "literal");
    }

    #[test]
    fn same_field_for_text_and_id() {
        let got = extract("text", Some("text"), r#"{"text": "x"}"#).unwrap();
        assert_eq!((got.text.as_str(), got.id.as_deref()), ("x", Some("x")));
    }

    #[test]
    fn reports_types_and_missing_fields() {
        let err = extract("text", None, r#"{"text": [1]}"#).unwrap_err();
        assert!(
            matches!(
                err,
                RecordErrorKind::NotAString {
                    found: "an array",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = extract("meta.body", None, r#"{"meta": "flat"}"#).unwrap_err();
        assert!(
            matches!(&err, RecordErrorKind::MissingField(f) if f == "meta.body"),
            "{err:?}"
        );
        let err = extract("text", Some("id"), r#"{"text": "x", "id": null}"#).unwrap_err();
        assert!(
            matches!(err, RecordErrorKind::NotAString { found: "null", .. }),
            "{err:?}"
        );
        let got = extract("text", Some("id"), r#"{"text": "x", "id": -12}"#).unwrap();
        assert_eq!(got.id.as_deref(), Some("-12"));
    }

    #[test]
    fn rejects_non_objects_and_trailing_data() {
        for json in [
            r#"["text"]"#,
            r#"{"text": "x"} y"#,
            r#""text""#,
            r#"{"text": "x""#,
        ] {
            let err = extract("text", None, json).unwrap_err();
            assert!(
                matches!(err, RecordErrorKind::MalformedJson { .. }),
                "{json}: {err:?}"
            );
            assert!(!err.to_string().contains("line 1"), "{err}");
        }
    }

    #[test]
    fn state_does_not_leak_between_records() {
        let mut fields = JsonFields::new("text", None, &[]);
        assert_eq!(fields.extract(r#"{"text": "a"}"#, false).unwrap().text, "a");
        assert!(matches!(
            fields.extract(r#"{"other": "b"}"#, false),
            Err(RecordErrorKind::MissingField(_))
        ));
    }

    #[test]
    fn lone_surrogates_are_replaced_only_when_lossy() {
        let json = r#"{"text": "a\ud83d b \udc00 c \ud83d\ude00 \\ud800"}"#;
        let mut fields = JsonFields::new("text", None, &[]);
        assert!(matches!(
            fields.extract(json, false),
            Err(RecordErrorKind::MalformedJson { .. })
        ));
        let text = fields.extract(json, true).unwrap().text;
        assert_eq!(text, "a\u{FFFD} b \u{FFFD} c \u{1F600} \\ud800");
    }
}
