#!/usr/bin/env python3
"""Deterministic input for the `arcade filter` benchmark (benches/filters/run.sh).

    python3 benches/filters/make_input.py [--corpus DIR] [--out /tmp/arcade-filter-bench/input.jsonl]
                                          [--mb 20] [--head N]

One plain JSONL of {"id", "text"} records made from the real web text in
/work/shared/corpus/web: every *.jsonl, *.jsonl.gz and *.json.gz there (sorted names) whose
records have a string `text` field. Files without one are left out and listed; today that is
article_extraction_benchmark_pages.jsonl.gz and trafilatura_cache_pages.jsonl.gz, which hold raw
`html` (plus expected extraction output), not extracted text. The .warc.gz and the .txt file
there are not JSON and are not read. Records whose text is empty or whitespace only are skipped
and counted (27 in the dolma CC-MAIN file).

The base records (931 documents, 3.56 MB of text on the corpus of 2026-11-29) are then repeated
in order until the file reaches --mb MB (10^6 bytes; whole records, so it ends slightly above).
Only the id changes between repetitions ("rep:file:line"); the text is byte-identical to the
source's decoded string. The filters decide per document, so repeating does not change any
decision, and both implementations see exactly the same documents. (datatrove's word splitter
has an lru_cache of 5 texts; a repetition comes back 931 documents later, so it never hits.)
--head N writes only the first N base records once (for a warm-up / smoke run).

Prints one JSON line (and a one-line summary on stderr): file, file_bytes, documents, text_bytes, base_documents, repetitions,
per-source document counts and the files left out. Plain stdlib Python; no randomness.
"""

import argparse
import gzip
import json
import sys
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared/corpus/web"


def read_base(corpus: Path):
    records, used, excluded, skipped = [], {}, {}, {}
    paths = sorted(p for pat in ("*.jsonl", "*.jsonl.gz", "*.json.gz") for p in corpus.glob(pat))
    for path in paths:
        opener = gzip.open if path.name.endswith(".gz") else open
        n = 0
        fields = set()
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                rec = json.loads(line)
                fields.update(rec)
                text = rec.get("text")
                if not isinstance(text, str):
                    continue
                if not text.strip():
                    skipped[path.name] = skipped.get(path.name, 0) + 1
                    continue
                records.append((f"{path.name}:{lineno}", text))
                n += 1
        if n:
            used[path.name] = n
        else:
            excluded[path.name] = f"no string `text` field (fields: {', '.join(sorted(fields))})"
    return records, used, excluded, skipped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--out", type=Path, default=Path("/tmp/arcade-filter-bench/input.jsonl"))
    ap.add_argument("--mb", type=float, default=20.0, help="target file size in MB (10^6 bytes)")
    ap.add_argument("--head", type=int, default=0, help="only the first N base records, once")
    a = ap.parse_args()

    records, used, excluded, skipped = read_base(a.corpus)
    if not records:
        raise SystemExit(f"no records with a `text` field under {a.corpus}")
    # Pre-serialize each text once; only the id changes between repetitions.
    enc = [(rid, json.dumps(t, ensure_ascii=False), len(t.encode("utf-8"))) for rid, t in records]
    if a.head:
        enc = enc[: a.head]
    target = 0 if a.head else int(a.mb * 1e6)

    a.out.parent.mkdir(parents=True, exist_ok=True)
    size = docs = text_bytes = 0
    rep = 0
    with a.out.open("wb") as w:
        while True:
            for rid, t, tb in enc:
                line = f'{{"id": "{rep}:{rid}", "text": {t}}}\n'.encode("utf-8")
                w.write(line)
                size += len(line)
                docs += 1
                text_bytes += tb
                if target and size >= target:
                    break
            rep += 1
            if size >= target:
                break
    print(f"{a.out}: {size / 1e6:.2f} MB, {docs:,} documents, {text_bytes / 1e6:.2f} MB of text "
          f"({len(enc)} base documents x {docs / len(enc):.2f}); files left out: "
          f"{', '.join(excluded) or 'none'}", file=sys.stderr)
    print(json.dumps({"file": str(a.out), "file_bytes": size, "documents": docs,
                      "text_bytes": text_bytes, "base_documents": len(enc),
                      "base_text_bytes": sum(tb for _, _, tb in enc),
                      "repetitions": round(docs / len(enc), 3), "sources": used,
                      "skipped_empty_text": skipped, "excluded_files": excluded}))


if __name__ == "__main__":
    main()
