//! Shared by the benches: the corpus subsets they time, the peers configured as our encodings, and
//! the id check that runs before any timing (a benchmark of wrong output is meaningless).

// Each bench uses only part of this module.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use arcade_tokenizer::{
    Tokenizer, ARCADE100K_PATTERN, ARCADE100K_SPECIALS, CL100K_BASE_PATTERN, CL100K_BASE_SPECIALS,
    ENDOFTEXT,
};
use base64::Engine;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::Criterion;
use rustc_hash::FxHashMap;
use tiktoken_rs::CoreBPE;

/// The languages of `multilingual/`, one subset each.
pub const LANGS: [&str; 13] = [
    "en", "de", "es", "fr", "it", "nl", "pt", "zh", "ja", "ru", "ar", "hi", "ko",
];

/// Caps the "mixed" subset at this many MB (a proportional prefix of every subset) for quick runs.
pub const MIXED_MB_VAR: &str = "ARCADE_BENCH_MIXED_MB";

pub struct Subset {
    pub name: String,
    pub docs: Vec<String>,
}

impl Subset {
    pub fn bytes(&self) -> u64 {
        self.docs.iter().map(|d| d.len() as u64).sum()
    }
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tokenizer/ has a parent")
        .to_path_buf()
}

/// `../shared/corpus` beside the workspace, else `fixtures/` (same layout, about 1/15 the size).
pub fn data_root() -> PathBuf {
    let corpus = workspace().join("../shared/corpus");
    if corpus.is_dir() {
        return corpus;
    }
    eprintln!(
        "NOTICE: {} not found; benchmarking fixtures/ instead (smaller, so noisier)",
        corpus.display()
    );
    workspace().join("fixtures")
}

/// One string field of every line of a JSONL file; empty strings are skipped.
fn read_jsonl(path: &Path, field: &str) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: bad JSON line: {e}", path.display()));
            match v.get_mut(field)?.take() {
                serde_json::Value::String(s) if !s.is_empty() => Some(s),
                _ => None,
            }
        })
        .collect()
}

/// Every `*.jsonl` directly in `dir`, sorted by name, one field of each line.
fn read_dir_jsonl(dir: &Path, field: &str) -> Vec<String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files.iter().flat_map(|f| read_jsonl(f, field)).collect()
}

/// The subsets, in this order: the 13 languages, code, web, then "mixed" (all of them). Loaded
/// once per process.
pub fn subsets() -> &'static [Subset] {
    static SUBSETS: OnceLock<Vec<Subset>> = OnceLock::new();
    SUBSETS.get_or_init(load_subsets)
}

fn load_subsets() -> Vec<Subset> {
    let root = data_root();
    let mut subsets: Vec<Subset> = LANGS
        .iter()
        .map(|lang| Subset {
            name: lang.to_string(),
            docs: read_jsonl(&root.join(format!("multilingual/{lang}.jsonl")), "text"),
        })
        .collect();
    subsets.push(Subset {
        name: "code".into(),
        docs: read_dir_jsonl(&root.join("code"), "content"),
    });
    subsets.push(Subset {
        name: "web".into(),
        docs: read_dir_jsonl(&root.join("web"), "text"),
    });
    let mixed = mixed(&subsets);
    subsets.push(mixed);
    subsets
}

/// All subsets concatenated; with `ARCADE_BENCH_MIXED_MB` set, the same share of each.
fn mixed(subsets: &[Subset]) -> Subset {
    let total: u64 = subsets.iter().map(Subset::bytes).sum();
    let limit = std::env::var(MIXED_MB_VAR)
        .ok()
        .map(|v| v.parse::<f64>().expect("ARCADE_BENCH_MIXED_MB is a number") * 1e6);
    let share = limit.map_or(1.0, |l| (l / total as f64).min(1.0));
    let mut docs = Vec::new();
    for s in subsets {
        let budget = (s.bytes() as f64 * share) as u64;
        let mut taken = 0;
        for d in &s.docs {
            if taken > 0 && taken + d.len() as u64 > budget {
                break;
            }
            taken += d.len() as u64;
            docs.push(d.clone());
        }
    }
    Subset {
        name: "mixed".into(),
        docs,
    }
}

/// `tokenizer/assets/cl100k_base.tiktoken`, the ranks of both encodings.
pub fn ranks_file() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/cl100k_base.tiktoken");
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The ranks file as tiktoken-rs takes it, parsed here rather than by the crate under test.
pub fn parse_ranks(file: &[u8]) -> FxHashMap<Vec<u8>, u32> {
    let b64 = base64::engine::general_purpose::STANDARD;
    std::str::from_utf8(file)
        .expect("ranks file is ASCII")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (token, rank) = l.split_once(' ').expect("`base64 rank` per line");
            (
                b64.decode(token).expect("base64"),
                rank.parse().expect("rank"),
            )
        })
        .collect()
}

pub fn arcade_specials() -> Vec<(String, u32)> {
    ARCADE100K_SPECIALS
        .iter()
        .zip(ENDOFTEXT..)
        .map(|(s, id)| (s.to_string(), id))
        .collect()
}

/// A new instance of Arcade100k: it has its own cache id, so its first encode on a thread starts
/// from an empty piece cache (what a fresh process sees).
pub fn fresh_arcade(ranks_file: &[u8]) -> Tokenizer {
    Tokenizer::from_tiktoken(
        "arcade100k",
        ranks_file,
        ARCADE100K_PATTERN,
        arcade_specials(),
    )
    .expect("Arcade100k builds")
}

/// A new instance of cl100k_base, as [`fresh_arcade`].
pub fn fresh_cl100k(ranks_file: &[u8]) -> Tokenizer {
    let specials = CL100K_BASE_SPECIALS
        .iter()
        .map(|&(s, id)| (s.to_string(), id));
    Tokenizer::from_tiktoken("cl100k_base", ranks_file, CL100K_BASE_PATTERN, specials)
        .expect("cl100k_base builds")
}

/// tiktoken-rs configured as Arcade100k: cl100k ranks, Arcade100k pattern, its 32 specials.
pub fn tiktoken_arcade() -> CoreBPE {
    CoreBPE::new(
        parse_ranks(&ranks_file()),
        arcade_specials().into_iter().collect(),
        ARCADE100K_PATTERN,
    )
    .expect("tiktoken-rs Arcade100k builds")
}

/// Panics, naming the document and a minimal input, unless both encoders give the same ids for
/// every document.
pub fn assert_same_ids(
    what: &str,
    docs: &[String],
    ours: impl Fn(&str) -> Vec<u32>,
    theirs: impl Fn(&str) -> Vec<u32>,
) {
    for (i, doc) in docs.iter().enumerate() {
        if ours(doc) != theirs(doc) {
            let small = minimize(doc, |t| ours(t) != theirs(t));
            panic!(
                "{what}: ids differ on document {i} ({} bytes); minimal input {small:?}: \
                 ours {:?}, theirs {:?}",
                doc.len(),
                ours(&small),
                theirs(&small)
            );
        }
    }
}

/// A short substring of `text` on which `fails` still holds: the first failing line, then cut from
/// either end in halving steps while it keeps failing.
fn minimize(text: &str, fails: impl Fn(&str) -> bool) -> String {
    let mut s = text
        .split_inclusive('\n')
        .find(|l| fails(l))
        .unwrap_or(text)
        .to_string();
    let mut step = s.len() / 2;
    while step > 0 {
        let (mut front, mut back) = (step, s.len() - step);
        while !s.is_char_boundary(front) {
            front += 1;
        }
        while !s.is_char_boundary(back) {
            back -= 1;
        }
        if front < s.len() && fails(&s[front..]) {
            s = s[front..].to_string();
        } else if back > 0 && fails(&s[..back]) {
            s.truncate(back);
        } else {
            step /= 2;
        }
        step = step.min(s.len() / 2);
    }
    s
}

/// A CPU-time clock for criterion. Single-thread numbers are measured in the calling thread's CPU
/// time, so that the time it spends preempted by other processes (this 2-core machine is shared
/// with compilers) is not counted against whichever implementation is running; on an idle machine
/// it equals wall time.
pub struct CpuTime(libc::clockid_t);

pub fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec, and the clock ids used are ones Linux defines.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock})");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub fn thread_cpu_time() -> Duration {
    cpu_time(libc::CLOCK_THREAD_CPUTIME_ID)
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        cpu_time(self.0)
    }
    fn end(&self, start: Duration) -> Duration {
        cpu_time(self.0) - start
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

/// Panics unless `pass` does (nearly) all its work on the calling thread: thread CPU time would
/// undercount an implementation that hands work to other threads.
pub fn assert_single_threaded(what: &str, pass: impl FnOnce()) {
    let (thread, process) = (thread_cpu_time(), cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID));
    pass();
    let thread = thread_cpu_time() - thread;
    let process = cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID) - process;
    assert!(
        process.as_secs_f64() <= thread.as_secs_f64() * 1.05 + 0.005,
        "{what}: {process:?} of process CPU time but {thread:?} on the bench thread"
    );
}

/// Criterion timing in the bench thread's CPU time: for code that runs on that thread only.
pub fn thread_cpu_criterion() -> Criterion<CpuTime> {
    Criterion::default().with_measurement(CpuTime(libc::CLOCK_THREAD_CPUTIME_ID))
}
