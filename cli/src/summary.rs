//! The closing summary every command prints on stderr: a small aligned two-column table.
//!
//! ```text
//! arcade tokenize: done
//!   files                 3
//!   documents        12,345
//!   skipped               3
//!     malformed_json      2
//!     invalid_utf8        1
//!   tokens          345,678
//!   elapsed          1.23 s
//! ```

use std::fmt::Write as _;
use std::time::Duration;

/// Rows of (label, value), rendered with the labels left-aligned and values right-aligned.
pub struct Summary {
    title: String,
    rows: Vec<(String, String)>,
    /// Rows whose value is free text (a path): left-aligned, not widening the number column.
    text_rows: Vec<usize>,
}

impl Summary {
    pub fn new(title: impl Into<String>) -> Self {
        Summary {
            title: title.into(),
            rows: Vec::new(),
            text_rows: Vec::new(),
        }
    }

    pub fn row(&mut self, label: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.rows.push((label.into(), value.into()));
        self
    }

    /// A row whose value is text such as a path, written left-aligned in the value column.
    pub fn text_row(&mut self, label: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.text_rows.push(self.rows.len());
        self.row(label, value)
    }

    /// A row whose label is indented one more level (a breakdown of the row above).
    pub fn sub_row(&mut self, label: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.rows
            .push((format!("  {}", label.into()), value.into()));
        self
    }

    pub fn render(&self) -> String {
        let label_width = self
            .rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        let value_width = (self.rows.iter().enumerate())
            .filter(|(i, _)| !self.text_rows.contains(i))
            .map(|(_, (_, v))| v.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!("{}\n", self.title);
        for (i, (label, value)) in self.rows.iter().enumerate() {
            if self.text_rows.contains(&i) {
                let _ = writeln!(out, "  {label:<label_width$}  {value}");
            } else {
                let _ = writeln!(out, "  {label:<label_width$}  {value:>value_width$}");
            }
        }
        out
    }

    /// Prints the table on stderr (one write, so it is not interleaved with anything else).
    pub fn print(&self) {
        eprint!("{}", self.render());
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let head = digits.len() % 3;
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    out.push_str(&digits[..head]);
    for group in digits.as_bytes()[head..].chunks(3) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(std::str::from_utf8(group).expect("ASCII digits"));
    }
    out
}

/// Bytes with a decimal unit: `812 B`, `1.23 MB`, `4.10 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    format!("{value:.2} {unit}")
}

pub fn seconds(elapsed: Duration) -> String {
    let s = elapsed.as_secs_f64();
    if s < 60.0 {
        format!("{s:.2} s")
    } else {
        let total = elapsed.as_secs();
        format!("{}m {:02}s", total / 60, total % 60)
    }
}

/// Throughput in MB/s (decimal megabytes), `-` when nothing was timed.
pub fn rate(bytes: u64, elapsed: Duration) -> String {
    let s = elapsed.as_secs_f64();
    if s <= 0.0 {
        return "-".to_string();
    }
    format!("{:.1} MB/s", bytes as f64 / s / 1e6)
}

/// `bytes / tokens` with two decimals, `-` when there are no tokens.
pub fn ratio(bytes: u64, tokens: u64) -> String {
    if tokens == 0 {
        "-".to_string()
    } else {
        format!("{:.2}", bytes as f64 / tokens as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(1_234_567), "1.23 MB");
        assert_eq!(ratio(10, 4), "2.50");
        assert_eq!(ratio(10, 0), "-");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.50 s");
        assert_eq!(seconds(Duration::from_secs(125)), "2m 05s");
    }

    #[test]
    fn aligns_columns() {
        let mut s = Summary::new("t");
        s.row("documents", "12,345")
            .row("skipped", "3")
            .sub_row("invalid_utf8", "3")
            .text_row("output", "some/long/path.bin");
        assert_eq!(
            s.render(),
            "t\n  documents       12,345\n  skipped              3\n    invalid_utf8       3\n  \
             output          some/long/path.bin\n"
        );
    }
}
