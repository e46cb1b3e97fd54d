#!/usr/bin/env python3
"""Peer for the `arcade filter` benchmark: datatrove's FineWeb quality filters on one JSONL file.

    # the pipeline (venv python; run.sh pins it to one core with taskset -c 0)
    VENV/bin/python benches/filters/datatrove_filters.py run --input FILE --output DIR \\
        [--compression none|gzip] [--no-write]
    # driver side (any python3; no datatrove needed): time one command, and the report
    python3 benches/filters/datatrove_filters.py time --work W --label L --round N --cpus 0 \
        --log LOG [--stats arcade/stats.json] -- CMD ARGS...
    python3 benches/filters/datatrove_filters.py report --work /tmp/arcade-filter-bench

`run`: a LocalPipelineExecutor(tasks=1, workers=1), i.e. one task in this process, running the
filters of datatrove's FineWeb recipe (examples/fineweb.py) minus URL filter, extraction,
language ID and dedup, in the recipe's order and with its parameters:

    JsonlReader(text_key="text", id_key="id")
    -> GopherRepetitionFilter()                      all defaults
    -> GopherQualityFilter()                         all defaults
    -> C4QualityFilter(filter_no_terminal_punct=False)  as FineWeb; the rest default
    -> FineWebQualityFilter()                        all defaults
    -> JsonlWriter(DIR/kept, compression=None)       the kept documents, plain .jsonl

FineWeb's own JsonlWriter writes gzip (the writer's default); plain JSONL is the default here
because that is what `arcade filter` writes (--compression gzip to match FineWeb instead,
--no-write to time the filters without any writer). The filters get no exclusion_writer, so
dropped documents are only counted, not written. C4QualityFilter rewrites doc.text (it drops
lines), so FineWebQualityFilter and the writer see the cleaned text. English word splitting is
spaCy's blank("en") tokenizer plus its rule-based "sentencizer" (datatrove's
tokenizer_assignment.csv maps eng -> SpaCyTokenizer); no model or NLTK data is loaded.

Besides datatrove's own DIR/logs/stats.json, prints one JSON line with the per-filter counts
(read, dropped, dropped_<reason>, forwarded) and the CPU and wall seconds of the executor's
run() alone (`pipeline_cpu_s`, `pipeline_wall_s`: without interpreter start and imports).

`time`: runs CMD under benches/pack/measure.py (GNU /usr/bin/time -v for wall, user, sys and
max RSS; process-tree RSS sampled every 20 ms), pinned with taskset, and appends one JSON line to
WORK/results.jsonl (with datatrove's summary line, or arcade's stats.json).

`report`: reads WORK/results.jsonl (one line per timed run, written by run.sh) and
WORK/input-stats.json, and prints the comparison table (see run.sh).
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

# datatrove's step names (PipelineStep.name) -> this benchmark's stage names (arcade's --stages).
STAGES = [("Gopher Repetition", "gopher-repetition"), ("Gopher Quality", "gopher-quality"),
          ("C4 Quality", "c4"), ("FineWeb Quality", "fineweb-quality")]


def stage_of(step_name):
    for needle, stage in STAGES:
        if needle in step_name:
            return stage
    return None


def run(a):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter,
                                            GopherQualityFilter, GopherRepetitionFilter)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers.jsonl import JsonlWriter

    out = Path(a.output)
    shutil.rmtree(out, ignore_errors=True)  # datatrove skips tasks it finds completed in logs/
    folder, name = os.path.split(os.path.abspath(a.input))
    pipeline = [
        JsonlReader(folder, glob_pattern=name, text_key="text", id_key="id"),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
    ]
    if not a.no_write:
        pipeline.append(JsonlWriter(str(out / "kept"),
                                    compression=None if a.compression == "none" else a.compression))
    ex = LocalPipelineExecutor(pipeline=pipeline, tasks=1, workers=1,
                               logging_dir=str(out / "logs"))
    c0, w0 = time.process_time(), time.perf_counter()
    ex.run()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    summary = summarize(json.loads((out / "logs/stats.json").read_text()))
    summary.update(pipeline_cpu_s=round(cpu, 3), pipeline_wall_s=round(wall, 3),
                   writer="none" if a.no_write else f"JsonlWriter(compression={a.compression})")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print("DATATROVE_SUMMARY " + json.dumps(summary))


def summarize(stats):
    """datatrove's merged stats.json (a list of steps) -> read / kept / per-stage drops."""
    res = {"read": None, "kept": None, "stages": {}}
    for step in stats:
        name, st = step.get("name", ""), step.get("stats", {})
        val = lambda k: int(st[k]["total"] if isinstance(st.get(k), dict) else st.get(k, 0))  # noqa
        if "READER" in name.upper():
            res["read"] = val("documents")
            continue
        stage = stage_of(name)
        if stage is None:
            continue
        res["stages"][stage] = {
            "in": val("total"), "dropped": val("dropped"), "kept": val("forwarded"),
            # datatrove's own timer around this filter's filter() calls (wall seconds)
            "time_s": round(step.get("time_stats", {}).get("total", 0.0), 3),
            "dropped_by": {k[len("dropped_"):]: val(k) for k in st if k.startswith("dropped_")},
            "other": {k: val(k) for k in st if k.startswith("line-")},
        }
    if res["stages"]:
        res["kept"] = list(res["stages"].values())[-1]["kept"]
    return res


# ---------------------------------------------------------------- timing (driver side)


def time_cmd(a):
    """Runs one command under benches/pack/measure.py (GNU time + sampled process-tree RSS),
    optionally pinned, and appends one line to WORK/results.jsonl."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pack"))
    from measure import measure

    w = Path(a.work)
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    inp = json.loads((w / "input-stats.json").read_text())
    if a.clean:
        shutil.rmtree(a.clean, ignore_errors=True)
    r = measure(cmd, a.cpus, a.log)
    r.update(label=a.label, round=a.round, input=inp["file"], text_bytes=inp["text_bytes"],
             cmd=cmd)
    meta = w / "meta.json"
    if meta.exists():
        r["meta"] = json.loads(meta.read_text())
    if a.label == "datatrove" and r["exit"] == 0:
        for line in open(a.log, errors="replace"):
            if line.startswith("DATATROVE_SUMMARY "):
                s = json.loads(line[len("DATATROVE_SUMMARY "):])
                r["pipeline_cpu_s"] = s.pop("pipeline_cpu_s")
                r["pipeline_wall_s"] = s.pop("pipeline_wall_s")
                r["summary"] = s
    elif a.stats and r["exit"] == 0:
        try:
            raw = json.loads(Path(a.stats).read_text())
            r["summary"] = arcade_summary(raw)
            r["stats_raw"] = raw
        except (OSError, ValueError) as e:
            r["summary_error"] = f"{a.stats}: {e}"
    with open(w / "results.jsonl", "a") as f:
        f.write(json.dumps(r) + "\n")
    cpu = r["user_s"] + r["sys_s"]
    if r["exit"] != 0:
        print(f"{a.label} round {a.round}: exit {r['exit']}", file=sys.stderr)
        return 1
    print(f"{a.label} round {a.round}: exit {r['exit']}, wall {r['wall_s']:.2f} s, CPU {cpu:.2f} s, "
          f"{inp['text_bytes'] / max(cpu, 1e-9) / 1e6:.3f} MB/s per core, peak RSS "
          f"{max(r['max_rss_kb'], r['tree_rss_peak_kb']) / 1024:.0f} MiB, load {r['loadavg_1m']}",
          file=sys.stderr)
    return 0 if r["exit"] == 0 else 1


# ---------------------------------------------------------------- report


def arcade_summary(stats):
    """OUT/arcade/stats.json of `arcade filter` -> the same shape as summarize().

    arcade writes {"totals": {"read": N, "kept": N, "dropped": N, "dropped_by": {"stage:rule": N}}}."""
    stats = stats.get("totals", stats)
    res = {"read": stats.get("read"), "kept": stats.get("kept"), "stages": {}}
    for key, n in (stats.get("dropped_by") or {}).items():
        stage, _, rule = key.partition(":")
        s = res["stages"].setdefault(stage, {"dropped": 0, "dropped_by": {}})
        s["dropped"] += n
        s["dropped_by"][rule or "?"] = n
    return res


def fmt(x, nd=2):
    return "–" if x is None else f"{x:,.{nd}f}"


def report(a):
    w = Path(a.work)
    inp = json.loads((w / "input-stats.json").read_text())
    tb = inp["text_bytes"]
    rows = [json.loads(line) for line in open(w / "results.jsonl") if line.strip()]
    # runs on this same input (by content size: the path may differ between runs)
    rows = [r for r in rows if r.get("text_bytes") == tb]
    out = []
    p = out.append
    meta = rows[-1].get("meta", {}) if rows else {}
    p(f"Input: {inp['file']}: {inp['file_bytes'] / 1e6:.2f} MB JSONL, {inp['documents']:,} "
      f"documents, {tb / 1e6:.2f} MB of text ({inp['base_documents']} real web documents x "
      f"{inp['repetitions']}).")
    if meta:
        p(f"Machine: {meta.get('cpu', '?')}, nproc {meta.get('nproc', '?')}; {meta.get('date', '?')}; "
          f"datatrove {meta.get('datatrove', '?')}, spaCy {meta.get('spacy', '?')}, "
          f"Python {meta.get('python', '?')}.")
    p("")
    p("Per core = MB of input text per CPU second (user + sys of the whole process tree, "
      "pinned to CPU 0); medians over rounds; ratio = arcade per core / datatrove per core "
      "within each round, median (min-max).")
    p("")
    p("| run | rounds | wall s | CPU s | MB/s per core | MB/s per core, pipeline only ¹ "
      "| peak RSS (tree) | arcade per core ÷ this |")
    p("|---|---|---|---|---|---|---|---|")
    by = {}
    for r in rows:
        by.setdefault(r["label"], []).append(r)
    # arcade runs --arcade-reps times per round (a run lasts about a second, datatrove's minutes):
    # keep its fastest successful run (least CPU) per round, plus any failures.
    best = {}
    for r in by.get("arcade", []):
        if r["exit"] == 0:
            k = r["round"]
            if k not in best or r["user_s"] + r["sys_s"] < best[k]["user_s"] + best[k]["sys_s"]:
                best[k] = r
    if "arcade" in by:
        by["arcade"] = list(best.values()) + [r for r in by["arcade"] if r["exit"] != 0]
    ratios = []
    for rnd in sorted({r["round"] for r in rows}):
        d = [r for r in by.get("datatrove", []) if r["round"] == rnd and r["exit"] == 0]
        ar = [r for r in by.get("arcade", []) if r["round"] == rnd and r["exit"] == 0]
        if d and ar:
            ratios.append(per_core(ar[0], tb) / per_core(d[0], tb))
    ok = lambda label: [r for r in by.get(label, []) if r["exit"] == 0]  # noqa
    if not ratios and ok("datatrove") and ok("arcade"):  # e.g. --skip-datatrove: no common round
        ratios = [statistics.median(per_core(r, tb) for r in ok("arcade"))
                  / statistics.median(per_core(r, tb) for r in ok("datatrove"))]
    for label in ("datatrove", "arcade"):
        rs = [r for r in by.get(label, []) if r["exit"] == 0]
        failed = [r for r in by.get(label, []) if r["exit"] != 0]
        if not rs:
            p(f"| {label} | 0{' (' + str(len(failed)) + ' failed)' if failed else ''} "
              "| – | – | – | – | – | – |")
            continue
        med = lambda f: statistics.median(f(r) for r in rs)  # noqa
        pipe = [tb / r["pipeline_cpu_s"] / 1e6 for r in rs if r.get("pipeline_cpu_s")]
        rss = max(max(r["max_rss_kb"], r.get("tree_rss_peak_kb", 0)) for r in rs)
        ratio = ""
        if label == "datatrove" and ratios:
            ratio = (f"{statistics.median(ratios):.1f}× ({min(ratios):.1f}–{max(ratios):.1f})")
        p(f"| {label} | {len(rs)} | {med(lambda r: r['wall_s']):.2f} "
          f"| {med(lambda r: r['user_s'] + r['sys_s']):.2f} "
          f"| {med(lambda r: per_core(r, tb)):.3f} "
          f"| {fmt(statistics.median(pipe), 3) if pipe else '–'} | {rss / 1024:.0f} MiB | {ratio} |")
    p("")
    p("¹ datatrove: CPU seconds of LocalPipelineExecutor.run() alone, measured inside the process "
      "(without interpreter start-up and imports).")
    p("")
    # counts side by side, from the last successful run of each
    dsum = next((r["summary"] for r in reversed(by.get("datatrove", []))
                 if r["exit"] == 0 and r.get("summary")), None)
    asum = next((r["summary"] for r in reversed(by.get("arcade", []))
                 if r["exit"] == 0 and r.get("summary")), None)
    p("Documents (last run of each):")
    p("")
    p("| stage | datatrove dropped | arcade dropped | datatrove s ² | datatrove reasons "
      "| arcade reasons |")
    p("|---|---|---|---|---|---|")
    for _, stage in STAGES:
        ds = (dsum or {}).get("stages", {}).get(stage, {})
        as_ = (asum or {}).get("stages", {}).get(stage, {})
        reasons = lambda s: ", ".join(f"{k} {v}" for k, v in sorted(  # noqa
            s.get("dropped_by", {}).items(), key=lambda kv: -kv[1])) or "–"
        p(f"| {stage} | {ds.get('dropped', '–')} | {as_.get('dropped', '–')} "
          f"| {fmt(ds.get('time_s'), 1)} | {reasons(ds)} | {reasons(as_)} |")
    p(f"| **read** | {(dsum or {}).get('read', '–')} | {(asum or {}).get('read', '–')} | | | |")
    p(f"| **kept** | {(dsum or {}).get('kept', '–')} | {(asum or {}).get('kept', '–')} | | | |")
    p("")
    p("² datatrove's own wall-clock timer around each filter's filter() calls (stats.json). "
      "Misleading per stage: datatrove.utils.text.split_into_words is an lru_cache(5) on the "
      "text, so GopherQualityFilter reuses the spaCy tokenization that GopherRepetitionFilter "
      "paid for; FineWebQualityFilter tokenizes again whenever C4QualityFilter changed the text.")
    c4 = (dsum or {}).get("stages", {}).get("c4", {}).get("other", {})
    if c4:
        p("")
        p("datatrove C4 line counters (lines of documents that reached the C4 stage): "
          + ", ".join(f"{k} {v}" for k, v in c4.items()) + ".")
    if asum is None and any(r["exit"] != 0 for r in by.get("arcade", [])):
        p("")
        p("arcade: every run failed (see WORK/logs/arcade-r*.log).")
    text = "\n".join(out) + "\n"
    (w / "report.md").write_text(text)
    print(text)


def per_core(r, tb):
    return tb / (r["user_s"] + r["sys_s"]) / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the datatrove pipeline")
    r.add_argument("--input", required=True, help="a JSONL file with `id` and `text` fields")
    r.add_argument("--output", required=True, help="output directory (replaced)")
    r.add_argument("--compression", choices=["none", "gzip"], default="none")
    r.add_argument("--no-write", action="store_true", help="no JsonlWriter: filters only")
    t = sub.add_parser("time", help="time one command, append to WORK/results.jsonl")
    t.add_argument("--work", default="/tmp/arcade-filter-bench")
    t.add_argument("--label", required=True, help="datatrove | arcade")
    t.add_argument("--round", type=int, default=1)
    t.add_argument("--cpus", default=None, help="taskset CPU list, e.g. 0")
    t.add_argument("--log", default=os.devnull)
    t.add_argument("--clean", default=None, help="directory to delete before the run")
    t.add_argument("--stats", default=None, help="arcade's stats.json, read after the run")
    t.add_argument("command", nargs=argparse.REMAINDER)
    g = sub.add_parser("report", help="print the comparison from WORK/results.jsonl")
    g.add_argument("--work", default="/tmp/arcade-filter-bench")
    a = ap.parse_args()
    if a.cmd == "run":
        return run(a)
    if a.cmd == "time":
        return time_cmd(a)
    return report(a)


if __name__ == "__main__":
    sys.exit(main())
