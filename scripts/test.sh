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
# Supply chain: audit the pinned set (constraints.txt) against the advisories PyPI publishes; a known
# vulnerability fails the run. torch's CPU build has a local version (+cpu) that PyPI does not list: it
# is audited as the upstream release it is built from. AUDIT=off skips this step (no network).
if [ "${AUDIT:-on}" != "off" ]; then
  pip install -q -c constraints.txt pip-audit
  audit_dir="$(mktemp -d)"
  sed -E 's/^(torch==[^+]+)\+.*/\1/' constraints.txt > "$audit_dir/requirements.txt"
  audit_status=0
  pip-audit -r "$audit_dir/requirements.txt" --no-deps --disable-pip --vulnerability-service pypi \
    --progress-spinner off --format json --output "$audit_dir/audit.json" 2>"$audit_dir/audit.log" || audit_status=$?
  python scripts/audit_report.py "$audit_dir" "$audit_status"
fi
export GRADIO_ANALYTICS_ENABLED=False DO_NOT_TRACK=1 SCARF_NO_ANALYTICS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec python -m pytest "$@"
