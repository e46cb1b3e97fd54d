#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs the Rust
# tests of every crate (unit, differential against tiktoken-rs, property, end-to-end of the
# `arcade` binary), and the numpy check that reads packed shards the way a trainer does.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import numpy' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check 'numpy>=1.24'
fi

cargo test --workspace --no-fail-fast
