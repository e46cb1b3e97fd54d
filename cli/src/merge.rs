//! `arcade merge`: concatenate megatron datasets (`PREFIX.bin` + `PREFIX.idx`) into one, as
//! megatron-core's `IndexedDatasetBuilder.add_index` does, streaming.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use arcade_pipeline::megatron;

use crate::summary::{self, Summary};

pub const AFTER_HELP: &str = "\
Sequences keep their order (inputs in the order given), pointers are recomputed and each \
input's document index is shifted by the sequences before it. All inputs must have the same \
dtype. The output is written to temporary files and renamed into place when complete; an \
existing output is replaced only with --overwrite.

Examples:
  arcade merge --output data/all data/part-0 data/part-1 data/part-2
  arcade merge -o out/train out/a/train.bin out/b/train.idx";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output dataset prefix: writes PREFIX.bin and PREFIX.idx
    #[arg(short, long, value_name = "PREFIX")]
    pub output: PathBuf,

    /// Input dataset prefixes (PREFIX.bin or PREFIX.idx also accepted), in order
    #[arg(value_name = "INPUT_PREFIX", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Replace an existing output dataset
    #[arg(long)]
    pub overwrite: bool,

    /// Print no summary
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> Result<()> {
    let start = Instant::now();
    let output = megatron::prefix_of(&args.output);
    let inputs: Vec<PathBuf> = args.inputs.iter().map(|p| megatron::prefix_of(p)).collect();
    if !args.overwrite {
        for path in [megatron::bin_path(&output), megatron::idx_path(&output)] {
            if path.exists() {
                bail!(
                    "{} already exists; pass --overwrite to replace the dataset {}",
                    path.display(),
                    output.display()
                );
            }
        }
    }
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create directory {}", parent.display()))?;
    }
    let (bin, idx) = megatron::merge(&inputs, &output)?;
    if !args.quiet {
        let mut s = Summary::new(format!("arcade merge: wrote {}", output.display()));
        s.row("inputs", inputs.len().to_string())
            .row("sequences", summary::thousands(bin.sequences))
            .row("tokens", summary::thousands(bin.tokens))
            .row(bin.file.clone(), summary::bytes(bin.bytes))
            .row(idx.file.clone(), summary::bytes(idx.bytes))
            .row("elapsed", summary::seconds(start.elapsed()));
        s.print();
    }
    Ok(())
}
