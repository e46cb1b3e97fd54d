#!/usr/bin/env bash
# End-to-end benchmark of `arcade pack` against datatrove's tokenize step and a gpt-neox
# preprocess_data.py re-implementation, plus the memory-ceiling check. See benches/PACK_RESULTS.md.
#
#   benches/pack/run.sh                     # everything (~10-15 min on 2 cores)
#   benches/pack/run.sh --rounds 5          # more rounds of the throughput runs
#   benches/pack/run.sh --no-memory         # skip the 2 GB memory-ceiling runs
#   benches/pack/run.sh --report-only       # reprint the last report
#   benches/pack/run.sh -- --wait-max 900   # anything after -- goes to bench.py (see its --help)
#
# Environment: ARCADE_PACK_BENCH_DIR (default /tmp/arcade-pack-bench: inputs, outputs, logs,
# results.jsonl, report.md), ARCADE_PACK_BENCH_VENV (default /tmp/packbench-venv),
# ARCADE_BIN (use this binary instead of building target/release/arcade).
set -euo pipefail
exec < /dev/null  # nothing here reads stdin (and cargo's rustc probe must not read an inherited one)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WS=$(cd "$HERE/../.." && pwd)
WORK=${ARCADE_PACK_BENCH_DIR:-/tmp/arcade-pack-bench}
VENV=${ARCADE_PACK_BENCH_VENV:-/tmp/packbench-venv}
ROUNDS=3
MEMORY=1
REPORT_ONLY=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --no-memory) MEMORY=0; shift ;;
    --report-only) REPORT_ONLY=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$WORK/bin" "$WORK/logs"
PY="$VENV/bin/python"
BENCH=(python3 "$HERE/bench.py" --work "$WORK" --python "$PY" --arcade "$WORK/bin/arcade")

if [ "$REPORT_ONLY" = 1 ]; then
  exec "${BENCH[@]}" --report-only
fi

step() { echo "== $*" >&2; }

step "build arcade (fat LTO: a few minutes)"
if [ -n "${ARCADE_BIN:-}" ]; then
  # (It may be the private copy of the last run already.)
  [ "$ARCADE_BIN" -ef "$WORK/bin/arcade" ] || cp "$ARCADE_BIN" "$WORK/bin/arcade"
else
  (cd "$WS" && cargo build --release -p arcade-cli)
  # A private copy, so that a concurrent rebuild of target/ cannot change it mid-run.
  cp "$WS/target/release/arcade" "$WORK/bin/arcade"
fi
ARCADE="$WORK/bin/arcade"

step "python venv $VENV (benches/pack/requirements.txt)"
[ -x "$PY" ] || python3 -m venv "$VENV"
"$PY" -m pip install -q -r "$HERE/requirements.txt"

step "inputs"
python3 "$HERE/make_input.py" base --out "$WORK/input.jsonl"
"$PY" "$HERE/make_tokenizer.py" --out "$WORK/arcade100k.tokenizer.json"
TOK="$WORK/arcade100k.tokenizer.json"
IN="$WORK/input.jsonl"

step "verify ids: arcade tokenize == HF tokenizers; peers' and arcade pack's outputs == the stream"
V="$WORK/verify"
rm -rf "$V" && mkdir -p "$V"
"$ARCADE" tokenize "$IN" --format jsonl -o "$V/arcade-ids.jsonl" --quiet
"$ARCADE" pack --input "$IN" --output "$V/pack-noshuffle" --no-shuffle --quiet
"$ARCADE" pack --input "$IN" --output "$V/pack-shuffle" --quiet
TOKENIZERS_PARALLELISM=false "$PY" "$HERE/datatrove_tokenize.py" --input "$IN" --tokenizer "$TOK" \
  --output "$V/datatrove" --no-shuffle > "$WORK/logs/verify-datatrove.log" 2>&1
"$PY" "$HERE/neox_style_preprocess.py" --input "$IN" --vocab-file "$TOK" --append-eod \
  --output-prefix "$V/neox" 2> "$WORK/logs/verify-neox.log"
"$PY" "$HERE/verify_ids.py" --input "$IN" --tokenizer "$TOK" --arcade-ids "$V/arcade-ids.jsonl" \
  --neox-bin "$V/neox_text_document.bin" --datatrove-ds "$V/datatrove/tokenized/00000_unshuffled.ds" \
  --pack-noshuffle "$V/pack-noshuffle" --pack-shuffle "$V/pack-shuffle" \
  --stats-out "$WORK/input-stats.json"
rm -rf "$V"

MEM_ARGS=()
if [ "$MEMORY" = 1 ]; then
  # 2 GB of input, and at most ~2.3 GB of bucket files plus ~2.3 GB of shards during a run.
  avail_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
  if [ "$avail_kb" -lt $((12 * 1024 * 1024)) ]; then
    echo "NOTICE: less than 12 GB free under $WORK ($((avail_kb / 1024)) MB): skipping the memory runs" >&2
  else
    step "memory-ceiling inputs: 8 x 0.25 GB of real text + 0.25 GB of digits in $WORK/big (deleted at the end)"
    trap 'rm -rf "$WORK/big" "$WORK/out-mem"' EXIT
    python3 "$HERE/make_input.py" big --base "$IN" --out-dir "$WORK/big" --chunk-mb 250 --chunks 8
    python3 "$HERE/make_input.py" dense --out "$WORK/big/dense.jsonl" --mb 250
    MEM_ARGS=(--memory)
  fi
fi

step "timing: $ROUNDS rounds${MEM_ARGS:+, then memory ceiling}"
"${BENCH[@]}" --rounds "$ROUNDS" "${MEM_ARGS[@]}" "${EXTRA[@]}"
rm -rf "$WORK/out-datatrove" "$WORK/out-neox" "$WORK/out-arcade"
