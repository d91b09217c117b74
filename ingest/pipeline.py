"""Files in, chunks in the store out: read → normalize → chunk → embed → upsert.

Idempotent and restartable: an article whose stored chunks already carry its content
hash (all of them) is skipped; a changed one gets its new chunks written first and
its old version deleted after, so a crash at any point leaves either the old or the
new version findable and the next run finishes the job.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from assistant.embed import Embedder
from assistant.schema import chunk_payload, embed_text
from assistant.settings import Settings
from assistant.sparse import document_vector
from assistant.store import ChunkPoint, SearchFilter, Store

from .article import Article
from .chunking import Chunk, chunk_text
from .readers.jsonl import set_default_mapping
from .readers import ReadFailure, check_content, reader_for, supported_suffixes

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
        error = " ".join(str(error).split())  # one line, whatever a parser put in its message
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


@dataclass
class SeenSources:
    """What one run read: for ``prune`` (never delete what this run could not read)."""

    article_ids: set[str] = field(default_factory=set)
    source_paths: set[str] = field(default_factory=set)
    failed_files: set[str] = field(default_factory=set)


def _file_part(source_path: str) -> str:
    """'dir/news.zip!a/b.html' -> absolute 'dir/news.zip'; 'x.jsonl' -> absolute 'x.jsonl'."""
    return os.path.abspath(source_path.split("!", 1)[0])


def _normalized_source(source_path: str) -> str:
    file_part = source_path.split("!", 1)[0]
    return os.path.abspath(file_part) + source_path[len(file_part):]


def iter_articles(
    paths: Iterable[Path], settings: Settings, report: IngestReport, seen: SeenSources | None = None
) -> Iterator[Article]:
    limit = int(settings.max_file_mb * 1024 * 1024)
    for path in iter_files(paths, report):
        failures_before = len(report.failed)
        yield from _read_file(path, limit, settings, report, seen)
        if seen is not None and len(report.failed) > failures_before:
            seen.failed_files.add(os.path.abspath(path))


def _human(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB" if size >= 1e3 else f"{size} bytes"


def _read_file(path: Path, limit: int, settings: Settings, report: IngestReport, seen: SeenSources | None) -> Iterator[Article]:
    reader = reader_for(path)
    if reader is None:
        report.fail(str(path), f"unsupported file type '{path.suffix or '(none)'}'; supported: {', '.join(supported_suffixes())}")
        return
    try:
        size = path.stat().st_size
        if size == 0:
            report.fail(str(path), "empty file (0 bytes)")
            return
        if size > limit:
            report.fail(str(path), f"file is {_human(size)}, over the {settings.max_file_mb:g} MB limit (NEWSROOM_MAX_FILE_MB)")
            return
        with open(path, "rb") as fh:
            check_content(path.suffix, fh.read(16), str(path))
        for item in reader.read(path):
            if isinstance(item, ReadFailure):
                report.fail(item.where, item.error)
            else:
                if seen is not None:
                    seen.article_ids.add(item.id)
                    seen.source_paths.add(_normalized_source(item.source_path or str(path)))
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


def prune(store: Store, seen: SeenSources, roots: Iterable[Path]) -> int:
    """Delete stored articles read from under ``roots`` whose source was not seen this run.

    A root is a folder (everything below it) or a file (itself, and for an archive or
    mailbox its members). Articles of files that failed this run are kept: a file that
    could not be read is not a file that was removed. Returns the number deleted.
    """
    folders = [os.path.abspath(r) for r in roots]
    if not folders:
        return 0

    def under(file_part: str) -> bool:
        return any(file_part == f or file_part.startswith(f.rstrip(os.sep) + os.sep) for f in folders)

    doomed: set[str] = set()
    for payload in store.scroll(SearchFilter(), ["article_id", "source_path"]):
        article_id = payload.get("article_id")
        source_path = payload.get("source_path") or ""
        if not article_id or not source_path or article_id in seen.article_ids:
            continue
        file_part = _file_part(source_path)
        if not under(file_part) or file_part in seen.failed_files:
            continue
        if _normalized_source(source_path) in seen.source_paths:
            continue
        doomed.add(article_id)
    for article_id in sorted(doomed):
        store.delete_article(article_id)
    if doomed:
        store.flush()
    return len(doomed)


def ingest(
    paths: Iterable[Path],
    store: Store,
    embedders: list[Embedder],
    settings: Settings,
    progress: Callable[[IngestReport], None] | None = None,
    *,
    prune: bool = False,
) -> IngestReport:
    """Read, chunk, embed and store ``paths``.

    With ``prune=True``, stored articles whose source file lies under the given
    paths but was not seen in this run (deleted or renamed files, archive members
    gone) are deleted afterwards; ``report.pruned`` counts them.
    """
    paths = [Path(p) for p in paths]
    set_default_mapping(settings.field_map)
    report = IngestReport()
    seen = SeenSources()
    started = time.perf_counter()
    for batch in _batched(iter_articles(paths, settings, report, seen), BATCH_ARTICLES):
        write_articles(batch, store, embedders, settings, report)
        report.elapsed = time.perf_counter() - started
        if progress:
            progress(report)
    if prune:
        report.pruned = _prune(store, seen, [p for p in paths if p.exists()])
    report.elapsed = time.perf_counter() - started
    return report


_prune = prune
