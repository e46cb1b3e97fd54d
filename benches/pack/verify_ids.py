#!/usr/bin/env python3
"""Checks, before any timing, that every implementation in the pack benchmark emits the same ids.

    python benches/pack/verify_ids.py --input input.jsonl --tokenizer tokenizer.json \\
        --arcade-ids arcade-ids.jsonl [--neox-bin X.bin] [--datatrove-ds X.ds] \\
        [--pack-noshuffle DIR] [--pack-shuffle DIR] [--seq-len 4096] [--stats-out JSON]

1. Per document: the ids of `arcade tokenize --format jsonl` (special-token strings as text)
   equal HF tokenizers' `encode(text).ids` with the converted tokenizer.json
   (encode_special_tokens=True, as the peers are configured). Mismatches are listed by record id.
2. The token stream, documents each followed by <|endoftext|> (100257), equals byte for byte
   the gpt-neox-style .bin (int32) and datatrove's unshuffled .ds (uint32).
3. `arcade pack --no-shuffle`: its shards, concatenated, are the first whole rows of that stream
   (the final partial row is dropped by default), and the manifest's eos id is 100257.
4. `arcade pack` (shuffled): the same multiset of rows as the unshuffled run, in another order.
Exits 1 on the first failed check.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import tokenizers

EOS = 100257


def fail(msg):
    print(f"VERIFY FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def shards(d):
    files = sorted(Path(d).glob("shard-*.bin"))
    files = [f for f in files if not f.name.endswith(".starts.bin")]
    return np.concatenate([np.fromfile(f, dtype="<u4") for f in files]) if files else \
        np.zeros(0, dtype="<u4")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--arcade-ids", required=True)
    ap.add_argument("--neox-bin")
    ap.add_argument("--datatrove-ds")
    ap.add_argument("--pack-noshuffle")
    ap.add_argument("--pack-shuffle")
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--stats-out", help="write the input's documents, text bytes, tokens here")
    a = ap.parse_args()

    records = [json.loads(line) for line in open(a.input, "rb")]
    arcade = [json.loads(line)["ids"] for line in open(a.arcade_ids, "rb")]
    if len(arcade) != len(records):
        fail(f"arcade tokenize gave {len(arcade)} documents, the input has {len(records)}")
    tok = tokenizers.Tokenizer.from_file(a.tokenizer)
    tok.encode_special_tokens = True
    if tok.token_to_id("<|endoftext|>") != EOS:
        fail(f"tokenizer.json maps <|endoftext|> to {tok.token_to_id('<|endoftext|>')}, not {EOS}")
    bad = []
    step = 2000
    for i in range(0, len(records), step):
        chunk = records[i:i + step]
        for j, enc in enumerate(tok.encode_batch([r["text"] for r in chunk],
                                                 add_special_tokens=False)):
            if enc.ids != arcade[i + j]:
                bad.append(chunk[j]["id"])
    if bad:
        fail(f"HF tokenizers and arcade differ on {len(bad)} documents, e.g. {bad[:5]}")
    n_tokens = sum(len(x) for x in arcade)
    print(f"ids ok: arcade tokenize == HF tokenizers on all {len(records)} documents "
          f"({n_tokens} tokens + {len(records)} EOS)", file=sys.stderr)

    if a.stats_out:
        Path(a.stats_out).write_text(json.dumps({
            "documents": len(records), "file_bytes": Path(a.input).stat().st_size,
            "text_bytes": sum(len(r["text"].encode("utf-8")) for r in records),
            "tokens": n_tokens, "tokens_with_eos": n_tokens + len(records)}))
    stream = np.fromiter((t for ids in arcade for t in (*ids, EOS)), dtype="<u4",
                         count=n_tokens + len(arcade))
    digest = hashlib.sha256(stream.tobytes()).hexdigest()
    for name, path, dtype in (("gpt-neox-style .bin", a.neox_bin, "<i4"),
                              ("datatrove .ds", a.datatrove_ds, "<u4")):
        if path:
            got = np.fromfile(path, dtype=dtype).astype("<u4")
            if got.shape != stream.shape or not np.array_equal(got, stream):
                fail(f"{name} ({path}) is not the expected stream")
            print(f"ids ok: {name} == the stream (sha256 {digest[:16]})", file=sys.stderr)
    if a.pack_noshuffle:
        rows = len(stream) // a.seq_len
        got = shards(a.pack_noshuffle)
        if got.shape != (rows * a.seq_len,) or not np.array_equal(got, stream[:rows * a.seq_len]):
            fail(f"arcade pack --no-shuffle ({a.pack_noshuffle}) is not the first {rows} rows "
                 f"of the stream (got {got.size} tokens)")
        eos = json.load(open(Path(a.pack_noshuffle) / "manifest.json"))["tokenizer"]["eos_id"]
        if eos != EOS:
            fail(f"manifest eos_id {eos}")
        print(f"ids ok: arcade pack --no-shuffle == the first {rows} rows of the stream",
              file=sys.stderr)
        if a.pack_shuffle:
            sh = shards(a.pack_shuffle)
            if sh.size != got.size:
                fail(f"shuffled run has {sh.size} tokens, unshuffled {got.size}")
            key = lambda m: sorted(hashlib.sha1(r.tobytes()).digest()  # noqa: E731
                                   for r in m.reshape(-1, a.seq_len))
            if key(sh) != key(got):
                fail("the shuffled run's rows are not the unshuffled run's rows")
            if np.array_equal(sh, got):
                fail("the shuffled run is in input order")
            print("ids ok: arcade pack (shuffled) == the same rows in another order",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
