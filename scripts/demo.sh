#!/usr/bin/env bash
# Create .venv (if missing), install igent, and run the plan's demo offline on the bundled
# campaign with the in-process simulator: no API key, no server to start.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
.venv/bin/python -m igent.workflows p1m1m2c --max-items 5 "$@"
