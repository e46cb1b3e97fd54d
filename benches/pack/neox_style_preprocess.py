#!/usr/bin/env python3
"""RE-IMPLEMENTATION (not gpt-neox code) of what gpt-neox's tools/datasets/preprocess_data.py does
for one JSONL input with an HF tokenizer.json, --append-eod, --dataset-impl mmap and --workers 1.

Why a re-implementation: gpt-neox is not on PyPI and its repository cannot be fetched on this
machine, so benches/pack/run.sh cannot run the real script. This file was written from a
description of that script's behaviour, for the pack benchmark (benches/PACK_RESULTS.md):

  * the main process streams the input line by line and json.loads each line, taking the
    `--jsonl-keys` field (default `text`);
  * a multiprocessing.Pool of `--workers` processes (1 here), each with its own tokenizer built in
    the pool initializer, encodes documents via pool.imap(..., chunksize=25): per document
    `Tokenizer.encode(text).ids` (gpt-neox's HFTokenizer.tokenize), then the EOD id
    (token_to_id("<|endoftext|>")) appended when --append-eod;
  * the main process writes each document into a Megatron "MMIDIDX" indexed dataset through numpy:
    `PREFIX_text_document.bin` holds the ids (int32, since the vocabulary exceeds 65500) and
    `PREFIX_text_document.idx` the index: magic b"MMIDIDX\\x00\\x00", version u64 1, dtype code u8,
    number of sequences u64, number of documents u64 (+1), then sizes i32[], byte pointers i64[],
    doc_idx i64[];
  * the sizes list is kept in memory until the index is written at the end.
What it leaves out of the real script: importing gpt-neox/Megatron (and so torch), which is where
much of the real script's startup time and resident memory (~0.9 GB) come from; lm_dataformat
(plain json.loads per line instead); ftfy (off by default there too). So its RSS is a lower bound of
the real script's, and its speed, if anything, an upper bound.

One deliberate setting: `encode_special_tokens = True` on the tokenizer, so that special-token
strings inside documents (one code file in the benchmark input contains "<filename>") are encoded as
text, as arcade does; with the default the ids of that one document would differ. It does not
change the speed measurably.
"""

import argparse
import json
import multiprocessing
import struct
import sys
import time

import numpy as np

DTYPE_CODES = {np.uint8: 1, np.int8: 2, np.int16: 3, np.int32: 4, np.int64: 5,
               np.float64: 6, np.float32: 7, np.uint16: 8}


class Encoder:
    """Per-worker state: the tokenizer, built once in each pool process."""

    def __init__(self, args):
        self.args = args

    def initializer(self):
        from tokenizers import Tokenizer
        Encoder.tokenizer = Tokenizer.from_file(self.args.vocab_file)
        Encoder.tokenizer.encode_special_tokens = True
        Encoder.eod = Encoder.tokenizer.token_to_id("<|endoftext|>")

    def encode(self, text):
        ids = Encoder.tokenizer.encode(text).ids
        if self.args.append_eod:
            ids.append(Encoder.eod)
        return ids, len(text.encode("utf-8"))


def read_texts(paths, key, stats):
    for path in paths:
        with open(path, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                text = json.loads(line)[key]
                stats["docs"] += 1
                yield text


class MMapIndexedDatasetBuilder:
    """Writes a Megatron mmap indexed dataset (.bin + .idx), one document per added item."""

    def __init__(self, bin_path, dtype):
        self.out = open(bin_path, "wb")
        self.dtype = dtype
        self.sizes = []
        self.doc_idx = [0]

    def add_document(self, ids):
        arr = np.array(ids, dtype=self.dtype)
        self.out.write(arr.tobytes(order="C"))
        self.sizes.append(arr.size)
        self.doc_idx.append(len(self.sizes))

    def finalize(self, idx_path):
        self.out.close()
        sizes = np.array(self.sizes, dtype=np.int32)
        pointers = np.zeros(len(sizes), dtype=np.int64)
        if len(sizes) > 1:
            np.cumsum(sizes[:-1].astype(np.int64) * np.dtype(self.dtype).itemsize,
                      out=pointers[1:])
        with open(idx_path, "wb") as f:
            f.write(b"MMIDIDX\x00\x00")
            f.write(struct.pack("<Q", 1))
            f.write(struct.pack("<B", DTYPE_CODES[self.dtype]))
            f.write(struct.pack("<Q", len(sizes)))
            f.write(struct.pack("<Q", len(self.doc_idx)))
            f.write(sizes.tobytes(order="C"))
            f.write(pointers.tobytes(order="C"))
            f.write(np.array(self.doc_idx, dtype=np.int64).tobytes(order="C"))


def main():
    ap = argparse.ArgumentParser(description="gpt-neox preprocess_data.py re-implementation "
                                             "(see the module docstring)")
    ap.add_argument("--input", required=True, help="comma-separated JSONL files")
    ap.add_argument("--jsonl-keys", default="text")
    ap.add_argument("--tokenizer-type", default="HFTokenizer", choices=["HFTokenizer"])
    ap.add_argument("--vocab-file", required=True, help="tokenizer.json")
    ap.add_argument("--append-eod", action="store_true")
    ap.add_argument("--output-prefix", required=True)
    ap.add_argument("--dataset-impl", default="mmap", choices=["mmap"])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--log-interval", type=int, default=100000)
    args = ap.parse_args()

    encoder = Encoder(args)
    encoder.initializer()  # as the real script does, for the vocabulary size
    vocab_size = Encoder.tokenizer.get_vocab_size()
    dtype = np.uint16 if vocab_size < 65500 else np.int32
    prefix = f"{args.output_prefix}_{args.jsonl_keys}_document"
    builder = MMapIndexedDatasetBuilder(prefix + ".bin", dtype)

    stats = {"docs": 0}
    start = time.perf_counter()
    total_bytes = total_tokens = 0
    with multiprocessing.Pool(args.workers, initializer=encoder.initializer) as pool:
        encoded = pool.imap(encoder.encode, read_texts(args.input.split(","), args.jsonl_keys,
                                                         stats), chunksize=25)
        for i, (ids, nbytes) in enumerate(encoded, 1):
            total_bytes += nbytes
            total_tokens += len(ids)
            builder.add_document(ids)
            if i % args.log_interval == 0:
                el = time.perf_counter() - start
                print(f"processed {i} documents ({total_bytes / el / 1e6:.2f} MB/s)",
                      file=sys.stderr)
    builder.finalize(prefix + ".idx")
    el = time.perf_counter() - start
    print(json.dumps({"documents": stats["docs"], "text_bytes": total_bytes,
                      "tokens": total_tokens, "seconds": round(el, 3), "output": prefix}),
          file=sys.stderr)


if __name__ == "__main__":
    main()
