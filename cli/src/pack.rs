//! `arcade pack`: run a recipe (or a quick command line) into training shards.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arcade_pipeline::manifest::{Layout, Manifest, PartialRow};
use arcade_pipeline::pack::{self, PackOptions, Progress};
use arcade_pipeline::recipe::{OutputFormat, Recipe, Validation};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::inputs::{recipe_with_inputs, InputArgs};
use crate::summary::{self, Summary};

pub const AFTER_HELP: &str = "\
Examples:
  arcade pack --recipe fixtures/recipe.toml
  arcade pack --input 'data/*.jsonl.zst' --output out/
  arcade pack --recipe big.toml --resume            # continue a killed run

Rows are exactly --seq-len tokens, documents each followed by <|endoftext|> (100257) and
concatenated. A trainer that wants 4096 inputs plus 4096 shifted targets per row packs with
--seq-len 4097. Read a shard with numpy:
  numpy.memmap('out/shard-00000.bin', dtype='<u4').reshape(-1, seq_len)";

#[derive(clap::Args)]
pub struct Args {
    /// TOML recipe: sources, stages, tokenizer and output (see README). Flags override its keys.
    #[arg(long, short = 'r')]
    recipe: Option<PathBuf>,
    /// Input files or globs, as one source named `input` (instead of, or added to, the recipe's).
    #[arg(long, short = 'i', num_args = 1..)]
    input: Vec<String>,
    /// Output directory.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// JSONL field or Parquet column of the text, for --input.
    #[arg(long, default_value = "text")]
    field: String,
    /// Input format for --input (jsonl, parquet, text, lines); detected from names by default.
    #[arg(long)]
    input_format: Option<String>,
    /// Tokens per row.
    #[arg(long)]
    seq_len: Option<usize>,
    /// Seed of the shuffle, the source-weight draws and the validation split.
    #[arg(long)]
    seed: Option<u64>,
    /// Keep input order (no shuffle).
    #[arg(long)]
    no_shuffle: bool,
    /// Output format: native (shard-NNNNN.bin rows) or megatron (.bin/.idx).
    #[arg(long, value_parser = ["native", "megatron"])]
    format: Option<String>,
    /// Tokens per shard file (rounded down to whole rows).
    #[arg(long)]
    shard_tokens: Option<u64>,
    /// Pad the last partial row with <|endoftext|> instead of dropping it.
    #[arg(long)]
    pad_final_row: bool,
    /// Validation split: a fraction of documents (0.01) or a token count (1000000).
    #[arg(long)]
    validation: Option<String>,
    /// Encoding (arcade100k, cl100k_base).
    #[arg(long)]
    encoding: Option<String>,
    /// NFC-normalize text before encoding.
    #[arg(long)]
    nfc: bool,
    /// Stop at the first malformed record (default: skip and count it).
    #[arg(long)]
    strict: bool,
    /// Replace invalid UTF-8 with U+FFFD instead of counting the record as malformed.
    #[arg(long)]
    lossy: bool,
    /// Write the documents that stages drop, with their reasons, to DIR/dropped.jsonl.zst.
    #[arg(long, value_name = "DIR")]
    dropped: Option<PathBuf>,
    /// Stages to run (replaces the recipe's [[stage]] tables), e.g.
    /// `lang:en+de,gopher-repetition,gopher-quality,c4,fineweb-quality`; see `arcade filter --help`.
    #[arg(long, short = 's')]
    stages: Option<String>,
    /// Continue an interrupted run in the output directory.
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// Replace the previous run in the output directory.
    #[arg(long)]
    overwrite: bool,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    threads: Option<usize>,
    /// Seconds between checkpoints (0: after every batch).
    #[arg(long, default_value_t = 30.0)]
    checkpoint_every: f64,
    /// Text bytes per batch of work (tests use small batches to checkpoint often) [default:
    /// 512 KiB per thread, 512 KiB to 4 MiB]
    #[arg(long, hide = true)]
    batch_bytes: Option<usize>,
    /// No progress bar and no summary.
    #[arg(long, short = 'q')]
    quiet: bool,
}

pub fn run(args: Args) -> Result<()> {
    let recipe = build_recipe(&args)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let bar = progress_bar(args.quiet);
    let started = Instant::now();
    let report = |p: &Progress| {
        if let Some(bar) = &bar {
            bar.set_length(p.input_bytes_total.max(1));
            bar.set_position(p.input_bytes_done);
            bar.set_message(format!(
                "{} docs · {} tokens · {} · {} docs/s",
                summary::thousands(p.documents),
                summary::thousands(p.tokens),
                summary::rate(p.text_bytes, started.elapsed()),
                summary::thousands(
                    (p.documents as f64 / started.elapsed().as_secs_f64().max(1e-9)) as u64
                ),
            ));
        }
    };
    // Ctrl-C: the first stops at the next checkpoint (resumable with --resume), the second
    // exits at once (still resumable from the last checkpoint).
    static STOP: AtomicBool = AtomicBool::new(false);
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping at the next checkpoint (Ctrl-C again to quit now)…");
    });
    let options = PackOptions {
        pool: Some(&pool),
        resume: args.resume,
        overwrite: args.overwrite,
        checkpoint_interval: Duration::from_secs_f64(args.checkpoint_every.max(0.0)),
        progress: Some(&report),
        stop: Some(&STOP),
        batch_bytes: args.batch_bytes.map(|b| b.max(1)),
    };
    let result = pack::pack(&recipe, &arcade_filters::registry(), &options);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let manifest = result.with_context(|| match &recipe.output {
        Some(out) => format!("arcade pack into {}", out.display()),
        None => "arcade pack".to_string(),
    })?;
    if !args.quiet {
        print_summary(&manifest, started.elapsed());
    }
    Ok(())
}

fn build_recipe(args: &Args) -> Result<Recipe> {
    let mut recipe = recipe_with_inputs(InputArgs {
        command: "pack",
        recipe: args.recipe.as_deref(),
        input: &args.input,
        field: &args.field,
        id_field: None,
        input_format: args.input_format.as_deref(),
    })?;
    if let Some(o) = &args.output {
        recipe.output = Some(o.clone());
    }
    if let Some(n) = args.seq_len {
        recipe.seq_len = n;
    }
    if let Some(s) = args.seed {
        recipe.seed = s;
    }
    if args.no_shuffle {
        recipe.shuffle = false;
    }
    if let Some(f) = &args.format {
        recipe.format = if f == "megatron" {
            OutputFormat::Megatron
        } else {
            OutputFormat::Native
        };
    }
    if let Some(t) = args.shard_tokens {
        recipe.shard_tokens = t;
    }
    recipe.pad_final_row |= args.pad_final_row;
    if let Some(v) = &args.validation {
        recipe.validation = Some(parse_validation(v)?);
    }
    if let Some(e) = &args.encoding {
        recipe.tokenizer.encoding = e.clone();
    }
    recipe.tokenizer.nfc |= args.nfc;
    recipe.strict |= args.strict;
    recipe.lossy_utf8 |= args.lossy;
    if let Some(dir) = &args.dropped {
        recipe.dropped = Some(dir.clone());
    }
    if let Some(list) = &args.stages {
        recipe.stages = arcade_filters::registry()
            .parse_list(list)
            .context("--stages")?;
    }

    Ok(recipe)
}

fn parse_validation(v: &str) -> Result<Validation> {
    if v.contains('.') || v.contains('e') {
        let f: f64 = v.parse().with_context(|| {
            format!("--validation {v:?}: expected a fraction such as 0.01 or a token count")
        })?;
        Ok(Validation::Fraction(f))
    } else {
        let t: u64 = v.parse().with_context(|| {
            format!("--validation {v:?}: expected a fraction such as 0.01 or a token count")
        })?;
        Ok(Validation::Tokens(t))
    }
}

pub(crate) fn progress_bar(quiet: bool) -> Option<ProgressBar> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner:.green} [{elapsed_precise}] {wide_bar} {percent}% eta {eta} {msg}",
        )
        .expect("the progress template is valid"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

fn print_summary(m: &Manifest, elapsed: Duration) {
    let mut s = Summary::new("arcade pack");
    let t = &m.totals;
    s.row("documents read", summary::thousands(t.read));
    s.row("packed", summary::thousands(t.packed));
    s.row("dropped", summary::thousands(t.dropped));
    for (k, v) in &t.dropped_by {
        s.sub_row(k.clone(), summary::thousands(*v));
    }
    s.row("malformed", summary::thousands(t.malformed));
    for (k, v) in &t.malformed_by {
        s.sub_row(k.clone(), summary::thousands(*v));
    }
    let mut changed = std::collections::BTreeMap::<&str, u64>::new();
    for src in &m.sources {
        for (k, v) in &src.changed_by {
            *changed.entry(k).or_default() += v;
        }
    }
    if !changed.is_empty() {
        s.row("changed by stages", "");
        for (k, v) in changed {
            s.sub_row(k, summary::thousands(v));
        }
    }
    if let Some(f) = &m.dropped_file {
        s.text_row("dropped documents", f.file.clone());
    }
    for src in &m.sources {
        s.row(
            format!("source {}", src.name),
            format!(
                "{} docs, {} tokens ×{} → {:.1}% of output",
                summary::thousands(src.documents.packed),
                summary::thousands(src.tokens),
                src.weight,
                src.token_share * 100.0
            ),
        );
    }
    let text: u64 = m.sources.iter().map(|s| s.text_bytes).sum();
    for (name, split) in &m.splits {
        if m.layout == Layout::Megatron {
            s.row(
                format!("{name} sequences"),
                format!(
                    "{} documents, {} tokens",
                    summary::thousands(split.sequences),
                    summary::thousands(split.tokens)
                ),
            );
            continue;
        }
        s.row(
            format!("{name} rows"),
            format!(
                "{} × {} tokens in {} shard(s); last {} tokens {}",
                summary::thousands(split.sequences),
                m.seq_len,
                split.shards.len(),
                split.partial_row_tokens,
                match split.partial_row {
                    PartialRow::Dropped => "dropped",
                    PartialRow::Padded => "padded into a row",
                }
            ),
        );
    }
    s.row("elapsed", summary::seconds(elapsed));
    s.row("throughput", summary::rate(text, elapsed));
    s.print();
}
