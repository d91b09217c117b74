"""Parse and prepare files in worker processes, results handed back in file order.

Preparing an article (its content hash, its chunks, their BM25 vectors and its chunk
texts as the embedders' tokenizers cut them) happens where it was parsed. On a small
machine the encoder is the cost, and it runs in the ingesting process: its thread needs
that process's GIL between matrix products, and its BLAS threads need the cores. So the
workers run at a low priority (``WORKER_NICENESS``): they use the cycles the encoder
leaves idle (it is single-threaded between its matrix products) instead of taking its
cores, and the tokenizing they take over (USE's tokenizer is pure Python, a fifth of
its time) no longer holds the encoder's GIL. Measured in bench/README.md.

An article the store already holds as it is (``known``: what the store holds of each file,
looked up by the ingesting process by ``source_path``) is only hashed and chunked: a
re-ingest costs no BM25 or tokenizing. (Members of ZIP archives, mailboxes and mail
attachments carry their member's name, 'x.zip!a.html', which that lookup does not see:
they are prepared in full again; what is written is decided in the pipeline either way.)
Articles read in this process are prepared the same lazy way, their BM25 vectors and tokens
computed only for those written. Files are read here until a worker is up, so small
ingests and re-ingests do not wait for the workers to start; a ``ParserPool`` given by the
caller (the app's) stays up between ingests.

At most ``2 × workers`` files are in flight, so memory stays bounded however large the
archive is (each file is also bounded by ``max_file_mb``). A file prepared in full takes
about 7× its size in memory (its articles and chunks 2.7×, tokens and BM25 vectors as numpy
arrays; as Python lists 23×), so files over ``FULL_PREPARE_MAX_BYTES`` come back only
hashed and chunked, like files read here. Results come back in the order the files were
listed, so ids, report lines and writes are the same whatever the number of workers. A
file that kills its parser process (a native crash, the kernel's OOM killer) is read again
alone; if it kills that process too, it becomes one report line and the batch goes on.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from assistant.embedders.dense import passage_tokenizers
from assistant.embedders.interface import Tokenizer
from assistant.embedders.sparse import document_vector
from assistant.settings import Settings
from assistant.store.interface import ArticleKey, Versions

from .article import Article
from .chunking import Chunk, chunk_text
from .payload import embed_text
from .readers import ReadFailure, check_content, reader_for, supported_suffixes
from .readers.base import aliased, display_path
from .readers.jsonl import set_default_mapping


@dataclass
class Prepared:
    """An article ready to embed: its content hash and chunks; where it was prepared in
    full, also their BM25 vectors and, per embedder that takes them, their tokens. Both are
    numpy arrays: in memory, in the worker and here, about a fifth of Python lists' size
    (pickled the two are the same size)."""

    article: Article
    digest: str
    chunks: list[Chunk]
    sparse: list[tuple[np.ndarray, np.ndarray]] | None = None  # per chunk: term ids (int32), weights (float64)
    tokens: dict[str, list[np.ndarray]] = field(default_factory=dict)  # per embedder, per chunk (int32)

    def sparse_vectors(self) -> list[tuple[list[int], list[float]]]:
        """Per chunk its BM25 vector as ``document_vector`` gives it (computed now if not before)."""
        if self.sparse is None:
            return [document_vector(c.text) for c in self.chunks]
        return [(ids.tolist(), weights.tolist()) for ids, weights in self.sparse]

    def chunk_tokens(self, embedder: str) -> list[list[int] | None]:
        """Per chunk its tokens for ``embedder`` as its tokenizer gave them, or None (not tokenized)."""
        tokens = self.tokens.get(embedder)
        return [t.tolist() for t in tokens] if tokens is not None else [None] * len(self.chunks)

    @property
    def key(self) -> ArticleKey:
        """The article's identity: (collection, id)."""
        return (self.article.collection, self.article.id)


def prepare(article: Article, settings: Settings, collection: str | None = None, *,
            known: Versions | None = None, tokenizers: dict[str, Tokenizer] | None = None) -> Prepared:
    """Hash and chunk an article (``collection``, when given, replaces its own first). With
    ``known``, an article not stored as it is also gets its BM25 vectors and its tokens."""
    if collection:
        article.collection = collection
    chunks = chunk_text(article.body, settings.chunk_max_tokens, settings.chunk_min_tokens,
                        settings.chunk_overlap_tokens)
    item = Prepared(article, article.content_hash(), chunks)
    if known is not None and known.get(item.key) != {item.digest: len(chunks)}:
        item.sparse = [(np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float64))
                       for ids, weights in item.sparse_vectors()]  # term ids are 31-bit
        if tokenizers:
            texts = [embed_text(article, c, settings.embed_title) for c in chunks]
            item.tokens = {name: [np.asarray(t, dtype=np.int32) for t in tokenize(texts)]
                           for name, tokenize in tokenizers.items()}
    return item


@dataclass
class FileResult:
    """What one file gave: its prepared articles and its report lines, in reading order."""

    path: Path
    items: Iterable[Prepared | ReadFailure] = field(default_factory=list)


def _human(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB" if size >= 1e3 else f"{size} bytes"


def read_items(path: Path, settings: Settings, name: str | None = None) -> Iterator[Article | ReadFailure]:
    """The articles of one file and a ReadFailure per problem; never raises.

    ``name`` is how the file is known (an upload's original name): it replaces the
    path in report lines, ``source_path`` and file-derived article ids.
    """
    with aliased(path, name) if name else nullcontext():
        where = display_path(path)
        if not path.is_file():
            yield ReadFailure(where, "no such file or folder" if not path.exists() else "not a regular file")
            return
        reader = reader_for(path)
        if reader is None:
            yield ReadFailure(where, f"unsupported file type '{path.suffix or '(none)'}'; "
                                     f"supported: {', '.join(supported_suffixes())}")
            return
        try:
            size = path.stat().st_size
            if size == 0:
                yield ReadFailure(where, "empty file (0 bytes)")
                return
            limit = int(settings.max_file_mb * 1024 * 1024)
            if size > limit:
                yield ReadFailure(where, f"file is {_human(size)}, over the {settings.max_file_mb:g} MB limit "
                                         f"(NEWSROOM_MAX_FILE_MB)")
                return
            with open(path, "rb") as fh:
                check_content(path.suffix, fh.read(16), where)
            yield from reader.read(path)
        except Exception as exc:  # any parser failure is this file's problem, not the batch's
            message = str(exc)
            if message.startswith(f"{where}: "):
                message = message[len(where) + 2:]
            elif message.startswith(str(path)):
                message = message[len(str(path)):].lstrip(": ")
            else:
                message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
            yield ReadFailure(where, message)


def read_prepared(path: Path, settings: Settings, name: str | None = None, collection: str | None = None,
                  known: Versions | None = None, tokenizers: dict[str, Tokenizer] | None = None,
                  ) -> Iterator[Prepared | ReadFailure]:
    """``read_items`` with each article prepared (see ``prepare``); never raises."""
    for item in read_items(path, settings, name):
        yield item if isinstance(item, ReadFailure) else prepare(item, settings, collection, known=known,
                                                                 tokenizers=tokenizers)


# A worker prepares a file in full only up to this size (see the module's docstring).
FULL_PREPARE_MAX_BYTES = 32 * 1024 * 1024

# Parser processes yield the cores to the encoder: a niceness of 15 gives them ~1/30 of a
# core's time against a busy process of niceness 0, and all of an idle one.
WORKER_NICENESS = 15

_worker_settings: Settings | None = None
_worker_tokenizers: dict[str, Tokenizer] = {}


def _init_worker(settings: Settings, parent: int) -> None:
    global _worker_settings, _worker_tokenizers
    _die_with_parent(parent)
    try:
        os.nice(WORKER_NICENESS)
    except (AttributeError, OSError):  # no niceness here (Windows): the workers then share the cores evenly
        pass
    _worker_settings = settings
    set_default_mapping(settings.field_map)
    _worker_tokenizers = passage_tokenizers(settings)


def _ready() -> None:
    """Done once a worker has started (a no-op task)."""


def _die_with_parent(parent: int) -> None:
    """A parser process must not outlive an ingest killed with kill -9.

    ``parent`` is the ingesting process's pid, passed in: a worker still importing when its
    parent was killed would otherwise take its new parent (init) for the one to watch.
    """
    try:  # Linux: the kernel kills us when the parent goes, even mid-parse
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:  # elsewhere: notice the parent is gone between files
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _read_in_worker(path: Path, name: str | None, collection: str | None, known: Versions) -> FileResult:
    assert _worker_settings is not None
    try:
        in_full: Versions | None = known if path.stat().st_size <= FULL_PREPARE_MAX_BYTES else None
    except OSError:  # gone or unreadable: read_items says so
        in_full = known
    return FileResult(path, list(read_prepared(path, _worker_settings, name, collection, in_full, _worker_tokenizers)))


class ParserPool:
    """Parser processes, started when first needed (``start``) and then kept for every
    ingest given the pool until ``close`` (the app keeps one: an upload then waits for no
    process to boot). ``ready()`` once a worker is up. A pool whose process died (a file
    crashed it, in this ingest or an earlier one) gets new processes at the next submit."""

    def __init__(self, workers: int, settings: Settings):
        self.workers, self.settings = max(1, workers), settings
        self.executor: ProcessPoolExecutor | None = None
        # The one thread that starts the processes (they start at a submit): a process's
        # parent-death signal (_die_with_parent) fires when the *thread* that started it ends,
        # and an ingest's reader thread ends with the ingest, while the pool serves the next.
        self._spawner: ThreadPoolExecutor | None = None
        self._started: Future | None = None
        self._used = self._closed = False
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.executor is not None

    def start(self) -> ParserPool:
        with self._lock:
            self._start()
        return self

    def _start(self) -> None:
        if self._closed:
            raise RuntimeError("the parser processes were shut down (the assistant was closed)")
        if self.executor is None:
            self._spawner = ThreadPoolExecutor(1, thread_name_prefix="parser-spawner")
            self._renew()

    def _renew(self) -> None:
        assert self._spawner is not None
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._new(self.workers)
        self._started = self._spawner.submit(self.executor.submit, _ready).result()
        self._used = False

    def ready(self) -> bool:
        return self._started is not None and self._started.done()

    def _new(self, workers: int) -> ProcessPoolExecutor:
        # spawn, not fork: the parent holds model and store threads that a fork would copy mid-flight.
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(self.settings, os.getpid()))

    def submit(self, path: Path, name: str | None, collection: str | None, known: Versions) -> Future:
        with self._lock:
            self._start()
            try:
                return self._submit(path, name, collection, known)
            except BrokenProcessPool:
                # A process died since the last submit: the files in flight say so when collected
                # (and are read again alone); this one goes to new processes.
                self._renew()
                return self._submit(path, name, collection, known)

    def _submit(self, path: Path, name: str | None, collection: str | None, known: Versions) -> Future:
        assert self._spawner is not None and self.executor is not None
        self._used = True
        return self._spawner.submit(self.executor.submit, _read_in_worker, path, name, collection, known).result()

    def renew(self) -> None:
        """New processes, after one died."""
        with self._lock:
            if self.executor is not None and not self._closed:
                self._renew()

    def alone(self, path: Path, name: str | None, collection: str | None, known: Versions) -> FileResult:
        """Read one file in a process of its own: the suspect after a worker died."""
        with self._new(1) as solo:
            try:
                return solo.submit(_read_in_worker, path, name, collection, known).result()
            except BrokenProcessPool:
                return FileResult(path, [ReadFailure(name or str(path), "the parser process died reading this file "
                                                                          "(a crash or out of memory)")])

    def close(self) -> None:
        """Stop the processes, for good (waiting for the files they are reading)."""
        with self._lock:
            self._closed = True
            if self.executor is None:
                return
            if not self._used:  # nothing was sent to it: do not wait for a worker still starting
                for process in list(getattr(self.executor, "_processes", {}).values()):
                    process.kill()
            self.executor.shutdown(wait=True, cancel_futures=True)
            if self._spawner is not None:
                self._spawner.shutdown(wait=True)
            self.executor = self._spawner = self._started = None


def read_files(files: Iterable[Path], settings: Settings, workers: int, names: dict[str, str] | None = None,
               collection: str | None = None, known: Callable[[str], Versions] | None = None,
               pool: ParserPool | None = None) -> Iterator[FileResult]:
    """Read and prepare ``files`` in order, in parser processes: ``pool``'s (started here if
    it is not running and there are two files or more; left running), else ``workers``
    started for these files when there are two or more (0: all here).

    ``known`` gives what the store holds of a file (by the name its articles carry as
    ``source_path``); without it every article read in a worker is prepared in full (a first
    ingest into an empty store). Files are read here until a worker has started; items
    read here are streamed (a big export is not held whole).
    """
    names = names or {}
    set_default_mapping(settings.field_map)
    todo = iter(files)

    def here(path: Path) -> FileResult:
        return FileResult(path, read_prepared(path, settings, names.get(str(path)), collection))

    first = next(todo, None)
    second = next(todo, None) if first is not None and (pool or workers > 0) else None
    if second is None and not (pool and pool.running):  # no workers, or one file: no process to start
        yield from (here(path) for path in chain([first] if first else [], todo))
        return
    own = pool is None
    parsers = (pool or ParserPool(workers, settings)).start()
    pending: deque[tuple[Path, Versions, Future]] = deque()

    def submit(path: Path) -> None:
        name = names.get(str(path))
        stored = known(name or str(path)) if known else {}
        pending.append((path, stored, parsers.submit(path, name, collection, stored)))

    def collect() -> Iterator[FileResult]:
        path, stored, future = pending.popleft()
        try:
            yield future.result()
        except BrokenProcessPool:
            # Some file in flight killed its worker: read each of them again alone, in order.
            suspects = [(path, stored), *((p, s) for p, s, _ in pending)]
            pending.clear()
            parsers.renew()
            for suspect, its_stored in suspects:
                yield parsers.alone(suspect, names.get(str(suspect)), collection, its_stored)
        except Exception as exc:  # the result could not come back (e.g. not picklable): this file's line
            where = names.get(str(path)) or str(path)
            yield FileResult(path, [ReadFailure(where, f"{type(exc).__name__}: {exc}")])

    try:
        for path in chain([p for p in (first, second) if p is not None], todo):
            if not pending and not parsers.ready():
                yield here(path)
                continue
            submit(path)
            while len(pending) >= 2 * parsers.workers:
                yield from collect()
        while pending:
            yield from collect()
    finally:
        for _, _, future in pending:
            future.cancel()
        if own:
            parsers.close()
