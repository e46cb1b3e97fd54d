#!/usr/bin/env python3
"""Markdown tables from the last criterion run of benches/encode.rs, hf_tokenizers.rs and
worst_case.rs: MB/s (10^6 bytes/s, from the median time) and the ratios arcade/peer, which are
what to compare (absolute numbers move with machine load).

    python3 benches/criterion_table.py [TARGET_DIR/criterion]   (default: target/criterion)
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

def load(root):
    """{group: {function: (bytes, median_ns)}} in the order found (sorted paths)."""
    groups = defaultdict(dict)
    for bench in sorted(Path(root).glob("**/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        size = (meta.get("throughput") or {}).get("Bytes")
        if size is None:
            continue
        function = meta["function_id"] + (f"/{meta['value_str']}" if meta.get("value_str") else "")
        groups[meta["group_id"]][function] = (size, est["median"]["point_estimate"])
    return groups


def mbps(size, ns):
    return size / ns * 1e3


def rate_table(groups, family, subsets):
    """Rows: subsets of `family/`; columns: MB/s per function, then arcade/peer ratios. Warm arcade
    is compared with warm peers, arcade-cold with a peer's -cold row where it has one (a peer
    with no cache has no -cold row: its one number is both)."""
    rows = {g.split("/", 1)[1]: f for g, f in groups.items() if g.startswith(family + "/")}
    if not rows:
        return ""
    functions = []
    for f in rows.values():
        functions += [k for k in f if k not in functions]
    functions.sort(key=lambda k: (not k.startswith("arcade"), k.endswith("-cold"), k))
    peers = [f for f in functions if not f.startswith("arcade")]
    pairs = [("arcade", p) for p in peers if not p.endswith("-cold")]
    if "arcade-cold" in functions:
        pairs += [("arcade-cold", p) for p in peers
                  if p.endswith("-cold") or p + "-cold" not in peers]
    head = [f"{f} MB/s" for f in functions] + [f"{a}/{p}" for a, p in pairs]
    out = [f"| {family} | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for subset in sorted(rows, key=lambda s: subsets.index(s) if s in subsets else 99):
        speed = {k: mbps(*v) for k, v in rows[subset].items()}
        cells = [f"{speed[k]:.1f}" if k in speed else "" for k in functions]
        cells += [f"{speed[a] / speed[p]:.2f}x" if a in speed and p in speed else ""
                  for a, p in pairs]
        out.append(f"| {subset} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def batch_table(groups):
    f = groups.get("batch/mixed")
    if not f:
        return ""
    out = ["| encode_batch, mixed (wall) | 1 thread MB/s | 2 threads MB/s | 2t/1t |",
           "|---|---|---|---|"]
    for impl in ["arcade", "tiktoken-rs"]:
        one, two = f.get(f"{impl}/1t"), f.get(f"{impl}/2t")
        if one and two:
            a, b = mbps(*one), mbps(*two)
            out.append(f"| {impl} | {a:.1f} | {b:.1f} | {b / a:.2f}x |")
    return "\n".join(out)


def size_of(label):
    """'10KB' -> 10000, '1MB' -> 1000000."""
    digits = label.rstrip("KMB")
    return int(digits) * (1000 if label.endswith("KB") else 1000_000)


def worst_table(groups):
    rows = {g.split("/", 1)[1]: f for g, f in groups.items() if g.startswith("worst/")}
    if not rows:
        return ""
    columns = sorted({k for f in rows.values() for k in f},
                     key=lambda k: (k.split("/")[0] != "arcade", size_of(k.split("/")[1])))
    impls = list(dict.fromkeys(c.split("/")[0] for c in columns))
    head = columns + [f"{i} largest/smallest" for i in impls]
    out = ["| ns/byte | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for kind, f in rows.items():
        per_byte = {c: f[c][1] / f[c][0] for c in columns if c in f}
        cells = [f"{per_byte[c]:.2f}" if c in per_byte else "" for c in columns]
        for i in impls:
            mine = [per_byte[c] for c in columns if c.startswith(i + "/") and c in per_byte]
            cells.append(f"{mine[-1] / mine[0]:.2f}x" if len(mine) > 1 else "")
        out.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
    groups = load(root)
    subsets = "en de es fr it nl pt zh ja ru ar hi ko code web mixed".split()
    tables = [
        rate_table(groups, "arcade100k", subsets),
        rate_table(groups, "cl100k_base", subsets),
        rate_table(groups, "hf", subsets),
        batch_table(groups),
        worst_table(groups),
    ]
    print("\n\n".join(t for t in tables if t))


if __name__ == "__main__":
    main()
