#!/usr/bin/env python3
"""Single-thread throughput of arcade against Python peers on the same mixed corpus file.

    python3 -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install -r benches/requirements-peers.txt
    /tmp/peers-venv/bin/python benches/peers.py [--rounds 2] [--reps 3] [--mixed-mb MB]

Peers, all configured as Arcade100k (cl100k ranks from tokenizer/assets, the Arcade100k pattern):
  tiktoken     tiktoken.Encoding(pat_str, mergeable_ranks from load_tiktoken_bpe, 32 specials);
               encode_ordinary per document. The reference: every other peer's ids must equal its.
  tokenizers   HF tokenizers, from a tokenizer.json built below from the same ranks (the same
               conversion as benches/hf_tokenizers.rs); encode_batch(add_special_tokens=False,
               encode_special_tokens=True) so that special-token strings are text.
  gigatoken    Tokenizer.from_tiktoken(pretokenizer="qwen2": Qwen2's split pattern, which is the
               Arcade100k pattern verbatim) with no special tokens, since its batch encode would
               otherwise split them out; encode_batch(parallel=False).
arcade is timed by `cargo bench -p arcade-tokenizer --bench throughput -- FILE REPS`, once per
round, interleaved with the peers. "cold" is each implementation's first pass with a fresh instance
(arcade, HF and gigatoken cache pieces/words; tiktoken does not); "warm" the best of REPS passes
after it. Speeds are per CPU second (the machine is shared; wall-clock time would count the time
a process spends preempted). Everything runs on one CPU (sched_setaffinity; also RAYON_NUM_THREADS,
TOKENIZERS_PARALLELISM, parallel=False), and cpu/wall is printed to show it held.
"""

import argparse
import array
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# Before the peers are imported: their thread pools read these once. HF tokenizers 1.0 sizes its
# pool from the CPUs it may run on and ignores both variables, so the process (and the arcade
# subprocess) is also pinned to one CPU.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import gigatoken  # noqa: E402
import tiktoken  # noqa: E402
import tokenizers  # noqa: E402
from tiktoken.load import load_tiktoken_bpe  # noqa: E402

WORKSPACE = Path(__file__).resolve().parent.parent
RANKS = WORKSPACE / "tokenizer/assets/cl100k_base.tiktoken"
LANGS = "en de es fr it nl pt zh ja ru ar hi ko".split()
# arcade_tokenizer::ARCADE100K_PATTERN and ARCADE100K_SPECIALS (ids from 100257).
PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
           r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
            "<gh_stars>", "<filename>", "<issue_start>", "<issue_comment>", "<issue_closed>",
            "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>",
            "<empty_output>", "<commit_before>", "<commit_msg>", "<commit_after>", "<reponame>",
            "<|endofprompt|>", "<|im_start|>", "<|im_end|>", "<|pause|>"] + \
           [f"<|reg{i}|>" for i in range(8)] + ["<|extra0|>"]
SPECIAL_IDS = {s: 100257 + i for i, s in enumerate(SPECIALS)}


def corpus_docs(mixed_mb):
    """The "mixed" subset of benches/common/mod.rs: languages, code, web, in that order."""
    root = WORKSPACE.parent / "shared/corpus"
    if not root.is_dir():
        print(f"NOTICE: {root} not found; using fixtures/", file=sys.stderr)
        root = WORKSPACE / "fixtures"

    def jsonl(paths, field):
        docs = []
        for p in paths:
            for line in p.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    v = json.loads(line).get(field)
                    if isinstance(v, str) and v:
                        docs.append(v)
        return docs

    subsets = [jsonl([root / f"multilingual/{lang}.jsonl"], "text") for lang in LANGS]
    subsets.append(jsonl(sorted((root / "code").glob("*.jsonl")), "content"))
    subsets.append(jsonl(sorted((root / "web").glob("*.jsonl")), "text"))
    size = lambda docs: sum(len(d.encode()) for d in docs)  # noqa: E731
    total = sum(size(s) for s in subsets)
    share = min(1.0, mixed_mb * 1e6 / total) if mixed_mb else 1.0
    mixed = []
    for s in subsets:
        budget, taken = int(size(s) * share), 0
        for d in s:
            n = len(d.encode())
            if taken > 0 and taken + n > budget:
                break
            taken += n
            mixed.append(d)
    return mixed


def hf_tokenizer_json(ranks):
    """Arcade100k as a version-1.0 tokenizer.json, converted as in benches/hf_tokenizers.rs."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    extra = [b for b in range(256) if b not in printable]
    table = {b: chr(b) for b in printable} | {b: chr(0x100 + i) for i, b in enumerate(extra)}
    spell = lambda bs: "".join(table[b] for b in bs)  # noqa: E731

    def last_merge(token, rank):
        parts = [token[i:i + 1] for i in range(len(token))]
        while True:
            pairs = [(ranks.get(parts[i] + parts[i + 1], rank), i) for i in range(len(parts) - 1)]
            r, i = min(pairs)
            if r >= rank:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        assert len(parts) == 2, (token, rank, parts)
        return parts

    by_rank = sorted(ranks.items(), key=lambda kv: kv[1])
    merges = [[spell(p) for p in last_merge(t, r)] for t, r in by_rank if len(t) > 1]
    return json.dumps({
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for s, i in SPECIAL_IDS.items()],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PATTERN}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  # Specials in the vocab too, or HF renumbers them from 100256 (see the .rs).
                  "vocab": {spell(t): r for t, r in by_rank} | SPECIAL_IDS, "merges": merges},
    })


class Peer:
    """make() -> a new instance; encode(inst, docs) is what is timed (its native batch output);
    ids(inst, docs) -> a list of id lists, for the check against tiktoken."""

    def __init__(self, name, config, make, encode, ids):
        self.name, self.config, self.make, self.encode, self.ids = name, config, make, encode, ids


def peers(ranks, hf_json_path):
    tk = lambda: tiktoken.Encoding("arcade100k", pat_str=PATTERN, mergeable_ranks=ranks,  # noqa: E731
                                   special_tokens=SPECIAL_IDS)
    tk_encode = lambda e, docs: [e.encode_ordinary(d) for d in docs]  # noqa: E731
    hf_encode = lambda t, docs: t.encode_batch(  # noqa: E731
        docs, add_special_tokens=False, encode_special_tokens=True)
    gt = lambda: gigatoken.Tokenizer.from_tiktoken(str(RANKS), pretokenizer="qwen2",  # noqa: E731
                                                   special_tokens={})
    return [
        Peer(f"tiktoken {tiktoken.__version__}", "Arcade100k (Encoding)", tk, tk_encode, tk_encode),
        Peer(f"tokenizers {tokenizers.__version__}", "Arcade100k (tokenizer.json from ranks)",
             lambda: tokenizers.Tokenizer.from_file(str(hf_json_path)), hf_encode,
             lambda t, docs: [e.ids for e in hf_encode(t, docs)]),
        Peer(f"gigatoken {gigatoken_version()}", "Arcade100k (from_tiktoken, qwen2 pattern)", gt,
             lambda g, docs: g.encode_batch(docs, parallel=False),
             lambda g, docs: g.encode_batch_list(docs, parallel=False)),
    ]


def gigatoken_version():
    from importlib.metadata import version
    return version("gigatoken")


def ids_sha256(all_ids):
    h = hashlib.sha256()
    for ids in all_ids:
        h.update(array.array("I", ids).tobytes())  # u32, little-endian on this machine
    return h.hexdigest()


def timed(fn):
    """[wall seconds, process CPU seconds] of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return [time.perf_counter() - wall, time.process_time() - cpu]


def run_arcade(path, reps):
    cmd = ["cargo", "bench", "-q", "-p", "arcade-tokenizer", "--bench", "throughput", "--",
           str(path), str(reps)]
    out = subprocess.run(cmd, cwd=WORKSPACE, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mixed-mb", type=float, default=None)
    args = ap.parse_args()

    docs = corpus_docs(args.mixed_mb)
    nbytes = sum(len(d.encode()) for d in docs)
    path = Path("/tmp/arcade-bench-mixed.jsonl")
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    print(f"mixed: {len(docs)} docs, {nbytes / 1e6:.2f} MB -> {path}", file=sys.stderr)

    ranks = load_tiktoken_bpe(str(RANKS))
    hf_json = Path("/tmp/arcade100k-hf-tokenizer.py.json")
    hf_json.write_text(hf_tokenizer_json(ranks), encoding="utf-8")
    all_peers = peers(ranks, hf_json)

    # Correctness first: every peer, and arcade, against tiktoken, document by document.
    reference = all_peers[0].ids(all_peers[0].make(), docs)
    for p in all_peers[1:]:
        got = p.ids(p.make(), docs)
        bad = [i for i, (a, b) in enumerate(zip(got, reference)) if list(a) != list(b)]
        assert not bad and len(got) == len(reference), f"{p.name}: ids differ on docs {bad[:10]}"
        print(f"ids ok: {p.name} == tiktoken on all {len(docs)} docs", file=sys.stderr)
    arcade = run_arcade(path, 1)
    assert arcade["ids_sha256"] == ids_sha256(reference), "arcade: ids differ from tiktoken"
    print("ids ok: arcade == tiktoken (sha256 of all ids)", file=sys.stderr)

    rows = []  # (round, name, config, cold [wall, cpu], best warm [wall, cpu])
    for rnd in range(1, args.rounds + 1):
        a = run_arcade(path, args.reps)
        rows.append((rnd, "arcade (Rust, this crate)", "Arcade100k", a["cold"],
                     min(a["warm"], key=lambda t: t[1])))
        for p in all_peers:
            inst = p.make()
            cold = timed(lambda: p.encode(inst, docs))
            warm = min((timed(lambda: p.encode(inst, docs)) for _ in range(args.reps)),
                       key=lambda t: t[1])
            rows.append((rnd, p.name, p.config, cold, warm))
            print(f"round {rnd}: {p.name} done", file=sys.stderr)

    print(f"Single thread, {nbytes / 1e6:.1f} MB mixed corpus ({len(docs)} documents). MB/s are "
          "10^6 bytes per CPU second of the process; ratios are arcade's speed over the peer's in "
          "the same round; cpu/wall below 1 means the process was preempted.\n")
    print("| round | implementation | configured as | cold MB/s | warm MB/s "
          "| arcade/peer cold | arcade/peer warm | cpu/wall |")
    print("|---|---|---|---|---|---|---|---|")
    for rnd, name, config, cold, warm in rows:
        mine = next(r for r in rows if r[0] == rnd)
        speed = lambda t: nbytes / t[1]  # noqa: E731
        ratios = "| | |" if mine[1] == name else \
            f"| {speed(mine[3]) / speed(cold):.2f}x | {speed(mine[4]) / speed(warm):.2f}x |"
        print(f"| {rnd} | {name} | {config} | {speed(cold) / 1e6:.1f} | {speed(warm) / 1e6:.1f} "
              f"{ratios} {warm[1] / warm[0]:.2f} |")


if __name__ == "__main__":
    main()
