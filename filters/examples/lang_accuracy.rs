//! Accuracy of the `lang` stage on labelled text.
//!
//! ```sh
//! cargo run --release -p arcade-filters --example lang_accuracy -- /work/shared/corpus/multilingual
//! ```
//!
//! Reads `<dir>/<lang>.jsonl` for de en es fr it nl pt zh ja ru ar hi ko (records `{text, lang,
//! source}`; missing files are skipped) and prints a markdown table: per language, the share of
//! records whose label is the record's `lang` (whatever the score), overall and per source family
//! (`lingua:sentences`, `UD_*` treebanks, `xquad` paragraphs, everything else), and the share the
//! stage `lang:<lang>` keeps with its default `min_score`. Optional second argument: `max_chars`
//! (default: the stage's default).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::Instant;

use arcade_filters::lang::{identify, DEFAULT_MAX_CHARS, DEFAULT_MIN_SCORE};

const LANGUAGES: [&str; 13] = [
    "de", "en", "es", "fr", "it", "nl", "pt", "zh", "ja", "ru", "ar", "hi", "ko",
];
const FAMILIES: [&str; 4] = ["lingua", "UD", "xquad", "other"];

#[derive(Default, Clone, Copy)]
struct Count {
    n: usize,
    correct: usize,
    kept: usize,
    chars: usize,
}

impl Count {
    fn cell(&self, hits: usize) -> String {
        if self.n == 0 {
            "–".to_string()
        } else {
            format!("{:.1}% ({})", 100.0 * hits as f64 / self.n as f64, self.n)
        }
    }
}

fn family(source: &str) -> &'static str {
    if source.starts_with("lingua") {
        "lingua"
    } else if source.starts_with("UD_") {
        "UD"
    } else if source.starts_with("xquad") {
        "xquad"
    } else {
        "other"
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: lang_accuracy <dir with <lang>.jsonl> [max_chars]")?;
    let max_chars = match args.next() {
        Some(n) => n.parse()?,
        None => DEFAULT_MAX_CHARS,
    };
    println!(
        "| lang | records | accuracy | lingua:sentences | UD_* | xquad | other | kept by `lang:<lang>` (min_score {DEFAULT_MIN_SCORE}) | median chars |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let started = Instant::now();
    let mut total_chars = 0usize;
    let mut totals = Count::default();
    let mut confusions: BTreeMap<(String, String), usize> = BTreeMap::new();
    for want in LANGUAGES {
        let path = format!("{dir}/{want}.jsonl");
        let Ok(file) = std::fs::File::open(&path) else {
            eprintln!("skipping {path}: cannot open");
            continue;
        };
        let mut all = Count::default();
        let mut by_family: BTreeMap<&str, Count> = BTreeMap::new();
        let mut lengths = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let record: serde_json::Value = serde_json::from_str(&line)?;
            let text = record["text"].as_str().unwrap_or_default();
            // UDHR records carry BCP 47 tags (`de-1996`, `pt-BR`): compare the language subtag.
            let gold = record["lang"].as_str().unwrap_or(want);
            let gold = gold.split('-').next().unwrap_or(gold);
            let source = record["source"].as_str().unwrap_or("");
            let label = identify(text, max_chars);
            let chars = text.chars().count();
            total_chars += chars.min(if max_chars == 0 {
                usize::MAX
            } else {
                max_chars
            });
            lengths.push(chars);
            let correct = label.as_ref().is_some_and(|l| l.code == gold);
            let kept = label
                .as_ref()
                .is_some_and(|l| l.code == gold && l.score >= DEFAULT_MIN_SCORE);
            if !correct {
                let got = label.map_or("none", |l| l.code).to_string();
                *confusions.entry((gold.to_string(), got)).or_default() += 1;
            }
            for count in [&mut all, by_family.entry(family(source)).or_default()] {
                count.n += 1;
                count.correct += usize::from(correct);
                count.kept += usize::from(kept);
                count.chars += chars;
            }
        }
        lengths.sort_unstable();
        let median = lengths.get(lengths.len() / 2).copied().unwrap_or(0);
        let families: Vec<String> = FAMILIES
            .iter()
            .map(|f| {
                let c = by_family.get(f).copied().unwrap_or_default();
                c.cell(c.correct)
            })
            .collect();
        println!(
            "| {want} | {} | {} | {} | {} | {} |",
            all.n,
            all.cell(all.correct),
            families.join(" | "),
            all.cell(all.kept),
            median
        );
        totals.n += all.n;
        totals.correct += all.correct;
        totals.kept += all.kept;
    }
    println!(
        "| **all** | {} | {} | | | | | {} | |",
        totals.n,
        totals.cell(totals.correct),
        totals.cell(totals.kept)
    );
    let seconds = started.elapsed().as_secs_f64();
    println!();
    println!(
        "max_chars {max_chars}; {:.1} M characters identified in {seconds:.2} s (with JSON parsing).",
        total_chars as f64 / 1e6,
    );
    let mut worst: Vec<_> = confusions.into_iter().collect();
    worst.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    let top: Vec<String> = worst
        .iter()
        .take(12)
        .map(|((gold, got), n)| format!("{gold}→{got} {n}"))
        .collect();
    println!("Most frequent confusions (gold→label): {}", top.join(", "));
    Ok(())
}
