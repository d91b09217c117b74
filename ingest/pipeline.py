"""Files in, chunks in the store out: read → normalize → chunk → embed → upsert.

Idempotent and restartable: an article whose stored chunks already carry its content
hash (all of them) is skipped; a changed one gets its new chunks written first and
its old version deleted after, so a crash at any point leaves either the old or the
new version findable and the next run finishes the job (tests/test_crash.py kills
runs with SIGKILL to prove it).

The stages overlap: files are parsed, hashed and chunked in low-priority worker processes
(``ingest.workers``, in file order), which also BM25-weigh and tokenize the articles to
write; a reader thread gathers the next batches, the calling thread embeds a batch, and a
writer thread builds the points of the previous batch and writes them. The store is
flushed at the end and at most every ``FLUSH_EVERY_S``; between flushes its write-ahead
log keeps every write.
"""
from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections import ChainMap, deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, MutableMapping

import numpy as np

from assistant.embedders.interface import Embedder
from assistant.settings import Settings
from assistant.store.interface import EVERYTHING, ArticleKey, ChunkPoint, SearchFilter, Store, article_key

from .payload import chunk_payload, embed_text
from .readers import ReadFailure, supported_suffixes
from .workers import ParserPool, Prepared, Versions, read_files

log = logging.getLogger("newsroom.ingest")

BATCH_ARTICLES = 32
# The write-ahead log makes every write survive kill -9; a flush (segments to disk, the
# log truncated) costs a few hundred ms, so it runs at the end and at most this often.
FLUSH_EVERY_S = 60.0
# How often Python hands the GIL between threads while an ingest runs (its default is 5 ms;
# the setting is process-wide, so the app's request threads get it too meanwhile). The
# encoder's thread needs the GIL between matrix products; with the default it waits up to
# 5 ms each time the reader or writer thread holds it (measured: 0.5 s of a 10 s ingest).
GIL_HANDOFF_S = 0.001


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


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The given files, and the supported files under the given folders, sorted.

    A path that is neither is passed on: reading it gives its report line, in order.
    """
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in supported_suffixes():
                    yield child
        else:
            yield path


@dataclass
class SeenSources:
    """What one run read: for ``prune`` (never delete what this run could not read)."""

    articles: set[ArticleKey] = field(default_factory=set)
    source_paths: set[str] = field(default_factory=set)
    failed_files: set[str] = field(default_factory=set)


def _file_part(source_path: str) -> str:
    """'dir/news.zip!a/b.html' -> absolute 'dir/news.zip'; 'x.jsonl' -> absolute 'x.jsonl'."""
    return os.path.abspath(source_path.split("!", 1)[0])


def _normalized_source(source_path: str) -> str:
    file_part = source_path.split("!", 1)[0]
    return os.path.abspath(file_part) + source_path[len(file_part):]


def iter_articles(
    paths: Iterable[Path], settings: Settings, report: IngestReport, seen: SeenSources | None = None,
    *, workers: int = 0, names: dict[str, str] | None = None, collection: str | None = None,
    known: Callable[[str], Versions] | None = None, pool: ParserPool | None = None,
) -> Iterator[Prepared]:
    """Every article under ``paths``, prepared, in file order; each problem becomes a report line.

    ``names`` maps a path to the name it is known by (uploads); ``collection``, when
    given, replaces the articles' own; ``known`` and ``pool``: see ``read_files``.
    """
    for result in read_files(iter_files(paths), settings, workers, names, collection, known, pool):
        failed = False
        for item in result.items:
            if isinstance(item, ReadFailure):
                report.fail(item.where, item.error)
                failed = True
                continue
            if seen is not None:
                seen.articles.add(item.key)
                seen.source_paths.add(_normalized_source(item.article.source_path or str(result.path)))
            yield item
        if seen is not None and failed:
            seen.failed_files.add(os.path.abspath(result.path))


def _batched(items: Iterable[Prepared], size: int) -> Iterator[list[Prepared]]:
    batch: list[Prepared] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Prefetch:
    """The next batches of articles, read in a thread while the encoder works on this one.

    Reading (in worker processes, or in this thread while they start) then overlaps with
    encoding instead of taking turns; at most ``depth`` batches wait, so memory stays bounded.
    A reading error is raised in the consuming thread, in order; ``close`` stops the reading and
    closes ``source`` (which stops the parser processes) in the thread that was reading it.
    """

    _END = object()

    def __init__(self, batches: Iterator[list[Prepared]], source: Iterator[Prepared], depth: int = 2):
        self.batches, self.source = batches, source
        self.queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ingest-reader", daemon=True)
        self.thread.start()

    def _put(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for batch in self.batches:
                if not self._put(batch):
                    return
            self._put(self._END)
        except BaseException as exc:  # handed to the consuming thread
            self._put(exc)
        finally:
            self.source.close()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[list[Prepared]]:
        while (item := self.queue.get()) is not self._END:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def close(self) -> None:
        self.stop.set()
        while self.thread.is_alive():
            try:
                self.queue.get(timeout=0.1)
            except queue.Empty:
                pass
        self.thread.join()


@dataclass
class _Planned:
    """One batch's articles to (re)write, each with whether an older version is stored."""

    items: list[tuple[Prepared, bool]]  # an article, replaces a stored version
    vectors: dict[str, np.ndarray]


def _plan(batch: list[Prepared], store: Store, report: IngestReport, written: MutableMapping[ArticleKey, str],
          planned_ids: set[ArticleKey] | None = None, view: SearchFilter = EVERYTHING) -> list[tuple[Prepared, bool]]:
    """Which articles of a batch need writing; counts the rest as unchanged.

    An article is its (collection, id). ``written`` holds the articles this run already queued
    for writing (with their hash): the store may not show them yet when the writer thread is a
    batch behind.

    ``planned_ids``, when given, says the store held no point when this run began and holds
    every article this run planned before this batch: only those can be stored, so only those
    are looked up (a first ingest then makes no lookups: each one waits for the writer's GIL).
    ``view``: the stored chunks this write may see (see ``ingest``); others count as absent.
    """
    by_key = {item.key: item for item in batch}  # the same article twice in one batch: the last one read wins
    lookup = list(by_key) if planned_ids is None else [k for k in by_key if k in planned_ids]
    versions = store.article_versions(lookup, view) if lookup else {}
    if planned_ids is not None:
        planned_ids.update(by_key)
    todo = []
    for key, item in by_key.items():
        digest, n_chunks = item.digest, len(item.chunks)
        stored = {written[key]: n_chunks} if written.get(key) == digest else versions.get(key, {})
        if stored == {digest: n_chunks}:
            report.unchanged += 1
            continue
        replaces = key in versions or key in written
        todo.append((item, replaces))
        written[key] = digest
        if replaces:
            report.updated += 1
        else:
            report.ingested += 1
        report.chunks += n_chunks
    return todo


_handoff_lock = threading.Lock()
_handoff_users = 0
_handoff_default = 0.005  # what the interval was when the first running ingest began


@contextmanager
def _prompt_gil_handoffs() -> Iterator[None]:
    """``GIL_HANDOFF_S`` while any ingest in this process runs; the interpreter's own after."""
    global _handoff_users, _handoff_default
    with _handoff_lock:
        if _handoff_users == 0:
            _handoff_default = sys.getswitchinterval()
            sys.setswitchinterval(min(GIL_HANDOFF_S, _handoff_default))
        _handoff_users += 1
    try:
        yield
    finally:
        with _handoff_lock:
            _handoff_users -= 1
            if _handoff_users == 0:
                sys.setswitchinterval(_handoff_default)


def _write(planned: _Planned, store: Store, view: SearchFilter = EVERYTHING) -> None:
    points: list[ChunkPoint] = []
    row = 0
    for item, _ in planned.items:
        for chunk, sparse in zip(item.chunks, item.sparse_vectors()):
            payload = chunk_payload(item.article, chunk, len(item.chunks), item.digest)
            dense = {name: v[row] for name, v in planned.vectors.items()}  # float32 rows, no list copies
            points.append(ChunkPoint(payload["chunk_id"], dense, sparse, payload))
            row += 1
    # New chunks first, then the old version's: a kill in between leaves both versions,
    # which the next run sees as 'not stored as it is' and finishes.
    store.upsert(points)
    log.info("upserted %d chunks of %d articles", len(points), len(planned.items))
    for item, replaces in planned.items:
        if replaces:  # an article never stored has nothing to delete
            store.delete_article(item.key, view, keep_hash=item.digest)


class _Writer:
    """Builds points and writes them in a thread, one batch behind the encoder.

    Batches are written in order, each one's upsert before its deletes, so what a kill
    leaves behind is the same as with writes in line; the encoder meanwhile works on the
    next batch (building payloads, BM25 vectors of articles read in this process, the store's work).
    """

    def __init__(self, store: Store, view: SearchFilter = EVERYTHING):
        self.store, self.view = store, view
        self.queue: queue.Queue[_Planned | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (planned := self.queue.get()) is not None:
            if self.error is None:
                try:
                    _write(planned, self.store, self.view)
                except BaseException as exc:  # handed to the ingesting thread
                    self.error = exc

    def put(self, planned: _Planned) -> None:
        self.check()
        self.queue.put(planned)

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Wait for every queued batch to be written; re-raise a write error."""
        self.queue.put(None)
        self.thread.join()
        self.check()


def write_articles(
    batch: list[Prepared],
    store: Store,
    embedders: list[Embedder],
    settings: Settings,
    report: IngestReport,
    written: MutableMapping[ArticleKey, str] | None = None,
    writer: _Writer | None = None,
    planned_ids: set[ArticleKey] | None = None,
    view: SearchFilter = EVERYTHING,
) -> None:
    """Store one batch of prepared articles, skipping those already stored as they are
    (``planned_ids``, ``view``: see ``_plan``)."""
    todo = _plan(batch, store, report, {} if written is None else written, planned_ids, view)
    if not todo:
        return
    texts = [embed_text(item.article, c, settings.embed_title) for item, _ in todo for c in item.chunks]
    vectors = {}
    for e in embedders if texts else []:
        tokenized = any(e.name in item.tokens for item, _ in todo)  # by a parser process (not all, maybe)
        given = {"tokens": [t for item, _ in todo for t in item.chunk_tokens(e.name)]} if tokenized else {}
        vectors[e.name] = np.asarray(e.embed_passages(texts, **given), dtype=np.float32)
    planned = _Planned(todo, vectors)
    if writer is None:
        _write(planned, store, view)
    else:
        writer.put(planned)


def prune(store: Store, seen: SeenSources, roots: Iterable[Path]) -> int:
    """Delete stored articles read from under ``roots`` whose source was not seen this run.

    A root is a folder (everything below it) or a file (itself, and for an archive or
    mailbox its members). Articles of files that failed this run are kept: a file that
    could not be read is not a file that was removed. Embargoed articles are pruned like any
    other (a prune is always a trusted write). Returns the number deleted.
    """
    folders = [os.path.abspath(r) for r in roots]
    if not folders:
        return 0

    def under(file_part: str) -> bool:
        return any(file_part == f or file_part.startswith(f.rstrip(os.sep) + os.sep) for f in folders)

    doomed: set[ArticleKey] = set()
    for payload in store.scroll(EVERYTHING, ["article_id", "collection", "source_path"]):
        key = article_key(payload)
        source_path = payload.get("source_path") or ""
        if not key[1] or not source_path or key in seen.articles:
            continue
        file_part = _file_part(source_path)
        if not under(file_part) or file_part in seen.failed_files:
            continue
        if _normalized_source(source_path) in seen.source_paths:
            continue
        doomed.add(key)
    for key in sorted(doomed):
        store.delete_article(key, EVERYTHING)
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
    workers: int | None = None,
    names: dict[str, str] | None = None,
    collection: str | None = None,
    pool: ParserPool | None = None,
    untrusted: bool = False,
) -> IngestReport:
    """Read, chunk, embed and store ``paths``.

    An article is its (collection, id): the same id in two collections is two articles.
    ``untrusted=True`` (a write from someone who may not see everything: an upload) sees only
    the chunks its articles' collections show now (no embargoed ones): an article it cannot see
    counts as absent ("ingested", as a new id), is neither deleted nor replaced (its chunks
    stay beside the new ones), and cannot be pruned. A trusted write (the CLI, local) sees
    every chunk of a collection, embargoed or not.

    With ``prune=True``, stored articles whose source file lies under the given
    paths but was not seen in this run (deleted or renamed files, archive members
    gone) are deleted afterwards; ``report.pruned`` counts them. Files are parsed in
    ``pool``'s processes, else in ``workers`` started for this run (default
    ``settings.ingest_workers``; 0: in this one); see ingest/workers.py.
    ``names`` gives files the names they are known by (uploads: the original file
    name instead of a temporary path); ``collection`` overrides the articles' own.
    """
    paths = [Path(p) for p in paths]
    if untrusted and prune:
        raise ValueError("an untrusted ingest cannot prune: it would delete articles it may not see")
    # What this write sees of the store: everything, or what the target collection shows now
    # (look-ups by article narrow it to each article's collection: versions_filter).
    view = EVERYTHING
    if untrusted:
        view = SearchFilter(collections=(collection,) if collection else None, now=datetime.now(timezone.utc))
    if workers is None:
        workers = settings.ingest_workers
    report = IngestReport()
    seen = SeenSources()
    started = last_flush = time.perf_counter()
    empty = store.count(EVERYTHING) == 0
    # Into an empty embedded store (a first import) only ids this run already planned can be
    # stored. A server may have other writers, so there every id is looked up.
    planned_ids: set[ArticleKey] | None = set() if settings.embedded and empty else None
    # Parser processes skip BM25 and tokenizing for articles stored as they are (a hint, looked
    # up per file: what to write is still decided here, by _plan); nothing is stored in a first import.
    known = None if empty else (lambda source_path: store.source_versions(source_path, view))
    articles = iter_articles(paths, settings, report, seen, workers=workers, names=names, collection=collection,
                             known=known, pool=pool)
    writer = _Writer(store, view)
    # What the last batches queued: the writer may not have stored it yet (a bounded window,
    # it is at most two batches behind).
    recent: deque[dict[ArticleKey, str]] = deque(maxlen=4)
    batches = _Prefetch(_batched(articles, BATCH_ARTICLES), articles)
    with _prompt_gil_handoffs():
        try:
            for batch in batches:
                recent.appendleft({})
                write_articles(batch, store, embedders, settings, report, ChainMap(*recent), writer, planned_ids, view)
                report.elapsed = time.perf_counter() - started
                if report.elapsed - (last_flush - started) >= FLUSH_EVERY_S:
                    writer.close()
                    store.flush()
                    writer = _Writer(store, view)
                    last_flush = time.perf_counter()
                if progress:
                    progress(report)
        finally:
            batches.close()  # stops the reading and the parser processes, also when a write failed
            writer.close()
    store.flush()
    if prune:
        report.pruned = _prune(store, seen, [p for p in paths if p.exists()])
    report.elapsed = time.perf_counter() - started
    return report


_prune = prune
