//! End-to-end tests of `arcade tokenize`: the real binary, run on the fixtures under
//! `fixtures/` (and small inputs made in temp dirs), its output compared with the tokenizer
//! library. The library is tested against tiktoken elsewhere; these tests check the plumbing:
//! every document's ids equal the library's, in input order, in exactly the promised format.

use std::process::Command;

use arcade_tokenizer::{AllowedSpecial, Tokenizer, ENDOFTEXT};

mod common;
use common::{
    arcade, assert_contains, fixture, fixture_bytes, jsonl_field, jsonl_texts, root, Run,
};

// ---------------------------------------------------------------------------------------------
// helpers

fn tokenize(args: &[&str]) -> Run {
    arcade(
        std::iter::once("tokenize").chain(args.iter().copied()),
        None,
    )
}

fn tokenize_stdin(args: &[&str], input: &[u8]) -> Run {
    arcade(
        std::iter::once("tokenize").chain(args.iter().copied()),
        Some(input),
    )
}

/// The `content` column of a Parquet fixture, read with arrow.
fn parquet_column(rel: &str, column: &str) -> Vec<String> {
    use arrow_array::cast::AsArray;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::File::open(root().join(fixture(rel))).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = batch.column_by_name(column).unwrap();
        let strings = col.as_string::<i32>();
        out.extend(strings.iter().map(|s| s.unwrap().to_string()));
    }
    out
}

fn tok() -> Tokenizer {
    Tokenizer::arcade100k()
}

fn encode_all(texts: &[String]) -> Vec<Vec<u32>> {
    let tok = tok();
    texts.iter().map(|t| tok.encode_ordinary(t)).collect()
}

/// Parses `ids` output: one line per document.
fn parse_ids(stdout: &[u8]) -> Vec<Vec<u32>> {
    let text = std::str::from_utf8(stdout).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "ids output must end with a newline"
    );
    text.lines()
        .map(|line| {
            if line.is_empty() {
                Vec::new()
            } else {
                line.split(' ')
                    .map(|id| id.parse().expect("an id"))
                    .collect()
            }
        })
        .collect()
}

fn parse_bin(bytes: &[u8]) -> Vec<u32> {
    assert_eq!(bytes.len() % 4, 0, "bin output is whole u32s");
    bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn with_eos(docs: &[Vec<u32>]) -> Vec<Vec<u32>> {
    docs.iter()
        .map(|d| {
            let mut d = d.clone();
            d.push(ENDOFTEXT);
            d
        })
        .collect()
}

fn first_difference(a: &[Vec<u32>], b: &[Vec<u32>]) -> String {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            return format!("document {i} differs: {} vs {} ids", x.len(), y.len());
        }
    }
    format!("{} vs {} documents", a.len(), b.len())
}

fn assert_docs_eq(got: &[Vec<u32>], want: &[Vec<u32>]) {
    assert!(got == want, "{}", first_difference(got, want));
}

const MULTILINGUAL: [&str; 13] = [
    "ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "nl", "pt", "ru", "zh",
];

// ---------------------------------------------------------------------------------------------
// output formats

#[test]
fn ids_output_equals_library_for_every_document_in_order_across_files() {
    let files: Vec<String> = MULTILINGUAL
        .iter()
        .map(|l| fixture(&format!("multilingual/{l}.jsonl")))
        .collect();
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    args.extend(["--format", "ids"]);
    let run = tokenize(&args).ok();
    let texts: Vec<String> = MULTILINGUAL
        .iter()
        .flat_map(|l| jsonl_texts(&format!("multilingual/{l}.jsonl")))
        .collect();
    assert!(texts.len() > 1000, "the fixtures hold many documents");
    assert_docs_eq(&parse_ids(&run.stdout), &encode_all(&texts));
    assert_eq!(run.summary("files"), "13");
    assert_eq!(run.summary("documents"), texts.len().to_string());
}

#[test]
fn ids_is_the_default_format_and_plain_text_is_one_document() {
    let path = fixture("text/wiki_demo_head.txt");
    let run = tokenize(&[path.as_str()]).ok();
    let text = String::from_utf8(fixture_bytes("text/wiki_demo_head.txt")).unwrap();
    assert_docs_eq(&parse_ids(&run.stdout), &[tok().encode_ordinary(&text)]);
    assert_eq!(run.summary("text bytes"), text.len().to_string());
}

#[test]
fn jsonl_output_carries_ids_and_the_id_field() {
    let path = fixture("web/dolma_cc2019_head.jsonl");
    let run = tokenize(&[path.as_str(), "--format", "jsonl", "--id-field", "id"]).ok();
    let texts = jsonl_texts("web/dolma_cc2019_head.jsonl");
    let ids = jsonl_field("web/dolma_cc2019_head.jsonl", "id");
    let lines: Vec<&str> = run.stdout_str().lines().collect();
    assert_eq!(lines.len(), texts.len());
    let want = encode_all(&texts);
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 2, "only id and ids: {line}");
        assert_eq!(obj["id"], ids[i].as_str());
        let got: Vec<u32> = obj["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(got, want[i], "document {i}");
    }
    // The exact shape of a line: compact, id first.
    assert!(
        lines[0].starts_with(&format!("{{\"id\":\"{}\",\"ids\":[", ids[0])),
        "{}",
        lines[0]
    );
}

#[test]
fn jsonl_output_without_id_field_is_just_ids() {
    let path = fixture("multilingual/ja.jsonl");
    let run = tokenize(&[path.as_str(), "-f", "jsonl"]).ok();
    let want = encode_all(&jsonl_texts("multilingual/ja.jsonl"));
    let expected: String = want
        .iter()
        .map(|ids| {
            let joined: Vec<String> = ids.iter().map(u32::to_string).collect();
            format!("{{\"ids\":[{}]}}\n", joined.join(","))
        })
        .collect();
    assert_eq!(run.stdout_str(), expected);
}

#[test]
fn bin_output_is_u32_le_with_eos_after_each_document() {
    let path = fixture("web/dclm_majority_head.jsonl");
    let texts = jsonl_texts("web/dclm_majority_head.jsonl");
    let want = encode_all(&texts);
    let total: usize = want.iter().map(Vec::len).sum();

    let plain = tokenize(&[path.as_str(), "--format", "bin"]).ok();
    assert_eq!(plain.stdout.len(), 4 * total);
    assert_eq!(parse_bin(&plain.stdout), want.concat());
    assert_eq!(plain.summary("tokens"), total.to_string());

    let eos = tokenize(&[path.as_str(), "--format", "bin", "--eos"]).ok();
    assert_eq!(eos.stdout.len(), 4 * (total + texts.len()));
    let ids = parse_bin(&eos.stdout);
    assert_eq!(
        ids.iter().filter(|&&id| id == ENDOFTEXT).count(),
        texts.len()
    );
    assert_eq!(ids, with_eos(&want).concat());
    assert_eq!(eos.summary("tokens"), (total + texts.len()).to_string());
}

#[test]
fn count_output_is_tokens_per_document_with_totals_in_the_summary() {
    let path = fixture("multilingual/hi.jsonl");
    let want = encode_all(&jsonl_texts("multilingual/hi.jsonl"));
    let run = tokenize(&[path.as_str(), "--format", "count"]).ok();
    let counts: Vec<usize> = run
        .stdout_str()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(counts, want.iter().map(Vec::len).collect::<Vec<_>>());
    let total: usize = counts.iter().sum();
    assert_eq!(run.summary("tokens"), total.to_string());
    assert_eq!(run.summary("documents"), want.len().to_string());

    let eos = tokenize(&[path.as_str(), "--format", "count", "--eos"]).ok();
    let counts_eos: Vec<usize> = eos
        .stdout_str()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(counts_eos, counts.iter().map(|c| c + 1).collect::<Vec<_>>());
}

#[test]
fn eos_applies_to_ids_and_jsonl_too() {
    let path = fixture("multilingual/ko.jsonl");
    let want = with_eos(&encode_all(&jsonl_texts("multilingual/ko.jsonl")));
    let ids = tokenize(&[path.as_str(), "--eos"]).ok();
    assert_docs_eq(&parse_ids(&ids.stdout), &want);
    let jsonl = tokenize(&[path.as_str(), "--eos", "-f", "jsonl"]).ok();
    let got: Vec<Vec<u32>> = jsonl
        .stdout_str()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect()
        })
        .collect();
    assert_docs_eq(&got, &want);
}

#[test]
fn output_file_gets_exactly_what_stdout_would() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tokens.bin");
    let path = fixture("code/code_permissive.jsonl");
    let common = [path.as_str(), "--field", "content", "-f", "bin", "--eos"];
    let mut args = common.to_vec();
    args.extend(["-o", out.to_str().unwrap()]);
    let to_file = tokenize(&args).ok();
    assert!(to_file.stdout.is_empty());
    assert!(
        to_file.stderr.contains("tokens.bin"),
        "the summary names the output"
    );
    let to_stdout = tokenize(&common).ok();
    assert!(!to_stdout.stdout.is_empty());
    assert_eq!(std::fs::read(&out).unwrap(), to_stdout.stdout);
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// `-o` naming a FIFO (or a device such as /dev/null) writes into it: renaming a finished
/// temporary file over it would replace the FIFO or device itself.
#[cfg(unix)]
#[test]
fn output_to_a_fifo_is_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let reader_path = fifo.clone();
    // Left running (not joined) if the FIFO is never written, so the test fails instead of
    // hanging.
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read(reader_path));
    });
    let path = fixture("multilingual/fr.jsonl");
    let run = tokenize(&[path.as_str(), "-o", fifo.to_str().unwrap()]).ok();
    let data = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the FIFO was written to")
        .unwrap();
    assert_docs_eq(
        &parse_ids(&data),
        &encode_all(&jsonl_texts("multilingual/fr.jsonl")),
    );
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(run.stderr.contains("pipe"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// `-o` naming a symlink replaces the file it points to and keeps the link.
#[cfg(unix)]
#[test]
fn output_through_a_symlink_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.ids");
    let link = dir.path().join("link.ids");
    std::fs::write(&real, "old contents").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let path = fixture("multilingual/it.jsonl");
    tokenize(&[path.as_str(), "-o", link.to_str().unwrap()]).ok();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let data = std::fs::read(&real).unwrap();
    assert_docs_eq(
        &parse_ids(&data),
        &encode_all(&jsonl_texts("multilingual/it.jsonl")),
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

// ---------------------------------------------------------------------------------------------
// inputs

#[test]
fn gzip_zstd_and_plain_inputs_give_identical_output() {
    for format in ["ids", "bin", "count"] {
        let plain = tokenize(&[&fixture("text/wiki_demo_head.txt"), "-f", format]).ok();
        let gz = tokenize(&[&fixture("text/wiki_demo_head.txt.gz"), "-f", format]).ok();
        let zst = tokenize(&[&fixture("text/wiki_demo_head.txt.zst"), "-f", format]).ok();
        assert!(!plain.stdout.is_empty());
        assert!(plain.stdout == gz.stdout, "{format}: gzip differs");
        assert!(plain.stdout == zst.stdout, "{format}: zstd differs");
    }
    let plain = tokenize(&[&fixture("web/dolma_cc2019_head.jsonl")]).ok();
    let gz = tokenize(&[&fixture("web/dolma_cc2019_head.jsonl.gz")]).ok();
    assert!(plain.stdout == gz.stdout, "jsonl.gz differs");
    let plain = tokenize(&[&fixture("code/code_permissive.jsonl"), "--field", "content"]).ok();
    let zst = tokenize(&[
        &fixture("code/code_permissive.jsonl.zst"),
        "--field",
        "content",
    ])
    .ok();
    assert!(plain.stdout == zst.stdout, "jsonl.zst differs");
    assert_docs_eq(
        &parse_ids(&plain.stdout),
        &encode_all(&jsonl_field("code/code_permissive.jsonl", "content")),
    );
}

#[test]
fn concatenated_gzip_members_and_zstd_jsonl_are_read_whole() {
    let run = tokenize(&[&fixture("web/c4_two_members.json.gz")]).ok();
    let texts = jsonl_texts("web/c4_two_members.json.gz");
    assert_docs_eq(&parse_ids(&run.stdout), &encode_all(&texts));
    let run = tokenize(&[&fixture("web/pile_val_sample.jsonl.zst")]).ok();
    assert_docs_eq(
        &parse_ids(&run.stdout),
        &encode_all(&jsonl_texts("web/pile_val_sample.jsonl.zst")),
    );
}

#[test]
fn parquet_column_named_by_field() {
    let path = fixture("code/code_subset.parquet");
    let run = tokenize(&[path.as_str(), "--field", "content"]).ok();
    let texts = parquet_column("code/code_subset.parquet", "content");
    assert_eq!(texts.len(), 60);
    assert_docs_eq(&parse_ids(&run.stdout), &encode_all(&texts));
    // The id column passes through too.
    let run = tokenize(&[
        path.as_str(),
        "--field",
        "content",
        "--id-field",
        "hexsha",
        "-f",
        "jsonl",
    ])
    .ok();
    let shas = parquet_column("code/code_subset.parquet", "hexsha");
    let got: Vec<String> = run
        .stdout_str()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(got, shas);
}

#[test]
fn lines_mode_makes_every_line_a_document() {
    let path = fixture("formats/lines_edge.txt");
    let run = tokenize(&[path.as_str(), "--lines"]).ok();
    let lines = [
        "first line",
        "",
        "third line",
        "",
        "fifth line, no newline at the end",
    ];
    let want: Vec<Vec<u32>> = lines.iter().map(|l| tok().encode_ordinary(l)).collect();
    assert_docs_eq(&parse_ids(&run.stdout), &want);
    // The same through --input-format lines, and without --lines the file is one document.
    let forced = tokenize(&[path.as_str(), "--input-format", "lines"]).ok();
    assert_eq!(forced.stdout, run.stdout);
    let whole = tokenize(&[path.as_str()]).ok();
    assert_eq!(parse_ids(&whole.stdout).len(), 1);
}

#[test]
fn input_format_overrides_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.txt");
    std::fs::write(
        &path,
        "{\"body\": {\"text\": \"nested text\"}}\n{\"body\": {\"text\": \"more\"}}\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let run = tokenize(&[p, "--input-format", "jsonl", "--field", "body.text"]).ok();
    assert_docs_eq(
        &parse_ids(&run.stdout),
        &encode_all(&["nested text".into(), "more".into()]),
    );
    // As plain text (by its name) it is one document: the JSON source itself.
    let run = tokenize(&[p]).ok();
    assert_docs_eq(
        &parse_ids(&run.stdout),
        &[tok().encode_ordinary(&std::fs::read_to_string(&path).unwrap())],
    );
}

#[test]
fn stdin_is_read_when_there_are_no_inputs_or_a_dash() {
    let bytes = fixture_bytes("multilingual/ru.jsonl");
    let want = encode_all(&jsonl_texts("multilingual/ru.jsonl"));
    let none = tokenize_stdin(&[], &bytes).ok();
    assert_docs_eq(&parse_ids(&none.stdout), &want);
    let dash = tokenize_stdin(&["-"], &bytes).ok();
    assert_eq!(dash.stdout, none.stdout);
    assert!(dash.stderr.contains("documents"));
    // Compressed stdin is recognised by its magic number.
    let gz = std::fs::read(root().join(fixture("web/dolma_cc2019_head.jsonl.gz"))).unwrap();
    let run = tokenize_stdin(&["-f", "count"], &gz).ok();
    assert_eq!(
        run.summary("documents"),
        jsonl_texts("web/dolma_cc2019_head.jsonl").len().to_string()
    );
    // Plain text on stdin with --lines.
    let run = tokenize_stdin(&["--lines"], b"one\ntwo words\n").ok();
    assert_docs_eq(
        &parse_ids(&run.stdout),
        &encode_all(&["one".into(), "two words".into()]),
    );
}

#[test]
fn globs_expand_in_sorted_order() {
    let listed: Vec<String> = MULTILINGUAL
        .iter()
        .map(|l| fixture(&format!("multilingual/{l}.jsonl")))
        .collect();
    let mut args: Vec<&str> = listed.iter().map(String::as_str).collect();
    args.extend(["-f", "count"]);
    let by_list = tokenize(&args).ok();
    let by_glob = tokenize(&["fixtures/multilingual/*.jsonl", "-f", "count"]).ok();
    assert_eq!(by_glob.stdout, by_list.stdout);
    assert_eq!(by_glob.summary("files"), "13");
}

#[test]
fn mixed_inputs_in_one_run_keep_their_order() {
    let a = fixture("multilingual/zh.jsonl");
    let b = fixture("formats/lines_edge.txt");
    let c = fixture("code/code_subset.parquet");
    let run = tokenize(&[&a, &b, &c, "--lines", "--field", "content", "-f", "count"]);
    // zh.jsonl has `text`, not `content`: a clear error rather than silence.
    let run = run.failed();
    assert_contains(&run.stderr, &["fixtures/multilingual/zh.jsonl:1"]);

    let run = tokenize(&[&b, &c, &a, "--lines", "--field", "content", "-f", "count"]);
    let run = run.failed();
    assert_contains(&run.stderr, &["zh.jsonl:1: missing field `content`"]);
    // Everything before the bad record was written, in order.
    let counts: Vec<usize> = run
        .stdout_str()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut want: Vec<usize> = [
        "first line",
        "",
        "third line",
        "",
        "fifth line, no newline at the end",
    ]
    .iter()
    .map(|l| tok().count_tokens(l))
    .collect();
    want.extend(
        encode_all(&parquet_column("code/code_subset.parquet", "content"))
            .iter()
            .map(Vec::len),
    );
    assert_eq!(counts, want);
}

// ---------------------------------------------------------------------------------------------
// threads and batching

#[test]
fn one_and_two_threads_give_byte_identical_output() {
    let inputs = [
        fixture("web/dclm_majority_head.jsonl"),
        fixture("multilingual/ar.jsonl"),
        fixture("multilingual/zh.jsonl"),
        fixture("formats/lines_edge.txt"),
        fixture("web/pile_train_00_sample.jsonl.zst"),
    ];
    for format in ["ids", "jsonl", "bin", "count"] {
        let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();
        args.extend(["--lines", "--eos", "-f", format]);
        let mut one = args.clone();
        one.extend(["--threads", "1"]);
        // Tiny batches and chunks: hundreds of batches, each split across both threads.
        let mut two = args.clone();
        two.extend([
            "--threads",
            "2",
            "--batch-bytes",
            "20000",
            "--chunk-bytes",
            "3000",
        ]);
        let mut two_default = args.clone();
        two_default.extend(["--threads", "2"]);
        // Several files read at once by three reader threads, in small batches.
        let mut readers = args.clone();
        readers.extend(["--threads", "2", "--readers", "3", "--batch-bytes", "30000"]);
        let one = tokenize(&one).ok();
        let two = tokenize(&two).ok();
        let two_default = tokenize(&two_default).ok();
        let readers = tokenize(&readers).ok();
        assert!(!one.stdout.is_empty());
        assert!(
            one.stdout == readers.stdout,
            "{format}: 1 thread vs 3 readers differ"
        );
        assert_eq!(one.stderr.lines().count(), readers.stderr.lines().count());
        assert!(
            one.stdout == two.stdout,
            "{format}: 1 vs 2 threads (small batches) differ"
        );
        assert!(
            one.stdout == two_default.stdout,
            "{format}: 1 vs 2 threads differ"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// encodings and special tokens

#[test]
fn special_token_strings_are_plain_text_by_default() {
    let text = "a<|endoftext|>b<|im_start|>c";
    let input = format!("{}\n", serde_json::json!({ "text": text }));
    let run = tokenize_stdin(&[], input.as_bytes()).ok();
    let got = parse_ids(&run.stdout);
    assert_docs_eq(&got, &[tok().encode_ordinary(text)]);
    assert!(!got[0].contains(&ENDOFTEXT));

    let all = tokenize_stdin(&["--specials", "all"], input.as_bytes()).ok();
    let want = tok().encode(text, &AllowedSpecial::All).unwrap();
    assert!(want.contains(&ENDOFTEXT) && want.contains(&100_277));
    assert_docs_eq(&parse_ids(&all.stdout), std::slice::from_ref(&want));

    let list = tokenize_stdin(
        &["--specials", "<|endoftext|>,<|im_start|>"],
        input.as_bytes(),
    )
    .ok();
    assert_docs_eq(&parse_ids(&list.stdout), &[want]);
}

#[test]
fn a_special_token_outside_the_list_is_a_bad_record() {
    let input = b"{\"text\": \"fine <|endoftext|>\"}\n{\"text\": \"x <|im_start|> y\"}\n{\"text\": \"z\"}\n";
    let run = tokenize_stdin(&["--specials", "<|endoftext|>"], input).failed();
    assert_contains(&run.stderr, &["<stdin>:2", "<|im_start|>", "--skip-bad"]);

    let run = tokenize_stdin(&["--specials", "<|endoftext|>", "--skip-bad"], input).ok();
    let tok = tok();
    let allowed = AllowedSpecial::Set(["<|endoftext|>".to_string()].into());
    assert_docs_eq(
        &parse_ids(&run.stdout),
        &[
            tok.encode("fine <|endoftext|>", &allowed).unwrap(),
            tok.encode_ordinary("z"),
        ],
    );
    assert_eq!(run.summary("skipped"), "1");
    assert_eq!(run.summary("disallowed_special"), "1");

    let run = tokenize_stdin(&["--specials", "<|nope|>"], input).failed();
    assert_contains(&run.stderr, &["<|nope|>", "<|im_end|>"]);
}

#[test]
fn nfc_normalizes_before_encoding() {
    let decomposed = "Cafe\u{301} cre\u{300}me";
    let input = format!("{}\n", serde_json::json!({ "text": decomposed }));
    let raw = tokenize_stdin(&[], input.as_bytes()).ok();
    let nfc = tokenize_stdin(&["--nfc"], input.as_bytes()).ok();
    assert_docs_eq(
        &parse_ids(&raw.stdout),
        &[tok().encode_ordinary(decomposed)],
    );
    assert_docs_eq(
        &parse_ids(&nfc.stdout),
        &[tok().encode_ordinary("Café crème")],
    );
    assert_ne!(raw.stdout, nfc.stdout);
}

#[test]
fn cl100k_base_and_a_custom_ranks_file() {
    let text = "In 2024, 1234567 tokens were counted.";
    let input = format!("{}\n", serde_json::json!({ "text": text }));
    let cl = Tokenizer::cl100k_base().encode_ordinary(text);
    assert_ne!(
        cl,
        tok().encode_ordinary(text),
        "the encodings split digits differently"
    );
    let run = tokenize_stdin(&["--encoding", "cl100k_base"], input.as_bytes()).ok();
    assert_docs_eq(&parse_ids(&run.stdout), std::slice::from_ref(&cl));

    let ranks = root().join("tokenizer/assets/cl100k_base.tiktoken");
    assert!(ranks.is_file());
    let run = tokenize_stdin(
        &[
            "--ranks",
            ranks.to_str().unwrap(),
            "--pattern",
            arcade_tokenizer::CL100K_BASE_PATTERN,
            "--special",
            "<|endoftext|>=100257",
            "--eos",
        ],
        input.as_bytes(),
    )
    .ok();
    let mut want = cl;
    want.push(ENDOFTEXT);
    assert_docs_eq(&parse_ids(&run.stdout), &[want]);
}

#[test]
fn unknown_encoding_is_an_error() {
    let run = tokenize_stdin(&["--encoding", "gpt5"], b"{\"text\":\"x\"}\n").failed();
    assert_contains(
        &run.stderr,
        &["unknown encoding `gpt5`", "arcade100k, cl100k_base"],
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn eos_needs_an_endoftext_token() {
    let ranks = root().join("tokenizer/assets/cl100k_base.tiktoken");
    let run = tokenize_stdin(
        &[
            "--ranks",
            ranks.to_str().unwrap(),
            "--pattern",
            "\\S+|\\s+",
            "--eos",
        ],
        b"{\"text\":\"x\"}\n",
    )
    .failed();
    assert_contains(&run.stderr, &["<|endoftext|>"]);
}

// ---------------------------------------------------------------------------------------------
// bad input

/// (fixture, extra args, what stderr must contain: file and line, and the cause)
const BAD: [(&str, &[&str], &[&str]); 11] = [
    (
        "bad/malformed_json.jsonl",
        &[],
        &["fixtures/bad/malformed_json.jsonl:2:", "malformed JSON"],
    ),
    (
        "bad/missing_field.jsonl",
        &[],
        &[
            "fixtures/bad/missing_field.jsonl:2:",
            "missing field `text`",
            "--field",
        ],
    ),
    (
        "bad/not_a_string.jsonl",
        &[],
        &["fixtures/bad/not_a_string.jsonl:1:", "number"],
    ),
    (
        "bad/invalid_utf8.jsonl",
        &[],
        &[
            "fixtures/bad/invalid_utf8.jsonl:2:",
            "invalid UTF-8",
            "--lossy",
        ],
    ),
    (
        "bad/invalid_utf8.txt",
        &[],
        &["fixtures/bad/invalid_utf8.txt:", "invalid UTF-8", "--lossy"],
    ),
    (
        "bad/truncated.jsonl.gz",
        &[],
        &["fixtures/bad/truncated.jsonl.gz:18:", "gzip", "truncated"],
    ),
    (
        "bad/truncated.jsonl.zst",
        &["--field", "content"],
        &["fixtures/bad/truncated.jsonl.zst:", "zstd", "truncated"],
    ),
    (
        "bad/corrupt.jsonl.gz",
        &[],
        &["fixtures/bad/corrupt.jsonl.gz:"],
    ),
    (
        "bad/truncated.parquet",
        &["--field", "content"],
        &["fixtures/bad/truncated.parquet", "Parquet"],
    ),
    (
        "bad/null_content.parquet",
        &["--field", "content"],
        &["fixtures/bad/null_content.parquet row 2", "null"],
    ),
    (
        "bad/binary_invalid_utf8.parquet",
        &["--field", "content"],
        &[
            "fixtures/bad/binary_invalid_utf8.parquet row 2",
            "invalid UTF-8",
        ],
    ),
];

#[test]
fn each_bad_input_fails_naming_the_file_and_line() {
    for (rel, extra, wanted) in BAD {
        let path = fixture(rel);
        let mut args = vec![path.as_str()];
        args.extend_from_slice(extra);
        let run = tokenize(&args);
        assert_eq!(
            run.code,
            Some(1),
            "{rel}: expected exit 1, stderr:\n{}",
            run.stderr
        );
        assert!(run.stderr.starts_with("error: "), "{rel}: {}", run.stderr);
        for w in wanted {
            assert!(
                run.stderr.contains(w),
                "{rel}: stderr lacks `{w}`:\n{}",
                run.stderr
            );
        }
        assert!(
            run.stderr.contains("--skip-bad"),
            "{rel}: no hint:\n{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("arcade tokenize: done"),
            "{rel}: no summary on failure"
        );
    }
}

#[test]
fn skip_bad_skips_and_counts_by_reason() {
    let path = fixture("bad/malformed_json.jsonl");
    let run = tokenize(&[path.as_str(), "--skip-bad"]).ok();
    assert_eq!(run.summary("documents"), "3");
    assert_eq!(run.summary("skipped"), "4");
    assert_eq!(run.summary("malformed_json"), "4");
    // The good records (lines 1, 3 and 7) are all there, in order.
    let bytes = fixture_bytes("bad/malformed_json.jsonl");
    let lines: Vec<&str> = std::str::from_utf8(&bytes).unwrap().lines().collect();
    let good: Vec<String> = [0, 2, 6]
        .iter()
        .map(|&i| {
            serde_json::from_str::<serde_json::Value>(lines[i]).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_docs_eq(&parse_ids(&run.stdout), &encode_all(&good));
    assert_contains(
        &run.stderr,
        &["warning: skipped fixtures/bad/malformed_json.jsonl:2"],
    );

    // Many kinds at once.
    let inputs = [
        fixture("bad/missing_field.jsonl"),
        fixture("bad/not_a_string.jsonl"),
        fixture("bad/invalid_utf8.jsonl"),
        fixture("bad/truncated.jsonl.gz"),
        fixture("bad/empty.jsonl"),
    ];
    let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();
    args.extend(["--skip-bad", "-f", "count"]);
    let run = tokenize(&args).ok();
    assert_eq!(run.summary("missing_field"), "1");
    assert_eq!(run.summary("not_a_string"), "5");
    assert_eq!(run.summary("invalid_utf8"), "2");
    assert_eq!(run.summary("corrupt_stream"), "1");
    assert_eq!(run.summary("skipped"), "9");
    assert_eq!(run.summary("files"), "5");
    // 4 + 2 + 2 good records, and the 17 lines of the truncated gzip before the damage.
    assert_eq!(run.summary("documents"), "25");
    assert_eq!(run.stdout_str().lines().count(), 25);

    // A damaged Parquet file is skipped whole; the next input is still read.
    let args = [
        fixture("bad/truncated.parquet"),
        fixture("bad/null_content.parquet"),
        "--field".into(),
        "content".into(),
        "--skip-bad".into(),
    ];
    let run = arcade(std::iter::once("tokenize".to_string()).chain(args), None).ok();
    assert_eq!(run.summary("unreadable_file"), "1");
    assert_eq!(run.summary("not_a_string"), "1");
    assert_eq!(run.summary("documents"), "3");
}

#[test]
fn lossy_replaces_invalid_utf8() {
    let path = fixture("bad/invalid_utf8.jsonl");
    let run = tokenize(&[path.as_str(), "--lossy"]).ok();
    let got = parse_ids(&run.stdout);
    assert_eq!(got.len(), 4);
    assert_eq!(got[1], tok().encode_ordinary("caf\u{FFFD} au lait"));
    assert_eq!(run.summary("skipped"), "0");

    let path = fixture("bad/invalid_utf8.txt");
    let run = tokenize(&[path.as_str(), "--lossy", "--lines"]).ok();
    let want: Vec<Vec<u32>> = [
        "valid first line ä",
        "Gr\u{FFFD}\u{FFFD}e aus K\u{FFFD}ln",
        "third line",
    ]
    .iter()
    .map(|l| tok().encode_ordinary(l))
    .collect();
    assert_docs_eq(&parse_ids(&run.stdout), &want);
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let run = tokenize(&["fixtures/does/not/exist.jsonl"]).failed();
    assert_contains(
        &run.stderr,
        &["fixtures/does/not/exist.jsonl", "no such file"],
    );
    let run = tokenize(&["fixtures/multilingual/*.nope"]).failed();
    assert_contains(&run.stderr, &["matched no files"]);
    // Even after good inputs: nothing is processed when one input is missing.
    let good = fixture("multilingual/en.jsonl");
    let run = tokenize(&[good.as_str(), "missing.jsonl"]).failed();
    assert!(run.stdout.is_empty());
}

#[test]
fn a_failed_run_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.bin");
    let path = fixture("bad/malformed_json.jsonl");
    tokenize(&[path.as_str(), "-f", "bin", "-o", out.to_str().unwrap()]).failed();
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file left"
    );
}

#[test]
fn plain_text_on_stdin_gets_a_hint() {
    let run = tokenize_stdin(&[], b"just some text\n").failed();
    assert_contains(&run.stderr, &["<stdin>:1", "--input-format text"]);
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [
        &["--format", "xml"][..],
        &["--no-such-flag"],
        &["--input-format", "csv"],
        &["--lines", "--input-format", "jsonl"],
        &["--id-field", "id", "--format", "bin"],
        &["--ranks", "x.tiktoken"],
        &["--special", "nonsense"],
        &["--threads", "many"],
    ] {
        let run = tokenize_stdin(args, b"");
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("error"), "{args:?}: {}", run.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// reporting

#[test]
fn summary_reports_documents_bytes_tokens_and_speed() {
    let path = fixture("multilingual/de.jsonl");
    let run = tokenize(&[path.as_str(), "-f", "count"]).ok();
    let texts = jsonl_texts("multilingual/de.jsonl");
    let bytes: usize = texts.iter().map(String::len).sum();
    let tokens: usize = encode_all(&texts).iter().map(Vec::len).sum();
    assert!(
        run.stderr.starts_with("arcade tokenize: done\n"),
        "{}",
        run.stderr
    );
    assert_eq!(run.summary("documents"), texts.len().to_string());
    assert_eq!(run.summary("text bytes"), bytes.to_string());
    assert_eq!(run.summary("tokens"), tokens.to_string());
    let ratio: f64 = run.summary("bytes/token").parse().unwrap();
    assert!((ratio - bytes as f64 / tokens as f64).abs() < 0.01);
    assert!(run.summary("throughput").ends_with("MB/s"));
    assert!(run.summary("elapsed").ends_with('s'));
    // Not a terminal: no progress bar escape codes.
    assert!(!run.stderr.contains('\x1b'), "{:?}", run.stderr);
}

#[test]
fn quiet_prints_nothing_on_success() {
    let path = fixture("multilingual/nl.jsonl");
    let run = tokenize(&[path.as_str(), "--quiet"]).ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(!run.stdout.is_empty());
    let bad = fixture("bad/malformed_json.jsonl");
    let run = tokenize(&[bad.as_str(), "--quiet", "--skip-bad"]).ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn an_empty_input_gives_empty_output() {
    let path = fixture("bad/empty.jsonl");
    let run = tokenize(&[path.as_str()]).ok();
    assert!(run.stdout.is_empty());
    assert_eq!(run.summary("documents"), "0");
    assert_eq!(run.summary("bytes/token"), "-");
}

#[test]
fn crlf_bom_and_blank_lines_in_jsonl() {
    let path = fixture("formats/crlf_bom_blank.jsonl");
    let run = tokenize(&[path.as_str()]).ok();
    let bytes = fixture_bytes("formats/crlf_bom_blank.jsonl");
    let text = std::str::from_utf8(&bytes)
        .unwrap()
        .trim_start_matches('\u{feff}');
    let texts: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(texts.len(), 3);
    assert_docs_eq(&parse_ids(&run.stdout), &encode_all(&texts));
    assert_eq!(run.summary("blank lines"), "2");
}
