#!/usr/bin/env bash
# One command sets everything up: PyTorch (CPU build), the package with its test tools, OCR and the Milvus
# store (Milvus Lite), and the two default models (fetched and verified by SHA-256; see `rag models list`).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
# A CPU build of PyTorch first: an unpinned torch would pull a multi-GB CUDA build.
"$PY" -m pip install --quiet "torch==2.13.0"
# llama-cpp-python compiles from source the first time (about 7 minutes); pip caches the wheel.
"$PY" -m pip install --quiet -e ".[dev,ocr,milvus]"
"$PY" -m rag models pull
