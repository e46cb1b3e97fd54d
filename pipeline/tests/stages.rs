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

/// Drops documents whose record's `lang` field is not `en`: a stage that reads a field.
struct EnglishOnly;

impl Stage for EnglishOnly {
    fn name(&self) -> &str {
        "english-only"
    }
    fn apply(&self, doc: &mut Document) -> Verdict {
        match doc.field("lang") {
            Some("en") => Verdict::Keep,
            _ => Verdict::drop("not_english", 0.0, 1.0),
        }
    }
    fn fields(&self) -> Vec<String> {
        vec!["lang".into()]
    }
}

fn registry() -> StageRegistry {
    let mut r = StageRegistry::default();
    r.register("english-only", |_| Ok(Box::new(EnglishOnly)));
    r.register_shorthand("drop-word", "words");
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
    // Bytes removed: "123", "42", "7".
    assert_eq!(s.changed_bytes_by.get("strip-digits:digits"), Some(&6));
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

#[test]
fn stage_lists_parse_kinds_shorthands_and_typed_values() {
    let r = registry();
    let specs = r
        .parse_list("strip-digits, drop-word:a+b:limit=0.5:strict=true:name=x, length:min_chars=10")
        .unwrap();
    assert_eq!(specs.len(), 3);
    assert_eq!(specs[0].kind, "strip-digits");
    assert!(specs[0].params.is_empty());
    let p = &specs[1].params;
    assert_eq!(
        p["words"],
        toml::Value::Array(vec!["a".into(), "b".into()]),
        "a bare value fills the shorthand parameter as a list"
    );
    assert_eq!(p["limit"], toml::Value::Float(0.5));
    assert_eq!(p["strict"], toml::Value::Boolean(true));
    assert_eq!(p["name"], toml::Value::String("x".into()));
    assert_eq!(specs[2].params["min_chars"], toml::Value::Integer(10));
    // A one-element shorthand is still a list.
    let one = r.parse_list("drop-word:a").unwrap();
    assert_eq!(one[0].params["words"], toml::Value::Array(vec!["a".into()]));

    let err = r.parse_list("strip-digits,nope").unwrap_err().to_string();
    assert!(
        err.contains("nope") && err.contains("strip-digits"),
        "{err}"
    );
    let err = r.parse_list("length:200").unwrap_err().to_string();
    assert!(err.contains("key=value"), "{err}");
}

#[test]
fn quoted_stage_list_values_are_one_string_whatever_they_contain() {
    let r = registry();
    // Separators inside quotes: ',' (stages), ':' (parameters), '=' and '+' (lists).
    let specs = r
        .parse_list(r#"drop-word:name='\d{1,3}+:a=b':limit=0.5, strip-digits"#)
        .unwrap();
    assert_eq!(specs.len(), 2, "{specs:?}");
    assert_eq!(
        specs[0].params["name"],
        toml::Value::String(r"\d{1,3}+:a=b".into()),
        "a TOML literal string is taken as written"
    );
    assert_eq!(specs[0].params["limit"], toml::Value::Float(0.5));
    assert_eq!(specs[1].kind, "strip-digits");
    // A basic string, with an escaped quote inside; the shorthand list with one quoted element.
    let specs = r
        .parse_list(r#"drop-word:"a+b":name="say \"x,y\"""#)
        .unwrap();
    assert_eq!(
        specs[0].params["words"],
        toml::Value::Array(vec!["a+b".into()])
    );
    assert_eq!(
        specs[0].params["name"],
        toml::Value::String(r#"say "x,y""#.into())
    );
    // A quoted value after white space (the list is trimmed around each separator).
    let specs = r.parse_list("strip-digits, drop-word: 'a,b'").unwrap();
    assert_eq!(specs.len(), 2, "{specs:?}");
    assert_eq!(
        specs[1].params["words"],
        toml::Value::Array(vec!["a,b".into()])
    );
    // Quoted and bare list elements mixed; an apostrophe inside a bare word is a character.
    let specs = r.parse_list("drop-word:'a+b'+c+don't").unwrap();
    assert_eq!(
        specs[0].params["words"],
        toml::Value::Array(vec!["a+b".into(), "c".into(), "don't".into()])
    );
}

mod filter_runs {
    use super::*;
    use arcade_pipeline::filter::{filter, FilterOptions, STATS_FILE};
    use std::path::Path;

    fn lines(path: &Path) -> Vec<serde_json::Value> {
        let bytes = zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn setup(dir: &Path) -> Recipe {
        let input = dir.join("in.jsonl");
        let records = [
            r#"{"id": 1, "text": "alpha 123 beta", "lang": "en", "meta": {"k": [1, 2]}}"#,
            r#"{"id": 2, "text": "no digits here", "lang": "de"}"#,
            r#"{"id": 3, "text": "the forbidden word", "lang": "en"}"#,
            r#"{"id": 4, "text": "#,
            r#"{"id": 5, "text": "gamma 7", "lang": "en"}"#,
        ];
        std::fs::write(&input, records.join("\n") + "\n").unwrap();
        toml::from_str(&format!(
            r#"
            [[source]]
            name = "s"
            paths = [{input:?}]
            [[stage]]
            kind = "strip-digits"
            [[stage]]
            kind = "english-only"
            [[stage]]
            kind = "drop-word"
            word = "forbidden"
            "#,
            input = input.display().to_string(),
        ))
        .unwrap()
    }

    #[test]
    fn every_record_is_kept_dropped_or_malformed_with_its_fields_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let recipe = setup(dir.path());
        let out = dir.path().join("out");
        let stats = filter(&recipe, &registry(), &out, &FilterOptions::default()).unwrap();
        let t = &stats.totals;
        assert_eq!((t.read, t.kept, t.dropped, t.malformed), (5, 2, 2, 1));
        assert!(t.reconciles());
        assert_eq!(t.dropped_by.get("english-only:not_english"), Some(&1));
        assert_eq!(t.dropped_by.get("drop-word:mentions"), Some(&1));
        assert_eq!(t.malformed_by.get("malformed_json"), Some(&1));
        assert_eq!(t.changed_by.get("strip-digits:digits"), Some(&2));
        assert_eq!(t.changed_bytes_by.get("strip-digits:digits"), Some(&4));
        assert_eq!(stats.sources[0].first_errors.len(), 1);
        assert!(stats.sources[0].first_errors[0].contains("in.jsonl:4"));

        let kept = lines(&out.join("kept.jsonl.zst"));
        assert_eq!(kept.len(), 2);
        // Every input field is kept; the text is the changed one.
        assert_eq!(kept[0]["id"], 1);
        assert_eq!(kept[0]["text"], "alpha  beta");
        assert_eq!(kept[0]["meta"]["k"][1], 2);
        assert_eq!(kept[0]["lang"], "en");
        assert_eq!(kept[0]["arcade"]["changed"][0], "strip-digits:digits");
        assert_eq!(kept[0]["arcade"]["source"], "s");
        assert!(kept[0]["arcade"].get("rule").is_none());
        assert_eq!(kept[1]["text"], "gamma ");

        let dropped = lines(&out.join("dropped.jsonl.zst"));
        assert_eq!(dropped.len(), 2);
        assert_eq!(dropped[0]["id"], 2);
        assert_eq!(dropped[0]["arcade"]["stage"], "english-only");
        assert_eq!(dropped[0]["arcade"]["rule"], "not_english");
        assert_eq!(dropped[0]["arcade"]["threshold"], 1.0);
        assert_eq!(dropped[1]["arcade"]["rule"], "mentions");
        assert_eq!(dropped[1]["arcade"]["value"], 1.0);
        assert!(dropped[1]["arcade"]["location"]
            .as_str()
            .unwrap()
            .ends_with("in.jsonl:3"));

        // stats.json is the last file written and lists the others' checksums.
        let on_disk: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(STATS_FILE)).unwrap()).unwrap();
        assert_eq!(on_disk["totals"]["kept"], 2);
        let kept_bytes = std::fs::read(out.join("kept.jsonl.zst")).unwrap();
        assert_eq!(on_disk["kept_file"]["bytes"], kept_bytes.len() as u64);
        assert_eq!(
            on_disk["kept_file"]["xxh3"],
            arcade_pipeline::manifest::file_xxh3(&out.join("kept.jsonl.zst")).unwrap()
        );
    }

    #[test]
    fn a_finished_run_is_refused_unless_overwritten_and_strict_stops() {
        let dir = tempfile::tempdir().unwrap();
        let mut recipe = setup(dir.path());
        let out = dir.path().join("out");
        filter(&recipe, &registry(), &out, &FilterOptions::default()).unwrap();
        let err = filter(&recipe, &registry(), &out, &FilterOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--overwrite"), "{err}");
        let overwrite = FilterOptions {
            overwrite: true,
            ..FilterOptions::default()
        };
        filter(&recipe, &registry(), &out, &overwrite).unwrap();

        recipe.strict = true;
        let err = filter(&recipe, &registry(), &dir.path().join("strict"), &overwrite)
            .unwrap_err()
            .to_string();
        assert!(err.contains("in.jsonl:4"), "{err}");
        assert!(
            !dir.path().join("strict").join(STATS_FILE).exists(),
            "a stopped run must not look finished"
        );
    }

    #[test]
    fn output_bytes_do_not_depend_on_threads_or_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut recipe = setup(dir.path());
        // Real text, so that batches hold many records.
        recipe.sources[0].paths.push(format!(
            "{}/../fixtures/web/*.jsonl",
            env!("CARGO_MANIFEST_DIR")
        ));
        recipe.stages.truncate(1);
        let mut outputs = Vec::new();
        for (threads, batch) in [(1, 4 << 20), (2, 10_000), (3, 777)] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let out = dir.path().join(format!("out{threads}"));
            let options = FilterOptions {
                pool: Some(&pool),
                batch_bytes: batch,
                ..FilterOptions::default()
            };
            filter(&recipe, &registry(), &out, &options).unwrap();
            outputs.push((
                std::fs::read(out.join("kept.jsonl.zst")).unwrap(),
                std::fs::read(out.join("dropped.jsonl.zst")).unwrap(),
            ));
        }
        assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    }
}

#[test]
fn length_limits_in_characters_and_tokens_at_their_edges() {
    let r = StageRegistry::default();
    let build = |list: &str| r.build(&r.parse_list(list).unwrap()[0]).unwrap().stage;
    let decide = |stage: &dyn Stage, text: &str| {
        let mut doc = Document::new(text.into(), Default::default());
        stage.apply(&mut doc)
    };
    // "é" is 2 bytes, 1 character: limits count characters.
    let chars = build("length:min_chars=3:max_chars=5");
    assert_eq!(decide(&*chars, "éé"), Verdict::drop("min_chars", 2.0, 3.0));
    assert_eq!(decide(&*chars, "ééé"), Verdict::Keep);
    assert_eq!(decide(&*chars, "ééééé"), Verdict::Keep);
    assert_eq!(
        decide(&*chars, "éééééé"),
        Verdict::drop("max_chars", 6.0, 5.0)
    );
    // Arcade100k splits digits one per token, so "1234" is exactly 4 tokens.
    let tokens = build("length:min_tokens=4:max_tokens=6");
    assert_eq!(
        decide(&*tokens, "123"),
        Verdict::drop("min_tokens", 3.0, 4.0)
    );
    assert_eq!(decide(&*tokens, "1234"), Verdict::Keep);
    assert_eq!(decide(&*tokens, "123456"), Verdict::Keep);
    assert_eq!(
        decide(&*tokens, "1234567"),
        Verdict::drop("max_tokens", 7.0, 6.0)
    );
    // cl100k_base groups up to three digits: "1234567" is "123", "456", "7".
    let cl = build("length:max_tokens=2:encoding=cl100k_base");
    assert_eq!(
        decide(&*cl, "1234567"),
        Verdict::drop("max_tokens", 3.0, 2.0)
    );

    for bad in [
        "length:min_chars=5:max_chars=2",
        "length:min_tokens=5:max_tokens=2",
        "length:max_tokens=5:encoding=nope",
        "length:min_char=5",
    ] {
        assert!(r.build(&r.parse_list(bad).unwrap()[0]).is_err(), "{bad}");
    }
}

#[test]
fn filter_runs_check_that_stages_name_real_sources() {
    let dir = tempfile::tempdir().unwrap();
    let recipe: Recipe = toml::from_str(&format!(
        "[[source]]\nname = \"web\"\npaths = [\"{}/../fixtures/web/*.jsonl\"]\n[[stage]]\nkind = \"length\"\nsources = [\"wbe\"]\n",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let err = arcade_pipeline::filter::filter(
        &recipe,
        &registry(),
        &dir.path().join("out"),
        &Default::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("wbe"), "{err}");
}
