"""Files in, chunks in the store out: read → normalize → chunk → embed → upsert.

Idempotent and restartable: an article whose stored chunks already carry its content
hash (all of them) is skipped; a changed one gets its new chunks written first and
its old version deleted after, so a crash at any point leaves either the old or the
new version findable and the next run finishes the job.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from assistant.embed import Embedder
from assistant.schema import chunk_payload, embed_text
from assistant.settings import Settings
from assistant.sparse import document_vector
from assistant.store import ChunkPoint, Store

from .article import Article
from .chunking import Chunk, chunk_text
from .readers import ReadFailure, reader_for, supported_suffixes

log = logging.getLogger("newsroom.ingest")

BATCH_ARTICLES = 32


@dataclass
class IngestReport:
    ingested: int = 0
    unchanged: int = 0
    updated: int = 0
    pruned: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0
    elapsed: float = 0.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["elapsed"] = round(self.elapsed, 2)
        return out

    def fail(self, where: str, error: str) -> None:
        self.failed.append({"path": where, "error": error})
        log.warning("%s: %s", where, error)


def iter_files(paths: Iterable[Path], report: IngestReport) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in supported_suffixes():
                    yield child
        elif path.is_file():
            yield path
        else:
            report.fail(str(path), "no such file or folder")


def iter_articles(paths: Iterable[Path], settings: Settings, report: IngestReport) -> Iterator[Article]:
    limit = int(settings.max_file_mb * 1024 * 1024)
    for path in iter_files(paths, report):
        reader = reader_for(path)
        if reader is None:
            report.fail(str(path), f"unsupported file type '{path.suffix or '(none)'}'; supported: {', '.join(supported_suffixes())}")
            continue
        try:
            size = path.stat().st_size
            if size == 0:
                report.fail(str(path), "empty file (0 bytes)")
                continue
            if size > limit:
                report.fail(str(path), f"file is {size / 1e6:.0f} MB, over the {settings.max_file_mb:g} MB limit (NEWSROOM_MAX_FILE_MB)")
                continue
            for item in reader.read(path):
                if isinstance(item, ReadFailure):
                    report.fail(item.where, item.error)
                else:
                    yield item
        except Exception as exc:  # any parser failure is this file's problem, not the batch's
            message = str(exc)
            if not message.startswith(str(path)):
                message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
            report.fail(str(path), message.replace(f"{path}: ", ""))


def _batched(items: Iterable[Article], size: int) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_articles(
    articles: list[Article],
    store: Store,
    embedders: list[Embedder],
    settings: Settings,
    report: IngestReport,
) -> None:
    """Store one batch of articles, skipping those already stored as they are."""
    # The same id twice in one batch: the last one read wins.
    by_id = {a.id: a for a in articles}
    versions = store.article_versions(list(by_id))
    todo: list[tuple[Article, str, list[Chunk]]] = []
    for article in by_id.values():
        digest = article.content_hash()
        chunks = chunk_text(article.body, settings.chunk_max_tokens, settings.chunk_min_tokens, settings.chunk_overlap_tokens)
        stored = versions.get(article.id, {})
        if stored == {digest: len(chunks)}:
            report.unchanged += 1
            continue
        todo.append((article, digest, chunks))
    if not todo:
        return
    texts = [embed_text(a, c, settings.embed_title) for a, _, chunks in todo for c in chunks]
    vectors = {e.name: e.embed_passages(texts) for e in embedders} if texts else {}
    points: list[ChunkPoint] = []
    row = 0
    for article, digest, chunks in todo:
        for chunk in chunks:
            payload = chunk_payload(article, chunk, len(chunks), digest)
            dense = {name: np.asarray(v[row]).tolist() for name, v in vectors.items()}
            points.append(ChunkPoint(payload["chunk_id"], dense, document_vector(chunk.text), payload))
            row += 1
    store.upsert(points)
    for article, digest, chunks in todo:
        store.delete_article(article.id, keep_hash=digest)
        if article.id in versions:
            report.updated += 1
        else:
            report.ingested += 1
        report.chunks += len(chunks)
    store.flush()


def ingest(
    paths: Iterable[Path],
    store: Store,
    embedders: list[Embedder],
    settings: Settings,
    progress: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    report = IngestReport()
    started = time.perf_counter()
    for batch in _batched(iter_articles(paths, settings, report), BATCH_ARTICLES):
        write_articles(batch, store, embedders, settings, report)
        report.elapsed = time.perf_counter() - started
        if progress:
            progress(report)
    report.elapsed = time.perf_counter() - started
    return report
