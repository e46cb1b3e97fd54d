//! `arcade filter`: run quality, language and code filters alone and keep every decision.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use arcade_pipeline::filter::{self, FilterOptions, FilterProgress, FilterStats};

use crate::inputs::{recipe_with_inputs, InputArgs};
use crate::summary::{self, Summary};

pub const AFTER_HELP: &str = "\
Writes OUTPUT/kept.jsonl.zst and OUTPUT/dropped.jsonl.zst (every input field of each record, plus
an \"arcade\" object: the source and location, lang and lang_score when a language stage ran, and on
dropped records the stage, rule, measured value and threshold) and OUTPUT/stats.json, written
last, where kept + dropped + malformed = read.

Stage lists: stages separated by commas, parameters after colons, `key=value` or a `+` list:
  gopher-repetition,gopher-quality,c4,fineweb-quality     (the default for web text)
  lang:en+de+es+fr+it+nl+pt:min_score=0.65,gopher-quality
  code:max_line_length=500,length:min_chars=200
Run `arcade filter --list-stages` for every stage kind; README lists their parameters.

Examples:
  arcade filter --input 'web/*.jsonl.zst' --output filtered/
  arcade filter --input code.parquet --field content --stages code --output code-filtered/
  arcade filter --recipe fixtures/recipe.toml --output filtered/   # its sources and [[stage]]s
  zstdcat filtered/dropped.jsonl.zst | jq -c '.arcade | [.stage, .rule, .value, .threshold]'";

#[derive(clap::Args)]
pub struct Args {
    /// TOML recipe (as for `arcade pack`): its sources and [[stage]] tables are used.
    #[arg(long, short = 'r')]
    recipe: Option<PathBuf>,
    /// Input files or globs (JSONL, JSONL.gz/.zst, Parquet, text), as one source named `input`.
    #[arg(long, short = 'i', num_args = 1..)]
    input: Vec<String>,
    /// Output directory for kept.jsonl.zst, dropped.jsonl.zst and stats.json.
    #[arg(long, short = 'o', required_unless_present = "list_stages")]
    output: Option<PathBuf>,
    /// Stages to run (replaces the recipe's); default: gopher-repetition, gopher-quality, c4,
    /// fineweb-quality.
    #[arg(long, short = 's')]
    stages: Option<String>,
    /// JSONL field or Parquet column of the text, for --input.
    #[arg(long, default_value = "text")]
    field: String,
    /// JSONL field or Parquet column of a document id, for --input.
    #[arg(long)]
    id_field: Option<String>,
    /// Input format for --input (jsonl, parquet, text, lines); detected from names by default.
    #[arg(long)]
    input_format: Option<String>,
    /// Stop at the first malformed record (default: skip and count it).
    #[arg(long)]
    strict: bool,
    /// Replace invalid UTF-8 with U+FFFD instead of counting the record as malformed.
    #[arg(long)]
    lossy: bool,
    /// Replace a finished run in the output directory.
    #[arg(long)]
    overwrite: bool,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    threads: Option<usize>,
    /// Text bytes per batch of work.
    #[arg(long, default_value_t = 4 << 20, hide = true)]
    batch_bytes: usize,
    /// Print the stage kinds and exit.
    #[arg(long)]
    list_stages: bool,
    /// No progress bar and no summary.
    #[arg(long, short = 'q')]
    quiet: bool,
}

pub fn run(args: Args) -> Result<()> {
    let registry = arcade_filters::registry();
    if args.list_stages {
        for kind in registry.kinds() {
            println!("{kind}");
        }
        return Ok(());
    }
    let out = args.output.clone().expect("clap requires --output");
    let mut recipe = recipe_with_inputs(InputArgs {
        command: "filter",
        recipe: args.recipe.as_deref(),
        input: &args.input,
        field: &args.field,
        id_field: args.id_field.as_deref(),
        input_format: args.input_format.as_deref(),
    })?;
    if let Some(list) = &args.stages {
        recipe.stages = registry.parse_list(list).context("--stages")?;
    } else if recipe.stages.is_empty() {
        recipe.stages = registry
            .parse_list(arcade_filters::DEFAULT_WEB_STAGES)
            .expect("the default stage list parses");
    }
    recipe.strict |= args.strict;
    recipe.lossy_utf8 |= args.lossy;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let bar = crate::pack::progress_bar(args.quiet);
    let started = Instant::now();
    let report = |p: &FilterProgress| {
        if let Some(bar) = &bar {
            bar.set_length(p.input_bytes_total.max(1));
            bar.set_position(p.input_bytes_done);
            bar.set_message(format!(
                "{} docs · {} kept · {}",
                summary::thousands(p.documents),
                summary::thousands(p.kept),
                summary::rate(p.text_bytes, started.elapsed()),
            ));
        }
    };
    let options = FilterOptions {
        pool: Some(&pool),
        overwrite: args.overwrite,
        progress: Some(&report),
        batch_bytes: args.batch_bytes.max(1),
    };
    let result = filter::filter(&recipe, &registry, &out, &options);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let stats = result.with_context(|| format!("arcade filter into {}", out.display()))?;
    if !args.quiet {
        print_summary(&stats, &out, started.elapsed());
    }
    Ok(())
}

fn print_summary(stats: &FilterStats, out: &std::path::Path, elapsed: std::time::Duration) {
    let t = &stats.totals;
    let mut s = Summary::new("arcade filter");
    s.row("documents read", summary::thousands(t.read));
    s.row("kept", summary::thousands(t.kept));
    s.row("dropped", summary::thousands(t.dropped));
    for (k, v) in &t.dropped_by {
        s.sub_row(k.clone(), summary::thousands(*v));
    }
    s.row("malformed", summary::thousands(t.malformed));
    for (k, v) in &t.malformed_by {
        s.sub_row(k.clone(), summary::thousands(*v));
    }
    if !t.changed_by.is_empty() {
        s.row("changed", "");
        for (k, v) in &t.changed_by {
            s.sub_row(k.clone(), summary::thousands(*v));
        }
    }
    if !t.kept_by_lang.is_empty() {
        let mut langs: Vec<_> = t.kept_by_lang.iter().collect();
        langs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = langs
            .iter()
            .take(8)
            .map(|(k, v)| format!("{k} {}", summary::thousands(**v)))
            .collect();
        s.text_row("kept by language", top.join(", "));
    }
    s.row(
        "text kept",
        format!(
            "{:.1}% of {} bytes",
            100.0 * t.text_bytes_kept as f64 / t.text_bytes_read.max(1) as f64,
            summary::thousands(t.text_bytes_read)
        ),
    );
    s.text_row("output", out.display().to_string());
    s.row("elapsed", summary::seconds(elapsed));
    s.row("throughput", summary::rate(t.text_bytes_read, elapsed));
    s.print();
}
