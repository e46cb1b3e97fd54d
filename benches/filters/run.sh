#!/usr/bin/env bash
# `arcade filter` against datatrove's FineWeb quality filters, per core, on the same real web
# text. See benches/filters/README.md.
#
#   benches/filters/run.sh                      # venv, input (~20 MB), 1 round: datatrove + arcade
#   benches/filters/run.sh --mb 5 --rounds 3    # smaller input, 3 rounds
#   benches/filters/run.sh --skip-datatrove     # arcade only (reuses earlier datatrove rounds
#                                               # on the same input in the report)
#   benches/filters/run.sh --report-only        # reprint the last report
#
# Options: --out DIR (default $ARCADE_FILTER_BENCH_DIR or /tmp/arcade-filter-bench: input,
# outputs, logs, results.jsonl, report.md), --venv DIR (default OUT/venv), --mb N (input size,
# MB), --rounds N, --arcade-reps N (arcade runs per round, fastest kept; default 3),
# --skip-arcade, --skip-datatrove, --no-write / --gzip (datatrove: no writer / gzip like FineWeb),
# --fresh (delete OUT/results.jsonl first). ARCADE (default target/release/arcade) is the binary
# to time; it is not built here (cargo build --release -p arcade-cli).
set -euo pipefail
exec < /dev/null

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WS=$(cd "$HERE/../.." && pwd)
OUT=${ARCADE_FILTER_BENCH_DIR:-/tmp/arcade-filter-bench}
VENV=
MB=20
ROUNDS=1
ARCADE_REPS=3
DO_ARCADE=1
DO_DATATROVE=1
REPORT_ONLY=0
FRESH=0
DT_ARGS=()
ARCADE=${ARCADE:-$WS/target/release/arcade}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --venv) VENV=$2; shift 2 ;;
    --mb) MB=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --arcade-reps) ARCADE_REPS=$2; shift 2 ;;
    --skip-arcade) DO_ARCADE=0; shift ;;
    --skip-datatrove) DO_DATATROVE=0; shift ;;
    --no-write) DT_ARGS+=(--no-write); shift ;;
    --gzip) DT_ARGS+=(--compression gzip); shift ;;
    --fresh) FRESH=1; shift ;;
    --report-only) REPORT_ONLY=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
VENV=${VENV:-$OUT/venv}
PY="$VENV/bin/python"
DRIVER=(python3 "$HERE/datatrove_filters.py")
INPUT="$OUT/input.jsonl"
mkdir -p "$OUT/logs" "$OUT/bin"
step() { echo "== $*" >&2; }

if [ "$REPORT_ONLY" = 1 ]; then
  exec "${DRIVER[@]}" report --work "$OUT"
fi
[ "$FRESH" = 1 ] && rm -f "$OUT/results.jsonl"

# Pinned peer versions (PyPI). The English path of datatrove's Gopher / C4 / FineWeb filters
# needs spaCy (blank "en" tokenizer + sentencizer: no model download) and `regex` (imported by
# datatrove.utils.text); orjson is what JsonlReader/JsonlWriter use. datatrove[processing]
# would add nltk, fasttext, trafilatura, ... which these four filters do not use for English.
PINS=(datatrove==0.10.1 spacy==3.8.18 thinc==8.3.14 regex==2026.11.19 orjson==3.13.0
      numpy==2.4.6)

if [ "$DO_DATATROVE" = 1 ]; then
  step "python venv $VENV (${PINS[*]})"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q --disable-pip-version-check "${PINS[@]}"
fi

step "input: ~$MB MB of real web JSONL -> $INPUT"
python3 "$HERE/make_input.py" --out "$INPUT" --mb "$MB" > "$OUT/input-stats.json"

# Network isolation for the peer runs: a fresh network namespace (needs root / user namespaces).
NONET=()
if unshare -n true 2> /dev/null; then NONET=(unshare -n); fi

if [ "$DO_DATATROVE" = 1 ]; then
  # datatrove loads spaCy's blank("en") pipeline lazily on the first document; it ships inside the
  # spacy wheel, and NLTK punkt is not used for English, so nothing needs fetching. This warm-up
  # (50 documents, not timed) runs with no network at all (when unshare works) to prove it, and
  # compiles the .pyc files so that the timed runs do not.
  step "datatrove warm-up / offline check${NONET:+ (no network: ${NONET[*]})}"
  python3 "$HERE/make_input.py" --head 50 --out "$OUT/smoke.jsonl" > /dev/null 2>&1
  if ! "${NONET[@]}" env HF_HUB_OFFLINE=1 "$PY" "$HERE/datatrove_filters.py" run \
      --input "$OUT/smoke.jsonl" --output "$OUT/out-smoke" > "$OUT/logs/smoke.log" 2>&1; then
    echo "datatrove warm-up failed; see $OUT/logs/smoke.log" >&2; tail -20 "$OUT/logs/smoke.log" >&2
    exit 1
  fi
  rm -rf "$OUT/out-smoke"
  "$PY" - > "$OUT/meta.json" <<'EOF'
import json, platform, time, os
from importlib.metadata import version
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(json.dumps({"datatrove": version("datatrove"), "spacy": version("spacy"),
                  "python": platform.python_version(), "cpu": cpu, "nproc": os.cpu_count(),
                  "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}))
EOF
fi

HAVE_ARCADE=0
if [ "$DO_ARCADE" = 1 ]; then
  if [ -x "$ARCADE" ]; then
    # A private copy, so that a concurrent rebuild of target/ cannot change it mid-run.
    cp "$ARCADE" "$OUT/bin/arcade"
    HAVE_ARCADE=1
  else
    echo "NOTICE: no arcade binary at $ARCADE: build it with" >&2
    echo "          cargo build --release -p arcade-cli" >&2
    echo "        (or point ARCADE=/path/to/arcade at one); timing datatrove only" >&2
  fi
fi

ARCADE_FAILED=0
for round in $(seq 1 "$ROUNDS"); do
  if [ "$DO_DATATROVE" = 1 ]; then
    step "round $round: datatrove (1 task, 1 worker, pinned to CPU 0)"
    "${DRIVER[@]}" time --work "$OUT" --label datatrove --round "$round" --cpus 0 \
      --log "$OUT/logs/datatrove-r$round.log" --clean "$OUT/datatrove" -- \
      "${NONET[@]}" env HF_HUB_OFFLINE=1 "$PY" "$HERE/datatrove_filters.py" run \
      --input "$INPUT" --output "$OUT/datatrove" "${DT_ARGS[@]}" \
      || { echo "datatrove failed; see $OUT/logs/datatrove-r$round.log" >&2; exit 1; }
  fi
  if [ "$HAVE_ARCADE" = 1 ] && [ "$ARCADE_FAILED" = 0 ]; then
    for rep in $(seq 1 "$ARCADE_REPS"); do
      step "round $round: arcade filter --threads 1 (pinned to CPU 0), rep $rep/$ARCADE_REPS"
      if ! "${DRIVER[@]}" time --work "$OUT" --label arcade --round "$round" --cpus 0 \
          --log "$OUT/logs/arcade-r$round.log" --stats "$OUT/arcade/stats.json" -- \
          "$OUT/bin/arcade" filter --input "$INPUT" --output "$OUT/arcade" \
          --stages gopher-repetition,gopher-quality,c4,fineweb-quality --threads 1 --overwrite; then
        echo "NOTICE: \`arcade filter\` failed (not implemented yet?); its output:" >&2
        head -20 "$OUT/logs/arcade-r$round.log" | sed 's/^/    /' >&2
        ARCADE_FAILED=1
        break
      fi
    done
  fi
done

step "report ($OUT/report.md)"
"${DRIVER[@]}" report --work "$OUT"
