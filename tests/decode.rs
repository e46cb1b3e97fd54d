//! End-to-end tests of `arcade decode`, mostly as the inverse of `arcade tokenize`: the real
//! binary on fixtures and on small inputs made in temp dirs.

use std::io::Write;
use std::path::{Path, PathBuf};

use arcade_tokenizer::{Tokenizer, ENDOFTEXT};

mod common;
use common::{arcade, assert_contains, fixture, fixture_bytes, jsonl_texts, Run};

// ---------------------------------------------------------------------------------------------
// helpers

/// Each document followed by `separator`.
fn terminated(docs: &[String], separator: &str) -> Vec<u8> {
    docs.iter()
        .flat_map(|d| [d.as_str(), separator])
        .collect::<String>()
        .into_bytes()
}

/// Tokenizes `input` into `dir/name` with the given extra arguments; returns the path.
fn tokenize_to(dir: &Path, name: &str, input: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec!["tokenize", input, "-q", "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    arcade(&args, None).ok();
    out
}

fn decode(args: &[&str]) -> Run {
    let mut all = vec!["decode"];
    all.extend_from_slice(args);
    arcade(&all, None)
}

fn assert_bytes_eq(got: &[u8], want: &[u8]) {
    if got != want {
        let at = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "outputs differ at byte {at} (lengths {} and {}): {:?} vs {:?}",
            got.len(),
            want.len(),
            String::from_utf8_lossy(&got[at.saturating_sub(20)..(at + 20).min(got.len())]),
            String::from_utf8_lossy(&want[at.saturating_sub(20)..(at + 20).min(want.len())]),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// round trips

#[test]
fn round_trip_through_ids() {
    let dir = tempfile::tempdir().unwrap();
    for rel in [
        "multilingual/ja.jsonl",
        "web/dolma_cc_en_head-0091.jsonl",
        "multilingual/ar.jsonl",
    ] {
        let ids = tokenize_to(dir.path(), "t.ids", &fixture(rel), &["-f", "ids"]);
        let run = decode(&[ids.to_str().unwrap()]).ok();
        assert_bytes_eq(&run.stdout, &terminated(&jsonl_texts(rel), "\n"));
    }
}

#[test]
fn round_trip_through_jsonl_with_ids() {
    let dir = tempfile::tempdir().unwrap();
    let rel = "web/dolma_cc2019_head.jsonl";
    let out = tokenize_to(
        dir.path(),
        "t.jsonl",
        &fixture(rel),
        &["-f", "jsonl", "--id-field", "id"],
    );
    let run = decode(&[out.to_str().unwrap()]).ok();
    assert_bytes_eq(&run.stdout, &terminated(&jsonl_texts(rel), "\n"));
    assert!(
        run.stderr.contains("jsonl"),
        "the summary names the detected format"
    );
}

#[test]
fn round_trip_through_bin() {
    let dir = tempfile::tempdir().unwrap();
    // A plain-text file is one document: the bin stream decodes to the exact file.
    let rel = "text/wiki_demo_head.txt";
    let out = tokenize_to(dir.path(), "wiki.bin", &fixture(rel), &["-f", "bin"]);
    let run = decode(&[out.to_str().unwrap()]).ok();
    assert_bytes_eq(&run.stdout, &fixture_bytes(rel));

    // Many documents with --eos come apart again with --split-eos.
    let rel = "multilingual/hi.jsonl";
    let out = tokenize_to(dir.path(), "hi.bin", &fixture(rel), &["-f", "bin", "--eos"]);
    let texts = jsonl_texts(rel);
    let run = decode(&[out.to_str().unwrap(), "--split-eos"]).ok();
    assert_bytes_eq(&run.stdout, &terminated(&texts, "\n"));
    // Without --split-eos the boundaries are the <|endoftext|> tokens themselves.
    let run = decode(&[out.to_str().unwrap()]).ok();
    assert_bytes_eq(&run.stdout, &terminated(&texts, "<|endoftext|>"));
}

#[test]
fn round_trip_of_a_line_file_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("lines.txt");
    let text = "first line\n\n  indented <|endoftext|> literal\nünïcödé 12345 ☃\n\tlast\n";
    std::fs::write(&input, text).unwrap();
    for format in ["ids", "jsonl"] {
        let out = tokenize_to(
            dir.path(),
            &format!("out.{format}"),
            input.to_str().unwrap(),
            &["--lines", "-f", format],
        );
        let run = decode(&[out.to_str().unwrap()]).ok();
        assert_bytes_eq(&run.stdout, text.as_bytes());
    }
    let out = tokenize_to(
        dir.path(),
        "out.bin",
        input.to_str().unwrap(),
        &["--lines", "-f", "bin", "--eos"],
    );
    let run = decode(&[out.to_str().unwrap(), "--split-eos"]).ok();
    assert_bytes_eq(&run.stdout, text.as_bytes());
    // The literal "<|endoftext|>" in the text was encoded as plain text, so it survives
    // --split-eos, which only splits at the special token.
    assert!(String::from_utf8(run.stdout)
        .unwrap()
        .contains("indented <|endoftext|> literal"));
}

#[test]
fn tokenize_piped_into_decode() {
    let texts = jsonl_texts("multilingual/zh.jsonl");
    let tokenized = arcade(["tokenize", &fixture("multilingual/zh.jsonl"), "-q"], None).ok();
    let run = arcade(["decode"], Some(&tokenized.stdout)).ok();
    assert_bytes_eq(&run.stdout, &terminated(&texts, "\n"));
    let run = arcade(["decode", "-"], Some(&tokenized.stdout)).ok();
    assert_bytes_eq(&run.stdout, &terminated(&texts, "\n"));
}

// ---------------------------------------------------------------------------------------------
// formats and options

#[test]
fn format_follows_the_extension_unless_given() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::arcade100k();
    let ids = tok.encode_ordinary("hello world");
    let bin: Vec<u8> = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
    let odd = dir.path().join("ids.dat");
    std::fs::write(&odd, &bin).unwrap();
    // Not named .bin: read as text ids, which it is not.
    decode(&[odd.to_str().unwrap()]).failed();
    let run = decode(&[odd.to_str().unwrap(), "--format", "bin"]).ok();
    assert_eq!(run.stdout, b"hello world");
    let named = dir.path().join("x.bin");
    std::fs::write(&named, &bin).unwrap();
    assert_eq!(
        decode(&[named.to_str().unwrap()]).ok().stdout,
        b"hello world"
    );
    // A .jsonl name picks jsonl.
    let jsonl = dir.path().join("x.jsonl");
    std::fs::write(&jsonl, format!("{{\"ids\":{ids:?}}}\n")).unwrap();
    assert_eq!(
        decode(&[jsonl.to_str().unwrap()]).ok().stdout,
        b"hello world\n"
    );
}

#[test]
fn separator_and_special_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.ids");
    let tok = Tokenizer::arcade100k();
    let a = tok.encode_ordinary("alpha");
    let b = tok.encode_ordinary("beta");
    let line = |ids: &[u32]| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
    let mut eos_line = a.clone();
    eos_line.push(ENDOFTEXT);
    eos_line.extend(&b);
    std::fs::write(
        &file,
        format!("{}\n{}\n\n{}\n", line(&a), line(&eos_line), line(&b)),
    )
    .unwrap();
    let p = file.to_str().unwrap();
    let run = decode(&[p, "--separator", "\\n--\\n"]).ok();
    assert_eq!(
        String::from_utf8(run.stdout).unwrap(),
        "alpha\n--\nalpha<|endoftext|>beta\n--\n\n--\nbeta\n--\n"
    );
    let run = decode(&[p, "--split-eos", "--separator", "|"]).ok();
    assert_eq!(
        String::from_utf8(run.stdout).unwrap(),
        "alpha|alpha|beta||beta|"
    );
}

#[test]
fn compressed_id_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let rel = "multilingual/ko.jsonl";
    let ids = arcade(["tokenize", &fixture(rel), "-q"], None).ok().stdout;
    let gz = dir.path().join("t.ids.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&ids).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let run = decode(&[gz.to_str().unwrap()]).ok();
    assert_bytes_eq(&run.stdout, &terminated(&jsonl_texts(rel), "\n"));
    let zst = dir.path().join("t.ids.zst");
    std::fs::write(&zst, zstd::encode_all(&ids[..], 3).unwrap()).unwrap();
    let run = decode(&[zst.to_str().unwrap()]).ok();
    assert_bytes_eq(&run.stdout, &terminated(&jsonl_texts(rel), "\n"));
}

#[test]
fn other_encodings_decode_their_own_ids() {
    let tok = Tokenizer::cl100k_base();
    let ids = tok.encode_ordinary("In 2024, 1234567 tokens");
    let input = format!(
        "{}\n",
        ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
    );
    let run = arcade(
        ["decode", "--encoding", "cl100k_base"],
        Some(input.as_bytes()),
    )
    .ok();
    assert_eq!(run.stdout, b"In 2024, 1234567 tokens\n");
    let run = arcade(["decode", "--encoding", "nope"], Some(input.as_bytes())).failed();
    assert_contains(&run.stderr, &["unknown encoding `nope`"]);
}

#[test]
fn output_file_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("text.txt");
    let input = b"9906 1917\n";
    let run = arcade(["decode", "-o", out.to_str().unwrap()], Some(input)).ok();
    assert!(run.stdout.is_empty());
    assert_eq!(std::fs::read(&out).unwrap(), b"Hello world\n");
    assert!(
        run.stderr.starts_with("arcade decode: done"),
        "{}",
        run.stderr
    );
    assert_contains(&run.stderr, &["documents"]);
    let quiet = arcade(["decode", "-q"], Some(input)).ok();
    assert!(quiet.stderr.is_empty());
}

// ---------------------------------------------------------------------------------------------
// errors

#[test]
fn an_unknown_id_names_line_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.ids");
    std::fs::write(&file, "9906 1917\n9906 999999 1917\n").unwrap();
    let run = decode(&[file.to_str().unwrap()]).failed();
    assert_contains(
        &run.stderr,
        &["bad.ids:2:", "999999", "token 2 of the line"],
    );
    // The documents before the bad line were written.
    assert_eq!(run.stdout, b"Hello world\n");

    let jsonl = dir.path().join("bad.jsonl");
    std::fs::write(&jsonl, "{\"ids\":[1]}\n{\"ids\":[1,2,100300]}\n").unwrap();
    let run = decode(&[jsonl.to_str().unwrap()]).failed();
    assert_contains(&run.stderr, &["bad.jsonl:2:", "token 3 of the line"]);

    let bin = dir.path().join("bad.bin");
    let ids: [u32; 4] = [9906, 1917, 0xFFFF_FFFF, 1];
    std::fs::write(
        &bin,
        ids.iter()
            .flat_map(|id| id.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let run = decode(&[bin.to_str().unwrap()]).failed();
    assert_contains(&run.stderr, &["bad.bin", "at token 2 (byte offset 8)"]);
    // With --split-eos the position is still counted from the start of the file.
    let run = decode(&[bin.to_str().unwrap(), "--split-eos"]).failed();
    assert_contains(&run.stderr, &["at token 2 (byte offset 8)"]);
}

#[test]
fn malformed_id_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("x.txt");
    std::fs::write(&ids, "1 2 3\n4 five 6\n").unwrap();
    let run = decode(&[ids.to_str().unwrap()]).failed();
    assert_contains(&run.stderr, &["x.txt:2:", "`five`"]);

    let jsonl = dir.path().join("x.jsonl");
    std::fs::write(&jsonl, "{\"ids\":[1]}\n{\"text\":\"no ids\"}\n").unwrap();
    let run = decode(&[jsonl.to_str().unwrap()]).failed();
    assert_contains(&run.stderr, &["x.jsonl:2:", "ids"]);

    let bin = dir.path().join("x.bin");
    std::fs::write(&bin, [1u8, 0, 0, 0, 2, 0]).unwrap();
    let run = decode(&[bin.to_str().unwrap()]).failed();
    assert_contains(&run.stderr, &["x.bin", "4 bytes per token"]);
    // A failed decode into a file leaves no file.
    let out = dir.path().join("out.txt");
    decode(&[bin.to_str().unwrap(), "-o", out.to_str().unwrap()]).failed();
    assert!(!out.exists());
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let run = decode(&["no/such/tokens.bin"]).failed();
    assert_contains(&run.stderr, &["no/such/tokens.bin", "no such file"]);
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [&["--format", "xml"][..], &["--bogus"], &["a", "b"]] {
        let run = decode(args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
    }
}
