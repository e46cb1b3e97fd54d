//! A live status line on stderr while a command runs, only when stderr is a terminal (and not
//! `--quiet`): logs and pipes get the closing summary only, never escape codes.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::summary;

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    /// `files` is how many inputs there are (shown as `file 2/7` when more than one).
    pub fn new(quiet: bool, files: usize) -> Progress {
        let started = Instant::now();
        if quiet || !io::stderr().is_terminal() {
            return Progress { bar: None, started };
        }
        let bar = ProgressBar::with_draw_target(Some(files as u64), ProgressDrawTarget::stderr());
        let template = if files > 1 {
            "{spinner:.green} [{elapsed_precise}] file {pos}/{len} {msg}"
        } else {
            "{spinner:.green} [{elapsed_precise}] {msg}"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("the progress template is valid")
                .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress {
            bar: Some(bar),
            started,
        }
    }

    /// Called at the start of each input file (1-based index).
    pub fn file(&self, index: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(index);
        }
    }

    /// Refreshes the counters. Cheap: indicatif redraws at most a few times a second.
    pub fn update(&self, documents: u64, tokens: u64, text_bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{} docs · {} tokens · {} · {}",
                summary::thousands(documents),
                summary::thousands(tokens),
                summary::bytes(text_bytes),
                summary::rate(text_bytes, self.started.elapsed()),
            ));
        }
    }

    /// Prints a line above the status line (or plainly on stderr when there is none).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the status line, leaving the terminal clean for the summary.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // On an error path the status line must not be left above the error message.
        self.finish();
    }
}
