//! Shared helpers of the exactness tests: the reference encodings (tiktoken-rs), built from data
//! typed or parsed here independently of the crate, the corpus walker, and mismatch reports.
//!
//! Nothing in this module asks `arcade_tokenizer` for an expected value: the ranks are parsed from
//! the asset file with `base64` directly, the Arcade100k pattern and special tokens are typed from
//! the specification, and o200k_base comes from the tiktoken-rs crate's own files.

#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arcade_tokenizer::Tokenizer;
use base64::Engine;
use rustc_hash::FxHashMap;
use tiktoken_rs::CoreBPE;

/// Arcade100k's split pattern, typed from the specification (not copied from the crate).
pub const SPEC_ARCADE_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Arcade100k's 32 special tokens, typed from the specification; ids 100257.. in this order.
pub const SPEC_ARCADE_SPECIALS: [&str; 32] = [
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<gh_stars>",
    "<filename>",
    "<issue_start>",
    "<issue_comment>",
    "<issue_closed>",
    "<jupyter_start>",
    "<jupyter_text>",
    "<jupyter_code>",
    "<jupyter_output>",
    "<empty_output>",
    "<commit_before>",
    "<commit_msg>",
    "<commit_after>",
    "<reponame>",
    "<|endofprompt|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|pause|>",
    "<|reg0|>",
    "<|reg1|>",
    "<|reg2|>",
    "<|reg3|>",
    "<|reg4|>",
    "<|reg5|>",
    "<|reg6|>",
    "<|reg7|>",
    "<|extra0|>",
];

/// The first special id of Arcade100k.
pub const SPEC_FIRST_SPECIAL: u32 = 100_257;

/// cl100k_base's special tokens as tiktoken-rs declares them.
pub const SPEC_CL100K_SPECIALS: [(&str, u32); 5] = [
    ("<|endoftext|>", 100_257),
    ("<|fim_prefix|>", 100_258),
    ("<|fim_middle|>", 100_259),
    ("<|fim_suffix|>", 100_260),
    ("<|endofprompt|>", 100_276),
];

/// o200k_base's split pattern, copied from tiktoken-rs 0.12.1 (`O200K_BASE_PAT_STR`).
pub const SPEC_O200K_PATTERN: &str = concat!(
    r#"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
    "|",
    r#"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"#,
    "|",
    r#"\p{N}{1,3}"#,
    "|",
    r#" ?[^\s\p{L}\p{N}]+[\r\n/]*"#,
    "|",
    r#"\s*[\r\n]+"#,
    "|",
    r#"\s+(?!\S)"#,
    "|",
    r#"\s+"#
);

/// o200k_base's special tokens as tiktoken-rs declares them.
pub const SPEC_O200K_SPECIALS: [(&str, u32); 2] =
    [("<|endoftext|>", 199_999), ("<|endofprompt|>", 200_018)];

/// `tokenizer/assets/cl100k_base.tiktoken`, read from disk.
pub fn cl100k_ranks_file() -> &'static [u8] {
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/cl100k_base.tiktoken");
        fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    })
}

/// Parses a tiktoken ranks file (`base64 rank` per line) independently of the crate.
pub fn parse_ranks(data: &[u8]) -> FxHashMap<Vec<u8>, u32> {
    let text = std::str::from_utf8(data).expect("ranks file is ASCII");
    let mut map = FxHashMap::default();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let (b64, rank) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("line {}: no space", n + 1));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let rank: u32 = rank
            .parse()
            .unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        assert!(
            map.insert(bytes, rank).is_none(),
            "line {}: duplicate token",
            n + 1
        );
    }
    map
}

/// A reference encoding: tiktoken-rs's `CoreBPE` and its special tokens.
pub struct Reference {
    pub name: &'static str,
    pub bpe: CoreBPE,
    pub specials: Vec<(String, u32)>,
}

impl Reference {
    pub fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        self.bpe.encode_ordinary(text)
    }

    pub fn encode_with_special_tokens(&self, text: &str) -> Vec<u32> {
        self.bpe.encode_with_special_tokens(text)
    }

    /// Whether `text` holds any of this encoding's special-token strings.
    pub fn has_special(&self, text: &str) -> bool {
        text.contains('<') && self.specials.iter().any(|(s, _)| text.contains(s.as_str()))
    }

    /// The bytes of one id, from the reference (for diagnostics).
    pub fn piece(&self, id: u32) -> String {
        match self.bpe.decode_bytes(&[id]) {
            Ok(b) => format!("{:?}", String::from_utf8_lossy(&b)),
            Err(_) => "<unknown>".to_string(),
        }
    }
}

/// Arcade100k as the specification defines it, built on tiktoken-rs.
pub fn reference_arcade() -> &'static Reference {
    static R: OnceLock<Reference> = OnceLock::new();
    R.get_or_init(|| {
        let specials: Vec<(String, u32)> = SPEC_ARCADE_SPECIALS
            .iter()
            .zip(SPEC_FIRST_SPECIAL..)
            .map(|(s, id)| (s.to_string(), id))
            .collect();
        let bpe = CoreBPE::new(
            parse_ranks(cl100k_ranks_file()),
            specials.iter().cloned().collect(),
            SPEC_ARCADE_PATTERN,
        )
        .expect("reference Arcade100k builds");
        Reference {
            name: "arcade100k",
            bpe,
            specials,
        }
    })
}

/// tiktoken-rs's own cl100k_base.
pub fn reference_cl100k() -> &'static Reference {
    static R: OnceLock<Reference> = OnceLock::new();
    R.get_or_init(|| Reference {
        name: "cl100k_base",
        bpe: tiktoken_rs::cl100k_base().expect("tiktoken-rs cl100k_base"),
        specials: SPEC_CL100K_SPECIALS
            .iter()
            .map(|&(s, id)| (s.to_string(), id))
            .collect(),
    })
}

/// tiktoken-rs's own o200k_base.
pub fn reference_o200k() -> &'static Reference {
    static R: OnceLock<Reference> = OnceLock::new();
    R.get_or_init(|| Reference {
        name: "o200k_base",
        bpe: tiktoken_rs::o200k_base().expect("tiktoken-rs o200k_base"),
        specials: SPEC_O200K_SPECIALS
            .iter()
            .map(|&(s, id)| (s.to_string(), id))
            .collect(),
    })
}

/// `assets/o200k_base.tiktoken` of the tiktoken-rs 0.12 crate in the cargo registry, if found.
pub fn o200k_file_path() -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let src = cargo_home.join("registry/src");
    let mut found = Vec::new();
    for index in fs::read_dir(&src).ok()?.flatten() {
        let Ok(crates) = fs::read_dir(index.path()) else {
            continue;
        };
        for krate in crates.flatten() {
            let name = krate.file_name().to_string_lossy().into_owned();
            if name.starts_with("tiktoken-rs-0.12.") {
                let file = krate.path().join("assets/o200k_base.tiktoken");
                if file.is_file() {
                    found.push(file);
                }
            }
        }
    }
    found.sort();
    found.pop()
}

/// Our o200k_base, loaded through `from_tiktoken` from the tiktoken-rs crate's file; None (with a
/// printed notice) when the file is not in the registry.
pub fn ours_o200k() -> Option<&'static Tokenizer> {
    static T: OnceLock<Option<Tokenizer>> = OnceLock::new();
    T.get_or_init(|| {
        let Some(path) = o200k_file_path() else {
            eprintln!("NOTICE: tiktoken-rs-0.12.*/assets/o200k_base.tiktoken not found; o200k_base checks skipped");
            return None;
        };
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let specials = SPEC_O200K_SPECIALS.iter().map(|&(s, id)| (s.to_string(), id));
        Some(Tokenizer::from_tiktoken("o200k_base", &bytes, SPEC_O200K_PATTERN, specials).expect("o200k_base loads"))
    })
    .as_ref()
}

/// Escapes text for a one-line diagnostic, cut to about `max` bytes on char boundaries.
pub fn excerpt(text: &str, from: usize, to: usize) -> String {
    let mut a = from.min(text.len());
    while !text.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = to.min(text.len());
    while !text.is_char_boundary(b) {
        b += 1;
    }
    format!("{:?}", &text[a..b])
}

/// A readable report of where `ours` and `theirs` first differ.
pub fn describe_mismatch(
    what: &str,
    origin: &str,
    text: &str,
    ours: &[u32],
    theirs: &[u32],
    reference: &Reference,
) -> String {
    let p = ours.iter().zip(theirs).take_while(|(a, b)| a == b).count();
    let offset: usize = theirs[..p]
        .iter()
        .map(|&id| {
            reference
                .bpe
                .decode_bytes(&[id])
                .map(|b| b.len())
                .unwrap_or(0)
        })
        .sum();
    let lo = p.saturating_sub(3);
    let show = |ids: &[u32]| -> String {
        let hi = (p + 5).min(ids.len());
        ids[lo.min(ids.len())..hi]
            .iter()
            .enumerate()
            .map(|(k, &id)| {
                let mark = if lo + k == p { ">>" } else { "" };
                format!("{mark}{id}={}", reference.piece(id))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "{what} [{}] mismatch in {origin}: text {} bytes, ours {} ids, reference {} ids; first difference at id #{p} \
         (text byte {offset})\n  text around: {}\n  ours:      {}\n  reference: {}",
        reference.name,
        text.len(),
        ours.len(),
        theirs.len(),
        excerpt(text, offset.saturating_sub(40), offset + 40),
        show(ours),
        show(theirs),
    )
}

/// One document of a corpus: where it came from and its text.
#[derive(Debug, Clone)]
pub struct Doc {
    pub origin: String,
    pub text: String,
}

/// What the walker read, for the printed summary.
#[derive(Debug, Default)]
pub struct WalkStats {
    pub files: usize,
    pub skipped_files: Vec<String>,
    pub notes: Vec<String>,
}

/// Every document of every supported file under `root` (sorted, recursive): JSON Lines, JSON,
/// and plain text (`.txt`, `.cor`, `.md`), optionally gzip- or zstd-compressed. Every string value of a JSON record is a
/// document; a line that is not JSON is a document itself (lossy UTF-8); a text file is one
/// document whole and one per line. Undecodable compressed data yields what decoded before the error.
pub fn walk_corpus(root: &Path) -> (Vec<Doc>, WalkStats) {
    let mut files = Vec::new();
    collect_files(root, &mut files);
    files.sort();
    let mut docs = Vec::new();
    let mut stats = WalkStats::default();
    for path in files {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let name = path.file_name().unwrap().to_string_lossy().to_lowercase();
        let (inner, compression) = if let Some(s) = name.strip_suffix(".gz") {
            (s.to_string(), Some("gz"))
        } else if let Some(s) = name.strip_suffix(".zst") {
            (s.to_string(), Some("zst"))
        } else {
            (name.clone(), None)
        };
        let kind = if inner.ends_with(".jsonl") {
            "jsonl"
        } else if inner.ends_with(".json") {
            "json"
        } else if [".txt", ".cor", ".md"].iter().any(|e| inner.ends_with(e)) {
            "txt"
        } else {
            stats.skipped_files.push(rel);
            continue;
        };
        let raw = match fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                stats.notes.push(format!("{rel}: unreadable: {e}"));
                continue;
            }
        };
        let data = match compression {
            None => raw,
            Some(c) => {
                let (data, err) = decompress(c, &raw);
                if let Some(e) = err {
                    stats.notes.push(format!(
                        "{rel}: {c} stream broken after {} bytes: {e}",
                        data.len()
                    ));
                }
                data
            }
        };
        stats.files += 1;
        match kind {
            "jsonl" => jsonl_docs(&rel, &data, &mut docs),
            "json" => match serde_json::from_slice::<serde_json::Value>(&data) {
                Ok(v) => json_strings(&v, &mut String::new(), &rel, &mut docs),
                Err(_) => jsonl_docs(&rel, &data, &mut docs),
            },
            _ => {
                let text = String::from_utf8_lossy(&data).into_owned();
                for (n, line) in text.lines().enumerate() {
                    if !line.is_empty() {
                        docs.push(Doc {
                            origin: format!("{rel}:{}", n + 1),
                            text: line.to_string(),
                        });
                    }
                }
                docs.push(Doc {
                    origin: format!("{rel} (whole file)"),
                    text,
                });
            }
        }
    }
    (docs, stats)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

/// Decompresses as much as possible; returns the error that stopped it, if any.
fn decompress(kind: &str, raw: &[u8]) -> (Vec<u8>, Option<String>) {
    let mut out = Vec::new();
    let mut reader: Box<dyn Read> = match kind {
        "gz" => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        _ => match zstd::stream::read::Decoder::new(raw) {
            Ok(d) => Box::new(d),
            Err(e) => return (out, Some(e.to_string())),
        },
    };
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

fn jsonl_docs(rel: &str, data: &[u8], docs: &mut Vec<Doc>) {
    for (n, line) in data.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let origin = format!("{rel}:{}", n + 1);
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(v) => json_strings(&v, &mut String::new(), &origin, docs),
            Err(_) => docs.push(Doc {
                origin: format!("{origin} (not JSON, raw line)"),
                text: String::from_utf8_lossy(line).into_owned(),
            }),
        }
    }
}

/// Every string value of `v`, each a document named by its JSON path.
fn json_strings(v: &serde_json::Value, path: &mut String, origin: &str, docs: &mut Vec<Doc>) {
    match v {
        serde_json::Value::String(s) if !s.is_empty() => docs.push(Doc {
            origin: format!("{origin} {}", if path.is_empty() { "$" } else { path }),
            text: s.clone(),
        }),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                json_strings(item, path, origin, docs);
                path.truncate(len);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, item) in map {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                json_strings(item, path, origin, docs);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The workspace's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// `shared/corpus` beside the workspace root, if present.
pub fn shared_corpus_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    p.is_dir().then_some(p)
}

/// A cheap deterministic hash (FNV-1a) for sampling documents reproducibly.
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The leftmost special-token string in `text` (the longest of those starting there), found by
/// plain substring search: (byte offset, name).
pub fn first_special<'s>(text: &str, specials: &'s [(String, u32)]) -> Option<(usize, &'s str)> {
    specials
        .iter()
        .filter_map(|(name, _)| text.find(name.as_str()).map(|at| (at, name.as_str())))
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.len().cmp(&a.1.len())))
}

/// The special-token strings a left-to-right scan meets: at each step the leftmost occurrence at or
/// after the end of the previous one (the longest if several start there).
pub fn scan_specials<'s>(text: &str, specials: &'s [(String, u32)]) -> Vec<(usize, &'s str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some((at, name)) = first_special(&text[from..], specials) {
        out.push((from + at, name));
        from += at + name.len();
    }
    out
}
