//! `arcade decode`: token ids (the `ids`, `jsonl` or `bin` output of `arcade tokenize`) back
//! into text. The decoded bytes are written exactly as the tokens spell them; nothing is
//! re-encoded or normalized, so `decode(tokenize(x))` gives back `x` byte for byte.

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use arcade_pipeline::read::{self, Compression};
use arcade_tokenizer::{DecodeError, Tokenizer, ENDOFTEXT};
use clap::ValueEnum;
use serde::Deserialize;

use crate::encoding::EncodingArgs;
use crate::output::Output;
use crate::summary::{self, Summary};

pub const AFTER_HELP: &str = "\
Documents: in ids and jsonl input every line is one document; a bin file is one stream of \
tokens. With --split-eos every <|endoftext|> also ends a document (and is not written), so \
the documents of `arcade tokenize --format bin --eos` come back apart.

The input format follows the file name (after .gz/.zst/.zstd, which are decompressed): .bin is \
bin, .jsonl/.json/.ndjson is jsonl, anything else (and stdin) is ids.

Examples:
  arcade decode tokens.txt
  arcade decode train.bin --split-eos --separator '\\n----\\n' | less
  arcade tokenize notes.txt --lines | arcade decode";

/// Input formats: the output formats of `arcade tokenize` that hold ids.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdsFormat {
    /// One document per line, ids separated by spaces (or tabs)
    Ids,
    /// One JSON object per line with an "ids" array
    Jsonl,
    /// Little-endian u32 ids
    Bin,
}

impl IdsFormat {
    fn name(self) -> &'static str {
        match self {
            IdsFormat::Ids => "ids",
            IdsFormat::Jsonl => "jsonl",
            IdsFormat::Bin => "bin",
        }
    }
}

#[derive(clap::Args, Debug)]
// Normalization only matters when encoding.
#[command(mut_arg("nfc", |arg| arg.hide(true)))]
pub struct Args {
    /// File of token ids; `-` or nothing reads stdin
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Input format [default: from the file name: .bin → bin, .jsonl → jsonl, else ids]
    #[arg(short, long, value_enum)]
    pub format: Option<IdsFormat>,

    /// Write to this file instead of stdout (written in full or not at all)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Written after each document; \n, \t, \r, \0 and \\ are understood [default: a newline;
    /// for bin without --split-eos nothing]
    #[arg(long, value_name = "TEXT")]
    pub separator: Option<String>,

    /// Treat <|endoftext|> as the end of a document: do not write it, write the separator
    #[arg(long)]
    pub split_eos: bool,

    #[command(flatten)]
    pub encoding: EncodingArgs,

    /// No summary (errors are still reported)
    #[arg(short, long)]
    pub quiet: bool,
}

/// `\n`, `\t`, `\r`, `\0` and `\\` in a separator typed on the command line.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('r') => out.push(b'\r'),
            Some('0') => out.push(0),
            Some('\\') => out.push(b'\\'),
            Some(other) => {
                out.push(b'\\');
                let mut buf = [0u8; 4];
                out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            }
            None => out.push(b'\\'),
        }
    }
    out
}

/// Format and compression implied by a file name (`None`: the name does not say).
fn detect(path: &Path) -> (IdsFormat, Option<Compression>) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let (stem, compression) = Compression::strip_suffix(&name);
    let format = match stem.rsplit_once('.').map(|(_, ext)| ext) {
        Some("bin") => IdsFormat::Bin,
        Some("jsonl" | "json" | "ndjson") => IdsFormat::Jsonl,
        _ => IdsFormat::Ids,
    };
    (format, compression)
}

/// The input, decompressed by the pipeline's reader. A compression the name does not give is
/// sniffed for text formats only: binary ids are never sniffed (token 35615 is bytes 1f 8b, the
/// gzip magic).
fn open_input(
    path: Option<&Path>,
    format: IdsFormat,
    compression: Option<Compression>,
) -> Result<Box<dyn BufRead + Send>> {
    let compression = match compression {
        None if format == IdsFormat::Bin => Some(Compression::None),
        other => other,
    };
    let (stream, _) = read::open_bytes(path.unwrap_or(Path::new("-")), compression)?;
    Ok(stream)
}

/// Writes decoded documents and keeps count.
struct Writer<'a> {
    tokenizer: &'a Tokenizer,
    output: Output,
    separator: Vec<u8>,
    split_eos: bool,
    eos: u32,
    buf: Vec<u8>,
    documents: u64,
    tokens: u64,
    bytes: u64,
}

impl Writer<'_> {
    /// Decodes `ids` into the buffer; a bad id is reported by `describe(position)`.
    fn decode(&mut self, ids: &[u32]) -> Result<(), DecodeError> {
        self.tokens += ids.len() as u64;
        self.tokenizer.decode_bytes_into(ids, &mut self.buf)
    }

    fn end_document(&mut self) {
        self.buf.extend_from_slice(&self.separator);
        self.documents += 1;
    }

    /// One record of ids/jsonl input: one document, or several with --split-eos. On error
    /// nothing of the record stays in the buffer.
    fn record(&mut self, ids: &[u32]) -> Result<(), DecodeError> {
        let mark = self.buf.len();
        let result = self.record_documents(ids);
        if result.is_err() {
            self.buf.truncate(mark);
        }
        result
    }

    fn record_documents(&mut self, ids: &[u32]) -> Result<(), DecodeError> {
        if !self.split_eos {
            self.decode(ids)?;
            self.end_document();
            return Ok(());
        }
        let mut start = 0;
        for (i, &id) in ids.iter().enumerate() {
            if id == self.eos {
                self.decode(&ids[start..i]).map_err(|e| shift(e, start))?;
                self.tokens += 1;
                self.end_document();
                start = i + 1;
            }
        }
        // The rest after the last <|endoftext|> is a document when it is not empty; a record
        // without any <|endoftext|> is one document even when empty.
        if start < ids.len() || start == 0 {
            self.decode(&ids[start..]).map_err(|e| shift(e, start))?;
            self.end_document();
        }
        Ok(())
    }

    /// Hands the buffered bytes to the output once there are enough of them.
    fn flush_if_full(&mut self) -> Result<()> {
        if self.buf.len() >= 1 << 16 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.bytes += self.buf.len() as u64;
        self.output.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// A decode error of a slice that starts at `offset` within the record.
fn shift(mut err: DecodeError, offset: usize) -> DecodeError {
    err.position += offset;
    err
}

fn bad_id(at: &str, err: &DecodeError, tokenizer: &Tokenizer) -> anyhow::Error {
    anyhow!(
        "{at}: unknown token id {} (token {} of the line); {} has ids below {}\n\
         hint: was this made with another encoding? pass the same --encoding as to tokenize",
        err.id,
        err.position + 1,
        tokenizer.name(),
        err.vocab_size
    )
}

#[derive(Deserialize)]
struct JsonRecord {
    ids: Vec<u32>,
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let tokenizer = args.encoding.load()?;
    let path = args.input.as_deref().filter(|p| *p != Path::new("-"));
    let display = path.map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string());
    let (detected, compression) = match path {
        Some(p) => detect(p),
        None => (IdsFormat::Ids, None),
    };
    let format = args.format.unwrap_or(detected);
    let eos = tokenizer
        .special_token("<|endoftext|>")
        .unwrap_or(ENDOFTEXT);
    if args.split_eos && tokenizer.special_token("<|endoftext|>").is_none() {
        bail!(
            "--split-eos: encoding {} has no <|endoftext|> token; declare it with --special",
            tokenizer.name()
        );
    }
    let separator = match &args.separator {
        Some(s) => unescape(s),
        None if format == IdsFormat::Bin && !args.split_eos => Vec::new(),
        None => b"\n".to_vec(),
    };

    let mut input = open_input(path, format, compression)?;
    let output = Output::open(args.output.as_deref())?;
    let mut w = Writer {
        tokenizer: &tokenizer,
        output,
        separator,
        split_eos: args.split_eos,
        eos,
        buf: Vec::with_capacity(1 << 17),
        documents: 0,
        tokens: 0,
        bytes: 0,
    };
    if let Err(err) = decode_stream(&mut *input, format, &display, &mut w) {
        // What was decoded before the bad record still goes out (as `tokenize` does); a file
        // given with -o is not committed, so it is not written at all.
        let _ = w.flush();
        return Err(err);
    }
    w.flush()?;
    let Writer {
        output,
        documents,
        tokens,
        bytes,
        ..
    } = w;
    output.commit()?;
    if !args.quiet {
        let elapsed = started.elapsed();
        let mut s = Summary::new("arcade decode: done");
        s.row("format", format.name());
        s.row("documents", summary::thousands(documents));
        s.row("tokens", summary::thousands(tokens));
        s.row("text bytes", summary::thousands(bytes));
        s.row("elapsed", summary::seconds(elapsed));
        s.row("throughput", summary::rate(bytes, elapsed));
        if let Some(path) = &args.output {
            s.text_row("output", path.display().to_string());
        }
        s.print();
    }
    Ok(())
}

/// Reads the whole input and hands its documents to `w`.
fn decode_stream(
    input: &mut dyn BufRead,
    format: IdsFormat,
    display: &str,
    w: &mut Writer<'_>,
) -> Result<()> {
    let tokenizer = w.tokenizer;
    let eos = w.eos;
    let read_error = |err: io::Error, at: String| {
        anyhow::Error::new(err).context(format!(
            "{at}: cannot read (is the file truncated or corrupt?)"
        ))
    };

    match format {
        IdsFormat::Ids | IdsFormat::Jsonl => {
            let mut line = Vec::new();
            let mut ids = Vec::new();
            let mut number = 0u64;
            loop {
                line.clear();
                let n = input
                    .read_until(b'\n', &mut line)
                    .map_err(|e| read_error(e, format!("{display}:{}", number + 1)))?;
                if n == 0 {
                    break;
                }
                number += 1;
                let at = format!("{display}:{number}");
                let mut text = line.strip_suffix(b"\n").unwrap_or(&line);
                text = text.strip_suffix(b"\r").unwrap_or(text);
                if format == IdsFormat::Ids {
                    parse_ids_line(text, &mut ids).map_err(|msg| anyhow!("{at}: {msg}"))?;
                } else {
                    if text.iter().all(u8::is_ascii_whitespace) {
                        continue; // blank lines are not records
                    }
                    let record: JsonRecord = serde_json::from_slice(text).map_err(|err| {
                        anyhow!(
                            "{at}: not a JSON object with an \"ids\" array of token ids: {err}\n\
                             hint: is this the jsonl output of `arcade tokenize`? pick the \
                             format with --format"
                        )
                    })?;
                    ids = record.ids;
                }
                w.record(&ids).map_err(|err| bad_id(&at, &err, tokenizer))?;
                w.flush_if_full()?;
            }
        }
        IdsFormat::Bin => {
            let mut bytes = vec![0u8; 1 << 20];
            let mut ids: Vec<u32> = Vec::with_capacity(bytes.len() / 4);
            let mut filled = 0usize; // bytes in `bytes` not yet turned into ids
            let mut consumed_tokens = 0u64; // tokens of the file before `ids`
            let mut open_document = false;
            loop {
                let n = input
                    .read(&mut bytes[filled..])
                    .map_err(|e| read_error(e, display.to_string()))?;
                if n == 0 {
                    break;
                }
                filled += n;
                let whole = filled / 4 * 4;
                ids.clear();
                ids.extend(
                    bytes[..whole]
                        .chunks_exact(4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
                bytes.copy_within(whole..filled, 0);
                filled -= whole;
                let result = if w.split_eos {
                    let mut start = 0;
                    let mut result = Ok(());
                    for (i, &id) in ids.iter().enumerate() {
                        if id == eos {
                            if let Err(e) = w.decode(&ids[start..i]) {
                                result = Err(shift(e, start));
                                break;
                            }
                            w.tokens += 1;
                            w.end_document();
                            open_document = false;
                            start = i + 1;
                        }
                    }
                    if result.is_ok() && start < ids.len() {
                        open_document = true;
                        result = w.decode(&ids[start..]).map_err(|e| shift(e, start));
                    }
                    result
                } else {
                    open_document |= !ids.is_empty();
                    w.decode(&ids)
                };
                if let Err(err) = result {
                    let index = consumed_tokens + err.position as u64;
                    bail!(
                        "{display}: unknown token id {} at token {} (byte offset {}); {} has ids \
                         below {}\nhint: is this a file of little-endian u32 ids made with the same \
                         --encoding?",
                        err.id,
                        index,
                        index * 4,
                        tokenizer.name(),
                        err.vocab_size
                    );
                }
                consumed_tokens += ids.len() as u64;
                w.flush_if_full()?;
            }
            if filled != 0 {
                bail!(
                    "{display}: the file ends {filled} byte(s) into a token: a bin file holds \
                     4 bytes per token (is it truncated, or not a bin file? pick the format with \
                     --format)"
                );
            }
            if open_document {
                w.end_document();
            }
        }
    }
    Ok(())
}

/// Parses space- (or tab-) separated decimal ids.
fn parse_ids_line(line: &[u8], ids: &mut Vec<u32>) -> Result<(), String> {
    ids.clear();
    for (index, field) in line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|f| !f.is_empty())
        .enumerate()
    {
        let id = std::str::from_utf8(field)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(|| {
                format!(
                    "`{}` (token {} of the line) is not a token id\nhint: ids input is one \
                     document per line, ids separated by spaces; pick another format with --format",
                    String::from_utf8_lossy(field),
                    index + 1
                )
            })?;
        ids.push(id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_from_names() {
        assert_eq!(detect(Path::new("a/train.bin")), (IdsFormat::Bin, None));
        assert_eq!(
            detect(Path::new("x.jsonl.zst")),
            (IdsFormat::Jsonl, Some(Compression::Zstd))
        );
        assert_eq!(
            detect(Path::new("x.BIN.gz")),
            (IdsFormat::Bin, Some(Compression::Gzip))
        );
        assert_eq!(detect(Path::new("ids.txt")), (IdsFormat::Ids, None));
    }

    #[test]
    fn unescapes_separators() {
        assert_eq!(
            unescape(r"\n--\t\\\0é\q"),
            b"\n--\t\\\0\xc3\xa9\\q".to_vec()
        );
        assert_eq!(unescape("plain"), b"plain".to_vec());
    }

    #[test]
    fn parses_id_lines() {
        let mut ids = Vec::new();
        parse_ids_line(b"1 22\t333  4", &mut ids).unwrap();
        assert_eq!(ids, [1, 22, 333, 4]);
        parse_ids_line(b"", &mut ids).unwrap();
        assert!(ids.is_empty());
        let err = parse_ids_line(b"1 x2 3", &mut ids).unwrap_err();
        assert!(err.contains("`x2` (token 2"), "{err}");
        assert!(parse_ids_line(b"-1", &mut ids).is_err());
        assert!(parse_ids_line(b"+1", &mut ids).is_err());
        assert!(parse_ids_line(b"4294967296", &mut ids).is_err());
    }
}
