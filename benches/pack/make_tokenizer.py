#!/usr/bin/env python3
"""Arcade100k as a Hugging Face tokenizer.json, for the pack benchmark's peers.

    python benches/pack/make_tokenizer.py [--out /tmp/arcade-pack-bench/arcade100k.tokenizer.json]

The conversion is benches/peers.py's `hf_tokenizer_json` (the tokenizer benchmark's converter,
owned by that benchmark): it is loaded from that file with `ast` (importing peers.py would pin the
process to one CPU and import tiktoken and gigatoken). Only if that file or function is missing
does this script fall back to its own conversion, which follows the same recipe:
  vocab    cl100k ranks (tokenizer/assets/cl100k_base.tiktoken), bytes spelled through GPT-2's
           bytes_to_unicode;
  merges   for each multi-byte token in rank order, its bytes BPE-merged using only lower-ranked
           tokens until two parts remain;
  pre_tokenizer Sequence[Split(Regex(Arcade100k pattern), Isolated), ByteLevel(no prefix space,
           use_regex=False)]; decoder ByteLevel; 32 special tokens from 100257, <|endoftext|> first.
Whichever is used, run.sh checks the ids against `arcade tokenize` before any timing.

One fix on top of either: cl100k has no rank 100256, and HF tokenizers (0.23 and 1.0.0rc3 alike)
gives added tokens the ids that follow the vocabulary (len(vocab) = 100256), whatever id the json
says: <|endoftext|> would become 100256 instead of Arcade100k's 100257, and every appended EOS
would be off by one. So the gap gets a placeholder vocab entry, "\u2400unused-100256", which BPE
cannot produce (U+2400 is not in the byte-level alphabet), and the 32 specials land on 100257..100288
(vocab size 100289, as Stable LM 2's). main() asserts this with tokenizers when it is importable.
"""

import argparse
import ast
import base64
import json
import sys
from pathlib import Path

WORKSPACE = Path(__file__).resolve().parents[2]
RANKS = WORKSPACE / "tokenizer/assets/cl100k_base.tiktoken"
PEERS = WORKSPACE / "benches/peers.py"
WANTED = ("PATTERN", "SPECIALS", "SPECIAL_IDS", "hf_tokenizer_json")


def load_ranks(path):
    ranks = {}
    for line in path.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def from_peers():
    """PATTERN, SPECIALS, SPECIAL_IDS and hf_tokenizer_json from benches/peers.py, or None."""
    if not PEERS.is_file():
        return None
    tree = ast.parse(PEERS.read_text(encoding="utf-8"))
    keep = []
    for node in tree.body:
        names = ([t.id for t in node.targets if isinstance(t, ast.Name)]
                 if isinstance(node, ast.Assign) else
                 [node.name] if isinstance(node, ast.FunctionDef) else [])
        if any(n in WANTED for n in names):
            keep.append(node)
    scope = {"json": json}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(PEERS), "exec"), scope)
    return scope if all(n in scope for n in WANTED) else None


# The fallback conversion (same recipe as above; used only without benches/peers.py).
PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
           r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
            "<gh_stars>", "<filename>", "<issue_start>", "<issue_comment>", "<issue_closed>",
            "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>",
            "<empty_output>", "<commit_before>", "<commit_msg>", "<commit_after>", "<reponame>",
            "<|endofprompt|>", "<|im_start|>", "<|im_end|>", "<|pause|>"] + \
           [f"<|reg{i}|>" for i in range(8)] + ["<|extra0|>"]


def own_tokenizer_json(ranks):
    bs = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in bs}
    table |= {b: chr(0x100 + i) for i, b in enumerate(b for b in range(256) if b not in bs)}
    spell = lambda t: "".join(table[b] for b in t)  # noqa: E731

    def split(token, rank):
        parts = [bytes([b]) for b in token]
        while len(parts) > 2:
            r, i = min((ranks.get(parts[i] + parts[i + 1], rank), i) for i in range(len(parts) - 1))
            if r >= rank:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        assert len(parts) == 2, (token, parts)
        return parts

    by_rank = sorted(ranks.items(), key=lambda kv: kv[1])
    return json.dumps({
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 100257 + i, "content": s, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for i, s in enumerate(SPECIALS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": {spell(t): r for t, r in by_rank},
                  "merges": [[spell(p) for p in split(t, r)] for t, r in by_rank if len(t) > 1]},
    })


def fill_gaps(text):
    """A placeholder vocab entry for every id below the first special that has no token."""
    d = json.loads(text)
    vocab = d["model"]["vocab"]
    first_special = min(t["id"] for t in d["added_tokens"])
    for i in sorted(set(range(first_special)) - set(vocab.values())):
        vocab[f"\u2400unused-{i}"] = i
    return json.dumps(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path,
                    default=Path("/tmp/arcade-pack-bench/arcade100k.tokenizer.json"))
    ap.add_argument("--own", action="store_true", help="use this script's conversion")
    a = ap.parse_args()
    ranks = load_ranks(RANKS)
    peers = None if a.own else from_peers()
    if peers is not None:
        assert peers["PATTERN"] == PATTERN and peers["SPECIALS"] == SPECIALS, \
            "benches/peers.py no longer configures Arcade100k as this benchmark expects"
        text, origin = peers["hf_tokenizer_json"](ranks), "benches/peers.py:hf_tokenizer_json"
    else:
        text, origin = own_tokenizer_json(ranks), "benches/pack/make_tokenizer.py (own)"
    text = fill_gaps(text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text, encoding="utf-8")
    try:
        import tokenizers
    except ImportError:
        tokenizers = None
    if tokenizers is not None:
        tok = tokenizers.Tokenizer.from_file(str(a.out))
        got = [tok.token_to_id(s) for s in SPECIALS]
        assert got == list(range(100257, 100257 + len(SPECIALS))), f"special ids: {got}"
    print(f"tokenizer.json: {a.out} ({len(ranks)} ranks, converter {origin})", file=sys.stderr)


if __name__ == "__main__":
    main()
