use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// How the bytes of an input are split into documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// One JSON object per line; the text is taken from `ReadOptions::field`.
    Jsonl,
    /// Apache Parquet; the text is the column named by `ReadOptions::field`.
    Parquet,
    /// The whole file is one document.
    Text,
    /// Every line is one document (empty lines included, so nothing disappears silently).
    TextLines,
}

impl InputFormat {
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Jsonl => "jsonl",
            InputFormat::Parquet => "parquet",
            InputFormat::Text => "text",
            InputFormat::TextLines => "lines",
        }
    }

    /// Format and compression implied by a file name (case-insensitive):
    /// a compression suffix (`.gz`, `.zst`, `.zstd`) is peeled off first, then
    /// `.jsonl`/`.json`/`.ndjson` mean JSONL, `.parquet` means Parquet and anything else is
    /// plain text. `None` compression means the name does not say; the reader then sniffs the
    /// first bytes for a gzip or zstd magic number.
    pub fn detect(path: &Path) -> (InputFormat, Option<Compression>) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let (stem, compression) = Compression::strip_suffix(&name);
        let format = match stem.rsplit_once('.').map(|(_, ext)| ext) {
            Some("jsonl" | "json" | "ndjson") => InputFormat::Jsonl,
            Some("parquet") => InputFormat::Parquet,
            _ => InputFormat::Text,
        };
        (format, compression)
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InputFormat {
    type Err = String;

    /// Accepts `jsonl` (also `json`, `ndjson`), `parquet`, `text` (also `txt`) and `lines`
    /// (also `text-lines`), case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "json" | "ndjson" => Ok(InputFormat::Jsonl),
            "parquet" => Ok(InputFormat::Parquet),
            "text" | "txt" => Ok(InputFormat::Text),
            "lines" | "text-lines" | "textlines" => Ok(InputFormat::TextLines),
            other => Err(format!(
                "unknown input format `{other}` (expected jsonl, parquet, text or lines)"
            )),
        }
    }
}

/// Stream compression of a JSONL or text input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression a file name's suffix (`.gz`, `.gzip`, `.zst`, `.zstd`) names, and the name
    /// without it; `None` when the name does not say. `name` must already be lower-case.
    pub fn strip_suffix(name: &str) -> (&str, Option<Compression>) {
        for (suffix, compression) in [
            (".gz", Compression::Gzip),
            (".gzip", Compression::Gzip),
            (".zst", Compression::Zstd),
            (".zstd", Compression::Zstd),
        ] {
            if let Some(stem) = name.strip_suffix(suffix) {
                return (stem, Some(compression));
            }
        }
        (name, None)
    }

    /// Recognizes the gzip and zstd magic numbers. Neither can start valid UTF-8 text
    /// (0x8B and 0xB5 are continuation bytes), so sniffing never misreads a text file.
    pub(crate) fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(name: &str) -> (InputFormat, Option<Compression>) {
        InputFormat::detect(Path::new(name))
    }

    #[test]
    fn detects_format_and_compression_from_the_name() {
        use InputFormat::*;
        let (gzip, zstd) = (Some(Compression::Gzip), Some(Compression::Zstd));
        assert_eq!(detect("a/b.jsonl"), (Jsonl, None));
        assert_eq!(detect("b.JSON.GZ"), (Jsonl, gzip));
        assert_eq!(detect("b.ndjson.zst"), (Jsonl, zstd));
        assert_eq!(detect("b.jsonl.zstd"), (Jsonl, zstd));
        assert_eq!(detect("b.parquet"), (Parquet, None));
        assert_eq!(detect("b.parquet.gz"), (Parquet, gzip));
        assert_eq!(detect("b.txt.gz"), (Text, gzip));
        assert_eq!(detect("b.cor"), (Text, None));
        assert_eq!(detect("README"), (Text, None));
        assert_eq!(detect("jsonl"), (Text, None));
    }

    #[test]
    fn parses_format_names() {
        assert_eq!("JSONL".parse(), Ok(InputFormat::Jsonl));
        assert_eq!("lines".parse(), Ok(InputFormat::TextLines));
        assert!("csv".parse::<InputFormat>().unwrap_err().contains("csv"));
    }

    #[test]
    fn sniffs_magic_numbers() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"{\"text\""), Compression::None);
        assert_eq!(Compression::sniff(b""), Compression::None);
    }
}
