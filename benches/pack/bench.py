#!/usr/bin/env python3
"""Timing and memory runs of the pack benchmark, and its report. Called by benches/pack/run.sh,
which builds arcade, sets up the venv, makes the inputs and checks the ids first.

    python3 benches/pack/bench.py --work /tmp/arcade-pack-bench --python VENV/bin/python \\
        --arcade /tmp/arcade-pack-bench/bin/arcade [--rounds 3] [--memory] [--report-only]

Throughput (WORK/input.jsonl): every round runs each peer once and each arcade configuration
--arcade-reps times (its fastest run kept: arcade's runs last about a second, the peers' twenty),
back to back, after waiting (at most --wait-max s) for the load average to fall below --wait-load:
  datatrove    JsonlReader -> DocumentTokenizer (shuffled), 1 task, 1 worker     pinned to CPU 0
  neox-style   gpt-neox preprocess_data.py re-implementation, --workers 1         pinned to CPU 0
  arcade t1    arcade pack --threads 1 [--no-shuffle]                             pinned to CPU 0
  arcade t2    arcade pack --threads 2 [--no-shuffle]                             both CPUs
"Per core" speeds are text bytes per CPU second (user + sys of the whole process tree), which on a
single pinned CPU equals wall-clock speed on an idle machine and is not inflated by other work on a
shared one. Ratios are computed within each round and the median over rounds is reported.
Memory (WORK/big/big-NN.jsonl, about 0.25 GB each): `arcade pack --threads 2` on the first 1, 2,
4, 8 files (shuffled) and 1, 2, 4 files (--no-shuffle), and on WORK/big/dense.jsonl (0.25 GB of
digits, one token per byte) if it exists, --mem-reps times each; peak RSS.
Results are appended to WORK/results.jsonl; the report goes to stdout and WORK/report.md.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import measure  # noqa: E402

HERE = Path(__file__).resolve().parent
PEER_ENV = {"TOKENIZERS_PARALLELISM": "false", "RAYON_NUM_THREADS": "1", "RAYON_RS_NUM_CPUS": "1"}


def main_configs(a, w):
    inp, tok = str(w / "input.jsonl"), str(w / "arcade100k.tokenizer.json")
    env = ["env"] + [f"{k}={v}" for k, v in PEER_ENV.items()]
    pack = lambda out, t, *extra: [a.arcade, "pack", "--input", inp, "--output", out,  # noqa
                                   "--threads", str(t), "--format", "native", "--overwrite",
                                   "--quiet", *extra]
    return [
        ("datatrove", 0, w / "out-datatrove",
         env + [a.python, str(HERE / "datatrove_tokenize.py"), "--input", inp, "--tokenizer", tok,
                "--output", str(w / "out-datatrove")]),
        ("neox-style", 0, w / "out-neox",
         env + [a.python, str(HERE / "neox_style_preprocess.py"), "--input", inp,
                "--vocab-file", tok, "--append-eod", "--workers", "1",
                "--output-prefix", str(w / "out-neox/bench")]),
        ("arcade t1", 0, w / "out-arcade", pack(str(w / "out-arcade"), 1)),
        ("arcade t1 no-shuffle", 0, w / "out-arcade", pack(str(w / "out-arcade"), 1,
                                                          "--no-shuffle")),
        ("arcade t2", None, w / "out-arcade", pack(str(w / "out-arcade"), 2)),
        ("arcade t2 no-shuffle", None, w / "out-arcade", pack(str(w / "out-arcade"), 2,
                                                             "--no-shuffle")),
    ]


def run_one(cmd, cpus, out_dir, log):
    shutil.rmtree(out_dir, ignore_errors=True)
    if out_dir.name == "out-neox":
        out_dir.mkdir(parents=True)
    r = measure(cmd, cpus, log)
    if r["exit"] != 0:
        sys.exit(f"FAILED (exit {r['exit']}): {' '.join(map(str, cmd))}; see {log}")
    return r


def manifest_totals(out_dir):
    m = json.loads((out_dir / "manifest.json").read_text())
    src = m["sources"]
    return {"documents": sum(s["documents"]["packed"] for s in src),
            "text_bytes": sum(s["text_bytes"] for s in src),
            "tokens": sum(s["tokens"] for s in src),
            "rows": sum(sp["sequences"] for sp in m["splits"].values())}


def run_memory(a, w, results):
    big = sorted((w / "big").glob("big-*.jsonl"))
    plan = [(n, False) for n in a.mem_chunks if n <= len(big)] + \
           [(n, True) for n in a.mem_noshuffle_chunks if n <= len(big)]
    dense = w / "big/dense.jsonl"
    if dense.exists():
        plan.append((0, False))  # 0: the token-dense file instead of chunks
    out = w / "out-mem"
    for rep in range(1, a.mem_reps + 1):
        wait_for_quiet(a)
        for n, noshuf in plan:
            files = [str(p) for p in big[:n]] if n else [str(dense)]
            cmd = [a.arcade, "pack", "--input", *files, "--output", str(out), "--threads", "2",
                   "--format", "native", "--overwrite", "--quiet"] + (["--no-shuffle"] * noshuf)
            r = run_one(cmd, None, out, str(w / "logs/mem.log"))
            r.update(kind="memory", rep=rep, chunks=n, shuffle=not noshuf,
                     input_bytes=sum(os.path.getsize(p) for p in files), **manifest_totals(out))
            shutil.rmtree(out, ignore_errors=True)
            results.write(json.dumps(r) + "\n")
            results.flush()
            print(f"memory rep {rep}: {n or 'dense'} chunk(s) "
                  f"{'shuffled' if not noshuf else 'no-shuffle'}: "
                  f"{r['max_rss_kb'] / 1024:.0f} MiB, {r['wall_s']:.1f} s", file=sys.stderr)


def fmt_mb(x):
    return f"{x / 1e6:.1f}" if x >= 1e7 else f"{x / 1e6:.2f}"


def report(w, results_path, meta):
    rows = [json.loads(line) for line in open(results_path)]
    main = [r for r in rows if r.get("kind") == "main"]
    mem = [r for r in rows if r.get("kind") == "memory"]
    stats = json.loads((w / "input-stats.json").read_text())
    nbytes, ntok, ndocs = stats["text_bytes"], stats["tokens_with_eos"], stats["documents"]
    out = []
    p = out.append
    p(f"Machine: {meta['cpu']}, nproc {meta['nproc']}, {meta['mem']}; {meta['date']}; "
      f"arcade {meta['arcade_version']} ({meta['git']}); {meta['peers']}.")
    p(f"Input: {w / 'input.jsonl'} — {ndocs:,} documents, {nbytes / 1e6:.2f} MB of text "
      f"({stats['file_bytes'] / 1e6:.2f} MB of JSONL), {ntok:,} tokens with one EOS per document.")
    if main:
        configs = list(dict.fromkeys(r["config"] for r in main))
        rounds = sorted({r["round"] for r in main})
        by = {}
        for r in main:  # several reps of a configuration in a round: the fastest, the largest RSS
            k = (r["config"], r["round"])
            b = by.setdefault(k, dict(r, reps=0))
            b["reps"] += 1
            b["wall_s"] = min(b["wall_s"], r["wall_s"])
            if r["user_s"] + r["sys_s"] < b["user_s"] + b["sys_s"]:
                b["user_s"], b["sys_s"] = r["user_s"], r["sys_s"]
            b["max_rss_kb"] = max(b["max_rss_kb"], r["max_rss_kb"])
            b["tree_rss_peak_kb"] = max(b["tree_rss_peak_kb"], r["tree_rss_peak_kb"])
        cpu = lambda r: r["user_s"] + r["sys_s"]  # noqa: E731
        med = lambda xs: statistics.median(xs)  # noqa: E731

        def ratio(cfg, peer, per_core=True):
            xs = []
            for rd in rounds:
                if (cfg, rd) in by and (peer, rd) in by:
                    a_, b_ = by[(cfg, rd)], by[(peer, rd)]
                    xs.append(cpu(b_) / cpu(a_) if per_core else b_["wall_s"] / a_["wall_s"])
            return xs

        def rng(xs):
            return f"{med(xs):.1f}×" + (f" ({min(xs):.1f}–{max(xs):.1f})" if len(xs) > 1 else "")

        p("")
        p(f"Medians of {len(rounds)} rounds (in each round the peers ran once and every arcade "
          f"configuration {max(b['reps'] for k, b in by.items() if k[0].startswith('arcade'))} "
          "times, best kept). MB = 10^6 bytes of document text. \"per core\" = text per CPU "
          "second (user+sys of the process tree); ratios = arcade per core ÷ peer per core within "
          "each round, median (min–max).")
        p("")
        p("| run | CPUs | text MB/s | tokens/s | MB/s per core | peak RSS | × datatrove per core "
          "| × gpt-neox-style per core |")
        p("|---|---|---|---|---|---|---|---|")
        names = {"datatrove": f"datatrove {meta['datatrove']} tokenize (1 task, 1 worker)",
                 "neox-style": "gpt-neox preprocess_data.py (re-impl., 1 worker)",
                 "arcade t1": "`arcade pack --threads 1`",
                 "arcade t1 no-shuffle": "`arcade pack --threads 1 --no-shuffle`",
                 "arcade t2": "`arcade pack --threads 2`",
                 "arcade t2 no-shuffle": "`arcade pack --threads 2 --no-shuffle`"}
        for c in configs:
            rs = [by[(c, rd)] for rd in rounds if (c, rd) in by]
            wall, c_s = med([r["wall_s"] for r in rs]), med([cpu(r) for r in rs])
            rss = max(max(r["max_rss_kb"], r["tree_rss_peak_kb"]) for r in rs)
            ncpu = "1 (pinned)" if rs[0]["cpus"] == 0 else "2"
            peers = ["| |"] if not c.startswith("arcade") else \
                [f"| {rng(ratio(c, 'datatrove'))} | {rng(ratio(c, 'neox-style'))} |"]
            p(f"| {names.get(c, c)} | {ncpu} | {fmt_mb(nbytes / wall)} | {ntok / wall / 1e3:,.0f}k "
              f"| {fmt_mb(nbytes / c_s)} | {rss / 1024:.0f} MiB {peers[0]}")
        p("")
        p("Compact (for README.md):")
        p("")
        p("| tokenize + pack, 21.5 MB real JSONL | MB/s per core | tokens/s per core | MB/s, 2 cores "
          "| peak RSS | arcade per core ÷ this |")
        p("|---|---|---|---|---|---|")
        short = {"datatrove": "datatrove tokenize step", "neox-style":
                 "gpt-neox preprocess_data.py (re-impl.)", "arcade t1": "**arcade pack**"}
        for c in ("datatrove", "neox-style", "arcade t1"):
            rs = [by[(c, rd)] for rd in rounds if (c, rd) in by]
            if not rs:
                continue
            c_s = med([cpu(r) for r in rs])
            rss = max(max(r["max_rss_kb"], r["tree_rss_peak_kb"]) for r in rs)
            two = [by[("arcade t2", rd)]["wall_s"] for rd in rounds if ("arcade t2", rd) in by]
            total = f"{fmt_mb(nbytes / med(two))}" if c == "arcade t1" and two else "–"
            rat = "" if c == "arcade t1" else f"{med(ratio('arcade t1', c)):.1f}×"
            p(f"| {short[c]} | {fmt_mb(nbytes / c_s)} | {ntok / c_s / 1e3:,.0f}k | {total} "
              f"| {rss / 1024:.0f} MiB | {rat} |")
        t1, t2 = ratio("arcade t1", "arcade t2", False), ratio("arcade t1", "arcade t2", True)
        if t1:
            p("")
            p(f"Scaling `arcade pack` 1 → 2 threads (wall-clock speed t2 ÷ t1, per round): "
              + ", ".join(f"{1 / x:.2f}×" for x in t1)
              + f"; CPU seconds t2 ÷ t1: " + ", ".join(f"{1 / x:.2f}" for x in t2) + ".")
        p("")
        p("Per-round detail (wall and CPU in seconds; RSS = rusage's maximum resident set size "
          "of the largest process, tree = peak sum over the process tree; load = 1-minute load "
          "average at the start):")
        p("")
        p("| round | run | rep | wall | user | sys | text MB/s (wall) | MB/s per core | RSS MiB "
          "| tree MiB | load |")
        p("|---|---|---|---|---|---|---|---|---|---|---|")
        for rd in rounds:
            for c in configs:
                for r in (r for r in main if r["config"] == c and r["round"] == rd):
                    p(f"| {rd} | {c} | {r.get('rep', 1)} | {r['wall_s']:.2f} | {r['user_s']:.2f} "
                      f"| {r['sys_s']:.2f} "
                      f"| {fmt_mb(nbytes / r['wall_s'])} | {fmt_mb(nbytes / cpu(r))} "
                      f"| {r['max_rss_kb'] / 1024:.0f} | {r['tree_rss_peak_kb'] / 1024:.0f} "
                      f"| {r['loadavg_1m']} |")
    if mem:
        p("")
        p("Memory ceiling: `arcade pack --threads 2` on the real input repeated (only the `id` "
          "varies) and on a file of digits only (one token per byte). Peak RSS is the maximum "
          "over the repetitions.")
        p("")
        p("| JSONL input | text | documents | tokens | mode | peak RSS | reps | CPU s | wall s |")
        p("|---|---|---|---|---|---|---|---|---|")
        keys = list(dict.fromkeys((r["chunks"], r["shuffle"]) for r in mem))
        keys.sort(key=lambda k: (k[0] == 0, not k[1], k[0]))
        for k in keys:
            rs = [r for r in mem if (r["chunks"], r["shuffle"]) == k]
            r0 = rs[0]
            what = "digits only (dense.jsonl)" if k[0] == 0 else "real text ×N"
            p(f"| {r0['input_bytes'] / 1e9:.2f} GB, {what} | {r0['text_bytes'] / 1e9:.2f} GB "
              f"| {r0['documents']:,} | {r0['tokens'] / 1e6:,.0f}M "
              f"| {'shuffled' if k[1] else '--no-shuffle'} "
              f"| {max(r['max_rss_kb'] for r in rs) / 1024:.0f} MiB | {len(rs)} "
              f"| {statistics.median(r['user_s'] + r['sys_s'] for r in rs):.1f} "
              f"| {statistics.median(r['wall_s'] for r in rs):.1f} |")
    text = "\n".join(out) + "\n"
    (w / "report.md").write_text(text)
    print(text)


def wait_for_quiet(a):
    """Other work on the machine distorts wall-clock times: wait (bounded) for a quieter moment."""
    start = time.time()
    while os.getloadavg()[0] >= a.wait_load and time.time() - start < a.wait_max:
        time.sleep(5)
    if os.getloadavg()[0] >= a.wait_load:
        print(f"NOTICE: load average still {os.getloadavg()[0]:.1f} after {a.wait_max:.0f} s; "
              "going on (wall-clock numbers will be pessimistic, CPU-second numbers less so)",
              file=sys.stderr)


def meta_info(a):
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "?")
    mem = next((line.split()[1] for line in open("/proc/meminfo")
                if line.startswith("MemTotal")), "0")
    ver = lambda pkg: sh([a.python, "-c", f"import importlib.metadata as m; print(m.version('{pkg}'))"])  # noqa
    return {"cpu": cpu, "nproc": sh(["nproc"]), "mem": f"{int(mem) / 2**20:.0f} GiB RAM",
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "arcade_version": sh([a.arcade, "--version"]).split()[-1],
            "git": sh(["git", "-C", str(HERE), "describe", "--always", "--dirty"]),
            "datatrove": ver("datatrove"),
            "peers": f"datatrove {ver('datatrove')}, tokenizers {ver('tokenizers')}, "
                     f"numpy {ver('numpy')}, Python {sh([a.python, '-c', 'import platform; print(platform.python_version())'])}"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/arcade-pack-bench"))
    ap.add_argument("--python", required=True, help="the venv's python (datatrove, tokenizers)")
    ap.add_argument("--arcade", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--arcade-reps", type=int, default=3,
                    help="runs of each arcade configuration per round (the fastest is kept)")
    ap.add_argument("--wait-load", type=float, default=1.5,
                    help="before each round, wait for the 1-minute load average to drop below this")
    ap.add_argument("--wait-max", type=float, default=300, help="... for at most this many seconds")
    ap.add_argument("--memory", action="store_true", help="also run the memory ceiling")
    ap.add_argument("--mem-chunks", default="1,2,4,8")
    ap.add_argument("--mem-noshuffle-chunks", default="1,2,4")
    ap.add_argument("--mem-reps", type=int, default=2)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    a.mem_chunks = [int(x) for x in a.mem_chunks.split(",") if x]
    a.mem_noshuffle_chunks = [int(x) for x in a.mem_noshuffle_chunks.split(",") if x]
    w = a.work
    results_path = w / "results.jsonl"
    meta_path = w / "meta.json"
    if not a.report_only:
        meta = meta_info(a)
        meta_path.write_text(json.dumps(meta))
        (w / "logs").mkdir(exist_ok=True)
        with open(results_path, "w") as results:
            if not a.skip_throughput:
                for rd in range(1, a.rounds + 1):
                    wait_for_quiet(a)
                    for name, cpus, out_dir, cmd in main_configs(a, w):
                        reps = a.arcade_reps if name.startswith("arcade") else 1
                        for rep in range(1, reps + 1):
                            log = str(w / f"logs/{name.replace(' ', '-')}-{rd}.log")
                            r = run_one(cmd, cpus, out_dir, log)
                            r.update(kind="main", round=rd, rep=rep, config=name, cpus=cpus)
                            results.write(json.dumps(r) + "\n")
                            results.flush()
                            print(f"round {rd}: {name}: wall {r['wall_s']:.2f} s, cpu "
                                  f"{r['user_s'] + r['sys_s']:.2f} s, rss "
                                  f"{r['max_rss_kb'] / 1024:.0f} MiB (load {r['loadavg_1m']})",
                                  file=sys.stderr)
            if a.memory:
                run_memory(a, w, results)
    report(w, results_path, json.loads(meta_path.read_text()))


if __name__ == "__main__":
    main()
