#!/usr/bin/env python3
"""Runs one command and prints one JSON line about it (also imported by bench.py as `measure()`).

    python3 benches/pack/measure.py [--cpus 0] [--label L] -- CMD ARGS...

Fields: wall_s, user_s, sys_s (the command and its waited-for children, from wait4's rusage, in
microseconds: GNU time prints them truncated to 10 ms, which is 3% of an `arcade pack` run and
always in arcade's favour), max_rss_kb (rusage's maximum resident set size, as GNU time reports
it: the largest single process of the tree), tree_rss_peak_kb (the
largest SUM of VmRSS over the command's whole process tree, sampled every 20 ms: this is what
counts for multi-process peers such as a multiprocessing pool), exit, loadavg_1m at the start.
--cpus pins the command with taskset (e.g. `--cpus 0` = one core). stdout/stderr of the command
go to --log (default: discarded).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time


def tree_rss_kb(root):
    """Sum of VmRSS over root and its descendants (from /proc)."""
    children = {}
    rss = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rfind(")") + 2:].split()[1])
            with open(f"/proc/{pid}/status") as f:
                m = re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M)
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(pid))
        rss[int(pid)] = int(m.group(1)) if m else 0
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def measure(cmd, cpus=None, log=os.devnull):
    """Runs cmd (a list) and waits for it with wait4; returns the fields described above."""
    if cpus is not None:
        cmd = ["taskset", "-c", str(cpus)] + list(cmd)  # taskset execs: same process
    with open(log, "w") as out:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        p = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            peak = max(peak, tree_rss_kb(p.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)  # so that Popen does not wait again
    return {"exit": p.returncode,
            "wall_s": round(wall, 4),
            "user_s": round(usage.ru_utime, 6),
            "sys_s": round(usage.ru_stime, 6),
            "max_rss_kb": usage.ru_maxrss,
            "tree_rss_peak_kb": peak, "loadavg_1m": round(load, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpus", default=None, help="taskset CPU list, e.g. 0")
    ap.add_argument("--label", default="")
    ap.add_argument("--log", default=os.devnull)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    res = {"label": a.label, **measure(cmd, a.cpus, a.log)}
    print(json.dumps(res))
    sys.exit(0 if res["exit"] == 0 else 1)


if __name__ == "__main__":
    main()
