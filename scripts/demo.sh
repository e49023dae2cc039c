#!/usr/bin/env bash
# Create .venv (if missing), install igent, and run the plan's demo offline on the bundled
# campaign with the in-process simulator: no API key, no server to start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
.venv/bin/python -m pip install --quiet -e .
.venv/bin/python -m igent.workflows p1m1m2c --max-items 5 "$@"
# The igent command lives in .venv/bin, which is not on PATH until the venv is activated.
cat <<'HINT'

igent is installed in .venv. To use the igent command:
  source .venv/bin/activate    # then: igent --help
  .venv/bin/igent --help       # or call it without activating
HINT
