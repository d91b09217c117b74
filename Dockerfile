# The newsroom assistant: web app + HTTP API (and the CLI) in one image.
# Build: docker build -t newsroom-assistant .   Run with docker-compose.yml (Qdrant beside it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    DO_NOT_TRACK=1 \
    SCARF_NO_ANALYTICS=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    NEWSROOM_DATA_DIR=/data \
    NEWSROOM_HOST=0.0.0.0 \
    NEWSROOM_PORT=7860

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin newsroom \
    && mkdir -p /data /app && chown newsroom:newsroom /data

WORKDIR /app

# The CPU build of torch first, the same pin as scripts/setup.sh: anything else
# would pull a multi-GB CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# Then the project with the tested, pinned set (constraints.txt), as scripts/setup.sh does.
COPY constraints.txt pyproject.toml README.md ./
COPY assistant ./assistant
COPY ingest ./ingest
COPY prompts ./prompts
RUN pip install -c constraints.txt . \
    && python -c "import assistant.cli.main, assistant.store.server"

USER newsroom
VOLUME ["/data"]
EXPOSE 7860

HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('NEWSROOM_PORT', '7860'), timeout=4)" || exit 1

CMD ["newsroom", "serve", "--host", "0.0.0.0"]
