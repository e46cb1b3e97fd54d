//! The stage interface from the outside: a crate registers its own stage kinds, a recipe names
//! them, and `pack` reports what each did per source.

use arcade_pipeline::pack::{pack, PackOptions};
use arcade_pipeline::read::Document;
use arcade_pipeline::recipe::Recipe;
use arcade_pipeline::stage::{Stage, StageRegistry, Verdict};

/// Changes every document (drops its digits) and says so when it did.
struct StripDigits;

impl Stage for StripDigits {
    fn name(&self) -> &str {
        "strip-digits"
    }
    fn apply(&self, doc: &mut Document) -> Verdict {
        let before = doc.text.len();
        doc.text.retain(|c| !c.is_ascii_digit());
        if doc.text.len() == before {
            Verdict::Keep
        } else {
            Verdict::Changed {
                rule: "digits".into(),
            }
        }
    }
}

/// Drops documents that mention a word, reporting how often.
struct DropWord(String);

impl Stage for DropWord {
    fn name(&self) -> &str {
        "drop-word"
    }
    fn apply(&self, doc: &mut Document) -> Verdict {
        let n = doc.text.matches(self.0.as_str()).count();
        if n > 0 {
            Verdict::drop("mentions", n as f64, 0.0)
        } else {
            Verdict::Keep
        }
    }
}

fn registry() -> StageRegistry {
    let mut r = StageRegistry::default();
    r.register("strip-digits", |_| Ok(Box::new(StripDigits)));
    r.register("drop-word", |params| {
        let word = params
            .get("word")
            .and_then(|w| w.as_str())
            .ok_or("drop-word needs `word = \"...\"`")?;
        Ok(Box::new(DropWord(word.to_string())))
    });
    r
}

#[test]
fn registered_stages_run_in_order_and_are_accounted_per_source() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let docs = [
        "alpha 123 beta",
        "no digits here",
        "the forbidden word",
        "42",
        "gamma 7 forbidden",
    ];
    let lines: Vec<String> = docs
        .iter()
        .map(|t| serde_json::json!({ "text": t }).to_string())
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let recipe: Recipe = toml::from_str(&format!(
        r#"
        output = {out:?}
        seq_len = 4
        shuffle = false
        [[source]]
        name = "s"
        paths = [{input:?}]
        [[stage]]
        kind = "strip-digits"
        [[stage]]
        kind = "drop-word"
        word = "forbidden"
        "#,
        out = out.display().to_string(),
        input = input.display().to_string(),
    ))
    .unwrap();
    let m = pack(&recipe, &registry(), &PackOptions::default()).unwrap();
    let s = &m.sources[0];
    assert_eq!(s.documents.read, 5);
    // "42" becomes empty after stripping digits: dropped as empty, after being changed.
    assert_eq!(s.documents.dropped_by.get("empty"), Some(&1));
    assert_eq!(s.documents.dropped_by.get("drop-word:mentions"), Some(&2));
    assert_eq!(s.documents.packed, 2);
    // Changed: "alpha 123 beta", "42", "gamma 7 forbidden" (changed, then dropped).
    assert_eq!(s.changed_by.get("strip-digits:digits"), Some(&3));
    assert!(m.totals.reconciles());
    // The packed text has no digits left.
    let tok = arcade_tokenizer::Tokenizer::arcade100k();
    let bytes = std::fs::read(out.join("shard-00000.bin")).unwrap();
    let ids: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let text = tok.decode(&ids).unwrap();
    assert!(
        text.starts_with("alpha  beta<|endoftext|>no digits here"),
        "{text}"
    );
}

#[test]
fn unknown_kinds_and_bad_parameters_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let base = format!(
        "output = {:?}\n[[source]]\nname = \"s\"\npaths = [\"{}/../fixtures/web/*.jsonl\"]\n",
        dir.path().join("o").display().to_string(),
        env!("CARGO_MANIFEST_DIR")
    );
    let unknown: Recipe = toml::from_str(&(base.clone() + "[[stage]]\nkind = \"nope\"\n")).unwrap();
    let err = pack(&unknown, &registry(), &PackOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope") && err.contains("drop-word"), "{err}");
    let missing: Recipe = toml::from_str(&(base + "[[stage]]\nkind = \"drop-word\"\n")).unwrap();
    let err = pack(&missing, &registry(), &PackOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs `word"), "{err}");
}
