#!/usr/bin/env bash
# Set everything up (Python deps, Debian's chromium for the browser tests) and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
bash scripts/setup.sh
. .venv/bin/activate
export GRADIO_ANALYTICS_ENABLED=False DO_NOT_TRACK=1 SCARF_NO_ANALYTICS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec python -m pytest "$@"
