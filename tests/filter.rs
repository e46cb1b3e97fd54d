//! End-to-end tests of `arcade filter`: the binary on the fixtures, its outputs read back
//! independently (zstd + serde_json) and reconciled with the inputs.

use std::path::Path;

mod common;
use common::{assert_contains, fixture, fixture_bytes, Run};

/// `arcade ARGS...` in the workspace root.
fn arcade(args: &[&str]) -> Run {
    common::arcade(args, None)
}

fn records(path: &Path) -> Vec<serde_json::Value> {
    let bytes = zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn stats(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("stats.json")).unwrap()).unwrap()
}

/// The JSONL records of a fixture, parsed independently.
fn fixture_records(rel: &str) -> Vec<serde_json::Value> {
    String::from_utf8(fixture_bytes(rel))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn default_web_filters_account_for_every_record_and_keep_every_field() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f");
    let input = fixture("web/dolma_cc_en_head-0091.jsonl");
    let run = arcade(&["filter", "-i", &input, "-o", out.to_str().unwrap()]).ok();
    assert_contains(
        &run.stderr,
        &["arcade filter", "documents read", "kept", "dropped"],
    );

    let originals = fixture_records("web/dolma_cc_en_head-0091.jsonl");
    let (kept, dropped) = (
        records(&out.join("kept.jsonl.zst")),
        records(&out.join("dropped.jsonl.zst")),
    );
    let s = stats(&out);
    let t = &s["totals"];
    assert_eq!(t["read"], originals.len() as u64);
    assert_eq!(t["kept"], kept.len() as u64);
    assert_eq!(t["dropped"], dropped.len() as u64);
    assert_eq!(t["malformed"], 0);
    assert_eq!(kept.len() + dropped.len(), originals.len());
    let stage_kinds: Vec<&str> = s["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| st["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        stage_kinds,
        [
            "gopher-repetition",
            "gopher-quality",
            "c4",
            "fineweb-quality"
        ]
    );

    // Each output record is an input record (matched by id) with every field, plus `arcade`.
    let by_id: std::collections::HashMap<&str, &serde_json::Value> = originals
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    let mut by_rule = std::collections::BTreeMap::<String, u64>::new();
    for r in kept.iter().chain(&dropped) {
        let original = by_id[r["id"].as_str().unwrap()];
        for (k, v) in original.as_object().unwrap() {
            if k != "text" {
                assert_eq!(&r[k], v, "field {k} of {}", r["id"]);
            }
        }
        let a = &r["arcade"];
        assert_eq!(a["source"], "input");
        assert!(a["location"].as_str().unwrap().starts_with(&input));
        if a["changed"].is_null() {
            assert_eq!(r["text"], original["text"], "unchanged text is kept as is");
        }
    }
    for r in &dropped {
        let a = &r["arcade"];
        let key = format!(
            "{}:{}",
            a["stage"].as_str().unwrap(),
            a["rule"].as_str().unwrap()
        );
        *by_rule.entry(key).or_default() += 1;
        assert!(a["value"].is_number() && a["threshold"].is_number(), "{a}");
    }
    let counted: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(t["dropped_by"].clone()).unwrap();
    assert_eq!(by_rule, counted, "dropped records and stats agree per rule");
    assert!(
        !kept.is_empty() && !dropped.is_empty(),
        "real web text has both"
    );
}

#[test]
fn stage_lists_recipes_and_parquet_input() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("code");
    let input = fixture("code/code_subset.parquet");
    arcade(&[
        "filter",
        "-q",
        "-i",
        &input,
        "--field",
        "content",
        "--stages",
        "length:min_chars=2000",
        "-o",
        out.to_str().unwrap(),
    ])
    .ok();
    let (kept, dropped) = (
        records(&out.join("kept.jsonl.zst")),
        records(&out.join("dropped.jsonl.zst")),
    );
    assert!(!kept.is_empty() && !dropped.is_empty());
    for r in &kept {
        assert!(r["content"].as_str().unwrap().chars().count() >= 2000);
        assert!(r["hexsha"].is_string(), "Parquet columns are kept: {r}");
    }
    for r in &dropped {
        let chars = r["content"].as_str().unwrap().chars().count() as f64;
        assert_eq!(r["arcade"]["rule"], "min_chars");
        assert_eq!(r["arcade"]["value"], chars);
        assert_eq!(r["arcade"]["threshold"], 2000.0);
    }

    // A recipe gives sources and stages; its sources are named in the outputs.
    let recipe = tmp.path().join("r.toml");
    std::fs::write(
        &recipe,
        format!(
            "[[source]]\nname = \"web\"\npaths = [{:?}]\n[[stage]]\nkind = \"length\"\nmin_chars = 1000\n",
            fixture("web/dclm_majority_head.jsonl")
        ),
    )
    .unwrap();
    let out = tmp.path().join("recipe");
    arcade(&[
        "filter",
        "-q",
        "-r",
        recipe.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])
    .ok();
    let s = stats(&out);
    assert_eq!(s["sources"][0]["name"], "web");
    assert_eq!(s["stages"][0]["min_chars"], 1000);
    let texts = common::jsonl_texts("web/dclm_majority_head.jsonl");
    let short = texts.iter().filter(|t| t.chars().count() < 1000).count() as u64;
    assert_eq!(s["totals"]["dropped_by"]["length:min_chars"], short);
}

#[test]
fn bad_input_is_counted_or_stops_the_run_and_finished_runs_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bad");
    let o = out.to_str().unwrap();
    let input = fixture("bad/malformed_json.jsonl");
    let run = arcade(&["filter", "-i", &input, "-o", o, "--stages", "length"]).ok();
    let s = stats(&out);
    let t = &s["totals"];
    assert!(t["malformed"].as_u64().unwrap() > 0);
    assert_eq!(
        t["read"].as_u64().unwrap(),
        t["kept"].as_u64().unwrap()
            + t["dropped"].as_u64().unwrap()
            + t["malformed"].as_u64().unwrap()
    );
    assert!(s["sources"][0]["first_errors"][0]
        .as_str()
        .unwrap()
        .contains("malformed_json.jsonl:"));
    assert_contains(&run.stderr, &["malformed"]);

    // A finished run is not overwritten by accident.
    let again = arcade(&["filter", "-q", "-i", &input, "-o", o]).failed();
    assert_contains(&again.stderr, &["--overwrite", o]);

    // --strict stops at the first bad record, names it, and leaves no stats behind.
    let strict = tmp.path().join("strict");
    let run = arcade(&[
        "filter",
        "-q",
        "-i",
        &input,
        "-o",
        strict.to_str().unwrap(),
        "--strict",
    ])
    .failed();
    assert_contains(&run.stderr, &["malformed_json.jsonl:"]);
    assert!(!strict.join("stats.json").exists());

    // Unknown stages and parameters are errors that list what exists.
    let run = arcade(&[
        "filter",
        "-q",
        "-i",
        &input,
        "-o",
        o,
        "--overwrite",
        "--stages",
        "gopher",
    ])
    .failed();
    assert_contains(&run.stderr, &["gopher", "gopher-quality"]);
    let run = arcade(&[
        "filter",
        "-q",
        "-i",
        &input,
        "-o",
        o,
        "--overwrite",
        "--stages",
        "length:min_charz=3",
    ])
    .failed();
    assert_contains(&run.stderr, &["min_charz"]);
}

#[test]
fn language_labels_reach_the_records_and_the_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("lang");
    let (de, zh) = (
        fixture("multilingual/de.jsonl"),
        fixture("multilingual/zh.jsonl"),
    );
    arcade(&[
        "filter",
        "-q",
        "-i",
        &de,
        &zh,
        "--stages",
        "lang:de:min_score=0",
        "-o",
        out.to_str().unwrap(),
    ])
    .ok();
    let kept = records(&out.join("kept.jsonl.zst"));
    let dropped = records(&out.join("dropped.jsonl.zst"));
    // The fixtures carry their language in a `lang` field, which the identifier never sees.
    let right = |r: &serde_json::Value| r["arcade"]["lang"] == r["lang"];
    assert!(kept.iter().all(|r| r["arcade"]["lang"] == "de"));
    assert!(kept.iter().filter(|r| right(r)).count() * 10 >= kept.len() * 9);
    let zh_dropped = dropped.iter().filter(|r| r["lang"] == "zh").count();
    assert_eq!(zh_dropped, fixture_records("multilingual/zh.jsonl").len());
    for r in &dropped {
        let score = r["arcade"]["lang_score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        assert_eq!(r["arcade"]["stage"], "lang");
    }
    let s = stats(&out);
    assert_eq!(s["totals"]["kept_by_lang"]["de"], kept.len() as u64);
}

#[test]
fn stdin_is_an_input() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stdin");
    let input = fixture_bytes("web/dclm_majority_head.jsonl");
    let run = common::arcade(
        [
            "filter",
            "-q",
            "-i",
            "-",
            "--stages",
            "length:min_chars=1000",
            "-o",
            out.to_str().unwrap(),
        ],
        Some(&input),
    )
    .ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let s = stats(&out);
    let texts = common::jsonl_texts("web/dclm_majority_head.jsonl");
    assert_eq!(s["totals"]["read"], texts.len() as u64);
    let short = texts.iter().filter(|t| t.chars().count() < 1000).count() as u64;
    assert_eq!(s["totals"]["dropped"], short);
    assert!(
        records(&out.join("kept.jsonl.zst"))[0]["arcade"]["location"]
            .as_str()
            .unwrap()
            .starts_with("<stdin>:")
    );
}
