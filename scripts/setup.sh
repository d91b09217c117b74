#!/usr/bin/env bash
# Create .venv and install the project with the tested, pinned dependency set.
# Safe to run again: an up-to-date environment installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The CPU build of torch first: anything else would pull a multi-GB CUDA build.
python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null \
  || pip install -q torch==2.13.0
pip install -q -c constraints.txt -e ".[test]"
