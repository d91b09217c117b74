#!/usr/bin/env bash
# Set everything up, ingest a sample archive, and serve the app at http://127.0.0.1:7860.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export NEWSROOM_DATA_DIR="${NEWSROOM_DATA_DIR:-data}"
# A store made by an earlier version is rebuilt in the current format (copies points; a no-op otherwise).
if [ -z "${NEWSROOM_QDRANT_URL:-}" ] && [ -f "$NEWSROOM_DATA_DIR/qdrant/edge_config.json" ]; then
  newsroom upgrade-store
fi
if [ -d ../shared/corpora ]; then
  # The seed press release (fr) plus a mixed English/Chinese archive of 240 passages.
  newsroom ingest ../shared/corpora/seed/article.jsonl ../shared/corpora/xquad/corpus.mixed-en-zh.jsonl
else
  newsroom ingest samples/
fi
exec newsroom serve --host "${NEWSROOM_HOST:-127.0.0.1}" --port "${NEWSROOM_PORT:-7860}"
