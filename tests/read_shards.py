#!/usr/bin/env python3
"""Independent check of an arcade output directory, with numpy only.

    python3 tests/read_shards.py OUTDIR --expect-ids EXPECTED.jsonl

OUTDIR is what `arcade pack` wrote (manifest.json plus native shards or a megatron dataset), or
a directory holding only megatron PREFIX.bin + PREFIX.idx files. EXPECTED.jsonl has one
{"ids": [...]} per input document, in input order, as `arcade tokenize --format jsonl` writes
it (without --eos: the end-of-document token is appended here; pass --ids-include-eos if the
ids already end with it).

The files are read the way trainers read them, not through arcade:
* native: numpy.memmap(path, dtype='<u4').reshape(-1, seq_len); starts files as '<u8';
* megatron: the .idx header parsed with struct and its arrays with np.frombuffer exactly as
  gpt-neox's MMapIndexedDataset.Index does; pointers recomputed from the sizes in numpy.

Checks against the expected ids:
* native, not shuffled, single split: the concatenated rows equal the prefix of the expected
  stream (each document + EOD), and every starts file lists exactly the document starts that
  fall inside its shard; shuffled: the rows are a permutation of the expected stream's rows;
* megatron, not shuffled, single split: sequence i == document i + EOD; shuffled: the same
  sequences in some order.
With a validation split the order across splits is the packer's choice, so the content check
compares the union of all splits as a multiset (megatron), or (native) only checks that the
shards hold the expected tokens: every token count at most the input's, and the tokens missing
exactly those of the dropped partial rows (a check also made in every other native case).

Exits 0 when everything matches, 1 with a message on the first mismatch, 2 on usage errors.
"""

import argparse
import json
import os
import struct
import sys
from collections import Counter

import numpy as np

HDR_MAGIC = b"MMIDIDX\x00\x00"
# gpt-neox megatron/data/indexed_dataset.py
DTYPES = {
    1: np.uint8,
    2: np.int8,
    3: np.int16,
    4: np.int32,
    5: np.int64,
    6: np.float64,
    7: np.double,
    8: np.uint16,
}


class Mismatch(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def first_difference(a, b):
    n = min(len(a), len(b))
    diff = np.nonzero(a[:n] != b[:n])[0]
    return int(diff[0]) if len(diff) else n


def load_expected(path, eos, bos, ids_include_eos):
    docs = []
    with open(path, "r", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                ids = json.loads(line)["ids"]
            except (ValueError, KeyError, TypeError) as e:
                raise Mismatch(f"{path}:{line_no}: not a {{\"ids\": [...]}} record ({e})")
            doc = ([bos] if bos is not None else []) + list(ids)
            if not ids_include_eos:
                doc.append(eos)
            docs.append(np.asarray(doc, dtype=np.int64))
    return docs


# ---------------------------------------------------------------- megatron


class MegatronDataset:
    """PREFIX.bin + PREFIX.idx, read as gpt-neox's MMapIndexedDataset reads them."""

    def __init__(self, prefix):
        self.prefix = prefix
        idx_path = prefix + ".idx"
        bin_path = prefix + ".bin"
        idx_size = os.path.getsize(idx_path)
        with open(idx_path, "rb") as stream:
            magic_test = stream.read(9)
            check(magic_test == HDR_MAGIC, f"{idx_path}: magic {magic_test!r}, expected {HDR_MAGIC!r}")
            version = struct.unpack("<Q", stream.read(8))
            check(version == (1,), f"{idx_path}: version {version}, expected (1,)")
            (dtype_code,) = struct.unpack("<B", stream.read(1))
            check(dtype_code in DTYPES, f"{idx_path}: unknown dtype code {dtype_code}")
            self.dtype = DTYPES[dtype_code]
            self.dtype_code = dtype_code
            self.dtype_size = np.dtype(self.dtype).itemsize
            self.len = struct.unpack("<Q", stream.read(8))[0]
            self.doc_count = struct.unpack("<Q", stream.read(8))[0]
            offset = stream.tell()
        check(offset == 34, f"{idx_path}: header is {offset} bytes, expected 34")
        expected_size = offset + self.len * 4 + self.len * 8 + self.doc_count * 8
        check(
            idx_size == expected_size,
            f"{idx_path}: {idx_size} bytes, but N={self.len} and M={self.doc_count} need {expected_size}",
        )
        self._idx_mmap = np.memmap(idx_path, mode="r", order="C")
        buf = memoryview(self._idx_mmap)
        self.sizes = np.frombuffer(buf, dtype=np.int32, count=self.len, offset=offset)
        self.pointers = np.frombuffer(buf, dtype=np.int64, count=self.len, offset=offset + self.sizes.nbytes)
        self.doc_idx = np.frombuffer(
            buf,
            dtype=np.int64,
            count=self.doc_count,
            offset=offset + self.sizes.nbytes + self.pointers.nbytes,
        )

        # Independent pointer computation: running sum of size * itemsize, starting at 0.
        check(bool((self.sizes >= 0).all()), f"{idx_path}: negative sizes")
        expected_pointers = np.zeros(self.len, dtype=np.int64)
        if self.len > 1:
            expected_pointers[1:] = np.cumsum(self.sizes[:-1].astype(np.int64)) * self.dtype_size
        if not np.array_equal(self.pointers, expected_pointers):
            i = first_difference(self.pointers, expected_pointers)
            raise Mismatch(
                f"{idx_path}: pointer {i} is {int(self.pointers[i])}, the sizes give {int(expected_pointers[i])}"
            )
        total_bytes = int(self.sizes.astype(np.int64).sum()) * self.dtype_size
        bin_size = os.path.getsize(bin_path)
        check(bin_size == total_bytes, f"{bin_path}: {bin_size} bytes, the index describes {total_bytes}")
        check(self.doc_count >= 1 and int(self.doc_idx[0]) == 0, f"{idx_path}: doc_idx does not start with 0")
        check(bool((np.diff(self.doc_idx) >= 0).all()), f"{idx_path}: doc_idx is not non-decreasing")
        check(int(self.doc_idx[-1]) == self.len, f"{idx_path}: doc_idx ends at {int(self.doc_idx[-1])}, not N={self.len}")

        if bin_size:
            self._bin_mmap = np.memmap(bin_path, mode="r", order="C")
            self._bin = memoryview(self._bin_mmap)
        else:  # numpy cannot map an empty file
            self._bin = memoryview(b"")

    def __len__(self):
        return self.len

    def __getitem__(self, i):
        return np.frombuffer(self._bin, dtype=self.dtype, count=int(self.sizes[i]), offset=int(self.pointers[i]))


def check_megatron(prefixes_by_split, docs, shuffled, single_split):
    datasets = {split: [MegatronDataset(p) for p in prefixes] for split, prefixes in prefixes_by_split.items()}
    sequences = [(split, ds, i) for split, dss in datasets.items() for ds in dss for i in range(len(ds))]
    check(
        len(sequences) == len(docs),
        f"megatron: {len(sequences)} sequences in all, but {len(docs)} expected documents",
    )
    for dss in datasets.values():
        for ds in dss:
            check(
                np.array_equal(ds.doc_idx, np.arange(len(ds) + 1)),
                f"{ds.prefix}.idx: doc_idx is not 0..N (one sequence per document)",
            )
    if single_split and not shuffled:
        for k, (split, ds, i) in enumerate(sequences):
            got = ds[i].astype(np.int64)
            if not np.array_equal(got, docs[k]):
                j = first_difference(got, docs[k])
                raise Mismatch(
                    f"{ds.prefix}: sequence {i} (document {k}) differs at token {j}: "
                    f"{got[j:j + 8].tolist()} vs expected {docs[k][j:j + 8].tolist()} "
                    f"(lengths {len(got)} and {len(docs[k])})"
                )
        mode = "sequence i == document i + EOD"
    else:
        got = Counter(ds[i].astype(np.int64).tobytes() for _, ds, i in sequences)
        want = Counter(d.tobytes() for d in docs)
        check(got == want, "megatron: the sequences are not the expected documents (compared as a multiset)")
        mode = "same documents as a multiset (shuffled or split)"
    tokens = sum(int(ds.sizes.astype(np.int64).sum()) for dss in datasets.values() for ds in dss)
    return f"megatron: {len(sequences)} sequences, {tokens} tokens; {mode}"


# ---------------------------------------------------------------- native


def check_native(outdir, manifest, docs):
    seq_len = manifest["seq_len"]
    splits = manifest["splits"]
    stream = np.concatenate(docs) if docs else np.zeros(0, dtype=np.int64)
    doc_starts = np.cumsum([0] + [len(d) for d in docs[:-1]]) if docs else np.zeros(0, dtype=np.int64)
    single_split = list(splits) == ["train"]
    shuffled = manifest["shuffled"]
    eos = manifest["tokenizer"]["eos_id"]
    notes = []
    vocab = max(int(manifest["tokenizer"]["vocab_size"]), int(stream.max()) + 1 if len(stream) else 0)
    got_counts = np.zeros(vocab, dtype=np.int64)
    dropped_total = 0
    padding_total = 0
    for split_name, split in splits.items():
        split_dir = os.path.join(outdir, split["dir"]) if split["dir"] else outdir
        rows_all = []
        starts_all = []  # global offsets within the split's concatenated rows
        base = 0
        for shard in split["shards"]:
            path = os.path.join(split_dir, shard["file"])
            size = os.path.getsize(path)
            check(size == shard["bytes"], f"{path}: {size} bytes, manifest says {shard['bytes']}")
            check(size % (seq_len * 4) == 0, f"{path}: {size} bytes is not a whole number of rows")
            rows = np.memmap(path, dtype="<u4", mode="r").reshape(-1, seq_len) if size else np.zeros((0, seq_len), "<u4")
            check(rows.shape[0] == shard["sequences"], f"{path}: {rows.shape[0]} rows, manifest says {shard['sequences']}")
            rows_all.append(rows)
            companion = shard.get("companion")
            check(companion is not None, f"{path}: no starts file in the manifest")
            spath = os.path.join(split_dir, companion["file"])
            ssize = os.path.getsize(spath)
            starts = np.memmap(spath, dtype="<u8", mode="r") if ssize else np.zeros(0, "<u8")
            ntok = rows.shape[0] * seq_len
            check(bool((starts < ntok).all()), f"{spath}: a start is past the shard's {ntok} tokens")
            check(bool((np.diff(starts.astype(np.int64)) > 0).all()), f"{spath}: starts are not strictly increasing")
            starts_all.append(starts.astype(np.int64) + base)
            base += ntok
        rows = np.concatenate(rows_all) if rows_all else np.zeros((0, seq_len), "<u4")
        flat = rows.reshape(-1).astype(np.int64)
        starts = np.concatenate(starts_all) if starts_all else np.zeros(0, np.int64)
        check(
            len(flat) == 0 or int(flat.max()) < vocab,
            f"native: split {split_name} holds token id {int(flat.max()) if len(flat) else 0}, outside the vocabulary",
        )
        got_counts += np.bincount(flat, minlength=vocab)
        partial = int(split.get("partial_row_tokens", 0))
        if split.get("partial_row") == "padded" and partial > 0:
            padding_total += seq_len - partial
        else:
            dropped_total += partial

        if not single_split:
            notes.append(f"{split_name}: {rows.shape[0]} rows (row order not checked: the split assignment is the packer's)")
            continue
        padded = split.get("partial_row") == "padded" and split.get("partial_row_tokens", 0) > 0
        real = len(flat) - (seq_len - split["partial_row_tokens"] if padded else 0)
        check(
            real <= len(stream),
            f"native: {real} tokens of data but the expected documents have only {len(stream)}",
        )
        check(
            len(stream) - real < seq_len or padded,
            f"native: {len(stream)} expected tokens but only {real} packed: more than a row's worth is missing",
        )
        if not shuffled:
            if not np.array_equal(flat[:real], stream[:real]):
                j = first_difference(flat[:real], stream[:real])
                raise Mismatch(
                    f"native: the concatenated rows differ from the expected ids at token {j} "
                    f"(row {j // seq_len}, column {j % seq_len}): {flat[j:j + 8].tolist()} vs "
                    f"{stream[j:j + 8].tolist()}"
                )
            want = doc_starts[doc_starts < real]
            if not np.array_equal(starts, want):
                extra = sorted(set(starts.tolist()) - set(want.tolist()))[:5]
                missing = sorted(set(want.tolist()) - set(starts.tolist()))[:5]
                raise Mismatch(
                    f"native: the starts files do not list the document starts: "
                    f"listed but not a start {extra}, starts not listed {missing} (split offsets)"
                )
            notes.append(f"{split_name}: {rows.shape[0]} rows == expected stream prefix; {len(starts)} starts match")
        else:
            full = real // seq_len
            want_rows = Counter(stream[i * seq_len:(i + 1) * seq_len].tobytes() for i in range(full))
            got_rows = Counter(flat[i * seq_len:(i + 1) * seq_len].tobytes() for i in range(full))
            check(got_rows == want_rows, "native: the shuffled rows are not a permutation of the expected rows")
            notes.append(f"{split_name}: {rows.shape[0]} rows are a permutation of the expected rows")
    # Whatever the order and the split assignment: every packed token is an input token, and
    # the only tokens missing are those of the dropped partial rows (padding is EOD tokens).
    want_counts = np.bincount(stream, minlength=vocab)
    check(got_counts[eos] >= padding_total, f"native: fewer EOD tokens than the {padding_total} of padding")
    got_counts[eos] -= padding_total
    excess = np.nonzero(got_counts > want_counts)[0]
    if len(excess):
        t = int(excess[0])
        raise Mismatch(
            f"native: token {t} occurs {int(got_counts[t])} times in the shards but {int(want_counts[t])} "
            f"times in the expected documents (each + EOD)"
        )
    missing = int(want_counts.sum() - got_counts.sum())
    check(
        missing == dropped_total,
        f"native: {missing} expected tokens are not in the shards, but the dropped partial rows "
        f"account for {dropped_total}",
    )
    notes.append(f"token counts match ({dropped_total} tokens in dropped partial rows)")
    return "native: " + "; ".join(notes)


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--expect-ids", required=True, metavar="EXPECTED.jsonl")
    ap.add_argument("--eos", type=int, default=None, help="end-of-document id (default: the manifest's, else 100257)")
    ap.add_argument("--ids-include-eos", action="store_true", help="the expected ids already end with the EOD token")
    args = ap.parse_args()

    outdir = args.outdir
    if not os.path.isdir(outdir):
        print(f"read_shards: {outdir} is not a directory", file=sys.stderr)
        return 2
    manifest_path = os.path.join(outdir, "manifest.json")
    manifest = None
    if os.path.exists(manifest_path):
        with open(manifest_path, "r", encoding="utf-8") as f:
            manifest = json.load(f)
    eos = args.eos
    bos = None
    if manifest is not None:
        tok = manifest["tokenizer"]
        if eos is None:
            eos = tok["eos_id"]
        bos = tok.get("bos_id")
    if eos is None:
        eos = 100257

    try:
        docs = load_expected(args.expect_ids, eos, bos, args.ids_include_eos)
        if manifest is None:
            prefixes = sorted(
                os.path.join(outdir, name[: -len(".idx")]) for name in os.listdir(outdir) if name.endswith(".idx")
            )
            check(prefixes, f"{outdir}: no manifest.json and no megatron .idx files")
            summary = check_megatron({"": prefixes}, docs, shuffled=False, single_split=True)
        elif manifest["layout"] == "megatron":
            prefixes_by_split = {}
            for name, split in manifest["splits"].items():
                split_dir = os.path.join(outdir, split["dir"]) if split["dir"] else outdir
                prefixes_by_split[name] = [
                    os.path.join(split_dir, shard["file"][: -len(".bin")]) for shard in split["shards"]
                ]
            summary = check_megatron(
                prefixes_by_split, docs, manifest["shuffled"], single_split=list(manifest["splits"]) == ["train"]
            )
        elif manifest["layout"] == "native":
            summary = check_native(outdir, manifest, docs)
        else:
            raise Mismatch(f"{manifest_path}: unknown layout {manifest['layout']!r}")
    except Mismatch as e:
        print(f"read_shards: MISMATCH: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"read_shards: cannot read: {e}", file=sys.stderr)
        return 1
    print(f"read_shards: OK: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
