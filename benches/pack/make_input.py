#!/usr/bin/env python3
"""Deterministic inputs for the `arcade pack` end-to-end benchmark (benches/pack/run.sh).

    python3 benches/pack/make_input.py base [--corpus DIR] [--out /tmp/arcade-pack-bench/input.jsonl]
    python3 benches/pack/make_input.py big  --base FILE --chunk-mb 250 --chunks 8 --out-dir DIR
    python3 benches/pack/make_input.py dense --mb 250 --out FILE

base: one JSONL of {"id", "text"} records from the real corpus, in this order (sorted names):
      web/*.jsonl (field `text`), multilingual/*.jsonl (`text`), code/code_files.jsonl (`content`
      copied to `text`). The text is byte-identical to the source's decoded string. Records whose
      text is not a string (multi_eurlex_parallel.jsonl holds a dict of languages per record) or
      is whitespace only (3 code files of "\n", which `arcade pack` drops as empty while the peers
      would emit them) are left out and counted, so every implementation packs the same documents.
big:  `chunks` files of about `chunk-mb` MB (10^6 bytes) each, made by repeating the base records
      in order; only the `id` gets a global repetition counter ("rep:id"), the text stays as is, so
      no two lines are byte-identical. Runs take the first 1, 2, 4, ... chunks as their input.
dense: about `mb` MB of documents made only of decimal digits (4000 per document, from a seeded
      PRNG). Arcade100k splits digits one by one, so this is one token per input byte, about 3.5x
      the real input's density: the memory check's token-dense case (numeric tables, logs).
Plain stdlib Python; no randomness, so the bytes are the same on every machine with the same corpus.
"""

import argparse
import json
import sys
from pathlib import Path

SOURCES = [("web", "*.jsonl", "text"), ("multilingual", "*.jsonl", "text"),
           ("code", "code_files.jsonl", "content")]


def base(corpus: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    docs = text_bytes = 0
    skipped = {}
    with out.open("w", encoding="utf-8", newline="\n") as w:
        for sub, pattern, field in SOURCES:
            for path in sorted((corpus / sub).glob(pattern)):
                rel = f"{sub}/{path.name}"
                with path.open(encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        if not line.strip():
                            continue
                        text = json.loads(line).get(field)
                        if not isinstance(text, str) or not text.strip():
                            skipped[rel] = skipped.get(rel, 0) + 1
                            continue
                        w.write(json.dumps({"id": f"{rel}:{lineno}", "text": text},
                                           ensure_ascii=False) + "\n")
                        docs += 1
                        text_bytes += len(text.encode("utf-8"))
    print(json.dumps({"file": str(out), "file_bytes": out.stat().st_size, "documents": docs,
                      "text_bytes": text_bytes, "skipped": skipped}))


def big(base_path: Path, out_dir: Path, chunk_bytes: int, chunks: int) -> None:
    # Each base record is (id, pre-serialized text); only the id changes between repetitions.
    records = []
    for line in base_path.open(encoding="utf-8"):
        r = json.loads(line)
        records.append((r["id"], json.dumps(r["text"], ensure_ascii=False),
                        len(r["text"].encode("utf-8"))))
    out_dir.mkdir(parents=True, exist_ok=True)
    rep, i = 0, 0
    for c in range(chunks):
        path = out_dir / f"big-{c:02d}.jsonl"
        size = docs = text_bytes = 0
        with path.open("wb") as w:
            while size < chunk_bytes:
                rid, enc, tb = records[i]
                line = f'{{"id": "{rep}:{rid}", "text": {enc}}}\n'.encode("utf-8")
                w.write(line)
                size += len(line)
                docs += 1
                text_bytes += tb
                i += 1
                if i == len(records):
                    i, rep = 0, rep + 1
        print(json.dumps({"file": str(path), "file_bytes": size, "documents": docs,
                          "text_bytes": text_bytes}))
        sys.stdout.flush()


def dense(out: Path, nbytes: int) -> None:
    import random
    rng = random.Random(1234)
    out.parent.mkdir(parents=True, exist_ok=True)
    size = docs = 0
    with out.open("wb") as w:
        while size < nbytes:
            text = str(rng.getrandbits(13288)).rjust(4000, "0")[:4000]
            line = f'{{"id": "dense:{docs}", "text": "{text}"}}\n'.encode()
            w.write(line)
            size += len(line)
            docs += 1
    print(json.dumps({"file": str(out), "file_bytes": size, "documents": docs,
                      "text_bytes": docs * 4000}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("base")
    b.add_argument("--corpus", type=Path,
                   default=Path(__file__).resolve().parents[3] / "shared/corpus")
    b.add_argument("--out", type=Path, default=Path("/tmp/arcade-pack-bench/input.jsonl"))
    g = sub.add_parser("big")
    g.add_argument("--base", type=Path, default=Path("/tmp/arcade-pack-bench/input.jsonl"))
    g.add_argument("--out-dir", type=Path, default=Path("/tmp/arcade-pack-bench/big"))
    g.add_argument("--chunk-mb", type=float, default=250)
    g.add_argument("--chunks", type=int, default=8)
    d = sub.add_parser("dense")
    d.add_argument("--out", type=Path, default=Path("/tmp/arcade-pack-bench/big/dense.jsonl"))
    d.add_argument("--mb", type=float, default=250)
    a = ap.parse_args()
    if a.cmd == "base":
        base(a.corpus, a.out)
    elif a.cmd == "dense":
        dense(a.out, int(a.mb * 1e6))
    else:
        big(a.base, a.out_dir, int(a.chunk_mb * 1e6), a.chunks)


if __name__ == "__main__":
    main()
