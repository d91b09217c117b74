"""Parse files in worker processes, results handed back in file order.

The main process keeps embedding and writing while workers parse the next files. At
most ``2 × workers`` files are in flight, so memory stays bounded however large the
archive is (each file is also bounded by ``max_file_mb``). Results come back in the
order the files were listed, so ids, report lines and writes are the same whatever
the number of workers. A file that kills its parser process (a native crash, the
kernel's OOM killer) is read again alone; if it kills that process too, it becomes
one report line and the batch goes on.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from assistant.settings import Settings

from .article import Article
from .readers import ReadFailure, check_content, reader_for, supported_suffixes
from .readers.base import aliased, display_path
from .readers.jsonl import set_default_mapping


@dataclass
class FileResult:
    """What one file gave: its articles and its report lines, in reading order."""

    path: Path
    items: list[Article | ReadFailure] = field(default_factory=list)


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


_worker_settings: Settings | None = None


def _init_worker(settings: Settings, parent: int) -> None:
    global _worker_settings
    _worker_settings = settings
    set_default_mapping(settings.field_map)
    _die_with_parent(parent)


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


def _read_in_worker(path: Path, name: str | None) -> FileResult:
    assert _worker_settings is not None
    return FileResult(path, list(read_items(path, _worker_settings, name)))


class _Pool:
    def __init__(self, workers: int, settings: Settings):
        self.workers, self.settings = workers, settings
        self.executor = self._new(workers)

    def _new(self, workers: int) -> ProcessPoolExecutor:
        # spawn, not fork: the parent holds model and store threads that a fork would copy mid-flight.
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(self.settings, os.getpid()))

    def submit(self, path: Path, name: str | None) -> Future:
        return self.executor.submit(_read_in_worker, path, name)

    def renew(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._new(self.workers)

    def alone(self, path: Path, name: str | None) -> FileResult:
        """Read one file in a process of its own: the suspect after a worker died."""
        with self._new(1) as solo:
            try:
                return solo.submit(_read_in_worker, path, name).result()
            except BrokenProcessPool:
                return FileResult(path, [ReadFailure(name or str(path), "the parser process died reading this file "
                                                                          "(a crash or out of memory)")])

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def read_files(files: Iterable[Path], settings: Settings, workers: int,
               names: dict[str, str] | None = None) -> Iterator[FileResult]:
    """Read ``files`` in order; with ``workers`` > 1 in that many processes, else here, streamed."""
    names = names or {}
    if workers <= 1:
        set_default_mapping(settings.field_map)
        for path in files:
            result = FileResult(path)
            # In-process the items are not materialised: a big export streams through.
            result.items = read_items(path, settings, names.get(str(path)))  # type: ignore[assignment]
            yield result
        return
    pool = _Pool(workers, settings)
    pending: deque[tuple[Path, Future]] = deque()
    todo = iter(files)
    try:
        while True:
            while len(pending) < 2 * workers:
                path = next(todo, None)
                if path is None:
                    break
                pending.append((path, pool.submit(path, names.get(str(path)))))
            if not pending:
                return
            path, future = pending.popleft()
            try:
                yield future.result()
            except BrokenProcessPool:
                # Some file in flight killed its worker: read each of them again alone, in order.
                suspects = [path, *(p for p, _ in pending)]
                pending.clear()
                pool.renew()
                for suspect in suspects:
                    yield pool.alone(suspect, names.get(str(suspect)))
            except Exception as exc:  # the result could not come back (e.g. not picklable): this file's line
                where = names.get(str(path)) or str(path)
                yield FileResult(path, [ReadFailure(where, f"{type(exc).__name__}: {exc}")])
    finally:
        pool.close()
